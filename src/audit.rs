//! The audit log: one line per request to syslog, facility authpriv, granted or refused.
//! Written over a non-blocking socket with a bounded wait: a syslog daemon that stalls
//! (or a caller who filled its queue) cannot hang QEMU, which waits for us to exit.

use std::fmt::Write as _;
use std::io::{self, Write as _};
use std::os::fd::AsFd;
use std::os::unix::net::{UnixDatagram, UnixStream};
use std::time::{Duration, Instant};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::unistd::getuid;
use syslog::{Facility, Formatter3164, LogFormat, Severity};

use crate::ifname::IfName;
use crate::mac::MacAddr;
use crate::text::{clip, escape, shown};

pub const DEV_LOG: &str = "/dev/log";
/// How long one line may wait for room in the daemon's queue.
const BUDGET: Duration = Duration::from_millis(100);
/// Bounds per field and per line: a refusal can quote 128 KiB of argv.
const MAX_USER: usize = 64;
const MAX_REASON: usize = 1024;
const MAX_LINE: usize = 3072;

/// What is known of the request so far; `run` fills it in step by step.
#[derive(Debug, Default)]
pub struct Fields {
    pub uid: u32,
    pub user: Option<String>,
    pub bridge: Option<IfName>,
    pub mac: Option<MacAddr>,
    pub managed: Option<bool>,
    pub tap: Option<IfName>,
}

enum Sink {
    NotConnected,
    /// No syslog daemon (no /dev/log, or nobody listening): nothing is logged, by design.
    Absent,
    Failed(io::Error),
    Datagram(UnixDatagram),
    Stream(UnixStream),
}

pub struct Audit {
    sink: Sink,
    pub fields: Fields,
}

impl Default for Audit {
    fn default() -> Self {
        Self::new()
    }
}

impl Audit {
    pub fn new() -> Self {
        let fields = Fields {
            uid: getuid().as_raw(),
            ..Fields::default()
        };
        Self {
            sink: Sink::NotConnected,
            fields,
        }
    }

    /// Connects to /dev/log once: a datagram socket, or a stream one (some syslog-ng
    /// setups). Called only after `--fd` was checked, so `--fd` can never name this socket,
    /// and before the seccomp filter, which allows no new unix socket.
    pub fn connect(&mut self) {
        if !matches!(self.sink, Sink::NotConnected) {
            return;
        }
        self.sink = match UnixDatagram::unbound().and_then(|s| s.connect(DEV_LOG).map(|()| s)) {
            Ok(socket) => nonblocking(socket, Sink::Datagram, UnixDatagram::set_nonblocking),
            Err(e) if e.raw_os_error() == Some(libc::EPROTOTYPE) => match UnixStream::connect(DEV_LOG) {
                Ok(socket) => nonblocking(socket, Sink::Stream, UnixStream::set_nonblocking),
                Err(e) => absent_or_failed(e),
            },
            Err(e) => absent_or_failed(e),
        };
    }

    /// Logs the verdict, waiting at most [`BUDGET`]. An error means the line could not be
    /// written; the request's outcome never depends on it.
    pub fn record(mut self, refusal: Option<&str>) -> io::Result<()> {
        self.connect();
        let severity = match refusal {
            None => Severity::LOG_NOTICE,
            Some(_) => Severity::LOG_WARNING,
        };
        let formatter = Formatter3164 {
            facility: Facility::LOG_AUTHPRIV,
            hostname: None,
            process: "fdb-bridge-helper".into(),
            pid: std::process::id(),
        };
        let mut bytes = Vec::with_capacity(256);
        formatter
            .format(&mut bytes, severity, line(&self.fields, refusal))
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
        let deadline = Instant::now() + BUDGET;
        match self.sink {
            Sink::NotConnected | Sink::Absent => Ok(()),
            Sink::Failed(e) => Err(e),
            Sink::Datagram(mut socket) => retry(&mut socket, deadline, |s| s.send(&bytes).map(drop)),
            Sink::Stream(mut socket) => {
                bytes.push(0); // the stream framing syslog daemons expect
                let mut rest = &bytes[..];
                while !rest.is_empty() {
                    let n = retry(&mut socket, deadline, |s| s.write(rest))?;
                    rest = &rest[n..];
                }
                Ok(())
            }
        }
    }
}

fn nonblocking<S>(socket: S, wrap: fn(S) -> Sink, set: fn(&S, bool) -> io::Result<()>) -> Sink {
    match set(&socket, true) {
        Ok(()) => wrap(socket),
        Err(e) => Sink::Failed(e),
    }
}

fn absent_or_failed(e: io::Error) -> Sink {
    match e.raw_os_error() {
        Some(libc::ENOENT | libc::ECONNREFUSED) => Sink::Absent,
        _ => Sink::Failed(e),
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

/// One line, `key=value` pairs, bounded; every unprintable character escaped, so that
/// nothing a caller puts in argv can forge a second line, reorder what is shown or make
/// the line too long to be written.
pub fn line(fields: &Fields, refusal: Option<&str>) -> String {
    let mut out = format!(
        "uid={} user={}",
        fields.uid,
        fields.user.as_deref().map_or("?".into(), |u| shown(u, MAX_USER))
    );
    let opt = |v: Option<String>| v.unwrap_or_else(|| "-".into());
    let _ = write!(
        out,
        " bridge={}",
        opt(fields.bridge.as_ref().map(ToString::to_string))
    );
    let _ = write!(out, " tap={}", opt(fields.tap.as_ref().map(ToString::to_string)));
    let _ = write!(out, " mac={}", opt(fields.mac.map(|m| m.to_string())));
    let mode = fields.managed.map(|m| if m { "managed" } else { "plain" });
    let _ = write!(out, " mode={}", mode.unwrap_or("-"));
    match refusal {
        None => out.push_str(" verdict=granted"),
        Some(reason) => {
            let _ = write!(out, " verdict=refused reason={:?}", clip(reason, MAX_REASON));
        }
    }
    clip(&escape(&out), MAX_LINE).into_owned()
}

#[cfg(test)]
mod tests;
