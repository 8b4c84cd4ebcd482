//! The hook binary on its own, as libvirt runs it (`DOMAIN OPERATION SUB-OP -`, the
//! domain XML on stdin, as the session's user), with a stand-in `fdb-bridge-helper`
//! beside it that logs its argv and then succeeds, fails or hangs. Which ports it
//! claims, that it never holds libvirt up, and that the helper's line is what libvirt
//! shows. The real helper behind the hook is tested in session.rs.

use crate::common;

use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use common::libvirtd::{bin_dir, HOOK_BIN};
use common::{env, Install, Netns, Run};

/// br0 with veth ports: `pend` (learning off, down: looks pending), `done` (learning
/// off, up: claimed in one step), `plain` (learning on, down).
fn setup() -> Netns {
    let ns = Netns::new();
    ns.add_bridge("br0");
    for port in ["pend", "done", "plain"] {
        ns.sh(&format!(
            "ip link add {port} type veth peer name {port}p && ip link set {port} master br0"
        ));
    }
    ns.sh("bridge link set dev pend learning off flood off && bridge link set dev done learning off flood off && \
           ip link set dev done up");
    ns
}

/// A directory with a copy of the hook and a stand-in helper running `script`, which
/// appends its argv to `calls` first.
fn hook_with(ns: &Netns, script: &str) -> (PathBuf, PathBuf) {
    let dir = ns.dir.join("hookbin");
    fs::create_dir(&dir).unwrap();
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
    fs::copy(bin_dir().join(HOOK_BIN), dir.join(HOOK_BIN)).unwrap();
    let calls = ns.run.join("calls");
    let helper = dir.join("fdb-bridge-helper");
    fs::write(
        &helper,
        format!("#!/bin/sh\necho \"$*\" >> {}\n{script}\n", calls.display()),
    )
    .unwrap();
    fs::set_permissions(&helper, fs::Permissions::from_mode(0o755)).unwrap();
    (dir.join(HOOK_BIN), calls)
}

fn xml(nics: &[(&str, &str)]) -> String {
    let nics: String = nics
        .iter()
        .map(|(tap, mac)| {
            format!(
                "<interface type='bridge'><mac address='{mac}'/><source bridge='br0'/><target dev='{tap}'/></interface>"
            )
        })
        .collect();
    format!("<domain type='qemu'><name>v1</name><devices>{nics}</devices></domain>")
}

/// Runs the hook as alice through a symlink, as libvirt does.
fn run_hook(ns: &Netns, hook: &PathBuf, args: &[&str], stdin: &str) -> (Output, Duration) {
    let link = ns.dir.join("qemu.d-fdb-bridge-helper");
    let _ = fs::remove_file(&link);
    std::os::unix::fs::symlink(hook, &link).unwrap();
    let mut child = ns
        .command(&Run::user(&env().alice, Install::Setuid), &link, args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    // A hook that returns without reading stdin closes it early: libvirt ignores EPIPE.
    let _ = child.stdin.take().unwrap().write_all(stdin.as_bytes());
    let out = child.wait_with_output().unwrap();
    (out, start.elapsed())
}

fn calls(path: &PathBuf) -> Vec<String> {
    fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn claims_only_pending_ports_and_only_at_start_begin() {
    let ns = setup();
    let (hook, log) = hook_with(&ns, "exit 0");
    let domain = xml(&[
        ("pend", "52:54:00:00:00:01"),
        ("done", "52:54:00:00:00:02"),
        ("plain", "52:54:00:00:00:03"),
    ]);
    for op in [
        ["prepare", "begin"],
        ["started", "begin"],
        ["stopped", "end"],
        ["release", "end"],
    ] {
        let (out, _) = run_hook(&ns, &hook, &["v1", op[0], op[1], "-"], &domain);
        assert!(out.status.success() && out.stderr.is_empty(), "{op:?}: {out:?}");
    }
    assert_eq!(
        calls(&log),
        Vec::<String>::new(),
        "the helper ran outside start begin"
    );
    let (out, _) = run_hook(&ns, &hook, &["v1", "start", "begin", "-"], &domain);
    assert!(out.status.success() && out.stderr.is_empty(), "{out:?}");
    assert_eq!(calls(&log), ["--claim=pend --mac=52:54:00:00:00:01"]);
}

#[test]
fn the_helpers_refusal_is_the_hooks_one_line() {
    let ns = setup();
    let line = "fdb-bridge-helper: failed to authorize bridge br0: no mac line in the acl grants you 52:54:00:00:00:01";
    let (hook, _) = hook_with(&ns, &format!("echo '{line}' >&2; exit 1"));
    let (out, _) = run_hook(
        &ns,
        &hook,
        &["v1", "start", "begin", "-"],
        &xml(&[("pend", "52:54:00:00:00:01")]),
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(String::from_utf8_lossy(&out.stderr), format!("{line}\n"));

    let (out, _) = run_hook(&ns, &hook, &["v1", "start", "begin", "-"], "<domain><devices>");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with("fdb-bridge-helper-libvirt-hook: failed to parse the XML of domain \"v1\": "),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}

/// A helper that hangs is killed after 5 s and the start fails, saying so.
#[test]
fn a_hanging_helper_never_holds_libvirt_up() {
    let ns = setup();
    let pidfile = ns.run.join("helper.pid");
    let (hook, log) = hook_with(&ns, &format!("echo $$ > {}; exec sleep 60", pidfile.display()));
    let (out, took) = run_hook(
        &ns,
        &hook,
        &["v1", "start", "begin", "-"],
        &xml(&[("pend", "52:54:00:00:00:01")]),
    );
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("failed to claim pend: fdb-bridge-helper did not finish within 5 s"),
        "{stderr}"
    );
    assert!(took < Duration::from_secs(8), "took {took:?}");
    assert_eq!(calls(&log).len(), 1);
    let pid: i32 = fs::read_to_string(&pidfile).unwrap().trim().parse().unwrap();
    assert!(!common::ns::alive(pid), "the helper was not killed");
}

/// More XML than the bound fails the start; nothing is claimed.
#[test]
fn the_domain_xml_is_bounded() {
    let ns = setup();
    let (hook, log) = hook_with(&ns, "exit 0");
    let big = format!("<domain><!--{}--><devices/></domain>", "x".repeat(9 << 20));
    let (out, _) = run_hook(&ns, &hook, &["v1", "start", "begin", "-"], &big);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("larger than 8388608 bytes"),
        "{out:?}"
    );
    assert!(calls(&log).is_empty());
}

/// Installed setuid by mistake, the hook refuses to run before it reads the XML.
#[test]
fn a_setuid_hook_refuses_to_run() {
    let ns = setup();
    let (hook, log) = hook_with(&ns, "exit 0");
    std::os::unix::fs::chown(&hook, Some(0), Some(0)).unwrap();
    fs::set_permissions(&hook, fs::Permissions::from_mode(0o4755)).unwrap();
    let (out, _) = run_hook(
        &ns,
        &hook,
        &["v1", "start", "begin", "-"],
        &xml(&[("pend", "52:54:00:00:00:01")]),
    );
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("runs setuid or with capabilities"), "{stderr}");
    assert!(calls(&log).is_empty());
}
