//! The ACL trust rule for symlinks, through the setuid copy run as a test user: every
//! directory each hop of a symlink chain passes through must be root-only, not just the
//! directories of the name as written and of the final file (src/sys/trusted.rs).
//! Whoever can write one hop's directory can repoint it at any root-owned file they can
//! read, or at nothing, and so change what the ACL says.
//!
//! All paths are under the test's /etc/qemu (a root 0755 bind mount); `hop` is the one
//! directory whose owner or mode each case changes.

use crate::common;

use std::fs;
use std::os::unix::fs::{chown, symlink, PermissionsExt};

use common::call::call_via;
use common::{env, Call, Install, Netns, Outcome};

const PLAIN: [&str; 2] = ["--br=br0", "--fd={fd}"];
const INC: &str = "fdb-bridge-helper: failed to parse acl file /etc/qemu/bridge.conf line 2: ";
const DENIED: &str = "fdb-bridge-helper: failed to authorize bridge br0: access denied by acl file";

/// Runs the setuid copy as alice under `timeout -s KILL 10`: a hang shows as exit 137.
fn alice(ns: &Netns) -> Outcome {
    let call = Call::new(Install::Setuid, &env().alice, &PLAIN);
    call_via(ns, &call, &["timeout", "-s", "KILL", "10"])
}

/// A directory under the test's /etc/qemu (`rel` as seen inside the namespace).
fn mkdir(ns: &Netns, rel: &str, uid: u32, gid: u32, mode: u32) {
    let path = ns.etc.join(rel);
    fs::create_dir(&path).unwrap();
    chown(&path, Some(uid), Some(gid)).unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
}

/// `/etc/qemu/REL -> target`, made by root (a symlink's own owner does not matter).
fn link(ns: &Netns, rel: &str, target: &str) {
    symlink(target, ns.etc.join(rel)).unwrap();
}

/// Empties the test's /etc/qemu without following any symlink.
fn clear(ns: &Netns) {
    for entry in fs::read_dir(&ns.etc).unwrap() {
        let path = entry.unwrap().path();
        if fs::symlink_metadata(&path).unwrap().is_dir() {
            fs::remove_dir_all(&path).unwrap();
        } else {
            fs::remove_file(&path).unwrap();
        }
    }
}

/// `/etc/qemu/real/grant.conf` (allow br0) and `/etc/qemu/real/deny.conf` (deny br0),
/// root-owned 0644 in a root 0755 directory: trusted targets.
fn real_files(ns: &Netns) {
    mkdir(ns, "real", 0, 0, 0o755);
    ns.write_acl("real/grant.conf", "allow br0\n");
    ns.write_acl("real/deny.conf", "deny br0\n");
}

fn bridge_with_br0() -> Netns {
    let ns = Netns::new();
    ns.add_bridge("br0");
    ns
}

/// Guards the hole: `/etc/qemu/grant.conf -> /etc/qemu/hop/link.conf ->
/// /etc/qemu/real/grant.conf`. The name as written and the final file are all in root
/// 0755 directories, so a check of only those honours the grant; but whoever can write
/// `hop` decides where `link.conf` points. Each untrusted `hop` must be refused, naming
/// the hop; the same chain with a root 0755 `hop` works (the control).
#[test]
fn a_hop_through_a_user_writable_directory_is_refused() {
    let env = env();
    let (a, staff) = (env.alice.uid, env.staff_gid);
    let ns = bridge_with_br0();
    let cases = [
        (
            "owned by the caller",
            a,
            a,
            0o755,
            format!("is owned by uid {a}, not root"),
        ),
        (
            "group-writable, caller in the group",
            0,
            staff,
            0o775,
            "is writable by group or others (mode 775)".into(),
        ),
        (
            "world-writable",
            0,
            0,
            0o777,
            "is writable by group or others (mode 777)".into(),
        ),
        (
            "world-writable, sticky",
            0,
            0,
            0o1777,
            "is writable by group or others (mode 1777)".into(),
        ),
    ];
    for (name, uid, gid, mode, why) in cases {
        clear(&ns);
        real_files(&ns);
        mkdir(&ns, "hop", uid, gid, mode);
        link(&ns, "hop/link.conf", "/etc/qemu/real/grant.conf");
        link(&ns, "grant.conf", "/etc/qemu/hop/link.conf");
        ns.write_acl(
            "bridge.conf",
            "# the grant is in the include\ninclude /etc/qemu/grant.conf\n",
        );
        let out = alice(&ns);
        eprintln!("case hop {name}: {:?}", out.stderr);
        let want = format!(
            "/etc/qemu/grant.conf is not trusted: it is reached through /etc/qemu/hop/link.conf, whose directory /etc/qemu/hop {why}"
        );
        out.failure(&ns, &[INC, &want]);
    }
    // Control: the same chain with `hop` root 0755.
    fs::set_permissions(ns.etc.join("hop"), fs::Permissions::from_mode(0o755)).unwrap();
    drop(alice(&ns).success(false));
}

/// Guards the hop check when the final file does not exist: pointing the hop at nothing
/// would otherwise turn a root-owned `deny` include into a skipped, unreadable include.
/// Control: the same missing file behind a trusted hop is skipped, as qemu-bridge-helper
/// skips it, and a trusted hop to the deny file denies.
#[test]
fn a_hop_pointed_at_nothing_is_refused_not_skipped() {
    let a = env().alice.uid;
    let ns = bridge_with_br0();
    real_files(&ns);
    mkdir(&ns, "hop", a, a, 0o755);
    link(&ns, "hop/link.conf", "/etc/qemu/real/missing.conf");
    link(&ns, "deny.conf", "/etc/qemu/hop/link.conf");
    ns.write_acl("bridge.conf", "allow br0\ninclude /etc/qemu/deny.conf\n");
    let want = format!(
        "/etc/qemu/deny.conf is not trusted: it is reached through /etc/qemu/hop/link.conf, whose directory /etc/qemu/hop is owned by uid {a}, not root"
    );
    alice(&ns).failure(&ns, &[INC, &want]);
    chown(ns.etc.join("hop"), Some(0), Some(0)).unwrap();
    drop(alice(&ns).success(false));
    fs::remove_file(ns.etc.join("hop/link.conf")).unwrap();
    link(&ns, "hop/link.conf", "/etc/qemu/real/deny.conf");
    alice(&ns).failure(&ns, &[DENIED]);
}

/// Guards a chain of two directory symlinks where only the second sits in an untrusted
/// directory: `/etc/qemu/first -> /etc/qemu/hop/second -> /etc/qemu/real`, the second
/// once absolute and once relative (`../real`, resolved against `hop`).
#[test]
fn a_chain_whose_second_hop_is_untrusted_is_refused() {
    let a = env().alice.uid;
    let ns = bridge_with_br0();
    for target in ["/etc/qemu/real", "../real"] {
        clear(&ns);
        real_files(&ns);
        mkdir(&ns, "hop", a, a, 0o755);
        link(&ns, "hop/second", target);
        link(&ns, "first", "/etc/qemu/hop/second");
        ns.write_acl(
            "bridge.conf",
            "# the grant is in the include\ninclude /etc/qemu/first/grant.conf\n",
        );
        let out = alice(&ns);
        eprintln!("case second -> {target}: {:?}", out.stderr);
        let want = format!(
            "/etc/qemu/first/grant.conf is not trusted: it is reached through /etc/qemu/hop/second, whose directory /etc/qemu/hop is owned by uid {a}, not root"
        );
        out.failure(&ns, &[INC, &want]);
        chown(ns.etc.join("hop"), Some(0), Some(0)).unwrap();
        drop(alice(&ns).success(false));
    }
}

/// Guards resolution as the kernel does it: a relative target is resolved against the
/// directory holding the link, and `..` after a symlink goes to the parent of where the
/// link led, not back along the name as written. Where the textual reading would land on
/// another file (a deny here) a wrong walk is refused or denied.
#[test]
fn relative_targets_and_dotdot_after_a_symlink_resolve_like_the_kernel() {
    let a = env().alice.uid;
    let ns = bridge_with_br0();
    // Textually the includes below lead to /etc/qemu/real/grant.conf, a deny.
    mkdir(&ns, "real", 0, 0, 0o755);
    ns.write_acl("real/grant.conf", "deny br0\n");
    mkdir(&ns, "a", 0, 0, 0o755);
    mkdir(&ns, "b", 0, 0, 0o755);
    mkdir(&ns, "b/c", 0, 0, 0o755);
    mkdir(&ns, "b/real", 0, 0, 0o755);
    ns.write_acl("b/real/grant.conf", "allow br0\n");
    link(&ns, "a/rel.conf", "../b/real/grant.conf");
    link(&ns, "rel.conf", "a/rel.conf");
    link(&ns, "deep", "/etc/qemu/b/c");
    link(&ns, "a/up", "../b/c");
    link(&ns, "b/c/back.conf", "./..//real/../real/grant.conf");
    mkdir(&ns, "hop", a, a, 0o755);
    mkdir(&ns, "hop/c", 0, 0, 0o755);
    ns.write_acl("hop/grant.conf", "allow br0\n");
    link(&ns, "into", "/etc/qemu/hop/c");
    let cases: [(&str, Option<String>); 6] = [
        ("/etc/qemu/rel.conf", None),
        ("/etc/qemu/a/rel.conf", None),
        ("/etc/qemu/deep/../real/grant.conf", None),
        ("/etc/qemu/a/up/../real/grant.conf", None),
        ("/etc/qemu/deep/back.conf", None),
        // `..` after a link into alice's directory: the file is really in it.
        (
            "/etc/qemu/into/../grant.conf",
            Some(format!(
                "is in /etc/qemu/into/.., which is owned by uid {a}, not root"
            )),
        ),
    ];
    for (include, refused) in cases {
        ns.write_acl(
            "bridge.conf",
            &format!("# the grant is in the include\ninclude {include}\n"),
        );
        let out = alice(&ns);
        eprintln!("case {include}: {:?}", out.stderr);
        match refused {
            None => drop(out.success(false)),
            Some(why) => out.failure(&ns, &[INC, &format!("{include} is not trusted: it {why}")]),
        }
    }
}

/// Guards that a fully trusted chain still counts: file and directory symlinks, absolute
/// and relative, all in root 0755 directories; its `allow` grants and its `deny` denies.
#[test]
fn a_fully_trusted_chain_is_accepted_and_its_lines_count() {
    let ns = bridge_with_br0();
    real_files(&ns);
    mkdir(&ns, "d1", 0, 0, 0o755);
    mkdir(&ns, "d2", 0, 0, 0o755);
    link(&ns, "dir", "/etc/qemu/real");
    link(&ns, "l1.conf", "/etc/qemu/d1/l2.conf");
    link(&ns, "d1/l2.conf", "../d2/l3.conf");
    link(&ns, "d2/l3.conf", "/etc/qemu/dir/grant.conf");
    ns.write_acl(
        "bridge.conf",
        "# the grant is in the include\ninclude /etc/qemu/l1.conf\n",
    );
    drop(alice(&ns).success(false));
    // Control: without the include nothing grants br0.
    ns.write_acl("bridge.conf", "# nothing\n");
    alice(&ns).failure(&ns, &[DENIED]);
    fs::remove_file(ns.etc.join("d2/l3.conf")).unwrap();
    link(&ns, "d2/l3.conf", "/etc/qemu/dir/deny.conf");
    ns.write_acl("bridge.conf", "allow br0\ninclude /etc/qemu/l1.conf\n");
    alice(&ns).failure(&ns, &[DENIED]);
}

/// Guards the bound on symlinks: 40 are followed, as the kernel follows them; a loop or
/// a 41st ends with a message, never a hang. A loop through an untrusted hop is refused
/// (it would otherwise be a skipped include that the hop's owner can switch on and off).
#[test]
fn symlink_loops_end_with_a_message_and_never_hang() {
    let a = env().alice.uid;
    let ns = bridge_with_br0();
    let eloop =
        "fdb-bridge-helper: failed to read acl file /etc/qemu/bridge.conf: Too many levels of symbolic links";
    for (name, links) in [
        ("self", vec![("bridge.conf", "bridge.conf")]),
        ("a, b", vec![("bridge.conf", "a"), ("a", "b"), ("b", "a")]),
    ] {
        clear(&ns);
        for (at, to) in links {
            link(&ns, at, to);
        }
        let out = alice(&ns);
        eprintln!("case top-file loop {name}: {:?}", out.stderr);
        out.failure(&ns, &[eloop]);
    }
    // A chain of `n` links: bridge.conf -> c1 -> ... -> c(n-1) -> final.conf.
    for (n, works) in [(40, true), (41, false)] {
        clear(&ns);
        ns.write_acl("final.conf", "allow br0\n");
        for i in 0..n {
            let at = if i == 0 {
                "bridge.conf".to_owned()
            } else {
                format!("c{i}")
            };
            let to = if i + 1 == n {
                "final.conf".to_owned()
            } else {
                format!("c{}", i + 1)
            };
            link(&ns, &at, &to);
        }
        let out = alice(&ns);
        eprintln!("case chain of {n}: {:?}", out.stderr);
        match works {
            true => drop(out.success(false)),
            false => out.failure(&ns, &[eloop]),
        }
    }
    clear(&ns);
    mkdir(&ns, "hop", a, a, 0o755);
    link(&ns, "x.conf", "/etc/qemu/hop/y.conf");
    link(&ns, "hop/y.conf", "/etc/qemu/x.conf");
    ns.write_acl("bridge.conf", "allow br0\ninclude /etc/qemu/x.conf\n");
    let want = format!(
        "/etc/qemu/x.conf is not trusted: it is reached through /etc/qemu/hop/y.conf, whose directory /etc/qemu/hop is owned by uid {a}, not root"
    );
    alice(&ns).failure(&ns, &[INC, &want]);
    // Control: the same loop in root-only directories is an unreadable include, skipped.
    chown(ns.etc.join("hop"), Some(0), Some(0)).unwrap();
    drop(alice(&ns).success(false));
}
