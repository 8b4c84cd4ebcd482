//! `vlan` and `vlan-default` lines: which VLANs a caller may put a guest's port in.
//!
//! `vlan BRIDGE|all [user=NAME|user=#UID|group=NAME|group=#GID] VIDS`, VIDS being a VLAN id
//! (`101`), a range (`101-110`), a comma list of both (`101,103-105`) or `none`.
//! `vlan-default BRIDGE|all [SCOPE] VID` puts the caller's guests in VID when the call
//! names no VLAN (libvirt session mode cannot pass arguments), and grants VID. Scoped as
//! `mac` lines are; what they decide is in `policy::vlan`.
#![forbid(unsafe_code)]

use super::mac_rule::parse_scope;
use super::{parse_target, At, Caller, LineError, Scope, Target};
use crate::ifname::IfName;
use crate::vid::Vid;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VlanRule {
    pub bridge: Target,
    pub scope: Scope,
    /// Inclusive ranges; empty for `none`, which grants nothing (it only says that the
    /// bridge's guests must be in a VLAN).
    pub vids: Vec<(Vid, Vid)>,
    /// A `vlan-default` line: its one VID is the caller's VLAN when the call names none.
    pub default: bool,
    /// Where the line is (set by the parser).
    pub at: At,
}

impl VlanRule {
    /// Parses the argument of a `vlan` line, or of a `vlan-default` line if `default`.
    pub fn parse(arg: &[u8], default: bool) -> Result<Self, LineError> {
        let directive = if default { "vlan-default" } else { "vlan" };
        let bad = |why: &str| {
            LineError::BadVlanRule(directive, String::from_utf8_lossy(arg).into_owned(), why.into())
        };
        let text = std::str::from_utf8(arg).map_err(|_| bad("not UTF-8"))?;
        let words: Vec<&str> = text.split_ascii_whitespace().collect();
        let (bridge, scope, vids) = match words.as_slice() {
            [bridge, vids] => (bridge, Scope::Anyone, vids),
            [bridge, scope, vids] => (
                bridge,
                parse_scope(scope).ok_or_else(|| bad("expected user=NAME|#UID or group=NAME|#GID"))?,
                vids,
            ),
            _ if default => return Err(bad("expected `vlan-default BRIDGE [user=…|group=…] VID`")),
            _ => return Err(bad("expected `vlan BRIDGE [user=…|group=…] VIDS`")),
        };
        let vids = match (default, parse_vids(vids)) {
            (false, Some(vids)) => vids,
            (true, Some(vids)) if matches!(vids.as_slice(), [(lo, hi)] if lo == hi) => vids,
            (true, _) => return Err(bad("expected one VLAN id, 1 to 4094")),
            (false, None) => {
                return Err(bad(
                    "expected VLAN ids 1 to 4094: 101, 101-110, a comma list of those, or none",
                ))
            }
        };
        Ok(Self {
            bridge: parse_target(bridge.as_bytes())?,
            scope,
            vids,
            default,
            at: At::default(),
        })
    }

    pub fn names(&self, bridge: &IfName) -> bool {
        self.bridge.names(bridge)
    }

    pub fn grants(&self, caller: &Caller, vid: Vid) -> bool {
        self.scope.includes(caller) && self.vids.iter().any(|(lo, hi)| (lo..=hi).contains(&&vid))
    }
}

/// `none`, or comma-separated ids and `LOW-HIGH` ranges; no empty item, no space.
fn parse_vids(word: &str) -> Option<Vec<(Vid, Vid)>> {
    if word == "none" {
        return Some(Vec::new());
    }
    word.split(',')
        .map(|item| {
            let (lo, hi) = item.split_once('-').unwrap_or((item, item));
            let (lo, hi) = (Vid::parse(lo).ok()?, Vid::parse(hi).ok()?);
            (lo <= hi).then_some((lo, hi))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table() {
        let (alice, bob) = super::super::mac_rule::test_callers();
        // (default?, line, caller, VID asked for, granted; None: the line is refused)
        #[rustfmt::skip]
        let cases: &[(bool, &str, &Caller, u16, Option<bool>)] = &[
            (false, "br0 101", &bob, 101, Some(true)),
            (false, "br0 101", &bob, 102, Some(false)),
            (false, "br0 101-110", &bob, 101, Some(true)),
            (false, "br0 101-110", &bob, 110, Some(true)),
            (false, "br0 101-110", &bob, 111, Some(false)),
            (false, "br0 101-110", &bob, 100, Some(false)),
            (false, "br0 5,101-103,200", &bob, 102, Some(true)),
            (false, "br0 5,101-103,200", &bob, 5, Some(true)),
            (false, "br0 5,101-103,200", &bob, 200, Some(true)),
            (false, "br0 5,101-103,200", &bob, 104, Some(false)),
            (false, "br0 7-7", &bob, 7, Some(true)),
            (false, "br0 1-4094", &bob, 4094, Some(true)),
            (false, "br0 none", &bob, 1, Some(false)),
            (false, "all\t 101", &bob, 101, Some(true)),
            (false, "br0 user=alice 101", &alice, 101, Some(true)),
            (false, "br0 user=alice 101", &bob, 101, Some(false)),
            (false, "br0 user=#1001 101", &bob, 101, Some(true)),
            (false, "br0 group=lab 101", &alice, 101, Some(true)),
            (false, "br0 group=lab 101", &bob, 101, Some(false)),
            (false, "br0 group=#200 101", &alice, 101, Some(true)),
            (true, "br0 101", &bob, 101, Some(true)),
            (true, "br0 user=alice 101", &alice, 101, Some(true)),
            (true, "br0 user=alice 101", &bob, 101, Some(false)),
            (true, "br0 user=alice 101", &alice, 102, Some(false)),
            // Refused lines.
            (false, "br0", &bob, 1, None),
            (false, "br0 user=bob", &bob, 1, None),
            (false, "br0 0", &bob, 1, None),
            (false, "br0 4095", &bob, 1, None),
            (false, "br0 1-4095", &bob, 1, None),
            (false, "br0 110-101", &bob, 101, None),
            (false, "br0 101,", &bob, 101, None),
            (false, "br0 ,101", &bob, 101, None),
            (false, "br0 101,,102", &bob, 101, None),
            (false, "br0 101-", &bob, 101, None),
            (false, "br0 -101", &bob, 101, None),
            (false, "br0 101-102-103", &bob, 101, None),
            (false, "br0 101, 102", &bob, 101, None),
            (false, "br0 +101", &bob, 101, None),
            (false, "br0 0x65", &bob, 101, None),
            (false, "br0 all", &bob, 101, None),
            (false, "br0 uid=1001 101", &bob, 101, None),
            (false, "br0 user=bob 101 # comment", &bob, 101, None),
            (false, "br/0 101", &bob, 101, None),
            (false, "sixteen-bytes-xx 101", &bob, 101, None),
            (true, "br0 101-102", &bob, 101, None),
            (true, "br0 101,102", &bob, 101, None),
            (true, "br0 none", &bob, 101, None),
            (true, "br0 0", &bob, 101, None),
            (true, "br0", &bob, 101, None),
        ];
        for (default, line, caller, vid, want) in cases {
            let got = VlanRule::parse(line.as_bytes(), *default)
                .ok()
                .map(|r| r.grants(caller, Vid::new(*vid).unwrap()));
            assert_eq!(got, *want, "default={default} {line:?} / {vid}");
        }
    }

    #[test]
    fn errors_name_their_directive() {
        let err = VlanRule::parse(b"br0 101-", false).unwrap_err().to_string();
        assert!(err.starts_with("vlan \"br0 101-\": expected VLAN ids"), "{err}");
        let err = VlanRule::parse(b"br0 1-2", true).unwrap_err().to_string();
        assert!(err.starts_with("vlan-default \"br0 1-2\": expected one"), "{err}");
    }
}
