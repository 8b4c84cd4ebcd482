//! `SocketFd`: the unix socket QEMU gave us, checked once, and the one message we send.

use std::fmt;
use std::io::{self, IoSlice};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use nix::sys::socket::{
    getpeername, getsockname, getsockopt, sendmsg, sockopt, AddressFamily, ControlMessage, MsgFlags,
    SockType, SockaddrLike, SockaddrStorage,
};
use nix::sys::stat::{fstat, SFlag};

use crate::text::Reason;

/// An open, connected AF_UNIX stream socket that is not stdin, stdout or stderr.
pub struct SocketFd {
    fd: OwnedFd,
}

#[derive(Debug)]
pub enum SocketError {
    Stdio,
    Io(io::Error),
    NotSocket,
    NotUnix,
    NotStream,
    Listening,
    NotConnected,
}

impl fmt::Display for SocketError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Stdio => f.write_str("0, 1 and 2 are stdin, stdout and stderr"),
            Self::Io(e) => Reason(e).fmt(f),
            Self::NotSocket => f.write_str("not a socket"),
            Self::NotUnix => f.write_str("not a unix socket"),
            Self::NotStream => f.write_str("not a stream socket"),
            Self::Listening => f.write_str("a listening socket"),
            Self::NotConnected => f.write_str("not connected"),
        }
    }
}

impl From<nix::errno::Errno> for SocketError {
    fn from(errno: nix::errno::Errno) -> Self {
        Self::Io(errno.into())
    }
}

impl SocketFd {
    /// Checks what `number` names before taking ownership of it. The only fd this process
    /// has opened by then is /dev/net/tun, which is not a socket, so a socket here can only
    /// be one the caller handed us.
    pub fn adopt(number: i32) -> Result<Self, SocketError> {
        if (0..=2).contains(&number) {
            return Err(SocketError::Stdio);
        }
        // SAFETY: F_GETFD only queries the fd table; any number is a valid argument.
        if unsafe { libc::fcntl(number, libc::F_GETFD) } < 0 {
            return Err(SocketError::Io(io::Error::last_os_error()));
        }
        // SAFETY: fcntl() just showed that `number` is open, and nothing in this process
        // closes it while `fd` is in use below.
        let fd = unsafe { BorrowedFd::borrow_raw(number) };
        check(fd)?;
        // SAFETY: `number` is open (above) and is a socket, so it is not the tun fd, the
        // only fd this process owns; from here on `SocketFd` is its sole owner.
        let fd = unsafe { OwnedFd::from_raw_fd(number) };
        Ok(Self { fd })
    }

    /// One data byte carrying the tap fd in SCM_RIGHTS, as QEMU's recv_fd() expects.
    /// MSG_NOSIGNAL: a vanished peer is an error message, not a SIGPIPE.
    pub fn send(&self, tap: BorrowedFd<'_>) -> io::Result<()> {
        let fds = [tap.as_raw_fd()];
        let iov = [IoSlice::new(&[0])];
        let cmsg = [ControlMessage::ScmRights(&fds)];
        let sent = sendmsg::<()>(self.fd.as_raw_fd(), &iov, &cmsg, MsgFlags::MSG_NOSIGNAL, None)?;
        if sent != 1 {
            return Err(io::Error::new(io::ErrorKind::WriteZero, "short send"));
        }
        Ok(())
    }
}

fn check(fd: BorrowedFd<'_>) -> Result<(), SocketError> {
    let stat = fstat(fd)?;
    if SFlag::from_bits_truncate(stat.st_mode) & SFlag::S_IFMT != SFlag::S_IFSOCK {
        return Err(SocketError::NotSocket);
    }
    let addr: SockaddrStorage = getsockname(fd.as_raw_fd())?;
    if addr.family() != Some(AddressFamily::Unix) {
        return Err(SocketError::NotUnix);
    }
    if getsockopt(&fd, sockopt::SockType)? != SockType::Stream {
        return Err(SocketError::NotStream);
    }
    if getsockopt(&fd, sockopt::AcceptConn)? {
        return Err(SocketError::Listening);
    }
    // Refused here rather than at the send, before any tap exists. A peer that closes
    // later still fails the send (EPIPE).
    match getpeername::<SockaddrStorage>(fd.as_raw_fd()) {
        Err(nix::errno::Errno::ENOTCONN) => Err(SocketError::NotConnected),
        other => other.map(drop).map_err(SocketError::from),
    }
}
