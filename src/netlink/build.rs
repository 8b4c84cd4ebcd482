//! Pure message builders, one per iproute2 command they equal (as rtnetlink's
//! `LinkMessageBuilder` does): no I/O here, so each is table-tested below; `Rtnl::request`
//! sends them and chooses the request flags.
#![forbid(unsafe_code)]

use netlink_packet_core::DefaultNla;
use netlink_packet_route::link::{
    AfSpecBridge, BridgeVlanInfo, BridgeVlanInfoFlags, InfoBridgePort, InfoPortData, InfoPortKind,
    LinkAttribute, LinkFlags, LinkInfo, LinkMessage, Prop,
};
use netlink_packet_route::neighbour::{NeighbourAttribute, NeighbourFlags, NeighbourMessage, NeighbourState};
use netlink_packet_route::AddressFamily;

use crate::mac::MacAddr;
use crate::plan::Port;
use crate::vid::Vid;

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

/// `ip -d link show master BRIDGE`, sent as a dump: IFLA_MASTER in the request makes the
/// kernel answer with the ports of that bridge only.
pub(crate) fn ip_link_show_master(bridge: u32) -> LinkMessage {
    let mut message = LinkMessage::default();
    message.attributes.push(LinkAttribute::Controller(bridge));
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

/// `bridge fdb add MAC dev TAP [vlan VID] master static sticky`. NUD_NOARP is `static`: it
/// never ages and forwards to the port; NUD_PERMANENT would be a `local` entry, delivering
/// the guest's frames to the host. Sticky: see `fdb::claim`. With a VID the entry is in that
/// VLAN alone; without one the kernel adds it for VLAN 0 and copies it into every VLAN the
/// port has at that moment.
pub(crate) fn bridge_fdb_add(tap: u32, mac: MacAddr, vlan: Option<Vid>) -> NeighbourMessage {
    let mut message = NeighbourMessage::default();
    message.header.family = AddressFamily::Bridge;
    message.header.ifindex = tap;
    message.header.state = NeighbourState::Noarp;
    message.header.flags = NeighbourFlags::Controller | NeighbourFlags::Sticky;
    message.attributes = vec![NeighbourAttribute::LinkLayerAddress(mac.octets().to_vec())];
    message
        .attributes
        .extend(vlan.map(|v| NeighbourAttribute::Vlan(v.get())));
    message
}

/// `bridge fdb get MAC br BRIDGE [vlan VID]`: one entry (Linux 5.0), never a dump.
pub(crate) fn bridge_fdb_get(bridge: u32, mac: MacAddr, vlan: Option<Vid>) -> NeighbourMessage {
    let mut message = NeighbourMessage::default();
    message.header.family = AddressFamily::Bridge;
    message.attributes = vec![
        NeighbourAttribute::LinkLayerAddress(mac.octets().to_vec()),
        NeighbourAttribute::Controller(bridge),
    ];
    message
        .attributes
        .extend(vlan.map(|v| NeighbourAttribute::Vlan(v.get())));
    message
}

/// `bridge vlan add dev TAP vid VID pvid untagged`, sent as RTM_SETLINK: family AF_BRIDGE
/// reaches the bridge through the port (as netavark does it with this crate).
pub(crate) fn bridge_vlan_add(tap: u32, vid: Vid) -> LinkMessage {
    vlan_message(
        tap,
        BridgeVlanInfoFlags::Pvid | BridgeVlanInfoFlags::Untagged,
        vid,
    )
}

/// `bridge vlan del dev TAP vid VID`, sent as RTM_DELLINK.
pub(crate) fn bridge_vlan_del(tap: u32, vid: Vid) -> LinkMessage {
    vlan_message(tap, BridgeVlanInfoFlags::empty(), vid)
}

fn vlan_message(tap: u32, flags: BridgeVlanInfoFlags, vid: Vid) -> LinkMessage {
    let mut message = LinkMessage::default();
    message.header.interface_family = AddressFamily::Bridge;
    message.header.index = tap;
    let info = BridgeVlanInfo {
        flags,
        vid: vid.get(),
    };
    message.attributes = vec![LinkAttribute::AfSpecBridge(vec![AfSpecBridge::VlanInfo(info)])];
    message
}

/// RTM_GETVLAN and its answer, <linux/rtnetlink.h> (Linux 5.8); netlink-packet-route has no
/// type for them, so `bridge_vlan_show` gives the request's body and `vlan::parse` reads
/// the answers.
pub(crate) const RTM_NEWVLAN: u16 = 112;
pub(crate) const RTM_GETVLAN: u16 = 114;

/// `bridge vlan show dev TAP`, as RTM_GETVLAN's body: a dump of this one port's VLANs (the
/// kernel walks no other link), struct br_vlan_msg { family, 3 reserved bytes, ifindex }.
pub(crate) fn bridge_vlan_show(tap: u32) -> [u8; 8] {
    let mut body = [0; 8];
    body[0] = u8::from(AddressFamily::Bridge);
    body[4..].copy_from_slice(&tap.to_ne_bytes());
    body
}

#[cfg(test)]
mod tests;
