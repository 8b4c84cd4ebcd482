//! Inside the bench's network namespace: the two views of /etc/qemu (ours and
//! qemu-bridge-helper's), links, and readiness checks. The inner process runs under
//! `ip netns exec`, so every command and every child is already in the namespace.

use std::fs::{self, File};
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use nix::sched::{setns, unshare, CloneFlags};

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
        mount(None, "/", libc::MS_REC | libc::MS_PRIVATE)?;
        mount(Some(qbh_etc), "/etc/qemu", libc::MS_BIND)?;
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

fn mount(source: Option<&Path>, target: &str, flags: libc::c_ulong) -> Result<(), String> {
    let c = |s: &str| std::ffi::CString::new(s).map_err(|_| format!("NUL in {s:?}"));
    let src = source.map(|p| c(&p.to_string_lossy())).transpose()?;
    let dst = c(target)?;
    let src_ptr = src.as_ref().map_or(std::ptr::null(), |s| s.as_ptr());
    // SAFETY: every pointer is NULL or a NUL-terminated string that outlives the call.
    let rc = unsafe { libc::mount(src_ptr, dst.as_ptr(), std::ptr::null(), flags, std::ptr::null()) };
    if rc != 0 {
        let err = std::io::Error::last_os_error();
        return Err(format!("mount {source:?} on {target}: {err}"));
    }
    Ok(())
}

/// Runs a shell script (in the namespace) and returns its stdout; fails with its stderr.
pub fn sh(script: &str) -> Result<String, String> {
    let out = Command::new("sh")
        .args(["-c", script])
        .output()
        .map_err(|e| format!("sh: {e}"))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        return Err(format!("`{script}` failed ({}): {}", out.status, err.trim()));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// lo up, IPv6 off (no router solicitations or MLD reports among the counted frames).
pub fn prepare() -> Result<(), String> {
    sh(
        "ip link set lo up && sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
        net.ipv6.conf.default.disable_ipv6=1",
    )
    .map(drop)
}

/// `ip link add NAME type bridge`, up.
pub fn add_bridge(name: &str) -> Result<(), String> {
    sh(&format!(
        "ip link add {name} type bridge && ip link set {name} up"
    ))
    .map(drop)
}

/// A veth pair: `port` in `bridge`, `far` outside it, both up and ready.
pub fn add_uplink(bridge: &str, port: &str, far: &str) -> Result<(), String> {
    sh(&format!(
        "ip link add {port} type veth peer name {far} && ip link set {port} master {bridge} && \
         ip link set {port} up && ip link set {far} up"
    ))?;
    wait_ready(port)?;
    wait_ready(far)
}

pub fn del_link(name: &str) -> Result<(), String> {
    sh(&format!("ip link del {name}")).map(drop)
}

/// Waits until `link` carries frames: operstate up (a veth: set by linkwatch together with
/// the real qdisc) or unknown with carrier (a tap: it has no operstate of its own), and for
/// a bridge port, state forwarding.
pub fn wait_ready(link: &str) -> Result<(), String> {
    let dir = Path::new("/sys/class/net").join(link);
    let read = |f: &str| fs::read_to_string(dir.join(f)).unwrap_or_default();
    let ready = || {
        let oper = read("operstate");
        (oper.trim() == "up" || (oper.trim() == "unknown" && read("carrier").trim() == "1"))
            && (!dir.join("brport").exists() || read("brport/state").trim() == "3")
    };
    wait_for(Duration::from_secs(5), ready)
        .then_some(())
        .ok_or_else(|| {
            let (oper, state) = (read("operstate"), read("brport/state"));
            format!("{link} not ready after 5 s: operstate {oper:?}, bridge port state {state:?}")
        })
}

/// Names of the tap devices in the namespace.
pub fn taps() -> Vec<String> {
    let entries = fs::read_dir("/sys/class/net").into_iter().flatten().flatten();
    entries
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with("tap"))
        .collect()
}

/// Waits until every tap is gone (their fds were closed), so that tap deletion never
/// overlaps the next timed call.
pub fn settle() -> Result<(), String> {
    if !wait_for(Duration::from_secs(30), || taps().is_empty()) {
        return Err(format!("taps still present after closing: {:?}", taps()));
    }
    std::thread::sleep(Duration::from_millis(20));
    Ok(())
}

pub fn mac_of(link: &str) -> Result<[u8; 6], String> {
    let text = fs::read_to_string(format!("/sys/class/net/{link}/address"))
        .map_err(|e| format!("address of {link}: {e}"))?;
    let mut mac = [0u8; 6];
    let parts: Vec<&str> = text.trim().split(':').collect();
    if parts.len() != 6 {
        return Err(format!("address of {link}: {text:?}"));
    }
    for (byte, part) in mac.iter_mut().zip(parts) {
        *byte = u8::from_str_radix(part, 16).map_err(|e| format!("address of {link}: {e}"))?;
    }
    Ok(mac)
}

fn wait_for(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while !cond() {
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    true
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
