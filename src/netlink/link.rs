//! Links: the bridge lookup, enslaving the tap, and the managed port flags.

use std::fmt;
use std::io;

use netlink_packet_core::NLM_F_ACK;
use netlink_packet_route::link::{
    InfoBridgePort, InfoKind, InfoPortData, InfoPortKind, LinkAttribute, LinkFlags, LinkInfo, LinkMessage,
};
use netlink_packet_route::RouteNetlinkMessage;

use super::{unexpected, Rtnl};
use crate::ifname::IfName;
use crate::mac::MacAddr;

pub struct Bridge {
    pub index: u32,
    pub mtu: u32,
}

#[derive(Debug)]
pub enum LookupError {
    Io(io::Error),
    NotABridge,
}

impl fmt::Display for LookupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io(e) => crate::error::Reason(e).fmt(f),
            Self::NotABridge => f.write_str("not a bridge"),
        }
    }
}

/// Same as `ip -d link show dev BRIDGE`: one GET by name, never a dump.
pub fn get_bridge(rtnl: &mut Rtnl, name: &IfName) -> Result<Bridge, LookupError> {
    let link = get_link(rtnl, Link::Name(name)).map_err(LookupError::Io)?;
    let mut is_bridge = false;
    let mut mtu = None;
    for attribute in &link.attributes {
        match attribute {
            LinkAttribute::LinkInfo(infos) => {
                is_bridge |= infos
                    .iter()
                    .any(|i| matches!(i, LinkInfo::Kind(InfoKind::Bridge)));
            }
            LinkAttribute::Mtu(m) => mtu = Some(*m),
            _ => {}
        }
    }
    match (is_bridge, mtu) {
        (true, Some(mtu)) => Ok(Bridge {
            index: link.header.index,
            mtu,
        }),
        (true, None) => Err(LookupError::Io(unexpected("RTM_GETLINK (no MTU)"))),
        (false, _) => Err(LookupError::NotABridge),
    }
}

/// Same as `ip link set dev TAP address ADDR mtu MTU master BRIDGE [up]`. The bridge's MTU,
/// so that adding the tap never lowers it; an 0xFE address, so that the tap never becomes
/// the bridge's own.
pub fn enslave(rtnl: &mut Rtnl, tap: u32, bridge: &Bridge, address: MacAddr, up: bool) -> io::Result<()> {
    let mut message = LinkMessage::default();
    message.header.index = tap;
    if up {
        message.header.flags = LinkFlags::Up;
        message.header.change_mask = LinkFlags::Up;
    }
    message.attributes = vec![
        LinkAttribute::Address(address.octets().to_vec()),
        LinkAttribute::Mtu(bridge.mtu),
        LinkAttribute::Controller(bridge.index),
    ];
    rtnl.request(RouteNetlinkMessage::SetLink(message), NLM_F_ACK)
        .map(drop)
}

/// Same as `ip link set dev TAP up type bridge_slave learning off flood off [locked on]`.
/// A request of its own: sent together with the master change, the kernel answers
/// EOPNOTSUPP (the port ops are looked up before the tap has a master).
pub fn manage_port(rtnl: &mut Rtnl, tap: u32, locked: bool) -> io::Result<()> {
    let mut port = vec![
        InfoBridgePort::Learning(false),
        InfoBridgePort::UnicastFlood(false),
    ];
    if locked {
        port.push(InfoBridgePort::Locked(true));
    }
    let mut message = LinkMessage::default();
    message.header.index = tap;
    message.header.flags = LinkFlags::Up;
    message.header.change_mask = LinkFlags::Up;
    message.attributes = vec![LinkAttribute::LinkInfo(vec![
        LinkInfo::PortKind(InfoPortKind::Bridge),
        LinkInfo::PortData(InfoPortData::BridgePort(port)),
    ])];
    rtnl.request(RouteNetlinkMessage::NewLink(message), NLM_F_ACK)?;
    if locked && !port_locked(&get_link(rtnl, Link::Index(tap))?) {
        return Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "this kernel has no locked bridge ports (Linux 5.18 or later needed)",
        ));
    }
    Ok(())
}

/// The tap's index. Asked over rtnetlink rather than with if_nametoindex(), which opens
/// a socket of its own: one more fd (an AF_INET one when AF_UNIX fails, say under a low
/// RLIMIT_NOFILE) that the seccomp filter would have to allow.
pub fn index_of(rtnl: &mut Rtnl, name: &IfName) -> io::Result<u32> {
    get_link(rtnl, Link::Name(name)).map(|link| link.header.index)
}

/// A port's name, for a message; over rtnetlink for the same reason as `index_of`. The
/// kernel allows control characters in names, so they are escaped.
pub fn name_of(rtnl: &mut Rtnl, index: u32) -> io::Result<String> {
    let link = get_link(rtnl, Link::Index(index))?;
    let name = link
        .attributes
        .into_iter()
        .find_map(|a| match a {
            LinkAttribute::IfName(name) => Some(name),
            _ => None,
        })
        .ok_or_else(|| unexpected("RTM_GETLINK (no name)"))?;
    Ok(crate::error::escape_controls(&name))
}

enum Link<'a> {
    Index(u32),
    Name(&'a IfName),
}

/// Same as `ip -d link show dev LINK`: one GET, never a dump.
fn get_link(rtnl: &mut Rtnl, link: Link) -> io::Result<LinkMessage> {
    let mut message = LinkMessage::default();
    match link {
        Link::Index(index) => message.header.index = index,
        Link::Name(name) => message.attributes.push(LinkAttribute::IfName(name.to_string())),
    }
    match rtnl.request(RouteNetlinkMessage::GetLink(message), 0)? {
        Some(RouteNetlinkMessage::NewLink(link)) => Ok(link),
        _ => Err(unexpected("RTM_GETLINK")),
    }
}

/// Kernels before 5.18 ignore IFLA_BRPORT_LOCKED without an error, so the port is read
/// back: only a port that reports `locked on` is locked.
fn port_locked(link: &LinkMessage) -> bool {
    link.attributes.iter().any(|a| match a {
        LinkAttribute::LinkInfo(infos) => infos.iter().any(|i| match i {
            LinkInfo::PortData(InfoPortData::BridgePort(port)) => {
                port.contains(&InfoBridgePort::Locked(true))
            }
            _ => false,
        }),
        _ => false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locked_only_when_the_kernel_says_so() {
        let port = |attrs| {
            let mut link = LinkMessage::default();
            link.attributes = vec![LinkAttribute::LinkInfo(vec![
                LinkInfo::PortKind(InfoPortKind::Bridge),
                LinkInfo::PortData(InfoPortData::BridgePort(attrs)),
            ])];
            link
        };
        assert!(port_locked(&port(vec![
            InfoBridgePort::Learning(false),
            InfoBridgePort::Locked(true)
        ])));
        assert!(!port_locked(&port(vec![InfoBridgePort::Locked(false)])));
        assert!(
            !port_locked(&port(vec![InfoBridgePort::Learning(false)])),
            "pre-5.18 kernel"
        );
        assert!(!port_locked(&LinkMessage::default()));
    }
}
