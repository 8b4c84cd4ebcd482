//! The bridge FDB: claiming the guest's MAC for its tap.

use std::fmt;
use std::io;

use netlink_packet_core::{NLM_F_ACK, NLM_F_CREATE, NLM_F_EXCL, NLM_F_REPLACE};
use netlink_packet_route::neighbour::{NeighbourAttribute, NeighbourFlags, NeighbourMessage, NeighbourState};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};

use super::{unexpected, Rtnl};
use crate::mac::MacAddr;

#[derive(Debug)]
pub enum ClaimError {
    Io(io::Error),
    /// Someone else's static entry: another guest's address, or the host's own.
    Taken {
        port: String,
    },
}

impl fmt::Display for ClaimError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io(e) => crate::error::Reason(e).fmt(f),
            Self::Taken { port } => write!(
                f,
                "the address already has a static entry on {port} (another guest's or the host's)"
            ),
        }
    }
}

/// Adds a static entry for `mac` on `tap`. Exclusive first, so that two guests racing for
/// one address cannot both win; on EEXIST, a learned entry moves to the tap and a static
/// one is left alone and refused.
pub fn claim(rtnl: &mut Rtnl, bridge: u32, tap: u32, mac: MacAddr) -> Result<(), ClaimError> {
    match add(rtnl, tap, mac, NLM_F_CREATE | NLM_F_EXCL) {
        Err(e) if e.raw_os_error() == Some(libc::EEXIST) => {}
        done => return done.map_err(ClaimError::Io),
    }
    let entry = get(rtnl, bridge, mac).map_err(ClaimError::Io)?;
    if let Some(entry) = entry.filter(|e| e.port != tap && !e.learned) {
        let port =
            super::link::name_of(rtnl, entry.port).unwrap_or_else(|_| format!("ifindex {}", entry.port));
        return Err(ClaimError::Taken { port });
    }
    add(rtnl, tap, mac, NLM_F_CREATE | NLM_F_REPLACE).map_err(ClaimError::Io)
}

/// Same as `bridge fdb add MAC dev TAP master static` (`replace` with NLM_F_REPLACE).
/// NUD_NOARP is `static`: it never ages and forwards to the port. NUD_PERMANENT would be a
/// `local` entry, delivering the guest's frames to the host instead.
fn add(rtnl: &mut Rtnl, tap: u32, mac: MacAddr, flags: u16) -> io::Result<()> {
    let mut message = NeighbourMessage::default();
    message.header.family = AddressFamily::Bridge;
    message.header.ifindex = tap;
    message.header.state = NeighbourState::Noarp;
    message.header.flags = NeighbourFlags::Controller;
    message.attributes = vec![NeighbourAttribute::LinkLayerAddress(mac.octets().to_vec())];
    rtnl.request(RouteNetlinkMessage::NewNeighbour(message), NLM_F_ACK | flags)
        .map(drop)
}

struct Entry {
    port: u32,
    learned: bool,
}

/// Same as `bridge fdb get MAC br BRIDGE`: one entry (kernel >= 5.0), never a dump, so
/// the cost does not grow with the bridge.
fn get(rtnl: &mut Rtnl, bridge: u32, mac: MacAddr) -> io::Result<Option<Entry>> {
    let mut message = NeighbourMessage::default();
    message.header.family = AddressFamily::Bridge;
    message.attributes = vec![
        NeighbourAttribute::LinkLayerAddress(mac.octets().to_vec()),
        NeighbourAttribute::Controller(bridge),
    ];
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
