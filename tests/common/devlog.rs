//! /dev/log servers for the audit tests, bound inside a private /dev (see
//! [`PRIVATE_DEV`] and [`super::direct::in_ns`]): a datagram socket the test reads, one
//! that is never read and whose queue is full (a stalled syslog daemon), and a stream
//! socket that also reports any fd a client passes it.

use std::io::{ErrorKind, IoSliceMut};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixDatagram, UnixListener, UnixStream};

use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};

/// A private /dev for the helper: what glibc, std and step 1 open, nothing else. Run it as
/// the `setup` of [`super::direct::in_ns`]; the host's /dev is never touched.
pub const PRIVATE_DEV: &str = "mount -t tmpfs -o mode=0755,size=64k fbh-dev /dev && \
     mknod -m 666 /dev/null c 1 3 && mknod -m 666 /dev/full c 1 7 && \
     mknod -m 444 /dev/urandom c 1 9 && mkdir -m 755 /dev/net && \
     mknod -m 600 /dev/net/tun c 10 200";

fn world_writable() {
    std::fs::set_permissions("/dev/log", std::fs::Permissions::from_mode(0o666)).unwrap();
}

/// /dev/log as a non-blocking datagram socket anyone may write to.
pub fn datagram() -> UnixDatagram {
    let log = UnixDatagram::bind("/dev/log").expect("bind /dev/log");
    world_writable();
    log.set_nonblocking(true).unwrap();
    log
}

/// Every datagram queued on `log`.
pub fn drain(log: &UnixDatagram) -> Vec<Vec<u8>> {
    let mut all = Vec::new();
    let mut buf = vec![0u8; 1 << 18];
    loop {
        match log.recv(&mut buf) {
            Ok(n) => all.push(buf[..n].to_vec()),
            Err(e) if e.kind() == ErrorKind::WouldBlock => return all,
            Err(e) => panic!("recv /dev/log: {e}"),
        }
    }
}

/// A syslog daemon that has stopped reading: /dev/log is bound and never read, and its
/// queue is already full, so a blocking send to it waits forever. Keep both sockets.
pub struct Stalled {
    pub log: UnixDatagram,
    pub filler: UnixDatagram,
    /// Datagrams queued before the queue refused more (EAGAIN).
    pub queued: usize,
}

pub fn stalled() -> Stalled {
    let log = datagram();
    let filler = UnixDatagram::unbound().unwrap();
    filler.connect("/dev/log").expect("connect /dev/log");
    filler.set_nonblocking(true).unwrap();
    let mut queued = 0;
    loop {
        match filler.send(b"<13>Jan  1 00:00:00 filler: x") {
            Ok(_) => queued += 1,
            Err(e) if e.kind() == ErrorKind::WouldBlock => break,
            Err(e) => panic!("fill /dev/log: {e}"),
        }
        assert!(queued < 1_000_000, "the /dev/log queue never filled");
    }
    assert!(queued > 0);
    Stalled { log, filler, queued }
}

/// /dev/log as a listening stream socket (some syslog-ng setups).
pub fn stream() -> UnixListener {
    let listener = UnixListener::bind("/dev/log").expect("bind /dev/log");
    world_writable();
    listener.set_nonblocking(true).unwrap();
    listener
}

/// What one stream client sent until it closed: the bytes, and every fd passed in
/// SCM_RIGHTS (received here, so they stay open while the test looks at them).
#[derive(Debug)]
pub struct Received {
    pub bytes: Vec<u8>,
    pub fds: Vec<OwnedFd>,
}

/// Reads `conn` to its end, collecting passed fds.
pub fn read_all(conn: &UnixStream) -> Received {
    conn.set_nonblocking(false).unwrap();
    let mut out = Received {
        bytes: Vec::new(),
        fds: Vec::new(),
    };
    let mut buf = vec![0u8; 65536];
    loop {
        let mut iov = [IoSliceMut::new(&mut buf)];
        let mut space = nix::cmsg_space!([RawFd; 8]);
        let msg = recvmsg::<()>(
            conn.as_raw_fd(),
            &mut iov,
            Some(&mut space),
            MsgFlags::MSG_CMSG_CLOEXEC,
        )
        .expect("recvmsg on /dev/log");
        for cmsg in msg.cmsgs().expect("cmsgs") {
            if let ControlMessageOwned::ScmRights(fds) = cmsg {
                // SAFETY: the kernel just installed these fds in this process; nothing else owns them.
                out.fds
                    .extend(fds.into_iter().map(|fd| unsafe { OwnedFd::from_raw_fd(fd) }));
            }
        }
        let n = msg.bytes;
        if n == 0 {
            return out;
        }
        out.bytes.extend_from_slice(&buf[..n]);
    }
}

/// Every client that connected to `listener` so far, read to its end.
pub fn accept_all(listener: &UnixListener) -> Vec<Received> {
    let mut all = Vec::new();
    loop {
        match listener.accept() {
            Ok((conn, _)) => all.push(read_all(&conn)),
            Err(e) if e.kind() == ErrorKind::WouldBlock => return all,
            Err(e) => panic!("accept on /dev/log: {e}"),
        }
    }
}
