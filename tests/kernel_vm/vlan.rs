//! Guests in VLANs on a `vlan_filtering` bridge, on the VM's 6.1 kernel: one boot of
//! `vlan.sh`, whose report each check below reads a part of. One test, so that the tier's
//! other VMs can boot beside it; every check runs, and the test names those that failed.

use super::{expect, run_checks, start, Check};
use crate::common::vm::VmRun;

const A: &str = "52:54:00:b1:00:01";
const B: &str = "52:54:00:b1:00:02";
const C: &str = "52:54:00:b1:00:03";
/// A plain guest's source address.
const D: &str = "52:54:00:b2:00:01";
/// A host on the LAN, in VLAN 101.
const L: &str = "02:fb:00:00:00:10";
const UNKNOWN: &str = "02:fb:00:00:00:01";

/// br0 managed and locked, br1 plain, br2 (no vlan_filtering) allowed; alice gets 101-102 on
/// br0 and a default of 201 on br1, bob 101 on br0 and a default of 202 on br1.
const ACL: &str = "allow br0\nallow br1\nallow br2\nmanaged br0\nlocked br0\n\
    vlan br0 user=alice 101-102\nvlan br0 user=bob 101\n\
    vlan-default br1 user=alice 201\nvlan br1 user=alice 202\nvlan-default br1 user=bob 202\n\
    vlan br2 user=alice 5\n";

/// A named part of what the run must show.

#[test]
fn guests_in_vlans() {
    let vars = format!("A={A}\nB={B}\nC={C}\nD={D}\nL={L}\nUNKNOWN={UNKNOWN}");
    let run = start("vlan", &vars, include_str!("vlan.sh"), ACL);
    run.expect_success();
    let checks: [Check; 6] = [
        (
            "managed ports",
            managed_guests_are_untagged_in_their_vlan_alone_with_an_entry_in_it,
        ),
        (
            "isolation",
            vlans_keep_guests_apart_and_the_trunk_carries_them_tagged,
        ),
        (
            "one address per vlan",
            one_address_can_be_claimed_once_in_each_vlan,
        ),
        (
            "refusals",
            vlans_outside_the_acl_and_bridges_without_filtering_are_refused,
        ),
        (
            "plain ports",
            plain_ports_in_vlans_and_defaults_for_callers_without_arguments,
        ),
        (
            "promiscuity",
            the_trunk_uplink_leaves_promiscuous_mode_only_while_every_guest_port_is_managed,
        ),
    ];
    run_checks(&run, &checks);
}

/// The one FDB entry a guest's port has, checked for its words.
fn one_entry(run: &VmRun, guest: &str, mac: &str, vid: u16) {
    let fdb = run.fact(&format!("{guest}.fdb"));
    let entries: Vec<&str> = fdb.split(';').filter(|e| !e.is_empty()).collect();
    assert_eq!(entries.len(), 1, "{guest}: expected one entry, got {entries:?}");
    let entry = entries[0];
    assert!(entry.starts_with(mac), "{guest}: {entry}");
    let vlan = format!(" vlan {vid} ");
    for word in [vlan.as_str(), " master br0 ", " static", " sticky"] {
        assert!(entry.contains(word), "{guest}: no {word:?} in {entry}");
    }
}

/// Whether listener `who` got the frame `text`, as `want` says.
fn got(run: &VmRun, who: &str, text: &str, want: bool) {
    let rx = run.fact(&format!("{who}.rx"));
    let seen = rx.split_whitespace().any(|t| t == text);
    assert_eq!(seen, want, "{who} got {text}? it got: {rx}");
}

fn managed_guests_are_untagged_in_their_vlan_alone_with_an_entry_in_it(run: &VmRun) {
    for (guest, mac, vid) in [("a1", A, 101), ("a2", B, 102), ("b1", C, 101), ("a3", A, 102)] {
        // PVID and untagged, and nothing else: the bridge's default VLAN 1 is gone.
        expect(
            run,
            &format!("{guest}.vlans"),
            &format!("{vid} PVID Egress Untagged;"),
        );
        // Locked: the port forwards only frames whose source has an entry on it, in its VLAN.
        expect(run, &format!("{guest}.flags"), "0 0 locked on");
        one_entry(run, guest, mac, vid);
        let hex: String = mac.split(':').collect();
        expect(run, &format!("{guest}.altnames"), &format!("fbh-{hex}-{vid};"));
    }
    eprintln!("helper calls in VLANs (s): {:?}", run.facts("call-time"));
}

fn vlans_keep_guests_apart_and_the_trunk_carries_them_tagged(run: &VmRun) {
    // a1 (101) broadcasts: b1 (101) and the trunk, tagged 101, get it; a2 (102) does not.
    got(run, "b1", "a1-bcast", true);
    got(run, "o101", "a1-bcast", true);
    got(run, "a2", "a1-bcast", false);
    got(run, "o102", "a1-bcast", false);
    got(run, "a3", "a1-bcast", false);
    // Locked: a frame from a1 with a source that is not its own goes nowhere.
    for who in ["b1", "o101", "a2", "o102"] {
        got(run, who, "a1-spoof", false);
    }
    // Unicast from a1 to B, a2's address in the other VLAN: not to a2; out tagged 101.
    got(run, "a2", "a1-to-b", false);
    got(run, "o101", "a1-to-b", true);
    got(run, "o102", "a1-to-b", false);
    got(run, "b1", "a1-to-c", true);
    got(run, "a2", "a1-to-c", false);
    // Each guest's frames leave the uplink tagged with its VLAN, and only that.
    got(run, "o101", "a1-out", true);
    got(run, "o102", "a1-out", false);
    got(run, "o102", "a2-out", true);
    got(run, "o101", "a2-out", false);
    // From outside: B tagged 102 reaches a2, tagged 101 reaches no one; A tagged 101 reaches
    // a1 untagged.
    got(run, "a2", "o102-to-b", true);
    got(run, "a2", "o101-to-b", false);
    got(run, "a1", "o101-to-a", true);
    got(run, "b1", "o101-to-a", false);
    for guest in ["a1", "a2", "b1"] {
        got(run, guest, "o101-unknown", false);
    }
}

fn one_address_can_be_claimed_once_in_each_vlan(run: &VmRun) {
    // A in 102 beside A in 101: each gets its VLAN's frames only.
    got(run, "a3", "o102-to-a", true);
    got(run, "a1", "o102-to-a", false);
    got(run, "a1", "o101-to-a", true);
    got(run, "a3", "o101-to-a", false);
    expect(run, "r-claimed.code", "1");
    assert!(
        run.fact("r-claimed.err")
            .contains(&format!("failed to add fdb entry {A} vlan 101 on tap"))
            && run.fact("r-claimed.err").contains("is claimed by tap"),
        "{}",
        run.fact("r-claimed.err")
    );
    // A host's address learned in VLAN 101 is refused there (the look-up names the VLAN) and
    // free in 102.
    assert!(
        run.fact("learned").contains(" vlan 101 "),
        "{}",
        run.fact("learned")
    );
    expect(run, "r-learned.code", "1");
    let err = run.fact("r-learned.err");
    assert!(
        err.contains(&format!("failed to add fdb entry {L} vlan 101 on tap"))
            && err.contains("the bridge learned the address on eth0"),
        "{err}"
    );
    one_entry(run, "l2", L, 102);
}

fn vlans_outside_the_acl_and_bridges_without_filtering_are_refused(run: &VmRun) {
    let cases = [
        (
            "r-alice-103",
            "failed to authorize a vlan on bridge br0: no vlan line in the acl grants you vlan 103",
        ),
        (
            "r-unfiltered",
            "failed to use vlan 5 on bridge br2: the bridge does not filter VLANs (vlan_filtering 0)",
        ),
    ];
    for (name, want) in cases {
        expect(run, &format!("{name}.code"), "1");
        let err = run.fact(&format!("{name}.err"));
        assert!(
            err.starts_with(&format!("fdb-bridge-helper: {want}")),
            "{name}: {err}"
        );
    }
}

fn plain_ports_in_vlans_and_defaults_for_callers_without_arguments(run: &VmRun) {
    // No --vlan: each caller's vlan-default.
    for (guest, vid) in [("p1", 201), ("p2", 202)] {
        expect(
            run,
            &format!("{guest}.vlans"),
            &format!("{vid} PVID Egress Untagged;"),
        );
        expect(run, &format!("{guest}.flags"), "1 1 locked off");
        expect(run, &format!("{guest}.fdb"), "");
        expect(run, &format!("{guest}.altnames"), "");
    }
    // Unknown unicast is flooded within its VLAN only, and leaves tagged with it.
    got(run, "p1", "unknown-201", true);
    got(run, "p2", "unknown-201", false);
    got(run, "p1", "unknown-202", false);
    got(run, "p2", "unknown-202", true);
    got(run, "o201", "p1-unknown", true);
    got(run, "o202", "p1-unknown", false);
    got(run, "p2", "p1-unknown", false);
}

fn the_trunk_uplink_leaves_promiscuous_mode_only_while_every_guest_port_is_managed(run: &VmRun) {
    for key in [
        "uplink-alone",
        "managed-guests",
        "managed-guests-after",
        "plain-guests",
        "with-plain",
        "plain-gone",
    ] {
        eprintln!("vlan promiscuity {key}: {:?}", run.facts(key));
    }
    expect(run, "uplink-alone", "0 0");
    expect(run, "managed-guests", "0 0");
    expect(run, "managed-guests-after", "0 0");
    // A plain port in a VLAN is an auto port all the same.
    expect(run, "q.vlans", "101 PVID Egress Untagged;");
    expect(run, "q.flags", "1 1 locked off");
    expect(run, "with-plain", "1 1");
    expect(run, "plain-gone", "0 0");
    expect(run, "plain-guests", "1 1");
}
