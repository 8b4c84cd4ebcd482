//! MAC addresses: the one type the tests and the bench use for them, text or bytes.

use std::fmt;

/// A MAC address. Prints as the kernel and iproute2 do: lowercase, colon-separated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mac(pub [u8; 6]);

impl Mac {
    /// `52:54:00` (QEMU's prefix) and three low bytes: a guest's MAC.
    pub fn guest(low: [u8; 3]) -> Self {
        let [a, b, c] = low;
        Self([0x52, 0x54, 0x00, a, b, c])
    }

    /// A random guest MAC `52:54:00:xx:xx:xx`.
    pub fn random() -> Self {
        Self::guest(super::random_bytes())
    }

    /// `aa:bb:cc:dd:ee:ff` (either case); panics on anything else.
    pub fn parse(text: &str) -> Self {
        let parts: Vec<&str> = text.trim().split(':').collect();
        assert_eq!(parts.len(), 6, "not a MAC: {text:?}");
        let mut mac = [0u8; 6];
        for (byte, part) in mac.iter_mut().zip(parts) {
            *byte = u8::from_str_radix(part, 16).unwrap_or_else(|e| panic!("not a MAC: {text:?}: {e}"));
        }
        Self(mac)
    }
}

impl fmt::Display for Mac {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        let [a, b, c, d, e, g] = self.0;
        write!(f, "{a:02x}:{b:02x}:{c:02x}:{d:02x}:{e:02x}:{g:02x}")
    }
}
