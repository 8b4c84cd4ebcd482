//! `Vid`: an 802.1Q VLAN id a guest's port can be put in, validated once at the boundary.
#![forbid(unsafe_code)]

use std::fmt;

/// 1 to 4094: 0 means "no VLAN" in a tag and 4095 is reserved (the kernel refuses both).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Vid(u16);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VidError {
    Range,
}

impl fmt::Display for VidError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
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
        assert_eq!(Vid::new(0), Err(Range));
        assert_eq!(Vid::new(7).unwrap().to_string(), "7");
    }
}
