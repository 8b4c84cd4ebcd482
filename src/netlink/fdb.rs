//! The bridge FDB: claiming the guest's MAC for its tap.

use std::fmt;
use std::io;

use netlink_packet_core::{NLM_F_ACK, NLM_F_CREATE, NLM_F_EXCL, NLM_F_REPLACE};
use netlink_packet_route::neighbour::{NeighbourFlags, NeighbourState};
use netlink_packet_route::RouteNetlinkMessage;

use super::{build, unexpected, Rtnl};
use crate::mac::MacAddr;
use crate::plan::FdbEntry;

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
        }
    }
}

/// Reserves the entry's MAC for `tap`, then adds its static, sticky entry. Exclusive, so
/// that two guests racing for one address cannot both win; on EEXIST a static entry
/// elsewhere is refused, and a learned one moves to the tap only if `take_learned` (an
/// admin's exact `mac` line).
///
/// Sticky (Linux 4.20): without it the kernel moves even a static entry to any learning
/// port a frame with that source arrives on, so one spoofed frame from the LAN would take
/// the guest's traffic. Every kernel with alternative names (5.5) has sticky, so the flag
/// is never silently ignored here.
pub(crate) fn claim(rtnl: &mut Rtnl, bridge: u32, tap: u32, entry: &FdbEntry) -> Result<(), ClaimError> {
    let (mac, name) = (entry.mac, entry.reservation.as_str());
    match super::link::add_altname(rtnl, tap, name) {
        Err(e) if e.raw_os_error() == Some(libc::EEXIST) => {
            let holder = super::link::holder_of(rtnl, name).unwrap_or_else(|_| "another tap".into());
            return Err(ClaimError::Claimed { holder });
        }
        Err(e) if e.raw_os_error() == Some(libc::EOPNOTSUPP) => return Err(ClaimError::NoAltNames),
        done => done.map_err(ClaimError::Io)?,
    }
    match add(rtnl, tap, mac, NLM_F_CREATE | NLM_F_EXCL) {
        Err(e) if e.raw_os_error() == Some(libc::EEXIST) => {}
        done => return done.map_err(ClaimError::Io),
    }
    let existing = get(rtnl, bridge, mac).map_err(ClaimError::Io)?;
    if let Some(existing) = existing.filter(|e| e.port != tap) {
        let port = super::link::name_of(rtnl, existing.port)
            .unwrap_or_else(|_| format!("ifindex {}", existing.port));
        if !existing.learned {
            return Err(ClaimError::Taken { port });
        }
        if !entry.take_learned {
            return Err(ClaimError::Learned { port, mac });
        }
    }
    add(rtnl, tap, mac, NLM_F_CREATE | NLM_F_REPLACE).map_err(ClaimError::Io)
}

/// Adds the entry; NLM_F_EXCL first, NLM_F_REPLACE to take over a learned one.
fn add(rtnl: &mut Rtnl, tap: u32, mac: MacAddr, flags: u16) -> io::Result<()> {
    let message = build::bridge_fdb_add(tap, mac);
    rtnl.request(RouteNetlinkMessage::NewNeighbour(message), NLM_F_ACK | flags)
        .map(drop)
}

struct Entry {
    port: u32,
    learned: bool,
}

/// The bridge's entry for `mac`, if any: one entry, never a dump, so the cost does not
/// grow with the bridge.
fn get(rtnl: &mut Rtnl, bridge: u32, mac: MacAddr) -> io::Result<Option<Entry>> {
    let message = build::bridge_fdb_get(bridge, mac);
    let reply = match rtnl.request(RouteNetlinkMessage::GetNeighbour(message), 0) {
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => return Ok(None),
        reply => reply?,
    };
    let Some(RouteNetlinkMessage::NewNeighbour(entry)) = reply else {
        return Err(unexpected("RTM_GETNEIGH"));
    };
    // Learned entries are reachable or stale; static, local and externally learned or
    // sticky ones belong to someone.
    let dynamic = matches!(
        entry.header.state,
        NeighbourState::Reachable | NeighbourState::Stale
    );
    let owned = entry
        .header
        .flags
        .intersects(NeighbourFlags::ExtLearned | NeighbourFlags::Sticky);
    Ok(Some(Entry {
        port: entry.header.ifindex,
        learned: dynamic && !owned,
    }))
}
