//! `--check` for real: root checks the files in a namespace's /etc/qemu; anyone else is
//! refused.

use std::process::Output;

use crate::common::{env, Install, Netns, Run};

fn check(ns: &Netns, run: &Run, args: &[&str]) -> (Output, String) {
    let out = ns.command(run, &env().setuid, args).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    (out, text)
}

#[test]
fn every_problem_with_file_and_line() {
    let env = env();
    let ns = Netns::new();
    ns.write_acl(
        "bridge.conf",
        "allow br0 # lab\nmanaged br0\ninclude /etc/qemu/lab.conf\ninclude /etc/qemu/gone.conf\ninclude /etc/qemu/user.conf\n",
    );
    ns.write_acl("lab.conf", "allow br1\nmac br1 52:54:00:*\nfoo bar\n");
    ns.write_acl_as("user.conf", "allow br2\n", 0o644, env.alice.uid, 0);
    ns.write_acl("fdb-bridge-helper.conf", "managed br1\nvlan br1 5000\n");
    let (out, text) = check(&ns, &Run::root(), &["--check"]);
    assert_eq!(out.status.code(), Some(1), "{text}");
    let want = [
        "/etc/qemu/bridge.conf line 1: error: \"br0 # lab\" is not an interface name",
        "/etc/qemu/bridge.conf line 2: error: qemu-bridge-helper reads this file too and refuses this line",
        "/etc/qemu/lab.conf line 2: error: qemu-bridge-helper reads this include too and stops at this line",
        "/etc/qemu/lab.conf line 3: error: unknown directive \"foo\"; this include ends here",
        "/etc/qemu/bridge.conf line 4: warning: include /etc/qemu/gone.conf skipped: No such file or directory",
        &format!(
            "/etc/qemu/bridge.conf line 5: error: /etc/qemu/user.conf is not trusted: it is owned by uid {}, not root",
            env.alice.uid
        ),
        "/etc/qemu/fdb-bridge-helper.conf line 2: error: vlan \"br1 5000\"",
        "3 acl files checked: 6 errors, 1 warnings",
    ];
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), want.len(), "{text}");
    for (line, want) in lines.iter().zip(want) {
        assert!(line.starts_with(want), "{line:?} should start with {want:?}");
    }
}

#[test]
fn clean_files_and_one_file() {
    let ns = Netns::new();
    ns.write_acl("bridge.conf", "allow br0\ninclude /etc/qemu/alice.conf\n");
    ns.write_acl_as("alice.conf", "allow br-lab\n", 0o640, 0, env().alice.gid);
    ns.write_acl("fdb-bridge-helper.conf", "managed br0\nmac br0 52:54:00:*\n");
    let (out, text) = check(&ns, &Run::root(), &["--check"]);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert_eq!(text, "3 acl files checked: parsed OK\n");
    // One file: our lines are fine in any file but bridge.conf.
    ns.write_acl("extra.conf", "locked br3\nbogus\n");
    let (out, text) = check(&ns, &Run::root(), &["--check", "/etc/qemu/extra.conf"]);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.starts_with("/etc/qemu/extra.conf line 2: error: expected `DIRECTIVE ARGUMENT`"),
        "{text}"
    );
    let (out, text) = check(&ns, &Run::root(), &["--check", "/etc/qemu/bridge.conf"]);
    assert_eq!(out.status.code(), Some(0), "{text}");
    let (out, text) = check(&ns, &Run::root(), &["--check", "/etc/qemu/none.conf"]);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.starts_with("/etc/qemu/none.conf: error: failed to read it: No such file"),
        "{text}"
    );
}

#[test]
fn for_root_only() {
    let ns = Netns::new();
    ns.write_acl("bridge.conf", "allow br0\n");
    let (out, text) = check(&ns, &Run::user(&env().bob, Install::Setuid), &["--check"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(text.is_empty(), "{text}");
    assert!(
        stderr.starts_with("fdb-bridge-helper: failed to check the acl files: --check is for root"),
        "{stderr}"
    );
}
