//! `Vid`: an 802.1Q VLAN id a guest's port can be put in, validated once at the boundary.
#![forbid(unsafe_code)]

use std::fmt;

/// 1 to 4094: 0 means "no VLAN" in a tag and 4095 is reserved (the kernel refuses both).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Vid(u16);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VidError {
    Syntax,
    Range,
}

impl fmt::Display for VidError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Syntax => "expected a decimal VLAN id",
            Self::Range => "a VLAN id is 1 to 4094",
        })
    }
}

impl Vid {
    pub const MAX: u16 = 4094;

    pub fn new(vid: u16) -> Result<Self, VidError> {
        match vid {
            1..=Self::MAX => Ok(Self(vid)),
            _ => Err(VidError::Range),
        }
    }

    /// Decimal digits only: no sign, no spaces, no `0x`.
    pub fn parse(text: &str) -> Result<Self, VidError> {
        if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(VidError::Syntax);
        }
        // Leading zeros aside, five digits or more are out of range whatever they say.
        let digits = text.trim_start_matches('0');
        if digits.len() > 4 {
            return Err(VidError::Range);
        }
        Self::new(digits.parse().unwrap_or(0))
    }

    pub fn get(self) -> u16 {
        self.0
    }
}

impl fmt::Display for Vid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table() {
        use VidError::*;
        let cases: &[(&str, Result<u16, VidError>)] = &[
            ("1", Ok(1)),
            ("101", Ok(101)),
            ("4094", Ok(4094)),
            ("0101", Ok(101)),
            ("0", Err(Range)),
            ("4095", Err(Range)),
            ("65536", Err(Range)),
            ("99999", Err(Range)),
            ("000000000101", Ok(101)),
            ("00", Err(Range)),
            ("", Err(Syntax)),
            ("-1", Err(Syntax)),
            ("+1", Err(Syntax)),
            (" 1", Err(Syntax)),
            ("1 ", Err(Syntax)),
            ("0x10", Err(Syntax)),
            ("1e2", Err(Syntax)),
            ("１", Err(Syntax)),
        ];
        for (text, want) in cases {
            assert_eq!(Vid::parse(text).map(Vid::get), *want, "{text:?}");
        }
        assert_eq!(Vid::new(0), Err(Range));
        assert_eq!(Vid::new(7).unwrap().to_string(), "7");
    }
}
