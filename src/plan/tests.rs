use super::*;

fn request(vnet: bool, mac: Option<&str>) -> Request {
    Request {
        bridge: IfName::new("br0").unwrap(),
        fd: 3,
        use_vnet: vnet,
        mac: mac.map(|m| MacAddr::parse(m).unwrap()),
        vlan: None,
    }
}

#[test]
fn table() {
    let mac = MacAddr::parse("52:54:00:12:34:56").unwrap();
    let entry = |take_learned| {
        Some(FdbEntry {
            mac,
            reservation: "fbh-525400123456".into(),
            take_learned,
        })
    };
    let managed = |locked| Port {
        learning: false,
        unicast_flood: false,
        locked,
    };
    #[rustfmt::skip]
    let cases: Vec<(Request, Grant, bool, Port, Option<FdbEntry>)> = vec![
        // No MAC, the libvirt hook installed: managed flags, no entry, down, owned.
        (request(true, None), Grant::Pending { locked: false, owner: 1000 }, true, managed(false), None),
        (request(true, None), Grant::Pending { locked: true, owner: 1000 }, true, managed(true), None),
        (request(true, None), Grant::Plain, false, Port::PLAIN, None),
        // A plain grant ignores a MAC: qemu-bridge-helper's behaviour.
        (request(false, Some("52:54:00:12:34:56")), Grant::Plain, false, Port::PLAIN, None),
        (request(true, Some("52:54:00:12:34:56")), Grant::Managed { mac, locked: false, take_learned: false }, true, managed(false), entry(false)),
        (request(true, Some("52:54:00:12:34:56")), Grant::Managed { mac, locked: true, take_learned: false }, true, managed(true), entry(false)),
        (request(false, Some("52:54:00:12:34:56")), Grant::Managed { mac, locked: false, take_learned: true }, true, managed(false), entry(true)),
    ];
    for (request, grant, pin, port, fdb) in cases {
        let plan = Plan::new(&request, grant, None);
        let pending = matches!(grant, Grant::Pending { .. });
        let want = Plan {
            bridge: IfName::new("br0").unwrap(),
            vnet_hdr: request.use_vnet,
            pin_bridge_address: pin,
            port,
            fdb,
            up: !pending,
            owner: pending.then_some(1000),
            vlan: None,
        };
        assert_eq!(plan, want, "{grant:?}");
    }
}

/// The granted VLAN goes into the plan as it is, managed or plain; only a plain port
/// outside any VLAN comes up as it joins.
#[test]
fn vlans() {
    let mac = MacAddr::parse("52:54:00:12:34:56").unwrap();
    let managed = Grant::Managed {
        mac,
        locked: false,
        take_learned: false,
    };
    let vid = Some(Vid::new(101).unwrap());
    let request = request(true, Some("52:54:00:12:34:56"));
    #[rustfmt::skip]
    let cases = [
        (Grant::Plain, None, true),
        (Grant::Plain, vid, false),
        (managed, None, false),
        (managed, vid, false),
    ];
    for (grant, vlan, up) in cases {
        let plan = Plan::new(&request, grant, vlan);
        assert_eq!(plan.vlan, vlan);
        assert_eq!(plan.up_on_join(), up, "{grant:?} {vlan:?}");
        assert_eq!(plan.pin_bridge_address, grant != Grant::Plain);
        assert_eq!(plan.fdb.is_some(), grant != Grant::Plain);
    }
}

#[test]
fn ports() {
    assert!(Port::PLAIN.is_plain());
    assert!(!Port::managed(false).is_plain());
    assert!(Port::managed(true).locked);
}

#[test]
fn reservations_are_valid_alternative_names() {
    let name = reservation(MacAddr::parse("02:AB:00:00:00:01").unwrap());
    assert_eq!(name, "fbh-02ab00000001");
    // ALTIFNAMSIZ is 128; no `/`, `:` or whitespace (dev_valid_name).
    assert!(name.len() < 128 && !name.contains(['/', ':', ' ']));
}
