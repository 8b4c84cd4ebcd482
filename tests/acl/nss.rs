//! Callers from any NSS source: a user and groups that exist only in a real non-files
//! source (libnss-extrausers, listed after Debian's stock `systemd`), and a uid and gids
//! that no source knows (container uids). The setuid copy must resolve the first by name,
//! match the second by number only (`user=#UID`, `group=#GID`), and never crash or fail
//! because of either. A statically linked glibc died with SIGSEGV in libnss_systemd for
//! every one of these callers, `--help` included.

use crate::common;

use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};

use common::direct::{in_ns, spawn};
use common::nss::{extrausers, getent, run_as_ids, DIR_USER, UNKNOWN_GID, UNKNOWN_SUPP_GID, UNKNOWN_UID};
use common::{env, Call, Install, Netns, Outcome, Run, TapFd, TestUser};

/// Who calls: uid, gid, supplementary gids.
type Ids<'a> = (u32, u32, &'a [u32]);

const DIR: Ids<'static> = (DIR_USER.uid, DIR_USER.gid, &[DIR_USER.gid, DIR_USER.lab_gid]);
const GHOST: Ids<'static> = (UNKNOWN_UID, UNKNOWN_GID, &[UNKNOWN_SUPP_GID]);

/// A namespace with bridges `br0` and `br1` and the extrausers source in place; checks
/// the premises with getent: the directory user resolves, the unknown ids do not.
fn setup() -> (Netns, Vec<(PathBuf, PathBuf)>) {
    let ns = Netns::new();
    ns.add_bridge("br0");
    ns.add_bridge("br1");
    let binds = extrausers(&ns);
    let u = &DIR_USER;
    let entry = getent(&ns, &binds, "passwd", &u.uid.to_string());
    assert!(entry.is_some_and(|e| e.starts_with(&format!("{}:", u.name))));
    let lab = getent(&ns, &binds, "group", u.lab).expect("extrausers group");
    assert!(lab.starts_with(&format!("{}:x:{}:", u.lab, u.lab_gid)), "{lab}");
    assert_eq!(
        getent(&ns, &[], "passwd", u.name),
        None,
        "only in the test's namespace"
    );
    for (db, id) in [
        ("passwd", UNKNOWN_UID),
        ("group", UNKNOWN_GID),
        ("group", UNKNOWN_SUPP_GID),
    ] {
        assert_eq!(
            getent(&ns, &binds, db, &id.to_string()),
            None,
            "{db} {id} must be unknown"
        );
    }
    (ns, binds)
}

fn call(ns: &Netns, binds: &[(PathBuf, PathBuf)], (uid, gid, groups): Ids, args: &[&str]) -> Outcome {
    Call {
        install: Install::Setuid,
        run: run_as_ids(Install::Setuid, uid, gid, groups, binds),
        args: args.iter().map(|a| a.to_string()).collect(),
        keep: Vec::new(),
    }
    .run(ns)
}

/// A `mac` line on managed br0 and a MAC claimed under it.
struct Case {
    what: &'static str,
    line: String,
    mac: &'static str,
    granted: bool,
}

fn case(what: &'static str, line: String, mac: &'static str, granted: bool) -> Case {
    Case {
        what,
        line,
        mac,
        granted,
    }
}

/// Runs every case as `who` and reports all that went wrong at once (on a build that
/// crashes, every case shows `exit None`: a signal): a grant is exit 0, nothing on stderr, the fd, and the
/// static entry on its tap; a refusal is exit 1 (not a signal), the one-line message, no
/// fd, no entry and no new tap.
fn check(ns: &Netns, binds: &[(PathBuf, PathBuf)], who: Ids, cases: &[Case]) {
    let mut held: Vec<TapFd> = Vec::new();
    let mut wrong = Vec::new();
    for c in cases {
        ns.write_acl("bridge.conf", &format!("allow br0\nmanaged br0\n{}\n", c.line));
        let arg = format!("--mac={}", c.mac);
        let out = call(ns, binds, who, &["--use-vnet", "--br=br0", "--fd={fd}", &arg]);
        let fdb = ns.bridge("fdb show br br0");
        let got = format!("exit {:?}, stderr {:?}", out.code, out.stderr);
        eprintln!("case {}: {got}", c.what);
        if c.granted {
            match (out.code, out.stderr.is_empty(), out.fd) {
                (Some(0), true, Some(fd)) => {
                    let tap = TapFd::new(fd, true);
                    let entry = format!("{} dev {} sticky master br0 static", c.mac, tap.name());
                    if !fdb.contains(&entry) {
                        wrong.push(format!("{}: granted, but no `{entry}` in {fdb:?}", c.what));
                    }
                    held.push(tap);
                }
                _ => wrong.push(format!("{}: expected a grant, got {got}", c.what)),
            }
            continue;
        }
        let want = format!(
            "fdb-bridge-helper: failed to authorize bridge br0: no mac line in the acl grants you {} on this bridge\n",
            c.mac
        );
        let refused = out.code == Some(1) && out.stderr == want && out.fd.is_none();
        if !refused || fdb.contains(c.mac) || ns.taps().len() != held.len() {
            wrong.push(format!("{}: expected the one-line refusal, got {got}", c.what));
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {} cases wrong:\n{}",
        wrong.len(),
        cases.len(),
        wrong.join("\n")
    );
}

/// Guards name resolution through a non-files source listed after `systemd`: a user and
/// groups known only to extrausers match `user=NAME` and `group=NAME` (primary and
/// supplementary) lines and their `#ID` spellings; lines naming others refuse.
#[test]
fn directory_user_matches_by_name_and_number() {
    let (ns, binds) = setup();
    let u = &DIR_USER;
    #[rustfmt::skip]
    let cases = [
        case("user=NAME grants", format!("mac br0 user={} 52:54:00:d1:*", u.name), "52:54:00:d1:00:01", true),
        case("user=NAME: outside the prefix", format!("mac br0 user={} 52:54:00:d1:*", u.name), "52:54:00:d9:00:01", false),
        case("group=NAME, supplementary", format!("mac br0 group={} 52:54:00:d2:*", u.lab), "52:54:00:d2:00:01", true),
        case("group=NAME, primary", format!("mac br0 group={} 52:54:00:d3:*", u.name), "52:54:00:d3:00:01", true),
        case("user=#UID of a named user", format!("mac br0 user=#{} 52:54:00:d4:*", u.uid), "52:54:00:d4:00:01", true),
        case("group=#GID of a named group", format!("mac br0 group=#{} 52:54:00:d5:*", u.lab_gid), "52:54:00:d5:00:01", true),
        case("user= of another user", "mac br0 user=fbh-alice 52:54:00:d6:*".into(), "52:54:00:d6:00:01", false),
        case("group= the user is not in", "mac br0 group=fbh-staff 52:54:00:d7:*".into(), "52:54:00:d7:00:01", false),
    ];
    check(&ns, &binds, DIR, &cases);
}

/// Guards callers that no source knows: a `group=NAME` line is a plain refusal (exit 1,
/// one line), `user=NAME` never matches them, and sudo's `#UID`/`#GID` spellings match the
/// uid, the real gid and a supplementary gid.
#[test]
fn unknown_ids_match_numeric_lines_only() {
    let (ns, binds) = setup();
    #[rustfmt::skip]
    let cases = [
        case("group=NAME: refused, no crash", "mac br0 group=fbh-staff 52:54:00:e1:*".into(), "52:54:00:e1:00:01", false),
        case("user=NAME: refused", "mac br0 user=fbh-alice 52:54:00:e2:*".into(), "52:54:00:e2:00:01", false),
        case("user=#UID grants", format!("mac br0 user=#{UNKNOWN_UID} 52:54:00:e3:*"), "52:54:00:e3:00:01", true),
        case("group=#GID, real gid", format!("mac br0 group=#{UNKNOWN_GID} 52:54:00:e4:*"), "52:54:00:e4:00:01", true),
        case("group=#GID, supplementary", format!("mac br0 group=#{UNKNOWN_SUPP_GID} 52:54:00:e5:*"), "52:54:00:e5:00:01", true),
        case("user=#UID of someone else", format!("mac br0 user=#{} 52:54:00:e6:*", UNKNOWN_UID + 1), "52:54:00:e6:00:01", false),
        case("the uid is not a gid", format!("mac br0 group=#{UNKNOWN_UID} 52:54:00:e7:*"), "52:54:00:e7:00:01", false),
    ];
    check(&ns, &binds, GHOST, &cases);
}

/// Guards the group walk past a gid no source knows: alice (in /etc/passwd) with an extra
/// unknown supplementary gid still matches her named groups.
#[test]
fn unknown_supplementary_gid_does_not_hide_named_groups() {
    let (ns, binds) = setup();
    let env = env();
    let groups = [env.alice.gid, env.staff_gid, UNKNOWN_SUPP_GID];
    let alice: Ids = (env.alice.uid, env.alice.gid, &groups);
    #[rustfmt::skip]
    let cases = [
        case("group=NAME, supplementary", "mac br0 group=fbh-staff 52:54:00:f1:*".into(), "52:54:00:f1:00:01", true),
        case("user=NAME", "mac br0 user=fbh-alice 52:54:00:f2:*".into(), "52:54:00:f2:00:01", true),
        case("group=NAME she is not in", format!("mac br0 group={} 52:54:00:f3:*", DIR_USER.lab), "52:54:00:f3:00:01", false),
        case("group=#GID, the unknown one", format!("mac br0 group=#{UNKNOWN_SUPP_GID} 52:54:00:f4:*"), "52:54:00:f4:00:01", true),
    ];
    check(&ns, &binds, alice, &cases);
}

/// Guards the paths with no `mac` line: a plain bridge and `--help` work for a caller no
/// source knows.
#[test]
fn unknown_ids_get_a_plain_port_and_help() {
    let (ns, binds) = setup();
    let help = call(&ns, &binds, GHOST, &["--help"]);
    assert_eq!(
        (help.code, help.stderr.as_str(), help.fd.is_none()),
        (Some(0), "", true)
    );
    assert!(
        help.stdout.starts_with("usage: fdb-bridge-helper"),
        "{:?}",
        help.stdout
    );

    ns.write_acl("bridge.conf", "allow br1\n");
    let tap = call(&ns, &binds, GHOST, &["--br=br1", "--fd={fd}"]).success(false);
    let link = ns.ip(&format!("-o link show dev {}", tap.name()));
    assert!(link.contains("master br1"), "{link}");
}

/// A private /dev with the nodes the helper opens, plus the NSS bind mounts.
fn private_dev_and(binds: &[(PathBuf, PathBuf)]) -> String {
    let mut script = String::from(
        "mount -t tmpfs -o mode=0755,size=64k fbh-dev /dev && \
         mknod -m 666 /dev/null c 1 3 && mknod -m 666 /dev/full c 1 7 && \
         mknod -m 444 /dev/urandom c 1 9 && mkdir -m 755 /dev/net && \
         mknod -m 600 /dev/net/tun c 10 200",
    );
    for (source, target) in binds {
        script.push_str(&format!(
            " && mount --bind {} {}",
            source.display(),
            target.display()
        ));
    }
    script
}

/// Guards the audit line of a caller no source knows: the uid as a number, `user=?`,
/// for a grant and for a refusal.
#[test]
fn unknown_uid_is_logged_by_number() {
    let (ns, binds) = setup();
    ns.write_acl(
        "bridge.conf",
        "allow br1\nallow br0\nmanaged br0\nmac br0 group=fbh-staff 52:*\n",
    );
    let ghost = TestUser {
        name: "(none)",
        uid: UNKNOWN_UID,
        gid: UNKNOWN_GID,
    };
    let helper: &Path = &env().setuid;
    in_ns(&ns, &private_dev_and(&binds), || {
        let log = UnixDatagram::bind("/dev/log").expect("bind /dev/log");
        std::fs::set_permissions("/dev/log", std::os::unix::fs::PermissionsExt::from_mode(0o666)).unwrap();
        let mut buf = vec![0u8; 4096];
        let mut next = || {
            let n = log.recv(&mut buf).expect("one audit line");
            String::from_utf8(buf[..n].to_vec()).unwrap()
        };

        let tap = spawn(helper, &["--br=br1", "--fd={fd}"], Some(&ghost))
            .finish()
            .success(false);
        let want = format!(
            ": uid={UNKNOWN_UID} user=? bridge=br1 tap={} mac=- mode=plain verdict=granted",
            tap.name()
        );
        let line = next();
        assert!(line.starts_with("<85>") && line.ends_with(&want), "{line:?}");

        let args = ["--use-vnet", "--br=br0", "--fd={fd}", "--mac=52:54:00:e9:00:01"];
        let out = spawn(helper, &args, Some(&ghost)).finish();
        assert_eq!(out.code, Some(1), "{out:?}");
        let line = next();
        let want = format!(
            ": uid={UNKNOWN_UID} user=? bridge=br0 tap=- mac=52:54:00:e9:00:01 mode=- verdict=refused"
        );
        assert!(line.starts_with("<84>") && line.contains(&want), "{line:?}");
    });
}

/// Guards the cost: a `group=#GID` line needs the gids only, so no group database is
/// read; a `group=NAME` line reads one (the control). Counted as the files the helper
/// opens, traced with strace as the directory user.
#[test]
fn numeric_group_lines_need_no_group_lookup() {
    let (ns, binds) = setup();
    let user = TestUser {
        name: DIR_USER.name,
        uid: DIR_USER.uid,
        gid: DIR_USER.gid,
    };
    let group_opens = |line: &str, mac: &str| {
        ns.write_acl("bridge.conf", &format!("allow br0\nmanaged br0\n{line}\n"));
        let trace = ns.run.join(format!("trace-{mac}"));
        let run = Run {
            user: Some(&user),
            strace: Some((trace.clone(), "trace=openat".into())),
            binds: binds.clone(),
            ..Run::default()
        };
        let arg = format!("--mac={mac}");
        let args = ["--use-vnet", "--br=br0", "--fd={fd}", &arg]
            .map(String::from)
            .to_vec();
        let call = Call {
            install: Install::Setuid,
            run,
            args,
            keep: Vec::new(),
        };
        let tap = call.run(&ns).success(true);
        let text = std::fs::read_to_string(&trace).unwrap();
        assert!(
            text.contains("\"/var/lib/extrausers/passwd\""),
            "the user is looked up: {text}"
        );
        drop(tap);
        text.lines()
            .filter(|l| l.contains("\"/etc/group\"") || l.contains("\"/var/lib/extrausers/group\""))
            .count()
    };
    let numeric = group_opens(
        &format!("mac br0 group=#{} 52:*", DIR_USER.lab_gid),
        "52:54:00:c1:00:01",
    );
    assert_eq!(numeric, 0, "group=#GID read a group database");
    let named = group_opens(
        &format!("mac br0 group={} 52:*", DIR_USER.lab),
        "52:54:00:c1:00:02",
    );
    assert!(named > 0, "the control: group=NAME must read the group databases");
}
