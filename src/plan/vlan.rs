//! VLANs, resolved against the bridge once step 5 has looked it up: what the port's VLANs
//! become and which VLAN the guest's FDB entry is in. Pure, like the rest of the plan.
#![forbid(unsafe_code)]

use std::fmt;

use super::FdbEntry;
use crate::vid::Vid;

/// `vlan_filtering` as the bridge reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Filtering {
    On,
    Off,
    /// A kernel built without bridge VLAN filtering: it reports `vlan_filtering 0` and no
    /// default PVID, and refuses `vlan_filtering 1`.
    Unsupported,
}

/// What the bridge says of its VLANs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BridgeVlans {
    pub filtering: Filtering,
    /// IFLA_BR_VLAN_DEFAULT_PVID, the VLAN every new port gets as PVID, untagged (kernels
    /// with VLAN filtering built in do this even with `vlan_filtering 0`); 0 is none.
    pub default_pvid: Option<Vid>,
}

/// What `apply` does about VLANs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Membership {
    /// `bridge vlan add dev TAP vid V pvid untagged`, then `bridge vlan del dev TAP vid D`
    /// for the bridge's default VLAN D, so that the guest is in V alone.
    pub join: Option<(Vid, Option<Vid>)>,
    /// The VLAN the guest's entry is scoped to (`bridge fdb add … vlan V`): the one
    /// forwarding looks its address up in, the port's PVID on a filtering bridge. `None` on
    /// a bridge that does not filter, where forwarding looks up VLAN 0; the entry is then
    /// added without a VLAN, and the kernel adds it for VLAN 0 and copies it into each VLAN
    /// the port has (VLAN 1, with VLAN filtering built in): inert until `vlan_filtering` is
    /// turned on, and then what keeps the guest reachable in its default VLAN.
    pub entry: Option<Vid>,
}

/// A VLAN asked of a bridge that cannot keep a port in it: refused, never silently untagged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Unfiltered {
    pub vid: Vid,
    pub filtering: Filtering,
}

impl fmt::Display for Unfiltered {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.filtering {
            Filtering::Unsupported => f.write_str(
                "this kernel's bridges cannot filter VLANs (it was built without \
                 CONFIG_BRIDGE_VLAN_FILTERING)",
            ),
            _ => f.write_str(
                "the bridge does not filter VLANs (vlan_filtering 0), so its ports are not kept \
                 apart by VLAN; an admin can turn it on with `ip link set BRIDGE type bridge \
                 vlan_filtering 1`",
            ),
        }
    }
}

/// The VLAN steps for a port to be in `vlan` (or left in the bridge's default) on `bridge`.
pub(crate) fn membership(vlan: Option<Vid>, bridge: BridgeVlans) -> Result<Membership, Unfiltered> {
    match (vlan, bridge.filtering) {
        (None, Filtering::On) => Ok(Membership {
            join: None,
            entry: bridge.default_pvid,
        }),
        (None, _) => Ok(Membership {
            join: None,
            entry: None,
        }),
        (Some(vid), Filtering::On) => Ok(Membership {
            join: Some((vid, bridge.default_pvid.filter(|d| *d != vid))),
            entry: Some(vid),
        }),
        (Some(vid), filtering) => Err(Unfiltered { vid, filtering }),
    }
}

impl FdbEntry {
    /// The alternative name that reserves the address in VLAN `vid`: `fbh-<mac>-<vid>`, so
    /// that one address can be claimed once in each VLAN; `fbh-<mac>` in VLAN 0.
    pub fn reservation_in(&self, vid: Option<Vid>) -> String {
        match vid {
            Some(vid) => format!("{}-{vid}", self.reservation),
            None => self.reservation.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mac::MacAddr;

    #[test]
    fn table() {
        use Filtering::*;
        let v = |n| Some(Vid::new(n).unwrap());
        let bridge = |filtering, pvid: Option<Vid>| BridgeVlans {
            filtering,
            default_pvid: pvid,
        };
        let ok = |join, entry| Ok(Membership { join, entry });
        #[rustfmt::skip]
        let cases = [
            // No VLAN asked: the port stays in the bridge's default VLAN, and the entry is
            // in the VLAN forwarding uses there.
            (None, bridge(On, v(1)), ok(None, v(1))),
            (None, bridge(On, v(7)), ok(None, v(7))),
            (None, bridge(On, None), ok(None, None)),
            (None, bridge(Off, v(1)), ok(None, None)),
            (None, bridge(Unsupported, None), ok(None, None)),
            // A VLAN: joined, the bridge's default left (read, not assumed to be 1).
            (v(101), bridge(On, v(1)), ok(Some((Vid::new(101).unwrap(), v(1))), v(101))),
            (v(101), bridge(On, v(7)), ok(Some((Vid::new(101).unwrap(), v(7))), v(101))),
            (v(101), bridge(On, v(101)), ok(Some((Vid::new(101).unwrap(), None)), v(101))),
            (v(101), bridge(On, None), ok(Some((Vid::new(101).unwrap(), None)), v(101))),
            // Refused where nothing would keep the port in it.
            (v(101), bridge(Off, v(1)), Err(Unfiltered { vid: Vid::new(101).unwrap(), filtering: Off })),
            (v(101), bridge(Unsupported, None), Err(Unfiltered { vid: Vid::new(101).unwrap(), filtering: Unsupported })),
        ];
        for (vlan, bridge, want) in cases {
            assert_eq!(membership(vlan, bridge), want, "{vlan:?} {bridge:?}");
        }
    }

    #[test]
    fn reservations_per_vlan() {
        let mac = MacAddr::parse("02:AB:00:00:00:01").unwrap();
        let entry = FdbEntry {
            mac,
            reservation: super::super::reservation(mac),
            take_learned: false,
        };
        assert_eq!(entry.reservation_in(None), "fbh-02ab00000001");
        assert_eq!(
            entry.reservation_in(Some(Vid::new(4094).unwrap())),
            "fbh-02ab00000001-4094"
        );
        let unfiltered = |filtering| Unfiltered {
            vid: Vid::new(5).unwrap(),
            filtering,
        };
        assert!(unfiltered(Filtering::Off)
            .to_string()
            .contains("vlan_filtering 0"));
        assert!(unfiltered(Filtering::Unsupported)
            .to_string()
            .contains("CONFIG_BRIDGE_VLAN_FILTERING"));
    }
}
