//! Who holds a guest's MAC on a managed bridge. The guest's entry is sticky, so a frame
//! from the LAN with the guest's address as source cannot move it to the uplink; a MAC the
//! bridge has learned on another port (another host's) is not taken without an exact
//! `mac` line; and a MAC a tap-fd holder evicted with SIOCSIFHWADDR stays claimed by the
//! guest's tap, which carries the alternative name `fbh-<12 hex digits>`.
//!
//! Negative frame checks are ordered: the unwanted frames go first and a broadcast after
//! them, so seeing the broadcast is the barrier (plus the harness's 200 ms linger).

use crate::common;

use common::fdb::{claim_altname, set_tap_mac, FdbEntry};
use common::{env, Call, Frame, Install, Lan, Mac, Netns, TapFd, TestUser};

const BROADCAST: [u8; 6] = [0xff; 6];

const MANAGED: &str = "allow br0\nmanaged br0\n";

impl Lan {
    fn managed_call(&self, user: &TestUser, mac: &str) -> common::Outcome {
        let args = common::managed_args(mac);
        Call::new(Install::Setuid, user, &common::strs(&args)).run(&self.ns)
    }

    fn guest(&self, user: &TestUser, mac: &str) -> TapFd {
        let tap = self.managed_call(user, mac).success(true);
        self.ns.wait_ready(&tap.name());
        tap
    }

    fn send(&self, nonce: [u8; 8], tag: u8, dst: [u8; 6], src: [u8; 6]) {
        self.wire.send(&Frame { dst, src, nonce, tag }.bytes());
    }

    /// A frame from the LAN with source `mac` (a spoofed guest, or another host). Returns
    /// once the bridge has processed it: a broadcast sent after it reached `witness`, or
    /// (with no witness) the bridge shows an entry for `mac` on the uplink.
    fn source_on_lan(&self, mac: &str, witness: Option<&TapFd>) {
        let nonce = Frame::nonce();
        self.send(nonce, 1, BROADCAST, Mac::parse(mac).0);
        match witness {
            Some(tap) => {
                self.send(nonce, 2, BROADCAST, self.wire_mac);
                let tags = tap.read_tags(&nonce, 2);
                assert!(tags.contains(&2), "barrier broadcast not seen: {tags:?}");
            }
            None => assert!(
                common::wait_for(3.0, || self.ns.fdb_of(mac).iter().any(|e| e.dev == "vb0")),
                "{mac} not learned on vb0: {:?}",
                self.ns.fdb_of(mac)
            ),
        }
    }

    /// Sends `count` frames to `dst` from the LAN, then a broadcast; returns how many of
    /// them reached each of `taps`.
    fn lan_to(&self, dst: &str, count: u8, taps: &[&TapFd]) -> Vec<usize> {
        let nonce = Frame::nonce();
        for tag in 0..count {
            self.send(nonce, tag, Mac::parse(dst).0, self.wire_mac);
        }
        self.send(nonce, 255, BROADCAST, self.wire_mac);
        taps.iter()
            .map(|t| {
                let tags = t.read_tags(&nonce, 255);
                assert!(tags.contains(&255), "barrier broadcast not seen: {tags:?}");
                tags.iter().filter(|t| **t < count).count()
            })
            .collect()
    }
}

/// The entries for `mac` on ports (the bridge's own `self` entries left out).
fn port_entries(ns: &Netns, mac: &str) -> Vec<FdbEntry> {
    ns.fdb_of(mac)
        .into_iter()
        .filter(|e| !e.flags.iter().any(|f| f == "self"))
        .collect()
}

fn assert_sticky_on(ns: &Netns, mac: &str, tap: &str) {
    let all = port_entries(ns, mac);
    assert!(
        matches!(all.as_slice(), [e] if e.dev == tap && e.state == "static" && e.sticky()),
        "expected {mac} static sticky on {tap} only: {all:?}"
    );
}

/// A managed call for `mac` is refused for being another host's, and the entry the bridge
/// learned for it stays on the uplink.
fn refused_learned(lan: &Lan, mac: &str, learned: FdbEntry) {
    let out = lan.managed_call(&env().alice, mac);
    let now = lan.ns.fdb_of(mac);
    assert!(
        out.fd.is_none(),
        "learned {mac} claimed (code {:?}, stderr {:?}): before {learned:?}, now {now:?}",
        out.code,
        out.stderr
    );
    out.failure(&lan.ns, &["learned the address on", "vb0"]);
    assert_eq!(now, vec![learned], "the learned entry must stay on vb0");
}

/// Point 1: a spoofed frame from the LAN does not move the guest's entry; another guest's
/// unicast to it all reaches the guest's fd and none leaves through the uplink.
#[test]
fn a_sticky_entry_survives_a_spoofed_frame_from_the_lan() {
    let lan = Lan::new(MANAGED);
    let (mac, other_mac) = (Mac::random().to_string(), Mac::random().to_string());
    let guest = lan.guest(&env().alice, &mac);
    let other = lan.guest(&env().bob, &other_mac);
    let before = port_entries(&lan.ns, &mac);
    lan.source_on_lan(&mac, Some(&guest));
    let after = port_entries(&lan.ns, &mac);

    let nonce = Frame::nonce();
    let src = Mac::parse(&other_mac).0;
    for tag in 0..100 {
        other.write_frame(
            &Frame {
                dst: Mac::parse(&mac).0,
                src,
                nonce,
                tag,
            }
            .bytes(),
        );
    }
    other.write_frame(
        &Frame {
            dst: BROADCAST,
            src,
            nonce,
            tag: 200,
        }
        .bytes(),
    );
    let at_guest = guest.read_tags(&nonce, 200);
    let at_wire = lan.wire.read_tags(&nonce, 200);
    assert!(at_guest.contains(&200) && at_wire.contains(&200), "barrier lost");
    let count = |tags: &[u8]| tags.iter().filter(|t| **t < 100).count();
    let seen = format!(
        "entry before the spoofed frame {before:?}, after it {after:?}; of 100 frames from \
         another guest to {mac}, {} reached the guest, {} went out the uplink",
        count(&at_guest),
        count(&at_wire)
    );
    let tap = guest.name();
    assert!(
        matches!(after.as_slice(), [e] if e.dev == tap),
        "entry moved: {seen}"
    );
    assert_eq!((count(&at_guest), count(&at_wire)), (100, 0), "{seen}");
    assert_sticky_on(&lan.ns, &mac, &tap);
    drop((guest, other));
    assert!(common::wait_for(3.0, || lan.ns.taps().is_empty()), "taps left");
    assert_eq!(lan.ns.fdb_of(&mac), vec![], "entries left at the end");
}

/// Point 1, continued: after a spoofed frame, the entry still leaves with the guest's tap,
/// and the guest can come back with the same MAC.
#[test]
fn nothing_is_left_of_a_spoofed_entry_when_the_tap_closes() {
    let lan = Lan::new(MANAGED);
    let mac = Mac::random().to_string();
    let guest = lan.guest(&env().alice, &mac);
    lan.source_on_lan(&mac, Some(&guest));
    let tap = guest.name();
    drop(guest);
    assert!(
        common::wait_for(3.0, || lan.ns.taps().is_empty()),
        "{tap} not gone"
    );
    let left = lan.ns.fdb_of(&mac);
    assert!(left.is_empty(), "entries left after {tap} closed: {left:?}");

    let again = lan.managed_call(&env().alice, &mac);
    let ctx = format!("code {:?}, stderr {:?}", again.code, again.stderr);
    let again = again
        .fd
        .map(|fd| TapFd::new(fd, true))
        .unwrap_or_else(|| panic!("claim again: {ctx}"));
    assert_sticky_on(&lan.ns, &mac, &again.name());
    drop(again);
    assert!(common::wait_for(3.0, || lan.ns.taps().is_empty()));
    assert_eq!(lan.ns.fdb_of(&mac), vec![], "entries left at the end");
}

/// Point 2: X learned on the uplink is another host's; claiming it is refused, and the
/// learned entry stays where it is.
#[test]
fn a_mac_learned_on_another_port_is_refused() {
    let lan = Lan::new(MANAGED);
    let mac = Mac::random().to_string();
    lan.source_on_lan(&mac, None);
    let learned = lan.ns.fdb_one(&mac);
    assert!(learned.dev == "vb0" && learned.learned(), "{learned:?}");
    refused_learned(&lan, &mac, learned);
}

/// Point 2: an exact `mac` line the caller can read is the admin saying "this address is
/// the guest's": the call takes it over from the uplink, sticky.
#[test]
fn an_exact_mac_line_may_take_over_a_learned_mac() {
    for line in ["mac br0 {mac}", "mac br0 user=fbh-alice {mac}"] {
        let mac = Mac::random().to_string();
        let lan = Lan::new(&format!("{MANAGED}{}\n", line.replace("{mac}", &mac)));
        lan.source_on_lan(&mac, None);
        let tap = lan.guest(&env().alice, &mac);
        assert_sticky_on(&lan.ns, &mac, &tap.name());
        drop(tap);
        assert!(common::wait_for(3.0, || lan.ns.taps().is_empty()));
        assert_eq!(lan.ns.fdb_of(&mac), vec![], "{line}: entries left at the end");
    }
}

/// Point 2: a prefix line is a range handed out to guests, not a statement about one
/// address some other host is using: not enough to take a learned MAC.
#[test]
fn a_prefix_mac_line_does_not_take_over_a_learned_mac() {
    let lan = Lan::new(&format!("{MANAGED}mac br0 52:54:00:*\n"));
    let mac = Mac::random().to_string();
    lan.source_on_lan(&mac, None);
    let learned = lan.ns.fdb_one(&mac);
    refused_learned(&lan, &mac, learned);
}

/// Point 3: the attacker's QEMU sets its tap's address to the victim's MAC (the kernel
/// replaces the victim's entry with a local one), then to something else (no entry left),
/// and asks for the victim's MAC. The victim's tap still claims it.
#[test]
fn a_mac_evicted_through_the_tap_fd_cannot_be_claimed_again() {
    let lan = Lan::new(MANAGED);
    let (mac, attacker_mac) = (Mac::random().to_string(), Mac::random().to_string());
    let victim = lan.guest(&env().alice, &mac);
    let attacker = lan.guest(&env().bob, &attacker_mac);
    let victim_tap = victim.name();

    set_tap_mac(&attacker, Mac::parse(&mac).0).expect("SIOCSIFHWADDR to the victim's MAC");
    let local = port_entries(&lan.ns, &mac);
    assert!(
        matches!(local.as_slice(), [e] if e.dev == attacker.name() && e.state == "permanent"),
        "expected a local entry on the attacker's tap: {local:?}"
    );
    let mut elsewhere = common::random_bytes::<6>();
    elsewhere[0] = 0xfe;
    set_tap_mac(&attacker, elsewhere).expect("SIOCSIFHWADDR away");
    assert_eq!(port_entries(&lan.ns, &mac), vec![], "no entry for {mac} left");

    let held = lan.ns.taps();
    assert_eq!(held.len(), 2, "{held:?}");
    let again = lan.managed_call(&env().bob, &mac);
    let stolen = again
        .fd
        .as_ref()
        .map(|fd| TapFd::new(fd.try_clone().unwrap(), true));
    let mut attackers: Vec<&TapFd> = vec![&attacker];
    attackers.extend(stolen.as_ref());
    let leaked: usize = lan.lan_to(&mac, 20, &attackers).iter().sum();
    let seen = format!(
        "re-claim: code {:?}, stderr {:?}, tap {:?}; {leaked} of 20 frames to {mac} reached the attacker",
        again.code,
        again.stderr,
        stolen.as_ref().map(TapFd::name)
    );
    assert_eq!(leaked, 0, "{seen}");
    drop(stolen);
    again.failure_leaving(&lan.ns, &["claimed by", &victim_tap], &held);
    let names = lan.ns.altnames(&victim_tap);
    assert!(
        names.contains(&claim_altname(&mac)),
        "altnames of {victim_tap}: {names:?}"
    );

    // Once the victim is gone, the address is free again.
    drop(victim);
    assert!(common::wait_for(3.0, || !lan.ns.taps().contains(&victim_tap)));
    let next = lan.guest(&env().bob, &mac);
    assert_sticky_on(&lan.ns, &mac, &next.name());
    assert!(lan.ns.altnames(&next.name()).contains(&claim_altname(&mac)));
    drop((next, attacker));
    assert!(common::wait_for(3.0, || lan.ns.taps().is_empty()), "taps left");
    assert_eq!(lan.ns.fdb_of(&mac), vec![], "entries left at the end");
}
