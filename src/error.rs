//! Every message: one variant per failing step, each printing
//! `failed to <step> <object>: <reason>`, with a typed source. The wording lives here
//! alone; the sources' own `Display` says only the reason.
#![forbid(unsafe_code)]

use std::fmt;
use std::io;

use caps::errors::CapsError;
use caps::{CapSet, Capability};
use nix::errno::Errno;
use nix::unistd::{Gid, Uid};

use crate::acl;
use crate::acl::check::{Finding, Problem};
use crate::cli::ArgError;
use crate::ifname::IfName;
use crate::mac::MacAddr;
use crate::netlink::{ClaimError, LookupError, VlanError};
use crate::plan::{NotPending, Port, Unfiltered};
use crate::policy::{Denial, VlanDenial};
use crate::sys::privs::PrivsError;
use crate::sys::seccomp::SeccompError;
use crate::sys::socket::SocketError;
use crate::text::Reason;
use crate::vid::Vid;

#[derive(Debug)]
pub(crate) enum Error {
    OpenTun {
        source: io::Error,
    },
    BoundingSet {
        cap: Capability,
        source: CapsError,
    },
    KeepCaps {
        source: Errno,
    },
    SetResGid {
        gid: Gid,
        source: Errno,
    },
    SetResUid {
        uid: Uid,
        source: Errno,
    },
    Capset {
        set: CapSet,
        source: CapsError,
    },
    NoNewPrivs {
        source: Errno,
    },
    Dumpable {
        source: Errno,
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
    AuthorizeVlan {
        bridge: IfName,
        denial: VlanDenial,
    },
    Seccomp {
        source: SeccompError,
    },
    OpenNetlink {
        source: io::Error,
    },
    LookUpBridge {
        bridge: IfName,
        source: LookupError,
    },
    CreateTap {
        source: io::Error,
    },
    TapIndex {
        tap: IfName,
        source: io::Error,
    },
    PinAddress {
        bridge: IfName,
        source: io::Error,
    },
    TapAddress {
        source: io::Error,
    },
    Enslave {
        tap: IfName,
        bridge: IfName,
        source: io::Error,
    },
    Unfiltered {
        bridge: IfName,
        source: Unfiltered,
    },
    JoinVlan {
        tap: IfName,
        vid: Vid,
        source: VlanError,
    },
    ReadPortVlan {
        tap: IfName,
        source: VlanError,
    },
    AddFdb {
        mac: MacAddr,
        vlan: Option<Vid>,
        tap: IfName,
        source: ClaimError,
    },
    SetPort {
        tap: IfName,
        port: Port,
        source: io::Error,
    },
    /// A pending port's owner (TUNSETOWNER).
    SetOwner {
        tap: IfName,
        source: io::Error,
    },
    /// `--claim`: the tap as the kernel has it, ...
    LookUpTap {
        tap: IfName,
        source: io::Error,
    },
    /// ... whether the caller may claim it, ...
    CheckTap {
        tap: IfName,
        reason: NotPending,
    },
    /// ... its bridge, ...
    LookUpTapBridge {
        tap: IfName,
        source: LookupError,
    },
    /// ... and the mark that it has its one MAC.
    MarkClaimed {
        tap: IfName,
        source: io::Error,
    },
    SendFd {
        tap: IfName,
        fd: i32,
        source: io::Error,
    },
    /// `--explain`: the refusal `netlink::claim` would give now.
    ForeseeFdb {
        mac: MacAddr,
        vlan: Option<Vid>,
        source: ClaimError,
    },
    /// `--check` by anyone but root.
    CheckNotRoot,
}

/// Each call of the privilege drop is a step of its own.
impl From<PrivsError> for Error {
    fn from(e: PrivsError) -> Self {
        match e {
            PrivsError::BoundingSet(cap, source) => Self::BoundingSet { cap, source },
            PrivsError::KeepCaps(source) => Self::KeepCaps { source },
            PrivsError::SetResGid(gid, source) => Self::SetResGid { gid, source },
            PrivsError::SetResUid(uid, source) => Self::SetResUid { uid, source },
            PrivsError::Capset(set, source) => Self::Capset { set, source },
            PrivsError::NoNewPrivs(source) => Self::NoNewPrivs { source },
            PrivsError::Dumpable(source) => Self::Dumpable { source },
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::OpenTun { source } => write!(f, "failed to open /dev/net/tun: {}", Reason(source)),
            Self::BoundingSet { cap, source } => {
                write!(f, "failed to drop {cap} from the bounding set: {source}")
            }
            Self::KeepCaps { source } => write!(f, "failed to set PR_SET_KEEPCAPS: {}", source.desc()),
            Self::SetResGid { gid, source } => write!(f, "failed to setresgid to {gid}: {}", source.desc()),
            Self::SetResUid { uid, source } => write!(f, "failed to setresuid to {uid}: {}", source.desc()),
            Self::Capset { set, source } => write!(f, "failed to set the {set:?} capabilities: {source}"),
            Self::NoNewPrivs { source } => write!(f, "failed to set PR_SET_NO_NEW_PRIVS: {}", source.desc()),
            Self::Dumpable { source } => write!(f, "failed to clear PR_SET_DUMPABLE: {}", source.desc()),
            Self::Args { source } => write!(f, "failed to parse arguments: {source}"),
            Self::CheckSocket { fd, source } => write!(f, "failed to check socket fd {fd}: {source}"),
            Self::Acl { source } => source.fmt(f),
            Self::Authorize { bridge, denial } => write!(f, "failed to authorize bridge {bridge}: {denial}"),
            Self::AuthorizeVlan { bridge, denial } => {
                write!(f, "failed to authorize a vlan on bridge {bridge}: {denial}")
            }
            Self::Seccomp { source } => write!(f, "failed to install seccomp filter: {source}"),
            Self::OpenNetlink { source } => write!(f, "failed to open rtnetlink socket: {}", Reason(source)),
            Self::LookUpBridge { bridge, source } => write!(f, "failed to look up bridge {bridge}: {source}"),
            Self::CreateTap { source } => write!(f, "failed to create tap: {}", Reason(source)),
            Self::TapIndex { tap, source } => write!(f, "failed to look up {tap}: {}", Reason(source)),
            Self::PinAddress { bridge, source } => {
                write!(
                    f,
                    "failed to pin the address of bridge {bridge}: {}",
                    Reason(source)
                )
            }
            Self::TapAddress { source } => write!(f, "failed to make a tap address: {}", Reason(source)),
            Self::Enslave { tap, bridge, source } => {
                write!(f, "failed to add {tap} to bridge {bridge}: {}", Reason(source))
            }
            Self::Unfiltered { bridge, source } => {
                write!(
                    f,
                    "failed to use vlan {} on bridge {bridge}: {source}",
                    source.vid
                )
            }
            Self::ReadPortVlan { tap, source } => write!(f, "failed to read the vlans of {tap}: {source}"),
            Self::JoinVlan { tap, vid, source } => {
                write!(
                    f,
                    "failed to put {tap} in vlan {vid} alone (pvid untagged): {source}"
                )
            }
            Self::AddFdb {
                mac,
                vlan,
                tap,
                source,
            } => {
                let vlan = vlan.map(|v| format!(" vlan {v}")).unwrap_or_default();
                write!(f, "failed to add fdb entry {mac}{vlan} on {tap}: {source}")
            }
            Self::SetPort { tap, port, source } => {
                let on = |b| if b { "on" } else { "off" };
                let lock = if port.locked { ", locked on" } else { "" };
                write!(
                    f,
                    "failed to set port flags (learning {}, flood {}{lock}) on {tap}: {}",
                    on(port.learning),
                    on(port.unicast_flood),
                    Reason(source)
                )
            }
            Self::SendFd { tap, fd, source } => {
                write!(f, "failed to send {tap} to fd {fd}: {}", Reason(source))
            }
            Self::ForeseeFdb { mac, vlan, source } => {
                let vlan = vlan.map(|v| format!(" vlan {v}")).unwrap_or_default();
                write!(f, "failed to add fdb entry {mac}{vlan} on the new tap: {source}")
            }
            Self::CheckNotRoot => f.write_str(
                "failed to check the acl files: --check is for root (the files may include others that \
                 only root can read); as a user, --explain shows what applies to you",
            ),
            Self::SetOwner { tap, source } => {
                write!(f, "failed to set the owner of {tap}: {}", Reason(source))
            }
            Self::LookUpTap { tap, source } => write!(f, "failed to look up tap {tap}: {}", Reason(source)),
            Self::CheckTap { tap, reason } => write!(f, "failed to check tap {tap}: {reason}"),
            Self::LookUpTapBridge { tap, source } => {
                write!(f, "failed to look up the bridge of {tap}: {source}")
            }
            Self::MarkClaimed { tap, source } => {
                let reason = match source.raw_os_error() {
                    Some(libc::EEXIST) => "another --claim on it came first; a port gets one MAC".into(),
                    Some(libc::EOPNOTSUPP) => {
                        "this kernel has no alternative interface names (Linux 5.5 or later needed)".into()
                    }
                    _ => Reason(source).to_string(),
                };
                write!(f, "failed to mark {tap} as claimed: {reason}")
            }
        }
    }
}

/// The ACL's two steps: reading a file, parsing a line.
impl fmt::Display for acl::Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Read { path, source } => write!(f, "failed to read acl file {}: {source}", path.display()),
            Self::Parse { path, line, reason } => {
                write!(
                    f,
                    "failed to parse acl file {} line {line}: {reason}",
                    path.display()
                )
            }
        }
    }
}

/// Why `--claim` refuses a tap.
impl fmt::Display for NotPending {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::AltName(name) => write!(
                f,
                "it is an alternative name of {}; use --claim={0}",
                crate::text::escape(name)
            ),
            Self::NotATap => f.write_str("it is not a tap"),
            Self::Claimed(name) => write!(
                f,
                "it has its MAC already (alternative name {}); a port gets one MAC",
                crate::text::escape(name)
            ),
            Self::Owner { owner: Some(owner), uid } => write!(
                f,
                "it belongs to uid {owner}, not to you (uid {uid}): only the user whose guest it is may claim it"
            ),
            Self::Owner { owner: None, .. } => f.write_str(
                "it has no owner, so no call without a MAC made it: it is not a managed port waiting for its MAC",
            ),
            Self::NotAPort => f.write_str("it is not a bridge port"),
            Self::NotManaged => f.write_str(
                "learning or unicast flooding is on: it is not a managed port waiting for its MAC",
            ),
        }
    }
}

impl fmt::Display for SeccompError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Build(e) => write!(f, "building it: {e}"),
            Self::Install(e) => write!(f, "{e}"),
        }
    }
}

/// One line of `--check`: `PATH line N: error: …`, as a compiler says it.
impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = self.path.display();
        match self.line {
            Some(line) => write!(f, "{path} line {line}: ")?,
            None => write!(f, "{path}: ")?,
        }
        let severity = if self.is_error() { "error" } else { "warning" };
        match &self.finding {
            Finding::Read(why) => write!(f, "{severity}: failed to read it: {why}; every request is refused"),
            Finding::Line {
                reason,
                ends_include: true,
            } => write!(
                f,
                "{severity}: {reason}; this include ends here (as in qemu-bridge-helper): the lines after it are ignored"
            ),
            Finding::Line { reason, .. } => write!(f, "{severity}: {reason}; every request is refused"),
            Finding::Extension { top: true } => write!(
                f,
                "{severity}: qemu-bridge-helper reads this file too and refuses this line (\"failed to parse \
                 default acl file\"): move it to {}",
                acl::EXTENSION_PATH
            ),
            Finding::Extension { top: false } => write!(
                f,
                "{severity}: qemu-bridge-helper reads this include too and stops at this line (an error on \
                 every call, and the lines after it ignored): move it to {} or a file it includes",
                acl::EXTENSION_PATH
            ),
            Finding::Skipped(path, why) => write!(f, "{severity}: include {} skipped: {why}", path.display()),
        }
    }
}

/// The last line of `--check`.
pub(crate) struct CheckSummary {
    pub files: usize,
    pub errors: usize,
    pub warnings: usize,
}

impl fmt::Display for CheckSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Self {
            files,
            errors,
            warnings,
        } = self;
        match (errors, warnings) {
            (0, 0) => write!(f, "{files} acl files checked: parsed OK"),
            _ => write!(
                f,
                "{files} acl files checked: {errors} errors, {warnings} warnings"
            ),
        }
    }
}
