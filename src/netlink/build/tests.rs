use netlink_packet_core::{Emitable, Nla};

use super::*;

const MAC: [u8; 6] = [0x52, 0x54, 0, 0x12, 0x34, 0x56];

fn mac() -> MacAddr {
    MacAddr::from_bytes(MAC).unwrap()
}

#[test]
fn links() {
    let show = ip_link_show(Link::Name("br0"));
    assert_eq!(show.header.index, 0);
    assert_eq!(show.attributes, vec![LinkAttribute::IfName("br0".into())]);
    assert_eq!(ip_link_show(Link::Index(7)).header.index, 7);
    let alt = ip_link_show(Link::AltName("fbh-525400123456"));
    match alt.attributes.as_slice() {
        [LinkAttribute::Other(nla)] => {
            assert_eq!(nla.kind(), 53);
            let mut value = vec![0; nla.value_len()];
            nla.emit_value(&mut value);
            assert_eq!(value, b"fbh-525400123456\0");
        }
        other => panic!("{other:?}"),
    }

    let pin = ip_link_set_address(4, &MAC);
    assert_eq!(
        (pin.header.index, pin.header.change_mask),
        (4, LinkFlags::empty())
    );
    assert_eq!(pin.attributes, vec![LinkAttribute::Address(MAC.to_vec())]);

    let tap = MacAddr::for_tap([1, 2, 3, 4, 5]);
    for up in [false, true] {
        let master = ip_link_set_master(9, 4, 1400, tap, up);
        assert_eq!(master.header.index, 9);
        assert_eq!(master.header.flags.contains(LinkFlags::Up), up);
        assert_eq!(master.header.change_mask.contains(LinkFlags::Up), up);
        assert_eq!(
            master.attributes,
            vec![
                LinkAttribute::Address(vec![0xfe, 1, 2, 3, 4, 5]),
                LinkAttribute::Mtu(1400),
                LinkAttribute::Controller(4),
            ]
        );
    }

    let alt = ip_link_property_add_altname(9, "fbh-525400123456");
    assert_eq!(
        alt.attributes,
        vec![LinkAttribute::PropList(vec![Prop::AltIfName(
            "fbh-525400123456".into()
        )])]
    );
    // The message must serialize: the kernel gets exactly these bytes.
    assert!(alt.buffer_len() > 20);
}

#[test]
fn bridge_ports() {
    let cases = [
        (
            Port::managed(false),
            vec![
                InfoBridgePort::Learning(false),
                InfoBridgePort::UnicastFlood(false),
            ],
        ),
        (
            Port::managed(true),
            vec![
                InfoBridgePort::Learning(false),
                InfoBridgePort::UnicastFlood(false),
                InfoBridgePort::Locked(true),
            ],
        ),
        (
            Port::PLAIN,
            vec![InfoBridgePort::Learning(true), InfoBridgePort::UnicastFlood(true)],
        ),
    ];
    for (port, want) in cases {
        // Down: a pending port, which nothing may reach before its MAC is claimed.
        for up in [true, false] {
            let message = bridge_link_set(9, port, up);
            assert_eq!(message.header.index, 9);
            assert_eq!(message.header.flags.contains(LinkFlags::Up), up);
            assert!(message.header.change_mask.contains(LinkFlags::Up));
            assert_eq!(
                message.attributes,
                vec![LinkAttribute::LinkInfo(vec![
                    LinkInfo::PortKind(InfoPortKind::Bridge),
                    LinkInfo::PortData(InfoPortData::BridgePort(want.clone())),
                ])],
                "{port:?}"
            );
        }
    }
}

#[test]
fn fdb() {
    let add = bridge_fdb_add(9, mac(), None);
    assert_eq!(add.header.family, AddressFamily::Bridge);
    assert_eq!(add.header.ifindex, 9);
    assert_eq!(add.header.state, NeighbourState::Noarp, "static, not local");
    assert_eq!(
        add.header.flags,
        NeighbourFlags::Controller | NeighbourFlags::Sticky
    );
    assert_eq!(
        add.attributes,
        vec![NeighbourAttribute::LinkLayerAddress(MAC.to_vec())]
    );

    let get = bridge_fdb_get(4, mac(), None);
    assert_eq!(
        (get.header.family, get.header.ifindex),
        (AddressFamily::Bridge, 0)
    );
    assert_eq!(
        get.attributes,
        vec![
            NeighbourAttribute::LinkLayerAddress(MAC.to_vec()),
            NeighbourAttribute::Controller(4),
        ]
    );
}

#[test]
fn fdb_in_a_vlan() {
    let vid = Vid::new(101).unwrap();
    let add = bridge_fdb_add(9, mac(), Some(vid));
    assert_eq!(
        add.header.flags,
        NeighbourFlags::Controller | NeighbourFlags::Sticky
    );
    assert_eq!(
        add.attributes,
        vec![
            NeighbourAttribute::LinkLayerAddress(MAC.to_vec()),
            NeighbourAttribute::Vlan(101),
        ]
    );
    let get = bridge_fdb_get(4, mac(), Some(vid));
    assert_eq!(
        get.attributes,
        vec![
            NeighbourAttribute::LinkLayerAddress(MAC.to_vec()),
            NeighbourAttribute::Controller(4),
            NeighbourAttribute::Vlan(101),
        ]
    );
    // NDA_VLAN (5) is a u16 in host order.
    let mut bytes = vec![0; add.buffer_len()];
    add.emit(&mut bytes);
    assert!(bytes.windows(6).any(|w| w == [6, 0, 5, 0, 101, 0]), "{bytes:?}");
}

#[test]
fn vlans() {
    use netlink_packet_route::link::{AfSpecBridge, BridgeVlanInfo, BridgeVlanInfoFlags as F};
    let vid = Vid::new(101).unwrap();
    let cases = [
        (bridge_vlan_add(9, vid), F::Pvid | F::Untagged, 6u8),
        (bridge_vlan_del(9, vid), F::empty(), 0),
    ];
    for (message, flags, byte) in cases {
        assert_eq!(message.header.interface_family, AddressFamily::Bridge);
        assert_eq!(message.header.index, 9);
        assert_eq!(message.header.change_mask, LinkFlags::empty());
        assert_eq!(
            message.attributes,
            vec![LinkAttribute::AfSpecBridge(vec![AfSpecBridge::VlanInfo(
                BridgeVlanInfo { flags, vid: 101 }
            )])]
        );
        // The bytes the kernel gets: ifinfomsg with family AF_BRIDGE (7), then IFLA_AF_SPEC
        // (26) holding IFLA_BRIDGE_VLAN_INFO (2): struct bridge_vlan_info { flags, vid }.
        let mut bytes = vec![0; message.buffer_len()];
        message.emit(&mut bytes);
        assert_eq!((bytes[0], &bytes[4..8]), (7, &9u32.to_ne_bytes()[..]));
        assert_eq!(&bytes[16..20], &[12, 0, 26, 0]);
        assert_eq!(&bytes[20..28], &[8, 0, 2, 0, byte, 0, 101, 0]);
        assert_eq!(bytes.len(), 28);
    }
    let show = bridge_vlan_show(0x0102_0304);
    assert_eq!(show[0], 7, "AF_BRIDGE");
    assert_eq!(&show[1..4], &[0, 0, 0]);
    assert_eq!(&show[4..], &0x0102_0304u32.to_ne_bytes());
}

#[test]
fn ports_of_a_bridge() {
    let cases = [(4, 4), (1, 1), (u32::MAX, u32::MAX)];
    for (bridge, master) in cases {
        let dump = ip_link_show_master(bridge);
        assert_eq!(dump.header.index, 0, "a dump names no link");
        assert_eq!(dump.header.interface_family, AddressFamily::Unspec);
        assert_eq!(dump.attributes, vec![LinkAttribute::Controller(master)]);
        // IFLA_MASTER (10), a u32: the kernel's filter.
        let mut bytes = vec![0; dump.buffer_len()];
        dump.emit(&mut bytes);
        assert_eq!(&bytes[16..20], &[8, 0, 10, 0]);
        assert_eq!(&bytes[20..24], &master.to_ne_bytes());
    }
}
