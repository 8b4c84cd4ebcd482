//! Inherited fds of every kind are never used, and every fd the helper opens is close-on-exec.

use super::*;

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
    let mac = Mac::random().to_string();
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
