//! The audit log's line: one per request, facility authpriv, granted or refused. Pure;
//! `sys::syslog` sends it.
#![forbid(unsafe_code)]

use std::fmt::Write as _;

use syslog::{Facility, Formatter3164, LogFormat, Severity};

use crate::ifname::IfName;
use crate::mac::MacAddr;
use crate::text::{clip, escape, shown};
use crate::vid::Vid;

/// Bounds per field and per line: a refusal can quote 128 KiB of argv.
const MAX_USER: usize = 64;
const MAX_REASON: usize = 1024;
const MAX_LINE: usize = 3072;

/// What is known of the request so far; `run` fills it in step by step.
#[derive(Debug, Default, Clone)]
pub(crate) struct Fields {
    pub uid: u32,
    pub user: Option<String>,
    pub bridge: Option<IfName>,
    pub mac: Option<MacAddr>,
    pub mode: Option<Mode>,
    pub tap: Option<IfName>,
    /// The granted VLAN; shown only when there is one.
    pub vlan: Option<Vid>,
}

/// What was asked of the port, as the log names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Plain,
    Managed,
    /// A managed port made without a MAC, waiting for `--claim`: an admin finds ports that
    /// never got their MAC (hot-plugged NICs under libvirt) by this word.
    Pending,
    /// `--claim`: a pending port given its MAC.
    Claim,
}

impl Mode {
    fn word(self) -> &'static str {
        match self {
            Self::Plain => "plain",
            Self::Managed => "managed",
            Self::Pending => "managed-pending",
            Self::Claim => "managed-claim",
        }
    }
}

/// The line as syslog wants it (RFC 3164 framing), severity notice when granted and
/// warning when refused.
pub(crate) fn datagram(fields: &Fields, refusal: Option<&str>) -> Vec<u8> {
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
    // Writing into a Vec cannot fail; the crate's timestamp is UTC on unix.
    let _ = formatter.format(&mut bytes, severity, line(fields, refusal));
    bytes
}

/// One line, `key=value` pairs, bounded; every unprintable character escaped, so that
/// nothing a caller puts in argv can forge a second line, reorder what is shown or make
/// the line too long to be written.
pub(crate) fn line(fields: &Fields, refusal: Option<&str>) -> String {
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
    let _ = write!(out, " mode={}", fields.mode.map_or("-", Mode::word));
    if let Some(vlan) = fields.vlan {
        let _ = write!(out, " vlan={vlan}");
    }
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
