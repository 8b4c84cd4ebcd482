//! Anti-spoofing: on a bridge the ACL marks `locked`, the guest's port is a locked bridge
//! port (kernel >= 5.18), so frames the guest writes into its tap fd with any source MAC
//! but its own are dropped by the bridge. Negative checks are ordered: the spoofed frames
//! go first and the guest's own after them, so seeing the own frame and not the spoofed
//! ones is the barrier (plus the harness's 200 ms linger).

use crate::common;

use common::{env, Call, Frame, Install, Lan, Mac, Netns, PacketSock, TapFd};

const BROADCAST: [u8; 6] = [0xff; 6];
/// A unicast address no one on the bridge has.
const STRANGER: [u8; 6] = [0x02, 0x5f, 0x00, 0xde, 0xad, 0x01];

struct Setup {
    ns: Netns,
    /// Alice's guest: the one that tries to spoof.
    guest: TapFd,
    guest_mac: [u8; 6],
    /// Bob's guest on the same bridge, whose MAC alice's guest pretends to have. Kept
    /// open: its static entry lives as long as its tap.
    _other: TapFd,
    other_mac: [u8; 6],
    /// The far end of a veth whose other end is a port of br0.
    wire: PacketSock,
    wire_mac: [u8; 6],
}

/// br0 (`locked` or only `managed`) with a veth in it; two guests, alice's and bob's.
fn setup(acl: &str) -> Setup {
    let Lan { ns, wire, wire_mac } = Lan::new(acl);
    let guest = |user, mac: &str| {
        let arg = format!("--mac={mac}");
        let tap = Call::new(
            Install::Setuid,
            user,
            &["--use-vnet", "--br=br0", "--fd={fd}", &arg],
        )
        .run(&ns)
        .success(true);
        ns.wait_ready(&tap.name());
        tap
    };
    let (guest_mac, other_mac) = (Mac::random().to_string(), Mac::random().to_string());
    let tap = guest(&env().alice, &guest_mac);
    let other = guest(&env().bob, &other_mac);
    Setup {
        ns,
        guest: tap,
        guest_mac: Mac::parse(&guest_mac).0,
        _other: other,
        other_mac: Mac::parse(&other_mac).0,
        wire,
        wire_mac,
    }
}

/// What the wire sees of: tag 1 from a random unicast source, tag 2 from the other
/// guest's MAC, tag 3 to broadcast from a random source, tag 4 from the guest's own MAC.
fn spoof(s: &Setup) -> Vec<u8> {
    let nonce = Frame::nonce();
    let frames = [
        (1, s.wire_mac, STRANGER),
        (2, s.wire_mac, s.other_mac),
        (3, BROADCAST, STRANGER),
        (4, s.wire_mac, s.guest_mac),
    ];
    for (tag, dst, src) in frames {
        s.guest.write_frame(&Frame { dst, src, nonce, tag }.bytes());
    }
    s.wire.read_tags(&nonce, 4)
}

/// Guards the `locked` line: the port is locked, and only the guest's own source MAC
/// gets through. A control on a bridge that is only `managed` (same tap, same frames)
/// shows that the spoofed frames would otherwise pass, so this fails without the feature.
#[test]
fn a_locked_port_drops_frames_with_any_source_mac_but_the_guests() {
    let cases = [
        ("allow br0\nlocked br0\n", "locked on", vec![4]),
        ("allow br0\nmanaged br0\n", "locked off", vec![1, 2, 3, 4]),
    ];
    for (acl, port_state, want) in cases {
        let s = setup(acl);
        let tap = s.guest.name();
        let port = s.ns.bridge(&format!("-d link show dev {tap}"));
        assert!(
            port.contains(port_state) && port.contains("learning off") && port.contains("flood off"),
            "{acl:?}: expected {port_state}, learning off, flood off: {port}"
        );
        let fdb = s.ns.bridge("fdb show br br0");
        let own = format!("{} dev {tap} sticky master br0 static", Mac(s.guest_mac));
        assert!(fdb.contains(&own), "{acl:?}: {fdb}");
        assert_eq!(spoof(&s), want, "{acl:?}: tags of guest frames on the wire");
        // The guest's spoofed frames taught the bridge nothing (learning off either way).
        let fdb = s.ns.bridge("fdb show br br0");
        assert!(
            !fdb.contains(&Mac(STRANGER).to_string()),
            "{acl:?}: spoofed source learned: {fdb}"
        );
        let other = format!("{} dev {tap} ", Mac(s.other_mac));
        assert!(
            !fdb.contains(&other),
            "{acl:?}: another guest's MAC moved to the spoofer's port: {fdb}"
        );
        // The lock is only on what the guest sends: its own unicast still reaches it.
        let nonce = Frame::nonce();
        for (tag, dst) in [(1, s.other_mac), (2, s.guest_mac)] {
            let src = s.wire_mac;
            s.wire.send(&Frame { dst, src, nonce, tag }.bytes());
        }
        assert_eq!(s.guest.read_tags(&nonce, 2), vec![2], "{acl:?}: guest receives");
    }
}
