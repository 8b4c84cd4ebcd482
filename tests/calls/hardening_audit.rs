//! The audit log: every decision, granted or refused, is one line to syslog (facility
//! authpriv, RFC 3164 framing) over /dev/log. The tests listen on a real socket: in a
//! mount namespace of the test's own, /dev is a private tmpfs with the few nodes the
//! helper needs (null, full, urandom, net/tun 0600) and the test's socket as /dev/log.
//! The host's /dev is never touched.

use crate::common;

use std::io::{ErrorKind, Read};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixDatagram, UnixListener};
use std::path::Path;

use common::direct::{in_ns, spawn, Pending};
use common::{env, Netns, Outcome, BR0_MANAGED_BR1_PLAIN};

/// A private /dev for the helper: what glibc, std and step 1 open, nothing else.
const PRIVATE_DEV: &str = "mount -t tmpfs -o mode=0755,size=64k fbh-dev /dev && \
     mknod -m 666 /dev/null c 1 3 && mknod -m 666 /dev/full c 1 7 && \
     mknod -m 444 /dev/urandom c 1 9 && mkdir -m 755 /dev/net && \
     mknod -m 600 /dev/net/tun c 10 200";

/// <84> and <85>: facility authpriv (10) * 8 + severity warning (4) / notice (5).
const WARNING: &str = "<84>";
const NOTICE: &str = "<85>";

fn setup() -> Netns {
    Netns::with_bridges(&["br0", "br1", "br2"]).with_acl(BR0_MANAGED_BR1_PLAIN)
}

/// /dev/log as a datagram socket anyone may write to, bound in the current (private)
/// mount namespace.
fn bind_dev_log() -> UnixDatagram {
    let log = UnixDatagram::bind("/dev/log").expect("bind /dev/log");
    std::fs::set_permissions("/dev/log", std::fs::Permissions::from_mode(0o666)).unwrap();
    log.set_nonblocking(true).unwrap();
    log
}

/// Every datagram queued on `log`.
fn drain(log: &UnixDatagram) -> Vec<Vec<u8>> {
    let mut all = Vec::new();
    let mut buf = vec![0u8; 65536];
    loop {
        match log.recv(&mut buf) {
            Ok(n) => all.push(buf[..n].to_vec()),
            Err(e) if e.kind() == ErrorKind::WouldBlock => return all,
            Err(e) => panic!("recv /dev/log: {e}"),
        }
    }
}

/// The setuid copy as alice, started directly in the private mount namespace.
fn run_alice(args: &[&str]) -> (Outcome, i32) {
    let helper: &Path = &env().setuid;
    let pending: Pending = spawn(helper, args, Some(&env().alice));
    let pid = pending.pid();
    (pending.finish(), pid)
}

/// Splits `<PRI>Mmm dd hh:mm:ss fdb-bridge-helper[PID]: MESSAGE` and checks the frame:
/// the priority, the timestamp's shape, the tag and the pid. Returns MESSAGE.
fn message(datagram: &[u8], priority: &str, pid: i32) -> String {
    let text = String::from_utf8(datagram.to_vec()).expect("UTF-8 datagram");
    let bad: Vec<char> = text.chars().filter(|c| c.is_control()).collect();
    assert!(bad.is_empty(), "control characters {bad:?} in {text:?}");
    let rest = text
        .strip_prefix(priority)
        .unwrap_or_else(|| panic!("expected priority {priority}: {text:?}"));
    let (stamp, rest) = rest.split_at(15);
    let shape: String = stamp
        .chars()
        .map(|c| if c.is_ascii_digit() { '9' } else { c })
        .collect();
    assert!(
        shape.len() == 15 && shape[3..].starts_with(" 99 99:99:99"),
        "timestamp {stamp:?} in {text:?}"
    );
    let tag = format!(" fdb-bridge-helper[{pid}]: ");
    rest.strip_prefix(&tag)
        .unwrap_or_else(|| panic!("expected {tag:?} after the timestamp: {text:?}"))
        .to_owned()
}

/// Guards the audit line of granted calls: one notice per call, with every field.
#[test]
fn granted_calls_log_one_notice_line_with_all_fields() {
    let ns = setup();
    let uid = env().alice.uid;
    in_ns(&ns, PRIVATE_DEV, || {
        let log = bind_dev_log();
        let (out, pid) = run_alice(&["--use-vnet", "--br=br0", "--fd={fd}", "--mac=52:54:00:ad:00:01"]);
        let tap = out.success(true);
        let lines = drain(&log);
        assert_eq!(lines.len(), 1, "one line per call: {lines:?}");
        let want = format!(
            "uid={uid} user=fbh-alice bridge=br0 tap={} mac=52:54:00:ad:00:01 mode=managed verdict=granted",
            tap.name()
        );
        assert_eq!(message(&lines[0], NOTICE, pid), want);

        // A plain bridge: --mac is ignored for the port, but logged as asked.
        let (out, pid) = run_alice(&["--br=br1", "--fd={fd}"]);
        let tap = out.success(false);
        let lines = drain(&log);
        assert_eq!(lines.len(), 1, "{lines:?}");
        let want = format!(
            "uid={uid} user=fbh-alice bridge=br1 tap={} mac=- mode=plain verdict=granted",
            tap.name()
        );
        assert_eq!(message(&lines[0], NOTICE, pid), want);
    });
}

/// Guards the audit line of refusals: a warning with the reason, both for a refusal
/// before the tap exists (the ACL) and for one after it (another guest's MAC, refused
/// past the seccomp filter: the log datagram must still be allowed there).
#[test]
fn refusals_log_one_warning_line_with_the_reason() {
    let ns = setup();
    let uid = env().alice.uid;
    in_ns(&ns, PRIVATE_DEV, || {
        let log = bind_dev_log();
        let (out, pid) = run_alice(&["--br=br2", "--fd={fd}"]);
        let reason = "failed to authorize bridge br2: access denied by acl file";
        assert_eq!(out.stderr, format!("fdb-bridge-helper: {reason}\n"));
        assert_eq!(out.code, Some(1));
        let lines = drain(&log);
        assert_eq!(lines.len(), 1, "{lines:?}");
        let want = format!(
            "uid={uid} user=fbh-alice bridge=br2 tap=- mac=- mode=- verdict=refused reason=\"{reason}\""
        );
        assert_eq!(message(&lines[0], WARNING, pid), want);

        let mac = "52:54:00:ad:00:02";
        let arg = format!("--mac={mac}");
        let (first, _) = run_alice(&["--br=br0", "--fd={fd}", &arg]);
        let first = first.success(false);
        drain(&log);
        let (out, pid) = run_alice(&["--br=br0", "--fd={fd}", &arg]);
        assert_eq!(out.code, Some(1), "{out:?}");
        let reason = out
            .stderr
            .trim_end()
            .strip_prefix("fdb-bridge-helper: ")
            .expect("one message line")
            .to_owned();
        assert!(reason.contains(&first.name()), "{reason}");
        let lines = drain(&log);
        assert_eq!(lines.len(), 1, "{lines:?}");
        let text = message(&lines[0], WARNING, pid);
        let head = format!("uid={uid} user=fbh-alice bridge=br0 tap=tap");
        let tail = format!(" mac={mac} mode=managed verdict=refused reason=\"{reason}\"");
        assert!(
            text.starts_with(&head) && text.ends_with(&tail),
            "{text:?}\nwant {head:?}…{tail:?}"
        );
    });
}

/// Guards the escaping: argv is the caller's, and nothing in it may reach the log raw —
/// no control character (C0, DEL, C1), so no forged second line and no terminal
/// sequence. Each call is refused, logs exactly one datagram, and the reason appears
/// escaped inside the one quoted `reason="…"` field.
#[test]
fn control_characters_in_argv_are_escaped_and_cannot_forge_a_line() {
    let ns = setup();
    let forged = "<85>Jan  1 00:00:00 fdb-bridge-helper[1]: uid=0 user=root bridge=br0 tap=tap0 mac=- mode=plain verdict=granted";
    let cases = [
        ("--br=a\nb".to_owned(), "invalid bridge name"),
        ("--foo=\x1b[2J".to_owned(), "unknown argument"),
        (format!("--br=x\n{forged}"), "invalid bridge name"),
        (format!("--br=x\r{forged}"), "invalid bridge name"),
        (
            "--mac=52:54:00:00:00:01\u{85}\u{9b}31m\u{7f}".to_owned(),
            "invalid --mac",
        ),
        (format!("--x=\n{forged}\n"), "unknown argument"),
    ];
    in_ns(&ns, PRIVATE_DEV, || {
        let log = bind_dev_log();
        for (arg, what) in &cases {
            let (out, pid) = run_alice(&["--br=br1", "--fd={fd}", arg]);
            assert_eq!(out.code, Some(1), "{arg:?}: {out:?}");
            assert!(out.fd.is_none());
            assert_eq!(out.stderr.lines().count(), 1, "{arg:?}: {:?}", out.stderr);
            let lines = drain(&log);
            assert_eq!(lines.len(), 1, "{arg:?}: one datagram: {lines:?}");
            let text = message(&lines[0], WARNING, pid);
            eprintln!("{arg:?} -> {text}");
            assert!(text.contains(what), "{text}");
            // The fields are ours; the caller's text is only inside the one quoted reason,
            // which it cannot close early: every quote in it is escaped.
            let head = format!(
                "uid={} user=fbh-alice bridge=- tap=- mac=- mode=- verdict=refused reason=\"",
                env().alice.uid
            );
            let quoted = text
                .strip_prefix(&head)
                .and_then(|r| r.strip_suffix('"'))
                .unwrap_or_else(|| panic!("{text:?} is not {head:?}…\""));
            assert!(unescaped_quote(quoted).is_none(), "{text}");
        }
    });
}

/// The byte offset of a `"` in `quoted` that no backslash escapes, if any.
fn unescaped_quote(quoted: &str) -> Option<usize> {
    let mut escaped = false;
    for (i, c) in quoted.char_indices() {
        match (c, escaped) {
            ('"', false) => return Some(i),
            ('\\', false) => escaped = true,
            _ => escaped = false,
        }
    }
    None
}

/// Guards the stream fallback: a /dev/log that is a stream socket (EPROTOTYPE on the
/// datagram connect) gets the same line, NUL-terminated; writing it past the seccomp
/// filter must not kill the helper.
#[test]
fn a_stream_dev_log_gets_the_line_too() {
    let ns = setup();
    in_ns(&ns, PRIVATE_DEV, || {
        let listener = UnixListener::bind("/dev/log").expect("bind /dev/log");
        std::fs::set_permissions("/dev/log", std::fs::Permissions::from_mode(0o666)).unwrap();
        let (out, pid) = run_alice(&["--br=br0", "--fd={fd}", "--mac=52:54:00:ad:00:03"]);
        let tap = out.success(false);
        let (mut conn, _) = listener.accept().expect("the helper connected");
        let mut bytes = Vec::new();
        conn.read_to_end(&mut bytes).unwrap();
        assert_eq!(bytes.pop(), Some(0), "NUL-terminated: {bytes:?}");
        let text = message(&bytes, NOTICE, pid);
        assert!(
            text.ends_with(&format!(
                "tap={} mac=52:54:00:ad:00:03 mode=managed verdict=granted",
                tap.name()
            )),
            "{text}"
        );
    });
}

/// Guards "no /dev/log means no log line, never a failed request": the private /dev has
/// no log socket at all, and a valid request still succeeds with its fd.
#[test]
fn without_dev_log_requests_still_succeed() {
    let ns = setup();
    in_ns(&ns, PRIVATE_DEV, || {
        assert!(!Path::new("/dev/log").exists());
        let (out, _) = run_alice(&["--use-vnet", "--br=br0", "--fd={fd}", "--mac=52:54:00:ad:00:04"]);
        let tap = out.success(true);
        let (out, _) = run_alice(&["--br=br1", "--fd={fd}"]);
        let plain = out.success(false);
        assert_ne!(tap.name(), plain.name());
        let (out, _) = run_alice(&["--br=br2", "--fd={fd}"]);
        assert_eq!(
            (out.code, out.stderr.as_str()),
            (
                Some(1),
                "fdb-bridge-helper: failed to authorize bridge br2: access denied by acl file\n"
            )
        );
    });
}
