//! The decision. Default deny; access needs a matching `allow` and no matching
//! `deny` (deny always wins); `managed` changes what is done, never who may do it.
//! The VLAN, once access is granted, is decided in `policy::vlan`.
#![forbid(unsafe_code)]

use std::fmt;

use crate::acl::Caller;
use crate::acl::{Acl, Verb};
use crate::ifname::IfName;
use crate::mac::MacAddr;

mod vlan;
pub use vlan::{authorize_vlan, VlanDenial};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grant {
    /// qemu-bridge-helper's behaviour: the port keeps the kernel's defaults.
    Plain,
    /// Learning and unicast flooding off, a static FDB entry for this MAC; `locked`: the
    /// port also drops frames from any other source MAC; `take_learned`: a `mac` line the
    /// caller can read assigns exactly this MAC, so an entry the bridge learned for it on
    /// another port may be taken over.
    Managed {
        mac: MacAddr,
        locked: bool,
        take_learned: bool,
    },
    /// Managed, with no MAC yet, because the libvirt hook is installed: learning and
    /// flooding off (and `locked`) but no FDB entry, the port down and the tap owned by
    /// `owner`, who alone may give it its MAC later (`--claim`). Nothing reaches the guest
    /// until then.
    Pending { locked: bool, owner: u32 },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denial {
    Acl,
    NeedsMac,
    MacNotGranted(MacAddr),
    /// `--claim` for a port of a bridge that the ACL does not (or no longer) mark managed.
    NotManaged,
}

impl fmt::Display for Denial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // The same words as qemu-bridge-helper: scripts grep for them.
            Self::Acl => f.write_str("access denied by acl file"),
            Self::NeedsMac => f.write_str(
                "the bridge is managed and needs the guest's MAC: pass --mac=MAC in QEMU's \
                 helper string, e.g. helper=\"/usr/libexec/fdb-bridge-helper --mac=52:54:00:12:34:56\" \
                 with the same mac= on the -device, or run the helper through a symlink named \
                 NAME@MAC; for libvirt, install the hook: ln -s \
                 /usr/libexec/fdb-bridge-helper-libvirt-hook /etc/libvirt/hooks/qemu.d/fdb-bridge-helper",
            ),
            Self::MacNotGranted(mac) => write!(f, "no mac line in the acl grants you {mac} on this bridge"),
            Self::NotManaged => {
                f.write_str("the acl does not mark this bridge managed; --claim is for managed ports")
            }
        }
    }
}

/// `locked` implies `managed`. Once any `mac` line the caller can read names the bridge,
/// the MAC must be granted to the caller by one of them.
pub fn authorize(acl: &Acl, bridge: &IfName, mac: Option<MacAddr>, caller: &Caller) -> Result<Grant, Denial> {
    if !acl.matches(Verb::Allow, bridge) || acl.matches(Verb::Deny, bridge) {
        return Err(Denial::Acl);
    }
    let locked = acl.matches(Verb::Locked, bridge);
    if !locked && !acl.matches(Verb::Managed, bridge) {
        return Ok(Grant::Plain);
    }
    let mac = mac.ok_or(Denial::NeedsMac)?;
    let rules: Vec<_> = acl.macs.iter().filter(|r| r.names(bridge)).collect();
    if !rules.is_empty() && !rules.iter().any(|r| r.grants(caller, mac)) {
        return Err(Denial::MacNotGranted(mac));
    }
    let take_learned = rules.iter().any(|r| r.is_exact() && r.grants(caller, mac));
    Ok(Grant::Managed {
        mac,
        locked,
        take_learned,
    })
}

/// As [`authorize`] for a request without a MAC when the libvirt hook is installed
/// (`hook`): a managed bridge then grants a pending port, whose MAC the hook claims before
/// the guest starts. Without the hook such a port would never get its MAC: refused.
pub fn authorize_pending(acl: &Acl, bridge: &IfName, caller: &Caller, hook: bool) -> Result<Grant, Denial> {
    match authorize(acl, bridge, None, caller) {
        Err(Denial::NeedsMac) if hook => Ok(Grant::Pending {
            locked: acl.matches(Verb::Locked, bridge),
            owner: caller.uid,
        }),
        other => other,
    }
}

#[cfg(test)]
mod tests;
