//! One variant per step of `run`, each printing `failed to <step> <object>: <reason>`.
#![forbid(unsafe_code)]

use std::fmt;
use std::io;

use crate::cli::ArgError;
use crate::ifname::IfName;
use crate::mac::MacAddr;
use crate::policy::Denial;
use crate::sys::socket::SocketError;
use crate::{acl, netlink};

#[derive(Debug)]
pub enum Error {
    OpenTun {
        source: io::Error,
    },
    DropPrivileges {
        reason: String,
    },
    Args {
        source: ArgError,
    },
    CheckSocket {
        fd: i32,
        source: SocketError,
    },
    Acl {
        source: acl::Error,
    },
    Authorize {
        bridge: IfName,
        denial: Denial,
    },
    Confine {
        reason: String,
    },
    OpenNetlink {
        source: io::Error,
    },
    LookUpBridge {
        bridge: IfName,
        source: netlink::LookupError,
    },
    CreateTap {
        source: io::Error,
    },
    Enslave {
        tap: IfName,
        bridge: IfName,
        source: io::Error,
    },
    AddFdb {
        mac: MacAddr,
        tap: IfName,
        source: netlink::ClaimError,
    },
    ManagePort {
        tap: IfName,
        locked: bool,
        source: io::Error,
    },
    DropCapabilities {
        reason: String,
    },
    SendFd {
        tap: IfName,
        fd: i32,
        source: io::Error,
    },
}

/// `text` with every control character escaped (`\n`, `\u{1b}`), for text from outside
/// (argv, the kernel's interface names) on its way to a terminal or a log line.
pub fn escape_controls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// An io::Error as strerror() says it, without std's " (os error N)".
pub struct Reason<'a>(pub &'a io::Error);

impl fmt::Display for Reason<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = self.0.to_string();
        match (self.0.raw_os_error(), text.rfind(" (os error ")) {
            (Some(_), Some(end)) => f.write_str(&text[..end]),
            _ => f.write_str(&text),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::OpenTun { source } => write!(f, "failed to open /dev/net/tun: {}", Reason(source)),
            Self::DropPrivileges { reason } => write!(f, "failed to drop privileges: {reason}"),
            Self::Args { source } => write!(f, "failed to parse arguments: {source}"),
            Self::CheckSocket { fd, source } => write!(f, "failed to check socket fd {fd}: {source}"),
            Self::Acl { source } => source.fmt(f),
            Self::Authorize { bridge, denial } => write!(f, "failed to authorize bridge {bridge}: {denial}"),
            Self::Confine { reason } => write!(f, "failed to install seccomp filter: {reason}"),
            Self::OpenNetlink { source } => write!(f, "failed to open rtnetlink socket: {}", Reason(source)),
            Self::LookUpBridge { bridge, source } => write!(f, "failed to look up bridge {bridge}: {source}"),
            Self::CreateTap { source } => write!(f, "failed to create tap: {}", Reason(source)),
            Self::Enslave { tap, bridge, source } => {
                write!(f, "failed to add {tap} to bridge {bridge}: {}", Reason(source))
            }
            Self::AddFdb { mac, tap, source } => {
                write!(f, "failed to add fdb entry {mac} on {tap}: {source}")
            }
            Self::ManagePort { tap, locked, source } => {
                let lock = if *locked { ", locked on" } else { "" };
                write!(
                    f,
                    "failed to set port flags (learning off, flood off{lock}) on {tap}: {}",
                    Reason(source)
                )
            }
            Self::DropCapabilities { reason } => write!(f, "failed to drop CAP_NET_ADMIN: {reason}"),
            Self::SendFd { tap, fd, source } => {
                write!(f, "failed to send {tap} to fd {fd}: {}", Reason(source))
            }
        }
    }
}
