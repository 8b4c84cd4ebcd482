//! ACL hardening as real users see it, through the setuid copy: only files no one but
//! root could have written are honoured (src/sys/trusted.rs), FIFOs and devices are
//! refused without blocking, include cycles end with a message, and `mac` lines grant
//! guest addresses to users and groups by name.

use crate::common;

use std::fs;
use std::os::unix::fs::{chown, symlink, PermissionsExt};
use std::path::Path;

use common::call::call_via;
use common::{alice, as_user, env, Call, Install, Netns};

fn set_owner_mode(path: &Path, uid: u32, gid: u32, mode: u32) {
    chown(path, Some(uid), Some(gid)).unwrap();
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

fn mkdir(path: &Path, uid: u32, gid: u32, mode: u32) {
    fs::create_dir(path).unwrap();
    set_owner_mode(path, uid, gid, mode);
}

const PLAIN: [&str; 2] = ["--br=br0", "--fd={fd}"];
const TOP: &str = "fdb-bridge-helper: failed to read acl file /etc/qemu/bridge.conf: not trusted: it ";
const INC: &str = "fdb-bridge-helper: failed to parse acl file /etc/qemu/bridge.conf line 2: ";

/// Guards the trust rule for the files themselves (beyond acl_user.rs's alice-owned 0644
/// include and 0664 root:staff top file): each case is a file qemu-bridge-helper would
/// honour, and each must fail every request with the file's name and the reason. After
/// each case the same directory with trusted files works (the control).
#[test]
fn untrusted_acl_files_are_refused_with_name_and_reason() {
    let env = env();
    let (a, bob, staff) = (env.alice.uid, env.bob.uid, env.staff_gid);
    // (top file owner, mode), (include owner, group, mode), expected message parts
    type Case = (&'static str, (u32, u32), (u32, u32, u32), Vec<String>);
    let cases: Vec<Case> = vec![
        (
            "top file owned by another user",
            (bob, 0o644),
            (0, 0, 0o644),
            vec![format!("{TOP}is owned by uid {bob}, not root")],
        ),
        (
            "top file owned by the caller, read-only",
            (a, 0o444),
            (0, 0, 0o644),
            vec![format!("{TOP}is owned by uid {a}, not root")],
        ),
        (
            "top file world-writable",
            (0, 0o646),
            (0, 0, 0o644),
            vec![format!("{TOP}is writable by group or others (mode 646)")],
        ),
        (
            "include world-writable, owned by root",
            (0, 0o644),
            (0, 0, 0o666),
            vec![format!(
                "{INC}/etc/qemu/inc.conf is not trusted: it is writable by group or others (mode 666)"
            )],
        ),
        (
            "include group-writable by a group the caller is in",
            (0, 0o644),
            (0, staff, 0o660),
            vec![format!(
                "{INC}/etc/qemu/inc.conf is not trusted: it is writable by group or others (mode 660)"
            )],
        ),
        (
            // qemu-bridge-helper honours it: alice could write `allow all` into it.
            "include owned by the caller, mode 0400",
            (0, 0o644),
            (a, env.alice.gid, 0o400),
            vec![format!(
                "{INC}/etc/qemu/inc.conf is not trusted: it is owned by uid {a}, not root"
            )],
        ),
        (
            "include owned by another user, readable by all",
            (0, 0o644),
            (bob, env.bob.gid, 0o644),
            vec![format!(
                "{INC}/etc/qemu/inc.conf is not trusted: it is owned by uid {bob}, not root"
            )],
        ),
    ];
    let ns = Netns::with_bridges(&["br0", "br1"]);
    let mut held = Vec::new();
    for (name, (top_uid, top_mode), (inc_uid, inc_gid, inc_mode), want) in cases {
        // bridge.conf grants br0; the include grants br1 (what a user would add).
        ns.write_acl_as(
            "bridge.conf",
            "allow br0\ninclude /etc/qemu/inc.conf\n",
            top_mode,
            top_uid,
            0,
        );
        ns.write_acl_as("inc.conf", "allow br1\n", inc_mode, inc_uid, inc_gid);
        let want: Vec<&str> = want.iter().map(String::as_str).collect();
        for br in ["--br=br0", "--br=br1"] {
            eprintln!("case {name}, {br}");
            alice(&ns, &[br, "--fd={fd}"]).failure_leaving(&ns, &want, &ns.taps_of(&held));
        }
        // Control: the same files, root-owned and not writable by others, work.
        ns.write_acl("bridge.conf", "allow br0\ninclude /etc/qemu/inc.conf\n");
        ns.write_acl("inc.conf", "allow br1\n");
        held.push(alice(&ns, &["--br=br1", "--fd={fd}"]).success(false));
    }
}

/// Guards the trust rule for directories: a file is only as safe as every directory above
/// it, as named and with symlinks resolved (a symlink in /etc/qemu into a directory the
/// user owns lets the user swap the file at will).
#[test]
fn acl_files_in_untrusted_directories_are_refused() {
    let env = env();
    let (a, staff) = (env.alice.uid, env.staff_gid);
    let ns = Netns::with_bridges(&["br0"]);
    let etc = ns.etc.clone();
    // A root-owned 0644 file in a directory alice owns (ns.run is alice's scratch space).
    let user_dir = ns.run.clone();
    fs::write(user_dir.join("inc.conf"), "allow br0\n").unwrap();
    set_owner_mode(&user_dir.join("inc.conf"), 0, 0, 0o644);
    let user_dir_name = user_dir.display().to_string();

    // /etc/qemu itself group-writable: the top file is refused.
    set_owner_mode(&etc, 0, staff, 0o775);
    ns.write_acl("bridge.conf", "allow br0\n");
    alice(&ns, &PLAIN).failure(
        &ns,
        &[&format!(
            "{TOP}is in /etc/qemu, which is writable by group or others (mode 775)"
        )],
    );
    set_owner_mode(&etc, 0, 0, 0o755);
    let mut held = vec![alice(&ns, &PLAIN).success(false)];

    // (what, how the directory is made, the expected reason)
    type Case<'a> = (&'a str, Box<dyn Fn() + 'a>, String);
    let cases: Vec<Case> = vec![
        (
            "subdirectory owned by the caller",
            Box::new(|| mkdir(&etc.join("sub"), a, a, 0o755)),
            format!("/etc/qemu/sub/inc.conf is not trusted: it is in /etc/qemu/sub, which is owned by uid {a}, not root"),
        ),
        (
            "subdirectory world-writable",
            Box::new(|| mkdir(&etc.join("sub"), 0, 0, 0o777)),
            "/etc/qemu/sub/inc.conf is not trusted: it is in /etc/qemu/sub, which is writable by group or others (mode 777)".into(),
        ),
        (
            "subdirectory world-writable with the sticky bit",
            Box::new(|| mkdir(&etc.join("sub"), 0, 0, 0o1777)),
            "/etc/qemu/sub/inc.conf is not trusted: it is in /etc/qemu/sub, which is writable by group or others (mode 1777)".into(),
        ),
        (
            "symlinked file in a directory the caller owns",
            Box::new(|| {
                mkdir(&etc.join("sub"), 0, 0, 0o755);
                symlink(user_dir.join("inc.conf"), etc.join("sub/inc.conf")).unwrap();
            }),
            format!("/etc/qemu/sub/inc.conf is not trusted: it is in {user_dir_name}, which is owned by uid {a}, not root"),
        ),
        (
            "symlinked directory the caller owns",
            Box::new(|| symlink(&user_dir, etc.join("sub")).unwrap()),
            format!("/etc/qemu/sub/inc.conf is not trusted: it is in /etc/qemu/sub, which is owned by uid {a}, not root"),
        ),
    ];
    for (name, make, want) in cases {
        eprintln!("case {name}");
        ns.write_acl(
            "bridge.conf",
            "# the include holds the grant\ninclude /etc/qemu/sub/inc.conf\n",
        );
        make();
        if !etc.join("sub/inc.conf").exists() {
            fs::write(etc.join("sub/inc.conf"), "allow br0\n").unwrap();
            set_owner_mode(&etc.join("sub/inc.conf"), 0, 0, 0o644);
        }
        alice(&ns, &PLAIN).failure_leaving(&ns, &[INC, &want], &ns.taps_of(&held));
        // Control: the same include in a root-only directory is honoured.
        let sub = etc.join("sub");
        if sub.is_symlink() {
            fs::remove_file(&sub).unwrap();
        } else {
            fs::remove_dir_all(&sub).unwrap();
        }
        mkdir(&sub, 0, 0, 0o755);
        fs::write(sub.join("inc.conf"), "allow br0\n").unwrap();
        set_owner_mode(&sub.join("inc.conf"), 0, 0, 0o644);
        held.push(alice(&ns, &PLAIN).success(false));
        fs::remove_dir_all(&sub).unwrap();
    }
}

/// Guards O_NONBLOCK and the regular-file check: an include (or the top file) that is a
/// FIFO would block the open forever without O_NONBLOCK; a device or a directory is not
/// an ACL. Each run is under `timeout -s KILL 10`, so a hang shows as exit 137.
#[test]
fn fifos_devices_and_directories_are_refused_without_blocking() {
    let ns = Netns::with_bridges(&["br0"]);
    let fifo = ns.etc.join("fifo.conf");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o644)).unwrap();
    let timeout = ["timeout", "-s", "KILL", "10"];
    let not_regular = "is not trusted: it is not a regular file";
    let cases = ["/etc/qemu/fifo.conf", "/dev/null", "/etc/qemu", "/etc/qemu/"];
    for include in cases {
        ns.write_acl("bridge.conf", &format!("allow br0\ninclude {include}\n"));
        let started = std::time::Instant::now();
        let out = call_via(&ns, &Call::new(Install::Setuid, &env().alice, &PLAIN), &timeout);
        eprintln!("include {include}: {:?} in {:?}", out.stderr, started.elapsed());
        out.failure(&ns, &[INC, &format!("{include} {not_regular}")]);
    }
    // The top file itself a FIFO.
    fs::remove_file(ns.etc.join("bridge.conf")).unwrap();
    fs::rename(&fifo, ns.etc.join("bridge.conf")).unwrap();
    let out = call_via(&ns, &Call::new(Install::Setuid, &env().alice, &PLAIN), &timeout);
    out.failure(
        &ns,
        &["fdb-bridge-helper: failed to read acl file /etc/qemu/bridge.conf: not trusted: it is not a regular file"],
    );
}

/// Guards the cycle and depth checks: qemu-bridge-helper recurses until it crashes
/// (SIGSEGV) on these; here each is one clear line naming the file and line, exit 1.
#[test]
fn include_cycles_and_deep_nesting_give_a_clear_error() {
    let ns = Netns::with_bridges(&["br0"]);
    let cycle = "include cycle";
    let parse =
        |path: &str, line: usize| format!("fdb-bridge-helper: failed to parse acl file {path} line {line}: ");
    // (files, expected file and line of the error, reason)
    let deep: Vec<(String, String)> = (0..9)
        .map(|i| {
            (
                format!("d{i}.conf"),
                format!("allow br0\ninclude /etc/qemu/d{}.conf\n", i + 1),
            )
        })
        .chain([("d9.conf".to_owned(), "allow br0\n".to_owned())])
        .collect();
    type Files = Vec<(String, String)>;
    let mut cases: Vec<(Files, String, &str)> = vec![
        (
            vec![(
                "bridge.conf".into(),
                "allow br0\ninclude /etc/qemu/bridge.conf\n".into(),
            )],
            parse("/etc/qemu/bridge.conf", 2),
            cycle,
        ),
        (
            vec![
                (
                    "bridge.conf".into(),
                    "allow br0\ninclude /etc/qemu/a.conf\n".into(),
                ),
                ("a.conf".into(), "include /etc/qemu/b.conf\n".into()),
                ("b.conf".into(), "# back to a\ninclude /etc/qemu/a.conf\n".into()),
            ],
            parse("/etc/qemu/b.conf", 2),
            cycle,
        ),
        (
            // The same file under another name: the cycle is caught when a name repeats.
            vec![(
                "bridge.conf".into(),
                "allow br0\ninclude /etc/qemu/../qemu/bridge.conf\n".into(),
            )],
            parse("/etc/qemu/../qemu/bridge.conf", 2),
            cycle,
        ),
    ];
    let mut chain = vec![("bridge.conf".to_owned(), "include /etc/qemu/d0.conf\n".to_owned())];
    chain.extend(deep);
    cases.push((
        chain,
        parse("/etc/qemu/d6.conf", 2),
        "includes nested deeper than 8",
    ));
    for (files, location, reason) in cases {
        for entry in fs::read_dir(&ns.etc).unwrap() {
            fs::remove_file(entry.unwrap().path()).unwrap();
        }
        for (name, text) in &files {
            ns.write_acl(name, text);
        }
        let out = alice(&ns, &PLAIN);
        eprintln!("{files:?}: {:?}", out.stderr);
        out.failure(&ns, &[&location, reason]);
    }
    // A symlink loop (/etc/qemu/loop -> loop) is an unreadable include: skipped, as
    // qemu-bridge-helper skips it, without hanging.
    for entry in fs::read_dir(&ns.etc).unwrap() {
        fs::remove_file(entry.unwrap().path()).unwrap();
    }
    symlink("/etc/qemu/loop", ns.etc.join("loop")).unwrap();
    ns.write_acl("bridge.conf", "allow br0\ninclude /etc/qemu/loop\n");
    drop(alice(&ns, &PLAIN).success(false));
}

/// `mac` lines through real users and NSS names: what each grant gives whom.
struct MacCase {
    what: &'static str,
    bridge_conf: &'static str,
    /// Per-user include `/etc/qemu/alice.conf`, root:fbh-alice 0640, if any.
    alice_conf: Option<&'static str>,
    bob: bool,
    mac: &'static str,
    granted: bool,
}

/// Guards `mac BRIDGE [user=|group=] SPEC`: grants by user name, by group name (alice is
/// in fbh-staff as a supplementary group, which the drop must keep), and by a per-user
/// include, with `mac br0 none` restricting everyone else. A refusal is exit 1, the
/// message, and no tap; a grant is the static entry on the caller's tap. The controls
/// without `mac` lines show that the same MACs are otherwise free for anyone.
#[test]
fn mac_lines_grant_addresses_to_users_and_groups() {
    let base = "allow br0\nmanaged br0\n";
    #[rustfmt::skip]
    let cases = [
        MacCase { what: "no mac line: alice, any", bridge_conf: base, alice_conf: None, bob: false, mac: "52:54:00:b0:00:01", granted: true },
        MacCase { what: "no mac line: bob, any", bridge_conf: base, alice_conf: None, bob: true, mac: "52:54:00:b0:00:02", granted: true },
        MacCase { what: "user= grants alice her prefix", bridge_conf: "allow br0\nmanaged br0\nmac br0 user=fbh-alice 52:54:00:a1:*\n", alice_conf: None, bob: false, mac: "52:54:00:a1:00:01", granted: true },
        MacCase { what: "user=: alice outside her prefix", bridge_conf: "allow br0\nmanaged br0\nmac br0 user=fbh-alice 52:54:00:a1:*\n", alice_conf: None, bob: false, mac: "52:54:00:a2:00:09", granted: false },
        MacCase { what: "user=: bob inside alice's prefix", bridge_conf: "allow br0\nmanaged br0\nmac br0 user=fbh-alice 52:54:00:a1:*\n", alice_conf: None, bob: true, mac: "52:54:00:a1:00:02", granted: false },
        MacCase { what: "user=: bob anywhere", bridge_conf: "allow br0\nmanaged br0\nmac br0 user=fbh-alice 52:54:00:a1:*\n", alice_conf: None, bob: true, mac: "52:54:00:b0:00:03", granted: false },
        MacCase { what: "group= grants alice (supplementary group)", bridge_conf: "allow br0\nmanaged br0\nmac br0 group=fbh-staff 52:54:00:a2:*\n", alice_conf: None, bob: false, mac: "52:54:00:a2:00:01", granted: true },
        MacCase { what: "group=: alice outside the prefix", bridge_conf: "allow br0\nmanaged br0\nmac br0 group=fbh-staff 52:54:00:a2:*\n", alice_conf: None, bob: false, mac: "52:54:00:a1:00:07", granted: false },
        MacCase { what: "group=: bob is not in fbh-staff", bridge_conf: "allow br0\nmanaged br0\nmac br0 group=fbh-staff 52:54:00:a2:*\n", alice_conf: None, bob: true, mac: "52:54:00:a2:00:02", granted: false },
        MacCase { what: "group= of alice's primary group", bridge_conf: "allow br0\nmanaged br0\nmac br0 group=fbh-alice 52:54:00:a5:00:01\n", alice_conf: None, bob: false, mac: "52:54:00:a5:00:01", granted: true },
        MacCase { what: "exact address: the next one is not granted", bridge_conf: "allow br0\nmanaged br0\nmac br0 user=fbh-alice 52:54:00:a5:00:01\n", alice_conf: None, bob: false, mac: "52:54:00:a5:00:02", granted: false },
        MacCase { what: "per-user include grants alice", bridge_conf: "allow br0\nmanaged br0\nmac br0 none\ninclude /etc/qemu/alice.conf\n", alice_conf: Some("mac br0 52:54:00:a3:*\n"), bob: false, mac: "52:54:00:a3:00:01", granted: true },
        MacCase { what: "per-user include: alice outside it", bridge_conf: "allow br0\nmanaged br0\nmac br0 none\ninclude /etc/qemu/alice.conf\n", alice_conf: Some("mac br0 52:54:00:a3:*\n"), bob: false, mac: "52:54:00:a4:00:01", granted: false },
        MacCase { what: "per-user include: `none` restricts bob inside alice's prefix", bridge_conf: "allow br0\nmanaged br0\nmac br0 none\ninclude /etc/qemu/alice.conf\n", alice_conf: Some("mac br0 52:54:00:a3:*\n"), bob: true, mac: "52:54:00:a3:00:02", granted: false },
        MacCase { what: "per-user include: `none` restricts bob anywhere", bridge_conf: "allow br0\nmanaged br0\nmac br0 none\ninclude /etc/qemu/alice.conf\n", alice_conf: Some("mac br0 52:54:00:a3:*\n"), bob: true, mac: "52:54:00:b0:00:04", granted: false },
        MacCase { what: "per-user include without `none`: bob unrestricted (known limit)", bridge_conf: "allow br0\nmanaged br0\ninclude /etc/qemu/alice.conf\n", alice_conf: Some("mac br0 52:54:00:a3:*\n"), bob: true, mac: "52:54:00:b0:00:05", granted: true },
        MacCase { what: "mac all none: nobody", bridge_conf: "allow br0\nmanaged br0\nmac all none\n", alice_conf: None, bob: false, mac: "52:54:00:a1:00:09", granted: false },
    ];
    let mut macs: Vec<&str> = cases.iter().map(|c| c.mac).collect();
    macs.sort();
    macs.dedup();
    assert_eq!(macs.len(), cases.len(), "each case claims a MAC of its own");
    let env = env();
    let ns = Netns::with_bridges(&["br0"]);
    let mut held = Vec::new();
    for case in cases {
        ns.write_acl("bridge.conf", case.bridge_conf);
        let _ = fs::remove_file(ns.etc.join("alice.conf"));
        if let Some(text) = case.alice_conf {
            ns.write_acl_as("alice.conf", text, 0o640, 0, env.alice.gid);
        }
        let user = if case.bob { &env.bob } else { &env.alice };
        let arg = format!("--mac={}", case.mac);
        let out = as_user(&ns, user, &["--use-vnet", "--br=br0", "--fd={fd}", &arg]);
        eprintln!("case {}: {} {}: {:?}", case.what, user.name, case.mac, out.stderr);
        if case.granted {
            let tap = out.success(true);
            let entry = format!("{} dev {} sticky master br0 static", case.mac, tap.name());
            let fdb = ns.bridge("fdb show br br0");
            assert!(fdb.contains(&entry), "{}: {fdb}", case.what);
            held.push(tap);
        } else {
            let want = format!(
                "fdb-bridge-helper: failed to authorize bridge br0: no mac line in the acl grants you {} on this bridge",
                case.mac
            );
            out.failure_leaving(&ns, &[&want], &ns.taps_of(&held));
            assert!(
                !ns.bridge("fdb show br br0").contains(case.mac),
                "{}: a refused MAC has an entry",
                case.what
            );
        }
    }
}
