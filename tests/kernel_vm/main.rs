//! Tests on Debian 12's stock kernel (6.1) in a VM, for what this host's kernel lacks: bridge
//! `vlan_filtering`, which decides whether the uplink can leave promiscuous mode and keeps
//! guests in VLANs. Each script boots one VM (see tests/common/vm; the VLAN tests share
//! one) and runs from this directory as root inside;
//! the helper runs setuid root as an unprivileged user through a caller that does what QEMU
//! does. The script reports what it saw with `fact` lines; the checks are here.

#[path = "../common/mod.rs"]
mod common;
mod evpn_vlan;
mod vlan;

use common::require_root;
use common::vm::{Vm, VmRun, VIRTIO};

/// A named check of what one boot showed: one boot serves several, and every one runs.
type Check = (&'static str, fn(&VmRun));

/// Runs every check on `run`, then fails naming those that failed (each prints its own
/// panic message above).
fn run_checks(run: &VmRun, checks: &[Check]) {
    let failed: Vec<&str> = checks
        .iter()
        .filter(|(_, check)| std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check(run))).is_err())
        .map(|(name, _)| *name)
        .collect();
    assert!(failed.is_empty(), "failed checks (see above): {failed:?}");
}

/// A unicast MAC no port has.
const UNKNOWN: &str = "02:fb:00:00:00:01";
const MANAGED_MAC: &str = "52:54:00:a1:00:01";
const GUEST_MACS: [&str; 3] = ["52:54:00:b0:00:01", "52:54:00:b0:00:02", "52:54:00:b0:00:03"];

/// br0 managed, br1 plain: the same calls on both differ only by this line.
const ACL: &str = "allow br0\nallow br1\nmanaged br0\n";

/// Boots a VM with three virtio-net NICs on one hub, [`ACL`] and `script` (after `vars`), and
/// reports its times on stderr (shown with --nocapture).
fn boot(name: &str, vars: &str, script: &str) -> VmRun {
    boot_with_acl(name, vars, script, ACL)
}

fn boot_with_acl(name: &str, vars: &str, script: &str, acl: &str) -> VmRun {
    let run = start(name, vars, script, acl);
    run.expect_success();
    run
}

/// As [`boot_with_acl`], leaving the script's status to the caller.
fn start(name: &str, vars: &str, script: &str, acl: &str) -> VmRun {
    require_root();
    let run = Vm::new(&format!("{vars}\n{script}"))
        .nics(&[VIRTIO, VIRTIO, VIRTIO])
        .file("/etc/qemu/bridge.conf", 0o644, acl)
        .boot();
    eprintln!(
        "{name}: boot to script {:.2} s, whole run {:.2} s",
        run.boot.as_secs_f64(),
        run.total.as_secs_f64()
    );
    run
}

/// Asserts that the script reported `value` for `key`, with the console on failure.
fn expect(run: &VmRun, key: &str, value: &str) {
    assert_eq!(run.fact(key), value, "fact {key}; console:\n{}", run.tail());
}

#[test]
fn managed_port_on_6_1_gets_its_own_frames_and_no_unknown_unicast() {
    let vars = format!("M={MANAGED_MAC}\nUNKNOWN={UNKNOWN}");
    let run = boot("managed", &vars, include_str!("managed.sh"));
    // The managed port: learning and flood off, one static sticky entry, the reservation.
    expect(&run, "m.learning", "0");
    expect(&run, "m.flood", "0");
    // On a kernel with VLAN filtering built in, every port has VLAN 1 (the default PVID) even
    // on a bridge without vlan_filtering, so the entry comes twice: with `vlan 1` and without.
    let fdb = run.fact("m.fdb");
    let entries: Vec<&str> = fdb.split(';').filter(|e| !e.is_empty()).collect();
    assert!(!entries.is_empty(), "no FDB entry on the managed port");
    for entry in entries {
        assert!(
            entry.starts_with(MANAGED_MAC),
            "FDB entry for another MAC: {entry}"
        );
        for word in ["master br0", "static", "sticky"] {
            assert!(entry.contains(word), "FDB entry without {word:?}: {entry}");
        }
    }
    expect(&run, "m.altnames", "fbh-525400a10001;");
    // The plain port, from the same helper on a bridge the ACL does not manage.
    expect(&run, "p.learning", "1");
    expect(&run, "p.flood", "1");
    expect(&run, "p.fdb", "");
    expect(&run, "p.altnames", "");
    // Frames: the managed guest gets what is addressed to it and no unknown unicast; the
    // plain guest gets unknown unicast; what the managed guest writes leaves the uplink.
    expect(&run, "m.got.for-m", "yes");
    expect(&run, "m.got.unknown", "no");
    expect(&run, "p.got.unknown", "yes");
    expect(&run, "x.got.from-m", "yes");
    expect(&run, "m.tap-gone", "yes");
}

#[test]
fn uplink_leaves_promiscuous_mode_only_while_every_guest_port_is_managed() {
    let vars = format!("MACS='{}'\nUNKNOWN={UNKNOWN}", GUEST_MACS.join(" "));
    let run = boot("promiscuity", &vars, include_str!("promiscuity.sh"));
    // Values are "count flag" for eth0 (uplink of managed br0), then for eth1 (uplink of br1,
    // where the ACL lacks `managed`: the control).
    for key in [
        "uplink-alone",
        "guests-1",
        "guests-2",
        "guests-3",
        "with-plain",
        "plain-gone",
    ] {
        eprintln!("promiscuity {key}: {:?}", run.facts(key));
    }
    eprintln!("uplink frames let in: {:?}", run.facts("uplink-rx"));
    eprintln!(
        "helper calls, managed and plain (s): {:?}",
        run.facts("call-time")
    );
    expect(&run, "uplink-alone", "0 0 0 0");
    // No VLAN asked on a filtering bridge: one entry, in the VLAN the port is in (the
    // bridge's default), not a VLAN-0 one beside it.
    let fdb = run.fact("m1.fdb");
    let entries: Vec<&str> = fdb.split(';').filter(|e| !e.is_empty()).collect();
    assert!(
        matches!(entries[..], [one] if one.starts_with(GUEST_MACS[0]) && one.contains(" vlan 1 ")),
        "{entries:?}"
    );
    expect(&run, "m1.altnames", "fbh-525400b00001-1;");
    // The outside host's address, learned in VLAN 1 on the uplink: refused, as in VLAN 0
    // on a bridge without vlan_filtering.
    expect(&run, "r-learned.code", "1");
    let err = run.fact("r-learned.err");
    assert!(
        err.contains("vlan 1 on tap") && err.contains("the bridge learned the address on eth0"),
        "{err}"
    );
    for i in 1..=3 {
        expect(&run, &format!("m{i}.port"), "0 0");
        expect(&run, &format!("c{i}.port"), "1 1");
        // Managed: the uplink stays out of promiscuous mode. Control: in it from the first guest.
        expect(&run, &format!("guests-{i}"), "0 0 1 1");
    }
    // Its filter lets in the frame for a guest and none of the three for an unknown MAC.
    for n in 1..=3 {
        expect(&run, &format!("uplink.got.unknown-{n}"), "no");
    }
    expect(&run, "uplink.got.for-m1", "yes");
    // One plain port on br0 puts the uplink into promiscuous mode, until that port is gone.
    expect(&run, "p.port", "1 1");
    expect(&run, "with-plain", "1 1");
    expect(&run, "uplink.got.unknown-4", "yes");
    expect(&run, "plain-gone", "0 0");
}

/// The machinery itself: the script's status comes back as it was, not just "success".
#[test]
fn vm_returns_the_scripts_exit_status() {
    require_root();
    let run = Vm::new("fact alive yes\nexit 7\n").boot();
    assert_eq!(run.status, 7, "console:\n{}", run.tail());
    assert_eq!(run.fact("alive"), "yes");
}
