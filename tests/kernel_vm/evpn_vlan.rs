//! VLAN-aware bridges across hosts, on the VM's 6.1 kernel (this host's has no
//! `vlan_filtering`): one boot of tests/kernel_vm/evpn_vlan.sh, in which two namespaces are
//! hosts A and B, each with a `vlan_filtering` br0 carrying one VXLAN device per VNI (VNI 101
//! the access port of VLAN 101, VNI 102 of VLAN 102) and FRR 8.4's zebra and bgpd (iBGP,
//! `l2vpn evpn`, `advertise-all-vni`); the setuid helper makes guests with `--vlan`. FRR comes
//! from the build host (packaging/deps.sh installs it) and is copied into the initramfs with
//! its libraries. One test, so that one boot serves every case; every check runs, and the test
//! names those that failed.

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;

use crate::common::frr::{bgpd_conf, zebra_conf};
use crate::common::require_root;
use crate::common::vm::initramfs::libraries;
use crate::common::vm::kernel::kernel;
use crate::common::vm::{Vm, VmRun, MODULES, USERS};
use crate::{run_checks, Check};

/// Guest addresses: G1 alice's in VLAN 101 on A, G2 in VLAN 102 on A, G3 bob's in VLAN 101
/// on B, G4 his in VLAN 102 on B.
const G1: &str = "52:54:00:e1:00:01";
const G2: &str = "52:54:00:e1:00:02";
const G3: &str = "52:54:00:e1:00:03";
const G4: &str = "52:54:00:e1:00:04";
/// The FRR binaries, copied with the shared libraries `ldd` names.
const FRR_DAEMONS: &[&str] = &["/usr/lib/frr/zebra", "/usr/lib/frr/bgpd"];
/// Where the script finds the daemons' configs.
const FRR_CONF: &str = "/etc/fbh-vm/frr";
const ACL: &str = "allow br0\nmanaged br0\nvlan br0 user=alice 101-102\nvlan br0 user=bob 101-102\n";

/// A named part of what the run must show.

#[test]
fn vlan_aware_bridges_across_hosts() {
    require_root();
    let modules = extra_modules();
    let names: Vec<&str> = modules.iter().map(|(n, _)| n.as_str()).collect();
    let vars = format!(
        "G1={G1}\nG2={G2}\nG3={G3}\nG4={G4}\nFRR={FRR_CONF}\nMODULES='{}'",
        names.join(" ")
    );
    let mut vm = Vm::new(&format!("{vars}\n{}", include_str!("evpn_vlan.sh"))).file(
        "/etc/qemu/bridge.conf",
        0o644,
        ACL,
    );
    vm = with_frr(vm);
    for (name, path) in &modules {
        vm = vm.file(
            &format!("/lib/modules/extra/{name}.ko"),
            0o644,
            fs::read(path).unwrap(),
        );
    }
    let run = vm.boot();
    eprintln!(
        "evpn_vlan: boot to script {:.2} s, whole run {:.2} s, FRR up {} ms after start",
        run.boot.as_secs_f64(),
        run.total.as_secs_f64(),
        run.facts("frr-up-ms").join(" ")
    );
    run.expect_success();
    eprintln!(
        "evpn_vlan: advertise {} ms, withdraw {} ms (entry on A's tap to entry on B's vxlan101)",
        run.fact("a.advertise-ms"),
        run.fact("a.withdraw-ms")
    );
    eprintln!(
        "evpn_vlan: tunnelled by A before any guest frame (vxlan101 vxlan102): {}",
        run.fact("a.vxlan-tx")
    );
    let checks: [Check; 3] = [
        (
            "a. known on B in its VLAN",
            a_guest_is_known_on_the_other_host_in_its_vlan,
        ),
        ("b. VNIs apart", vnis_keep_vlans_apart_and_unicast_crosses),
        ("c. per-VLAN claims", a_remote_claim_is_refused_in_its_vlan_only),
    ];
    run_checks(&run, &checks);
}

/// Asserts that fact `key` (entries joined by ';') holds an entry containing each of `words`.
fn has_entry(run: &VmRun, key: &str, words: &[&str]) {
    let value = run.fact(key);
    assert!(
        value.split(';').any(|e| words.iter().all(|w| e.contains(w))),
        "{key}: no entry with {words:?} in {value}"
    );
}

fn a_guest_is_known_on_the_other_host_in_its_vlan(run: &VmRun) {
    has_entry(run, "a.on-a", &[" dev tap", " vlan 101 sticky master br0 static"]);
    // zebra installs a sticky advertisement as static sticky, in the VNI's VLAN on its port.
    has_entry(run, "a.on-b", &["dev vxlan101 vlan 101 sticky master br0 static"]);
    has_entry(run, "a.on-b", &["dev vxlan101 dst 10.255.0.1 self sticky static"]);
    assert!(!run.fact("a.on-b").contains("vxlan102"), "{}", run.fact("a.on-b"));
    // Known through the control plane alone: the guest had sent nothing.
    assert_eq!(run.fact("a.tap-rx"), "0", "the guest sent nothing");
    // Withdrawn once its fd closed, from VLAN 101 only: B's own claim of the address in
    // VLAN 102 (case c) stays.
    let gone = run.fact("a.gone-b");
    assert!(
        !gone.contains("vxlan101"),
        "still on B after the fd closed: {gone}"
    );
    assert!(gone.contains(" vlan 102 sticky master br0 static"), "{gone}");
    for key in ["a.advertise-ms", "a.withdraw-ms"] {
        let ms: i64 = run.fact(key).parse().unwrap();
        assert!((0..5000).contains(&ms), "{key}: {ms}");
    }
}

/// The tags guest `g` received.
fn rx(run: &VmRun, g: &str) -> BTreeSet<String> {
    let key = format!("b.{g}.rx");
    run.fact(&key).split_whitespace().map(str::to_owned).collect()
}

fn vnis_keep_vlans_apart_and_unicast_crosses(run: &VmRun) {
    // A's guest in VLAN 102 is on B's vxlan102 in VLAN 102, nowhere in VLAN 101.
    let g2 = run.fact("b.g2-on-b");
    assert!(!g2.contains("vlan 101") && !g2.contains("vxlan101"), "{g2}");
    assert!(g2.contains("dev vxlan102 vlan 102"), "{g2}");
    has_entry(
        run,
        "b.g3-on-a",
        &["dev vxlan101 vlan 101 sticky master br0 static"],
    );
    let set = |tags: &[&str]| tags.iter().map(|t| t.to_string()).collect::<BTreeSet<_>>();
    assert_eq!(rx(run, "a1"), set(&["b1-to-a1"]), "a1 (101 on A)");
    assert_eq!(rx(run, "b1"), set(&["a1-to-b1", "a1-bcast"]), "b1 (101 on B)");
    // A frame in VLAN 102 for G3 (b1, VLAN 101) reaches no one.
    // VLAN 102's guests: their own VLAN's broadcast crosses, nothing of VLAN 101's.
    assert_eq!(rx(run, "a2"), set(&[]), "a2 (102 on A)");
    assert_eq!(rx(run, "b2"), set(&["a2-bcast"]), "b2 (102 on B)");
}

fn a_remote_claim_is_refused_in_its_vlan_only(run: &VmRun) {
    assert_eq!(run.fact("c.101.code"), "1");
    let err = run.fact("c.101.err");
    for words in [
        format!("failed to add fdb entry {G1} vlan 101 on tap"),
        "remote host behind vxlan101".to_owned(),
    ] {
        assert!(err.contains(&words), "no {words:?} in {err}");
    }
    assert_eq!(run.fact("c.102.code"), "0");
    has_entry(
        run,
        "c.102.on-b",
        &[" dev tap", " vlan 102 sticky master br0 static"],
    );
    has_entry(
        run,
        "c.102.on-b",
        &["dev vxlan101 vlan 101 sticky master br0 static"],
    );
    // And A has it back from B in VLAN 102, beside its own guest in 101.
    has_entry(
        run,
        "c.102.on-a",
        &["dev vxlan102 vlan 102 sticky master br0 static"],
    );
    has_entry(
        run,
        "c.102.on-a",
        &[" dev tap", " vlan 101 sticky master br0 static"],
    );
}

/// The vxlan module and what it needs beyond the modules every VM loads, in load order.
fn extra_modules() -> Vec<(String, std::path::PathBuf)> {
    let base: BTreeSet<String> = kernel().modules(MODULES).into_iter().map(|(n, _)| n).collect();
    let all = kernel().modules(&["vxlan"]);
    let extra: Vec<_> = all.into_iter().filter(|(n, _)| !base.contains(n)).collect();
    assert!(
        extra.iter().any(|(n, _)| n == "vxlan"),
        "no vxlan module in {}",
        kernel().version
    );
    extra
}

/// zebra and bgpd with their libraries, and each host's configs.
fn with_frr(mut vm: Vm) -> Vm {
    let mut libs = BTreeSet::new();
    for daemon in FRR_DAEMONS {
        let data = fs::read(daemon).unwrap_or_else(|e| {
            panic!("failed to read {daemon}: {e}: the EVPN tests need frr (packaging/deps.sh)")
        });
        vm = vm.file(daemon, 0o755, data);
        libs.extend(libraries(Path::new(daemon)));
    }
    for lib in libs {
        vm = vm.file(
            &lib,
            0o755,
            fs::read(&lib).unwrap_or_else(|e| panic!("read {lib}: {e}")),
        );
    }
    vm = with_frr_accounts(vm);
    for (host, vtep, peer) in [("A", "10.255.0.1", "10.0.0.2"), ("B", "10.255.0.2", "10.0.0.1")] {
        vm = vm
            .file(&format!("{FRR_CONF}/{host}.zebra.conf"), 0o644, zebra_conf(host))
            .file(
                &format!("{FRR_CONF}/{host}.bgpd.conf"),
                0o644,
                bgpd_conf(vtep, peer),
            );
    }
    vm
}

/// The VM's accounts again, plus FRR's: the daemons drop to user frr and look up the groups
/// Debian's FRR was built with (frr, frrvty), and fail to start without them.
fn with_frr_accounts(vm: Vm) -> Vm {
    let mut passwd = String::from("root:x:0:0:root:/root:/bin/bash\n");
    let mut group = String::from("root:x:0:\n");
    for (name, uid) in USERS {
        passwd.push_str(&format!("{name}:x:{uid}:{uid}::/home:/bin/sh\n"));
        group.push_str(&format!("{name}:x:{uid}:\n"));
    }
    passwd.push_str("frr:x:100:100::/nonexistent:/bin/false\n");
    group.push_str("frr:x:100:\nfrrvty:x:101:frr\n");
    vm.file("/etc/passwd", 0o644, passwd)
        .file("/etc/group", 0o644, group)
}
