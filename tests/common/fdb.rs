//! The bridge as the kernel shows it: FDB entries by MAC, a link's sysfs attributes and
//! alternative names, read inside a test's namespace; and what a tap-fd holder can do to
//! its own tap without any capability (SIOCSIFHWADDR on the tun fd).

use std::os::fd::AsRawFd;

use serde_json::Value;

use super::{Netns, TapFd};

/// One line of `bridge fdb show`, from its JSON form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FdbEntry {
    pub mac: String,
    /// The port (or the bridge itself for its own entries).
    pub dev: String,
    /// `sticky`, `self`, `extern_learn`, …
    pub flags: Vec<String>,
    /// `static`, `permanent` (a local entry), or empty for a learned one.
    pub state: String,
    pub master: Option<String>,
}

impl FdbEntry {
    pub fn sticky(&self) -> bool {
        self.flags.iter().any(|f| f == "sticky")
    }

    /// A learned entry: no state word, no flag (`bridge fdb show` prints neither).
    pub fn learned(&self) -> bool {
        self.state.is_empty() && self.flags.is_empty()
    }
}

impl Netns {
    /// Every FDB entry for `mac` in the namespace, on any device (`bridge -j fdb show`).
    pub fn fdb_of(&self, mac: &str) -> Vec<FdbEntry> {
        let json: Value = serde_json::from_str(&self.bridge("-j fdb show")).expect("fdb JSON");
        let text = |v: &Value, key: &str| v.get(key).and_then(Value::as_str).map(str::to_owned);
        json.as_array()
            .expect("fdb array")
            .iter()
            .filter(|e| text(e, "mac").is_some_and(|m| m.eq_ignore_ascii_case(mac)))
            .map(|e| FdbEntry {
                mac: mac.to_owned(),
                dev: text(e, "ifname").unwrap_or_default(),
                flags: e
                    .get("flags")
                    .and_then(Value::as_array)
                    .map(|f| f.iter().filter_map(Value::as_str).map(str::to_owned).collect())
                    .unwrap_or_default(),
                state: text(e, "state").unwrap_or_default(),
                master: text(e, "master"),
            })
            .collect()
    }

    /// The one FDB entry for `mac`, panicking with the list if there is not exactly one.
    pub fn fdb_one(&self, mac: &str) -> FdbEntry {
        let all = self.fdb_of(mac);
        assert_eq!(all.len(), 1, "expected one fdb entry for {mac}: {all:?}");
        all.into_iter().next().unwrap()
    }

    /// `/sys/class/net/LINK/ATTR`, trimmed. `ip netns exec` mounts the namespace's own sysfs,
    /// so this is the namespace's link, not the host's.
    pub fn sysfs(&self, link: &str, attr: &str) -> String {
        self.sh(&format!("cat /sys/class/net/{link}/{attr}"))
            .trim()
            .to_owned()
    }

    /// The alternative names of `link` (`ip link property add … altname`).
    pub fn altnames(&self, link: &str) -> Vec<String> {
        let json: Value =
            serde_json::from_str(&self.ip(&format!("-j -d link show dev {link}"))).expect("link JSON");
        json[0]
            .get("altnames")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).map(str::to_owned).collect())
            .unwrap_or_default()
    }
}

/// The alternative name the fixed helper gives a tap that claims `mac`: `fbh-` and the
/// MAC's 12 lowercase hex digits.
pub fn claim_altname(mac: &str) -> String {
    format!("fbh-{}", mac.replace(':', "").to_ascii_lowercase())
}

/// `SIOCSIFHWADDR` on the tun fd itself: sets the tap's address. The tun driver does this
/// for whoever holds the fd, with no capability check, so a guest's QEMU can do it.
pub fn set_tap_mac(tap: &TapFd, mac: [u8; 6]) -> std::io::Result<()> {
    // SAFETY: ifreq is plain old data; all-zero is a valid value.
    let mut ifr: libc::ifreq = unsafe { std::mem::zeroed() };
    // SAFETY: the union member the ioctl reads for SIOCSIFHWADDR is ifru_hwaddr.
    let hw = unsafe { &mut ifr.ifr_ifru.ifru_hwaddr };
    hw.sa_family = libc::ARPHRD_ETHER;
    for (d, s) in hw.sa_data.iter_mut().zip(mac) {
        *d = s as libc::c_char;
    }
    // SAFETY: SIOCSIFHWADDR on a tun fd reads one struct ifreq from the valid `ifr`.
    let rc = unsafe { libc::ioctl(tap.fd.as_raw_fd(), libc::SIOCSIFHWADDR, &ifr) };
    if rc < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}
