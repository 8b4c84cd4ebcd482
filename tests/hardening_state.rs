//! Hostile process state, through the setuid copy run as alice: closed stdio, a hostile
//! environment, inherited fds, `--fd` values that cannot carry the tap, low rlimits,
//! SIGSTOP/SIGCONT, and the seccomp filter's place in the timeline.

mod common;

use std::fs;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::os::unix::net::{UnixDatagram, UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::call::call_via;
use common::direct::{in_ns, spawn, spawn_limited, Finished};
use common::{env, managed_args, random_mac, strs, trace, Call, Install, Netns, TapFd};
use nix::sys::signal::{kill, Signal};
use nix::sys::socket::{socket, AddressFamily, SockFlag, SockProtocol, SockType};
use nix::unistd::Pid;

/// Where the directly started helper finds its socket in the rlimit tests: a fixed
/// number, so that every run sees the same fd layout (0-2, the tun fd at 3, its own
/// fds from 4 up).
const SOCK_FD: RawFd = 10;
const DENIED: &str = "fdb-bridge-helper: failed to authorize bridge br9: access denied by acl file";
const INVALID: [&str; 2] = ["--br=br9", "--fd={fd}"];

/// br0 managed, br1 plain; br9 is not allowed.
fn setup() -> Netns {
    let ns = Netns::new();
    ns.add_bridge("br0");
    ns.add_bridge("br1");
    ns.write_acl("bridge.conf", "allow br0\nallow br1\nmanaged br0\n");
    ns
}

fn alice_call(args: &[&str]) -> Call<'static> {
    Call::new(Install::Setuid, &env().alice, args)
}

/// A managed call succeeded: the guest's static entry is on the returned tap.
fn assert_managed(ns: &Netns, tap: &TapFd, mac: &str) {
    let entry = format!("{mac} dev {} sticky master br0 static", tap.name());
    let fdb = ns.bridge("fdb show br br0");
    assert!(fdb.contains(&entry), "no {entry:?} in {fdb}");
}

/// No tap and no FDB entry for `mac` remain (the kernel removes both when the last fd of
/// the tap closes; poll briefly).
fn assert_nothing_left(ns: &Netns, mac: &str, held: &[String]) {
    let clean = || {
        let taps = ns.taps();
        taps.iter().all(|t| held.contains(t)) && !ns.bridge("fdb show br br0").contains(mac)
    };
    assert!(
        common::wait_for(3.0, clean),
        "left behind: taps {:?} (held {held:?}), fdb {}",
        ns.taps(),
        ns.bridge("fdb show br br0")
    );
}

/// Guards "fds 0-2 closed at exec are reopened before main": a valid request works with
/// any of them closed, an invalid one still exits 1 (its message is visible exactly when
/// stderr is open), and nothing the helper opens becomes fd 0, 1 or 2 (strace below).
#[test]
fn closed_stdio_at_exec() {
    let ns = setup();
    // (redirections applied to the exec, valid request?, stderr open?)
    let cases = [
        ("<&- >&- 2>&-", true, false),
        ("<&- >&- 2>&-", false, false),
        ("<&-", true, true),
        ("<&-", false, true),
        (">&-", false, true),
        ("2>&-", true, false),
        ("2>&-", false, false),
        ("<&- 2>&-", false, false),
    ];
    let mut held = Vec::new();
    for (redirect, valid, stderr_open) in cases {
        let script = format!("exec \"$0\" \"$@\" {redirect}");
        let mac = random_mac();
        let args = if valid {
            managed_args(&mac)
        } else {
            INVALID.map(String::from).to_vec()
        };
        let out = call_via(&ns, &alice_call(&strs(&args)), &["sh", "-c", &script]);
        eprintln!("{redirect} valid={valid}: {out:?}");
        match (valid, stderr_open) {
            (true, _) => {
                let tap = out.success(true);
                assert_managed(&ns, &tap, &mac);
                held.push(tap);
            }
            (false, true) => out.failure_leaving(&ns, &[DENIED], &ns.taps_of(&held)),
            (false, false) => {
                assert_eq!(out.code, Some(1), "{redirect}: {out:?}");
                assert!(out.fd.is_none() && out.stderr.is_empty(), "{out:?}");
            }
        }
    }

    // What the helper opens with 0-2 closed: only the reopened /dev/null or /dev/full may
    // take those numbers; /dev/net/tun, sockets and the ACL land at 3 or above.
    let out_file = ns.run.join("stdio.strace");
    let mac = random_mac();
    let args = managed_args(&mac);
    let call = alice_call(&strs(&args)).strace(out_file.clone(), "trace=execve,openat,open,socket");
    let tap = call_via(&ns, &call, &["sh", "-c", "exec \"$0\" \"$@\" <&- >&- 2>&-"]).success(true);
    assert_managed(&ns, &tap, &mac);
    let lines = trace::after_exec(&out_file, &env().setuid);
    let all = lines.join("\n");
    let mut reopened = Vec::new();
    for line in &lines {
        let (name, fd) = (trace::name(line), trace::retval(line));
        if !matches!(name, "openat" | "open" | "socket") || fd.map_or(true, |fd| fd < 0) {
            continue;
        }
        let fd = fd.unwrap();
        if fd <= 2 {
            assert!(
                line.contains("\"/dev/null\"") || line.contains("\"/dev/full\""),
                "fd {fd} given to {line}:\n{all}"
            );
            reopened.push(fd);
        }
    }
    reopened.sort();
    assert_eq!(
        reopened,
        vec![0, 1, 2],
        "0-2 reopened before anything else:\n{all}"
    );
    let tun = trace::first(&lines, "open of /dev/net/tun", |l| l.contains("\"/dev/net/tun\""));
    assert!(
        trace::retval(&lines[tun]).is_some_and(|fd| fd >= 3),
        "{}",
        lines[tun]
    );
}

/// Guards "the environment is never read": every variable an attacker would try, alone
/// and all at once; a valid request works and prints nothing, an invalid one prints the
/// same line as with a clean environment.
#[test]
fn hostile_environment_changes_nothing() {
    let ns = setup();
    let junk = ns.run.join("junk");
    fs::create_dir(&junk).unwrap();
    for lib in ["junk.so", "libc.so.6", "libgcc_s.so.1", "libnss_files.so.2"] {
        fs::write(junk.join(lib), b"\x7fELF this is not a library\n").unwrap();
    }
    let j = junk.display().to_string();
    let vars = vec![
        format!("LD_PRELOAD={j}/junk.so"),
        format!("LD_LIBRARY_PATH={j}"),
        format!("LD_AUDIT={j}/junk.so"),
        "LD_DEBUG=all".to_owned(),
        "LD_BIND_NOW=1".to_owned(),
        "GLIBC_TUNABLES=glibc.malloc.check=3:glibc.malloc.tcache_count=0".to_owned(),
        "MALLOC_CHECK_=3".to_owned(),
        "MALLOC_PERTURB_=165".to_owned(),
        "RUST_BACKTRACE=full".to_owned(),
        "RUST_LIB_BACKTRACE=1".to_owned(),
        "RUST_LOG=trace".to_owned(),
        "RUST_MIN_STACK=1".to_owned(),
        "LC_ALL=xx_YY".to_owned(),
        "LANG=xx_YY.UTF-8".to_owned(),
        "LANGUAGE=xx".to_owned(),
        format!("NLSPATH={j}/%N"),
        "PATH=/nonexistent".to_owned(),
        "IFS=x".to_owned(),
        "TZ=/etc/passwd".to_owned(),
        "HOME=/nonexistent".to_owned(),
        format!("TMPDIR={j}"),
        "HOSTALIASES=/etc/passwd".to_owned(),
        "LOCALDOMAIN=example.invalid".to_owned(),
        "RES_OPTIONS=debug".to_owned(),
        "NSS_FILES_passwd=/etc/shadow".to_owned(),
    ];
    let baseline = alice_call(&INVALID).run(&ns);
    baseline.failure(&ns, &[DENIED]);
    let mut sets: Vec<Vec<String>> = vars.iter().map(|v| vec![v.clone()]).collect();
    sets.push(vars.clone());
    let mut held = Vec::new();
    for set in sets {
        let wrapper: Vec<&str> = ["env"].into_iter().chain(strs(&set)).collect();
        let mac = random_mac();
        let args = managed_args(&mac);
        let out = call_via(&ns, &alice_call(&strs(&args)), &wrapper);
        eprintln!("{set:?}: {out:?}");
        let tap = out.success(true);
        assert_managed(&ns, &tap, &mac);
        held.push(tap);
        let out = call_via(&ns, &alice_call(&INVALID), &wrapper);
        assert_eq!(
            (
                out.code,
                out.stdout.as_str(),
                out.stderr.as_str(),
                out.fd.is_none()
            ),
            (baseline.code, "", baseline.stderr.as_str(), true),
            "{set:?}"
        );
    }
}

/// The 20 fds the helper inherits, and what the test keeps to check they were not used.
struct Inherited {
    given: Vec<OwnedFd>,
    /// Peers of given sockets and pipe ends: nothing may arrive on them.
    peers: Vec<OwnedFd>,
    files: Vec<PathBuf>,
}

fn inherited(ns: &Netns) -> Inherited {
    let (mut given, mut peers, mut files) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..4 {
        let path = ns.dir.join(format!("inherited-{i}"));
        fs::write(&path, b"untouched\n").unwrap();
        let file = fs::OpenOptions::new().read(true).write(true).open(&path).unwrap();
        given.push(OwnedFd::from(file));
        files.push(path);
    }
    given.push(OwnedFd::from(fs::File::open("/etc/hostname").unwrap()));
    for _ in 0..3 {
        let (a, b) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).unwrap();
        given.push(b); // the write end: the helper could write into it
        peers.push(a);
    }
    for _ in 0..3 {
        let (a, b) = UnixStream::pair().unwrap();
        given.push(OwnedFd::from(a));
        peers.push(OwnedFd::from(b));
    }
    let (a, b) = UnixDatagram::pair().unwrap();
    given.push(OwnedFd::from(a));
    peers.push(OwnedFd::from(b));
    let kinds = [
        (AddressFamily::Inet, SockType::Datagram, None),
        (AddressFamily::Inet, SockType::Stream, None),
        (
            AddressFamily::Netlink,
            SockType::Raw,
            Some(SockProtocol::NetlinkRoute),
        ),
        (AddressFamily::Unix, SockType::SeqPacket, None),
        (AddressFamily::Inet6, SockType::Datagram, None),
    ];
    for (family, kind, proto) in kinds {
        given.push(socket(family, kind, SockFlag::SOCK_CLOEXEC, proto).unwrap());
    }
    let listener = UnixListener::bind(ns.dir.join("inherited.sock")).unwrap();
    given.push(OwnedFd::from(listener));
    let (a, b) = UnixStream::pair().unwrap();
    given.push(OwnedFd::from(a));
    given.push(OwnedFd::from(b));
    assert_eq!(given.len(), 20);
    Inherited { given, peers, files }
}

/// Syscalls whose first argument is an fd.
const FD_CALLS: &[&str] = &[
    "read",
    "write",
    "readv",
    "writev",
    "pread64",
    "pwrite64",
    "close",
    "fcntl",
    "ioctl",
    "sendto",
    "sendmsg",
    "sendmmsg",
    "recvfrom",
    "recvmsg",
    "recvmmsg",
    "connect",
    "bind",
    "listen",
    "accept",
    "accept4",
    "getsockname",
    "getpeername",
    "getsockopt",
    "setsockopt",
    "shutdown",
    "lseek",
    "fstat",
    "newfstatat",
    "statx",
    "dup",
    "dup2",
    "dup3",
    "fchown",
    "fchmod",
    "fsync",
    "ftruncate",
    "getdents64",
    "splice",
    "sendfile",
];
/// Calls that create an fd without a close-on-exec flag at all.
const NO_CLOEXEC_FLAG: &[&str] = &[
    "dup",
    "dup2",
    "pipe",
    "accept",
    "creat",
    "eventfd",
    "epoll_create",
    "signalfd",
    "inotify_init",
];
/// Calls that create an fd and must say CLOEXEC.
const MUST_CLOEXEC: &[&str] = &[
    "open",
    "openat",
    "openat2",
    "socket",
    "socketpair",
    "accept4",
    "pipe2",
    "dup3",
    "memfd_create",
    "eventfd2",
    "epoll_create1",
    "signalfd4",
    "timerfd_create",
    "inotify_init1",
    "fanotify_init",
    "pidfd_open",
    "open_by_handle_at",
    "perf_event_open",
    "userfaultfd",
    "open_tree",
    "fsopen",
];

/// Guards "inherited fds are left alone and never used" and "everything we open is
/// O_CLOEXEC" (so neither the tap fd nor the netlink socket could reach a child): 20
/// inherited fds of every kind, a successful managed call under strace, and a look at
/// every system call it made.
#[test]
fn inherited_fds_are_never_used_and_every_fd_opened_is_cloexec() {
    let ns = setup();
    let fds = inherited(&ns);
    let numbers: Vec<RawFd> = fds.given.iter().map(|f| f.as_raw_fd()).collect();
    let out_file = ns.run.join("fds.strace");
    let mac = random_mac();
    let args = managed_args(&mac);
    let mut call = alice_call(&strs(&args)).strace(out_file.clone(), "trace=all");
    for fd in &numbers {
        call = call.keep(*fd);
    }
    let out = call.run(&ns);
    let sock = out.sock;
    let tap = out.success(true);
    assert_managed(&ns, &tap, &mac);

    let lines = trace::after_exec(&out_file, &env().setuid);
    let all = lines.join("\n");
    for line in &lines {
        let name = trace::name(line);
        if FD_CALLS.contains(&name) {
            let fd: Option<RawFd> = trace::first_arg(line).parse().ok();
            assert!(
                fd.map_or(true, |fd| !numbers.contains(&fd)),
                "the helper used an inherited fd: {line}\n{all}"
            );
        }
        for fd in line.split("fd=").skip(1) {
            let fd: Option<RawFd> = fd
                .split(|c: char| !c.is_ascii_digit())
                .next()
                .and_then(|n| n.parse().ok());
            assert!(
                fd.map_or(true, |fd| !numbers.contains(&fd)),
                "inherited fd in {line}"
            );
        }
        let created = trace::retval(line).is_some_and(|r| r >= 0);
        if created && NO_CLOEXEC_FLAG.contains(&name) {
            panic!("fd created without close-on-exec: {line}\n{all}");
        }
        if created && MUST_CLOEXEC.contains(&name) {
            assert!(
                line.contains("CLOEXEC"),
                "fd created without CLOEXEC: {line}\n{all}"
            );
        }
        if name == "fcntl" {
            assert!(!line.contains(", F_DUPFD,"), "F_DUPFD without CLOEXEC: {line}");
            if line.contains("F_SETFD") {
                assert!(line.contains("FD_CLOEXEC"), "close-on-exec cleared: {line}");
            }
        }
    }
    // The fds we know the helper holds: all CLOEXEC at creation.
    for what in ["\"/dev/net/tun\"", "AF_NETLINK", "\"/etc/qemu/bridge.conf\""] {
        let at = trace::first(&lines, what, |l| {
            l.contains(what) && trace::retval(l).is_some_and(|r| r >= 0)
        });
        assert!(lines[at].contains("CLOEXEC"), "{}", lines[at]);
    }
    // The only fd it sends on is --fd.
    let sends: Vec<&String> = lines.iter().filter(|l| trace::name(l) == "sendmsg").collect();
    assert_eq!(sends.len(), 1, "{all}");
    assert_eq!(trace::first_arg(sends[0]), sock.to_string());

    // Nothing arrived on the peers, nothing was written into the files.
    for peer in &fds.peers {
        let mut buf = [0u8; 16];
        let got = nix::sys::socket::recv(
            peer.as_raw_fd(),
            &mut buf,
            nix::sys::socket::MsgFlags::MSG_DONTWAIT,
        );
        let got = match got {
            Err(nix::errno::Errno::ENOTSOCK) => {
                nix::fcntl::fcntl(
                    peer.as_fd(),
                    nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
                )
                .unwrap();
                nix::unistd::read(peer.as_fd(), &mut buf)
            }
            other => other,
        };
        assert_eq!(
            got,
            Err(nix::errno::Errno::EAGAIN),
            "data on an inherited fd's peer"
        );
    }
    for file in &fds.files {
        assert_eq!(fs::read(file).unwrap(), b"untouched\n");
    }
}

/// Guards the `--fd` check and the send: an fd that is not a connected AF_UNIX stream
/// socket is refused before anything is created; one that passes the check but cannot
/// carry the tap (the peer gone) fails at the send with a message — not SIGPIPE — and
/// leaves no tap and no FDB entry.
#[test]
fn fd_values_that_cannot_carry_the_tap() {
    let ns = setup();
    let path = ns.dir.join("regular");
    fs::write(&path, b"").unwrap();
    let file = OwnedFd::from(fs::OpenOptions::new().read(true).write(true).open(&path).unwrap());
    let udp = socket(
        AddressFamily::Inet,
        SockType::Datagram,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .unwrap();
    let listening = OwnedFd::from(UnixListener::bind(ns.dir.join("listening.sock")).unwrap());
    let seqpacket = socket(
        AddressFamily::Unix,
        SockType::SeqPacket,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .unwrap();
    let dgram = socket(
        AddressFamily::Unix,
        SockType::Datagram,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .unwrap();
    let unconnected = socket(
        AddressFamily::Unix,
        SockType::Stream,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .unwrap();
    let (gone, ours) = UnixStream::pair().unwrap();
    drop(ours);
    let gone = OwnedFd::from(gone);
    let closed: RawFd = 200;
    let check = |fd: RawFd, why: &str| format!("fdb-bridge-helper: failed to check socket fd {fd}: {why}");
    let sent = |fd: RawFd, why: &str| format!(" to fd {fd}: {why}");
    // (fd given with --fd, inherited?, extra args, expected message parts)
    let cases: Vec<(RawFd, bool, Vec<&str>, Vec<String>)> = vec![
        (
            file.as_raw_fd(),
            true,
            vec![],
            vec![check(file.as_raw_fd(), "not a socket")],
        ),
        (
            udp.as_raw_fd(),
            true,
            vec![],
            vec![check(udp.as_raw_fd(), "not a unix socket")],
        ),
        (
            listening.as_raw_fd(),
            true,
            vec![],
            vec![check(listening.as_raw_fd(), "a listening socket")],
        ),
        (
            seqpacket.as_raw_fd(),
            true,
            vec![],
            vec![check(seqpacket.as_raw_fd(), "not a stream socket")],
        ),
        (
            dgram.as_raw_fd(),
            true,
            vec![],
            vec![check(dgram.as_raw_fd(), "not a stream socket")],
        ),
        (closed, false, vec![], vec![check(closed, "Bad file descriptor")]),
        (
            unconnected.as_raw_fd(),
            true,
            vec![],
            vec![check(unconnected.as_raw_fd(), "not connected")],
        ),
        (
            gone.as_raw_fd(),
            true,
            vec![],
            vec![
                "fdb-bridge-helper: failed to send tap".into(),
                sent(gone.as_raw_fd(), "Broken pipe"),
            ],
        ),
        (
            gone.as_raw_fd(),
            true,
            vec!["--fd=N"],
            vec!["fdb-bridge-helper: failed to parse arguments: duplicate --fd".into()],
        ),
    ];
    for (fd, inherit, extra, want) in cases {
        let mac = random_mac();
        let fd_arg = format!("--fd={fd}");
        let mac_arg = format!("--mac={mac}");
        let mut args = vec!["--use-vnet", "--br=br0", fd_arg.as_str(), mac_arg.as_str()];
        args.extend(
            extra
                .iter()
                .map(|a| if *a == "--fd=N" { fd_arg.as_str() } else { a }),
        );
        let mut call = alice_call(&args);
        if inherit {
            call = call.keep(fd);
        }
        let out = call.run(&ns);
        eprintln!("{args:?}: {out:?}");
        let want: Vec<&str> = want.iter().map(String::as_str).collect();
        out.failure(&ns, &want);
        assert_nothing_left(&ns, &mac, &[]);
    }
}

/// The outcome of one limited run, judged: `Ok(Some(tap))` success, `Ok(None)` a clean
/// failure, `Err(why)` anything else.
fn judge(ns: &Netns, mac: &str, run: Finished, allow_abort: bool) -> Result<Option<TapFd>, String> {
    let Finished { outcome: out, signal } = run;
    if out.stderr.contains("panicked") {
        return Err(format!("panic message: {:?}", out.stderr));
    }
    match (signal, out.code, out.fd) {
        (None, Some(0), Some(fd)) if out.stderr.is_empty() => {
            let tap = TapFd::new(fd, true);
            assert_managed(ns, &tap, mac);
            Ok(Some(tap))
        }
        (None, Some(1), None)
            if out.stderr.starts_with("fdb-bridge-helper: failed to ") && out.stderr.lines().count() == 1 =>
        {
            Ok(None)
        }
        // The dynamic loader, before `main` and before anything privileged: it cannot open
        // the libraries with no free fd. Exit 127, one line, nothing sent.
        (None, Some(127), None)
            if out.stderr.contains("error while loading shared libraries")
                && out.stderr.lines().count() == 1 =>
        {
            Ok(None)
        }
        (Some(libc::SIGABRT), None, None)
            if allow_abort && out.stderr.starts_with("memory allocation of ") =>
        {
            Ok(None)
        }
        (signal, code, fd) => Err(format!(
            "signal {signal:?}, exit {code:?}, fd sent: {}, stderr {:?}",
            fd.is_some(),
            out.stderr
        )),
    }
}

/// Guards "a low RLIMIT_NOFILE makes a step fail with its message": every limit from 0
/// to 12 open files either works completely or fails with exit 1 and one line, leaving
/// nothing — never a signal, never a panic. The lowest limits must fail.
#[test]
fn low_nofile_limits_fail_closed_with_a_message() {
    let ns = setup();
    let helper: &Path = &env().setuid;
    let results: Vec<(u64, Result<bool, String>)> = in_ns(&ns, "", || {
        let mut held = Vec::new();
        let mut results = Vec::new();
        for limit in 0..=12u64 {
            let mac = random_mac();
            let args = managed_args(&mac);
            let run = spawn_limited(
                helper,
                &strs(&args),
                Some(&env().alice),
                &[(libc::RLIMIT_NOFILE, limit)],
                Some(SOCK_FD),
            )
            .finish_signal();
            eprintln!("RLIMIT_NOFILE={limit}: {run:?}");
            let verdict = judge(&ns, &mac, run, false);
            if !matches!(verdict, Ok(Some(_))) {
                assert_nothing_left(&ns, &mac, &ns.taps_of(&held));
            }
            results.push((limit, verdict.map(|tap| tap.map(|t| held.push(t)).is_some())));
        }
        results
    });
    let bad: Vec<String> = results
        .iter()
        .filter_map(|(limit, r)| r.as_ref().err().map(|e| format!("RLIMIT_NOFILE={limit}: {e}")))
        .collect();
    assert!(bad.is_empty(), "not a clean outcome:\n{}", bad.join("\n"));
    assert_eq!(results[4].1, Ok(false), "RLIMIT_NOFILE=4 must fail");
    assert_eq!(results[12].1, Ok(true), "RLIMIT_NOFILE=12 must work");
}

/// How a run under a low RLIMIT_AS ended, in a word, for the summary.
fn class(run: &Finished) -> String {
    let first = run.outcome.stderr.lines().find(|l| !l.is_empty()).unwrap_or("");
    // Thread ids and line numbers vary; the kind of ending does not.
    let first: String = first
        .chars()
        .map(|c| if c.is_ascii_digit() { '#' } else { c })
        .collect();
    match (run.signal, run.outcome.code) {
        (Some(signal), _) => format!("signal {signal} {first:?}"),
        (None, Some(code)) => format!("exit {code} {first:?}"),
        (None, None) => unreachable!(),
    }
}

/// What std's runtime says when it cannot map the signal stack it sets up before `main`:
/// a limit that low stops the process before any of our code runs.
const RUNTIME_ALTSTACK: &str = "failed to allocate an alternative stack: Cannot allocate memory";

/// Guards the same for RLIMIT_AS, page by page through the 512 KiB below the smallest
/// limit under which a call works (found by bisection): every run there fails — exit
/// non-zero, no fd, nothing left — never by the seccomp filter (SIGSYS), and never with
/// a panic of ours. The runtimes fail first: the dynamic loader and glibc's start-up (SIGSEGV, or "Cannot
/// allocate TLS block") and then std's, which aborts with RUNTIME_ALTSTACK; both happen
/// before `main`, so nothing privileged has been done. (Further down the kernel cannot
/// even map the binary: execve fails past its point of no return, SIGSEGV.)
#[test]
fn low_address_space_limits_never_panic() {
    let ns = setup();
    let helper: &Path = &env().setuid;
    let (works_from, runs) = in_ns(&ns, "", || {
        let run = |kib: u64| {
            let mac = random_mac();
            let args = managed_args(&mac);
            let limits = [(libc::RLIMIT_AS, kib * 1024)];
            let run = spawn_limited(helper, &strs(&args), Some(&env().alice), &limits, Some(SOCK_FD))
                .finish_signal();
            (mac, run)
        };
        let works = |kib: u64| run(kib).1.outcome.code == Some(0);
        let (mut lo, mut hi) = (1024u64, 256 * 1024u64);
        assert!(
            !works(lo) && works(hi),
            "no call works at {lo} KiB, every call at {hi} KiB"
        );
        while hi - lo > 4 {
            let mid = (lo + hi) / 2 / 4 * 4;
            *(if works(mid) { &mut hi } else { &mut lo }) = mid;
        }
        let runs: Vec<(u64, String, Result<(), String>)> = (hi - 512..hi)
            .step_by(4)
            .map(|kib| {
                let (mac, run) = run(kib);
                let class = class(&run);
                let Finished { outcome: out, signal } = run;
                let before_main = signal == Some(libc::SIGABRT)
                    && out.stderr.contains("/library/std/src/")
                    && out.stderr.contains(RUNTIME_ALTSTACK);
                let verdict = if out.stderr.contains("panicked") && !before_main {
                    Err(format!("panic message: {:?}", out.stderr))
                } else if signal == Some(libc::SIGSYS) {
                    Err("killed by the seccomp filter (SIGSYS)".into())
                } else if out.code == Some(0) || out.fd.is_some() {
                    Err(format!("exit {:?}, fd sent: {}", out.code, out.fd.is_some()))
                } else {
                    Ok(())
                };
                assert_nothing_left(&ns, &mac, &[]);
                (kib, class, verdict)
            })
            .collect();
        (hi, runs)
    });
    eprintln!("a call works from RLIMIT_AS={works_from} KiB; below it:");
    let mut last = String::new();
    for (kib, class, _) in &runs {
        if *class != last {
            eprintln!("  from {kib} KiB: {class}");
            last.clone_from(class);
        }
    }
    let bad: Vec<String> = runs
        .iter()
        .filter_map(|(kib, _, r)| r.as_ref().err().map(|e| format!("RLIMIT_AS={kib} KiB: {e}")))
        .collect();
    assert!(bad.is_empty(), "not a clean failure:\n{}", bad.join("\n"));
}

/// Guards "SIGSTOP at any point leaves nothing wrong": each run is stopped 0-2 ms after
/// exec (mid-way: the helper takes a few ms), held stopped for 30 ms, continued, and must
/// complete as if nothing happened.
#[test]
fn sigstop_and_sigcont_mid_way_change_nothing() {
    let ns = setup();
    let helper: &Path = &env().setuid;
    let stopped_running = in_ns(&ns, "", || {
        let mut held = Vec::new();
        let mut stopped_running = 0;
        for i in 0..12u64 {
            let mac = random_mac();
            let args = managed_args(&mac);
            let pending = spawn(helper, &strs(&args), Some(&env().alice));
            let pid = Pid::from_raw(pending.pid());
            std::thread::sleep(Duration::from_micros(i * 2000 / 11));
            kill(pid, Signal::SIGSTOP).unwrap();
            std::thread::sleep(Duration::from_millis(30));
            let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            if stat.rsplit(") ").next().is_some_and(|s| s.starts_with('T')) {
                stopped_running += 1;
            }
            kill(pid, Signal::SIGCONT).unwrap();
            let tap = pending.finish().success(true);
            assert_managed(&ns, &tap, &mac);
            held.push(tap);
        }
        stopped_running
    });
    eprintln!("{stopped_running} of 12 runs were stopped before they finished");
    assert!(
        stopped_running >= 3,
        "the runs finished before SIGSTOP: nothing tested"
    );
}

/// Guards the seccomp filter's place (SECURITY.md step 7): installed after the ACL was
/// read and closed, before the first netlink request, exactly once, for a successful call
/// and for a refusal past it (another guest's MAC); both end by exit, not SIGSYS.
#[test]
fn seccomp_filter_sits_between_the_acl_and_netlink() {
    let ns = setup();
    let mac = random_mac();
    let mac_arg = format!("--mac={mac}");
    let owner = Call::new(Install::Setuid, &env().bob, &["--br=br0", "--fd={fd}", &mac_arg])
        .run(&ns)
        .success(false);
    let cases = [(random_mac(), true), (mac.clone(), false)];
    let mut held = vec![owner];
    for (claim, granted) in cases {
        let out_file = ns.run.join(format!("seccomp-{granted}.strace"));
        let args = managed_args(&claim);
        let out = alice_call(&strs(&args))
            .strace(
                out_file.clone(),
                "trace=execve,openat,open,read,close,prctl,seccomp,socket,sendto,sendmsg",
            )
            .run(&ns);
        let lines = trace::after_exec(&out_file, &env().setuid);
        let all = lines.join("\n");
        if granted {
            let tap = out.success(true);
            assert_managed(&ns, &tap, &claim);
            held.push(tap);
        } else {
            let want = format!("failed to add fdb entry {claim} on tap");
            out.failure_leaving(&ns, &[&want, &held[0].name()], &ns.taps_of(&held));
        }
        let acl = trace::first(&lines, "open of the ACL", |l| {
            l.starts_with("openat(") && l.contains("\"/etc/qemu/bridge.conf\"")
        });
        let acl_fd = trace::retval(&lines[acl]).unwrap();
        let closed = acl
            + trace::first(&lines[acl..], "close of the ACL", |l| {
                l == format!("close({acl_fd}) = 0")
            });
        let filters: Vec<usize> = (0..lines.len())
            .filter(|i| lines[*i].starts_with("seccomp(SECCOMP_SET_MODE_FILTER"))
            .collect();
        assert_eq!(filters.len(), 1, "one seccomp filter:\n{all}");
        let filter = filters[0];
        assert!(lines[filter].ends_with("= 0"), "{}", lines[filter]);
        let netlink = trace::first(&lines, "netlink request", |l| {
            l.starts_with("sendto(") && l.contains("nlmsg_type=")
        });
        assert!(
            closed < filter && filter < netlink,
            "ACL closed at {closed}, filter at {filter}, first netlink request at {netlink}:\n{all}"
        );
        assert!(
            lines[filter..]
                .iter()
                .all(|l| !l.starts_with("openat(") && !l.starts_with("open(")),
            "a file opened under the filter:\n{all}"
        );
    }
}
