//! The decision as a value: what a granted request will do to the kernel, computed before
//! anything is created. `run` applies a `Plan` and nothing else; `--explain` can print it;
//! the table tests pin it down without a kernel.
#![forbid(unsafe_code)]

use crate::cli::Request;
use crate::ifname::IfName;
use crate::mac::MacAddr;
use crate::policy::Grant;
use crate::vid::Vid;

mod vlan;
pub(crate) use vlan::{membership, BridgeVlans, Filtering, Unfiltered};

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Plan {
    pub bridge: IfName,
    /// `IFF_VNET_HDR`, when the kernel has it.
    pub vnet_hdr: bool,
    /// Set the bridge's address to itself before the tap joins, so that no tap's address
    /// can become or move it (a tap-fd holder sets its tap's address at will).
    pub pin_bridge_address: bool,
    pub port: Port,
    /// The guest's entry on the new port, if any.
    pub fdb: Option<FdbEntry>,
    /// Whether the port comes up now. A pending port (managed, no MAC yet) stays down, so
    /// that no frame goes in or out until `--claim` gives it its entry.
    pub up: bool,
    /// TUNSETOWNER on a pending port: the caller, who alone may claim it.
    pub owner: Option<u32>,
    /// The VLAN the port is untagged in, and in alone (see `plan::vlan`).
    pub vlan: Option<Vid>,
}

/// The bridge-port settings of the tap (`bridge link set dev TAP …`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Port {
    pub learning: bool,
    pub unicast_flood: bool,
    pub locked: bool,
}

impl Port {
    /// The kernel's defaults, qemu-bridge-helper's behaviour: nothing to set.
    pub const PLAIN: Self = Self {
        learning: true,
        unicast_flood: true,
        locked: false,
    };

    /// A port that is not an "auto" port: the bridge knows its guest's address statically.
    pub fn managed(locked: bool) -> Self {
        Self {
            learning: false,
            unicast_flood: false,
            locked,
        }
    }

    pub fn is_plain(self) -> bool {
        self == Self::PLAIN
    }
}

/// A static, sticky master entry (`bridge fdb add MAC dev TAP master static sticky`),
/// reserved first by the alternative name `reservation` on the tap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FdbEntry {
    pub mac: MacAddr,
    pub reservation: String,
    /// An entry the bridge learned on another port may be taken over: an exact `mac` line
    /// assigns this address to the caller.
    pub take_learned: bool,
}

impl Plan {
    pub fn new(request: &Request, grant: Grant, vlan: Option<Vid>) -> Self {
        let (port, fdb, owner) = match grant {
            Grant::Plain => (Port::PLAIN, None, None),
            Grant::Pending { locked, owner } => (Port::managed(locked), None, Some(owner)),
            Grant::Managed {
                mac,
                locked,
                take_learned,
            } => (
                Port::managed(locked),
                Some(FdbEntry {
                    mac,
                    reservation: reservation(mac),
                    take_learned,
                }),
                None,
            ),
        };
        Self {
            bridge: request.bridge.clone(),
            vnet_hdr: request.use_vnet,
            pin_bridge_address: !port.is_plain(),
            port,
            fdb,
            up: owner.is_none(),
            owner,
            vlan,
        }
    }

    /// Whether the tap comes up as it joins: only a plain port outside any VLAN. Any other
    /// comes up last, once it is what the plan says: a tap that is up receives (and queues
    /// for the guest) what the bridge floods to it, in its default VLAN too.
    pub fn up_on_join(&self) -> bool {
        self.port.is_plain() && self.vlan.is_none()
    }
}

/// The alternative name that reserves `mac` for the tap that claimed it, for as long as
/// that tap lives: names are unique per network namespace, only CAP_NET_ADMIN removes
/// one, and it survives the eviction of the entry (see SECURITY.md).
pub(crate) fn reservation(mac: MacAddr) -> String {
    let hex: String = mac.octets().iter().map(|b| format!("{b:02x}")).collect();
    format!("{ALTNAME_PREFIX}{hex}")
}

/// Every alternative name the helper gives a tap starts with this.
pub(crate) const ALTNAME_PREFIX: &str = "fbh-";

// Step two of a pending port (`--claim`).
mod claim;
pub(crate) use claim::{ClaimPlan, NotPending, TapState};

#[cfg(test)]
mod tests;
