//! Inside the bench's network namespace: the two views of /etc/qemu (ours and
//! qemu-bridge-helper's), and waiting for closed taps to go. The inner process runs under
//! `ip netns exec`, so every command and every child is already in the namespace; links
//! are made and checked with the harness's rules ([`crate::common::Here`]).

use std::fs::{self, File};
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;
use std::time::Duration;

use nix::sched::{setns, unshare, CloneFlags};

use crate::common::direct::mount;
use crate::common::{wait_for, Here};

/// Which /etc/qemu a child sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    /// Ours: `allow all` plus the `managed` lines.
    Ours,
    /// qemu-bridge-helper's: `allow all` only (it rejects lines it does not know).
    Qbh,
}

/// Two mount namespaces that differ only in what is bind-mounted over /etc/qemu.
pub struct Views {
    ours: OwnedFd,
    qbh: OwnedFd,
}

impl Views {
    /// The current mount namespace is ours (the launcher bind-mounted our ACL directory);
    /// makes a second one with `qbh_etc` over /etc/qemu.
    pub fn new(qbh_etc: &Path) -> Result<Self, String> {
        let ours = open_mntns()?;
        unshare(CloneFlags::CLONE_NEWNS).map_err(|e| format!("unshare mount namespace: {e}"))?;
        mount(None, "/", None, libc::MS_REC | libc::MS_PRIVATE);
        let qbh_etc = qbh_etc.to_str().ok_or("ACL directory: not UTF-8")?;
        mount(Some(qbh_etc), "/etc/qemu", None, libc::MS_BIND);
        let qbh = open_mntns()?;
        let views = Self { ours, qbh };
        views.enter(View::Ours)?;
        Ok(views)
    }

    pub fn enter(&self, view: View) -> Result<(), String> {
        let fd = match view {
            View::Ours => &self.ours,
            View::Qbh => &self.qbh,
        };
        setns(fd.as_fd(), CloneFlags::CLONE_NEWNS).map_err(|e| format!("setns mount namespace: {e}"))
    }

    /// /etc/qemu/bridge.conf as `view` sees it.
    pub fn acl(&self, view: View) -> Result<String, String> {
        self.enter(view)?;
        let text = fs::read_to_string("/etc/qemu/bridge.conf");
        self.enter(View::Ours)?;
        text.map_err(|e| format!("read /etc/qemu/bridge.conf: {e}"))
    }
}

fn open_mntns() -> Result<OwnedFd, String> {
    File::open("/proc/self/ns/mnt")
        .map(OwnedFd::from)
        .map_err(|e| format!("open /proc/self/ns/mnt: {e}"))
}

/// lo up, IPv6 off (no router solicitations or MLD reports among the counted frames).
pub fn prepare() {
    Here::sh(
        "ip link set lo up && sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
        net.ipv6.conf.default.disable_ipv6=1",
    );
}

/// Waits until every tap is gone (their fds were closed), so that tap deletion never
/// overlaps the next timed call.
pub fn settle() -> Result<(), String> {
    if !wait_for(30.0, || Here::taps().is_empty()) {
        return Err(format!("taps still present after closing: {:?}", Here::taps()));
    }
    std::thread::sleep(Duration::from_millis(20));
    Ok(())
}

/// Raises the fd limit to at least `want` (the scale phase holds 1000 taps).
pub fn raise_nofile(want: u64) -> Result<(), String> {
    // SAFETY: rlimit is plain old data; getrlimit overwrites it.
    let mut lim: libc::rlimit = unsafe { std::mem::zeroed() };
    // SAFETY: `lim` is valid and writable for the call.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return Err(format!("getrlimit: {}", std::io::Error::last_os_error()));
    }
    let max = lim.rlim_max.max(want);
    let new = libc::rlimit {
        rlim_cur: max,
        rlim_max: max,
    };
    // SAFETY: `new` is a valid rlimit for the call.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &new) } != 0 {
        return Err(format!(
            "setrlimit NOFILE {max}: {}",
            std::io::Error::last_os_error()
        ));
    }
    Ok(())
}
