//! Real QEMU (`-machine none`, no guest image) run as fbh-alice, calling the helper through
//! `-netdev bridge` / `-netdev tap` exactly as users will.

mod common;

use std::fs::File;
use std::process::Stdio;

use common::{env, wait_for, Install, Mac, Netns, Run};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

const MTU: &str = "1400";

/// br0 with mtu 1400 (its veth port too, so the bridge keeps it), managed or not.
fn setup(managed: bool) -> Netns {
    let ns = Netns::with_uplink();
    ns.sh(&format!("ip link set vb0 mtu {MTU} && ip link set br0 mtu {MTU}"));
    assert!(ns.ip("link show br0").contains(&format!("mtu {MTU} ")));
    ns.write_acl(
        "bridge.conf",
        if managed {
            "allow br0\nmanaged br0\n"
        } else {
            "allow br0\n"
        },
    );
    ns
}

/// Runs QEMU as alice with `netdev`; Ok(pid) once it daemonized, Err(its stderr) if it failed.
fn qemu(ns: &Netns, install: Install, netdev: &str) -> Result<i32, String> {
    let env = env();
    let (pidfile, log) = (ns.run.join("qemu.pid"), ns.run.join("qemu.log"));
    let args = [
        "-machine",
        "none",
        "-nodefaults",
        "-display",
        "none",
        "-netdev",
        netdev,
        "-daemonize",
        "-pidfile",
    ];
    let mut cmd = ns.command(
        &Run::user(&env.alice, install),
        "qemu-system-x86_64".as_ref(),
        &args,
    );
    let status = cmd
        .arg(&pidfile)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(File::create(&log).unwrap())
        .status()
        .unwrap();
    let stderr = std::fs::read_to_string(&log).unwrap();
    if !status.success() {
        return Err(stderr);
    }
    let pid: i32 = std::fs::read_to_string(&pidfile).unwrap().trim().parse().unwrap();
    ns.track(pid);
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let uid = status
        .lines()
        .find(|l| l.starts_with("Uid:"))
        .unwrap()
        .split_whitespace()
        .nth(1)
        .unwrap();
    assert_eq!(uid, env.alice.uid.to_string(), "QEMU must run as alice");
    Ok(pid)
}

fn helper_string(install: Install, mac: &str) -> String {
    format!("{} --mac={mac}", env().helper(install).display())
}

fn fdb_mentions(ns: &Netns, mac: &str) -> bool {
    ns.bridge("fdb show br br0").contains(mac)
}

/// Starts QEMU, checks the tap and the port, kills QEMU, checks that nothing is left.
fn check(install: Install, managed: bool, netdev_kind: &str) {
    let ns = setup(managed);
    let mac = Mac::random().to_string();
    check_with(
        &ns,
        install,
        managed,
        netdev_kind,
        &mac,
        &helper_string(install, &mac),
    );
}

fn check_with(ns: &Netns, install: Install, managed: bool, netdev_kind: &str, mac: &str, helper: &str) {
    let netdev = format!("{netdev_kind},id=n0,br=br0,helper={helper}");
    let pid = qemu(ns, install, &netdev).unwrap_or_else(|e| panic!("QEMU failed: {e}"));

    let taps = ns.taps();
    assert_eq!(taps.len(), 1, "one tap: {taps:?}");
    let tap = &taps[0];
    let link = ns.ip(&format!("-d link show dev {tap}"));
    for want in [
        "master br0",
        "vnet_hdr on",
        "persist off",
        &format!("mtu {MTU} "),
        "link/ether fe:",
        ",UP,",
    ] {
        assert!(link.contains(want), "{want:?} missing in {link}");
    }
    let port = ns.bridge(&format!("-d link show dev {tap}"));
    let fdb = ns.bridge("fdb show br br0");
    let entry = format!("{mac} dev {tap} sticky master br0 static");
    if managed {
        assert!(
            port.contains("learning off") && port.contains("flood off"),
            "{port}"
        );
        assert!(fdb.lines().any(|l| l == entry), "{entry:?} missing in\n{fdb}");
    } else {
        assert!(
            port.contains("learning on") && port.contains("flood on"),
            "{port}"
        );
        assert!(!fdb.contains(mac), "plain bridge: no entry for {mac} in\n{fdb}");
    }

    kill(Pid::from_raw(pid), Signal::SIGTERM).unwrap();
    assert!(wait_for(5.0, || !common::ns::alive(pid)), "QEMU did not exit");
    ns.untrack(pid);
    assert!(
        wait_for(3.0, || ns.taps().is_empty() && !fdb_mentions(ns, mac)),
        "tap or fdb entry left after QEMU exited: {:?}\n{}",
        ns.taps(),
        ns.bridge("fdb show br br0")
    );
}

#[test]
fn setuid_managed() {
    check(Install::Setuid, true, "bridge");
}

#[test]
fn setuid_plain() {
    check(Install::Setuid, false, "bridge");
}

#[test]
fn filecaps_managed() {
    check(Install::FileCaps, true, "bridge");
}

#[test]
fn filecaps_plain() {
    check(Install::FileCaps, false, "bridge");
}

#[test]
fn netdev_tap_with_helper() {
    check(Install::Setuid, true, "tap");
}

/// A helper path without a space is exec'd by QEMU directly, with no /bin/sh: a symlink
/// named `NAME@MAC` carries the MAC in argv[0]. Without that, a managed bridge refuses
/// the call for want of a MAC.
#[test]
fn a_symlink_named_after_the_mac_passes_it_without_a_shell() {
    let ns = setup(true);
    let mac = Mac::random().to_string();
    let link = ns.run.join(format!("vm1@{mac}"));
    std::os::unix::fs::symlink(env().helper(Install::Setuid), &link).unwrap();
    let helper = link.display().to_string();
    assert!(!helper.contains(' '));
    check_with(&ns, Install::Setuid, true, "bridge", &mac, &helper);
}

/// QEMU shows the helper's one line and fails, instead of running without a NIC.
#[test]
fn qemu_reports_the_helpers_refusal() {
    let ns = setup(true);
    let helper = env().helper(Install::Setuid).display().to_string();
    let netdev = format!("bridge,id=n0,br=br0,helper={helper}");
    let stderr = qemu(&ns, Install::Setuid, &netdev).expect_err("QEMU must fail when the helper refuses");
    assert!(
        stderr.contains("fdb-bridge-helper: failed to authorize bridge br0: ") && stderr.contains("--mac="),
        "{stderr}"
    );
    assert!(ns.taps().is_empty());
}
