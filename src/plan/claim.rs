//! Step two of a pending port (`--claim=TAP --mac=MAC`): which tap a caller may claim, and
//! what is then done to it. Step one (a managed port asked for without a MAC while the
//! libvirt hook is installed) left the tap owned by its caller, enslaved with learning
//! and flooding off, down, with no FDB entry; the hook claims it before QEMU starts.
#![forbid(unsafe_code)]

use super::{reservation, FdbEntry, Port, ALTNAME_PREFIX};
use crate::ifname::IfName;
use crate::policy::{Denial, Grant};

/// What the kernel says of the link that `--claim` names (`ip -d link show dev TAP`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct TapState {
    pub index: u32,
    /// Its name: the kernel also finds a link by one of its alternative names.
    pub name: String,
    /// A tun device in tap mode.
    pub is_tap: bool,
    /// IFLA_TUN_OWNER; the kernel reports it only when one is set.
    pub owner: Option<u32>,
    /// IFLA_MASTER.
    pub master: Option<u32>,
    /// The bridge port's flags; `None` when the link is no bridge port.
    pub learning: Option<bool>,
    pub unicast_flood: Option<bool>,
    /// `locked` (Linux 5.18), for `--explain`.
    pub locked: Option<bool>,
    /// IFF_UP, for `--explain`.
    pub up: bool,
    pub altnames: Vec<String>,
}

/// Why a tap is not one the caller may claim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum NotPending {
    /// Named by an alternative name of the link called this.
    AltName(String),
    NotATap,
    /// It carries an alternative name of ours: a MAC was claimed on it already.
    Claimed(String),
    Owner {
        owner: Option<u32>,
        uid: u32,
    },
    NotAPort,
    /// Learning or unicast flooding is on: not a managed port.
    NotManaged,
}

impl TapState {
    /// Whether `uid` may claim this tap, asked for as `asked`: a tap of `uid`'s, not yet
    /// claimed, a bridge port with learning and flooding off. Returns its bridge's index.
    /// The ACL then decides on that bridge and the MAC, as for `--mac`.
    pub fn check(&self, asked: &IfName, uid: u32) -> Result<u32, NotPending> {
        if self.name != asked.as_str() {
            return Err(NotPending::AltName(self.name.clone()));
        }
        if !self.is_tap {
            return Err(NotPending::NotATap);
        }
        if let Some(name) = self.altnames.iter().find(|n| n.starts_with(ALTNAME_PREFIX)) {
            return Err(NotPending::Claimed(name.clone()));
        }
        if self.owner != Some(uid) {
            return Err(NotPending::Owner {
                owner: self.owner,
                uid,
            });
        }
        let (Some(bridge), Some(learning), Some(flood)) = (self.master, self.learning, self.unicast_flood)
        else {
            return Err(NotPending::NotAPort);
        };
        if learning || flood {
            return Err(NotPending::NotManaged);
        }
        Ok(bridge)
    }
}

/// What a granted claim does to the tap, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ClaimPlan {
    /// Added first, exclusively: one MAC per port, so that no caller can fill the FDB
    /// through one tap; a second claim on the port finds it (EEXIST) and is refused.
    pub marker: String,
    /// Then exactly what `--mac` does on a new port: the reservation and the entry.
    pub fdb: FdbEntry,
    /// Then the flags as the ACL now says (locked, perhaps), and up.
    pub port: Port,
}

impl ClaimPlan {
    /// From the decision on the tap's bridge and the MAC: only a managed grant claims.
    pub fn new(tap: u32, grant: Grant) -> Result<Self, Denial> {
        let Grant::Managed {
            mac,
            locked,
            take_learned,
        } = grant
        else {
            return Err(Denial::NotManaged);
        };
        Ok(Self {
            marker: marker(tap),
            fdb: FdbEntry {
                mac,
                reservation: reservation(mac),
                take_learned,
            },
            port: Port::managed(locked),
        })
    }
}

/// The alternative name that marks the port `index` as claimed. Unique per namespace,
/// like every name, and only the tap with that index can carry it.
pub(crate) fn marker(index: u32) -> String {
    format!("{ALTNAME_PREFIX}port-{index}")
}

/// A pending port as step one leaves it (tap0, index 7, owner 1000, on bridge 3), for the
/// tables here and in `netlink::tap`.
#[cfg(test)]
impl TapState {
    pub(crate) fn pending_example() -> Self {
        Self {
            index: 7,
            name: "tap0".into(),
            is_tap: true,
            owner: Some(1000),
            master: Some(3),
            learning: Some(false),
            unicast_flood: Some(false),
            locked: None,
            up: false,
            altnames: vec![],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mac::MacAddr;

    fn pending() -> TapState {
        TapState::pending_example()
    }

    #[test]
    fn check_table() {
        use NotPending::*;
        let p = pending;
        #[rustfmt::skip]
        let cases: Vec<(&str, TapState, u32, Result<u32, NotPending>)> = vec![
            ("a pending port of the caller", p(), 1000, Ok(3)),
            ("another user's", p(), 1001, Err(Owner { owner: Some(1000), uid: 1001 })),
            ("no owner: not made by step one", TapState { owner: None, ..p() }, 1000, Err(Owner { owner: None, uid: 1000 })),
            ("asked by an alternative name", TapState { name: "tap9".into(), ..p() }, 1000, Err(AltName("tap9".into()))),
            ("a tun, or no tun at all", TapState { is_tap: false, ..p() }, 1000, Err(NotATap)),
            ("claimed once", TapState { altnames: vec!["fbh-port-7".into()], ..p() }, 1000, Err(Claimed("fbh-port-7".into()))),
            ("claimed by a one-step call", TapState { altnames: vec!["x".into(), "fbh-525400123456".into()], ..p() }, 1000, Err(Claimed("fbh-525400123456".into()))),
            ("someone's own altname", TapState { altnames: vec!["vm1-nic".into()], ..p() }, 1000, Ok(3)),
            ("not enslaved", TapState { master: None, learning: None, unicast_flood: None, ..p() }, 1000, Err(NotAPort)),
            ("enslaved to a non-bridge", TapState { learning: None, unicast_flood: None, ..p() }, 1000, Err(NotAPort)),
            ("learning on", TapState { learning: Some(true), ..p() }, 1000, Err(NotManaged)),
            ("flooding on", TapState { unicast_flood: Some(true), ..p() }, 1000, Err(NotManaged)),
            ("a plain port", TapState { learning: Some(true), unicast_flood: Some(true), ..p() }, 1000, Err(NotManaged)),
        ];
        for (name, state, uid, want) in cases {
            assert_eq!(state.check(&IfName::new("tap0").unwrap(), uid), want, "{name}");
        }
    }

    #[test]
    fn plan_table() {
        let mac = MacAddr::parse("52:54:00:12:34:56").unwrap();
        let entry = |take_learned| FdbEntry {
            mac,
            reservation: "fbh-525400123456".into(),
            take_learned,
        };
        #[rustfmt::skip]
        let cases: Vec<(Grant, Result<ClaimPlan, Denial>)> = vec![
            (Grant::Managed { mac, locked: false, take_learned: false },
             Ok(ClaimPlan { marker: "fbh-port-7".into(), fdb: entry(false), port: Port::managed(false) })),
            (Grant::Managed { mac, locked: true, take_learned: true },
             Ok(ClaimPlan { marker: "fbh-port-7".into(), fdb: entry(true), port: Port::managed(true) })),
            (Grant::Plain, Err(Denial::NotManaged)),
            (Grant::Pending { locked: false, owner: 1000 }, Err(Denial::NotManaged)),
        ];
        for (grant, want) in cases {
            assert_eq!(ClaimPlan::new(7, grant), want, "{grant:?}");
        }
    }

    #[test]
    fn markers_are_valid_alternative_names() {
        let name = marker(u32::MAX);
        assert_eq!(name, "fbh-port-4294967295");
        // ALTIFNAMSIZ is 128; no `/`, `:` or whitespace; never a reservation's form.
        assert!(name.len() < 128 && !name.contains(['/', ':', ' ']));
        assert!(!name[ALTNAME_PREFIX.len()..]
            .bytes()
            .all(|b| b.is_ascii_hexdigit()));
    }
}
