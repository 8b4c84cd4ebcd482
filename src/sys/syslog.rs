//! The audit log's socket: /dev/log, non-blocking, with a bounded wait. A syslog daemon
//! that stalls (or a caller who filled its queue) cannot hang QEMU, which waits for our
//! exit.
#![forbid(unsafe_code)]

use std::io::{self, Write};
use std::os::fd::AsFd;
use std::os::unix::net::{UnixDatagram, UnixStream};
use std::time::{Duration, Instant};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

pub(crate) const DEV_LOG: &str = "/dev/log";
/// How long one line may wait for room in the daemon's queue.
const BUDGET: Duration = Duration::from_millis(100);

pub(crate) enum Syslog {
    /// No syslog daemon (no /dev/log, or nobody listening): nothing is logged, by design.
    Absent,
    Failed(io::Error),
    Datagram(UnixDatagram),
    Stream(UnixStream),
}

impl Syslog {
    /// Connects to /dev/log: a datagram socket, or a stream one (some syslog-ng setups).
    pub(crate) fn connect() -> Self {
        match UnixDatagram::unbound().and_then(|s| s.connect(DEV_LOG).map(|()| s)) {
            Ok(socket) => nonblocking(socket, Self::Datagram, UnixDatagram::set_nonblocking),
            Err(e) if e.raw_os_error() == Some(libc::EPROTOTYPE) => match UnixStream::connect(DEV_LOG) {
                Ok(socket) => nonblocking(socket, Self::Stream, UnixStream::set_nonblocking),
                Err(e) => absent_or_failed(e),
            },
            Err(e) => absent_or_failed(e),
        }
    }

    /// Sends one formatted line, waiting at most [`BUDGET`] for room. An error means the
    /// line could not be written.
    pub(crate) fn send(self, line: &[u8]) -> io::Result<()> {
        let deadline = Instant::now() + BUDGET;
        match self {
            Self::Absent => Ok(()),
            Self::Failed(e) => Err(e),
            Self::Datagram(mut socket) => retry(&mut socket, deadline, |s| s.send(line).map(drop)),
            Self::Stream(mut socket) => {
                // NUL ends a message on a stream socket, as syslog daemons expect.
                for mut rest in [line, &[0]] {
                    while !rest.is_empty() {
                        let n = retry(&mut socket, deadline, |s| s.write(rest))?;
                        rest = &rest[n..];
                    }
                }
                Ok(())
            }
        }
    }
}

fn nonblocking<S>(socket: S, wrap: fn(S) -> Syslog, set: fn(&S, bool) -> io::Result<()>) -> Syslog {
    match set(&socket, true) {
        Ok(()) => wrap(socket),
        Err(e) => Syslog::Failed(e),
    }
}

fn absent_or_failed(e: io::Error) -> Syslog {
    match e.raw_os_error() {
        Some(libc::ENOENT | libc::ECONNREFUSED) => Syslog::Absent,
        _ => Syslog::Failed(e),
    }
}

/// `op` until it does not say EAGAIN, waiting for room until `deadline`.
fn retry<S: AsFd, T>(
    socket: &mut S,
    deadline: Instant,
    mut op: impl FnMut(&mut S) -> io::Result<T>,
) -> io::Result<T> {
    loop {
        match op(socket) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                let left = deadline.saturating_duration_since(Instant::now());
                let ms = u16::try_from(left.as_millis()).unwrap_or(u16::MAX);
                if ms == 0 {
                    return Err(e);
                }
                let mut fds = [PollFd::new(socket.as_fd(), PollFlags::POLLOUT)];
                match poll(&mut fds, PollTimeout::from(ms)) {
                    Ok(_) | Err(nix::errno::Errno::EINTR) => {}
                    Err(errno) => return Err(errno.into()),
                }
            }
            other => return other,
        }
    }
}
