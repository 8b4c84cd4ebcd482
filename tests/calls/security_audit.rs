//! The audit log as an attack surface: a syslog daemon that stops reading must not hang
//! QEMU's start, `--fd` must not name the helper's own syslog connection, and what the
//! caller puts in argv reaches neither the log nor stderr raw (no Unicode control or
//! format character: no bidi override hiding text, no zero-width character) or unbounded.
//! Each test runs in a private /dev whose /dev/log is the test's own socket.

use crate::common;

use std::path::Path;
use std::time::Duration;

use common::devlog::{self, PRIVATE_DEV};
use common::direct::{in_ns, spawn, spawn_limited};
use common::{env, Netns, Outcome, TapFd, BR0_MANAGED_BR1_PLAIN};

const MAC_ARG: &str = "--mac=52:54:00:ad:01:01";

fn setup() -> Netns {
    Netns::with_bridges(&["br0", "br1"]).with_acl(BR0_MANAGED_BR1_PLAIN)
}

fn helper() -> &'static Path {
    &env().setuid
}

fn run_alice(args: &[&str]) -> Outcome {
    spawn(helper(), args, Some(&env().alice)).finish()
}

/// Point 6: a syslog daemon whose queue is full (it stopped reading) delays nothing: the
/// granted call completes within 2 s and says once on stderr that the line was lost.
/// Without any /dev/log a granted call prints nothing at all.
#[test]
fn a_stalled_syslog_does_not_hang_a_granted_call() {
    let ns = setup();
    in_ns(&ns, PRIVATE_DEV, || {
        assert!(!Path::new("/dev/log").exists());
        let tap = run_alice(&["--use-vnet", "--br=br0", "--fd={fd}", MAC_ARG]).success(true);
        drop(tap);

        let stalled = devlog::stalled();
        let pending = spawn(
            helper(),
            &["--use-vnet", "--br=br0", "--fd={fd}", MAC_ARG],
            Some(&env().alice),
        );
        let timed = pending.finish_within(Duration::from_secs(5));
        let out = &timed.finished.outcome;
        let seen = format!(
            "/dev/log full after {} datagrams; the call took {:?} (killed at the limit: {}); \
             fd sent: {}; code {:?}, signal {:?}, stderr {:?}",
            stalled.queued,
            timed.elapsed,
            timed.killed,
            out.fd.is_some(),
            out.code,
            timed.finished.signal,
            out.stderr
        );
        assert!(!timed.killed && timed.elapsed < Duration::from_secs(2), "{seen}");
        assert_eq!(out.code, Some(0), "{seen}");
        assert!(out.fd.is_some(), "{seen}");
        assert_eq!(out.stderr.lines().count(), 1, "{seen}");
        assert!(out.stderr.contains("failed to write audit line"), "{seen}");
    });
    assert_eq!(ns.taps(), Vec::<String>::new(), "taps left");
}

/// What the helper's own stream connection to /dev/log gets as its fd number when the
/// helper starts with 0-2 open and its `--fd` socket far away (found with strace on the
/// helper as it was): 3 is /dev/net/tun, 4 the datagram socket whose connect fails with
/// EPROTOTYPE, 5 the stream socket that follows.
const OWN_SYSLOG_FD: i32 = 5;
/// Where the test puts the QEMU-side socket the helper is not told about.
const FAR_FD: i32 = 100;

/// Point 7: `--fd` naming the helper's own connection to a stream /dev/log is refused
/// like any fd that is not the caller's socket, and the syslog daemon never gets the tap.
#[test]
fn an_fd_naming_the_helpers_own_syslog_socket_is_refused() {
    let ns = setup();
    let fd_arg = format!("--fd={OWN_SYSLOG_FD}");
    let (out, received) = in_ns(&ns, PRIVATE_DEV, || {
        let listener = devlog::stream();
        let args = ["--use-vnet", "--br=br0", fd_arg.as_str(), MAC_ARG];
        let pending = spawn_limited(helper(), &args, Some(&env().alice), &[], Some(FAR_FD));
        let timed = pending.finish_within(Duration::from_secs(5));
        assert!(!timed.killed, "hung: {:?}", timed.finished.outcome);
        let received = devlog::accept_all(&listener);
        (timed.finished, received)
    });
    let fds: usize = received.iter().map(|r| r.fds.len()).sum();
    let taps: Vec<String> = received
        .iter()
        .flat_map(|r| &r.fds)
        .map(|fd| TapFd::new(fd.try_clone().unwrap(), true).name())
        .collect();
    let seen = format!(
        "code {:?}, signal {:?}, stderr {:?}; the /dev/log peer got {fds} fd(s) {taps:?} over {} \
         connection(s)",
        out.outcome.code,
        out.signal,
        out.outcome.stderr,
        received.len()
    );
    assert!(
        !received.is_empty(),
        "the helper never connected to /dev/log: {seen}"
    );
    assert_eq!(fds, 0, "{seen}");
    assert_eq!(out.outcome.code, Some(1), "{seen}");
    let want = format!("failed to check socket fd {OWN_SYSLOG_FD}");
    assert!(out.outcome.stderr.contains(&want), "{seen}");
    drop(received);
    out.outcome.failure(&ns, &[&want]);
}

/// Unicode categories Cc and Cf (as of Unicode 15), plus the line and paragraph
/// separators: characters that reorder, hide or break what a reader of the log sees.
fn invisible(c: char) -> bool {
    const CF: &[(u32, u32)] = &[
        (0xad, 0xad),
        (0x600, 0x605),
        (0x61c, 0x61c),
        (0x6dd, 0x6dd),
        (0x70f, 0x70f),
        (0x890, 0x891),
        (0x8e2, 0x8e2),
        (0x180e, 0x180e),
        (0x200b, 0x200f),
        (0x2028, 0x202e),
        (0x2060, 0x2064),
        (0x2066, 0x206f),
        (0xfeff, 0xfeff),
        (0xfff9, 0xfffb),
        (0x110bd, 0x110bd),
        (0x110cd, 0x110cd),
        (0x13430, 0x1343f),
        (0x1bca0, 0x1bca3),
        (0x1d173, 0x1d17a),
        (0xe0001, 0xe0001),
        (0xe0020, 0xe007f),
    ];
    let n = c as u32;
    c.is_control() || CF.iter().any(|&(lo, hi)| (lo..=hi).contains(&n))
}

/// Whether `text` shows `c` escaped: its code point (`\u{202e}`, `\u202e`, `U+202E`) or
/// its UTF-8 bytes (`\xe2\x80\xae`) in hex.
fn shows_escaped(text: &str, c: char) -> bool {
    let text = text.to_ascii_lowercase();
    let n = c as u32;
    let mut utf8 = [0u8; 4];
    let bytes: String = c
        .encode_utf8(&mut utf8)
        .bytes()
        .map(|b| format!("{b:02x}"))
        .collect();
    [format!("u{{{n:x}}}"), format!("u{n:04x}"), format!("u+{n:04x}")]
        .iter()
        .any(|form| text.contains(form))
        || text.replace("\\x", "").contains(&bytes)
}

/// What is wrong with `text`: raw invisible characters, more than 4 KiB, and (with
/// `escaped`) an invisible character of `arg` not shown escaped.
fn problems(what: &str, text: &str, arg: &str, escaped: bool) -> Vec<String> {
    let mut found = Vec::new();
    let raw: Vec<String> = text
        .chars()
        .filter(|c| invisible(*c))
        .map(|c| format!("U+{:04X}", c as u32))
        .collect();
    if !raw.is_empty() {
        found.push(format!("{arg:?}: raw {raw:?} in {what} {text:?}"));
    }
    for c in arg.chars().filter(|c| escaped && invisible(*c)) {
        if !shows_escaped(text, c) {
            found.push(format!(
                "{arg:?}: U+{:04X} not shown escaped in {what} {text:?}",
                c as u32
            ));
        }
    }
    if text.len() > 4096 {
        found.push(format!("{arg:?}: {what} is {} bytes", text.len()));
    }
    found
}

/// Point 8: bidi overrides and zero-width characters in argv, wherever they are (a bridge
/// name the ACL then refuses, an unknown argument, a MAC), reach the log line and stderr
/// only escaped.
#[test]
fn format_characters_in_argv_are_escaped_in_the_log_and_on_stderr() {
    let ns = setup();
    let calls: [&[&str]; 6] = [
        &["--br=br\u{202e}0", "--fd={fd}"],
        &["--br=b\u{2066}r\u{feff}0", "--fd={fd}"],
        &["--br=\u{200b}br0", "--fd={fd}", MAC_ARG],
        &[
            "--br=br1",
            "--fd={fd}",
            "--x\u{202e}\u{200b}\u{2066}\u{feff}\u{85}\u{2028}=1",
        ],
        &["--br=br0", "--fd={fd}", "--mac=52:54:00:00:00:01\u{202e}\u{200b}"],
        &["--br=br\u{2028}0", "--fd={fd}"],
    ];
    let found = in_ns(&ns, PRIVATE_DEV, || {
        let log = devlog::datagram();
        let mut found = Vec::new();
        for args in calls {
            let out = run_alice(args);
            let arg = args[0].to_owned() + " " + args[args.len() - 1];
            assert_eq!((out.code, out.fd.is_none()), (Some(1), true), "{arg:?}: {out:?}");
            let stderr = out.stderr.strip_suffix('\n').unwrap_or(&out.stderr);
            found.extend(problems("stderr", stderr, &arg, false));
            let lines = devlog::drain(&log);
            assert_eq!(lines.len(), 1, "{arg:?}: one datagram: {lines:?}");
            let line = String::from_utf8(lines[0].clone()).expect("UTF-8 line");
            assert!(line.contains("verdict=refused"), "{line:?}");
            found.extend(problems("the audit line", &line, &arg, true));
        }
        found
    });
    assert!(
        found.is_empty(),
        "{} problems:\n{}",
        found.len(),
        found.join("\n")
    );
    assert_eq!(ns.taps(), Vec::<String>::new(), "taps left");
}

/// Point 8: a 120 KiB argument still gives one audit line of at most 4 KiB, and stderr
/// stays as short. Of control characters, escaping makes several times that: more than a
/// datagram may carry (EMSGSIZE), and the refusal would go unlogged.
#[test]
fn a_huge_argument_gives_one_bounded_audit_line() {
    let ns = setup();
    let mut found = Vec::new();
    for fill in ["a", "\u{1}"] {
        let huge = format!("--x={}", fill.repeat(120 * 1024));
        let (out, lines) = in_ns(&ns, PRIVATE_DEV, || {
            let log = devlog::datagram();
            let out = run_alice(&["--br=br1", "--fd={fd}", &huge]);
            (out, devlog::drain(&log))
        });
        let sizes: Vec<usize> = lines.iter().map(Vec::len).collect();
        let refused = lines
            .iter()
            .all(|l| String::from_utf8_lossy(l).contains("verdict=refused"));
        let good = out.code == Some(1)
            && matches!(sizes.as_slice(), [n] if *n <= 4096)
            && refused
            && out.stderr.len() <= 4096
            && out.stderr.lines().count() == 1;
        if !good {
            found.push(format!(
                "120 KiB of {fill:?}: code {:?}, stderr {} bytes, audit datagrams of {sizes:?} bytes",
                out.code,
                out.stderr.len()
            ));
        }
    }
    assert!(found.is_empty(), "{}", found.join("\n"));
    assert_eq!(ns.taps(), Vec::<String>::new(), "taps left");
}
