//! Frames through the bridge: the fd the helper returns is the guest's NIC, and a managed
//! port gets no unknown unicast. Negative checks are ordered: the unwanted frame is sent
//! first and a wanted one after it, so seeing the wanted one and not the unwanted one is
//! the barrier (plus a 200 ms linger for stragglers).

use crate::common;

use common::{env, Call, Frame, Install, Lan, Mac, Netns, PacketSock, TapFd};

const UNKNOWN: [u8; 6] = [0x02, 0xfb, 0x00, 0x00, 0x00, 0x01];
const BROADCAST: [u8; 6] = [0xff; 6];

struct Setup {
    ns: Netns,
    tap: TapFd,
    guest: [u8; 6],
    /// On the far end of the veth whose other end is in the bridge.
    wire: PacketSock,
    wire_mac: [u8; 6],
}

/// br0 (managed or not) with a veth vb0 in it; the guest gets its tap as alice.
fn setup(managed: bool, vnet: bool, install: Install) -> Setup {
    let acl = if managed {
        "allow br0\nmanaged br0\n"
    } else {
        "allow br0\n"
    };
    let Lan { ns, wire, wire_mac } = Lan::new(acl);
    let mac = Mac::random().to_string();
    let mac_arg = format!("--mac={mac}");
    let mut args = vec!["--br=br0", "--fd={fd}", &mac_arg];
    if vnet {
        args.push("--use-vnet");
    }
    let tap = Call::new(install, &env().alice, &args).run(&ns).success(vnet);
    ns.wait_ready(&tap.name());
    Setup {
        ns,
        tap,
        guest: Mac::parse(&mac).0,
        wire,
        wire_mac,
    }
}

impl Setup {
    fn inject(&self, nonce: [u8; 8], tag: u8, dst: [u8; 6]) {
        self.wire.send(
            &Frame {
                dst,
                src: self.wire_mac,
                nonce,
                tag,
            }
            .bytes(),
        );
    }
}

#[test]
fn managed_port_gets_its_own_and_broadcast_but_no_unknown_unicast() {
    let s = setup(true, true, Install::Setuid);
    let nonce = Frame::nonce();
    s.inject(nonce, 1, UNKNOWN);
    s.inject(nonce, 2, s.guest);
    s.inject(nonce, 3, BROADCAST);
    let tags = s.tap.read_tags(&nonce, 3);
    assert!(
        tags.contains(&2),
        "frame to the guest's MAC not delivered: {tags:?}"
    );
    assert!(tags.contains(&3), "broadcast not delivered: {tags:?}");
    assert!(
        !tags.contains(&1),
        "unknown unicast flooded to a managed port: {tags:?}"
    );
}

#[test]
fn plain_port_gets_unknown_unicast() {
    let s = setup(false, true, Install::Setuid);
    let nonce = Frame::nonce();
    s.inject(nonce, 1, UNKNOWN);
    s.inject(nonce, 2, BROADCAST);
    let tags = s.tap.read_tags(&nonce, 2);
    assert_eq!(
        tags,
        vec![1, 2],
        "a plain port floods unknown unicast like qemu-bridge-helper's"
    );
    // --mac is ignored on a plain bridge: no static entry for it.
    assert!(!s.ns.bridge("fdb show br br0").contains(&Mac(s.guest).to_string()));
}

#[test]
fn guest_frames_written_to_the_fd_reach_the_wire() {
    for (vnet, install) in [(true, Install::Setuid), (false, Install::FileCaps)] {
        let s = setup(true, vnet, install);
        assert_eq!(
            s.tap.flags() & libc::IFF_VNET_HDR != 0,
            vnet,
            "IFF_VNET_HDR iff --use-vnet"
        );
        let nonce = Frame::nonce();
        s.tap.write_frame(
            &Frame {
                dst: s.wire_mac,
                src: s.guest,
                nonce,
                tag: 7,
            }
            .bytes(),
        );
        s.tap.write_frame(
            &Frame {
                dst: BROADCAST,
                src: s.guest,
                nonce,
                tag: 8,
            }
            .bytes(),
        );
        let tags = s.wire.read_tags(&nonce, 8);
        assert_eq!(tags, vec![7, 8], "vnet {vnet}: guest frames on the wire");
    }
}

/// Without --use-vnet the fd carries bare Ethernet frames (no virtio-net header); with it,
/// each frame is preceded by the 10-byte header (already covered by the tests above).
#[test]
fn without_use_vnet_frames_are_bare() {
    let s = setup(true, false, Install::Setuid);
    let nonce = Frame::nonce();
    s.inject(nonce, 1, UNKNOWN);
    s.inject(nonce, 2, s.guest);
    let tags = s.tap.read_tags(&nonce, 2);
    assert_eq!(tags, vec![2]);
}

/// Two guests on one managed bridge: each gets only its own unicast.
#[test]
fn guests_on_a_managed_bridge_do_not_see_each_others_unicast() {
    let s = setup(true, true, Install::Setuid);
    let other_mac = Mac::random().to_string();
    let arg = format!("--mac={other_mac}");
    let other = Call::new(
        Install::Setuid,
        &env().bob,
        &["--use-vnet", "--br=br0", "--fd={fd}", &arg],
    )
    .run(&s.ns)
    .success(true);
    s.ns.wait_ready(&other.name());
    let nonce = Frame::nonce();
    s.inject(nonce, 1, Mac::parse(&other_mac).0);
    s.inject(nonce, 2, s.guest);
    s.inject(nonce, 3, BROADCAST);
    assert_eq!(s.tap.read_tags(&nonce, 3), vec![2, 3]);
    assert_eq!(other.read_tags(&nonce, 3), vec![1, 3]);
}
