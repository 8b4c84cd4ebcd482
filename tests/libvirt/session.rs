//! libvirt's session mode for real: Debian's libvirtd run by hand as fbh-alice
//! (`qemu:///session`), `bridge_helper` in her qemu.conf pointing at a setuid copy of the
//! helper, the hook installed as /etc/libvirt/hooks/qemu.d/fdb-bridge-helper (inside the
//! test's mount namespace), and minimal TCG domains (64 MiB, no disk) started with
//! virsh. After each case no tap, FDB entry or process is left.

use crate::common;

use common::libvirtd::{bin_dir, domain, Session};
use common::load::Load;
use common::{env, wait_for, Install, Mac, Netns, Run};

const ROUNDS: usize = 20;

/// br0 with a veth in it (the "uplink"), `acl` as bridge.conf, alice's session.
fn session(acl: &str, hook: bool) -> Session<'static> {
    let ns = Netns::with_uplink().with_acl(acl);
    Session::start(ns, &env().alice, hook)
}

/// Starts a transient domain; its virsh stderr if the start failed.
fn create(s: &Session, name: &str, nics: &[(&str, &str)]) -> Result<(), String> {
    let path = s.write_xml(name, &domain(name, nics));
    let out = s.virsh(&["create", &path]);
    match out.status.success() {
        true => Ok(()),
        false => Err(String::from_utf8_lossy(&out.stderr).into_owned()),
    }
}

/// The tap of the domain's NIC with `mac`, from `virsh domiflist`.
fn tap_of(s: &Session, name: &str, mac: &str) -> String {
    let list = s.virsh_ok(&["domiflist", name]);
    let line = list.lines().find(|l| l.contains(mac));
    let line = line.unwrap_or_else(|| panic!("{mac} not in {list}"));
    line.split_whitespace().next().unwrap().to_owned()
}

fn is_up(s: &Session, tap: &str) -> bool {
    let flags = s.ns.sysfs(tap, "flags");
    u32::from_str_radix(flags.trim_start_matches("0x"), 16).unwrap() & 1 != 0
}

/// Learning and flooding off (and locked or not), up, alice's, and the guest's static,
/// sticky entry on it.
fn assert_managed(s: &Session, tap: &str, mac: &str, locked: bool) {
    let ns = &s.ns;
    assert_eq!(ns.sysfs(tap, "brport/learning"), "0", "{tap}");
    assert_eq!(ns.sysfs(tap, "brport/unicast_flood"), "0", "{tap}");
    let port = ns.bridge(&format!("-d link show dev {tap}"));
    assert_eq!(port.contains("locked on"), locked, "{port}");
    assert!(is_up(s, tap), "{tap} is down");
    assert_eq!(ns.sysfs(tap, "owner"), env().alice.uid.to_string());
    let entry = ns.fdb_one(mac);
    assert_eq!(entry.dev, tap, "{entry:?}");
    assert!(entry.sticky() && entry.state == "static", "{entry:?}");
}

/// Destroys `name` and waits until its QEMU, taps and entries are gone.
fn destroy(s: &Session, name: &str, macs: &[&str]) {
    s.virsh_ok(&["destroy", name]);
    assert_clean(s, macs);
}

fn assert_clean(s: &Session, macs: &[&str]) {
    let clean =
        || s.qemus().is_empty() && s.ns.taps().is_empty() && macs.iter().all(|m| s.ns.fdb_of(m).is_empty());
    assert!(
        wait_for(5.0, clean),
        "left: qemu {:?}, taps {:?}, fdb {:?}",
        s.qemus(),
        s.ns.taps(),
        macs.iter().map(|m| s.ns.fdb_of(m)).collect::<Vec<_>>()
    );
}

/// Ends the session: nothing of it may be left running.
fn finish(mut s: Session) {
    assert_clean(&s, &[]);
    let left = s.stop();
    assert!(
        left.is_empty(),
        "processes left in the session's pid namespace: {left:?}"
    );
}

#[test]
fn a_plain_bridge_works_as_with_qemu_bridge_helper() {
    let s = session("allow br0\n", true);
    let mac = Mac::random().to_string();
    create(&s, "v1", &[("br0", &mac)]).unwrap();
    let tap = tap_of(&s, "v1", &mac);
    assert_eq!(s.ns.sysfs(&tap, "brport/learning"), "1");
    assert_eq!(s.ns.sysfs(&tap, "brport/unicast_flood"), "1");
    assert!(is_up(&s, &tap));
    assert!(s.ns.fdb_of(&mac).is_empty(), "{:?}", s.ns.fdb_of(&mac));
    assert_eq!(s.virsh_ok(&["domstate", "v1"]).trim(), "running");
    destroy(&s, "v1", &[&mac]);
    finish(s);
}

#[test]
fn a_managed_bridge_gets_a_managed_port_with_the_domains_mac() {
    let s = session("allow br0\nmanaged br0\n", true);
    let mac = Mac::random().to_string();
    create(&s, "v1", &[("br0", &mac)]).unwrap();
    let tap = tap_of(&s, "v1", &mac);
    assert_managed(&s, &tap, &mac, false);
    assert_eq!(s.virsh_ok(&["domstate", "v1"]).trim(), "running");
    destroy(&s, "v1", &[&mac]);
    finish(s);
}

#[test]
fn managed_and_locked() {
    let s = session("allow br0\nlocked br0\n", true);
    let mac = Mac::random().to_string();
    create(&s, "v1", &[("br0", &mac)]).unwrap();
    assert_managed(&s, &tap_of(&s, "v1", &mac), &mac, true);
    destroy(&s, "v1", &[&mac]);
    finish(s);
}

#[test]
fn two_nics_on_one_managed_bridge() {
    let s = session("allow br0\nmanaged br0\n", true);
    let (a, b) = (Mac::random().to_string(), Mac::random().to_string());
    create(&s, "v1", &[("br0", &a), ("br0", &b)]).unwrap();
    let (tap_a, tap_b) = (tap_of(&s, "v1", &a), tap_of(&s, "v1", &b));
    assert_ne!(tap_a, tap_b);
    assert_managed(&s, &tap_a, &a, false);
    assert_managed(&s, &tap_b, &b, false);
    destroy(&s, "v1", &[&a, &b]);
    finish(s);
}

/// A defined domain, started, destroyed and started again: the second start gets a new
/// tap claimed the same way, the first left nothing.
#[test]
fn destroy_then_start_again() {
    let s = session("allow br0\nmanaged br0\n", true);
    let mac = Mac::random().to_string();
    let path = s.write_xml("v1", &domain("v1", &[("br0", &mac)]));
    s.virsh_ok(&["define", &path]);
    for _ in 0..2 {
        s.virsh_ok(&["start", "v1"]);
        assert_managed(&s, &tap_of(&s, "v1", &mac), &mac, false);
        destroy(&s, "v1", &[&mac]);
    }
    s.virsh_ok(&["undefine", "v1"]);
    finish(s);
}

/// libvirt runs no hook for a hot-plugged NIC: its port stays pending (down, no entry,
/// nothing reaches the guest) until the user claims it by hand, as the README says.
#[test]
fn a_hot_plugged_nic_stays_pending_until_claimed_by_hand() {
    let s = session("allow br0\nmanaged br0\n", true);
    let (first, plugged) = (Mac::random().to_string(), Mac::random().to_string());
    create(&s, "v1", &[("br0", &first)]).unwrap();
    s.virsh_ok(&[
        "attach-interface",
        "v1",
        "bridge",
        "br0",
        "--mac",
        &plugged,
        "--model",
        "virtio",
    ]);
    let tap = tap_of(&s, "v1", &plugged);
    assert_eq!(s.ns.sysfs(&tap, "brport/learning"), "0");
    assert!(!is_up(&s, &tap), "a pending port is down");
    assert!(s.ns.fdb_of(&plugged).is_empty(), "{:?}", s.ns.fdb_of(&plugged));
    let helper = bin_dir().join("fdb-bridge-helper");
    let (claim, mac) = (format!("--claim={tap}"), format!("--mac={plugged}"));
    let out =
        s.ns.command(&Run::user(s.user, Install::Setuid), &helper, &[claim, mac])
            .output()
            .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_managed(&s, &tap, &plugged, false);
    destroy(&s, "v1", &[&first, &plugged]);
    finish(s);
}

/// The hook's refusal (a MAC outside the caller's `mac` lines) fails the start with the
/// helper's own line, and reaches virsh every time, also under load.
#[test]
fn a_mac_outside_the_policy_fails_the_start_and_virsh_says_why() {
    let s = session(
        "allow br0\nmanaged br0\nmac br0 user=fbh-alice 52:54:00:aa:*\n",
        true,
    );
    let mac = "52:54:00:bb:00:01";
    let want = format!(
        "fdb-bridge-helper: failed to authorize bridge br0: no mac line in the acl grants you {mac} on this bridge"
    );
    let err = create(&s, "v1", &[("br0", mac)]).expect_err("the start must fail");
    assert!(
        err.contains("Hook script execution failed") && err.contains(&want),
        "{err}"
    );
    assert_clean(&s, &[mac]);
    let granted = "52:54:00:aa:00:01";
    create(&s, "v2", &[("br0", granted)]).unwrap();
    assert_managed(&s, &tap_of(&s, "v2", granted), granted, false);
    destroy(&s, "v2", &[granted]);

    let missing = under_load(|| create(&s, "v1", &[("br0", mac)]), &want);
    assert!(
        missing.is_empty(),
        "the refusal reached virsh in {} of {ROUNDS}: {missing:?}",
        ROUNDS - missing.len()
    );
    assert_clean(&s, &[mac]);
    finish(s);
}

/// Without the hook a managed bridge refuses session VMs in the helper itself, with the
/// hint naming every way to pass the MAC; the line reaches virsh every time, under load
/// (libvirt reads the helper's stderr the moment the socket closes).
#[test]
fn without_the_hook_a_managed_bridge_refuses_with_the_hint() {
    let s = session("allow br0\nmanaged br0\n", false);
    let mac = Mac::random().to_string();
    let want =
        "fdb-bridge-helper: failed to authorize bridge br0: the bridge is managed and needs the guest's MAC";
    let err = create(&s, "v1", &[("br0", &mac)]).expect_err("the start must fail");
    for hint in [
        want,
        "--mac=",
        "NAME@MAC",
        "/etc/libvirt/hooks/qemu.d/fdb-bridge-helper",
    ] {
        assert!(err.contains(hint), "{hint:?} missing in {err}");
    }
    assert_clean(&s, &[&mac]);

    let missing = under_load(|| create(&s, "v1", &[("br0", &mac)]), want);
    assert!(
        missing.is_empty(),
        "the refusal reached virsh in {} of {ROUNDS}: {missing:?}",
        ROUNDS - missing.len()
    );
    assert_clean(&s, &[&mac]);
    finish(s);
}

/// [`ROUNDS`] failing starts with both cores busy; returns those whose error lacked `want`.
fn under_load(start: impl Fn() -> Result<(), String>, want: &str) -> Vec<String> {
    let load = Load::start(2);
    let missing: Vec<String> = (0..ROUNDS)
        .map(|_| start().expect_err("the start must fail"))
        .filter(|err| !err.contains(want))
        .collect();
    drop(load);
    missing
}
