//! `IfName`: a Linux interface name, validated once at the boundary.
#![forbid(unsafe_code)]

use std::fmt;

/// IFNAMSIZ from <linux/if.h>, including the terminating NUL.
pub const IFNAMSIZ: usize = 16;

/// An interface name the kernel would accept and that is safe to print and log:
/// 1–15 bytes, not `.` or `..`, no `/`, `:`, whitespace or unprintable characters.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct IfName(String);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IfNameError {
    Empty,
    TooLong,
    Dot,
    BadChar,
}

impl fmt::Display for IfNameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Empty => "empty",
            Self::TooLong => "longer than 15 bytes",
            Self::Dot => "`.` and `..` are not interface names",
            Self::BadChar => "contains `/`, `:`, whitespace or an unprintable character",
        })
    }
}

impl IfName {
    pub fn new(name: &str) -> Result<Self, IfNameError> {
        match name {
            "" => Err(IfNameError::Empty),
            _ if name.len() >= IFNAMSIZ => Err(IfNameError::TooLong),
            "." | ".." => Err(IfNameError::Dot),
            _ if name.chars().any(is_forbidden) => Err(IfNameError::BadChar),
            _ => Ok(Self(name.to_owned())),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The kernel's dev_valid_name() forbids `/`, `:` and isspace(); unprintable characters
/// (controls, bidi overrides, zero-width ones) are refused as well so that a name can
/// never forge a log line, a terminal sequence or text that reads differently.
fn is_forbidden(c: char) -> bool {
    c == '/' || c == ':' || c.is_whitespace() || !crate::text::is_printable(c)
}

impl fmt::Display for IfName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for IfName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IfName({:?})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table() {
        let cases: &[(&str, Result<(), IfNameError>)] = &[
            ("br0", Ok(())),
            ("virbr-ünï", Ok(())),
            ("a", Ok(())),
            ("fifteen-bytes-x", Ok(())),
            ("sixteen-bytes-xx", Err(IfNameError::TooLong)),
            ("", Err(IfNameError::Empty)),
            (".", Err(IfNameError::Dot)),
            ("..", Err(IfNameError::Dot)),
            ("...", Ok(())),
            ("a/b", Err(IfNameError::BadChar)),
            ("a:b", Err(IfNameError::BadChar)),
            ("a b", Err(IfNameError::BadChar)),
            ("a\tb", Err(IfNameError::BadChar)),
            ("br0\n", Err(IfNameError::BadChar)),
            ("a\u{1b}[2J", Err(IfNameError::BadChar)),
            ("br#0", Ok(())),
            ("br\u{202e}0", Err(IfNameError::BadChar)),
            ("br\u{200b}0", Err(IfNameError::BadChar)),
        ];
        for (input, want) in cases {
            assert_eq!(IfName::new(input).map(|_| ()), *want, "{input:?}");
        }
    }
}
