//! The one harness of the real-kernel integration tests (every binary under tests/) and of
//! the benchmark (benches/helper.rs includes it with `#[path]`): test users, installed
//! copies of the helper (setuid and file caps), throwaway network + mount namespaces,
//! links and their readiness, calling the helper exactly as QEMU does (with its rusage, for
//! timing: [`fork`]), MACs, and frames in and out of the guest's tap.
//!
//! Every test needs root; nothing is skipped silently.
// Each binary (a theme of tests, or the bench) uses its own part of the harness.
#![allow(dead_code)]

pub mod call;
pub mod devlog;
pub mod direct;
pub mod fdb;
pub mod fdb_watch;
pub mod fixtures;
pub mod fork;
pub mod frr;
pub mod hooks;
pub mod libvirtd;
pub mod links;
pub mod load;
pub mod mac;
pub mod net;
pub mod ns;
pub mod nss;
pub mod trace;
pub mod vm;

// Short paths for what most tests use; each binary uses some of them.
#[allow(unused_imports)]
pub use self::{
    call::{call, Call, Outcome},
    fixtures::{alice, as_user, Lan, BR0_MANAGED_BR1_PLAIN},
    links::Here,
    mac::Mac,
    net::{Frame, PacketSock, TapFd},
    ns::{Netns, Run},
};

use std::fs;
use std::os::unix::fs::{chown, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use nix::unistd::{Group, User};

/// A managed call's argv as QEMU passes it (`{fd}` is replaced by the socket's number):
/// `--use-vnet --br=br0 --fd={fd} --mac=MAC`.
pub fn managed_args(mac: &str) -> Vec<String> {
    ["--use-vnet", "--br=br0", "--fd={fd}", &format!("--mac={mac}")]
        .map(String::from)
        .to_vec()
}

pub fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// Panics unless the tests run as root: they create namespaces, users and setuid copies.
pub fn require_root() {
    if !nix::unistd::geteuid().is_root() {
        panic!("these tests need root: run `sudo packaging/test.sh`");
    }
}

#[derive(Debug)]
pub struct TestUser {
    pub name: &'static str,
    pub uid: u32,
    pub gid: u32,
}

/// How the helper is installed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Install {
    /// `root:root 4755`.
    Setuid,
    /// `0755` with `cap_net_admin+ep`; the caller needs a 0666 /dev/net/tun.
    FileCaps,
}

/// What every test shares, made once per test process.
#[derive(Debug)]
pub struct Env {
    pub alice: TestUser,
    pub bob: TestUser,
    pub staff_gid: u32,
    /// Private directory of this test process (root 0755, traversable by the users).
    pub dir: PathBuf,
    pub setuid: PathBuf,
    pub filecaps: PathBuf,
    /// A `0666` tun character device, bind-mounted over /dev/net/tun for the file-caps copy.
    pub tun: PathBuf,
}

impl Env {
    pub fn helper(&self, install: Install) -> &Path {
        match install {
            Install::Setuid => &self.setuid,
            Install::FileCaps => &self.filecaps,
        }
    }
}

// The test users and groups. Made when missing and never removed here: test runs in other
// checkouts share them. packaging/test.sh reads these lines (keep the `pub const NAME: &str
// = "fbh-…";` form for every user or group the harness makes) and removes, when it ends,
// those that did not exist when it started.
pub const ALICE: &str = "fbh-alice";
pub const BOB: &str = "fbh-bob";
pub const STAFF: &str = "fbh-staff";

/// The shared environment; the first call creates users, copies and directories.
pub fn env() -> &'static Env {
    static ENV: OnceLock<Env> = OnceLock::new();
    require_root();
    ENV.get_or_init(|| {
        ns::remove_stale("fbh-", "fbh-test-", &["/tmp"]);
        let staff_gid = ensure_group(STAFF);
        let alice = ensure_user(ALICE);
        let bob = ensure_user(BOB);
        let groups = sh_out("id", &["-nG", ALICE]);
        if !groups.split_whitespace().any(|g| g == STAFF) {
            sh_ok("usermod", &["-aG", STAFF, ALICE]);
        }
        let dir = PathBuf::from(format!("/tmp/fbh-test-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir(&dir).expect("create test dir");
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
        let binary = Path::new(env!("CARGO_BIN_EXE_fdb-bridge-helper"));
        let setuid = dir.join("fdb-bridge-helper-setuid");
        fs::copy(binary, &setuid).expect("copy helper");
        chown(&setuid, Some(0), Some(0)).unwrap();
        fs::set_permissions(&setuid, fs::Permissions::from_mode(0o4755)).unwrap();
        let filecaps = dir.join("fdb-bridge-helper-filecaps");
        fs::copy(binary, &filecaps).expect("copy helper");
        fs::set_permissions(&filecaps, fs::Permissions::from_mode(0o755)).unwrap();
        sh_ok("setcap", &["cap_net_admin+ep", filecaps.to_str().unwrap()]);
        let tun = dir.join("tun");
        sh_ok("mknod", &["-m", "666", tun.to_str().unwrap(), "c", "10", "200"]);
        // The mount point only: tests bind-mount their own directory over it.
        fs::create_dir_all("/etc/qemu").expect("mkdir /etc/qemu");
        // SAFETY: registers a plain extern "C" function with no captured state.
        unsafe { libc::atexit(remove_dir_at_exit) };
        Env {
            alice,
            bob,
            staff_gid,
            dir,
            setuid,
            filecaps,
            tun,
        }
    })
}

fn ensure_group(name: &str) -> u32 {
    if Group::from_name(name).unwrap().is_none() {
        let out = Command::new("groupadd")
            .args(["--system", name])
            .output()
            .unwrap();
        // Another test process may have won the race.
        if !out.status.success() && Group::from_name(name).unwrap().is_none() {
            panic!("groupadd {name}: {}", String::from_utf8_lossy(&out.stderr));
        }
    }
    Group::from_name(name).unwrap().unwrap().gid.as_raw()
}

fn ensure_user(name: &'static str) -> TestUser {
    if User::from_name(name).unwrap().is_none() {
        let out = Command::new("useradd")
            .args(["--system", "-M", "-U", "-s", "/usr/sbin/nologin", name])
            .output()
            .unwrap();
        if !out.status.success() && User::from_name(name).unwrap().is_none() {
            panic!("useradd {name}: {}", String::from_utf8_lossy(&out.stderr));
        }
    }
    let user = User::from_name(name).unwrap().unwrap();
    TestUser {
        name,
        uid: user.uid.as_raw(),
        gid: user.gid.as_raw(),
    }
}

/// Runs a host command (never one that touches links), panicking with its stderr on failure.
pub fn sh_ok(program: &str, args: &[&str]) {
    sh_out(program, args);
}

pub fn sh_out(program: &str, args: &[&str]) -> String {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?}: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// `len` random bytes (getrandom(2)).
pub fn random_vec(len: usize) -> Vec<u8> {
    let mut buf = vec![0u8; len];
    let mut done = 0;
    while done < len {
        // SAFETY: the pointer and length describe the unfilled tail of `buf`.
        let n = unsafe { libc::getrandom(buf[done..].as_mut_ptr().cast(), len - done, 0) };
        assert!(n > 0, "getrandom: {}", std::io::Error::last_os_error());
        done += n as usize;
    }
    buf
}

/// Random bytes for nonces and MACs.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    random_vec(N).try_into().unwrap()
}

/// Polls `cond` every 20 ms for up to `secs` seconds.
pub fn wait_for(secs: f64, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs_f64(secs);
    loop {
        if cond() {
            return true;
        }
        if std::time::Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// The test harness exits through exit(3): remove this process's directory then.
extern "C" fn remove_dir_at_exit() {
    let _ = fs::remove_dir_all(format!("/tmp/fbh-test-{}", std::process::id()));
}
