//! Managed ports across hosts: two namespaces as hosts, FRR's BGP EVPN over VXLAN between
//! them (see tests/common/frr.rs), guests made by the setuid helper as QEMU calls it.
//! zebra reads the guest's static sticky entry from the bridge and advertises it; the
//! other host's zebra installs it on its VXLAN port. Negative frame checks are ordered
//! as in tests/frames/frames.rs: the unwanted frame first, a wanted broadcast after it as the barrier.

mod common;

use std::time::Instant;

use common::fdb_watch::{FdbEvent, FdbWatch};
use common::frr::{ifindex, ms, Host, Pair, VXLAN};
use common::{env, Frame, Mac, PacketSock, TapFd};

const UNKNOWN: [u8; 6] = [0x02, 0xfb, 0x00, 0x00, 0x00, 0x02];
const BROADCAST: [u8; 6] = [0xff; 6];

/// Until `host`'s bridge has `mac` on its VXLAN port, tunnelled to `from`'s VTEP.
fn wait_remote(host: &Host, from: &Host, mac: &str) -> String {
    let dst = format!("{mac} dev {VXLAN} dst {} self", from.vtep);
    let on_vxlan = || {
        host.entry(mac)
            .is_some_and(|l| l.contains(&format!(" dev {VXLAN} ")))
    };
    assert!(
        common::wait_for(5.0, || on_vxlan()
            && host.ns.bridge("fdb show br br0").contains(&dst)),
        "{mac} not on host {}'s {VXLAN} to {}: {:?}\n{}",
        host.name,
        from.vtep,
        host.entry(mac),
        host.logs()
    );
    host.entry(mac).unwrap()
}

/// a. and b.: no data traffic, yet host B has host A's guest within a fraction of a
/// second, as sticky; and loses it as soon as QEMU's fd closes.
#[test]
fn a_guest_is_known_on_the_other_host_as_sticky_until_its_fd_closes() {
    let start = Instant::now();
    let pair = Pair::new(true);
    let up = start.elapsed();
    let (a, b) = (&pair.a, &pair.b);
    let mac = Mac::random().to_string();
    let vxlan_b = ifindex(&b.ns, VXLAN);
    let mut watch = FdbWatch::open(&b.ns);
    let on_b = |e: &FdbEvent, added: bool| e.mac == mac && e.added == added && e.master && e.port == vxlan_b;
    let (tap, exited) = a.guest_at(&env().alice, &mac);
    let arrived = watch
        .wait(5.0, |e| on_b(e, true))
        .unwrap_or_else(|| panic!("{mac} never advertised to B\n{}", a.logs()));
    let line = wait_remote(b, a, &mac);
    // zebra (FRR 8.4) installs a sticky advertisement as static sticky; a non-sticky
    // one would be extern_learn.
    assert_eq!(line, format!("{mac} dev {VXLAN} sticky master br0 static"));
    let self_line = format!("{mac} dev {VXLAN} dst {} self sticky static", a.vtep);
    assert!(b.ns.bridge("fdb show br br0").contains(&self_line));
    assert_eq!(
        a.entry(&mac).unwrap(),
        format!("{mac} dev {} sticky master br0 static", tap.name())
    );
    // Known through the control plane alone: not one frame from the guest, none tunnelled.
    assert_eq!(a.counter(&tap.name(), "rx_packets"), 0, "the guest sent nothing");
    assert_eq!(a.counter(VXLAN, "tx_packets"), 0, "host A tunnelled nothing");
    let closed = Instant::now();
    drop(tap);
    let gone = watch
        .wait(5.0, |e| on_b(e, false))
        .unwrap_or_else(|| panic!("{mac} never withdrawn from B\n{}", a.logs()));
    assert_eq!(b.entry(&mac), None);
    assert_eq!(a.entry(&mac), None);
    println!(
        "evpn: hosts up {} (FRR {}), advertise {} after the helper's exit, withdraw {} after the fd closed",
        ms(up),
        ms(pair.frr_up),
        ms(arrived - exited),
        ms(gone - closed)
    );
}

/// Two guests on each host, each host knowing the other's.
struct Four {
    pair: Pair,
    /// A1, A2 on host A; B1, B2 on host B (A1 and B1 alice's, A2 and B2 bob's).
    guests: [(TapFd, [u8; 6]); 4],
}

fn four() -> Four {
    let pair = Pair::new(true);
    let guest = |host: &Host, alice: bool| {
        let mac = Mac::random().to_string();
        let user = if alice { &env().alice } else { &env().bob };
        (host.guest(user, &mac), Mac::parse(&mac).0)
    };
    let guests = [
        guest(&pair.a, true),
        guest(&pair.a, false),
        guest(&pair.b, true),
        guest(&pair.b, false),
    ];
    for (i, (_, mac)) in guests.iter().enumerate() {
        let (here, there) = if i < 2 {
            (&pair.b, &pair.a)
        } else {
            (&pair.a, &pair.b)
        };
        wait_remote(here, there, &Mac(*mac).to_string());
    }
    Four { pair, guests }
}

impl Four {
    /// Guest `from` writes frames `(tag, dst)` with its own source address.
    fn send(&self, from: usize, nonce: [u8; 8], frames: &[(u8, [u8; 6])]) {
        let (tap, src) = &self.guests[from];
        for &(tag, dst) in frames {
            tap.write_frame(
                &Frame {
                    dst,
                    src: *src,
                    nonce,
                    tag,
                }
                .bytes(),
            );
        }
    }

    /// The tags each guest reads, up to tag `until`; guest `skip` is not read.
    fn reads(&self, nonce: &[u8; 8], until: u8, skip: usize) -> Vec<Vec<u8>> {
        let read = |(i, (tap, _)): (usize, &(TapFd, [u8; 6]))| {
            if i == skip {
                Vec::new()
            } else {
                tap.read_tags(nonce, until)
            }
        };
        self.guests.iter().enumerate().map(read).collect()
    }
}

/// c. A frame from a guest on one host to a guest on the other reaches that guest's tap
/// and no other guest's, both ways.
#[test]
fn unicast_between_hosts_reaches_only_the_addressed_guest() {
    let f = four();
    let nonce = Frame::nonce();
    let b1 = f.guests[2].1;
    f.send(0, nonce, &[(1, b1), (2, BROADCAST)]);
    assert_eq!(
        f.reads(&nonce, 2, 0),
        [vec![], vec![2], vec![1, 2], vec![2]],
        "A1 to B1: tags read by A1, A2, B1, B2"
    );
    let a1 = f.guests[0].1;
    f.send(2, nonce, &[(3, a1), (4, BROADCAST)]);
    assert_eq!(
        f.reads(&nonce, 4, 2),
        [vec![3, 4], vec![4], vec![], vec![4]],
        "B1 to A1: tags read by A1, A2, B1, B2"
    );
}

/// d. Unknown unicast, from a guest or from a plain port of the other host, is flooded
/// to each host's plain port (so it did cross) and to no managed guest on either host.
#[test]
fn unknown_unicast_reaches_no_managed_guest_on_either_host() {
    let f = four();
    let (a, b) = (&f.pair.a, &f.pair.b);
    let wire_a = PacketSock::open(&a.ns, "vp0");
    let wire_b = PacketSock::open(&b.ns, "vp0");
    let nonce = Frame::nonce();
    f.send(0, nonce, &[(1, UNKNOWN), (2, BROADCAST)]);
    assert_eq!(wire_a.read_tags(&nonce, 2), vec![1, 2], "host A's plain port");
    assert_eq!(wire_b.read_tags(&nonce, 2), vec![1, 2], "host B's plain port");
    assert_eq!(f.reads(&nonce, 2, 0), [vec![], vec![2], vec![2], vec![2]]);
    let src = Mac::parse(&b.ns.mac_of("vp0")).0;
    for (tag, dst) in [(3, UNKNOWN), (4, BROADCAST)] {
        wire_b.send(&Frame { dst, src, nonce, tag }.bytes());
    }
    assert_eq!(wire_a.read_tags(&nonce, 4), vec![3, 4], "host A's plain port");
    assert_eq!(
        f.reads(&nonce, 4, usize::MAX),
        [vec![4], vec![4], vec![4], vec![4]]
    );
}

/// e. Host A's guest's address cannot be claimed on host B: refused as a remote host's,
/// whether zebra installed it as static sticky (a sticky advertisement: the helper's
/// guests) or as extern_learn (a non-sticky one); a static entry on a plain port is still
/// another guest's or the host's. Once the guest on A has quit, B may claim its address.
#[test]
fn a_claim_of_a_remote_hosts_address_is_refused_as_remote() {
    let pair = Pair::new(true);
    let (a, b) = (&pair.a, &pair.b);
    let guest_mac = Mac::random().to_string();
    let guest = a.guest(&env().alice, &guest_mac);
    let sticky = wait_remote(b, a, &guest_mac);
    assert!(sticky.ends_with(" sticky master br0 static"), "{sticky}");
    let plain_mac = Mac::random().to_string();
    a.ns.bridge(&format!("fdb add {plain_mac} dev vb0 master static"));
    let learned = wait_remote(b, a, &plain_mac);
    assert!(learned.contains(" extern_learn "), "{learned}");
    let local_mac = Mac::random().to_string();
    b.ns.bridge(&format!("fdb add {local_mac} dev vb0 master static"));
    for (mac, remote) in [(&guest_mac, true), (&plain_mac, true), (&local_mac, false)] {
        let outcome = b.try_guest(&env().bob, mac);
        if remote {
            let words = ["remote host behind vxlan100", "control plane"];
            outcome.failure(
                &b.ns,
                &[&format!("failed to add fdb entry {mac}"), words[0], words[1]],
            );
        } else {
            outcome.failure(&b.ns, &["static entry on vb0 (another guest's or the host's)"]);
            assert!(!outcome.stderr.contains("remote"), "{}", outcome.stderr);
        }
    }
    // Nothing moved: A's guest keeps its entry at home and on B.
    assert_eq!(b.entry(&guest_mac).unwrap(), sticky);
    let home = format!("{guest_mac} dev {} sticky master br0 static", guest.name());
    assert_eq!(a.entry(&guest_mac).unwrap(), home);
    // Once the guest on A has quit (stop and copy), the address can move to B.
    drop(guest);
    assert!(common::wait_for(5.0, || b.entry(&guest_mac).is_none()));
    let moved = b.guest(&env().bob, &guest_mac);
    assert_eq!(wait_remote(a, b, &guest_mac), sticky, "now A has it from B");
    drop(moved);
}

/// f. FRR started after the guest exists advertises it. And its entry is sticky where it
/// counts: the guest is on host B, whose VTEP address is the higher, so it loses a tie
/// between two non-sticky advertisements of one address (the control address shows
/// that); a non-sticky entry for the guest's address on host A does not take it.
#[test]
fn frr_started_after_the_guest_advertises_it_and_sticky_wins() {
    let pair = Pair::new(false);
    let (a, b) = (&pair.a, &pair.b);
    let (guest_mac, control_mac) = (Mac::random().to_string(), Mac::random().to_string());
    let guest = b.guest(&env().alice, &guest_mac);
    for (host, mac) in [(a, &guest_mac), (a, &control_mac), (b, &control_mac)] {
        host.ns.bridge(&format!("fdb add {mac} dev vb0 master static"));
    }
    pair.start_frr();
    let on_a = wait_remote(a, b, &guest_mac);
    assert_eq!(on_a, format!("{guest_mac} dev {VXLAN} sticky master br0 static"));
    let home = format!("{guest_mac} dev {} sticky master br0 static", guest.name());
    assert_eq!(
        b.entry(&guest_mac).unwrap(),
        home,
        "the guest's entry stays on its tap"
    );
    let control = wait_remote(b, a, &control_mac);
    assert!(
        control.contains(" extern_learn "),
        "B's non-sticky entry moved to A: {control}"
    );
    assert!(a.entry(&control_mac).unwrap().contains(" dev vb0 "));
}

/// f. FRR killed and started again while a guest runs: the other host drops the guest
/// with the session, and has it again once host A's zebra has read the bridge anew.
#[test]
fn frr_restarted_while_a_guest_runs_readvertises_it() {
    let pair = Pair::new(true);
    let (a, b) = (&pair.a, &pair.b);
    let mac = Mac::random().to_string();
    let _guest = a.guest(&env().alice, &mac);
    let line = wait_remote(b, a, &mac);
    let vxlan_b = ifindex(&b.ns, VXLAN);
    let mut watch = FdbWatch::open(&b.ns);
    let on_b = |e: &FdbEvent, added: bool| e.mac == mac && e.added == added && e.master && e.port == vxlan_b;
    let killed = Instant::now();
    a.kill_frr();
    let gone = watch
        .wait(10.0, |e| on_b(e, false))
        .expect("B drops A's guest with the session");
    assert_eq!(b.entry(&mac), None);
    let started = Instant::now();
    a.start_frr();
    let back = watch
        .wait(10.0, |e| on_b(e, true))
        .unwrap_or_else(|| panic!("not re-advertised\n{}\n{}\n{}", watch.dump(), a.logs(), b.logs()));
    assert_eq!(wait_remote(b, a, &mac), line);
    println!(
        "evpn: after a SIGKILL of host A's FRR, B dropped the guest in {}; restarted, B had it again in {}",
        ms(gone - killed),
        ms(back - started)
    );
}
