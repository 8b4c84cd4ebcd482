//! The kernel-VM tier: tests that need a kernel this host lacks (bridge `vlan_filtering`,
//! 8021q) boot Debian 12's stock kernel under QEMU (TCG) with a busybox initramfs carrying the
//! helper, the modules and a caller, run a bash script inside, and get back its exit status
//! and console. Anything missing, a failed boot or a timeout panics with the console's tail.
//!
//! ```ignore
//! let run = Vm::new("ip link add br0 type bridge vlan_filtering 1\nfact ok yes\n")
//!     .nics(&[VIRTIO, VIRTIO])
//!     .file("/etc/qemu/bridge.conf", 0o644, "allow br0\nmanaged br0\n")
//!     .boot();
//! run.expect_success();
//! assert_eq!(run.fact("ok"), "yes");
//! ```
//!
//! Inside, the script runs as root under bash with `set -euo pipefail` and the functions of
//! `lib.sh` (`guest`, `outside`, `send`, `wait_rx`, `fact`, …); the helper is installed setuid
//! root at [`HELPER`] and runs as an unprivileged user from [`USERS`].

pub mod initramfs;
pub mod kernel;
mod qemu;

use std::time::Duration;

#[allow(unused_imports)] // for the tests that build their own VM files
pub use initramfs::{HELPER, MODULES, USERS};

/// NIC models for [`Vm::nics`].
pub const VIRTIO: &str = "virtio-net-pci";
pub const E1000: &str = "e1000";

/// One VM run to be booted: a script, files on top of the shared initramfs, NICs.
#[derive(Debug, Clone)]
pub struct Vm {
    script: String,
    files: Vec<(String, u32, Vec<u8>)>,
    nics: Vec<&'static str>,
    timeout: Duration,
}

/// The MAC of the VM's `ethN`.
pub fn nic_mac(n: usize) -> String {
    format!("52:54:00:fb:ff:{n:02x}")
}

impl Vm {
    pub fn new(script: &str) -> Self {
        Self {
            script: script.to_owned(),
            files: Vec::new(),
            nics: Vec::new(),
            timeout: Duration::from_secs(120),
        }
    }

    /// NICs `eth0`, `eth1`, … in this order, all on one QEMU hub: every frame one sends
    /// reaches all the others, and none leaves the VM.
    pub fn nics(mut self, models: &[&'static str]) -> Self {
        self.nics = models.to_vec();
        self
    }

    /// A file in the VM, owned by root.
    pub fn file(mut self, path: &str, perm: u32, data: impl Into<Vec<u8>>) -> Self {
        self.files.push((path.to_owned(), perm, data.into()));
        self
    }

    /// Wall-clock limit for the whole run, boot included (default 120 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Boots the VM and runs the script; panics if the VM does not come back with a status.
    pub fn boot(&self) -> VmRun {
        qemu::boot(self)
    }
}

/// What came back from a run.
#[derive(Debug)]
pub struct VmRun {
    /// The script's exit status.
    pub status: i32,
    /// The serial console, kernel and script output, `\r` removed.
    pub console: String,
    /// From starting QEMU to the script starting.
    pub boot: Duration,
    /// From starting QEMU to QEMU's exit.
    pub total: Duration,
}

impl VmRun {
    /// The last lines of the console, for failure messages.
    pub fn tail(&self) -> String {
        qemu::tail(&self.console)
    }

    /// Panics with the console's tail unless the script exited 0.
    pub fn expect_success(&self) -> &Self {
        assert_eq!(
            self.status,
            0,
            "the VM's script failed with status {}; console:\n{}",
            self.status,
            self.tail()
        );
        self
    }

    /// Every value the script reported for `key` with `fact KEY VALUE`, in order.
    pub fn facts(&self, key: &str) -> Vec<&str> {
        let prefix = format!("fact {key} ");
        self.console
            .lines()
            .filter_map(|l| l.strip_prefix(&prefix))
            .collect()
    }

    /// The one value reported for `key`; panics with the console's tail if there is not one.
    pub fn fact(&self, key: &str) -> &str {
        match self.facts(key)[..] {
            [value] => value,
            ref other => panic!(
                "expected one fact {key}, got {other:?}; console:\n{}",
                self.tail()
            ),
        }
    }
}
