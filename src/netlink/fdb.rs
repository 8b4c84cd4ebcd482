//! The bridge FDB: claiming the guest's MAC for its tap.

use std::fmt;
use std::io;

use netlink_packet_core::{NLM_F_ACK, NLM_F_CREATE, NLM_F_EXCL, NLM_F_REPLACE};
use netlink_packet_route::neighbour::{NeighbourFlags, NeighbourState};
use netlink_packet_route::RouteNetlinkMessage;

use super::{build, link, unexpected, Rtnl};
use crate::mac::MacAddr;
use crate::plan::FdbEntry;
use crate::vid::Vid;

#[derive(Debug)]
pub(crate) enum ClaimError {
    Io(io::Error),
    /// RTM_NEWLINKPROP is unknown: Linux before 5.5.
    NoAltNames,
    /// A live tap holds the reservation: its guest's entry may have been evicted by a
    /// tap-fd holder setting its own address, but the address stays its guest's.
    Claimed {
        holder: String,
    },
    /// Someone else's static entry: another guest's address, or the host's own.
    Taken {
        port: String,
    },
    /// Learned on another port: another host's address (the gateway's, say).
    Learned {
        port: String,
        mac: MacAddr,
    },
    /// A host behind a tunnel, known through a control plane: EVPN's zebra installs a
    /// remote host's address on the VXLAN port as `extern_learn`, or `static sticky` for
    /// a sticky one (FRR 8.4). Taking it would divert that host's traffic here.
    Remote {
        port: String,
    },
}

impl fmt::Display for ClaimError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io(e) => crate::text::Reason(e).fmt(f),
            Self::NoAltNames => f.write_str(
                "this kernel has no alternative interface names, which reserve a claimed address \
                 (Linux 5.5 or later needed)",
            ),
            Self::Claimed { holder } => write!(f, "the address is claimed by {holder}, which is still alive"),
            Self::Taken { port } => write!(
                f,
                "the address already has a static entry on {port} (another guest's or the host's)"
            ),
            Self::Learned { port, mac } => write!(
                f,
                "the bridge learned the address on {port} (another host's); only a mac line granting \
                 exactly {mac} lets a guest take it"
            ),
            Self::Remote { port } => write!(
                f,
                "the address belongs to a remote host behind {port} (learned by a control plane such \
                 as EVPN)"
            ),
        }
    }
}

/// Reserves the entry's MAC for `tap`, then adds its static, sticky entry. Exclusive, so
/// that two guests racing for one address cannot both win; on EEXIST a static entry
/// elsewhere is refused (as a remote host's when a control plane put it there), and a
/// learned one moves to the tap only if `take_learned` (an admin's exact `mac` line).
///
/// Sticky (Linux 4.20): without it the kernel moves even a static entry to any learning
/// port a frame with that source arrives on, so one spoofed frame from the LAN would take
/// the guest's traffic. Every kernel with alternative names (5.5) has sticky, so the flag
/// is never silently ignored here.
///
/// `vlan`: the VLAN forwarding looks the guest up in (`plan::Membership::entry`). The
/// entry, the reservation and the look-up of who holds the address are all in it, so an
/// address is claimed once per VLAN.
pub(crate) fn claim(
    rtnl: &mut Rtnl,
    bridge: u32,
    tap: u32,
    entry: &FdbEntry,
    vlan: Option<Vid>,
) -> Result<(), ClaimError> {
    let reservation = entry.reservation_in(vlan);
    let (mac, name) = (entry.mac, reservation.as_str());
    match link::add_altname(rtnl, tap, name) {
        Err(e) if e.raw_os_error() == Some(libc::EEXIST) => {
            let holder = link::holder_of(rtnl, name).unwrap_or_else(|_| "another tap".into());
            return Err(ClaimError::Claimed { holder });
        }
        Err(e) if e.raw_os_error() == Some(libc::EOPNOTSUPP) => return Err(ClaimError::NoAltNames),
        done => done.map_err(ClaimError::Io)?,
    }
    match add(rtnl, tap, mac, vlan, NLM_F_CREATE | NLM_F_EXCL) {
        Err(e) if e.raw_os_error() == Some(libc::EEXIST) => {}
        done => return done.map_err(ClaimError::Io),
    }
    let existing = get(rtnl, bridge, mac, vlan).map_err(ClaimError::Io)?;
    if let Some(existing) = existing.filter(|e| e.port != tap) {
        let port = port_name(rtnl, existing.port);
        if let Some(refusal) = refusal(rtnl, &existing, entry, port) {
            return Err(refusal);
        }
    }
    add(rtnl, tap, mac, vlan, NLM_F_CREATE | NLM_F_REPLACE).map_err(ClaimError::Io)
}

/// Whether an entry for the address on another port, `existing` (on `port`), refuses `entry`.
fn refusal(rtnl: &mut Rtnl, existing: &Entry, entry: &FdbEntry, port: String) -> Option<ClaimError> {
    match existing.holder {
        Holder::Learned if entry.take_learned => None,
        Holder::Learned => Some(ClaimError::Learned { port, mac: entry.mac }),
        Holder::ControlPlane => Some(ClaimError::Remote { port }),
        // The one extra request, on this refusal path only.
        Holder::Static if link::is_vxlan(rtnl, existing.port) => Some(ClaimError::Remote { port }),
        Holder::Static | Holder::Local => Some(ClaimError::Taken { port }),
    }
}

fn port_name(rtnl: &mut Rtnl, index: u32) -> String {
    link::name_of(rtnl, index).unwrap_or_else(|_| format!("ifindex {index}"))
}

/// What `--explain` shows of the FDB: the bridge's entry for a MAC, and what `claim` would
/// make of it now.
#[derive(Debug, Default)]
pub(crate) struct Foreseen {
    /// The port that holds the entry, and its kind as `bridge fdb show` words it.
    pub entry: Option<(String, &'static str)>,
    /// The refusal `claim` would give the planned entry.
    pub refusal: Option<ClaimError>,
}

/// `bridge fdb get MAC br BRIDGE [vlan VID]` and, for a planned `entry`, the look-up of its
/// reservation: the same GETs `claim` makes, and no change.
pub(crate) fn foresee(
    rtnl: &mut Rtnl,
    bridge: u32,
    mac: MacAddr,
    vlan: Option<Vid>,
    entry: Option<&FdbEntry>,
) -> io::Result<Foreseen> {
    let mut foreseen = Foreseen::default();
    if let Some(entry) = entry {
        if let Ok(holder) = link::holder_of(rtnl, &entry.reservation_in(vlan)) {
            foreseen.refusal = Some(ClaimError::Claimed { holder });
        }
    }
    let Some(existing) = get(rtnl, bridge, mac, vlan)? else {
        return Ok(foreseen);
    };
    let port = port_name(rtnl, existing.port);
    if let (None, Some(entry)) = (&foreseen.refusal, entry) {
        foreseen.refusal = refusal(rtnl, &existing, entry, port.clone());
    }
    foreseen.entry = Some((port, existing.holder.word()));
    Ok(foreseen)
}

/// Adds the entry; NLM_F_EXCL first, NLM_F_REPLACE to take over a learned one.
fn add(rtnl: &mut Rtnl, tap: u32, mac: MacAddr, vlan: Option<Vid>, flags: u16) -> io::Result<()> {
    let message = build::bridge_fdb_add(tap, mac, vlan);
    rtnl.request(RouteNetlinkMessage::NewNeighbour(message), NLM_F_ACK | flags)
        .map(drop)
}

struct Entry {
    port: u32,
    holder: Holder,
}

/// What an entry on another port stands for.
#[derive(Debug, PartialEq, Eq)]
enum Holder {
    /// Learned from frames (reachable or stale, not sticky): another host's address.
    Learned,
    /// `extern_learn`: put there by a control plane (EVPN's zebra, a switchdev driver).
    ControlPlane,
    /// Static or sticky: another guest's, the host's, or a remote host's on a VXLAN port.
    Static,
    /// `permanent`: a local address, the host's own.
    Local,
}

impl Holder {
    fn word(&self) -> &'static str {
        match self {
            Self::Learned => "learned",
            Self::ControlPlane => "extern_learn",
            Self::Static => "static",
            Self::Local => "permanent",
        }
    }

    fn of(state: NeighbourState, flags: NeighbourFlags) -> Self {
        if state == NeighbourState::Permanent {
            Self::Local
        } else if flags.contains(NeighbourFlags::ExtLearned) {
            Self::ControlPlane
        } else if matches!(state, NeighbourState::Reachable | NeighbourState::Stale)
            && !flags.contains(NeighbourFlags::Sticky)
        {
            Self::Learned
        } else {
            Self::Static
        }
    }
}

/// The bridge's entry for `mac`, if any: one entry, never a dump, so the cost does not
/// grow with the bridge.
fn get(rtnl: &mut Rtnl, bridge: u32, mac: MacAddr, vlan: Option<Vid>) -> io::Result<Option<Entry>> {
    let message = build::bridge_fdb_get(bridge, mac, vlan);
    let reply = match rtnl.request(RouteNetlinkMessage::GetNeighbour(message), 0) {
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => return Ok(None),
        reply => reply?,
    };
    let Some(RouteNetlinkMessage::NewNeighbour(entry)) = reply else {
        return Err(unexpected("RTM_GETNEIGH"));
    };
    Ok(Some(Entry {
        port: entry.header.ifindex,
        holder: Holder::of(entry.header.state, entry.header.flags),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holder_table() {
        use NeighbourFlags as F;
        use NeighbourState as S;
        let none = F::empty();
        let cases = [
            // `bridge fdb show` wording, then the kernel's state and flags.
            ("learned", S::Reachable, none, Holder::Learned),
            ("learned, aged", S::Stale, none, Holder::Learned),
            ("sticky learned", S::Reachable, F::Sticky, Holder::Static),
            ("static", S::Noarp, none, Holder::Static),
            (
                "static sticky (a guest, or FRR 8.4's remote sticky MAC)",
                S::Noarp,
                F::Sticky,
                Holder::Static,
            ),
            (
                "extern_learn (FRR's remote MAC)",
                S::Reachable,
                F::ExtLearned,
                Holder::ControlPlane,
            ),
            (
                "static extern_learn",
                S::Noarp,
                F::ExtLearned,
                Holder::ControlPlane,
            ),
            ("permanent", S::Permanent, none, Holder::Local),
        ];
        for (what, state, flags, want) in cases {
            assert_eq!(Holder::of(state, flags), want, "{what}");
        }
    }
}
