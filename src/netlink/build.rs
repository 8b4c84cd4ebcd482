//! Pure message builders, one per iproute2 command they equal (as rtnetlink's
//! `LinkMessageBuilder` does): no I/O here, so each is table-tested below; `Rtnl::request`
//! sends them and chooses the request flags.
#![forbid(unsafe_code)]

use netlink_packet_core::DefaultNla;
use netlink_packet_route::link::{
    InfoBridgePort, InfoPortData, InfoPortKind, LinkAttribute, LinkFlags, LinkInfo, LinkMessage, Prop,
};
use netlink_packet_route::neighbour::{NeighbourAttribute, NeighbourFlags, NeighbourMessage, NeighbourState};
use netlink_packet_route::AddressFamily;

use crate::mac::MacAddr;
use crate::plan::Port;

/// IFLA_ALT_IFNAME, <linux/if_link.h>: netlink-packet-route has it only inside a
/// property list, but a lookup by alternative name takes it at the top level.
const IFLA_ALT_IFNAME: u16 = 53;

/// Which link a GET asks for.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Link<'a> {
    Index(u32),
    Name(&'a str),
    AltName(&'a str),
}

/// `ip -d link show dev LINK`: one link, never a dump.
pub(crate) fn ip_link_show(link: Link<'_>) -> LinkMessage {
    let mut message = LinkMessage::default();
    match link {
        Link::Index(index) => message.header.index = index,
        Link::Name(name) => message.attributes.push(LinkAttribute::IfName(name.to_owned())),
        Link::AltName(name) => {
            let mut value = name.as_bytes().to_vec();
            value.push(0);
            let nla = DefaultNla::new(IFLA_ALT_IFNAME, value);
            message.attributes.push(LinkAttribute::Other(nla));
        }
    }
    message
}

/// `ip link set dev LINK address ADDR`.
pub(crate) fn ip_link_set_address(index: u32, address: &[u8]) -> LinkMessage {
    let mut message = LinkMessage::default();
    message.header.index = index;
    message.attributes = vec![LinkAttribute::Address(address.to_vec())];
    message
}

/// `ip link set dev TAP address ADDR mtu MTU master BRIDGE [up]`.
pub(crate) fn ip_link_set_master(tap: u32, bridge: u32, mtu: u32, address: MacAddr, up: bool) -> LinkMessage {
    let mut message = LinkMessage::default();
    message.header.index = tap;
    if up {
        message.header.flags = LinkFlags::Up;
        message.header.change_mask = LinkFlags::Up;
    }
    message.attributes = vec![
        LinkAttribute::Address(address.octets().to_vec()),
        LinkAttribute::Mtu(mtu),
        LinkAttribute::Controller(bridge),
    ];
    message
}

/// `ip link property add dev LINK altname NAME`.
pub(crate) fn ip_link_property_add_altname(index: u32, name: &str) -> LinkMessage {
    let mut message = LinkMessage::default();
    message.header.index = index;
    message.attributes = vec![LinkAttribute::PropList(vec![Prop::AltIfName(name.to_owned())])];
    message
}

/// `ip link set dev TAP up|down type bridge_slave learning on|off flood on|off [locked on]`
/// (`bridge link set dev TAP learning … flood … [locked on]`, and up or down).
pub(crate) fn bridge_link_set(tap: u32, port: Port, up: bool) -> LinkMessage {
    let mut settings = vec![
        InfoBridgePort::Learning(port.learning),
        InfoBridgePort::UnicastFlood(port.unicast_flood),
    ];
    if port.locked {
        settings.push(InfoBridgePort::Locked(true));
    }
    let mut message = LinkMessage::default();
    message.header.index = tap;
    if up {
        message.header.flags = LinkFlags::Up;
    }
    message.header.change_mask = LinkFlags::Up;
    message.attributes = vec![LinkAttribute::LinkInfo(vec![
        LinkInfo::PortKind(InfoPortKind::Bridge),
        LinkInfo::PortData(InfoPortData::BridgePort(settings)),
    ])];
    message
}

/// `bridge fdb add MAC dev TAP master static sticky`. NUD_NOARP is `static`: it never ages
/// and forwards to the port; NUD_PERMANENT would be a `local` entry, delivering the
/// guest's frames to the host. Sticky: see `fdb::claim`.
pub(crate) fn bridge_fdb_add(tap: u32, mac: MacAddr) -> NeighbourMessage {
    let mut message = NeighbourMessage::default();
    message.header.family = AddressFamily::Bridge;
    message.header.ifindex = tap;
    message.header.state = NeighbourState::Noarp;
    message.header.flags = NeighbourFlags::Controller | NeighbourFlags::Sticky;
    message.attributes = vec![NeighbourAttribute::LinkLayerAddress(mac.octets().to_vec())];
    message
}

/// `bridge fdb get MAC br BRIDGE`: one entry (Linux 5.0), never a dump.
pub(crate) fn bridge_fdb_get(bridge: u32, mac: MacAddr) -> NeighbourMessage {
    let mut message = NeighbourMessage::default();
    message.header.family = AddressFamily::Bridge;
    message.attributes = vec![
        NeighbourAttribute::LinkLayerAddress(mac.octets().to_vec()),
        NeighbourAttribute::Controller(bridge),
    ];
    message
}

#[cfg(test)]
mod tests;
