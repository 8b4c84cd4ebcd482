//! `SocketFd`: the unix socket QEMU gave us, checked once, and the one message we send.

use std::io::{self, IoSlice};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use nix::sys::socket::{
    getsockname, getsockopt, sendmsg, sockopt, AddressFamily, ControlMessage, MsgFlags, SockType,
    SockaddrLike, SockaddrStorage,
};
use nix::sys::stat::{fstat, SFlag};

/// An open AF_UNIX stream socket that is not stdin, stdout or stderr, and not listening.
pub struct SocketFd {
    fd: OwnedFd,
}

impl SocketFd {
    /// Checks what `number` names before taking ownership of it. The only fd this process
    /// has opened by then is /dev/net/tun, which is not a socket, so a socket here can only
    /// be one the caller handed us.
    pub fn adopt(number: i32) -> Result<Self, String> {
        if (0..=2).contains(&number) {
            return Err("0, 1 and 2 are stdin, stdout and stderr".into());
        }
        // SAFETY: F_GETFD only queries the fd table; any number is a valid argument.
        if unsafe { libc::fcntl(number, libc::F_GETFD) } < 0 {
            return Err(io::Error::last_os_error().to_string());
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

    /// Step 8: one data byte carrying the tap fd in SCM_RIGHTS, as QEMU's recv_fd() expects.
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

fn check(fd: BorrowedFd<'_>) -> Result<(), String> {
    let stat = fstat(fd).map_err(|e| e.to_string())?;
    if SFlag::from_bits_truncate(stat.st_mode) & SFlag::S_IFMT != SFlag::S_IFSOCK {
        return Err("not a socket".into());
    }
    let addr: SockaddrStorage = getsockname(fd.as_raw_fd()).map_err(|e| e.to_string())?;
    if addr.family() != Some(AddressFamily::Unix) {
        return Err("not a unix socket".into());
    }
    if getsockopt(&fd, sockopt::SockType).map_err(|e| e.to_string())? != SockType::Stream {
        return Err("not a stream socket".into());
    }
    if getsockopt(&fd, sockopt::AcceptConn).map_err(|e| e.to_string())? {
        return Err("a listening socket".into());
    }
    Ok(())
}
