//! `mac` lines: which guest MACs a caller may claim on a managed bridge.
//!
//! `mac BRIDGE|all [user=NAME|user=#UID|group=NAME|group=#GID] SPEC`, SPEC being an
//! address, a prefix of whole octets (`52:54:00:a1:*`) or `none`. Once any `mac` line the
//! caller can read names a bridge, a MAC on it must be granted to the caller by one of
//! them. A line without `user=` or `group=` is for whoever can read it: the per-user
//! include file pattern. `#UID`/`#GID` is sudo's spelling: it matches the number whether or
//! not any NSS source has a name for it (container uids, a directory that is down).
#![forbid(unsafe_code)]

use super::{parse_target, At, LineError, Target};
use crate::ifname::IfName;
use crate::mac::MacAddr;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    Anyone,
    User(String),
    /// `user=#UID`: the caller's real uid.
    Uid(u32),
    /// Needs the caller's group names, an NSS lookup per gid (see `Acl::names_groups`).
    Group(String),
    /// `group=#GID`: the caller's real gid or one of its supplementary gids.
    Gid(u32),
}

/// Up to six leading octets; `None` grants nothing (it only restricts the bridge).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spec(Option<Vec<u8>>);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MacRule {
    pub bridge: Target,
    pub scope: Scope,
    pub spec: Spec,
    /// Where the line is (set by the parser).
    pub at: At,
}

/// Who is asking: the kernel's numbers, and the names NSS gives them. An id that no NSS
/// source knows has no name: it matches `#ID` lines only, never a name.
#[derive(Debug, Default)]
pub struct Caller {
    pub uid: u32,
    pub user: Option<String>,
    /// The real gid and the supplementary gids.
    pub gids: Vec<u32>,
    /// Names of those `gids` that NSS knows; looked up only when a `group=NAME` line exists.
    pub groups: Vec<String>,
}

impl MacRule {
    pub fn parse(arg: &[u8]) -> Result<Self, LineError> {
        let bad = |why: &str| LineError::BadMacRule(String::from_utf8_lossy(arg).into_owned(), why.into());
        let text = std::str::from_utf8(arg).map_err(|_| bad("not UTF-8"))?;
        let words: Vec<&str> = text.split_ascii_whitespace().collect();
        let (bridge, scope, spec) = match words.as_slice() {
            [bridge, spec] => (bridge, Scope::Anyone, spec),
            [bridge, scope, spec] => (
                bridge,
                parse_scope(scope).ok_or_else(|| bad("expected user=NAME|#UID or group=NAME|#GID"))?,
                spec,
            ),
            _ => {
                return Err(bad(
                    "expected `mac BRIDGE [user=NAME|#UID|group=NAME|#GID] MAC|PREFIX:*|none`",
                ))
            }
        };
        let spec = parse_spec(spec)
            .ok_or_else(|| bad("expected a unicast MAC, a prefix like 52:54:00:*, or none"))?;
        Ok(Self {
            bridge: parse_target(bridge.as_bytes())?,
            scope,
            spec,
            at: At::default(),
        })
    }

    pub fn names(&self, bridge: &IfName) -> bool {
        self.bridge.names(bridge)
    }

    /// Whether the line names one whole address (an admin's explicit assignment), not a
    /// prefix.
    pub fn is_exact(&self) -> bool {
        matches!(&self.spec, Spec(Some(octets)) if octets.len() == 6)
    }

    pub fn grants(&self, caller: &Caller, mac: MacAddr) -> bool {
        let Spec(prefix) = &self.spec;
        self.scope.includes(caller) && prefix.as_ref().is_some_and(|p| mac.octets().starts_with(p))
    }
}

impl Scope {
    /// Whether a line with this scope is for `caller`.
    pub fn includes(&self, caller: &Caller) -> bool {
        match self {
            Self::Anyone => true,
            Self::User(name) => caller.user.as_ref() == Some(name),
            Self::Uid(uid) => caller.uid == *uid,
            Self::Group(name) => caller.groups.contains(name),
            Self::Gid(gid) => caller.gids.contains(gid),
        }
    }
}

/// `user=NAME|#UID` or `group=NAME|#GID`, shared with `vlan` lines.
pub(super) fn parse_scope(word: &str) -> Option<Scope> {
    if let Some(value) = word.strip_prefix("user=") {
        return match value.strip_prefix('#') {
            Some(id) => parse_id(id).map(Scope::Uid),
            None => valid_name(value).then(|| Scope::User(value.into())),
        };
    }
    let value = word.strip_prefix("group=")?;
    match value.strip_prefix('#') {
        Some(id) => parse_id(id).map(Scope::Gid),
        None => valid_name(value).then(|| Scope::Group(value.into())),
    }
}

fn valid_name(name: &str) -> bool {
    !name.is_empty() && !name.chars().any(|c| c.is_control() || c.is_whitespace())
}

/// Decimal digits only (no sign, no spaces); not `(uid_t)-1`, which names nobody (it
/// means "unchanged" to setresuid).
fn parse_id(digits: &str) -> Option<u32> {
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok().filter(|&id| id != u32::MAX)
}

fn parse_spec(word: &str) -> Option<Spec> {
    if word == "none" {
        return Some(Spec(None));
    }
    if let Ok(mac) = MacAddr::parse(word) {
        return Some(Spec(Some(mac.octets().to_vec())));
    }
    let octets: Vec<&str> = word.strip_suffix(":*")?.split(':').collect();
    if octets.len() > 5
        || octets
            .iter()
            .any(|o| o.len() != 2 || !o.bytes().all(|b| b.is_ascii_hexdigit()))
    {
        return None;
    }
    let prefix: Vec<u8> = octets
        .iter()
        .filter_map(|o| u8::from_str_radix(o, 16).ok())
        .collect();
    (prefix[0] & 1 == 0).then_some(Spec(Some(prefix)))
}

/// Callers for the line tables of `mac` and `vlan` rules: alice in group lab, bob alone.
#[cfg(test)]
pub(crate) fn test_callers() -> (Caller, Caller) {
    let alice = Caller {
        uid: 1000,
        user: Some("alice".into()),
        gids: vec![1000, 200],
        groups: vec!["alice".into(), "lab".into()],
    };
    let bob = Caller {
        uid: 1001,
        user: Some("bob".into()),
        gids: vec![1001],
        groups: vec!["bob".into()],
    };
    (alice, bob)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table() {
        let (alice, bob) = test_callers();
        // Known to no NSS source: numbers only.
        let ghost = Caller {
            uid: 3_999_000_001,
            user: None,
            gids: vec![3_999_000_002, 3_999_000_003],
            groups: Vec::new(),
        };
        let mac = |m| MacAddr::parse(m).unwrap();
        #[rustfmt::skip]
        let cases: &[(&str, &Caller, &str, Option<bool>)] = &[
            ("br0 52:54:00:12:34:56", &bob, "52:54:00:12:34:56", Some(true)),
            ("br0 52:54:00:12:34:56", &bob, "52:54:00:12:34:57", Some(false)),
            ("br0 52:54:00:*", &bob, "52:54:00:ab:cd:ef", Some(true)),
            ("br0 52:54:01:*", &bob, "52:54:00:ab:cd:ef", Some(false)),
            ("br0 52:*", &bob, "52:00:00:00:00:01", Some(true)),
            ("br0 52:54:00:12:34:*", &bob, "52:54:00:12:34:99", Some(true)),
            ("br0 user=alice 52:54:00:*", &alice, "52:54:00:00:00:01", Some(true)),
            ("br0 user=alice 52:54:00:*", &bob, "52:54:00:00:00:01", Some(false)),
            ("br0 group=lab 52:54:00:*", &alice, "52:54:00:00:00:01", Some(true)),
            ("br0 group=lab 52:54:00:*", &bob, "52:54:00:00:00:01", Some(false)),
            ("all  \t 02:*", &bob, "02:00:00:00:00:01", Some(true)),
            ("br0 none", &alice, "52:54:00:00:00:01", Some(false)),
            // Numeric ids, sudo's `#` spelling: the real uid; the real or a supplementary gid.
            ("br0 user=#1000 52:54:00:*", &alice, "52:54:00:00:00:01", Some(true)),
            ("br0 user=#1000 52:54:00:*", &bob, "52:54:00:00:00:01", Some(false)),
            ("br0 user=#1000 52:54:00:*", &alice, "52:54:01:00:00:01", Some(false)),
            ("br0 group=#200 52:*", &alice, "52:54:00:00:00:01", Some(true)),
            ("br0 group=#200 52:*", &bob, "52:54:00:00:00:01", Some(false)),
            ("br0 group=#1001 52:*", &bob, "52:54:00:00:00:01", Some(true)),
            ("br0 user=#01000 52:*", &alice, "52:54:00:00:00:01", Some(true)),
            ("br0 user=#4294967294 52:*", &alice, "52:54:00:00:00:01", Some(false)),
            // A name that looks like a number is a name.
            ("br0 user=1000 52:*", &alice, "52:54:00:00:00:01", Some(false)),
            ("br0 group=200 52:*", &alice, "52:54:00:00:00:01", Some(false)),
            // A caller no NSS source knows: numbers match, names never do.
            ("br0 user=#3999000001 52:*", &ghost, "52:54:00:00:00:01", Some(true)),
            ("br0 group=#3999000002 52:*", &ghost, "52:54:00:00:00:01", Some(true)),
            ("br0 group=#3999000003 52:*", &ghost, "52:54:00:00:00:01", Some(true)),
            ("br0 group=#3999000001 52:*", &ghost, "52:54:00:00:00:01", Some(false)),
            ("br0 user=#3999000002 52:*", &ghost, "52:54:00:00:00:01", Some(false)),
            ("br0 user=alice 52:*", &ghost, "52:54:00:00:00:01", Some(false)),
            ("br0 user=? 52:*", &ghost, "52:54:00:00:00:01", Some(false)),
            ("br0 group=lab 52:*", &ghost, "52:54:00:00:00:01", Some(false)),
            ("br0 52:*", &ghost, "52:54:00:00:00:01", Some(true)),
            ("br0", &bob, "52:54:00:00:00:01", None),
            ("br0 52:54:00", &bob, "52:54:00:00:00:01", None),
            ("br0 *", &bob, "52:54:00:00:00:01", None),
            ("br0 01:*", &bob, "52:54:00:00:00:01", None),
            ("br0 52:54:00:12:34:56:*", &bob, "52:54:00:00:00:01", None),
            ("br0 5:*", &bob, "52:54:00:00:00:01", None),
            ("br0 ff:ff:ff:ff:ff:ff", &bob, "52:54:00:00:00:01", None),
            ("br0 uid=1000 52:*", &bob, "52:54:00:00:00:01", None),
            ("br0 user= 52:*", &bob, "52:54:00:00:00:01", None),
            ("br0 user=a b 52:*", &bob, "52:54:00:00:00:01", None),
            ("br0 user=# 52:*", &bob, "52:54:00:00:00:01", None),
            ("br0 group=# 52:*", &bob, "52:54:00:00:00:01", None),
            ("br0 user=#-1 52:*", &bob, "52:54:00:00:00:01", None),
            ("br0 user=#+1001 52:*", &bob, "52:54:00:00:00:01", None),
            ("br0 group=#1x 52:*", &bob, "52:54:00:00:00:01", None),
            ("br0 user=#bob 52:*", &bob, "52:54:00:00:00:01", None),
            ("br0 user=#4294967295 52:*", &bob, "52:54:00:00:00:01", None),
            ("br0 group=#4294967296 52:*", &bob, "52:54:00:00:00:01", None),
            ("br0 user=#1001 # 52:*", &bob, "52:54:00:00:00:01", None),
            ("sixteen-bytes-xx 52:*", &bob, "52:54:00:00:00:01", None),
            ("br/0 52:*", &bob, "52:54:00:00:00:01", None),
        ];
        for (line, caller, claim, want) in cases {
            let got = MacRule::parse(line.as_bytes())
                .ok()
                .map(|r| r.grants(caller, mac(claim)));
            assert_eq!(got, *want, "mac {line} / {claim}");
        }
    }
}
