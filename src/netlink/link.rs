//! Links: the bridge lookup, enslaving the tap, and the managed port flags.

use std::fmt;
use std::io;

use netlink_packet_core::{DefaultNla, NLM_F_ACK, NLM_F_APPEND, NLM_F_CREATE, NLM_F_EXCL};
use netlink_packet_route::link::{
    InfoBridgePort, InfoKind, InfoPortData, InfoPortKind, LinkAttribute, LinkFlags, LinkInfo, LinkMessage,
    Prop,
};
use netlink_packet_route::RouteNetlinkMessage;

use super::{unexpected, Rtnl};
use crate::ifname::IfName;
use crate::mac::MacAddr;

/// IFLA_ALT_IFNAME, <linux/if_link.h>: netlink-packet-route has it only inside a
/// property list, but a lookup by alternative name takes it at the top level.
const IFLA_ALT_IFNAME: u16 = 53;

pub struct Bridge {
    pub index: u32,
    pub mtu: u32,
    /// The bridge's current address, pinned on managed bridges (`pin_address`).
    pub address: Vec<u8>,
}

#[derive(Debug)]
pub enum LookupError {
    Io(io::Error),
    NotABridge,
    /// The name asked for is an alternative name; the ACL decides on interface names.
    AltName {
        name: String,
    },
}

impl fmt::Display for LookupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io(e) => crate::text::Reason(e).fmt(f),
            Self::NotABridge => f.write_str("not a bridge"),
            Self::AltName { name } => write!(
                f,
                "it is an alternative name of {name}; the acl decides on interface names, use --br={name}"
            ),
        }
    }
}

/// Same as `ip -d link show dev BRIDGE`: one GET by name, never a dump. The kernel also
/// finds a link by an alternative name, which the ACL never saw: refused.
pub fn get_bridge(rtnl: &mut Rtnl, name: &IfName) -> Result<Bridge, LookupError> {
    let link = get_link(rtnl, Link::Name(name)).map_err(LookupError::Io)?;
    let (mut is_bridge, mut mtu, mut address, mut real) = (false, None, None, None);
    for attribute in link.attributes {
        match attribute {
            LinkAttribute::LinkInfo(infos) => {
                is_bridge |= infos
                    .iter()
                    .any(|i| matches!(i, LinkInfo::Kind(InfoKind::Bridge)));
            }
            LinkAttribute::Mtu(m) => mtu = Some(m),
            LinkAttribute::Address(a) => address = Some(a),
            LinkAttribute::IfName(n) => real = Some(n),
            _ => {}
        }
    }
    if let Some(real) = real.filter(|real| real != name.as_str()) {
        return Err(LookupError::AltName {
            name: crate::text::escape(&real).into_owned(),
        });
    }
    match (is_bridge, mtu, address) {
        (true, Some(mtu), Some(address)) => Ok(Bridge {
            index: link.header.index,
            mtu,
            address,
        }),
        (true, _, _) => Err(LookupError::Io(unexpected("RTM_GETLINK (no MTU or address)"))),
        (false, _, _) => Err(LookupError::NotABridge),
    }
}

/// Same as `ip link set dev BRIDGE address ADDR` with its current address. A bridge whose
/// address was never set takes the lowest port address, which a tap-fd holder can set
/// (SIOCSIFHWADDR needs no capability); once set, the kernel keeps it (NET_ADDR_SET).
pub fn pin_address(rtnl: &mut Rtnl, bridge: &Bridge) -> io::Result<()> {
    let mut message = LinkMessage::default();
    message.header.index = bridge.index;
    message.attributes = vec![LinkAttribute::Address(bridge.address.clone())];
    rtnl.request(RouteNetlinkMessage::SetLink(message), NLM_F_ACK)
        .map(drop)
}

/// Same as `ip link property add dev TAP altname NAME`. Names and alternative names share
/// one namespace per network namespace, so a second add of NAME anywhere is EEXIST; only
/// CAP_NET_ADMIN removes it, and it goes with the tap.
pub fn add_altname(rtnl: &mut Rtnl, tap: u32, name: &str) -> io::Result<()> {
    let mut message = LinkMessage::default();
    message.header.index = tap;
    message.attributes = vec![LinkAttribute::PropList(vec![Prop::AltIfName(name.to_owned())])];
    let flags = NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL | NLM_F_APPEND;
    rtnl.request(RouteNetlinkMessage::NewLinkProp(message), flags)
        .map(drop)
}

/// The name of the link that has `altname`, for a message.
pub fn holder_of(rtnl: &mut Rtnl, altname: &str) -> io::Result<String> {
    let mut value = altname.as_bytes().to_vec();
    value.push(0);
    let mut message = LinkMessage::default();
    message.attributes = vec![LinkAttribute::Other(DefaultNla::new(IFLA_ALT_IFNAME, value))];
    match rtnl.request(RouteNetlinkMessage::GetLink(message), 0)? {
        Some(RouteNetlinkMessage::NewLink(link)) => name_in(link),
        _ => Err(unexpected("RTM_GETLINK")),
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
    name_in(get_link(rtnl, Link::Index(index))?)
}

fn name_in(link: LinkMessage) -> io::Result<String> {
    let name = link
        .attributes
        .into_iter()
        .find_map(|a| match a {
            LinkAttribute::IfName(name) => Some(name),
            _ => None,
        })
        .ok_or_else(|| unexpected("RTM_GETLINK (no name)"))?;
    Ok(crate::text::escape(&name).into_owned())
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
