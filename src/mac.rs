//! `MacAddr`: a guest's unicast Ethernet address, validated once at the boundary.
#![forbid(unsafe_code)]

use std::fmt;

#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct MacAddr([u8; 6]);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MacError {
    Syntax,
    Multicast,
    Zero,
}

impl fmt::Display for MacError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Syntax => "expected six hex pairs separated by `:`, e.g. 52:54:00:12:34:56",
            Self::Multicast => "a multicast or broadcast address cannot belong to a guest",
            Self::Zero => "the all-zero address cannot belong to a guest",
        })
    }
}

impl MacAddr {
    /// Parses `xx:xx:xx:xx:xx:xx` (either case) and accepts only a non-zero unicast address:
    /// a static FDB entry for a group address would steal every guest's traffic.
    pub fn parse(text: &str) -> Result<Self, MacError> {
        let mut bytes = [0u8; 6];
        let mut parts = text.split(':');
        for byte in &mut bytes {
            let part = parts.next().ok_or(MacError::Syntax)?;
            if part.len() != 2 || !part.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(MacError::Syntax);
            }
            *byte = u8::from_str_radix(part, 16).map_err(|_| MacError::Syntax)?;
        }
        if parts.next().is_some() {
            return Err(MacError::Syntax);
        }
        Self::from_bytes(bytes)
    }

    pub fn from_bytes(bytes: [u8; 6]) -> Result<Self, MacError> {
        if bytes[0] & 0x01 != 0 {
            Err(MacError::Multicast)
        } else if bytes == [0; 6] {
            Err(MacError::Zero)
        } else {
            Ok(Self(bytes))
        }
    }

    /// A tap address that never becomes the bridge's own: the bridge takes the lowest port
    /// address, and a first byte of 0xFE (locally administered, unicast) is above any NIC's.
    pub fn for_tap(random: [u8; 5]) -> Self {
        let [a, b, c, d, e] = random;
        Self([0xFE, a, b, c, d, e])
    }

    pub fn octets(&self) -> [u8; 6] {
        self.0
    }
}

impl fmt::Display for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d, e, g] = self.0;
        write!(f, "{a:02x}:{b:02x}:{c:02x}:{d:02x}:{e:02x}:{g:02x}")
    }
}

impl fmt::Debug for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MacAddr({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table() {
        let cases: &[(&str, Result<&str, MacError>)] = &[
            ("52:54:00:12:34:56", Ok("52:54:00:12:34:56")),
            ("52:54:00:AB:cd:EF", Ok("52:54:00:ab:cd:ef")),
            ("02:00:00:00:00:01", Ok("02:00:00:00:00:01")),
            ("00:00:00:00:00:00", Err(MacError::Zero)),
            ("ff:ff:ff:ff:ff:ff", Err(MacError::Multicast)),
            ("01:00:5e:00:00:01", Err(MacError::Multicast)),
            ("33:33:00:00:00:01", Err(MacError::Multicast)),
            ("52:54:00:12:34", Err(MacError::Syntax)),
            ("52:54:00:12:34:56:78", Err(MacError::Syntax)),
            ("52-54-00-12-34-56", Err(MacError::Syntax)),
            ("52:54:0:12:34:56", Err(MacError::Syntax)),
            ("52:54:00:12:34:5g", Err(MacError::Syntax)),
            ("+2:54:00:12:34:56", Err(MacError::Syntax)),
            ("52:54:00:12:34:56 ", Err(MacError::Syntax)),
            ("", Err(MacError::Syntax)),
        ];
        for (input, want) in cases {
            let got = MacAddr::parse(input).map(|m| m.to_string());
            assert_eq!(got.as_deref().map_err(|e| *e), *want, "{input:?}");
        }
    }

    #[test]
    fn tap_address_is_local_unicast_and_high() {
        let mac = MacAddr::for_tap([0; 5]);
        assert_eq!(mac.octets()[0], 0xFE);
        assert!(MacAddr::from_bytes(mac.octets()).is_ok());
    }
}
