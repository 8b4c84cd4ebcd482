//! `--fd` values that cannot carry the tap.

use super::*;

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
        let mac = Mac::random().to_string();
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
