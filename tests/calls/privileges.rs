//! The privilege timeline of real calls, observed from outside with strace, and the
//! caller's supplementary groups surviving the drop.

use crate::common;

use common::{env, Call, Install, Netns};

/// Capability names as strace prints them, indexed by number (<linux/capability.h>).
const CAPS: [&str; 41] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

const TRACE: &str = "trace=openat,open,capset,setresuid,setresgid,setuid,setreuid,prctl,sendmsg";
/// What the dynamic loader and Rust's runtime open before main; anything else before the
/// uid change would be read as root.
const LOADER: [&str; 5] = [
    "/etc/ld.so.cache",
    "/lib/",
    "/lib64/",
    "/usr/lib/",
    "/proc/self/maps",
];
const NET_ADMIN_ONLY: &str = "{effective=1<<CAP_NET_ADMIN, permitted=1<<CAP_NET_ADMIN, inheritable=0}";
const NOTHING: &str = "{effective=0, permitted=0, inheritable=0}";

/// A successful managed call of `install` as alice under strace; the syscalls, pids stripped.
fn traced_call(install: Install) -> Vec<String> {
    let env = env();
    let ns = Netns::new();
    ns.add_bridge("br0");
    ns.write_acl("bridge.conf", "allow br0\nmanaged br0\n");
    let out = ns.run.join("strace.out");
    let args = ["--use-vnet", "--fd={fd}", "--br=br0", "--mac=52:54:00:0a:0b:0c"];
    let tap = Call::new(install, &env.alice, &args)
        .strace(out.clone(), TRACE)
        .run(&ns)
        .success(true);
    let entry = format!("52:54:00:0a:0b:0c dev {} sticky master br0 static", tap.name());
    assert!(ns.bridge("fdb show br br0").contains(&entry));
    let text = std::fs::read_to_string(&out).unwrap();
    text.lines()
        // strace pads results to a column: one space between words, as the asserts spell it.
        .map(|l| l.split_whitespace().skip(1).collect::<Vec<_>>().join(" "))
        .collect()
}

fn first(lines: &[String], what: &str, pred: impl Fn(&str) -> bool) -> usize {
    lines
        .iter()
        .position(|l| pred(l))
        .unwrap_or_else(|| panic!("no {what} in strace output:\n{}", lines.join("\n")))
}

fn opened_path(line: &str) -> Option<&str> {
    let rest = line
        .strip_prefix("openat(")
        .or_else(|| line.strip_prefix("open("))?;
    rest.split('"').nth(1)
}

/// The capability sets of our own bounding set, as names: what the helper starts with.
fn our_bounding_set() -> Vec<&'static str> {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let hex = status
        .lines()
        .find_map(|l| l.strip_prefix("CapBnd:"))
        .unwrap()
        .trim();
    let bits = u64::from_str_radix(hex, 16).unwrap();
    CAPS.iter()
        .enumerate()
        .filter(|(i, _)| bits & (1 << i) != 0)
        .map(|(_, n)| *n)
        .collect()
}

#[test]
fn setuid_timeline_tun_then_drop_then_acl_then_empty_caps_before_send() {
    let env = env();
    let lines = traced_call(Install::Setuid);
    let all = lines.join("\n");
    let (uid, gid) = (env.alice.uid, env.alice.gid);

    let tun = first(&lines, "open of /dev/net/tun", |l| {
        opened_path(l) == Some("/dev/net/tun")
    });
    assert!(!lines[tun].ends_with("= -1"), "tun open failed: {}", lines[tun]);
    let setresgid = first(&lines, "setresgid", |l| l.starts_with("setresgid("));
    let setresuid = first(&lines, "setresuid", |l| l.starts_with("setresuid("));
    assert!(
        lines[setresgid].starts_with(&format!("setresgid({gid}, {gid}, {gid}) = 0")),
        "{all}"
    );
    assert!(
        lines[setresuid].starts_with(&format!("setresuid({uid}, {uid}, {uid}) = 0")),
        "{all}"
    );
    assert_eq!(
        lines.iter().filter(|l| l.starts_with("setresuid(")).count(),
        1,
        "{all}"
    );
    assert!(
        tun < setresgid && setresgid < setresuid,
        "order tun < setresgid < setresuid:\n{all}"
    );

    // Before the uid change: only the loader, the runtime and /dev/net/tun are opened.
    for line in &lines[..setresuid] {
        if let Some(path) = opened_path(line) {
            let ok = path == "/dev/net/tun" || LOADER.iter().any(|p| path.starts_with(p));
            assert!(ok, "opened as root before setresuid: {line}\n{all}");
        }
        assert!(!line.contains("/etc/qemu"), "ACL touched as root: {line}");
    }

    // The bounding set is cut to CAP_NET_ADMIN while still root.
    for cap in our_bounding_set() {
        let drop = format!("prctl(PR_CAPBSET_DROP, {cap}) = 0");
        let at = lines.iter().position(|l| *l == drop);
        if cap == "CAP_NET_ADMIN" {
            assert_eq!(at, None, "CAP_NET_ADMIN dropped from the bounding set");
        } else {
            assert!(
                at.is_some_and(|i| i < setresuid),
                "{cap} not dropped before setresuid:\n{all}"
            );
        }
    }

    // Then CAP_NET_ADMIN alone, no_new_privs, not dumpable, all before the ACL is read.
    let acl = first(&lines, "open of the ACL", |l| {
        opened_path(l) == Some("/etc/qemu/bridge.conf")
    });
    assert!(setresuid < acl, "ACL opened before setresuid:\n{all}");
    let net_admin = first(&lines, "capset to CAP_NET_ADMIN", |l| {
        l.starts_with("capset(") && l.contains(NET_ADMIN_ONLY) && l.ends_with("= 0")
    });
    let nnp = first(&lines, "PR_SET_NO_NEW_PRIVS", |l| {
        l.starts_with("prctl(PR_SET_NO_NEW_PRIVS, 1")
    });
    let dumpable = first(&lines, "PR_SET_DUMPABLE 0", |l| {
        l.starts_with("prctl(PR_SET_DUMPABLE, SUID_DUMP_DISABLE) = 0")
    });
    for (what, at) in [
        ("capset", net_admin),
        ("no_new_privs", nnp),
        ("not dumpable", dumpable),
    ] {
        assert!(
            setresuid < at && at < acl,
            "{what} must come after setresuid, before the ACL:\n{all}"
        );
    }

    // One sendmsg (one byte, SCM_RIGHTS), after a capset to nothing.
    let sends: Vec<usize> = (0..lines.len())
        .filter(|i| lines[*i].starts_with("sendmsg("))
        .collect();
    assert_eq!(sends.len(), 1, "exactly one sendmsg:\n{all}");
    let send = &lines[sends[0]];
    assert!(
        send.contains("iov_len=1}") && send.contains("SCM_RIGHTS") && send.ends_with("= 1"),
        "{send}"
    );
    assert_nothing_held_at(&lines, sends[0]);
}

#[test]
fn filecaps_copy_never_changes_uid_and_holds_nothing_when_sending() {
    let lines = traced_call(Install::FileCaps);
    let all = lines.join("\n");
    assert!(
        !all.contains("setresuid(") && !all.contains("setuid("),
        "uid change with file caps:\n{all}"
    );
    let acl = first(&lines, "open of the ACL", |l| {
        opened_path(l) == Some("/etc/qemu/bridge.conf")
    });
    let net_admin = first(&lines, "capset to CAP_NET_ADMIN", |l| {
        l.starts_with("capset(") && l.contains(NET_ADMIN_ONLY) && l.ends_with("= 0")
    });
    let nnp = first(&lines, "PR_SET_NO_NEW_PRIVS", |l| {
        l.starts_with("prctl(PR_SET_NO_NEW_PRIVS, 1")
    });
    assert!(net_admin < acl && nnp < acl, "{all}");
    let send = first(&lines, "sendmsg", |l| l.starts_with("sendmsg("));
    assert_nothing_held_at(&lines, send);
}

/// The last capset before line `send` (the sendmsg) cleared every set, and succeeded.
fn assert_nothing_held_at(lines: &[String], send: usize) {
    let last_capset = lines[..send]
        .iter()
        .rposition(|l| l.starts_with("capset("))
        .expect("a capset before sendmsg");
    let line = &lines[last_capset];
    assert!(line.contains(NOTHING), "last capset before sendmsg: {line}");
    assert!(line.ends_with("= 0"), "{line}");
}

/// alice's primary group is fbh-alice; the include is readable only through her
/// supplementary group fbh-staff. bob, not a member, is refused.
#[test]
fn supplementary_groups_survive_the_drop() {
    let env = env();
    for install in [Install::Setuid, Install::FileCaps] {
        let ns = Netns::new();
        ns.add_bridge("br0");
        ns.write_acl("bridge.conf", "include /etc/qemu/staff.conf\n");
        ns.write_acl_as("staff.conf", "allow br0\n", 0o640, 0, env.staff_gid);
        let args = ["--fd={fd}", "--br=br0"];
        let tap = Call::new(install, &env.alice, &args).run(&ns).success(false);
        assert!(ns
            .ip("-o link show master br0")
            .contains(&format!(" {}: ", tap.name())));
        drop(tap);
        common::wait_for(3.0, || ns.taps().is_empty());
        let bob = Call::new(install, &env.bob, &args).run(&ns);
        bob.failure(
            &ns,
            &["failed to authorize bridge br0: access denied by acl file"],
        );
    }
}
