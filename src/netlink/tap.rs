//! An existing tap as the kernel describes it, for `--claim`: one GET, parsed into
//! `plan::TapState`, which decides.

use std::io;

use netlink_packet_core::Nla;
use netlink_packet_route::link::{
    InfoBridgePort, InfoData, InfoKind, InfoPortData, InfoTun, LinkAttribute, LinkFlags, LinkInfo,
    LinkMessage, Prop,
};

use netlink_packet_route::RouteNetlinkMessage;

use super::build::{self, Link};
use super::link::get_link;
use super::Rtnl;
use crate::ifname::IfName;
use crate::plan::TapState;

/// <linux/if_link.h>: netlink-packet-route leaves tun attributes unparsed.
const IFLA_TUN_OWNER: u16 = 1;
const IFLA_TUN_TYPE: u16 = 3;
/// <linux/if_tun.h>: IFLA_TUN_TYPE of a tap.
const IFF_TAP: u8 = 0x0002;

/// Same as `ip -d link show dev TAP`: one GET by name, never a dump.
pub(crate) fn inspect_tap(rtnl: &mut Rtnl, name: &IfName) -> io::Result<TapState> {
    get_link(rtnl, Link::Name(name.as_str())).map(|link| tap_state(&link))
}

/// `ip -d link show master BRIDGE`: every port of the bridge, for `--explain` only. A dump
/// (the kernel walks every link and keeps those of this master), so never part of a call.
pub(crate) fn ports_of(rtnl: &mut Rtnl, bridge: u32) -> io::Result<Vec<TapState>> {
    let answers = rtnl.dump(RouteNetlinkMessage::GetLink(build::ip_link_show_master(bridge)))?;
    let ports = answers.iter().filter_map(|answer| match answer {
        RouteNetlinkMessage::NewLink(link) => Some(tap_state(link)),
        _ => None,
    });
    Ok(ports.filter(|port| port.master == Some(bridge)).collect())
}

fn tap_state(link: &LinkMessage) -> TapState {
    let mut state = TapState {
        index: link.header.index,
        up: link.header.flags.contains(LinkFlags::Up),
        ..TapState::default()
    };
    let (mut tun, mut tap) = (false, false);
    for attribute in &link.attributes {
        match attribute {
            LinkAttribute::IfName(name) => state.name.clone_from(name),
            LinkAttribute::Controller(index) => state.master = Some(*index),
            LinkAttribute::PropList(props) => state.altnames.extend(props.iter().filter_map(|p| match p {
                Prop::AltIfName(name) => Some(name.clone()),
                _ => None,
            })),
            LinkAttribute::LinkInfo(infos) => {
                for info in infos {
                    match info {
                        LinkInfo::Kind(InfoKind::Tun) => tun = true,
                        LinkInfo::Data(InfoData::Tun(nlas)) => {
                            for nla in nlas {
                                match (nla.kind(), value(nla).as_slice()) {
                                    (IFLA_TUN_OWNER, &[a, b, c, d]) => {
                                        state.owner = Some(u32::from_ne_bytes([a, b, c, d]))
                                    }
                                    (IFLA_TUN_TYPE, &[kind]) => tap = kind == IFF_TAP,
                                    _ => {}
                                }
                            }
                        }
                        LinkInfo::PortData(InfoPortData::BridgePort(port)) => {
                            for setting in port {
                                match setting {
                                    InfoBridgePort::Learning(on) => state.learning = Some(*on),
                                    InfoBridgePort::UnicastFlood(on) => state.unicast_flood = Some(*on),
                                    InfoBridgePort::Locked(on) => state.locked = Some(*on),
                                    _ => {}
                                }
                            }
                        }
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    state.is_tap = tun && tap;
    state
}

fn value(nla: &InfoTun) -> Vec<u8> {
    let mut bytes = vec![0; nla.value_len()];
    nla.emit_value(&mut bytes);
    bytes
}

#[cfg(test)]
mod tests {
    use netlink_packet_core::DefaultNla;
    use netlink_packet_route::link::InfoPortKind;

    use super::*;

    fn tun(kind: u8, owner: Option<u32>) -> LinkInfo {
        let mut nlas = vec![InfoTun::Other(DefaultNla::new(IFLA_TUN_TYPE, vec![kind]))];
        if let Some(uid) = owner {
            nlas.push(InfoTun::Other(DefaultNla::new(
                IFLA_TUN_OWNER,
                uid.to_ne_bytes().to_vec(),
            )));
        }
        LinkInfo::Data(InfoData::Tun(nlas))
    }

    fn port(learning: bool, flood: bool) -> Vec<LinkInfo> {
        vec![
            LinkInfo::PortKind(InfoPortKind::Bridge),
            LinkInfo::PortData(InfoPortData::BridgePort(vec![
                InfoBridgePort::Learning(learning),
                InfoBridgePort::UnicastFlood(flood),
            ])),
        ]
    }

    fn link(attributes: Vec<LinkAttribute>) -> LinkMessage {
        let mut message = LinkMessage::default();
        message.header.index = 7;
        message.attributes = attributes;
        message
    }

    #[test]
    fn table() {
        let name = LinkAttribute::IfName("tap0".into());
        let info = |mut infos: Vec<LinkInfo>, more: Vec<LinkInfo>| {
            infos.extend(more);
            LinkAttribute::LinkInfo(infos)
        };
        let pending = TapState::pending_example();
        #[rustfmt::skip]
        let cases: Vec<(&str, Vec<LinkAttribute>, TapState)> = vec![
            ("a pending port", vec![
                name.clone(), LinkAttribute::Controller(3),
                info(vec![LinkInfo::Kind(InfoKind::Tun), tun(2, Some(1000))], port(false, false)),
            ], pending.clone()),
            ("claimed: altnames", vec![
                name.clone(), LinkAttribute::Controller(3),
                LinkAttribute::PropList(vec![Prop::AltIfName("fbh-port-7".into())]),
                info(vec![LinkInfo::Kind(InfoKind::Tun), tun(2, Some(1000))], port(false, false)),
            ], TapState { altnames: vec!["fbh-port-7".into()], ..pending.clone() }),
            ("no owner set", vec![
                name.clone(), LinkAttribute::Controller(3),
                info(vec![LinkInfo::Kind(InfoKind::Tun), tun(2, None)], port(true, true)),
            ], TapState { owner: None, learning: Some(true), unicast_flood: Some(true), ..pending.clone() }),
            ("a tun, not a tap", vec![
                name.clone(), info(vec![LinkInfo::Kind(InfoKind::Tun), tun(1, Some(1000))], vec![]),
            ], TapState { is_tap: false, master: None, learning: None, unicast_flood: None, ..pending.clone() }),
            ("a veth port", vec![
                name.clone(), LinkAttribute::Controller(3), info(vec![LinkInfo::Kind(InfoKind::Veth)], port(false, false)),
            ], TapState { is_tap: false, owner: None, ..pending.clone() }),
            ("a short owner attribute is no owner", vec![
                name.clone(),
                info(vec![LinkInfo::Kind(InfoKind::Tun),
                          LinkInfo::Data(InfoData::Tun(vec![InfoTun::Other(DefaultNla::new(IFLA_TUN_OWNER, vec![1, 2]))]))], vec![]),
            ], TapState { is_tap: false, owner: None, master: None, learning: None, unicast_flood: None, ..pending.clone() }),
            ("nothing", vec![], TapState { index: 7, ..TapState::default() }),
        ];
        for (what, attributes, want) in cases {
            assert_eq!(tap_state(&link(attributes)), want, "{what}");
        }
    }
}
