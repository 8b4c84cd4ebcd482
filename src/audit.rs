//! The audit log: one line per request to syslog, facility authpriv, granted or refused.
#![forbid(unsafe_code)]

use std::fmt::Write;

use nix::unistd::getuid;
use syslog::{Facility, Formatter3164, Logger, LoggerBackend};

use crate::ifname::IfName;
use crate::mac::MacAddr;

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

pub struct Audit {
    logger: Option<Logger<LoggerBackend, Formatter3164>>,
    pub fields: Fields,
}

impl Audit {
    /// Called once privileges are dropped; a missing /dev/log only means that nothing is
    /// logged.
    pub fn open(user: Option<String>) -> Self {
        let formatter = Formatter3164 {
            facility: Facility::LOG_AUTHPRIV,
            hostname: None,
            process: "fdb-bridge-helper".into(),
            pid: std::process::id(),
        };
        let fields = Fields {
            uid: getuid().as_raw(),
            user,
            ..Fields::default()
        };
        Self {
            logger: syslog::unix(formatter).ok(),
            fields,
        }
    }

    /// Logs the verdict; a failing syslog never changes the outcome.
    pub fn record(self, refusal: Option<&str>) {
        let Some(mut logger) = self.logger else { return };
        let text = line(&self.fields, refusal);
        let _ = match refusal {
            None => logger.notice(text),
            Some(_) => logger.warning(text),
        };
    }
}

/// One line, `key=value` pairs; every control character escaped, so that nothing a
/// caller puts in argv can forge a second log line or a terminal sequence.
pub fn line(fields: &Fields, refusal: Option<&str>) -> String {
    let mut out = format!(
        "uid={} user={}",
        fields.uid,
        fields.user.as_deref().unwrap_or("?")
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
            let _ = write!(out, " verdict=refused reason={reason:?}");
        }
    }
    crate::error::escape_controls(&out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table() {
        let full = Fields {
            uid: 1000,
            user: Some("alice".into()),
            bridge: Some(IfName::new("br0").unwrap()),
            mac: Some(MacAddr::parse("52:54:00:12:34:56").unwrap()),
            managed: Some(true),
            tap: Some(IfName::new("tap3").unwrap()),
        };
        let early = Fields {
            uid: 1001,
            user: Some("bo\nb".into()),
            ..Fields::default()
        };
        let cases: &[(&Fields, Option<&str>, &str)] = &[
            (
                &full,
                None,
                "uid=1000 user=alice bridge=br0 tap=tap3 mac=52:54:00:12:34:56 mode=managed verdict=granted",
            ),
            (
                &full,
                Some("failed to authorize bridge br0: access denied by acl file"),
                "uid=1000 user=alice bridge=br0 tap=tap3 mac=52:54:00:12:34:56 mode=managed verdict=refused \
                 reason=\"failed to authorize bridge br0: access denied by acl file\"",
            ),
            (
                &early,
                Some("unknown argument \"--x\u{1b}[2J\nuid=0\""),
                "uid=1001 user=bo\\nb bridge=- tap=- mac=- mode=- verdict=refused \
                 reason=\"unknown argument \\\"--x\\u{1b}[2J\\nuid=0\\\"\"",
            ),
        ];
        for (fields, refusal, want) in cases {
            let got = line(fields, *refusal);
            assert_eq!(got, *want);
            assert!(!got.chars().any(char::is_control), "{got:?}");
        }
    }
}
