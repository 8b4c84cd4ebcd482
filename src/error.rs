//! One variant per step of `run`, each printing `failed to <step> <object>: <reason>`.
#![forbid(unsafe_code)]

use std::fmt;
use std::io;

use crate::text::Reason;

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
    PinAddress {
        bridge: IfName,
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
            Self::PinAddress { bridge, source } => {
                write!(
                    f,
                    "failed to pin the address of bridge {bridge}: {}",
                    Reason(source)
                )
            }
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
