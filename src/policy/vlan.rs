//! The VLAN decision, made once access is granted: which VLAN the guest's port is put in.
//! Default deny: `--vlan=VID` needs a `vlan` or `vlan-default` line that grants VID to the
//! caller on the bridge. And, as with `mac` lines, once any such line the caller can read
//! names the bridge, its guests must be in a VLAN: a call that names none gets the caller's
//! `vlan-default`, or is refused — it never lands silently in the bridge's default VLAN.
//! Files without these lines decide nothing here.
#![forbid(unsafe_code)]

use std::fmt;

use crate::acl::{Acl, Caller, Scope, Target, VlanRule};
use crate::ifname::IfName;
use crate::vid::Vid;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VlanDenial {
    /// `--vlan=VID` that no line grants the caller on this bridge.
    NotGranted(Vid),
    /// No VLAN named, on a bridge whose guests must be in one, and no default.
    NeedsVlan,
    /// The most specific defaults for the caller disagree (the lowest two).
    Defaults(Vid, Vid),
}

impl fmt::Display for VlanDenial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotGranted(vid) => {
                write!(f, "no vlan line in the acl grants you vlan {vid} on this bridge")
            }
            Self::NeedsVlan => f.write_str(
                "the acl puts guests on this bridge in VLANs and gives you no default one: pass \
                 --vlan=VID (in QEMU's helper string), or ask for a vlan-default line",
            ),
            Self::Defaults(a, b) => write!(
                f,
                "the acl gives you more than one default vlan on this bridge ({a}, {b}); name one \
                 with --vlan=VID"
            ),
        }
    }
}

/// The VLAN for a request granted on `bridge`: `asked` if a line grants it to the caller,
/// else the caller's default where lines name the bridge, else none.
pub fn authorize_vlan(
    acl: &Acl,
    bridge: &IfName,
    asked: Option<Vid>,
    caller: &Caller,
) -> Result<Option<Vid>, VlanDenial> {
    let rules: Vec<&VlanRule> = acl.vlans.iter().filter(|r| r.names(bridge)).collect();
    match asked {
        Some(vid) if rules.iter().any(|r| r.grants(caller, vid)) => Ok(Some(vid)),
        Some(vid) => Err(VlanDenial::NotGranted(vid)),
        None if rules.is_empty() => Ok(None),
        None => default_for(&rules, caller).map(Some),
    }
}

/// The caller's default: the most specific `vlan-default` line for them wins, one for their
/// user over one for a group over one for anyone, and at the same level one naming the
/// bridge over `all`. Two of the most specific that disagree are refused, not guessed at.
fn default_for(rules: &[&VlanRule], caller: &Caller) -> Result<Vid, VlanDenial> {
    let rank = |r: &VlanRule| {
        let scope = match r.scope {
            Scope::User(_) | Scope::Uid(_) => 2,
            Scope::Group(_) | Scope::Gid(_) => 1,
            Scope::Anyone => 0,
        };
        (scope, matches!(r.bridge, Target::Name(_)))
    };
    let defaults: Vec<_> = rules
        .iter()
        .filter(|r| r.default && r.scope.includes(caller))
        .filter_map(|r| r.vids.first().map(|(vid, _)| (rank(r), *vid)))
        .collect();
    let top = defaults.iter().map(|(rank, _)| *rank).max();
    let mut vids: Vec<Vid> = defaults
        .iter()
        .filter(|(rank, _)| Some(*rank) == top)
        .map(|(_, vid)| *vid)
        .collect();
    vids.sort_unstable();
    vids.dedup();
    match vids[..] {
        [] => Err(VlanDenial::NeedsVlan),
        [vid] => Ok(vid),
        [a, b, ..] => Err(VlanDenial::Defaults(a, b)),
    }
}

#[cfg(test)]
mod tests;
