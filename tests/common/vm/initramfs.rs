//! The VM's initramfs, written as a newc cpio archive by hand (so that owners and modes, the
//! helper's setuid bit among them, are exactly what we say, whoever builds it): static busybox,
//! bash, iproute2's `ip` and `bridge` and the helper with their shared libraries, the modules,
//! the caller (`fbh-guest`), `/init` and the shell library. A run appends a second archive with
//! its own files; the kernel unpacks both, later entries replacing earlier ones.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use super::kernel::{check, kernel};

/// The modules every VM loads (and whatever they depend on).
#[rustfmt::skip]
pub const MODULES: &[&str] = &[
    "bridge", "stp", "llc", "veth", "tun", "8021q", "garp", "mrp", "macvlan", "macvtap",
    "virtio_net", "virtio_pci", "e1000", "virtio_rng",
];
/// Where the helper is installed in the VM, `root:root 4755`.
pub const HELPER: &str = "/usr/libexec/fdb-bridge-helper";
/// The unprivileged users: (name, uid); each has a group of the same name and id.
pub const USERS: &[(&str, u32)] = &[("alice", 1000), ("bob", 1001)];

const BUSYBOX: &str = "/usr/bin/busybox";
/// Host binaries copied with their libraries. busybox's `ip` applet stands in for no tool:
/// busybox `sh` always runs its own applets, which is why scripts run under bash.
const HOST_TOOLS: &[(&str, &str)] = &[
    ("/usr/bin/bash", "/bin/bash"),
    ("/usr/sbin/ip", "/usr/sbin/ip"),
    ("/usr/sbin/bridge", "/usr/sbin/bridge"),
];

/// A newc ("070701") cpio archive, all entries owned by root unless said otherwise.
#[derive(Default)]
pub struct Cpio {
    buf: Vec<u8>,
    dirs: BTreeSet<String>,
    /// Shared libraries already written.
    libs: BTreeSet<String>,
    ino: u32,
}

impl Cpio {
    fn entry(&mut self, path: &str, mode: u32, uid: u32, data: &[u8]) {
        let name = path.trim_start_matches('/');
        self.ino += 1;
        let fields = [
            self.ino,
            mode,
            uid,
            uid, // gid: root's or the user's own group
            1,
            0,
            data.len() as u32,
            0,
            0,
            0,
            0,
            name.len() as u32 + 1,
            0,
        ];
        self.buf.extend_from_slice(b"070701");
        for field in fields {
            self.buf.extend_from_slice(format!("{field:08x}").as_bytes());
        }
        self.buf.extend_from_slice(name.as_bytes());
        self.buf.push(0);
        self.pad();
        self.buf.extend_from_slice(data);
        self.pad();
    }

    fn pad(&mut self) {
        while self.buf.len() % 4 != 0 {
            self.buf.push(0);
        }
    }

    /// A directory (and its missing parents, 0755).
    pub fn dir(&mut self, path: &str, perm: u32) {
        if let Some((parent, _)) = path.rsplit_once('/') {
            if !parent.is_empty() && !self.dirs.contains(parent) {
                self.dir(parent, 0o755);
            }
        }
        if self.dirs.insert(path.to_owned()) {
            self.entry(path, libc::S_IFDIR | perm, 0, &[]);
        }
    }

    fn parent(&mut self, path: &str) {
        let (parent, _) = path.rsplit_once('/').expect("absolute path");
        if !parent.is_empty() && !self.dirs.contains(parent) {
            self.dir(parent, 0o755);
        }
    }

    /// A regular file with permission bits `perm` (setuid included), owned by `uid`.
    pub fn file_owned(&mut self, path: &str, perm: u32, uid: u32, data: &[u8]) {
        self.parent(path);
        self.entry(path, libc::S_IFREG | perm, uid, data);
    }

    pub fn file(&mut self, path: &str, perm: u32, data: &[u8]) {
        self.file_owned(path, perm, 0, data);
    }

    pub fn symlink(&mut self, path: &str, target: &str) {
        self.parent(path);
        self.entry(path, libc::S_IFLNK | 0o777, 0, target.as_bytes());
    }

    /// An archive to unpack after one with `dirs`: it leaves those directories as they are
    /// (an entry for one would set its mode again).
    pub fn on_top_of(dirs: &BTreeSet<String>) -> Self {
        Self {
            dirs: dirs.clone(),
            ..Self::default()
        }
    }

    pub fn finish(mut self) -> Vec<u8> {
        self.entry("TRAILER!!!", 0, 0, &[]);
        self.buf
    }

    /// Copies a host binary to `dest` and every shared library `ldd` names to its own path.
    fn binary(&mut self, host: &Path, dest: &str, perm: u32) {
        let data = fs::read(host).unwrap_or_else(|e| panic!("read {}: {e}", host.display()));
        self.file(dest, perm, &data);
        for lib in libraries(host) {
            if !self.libs.contains(&lib) {
                let data = fs::read(&lib).unwrap_or_else(|e| panic!("read {lib}: {e}"));
                self.file(&lib, 0o755, &data);
                self.libs.insert(lib);
            }
        }
    }
}

/// The shared objects a dynamically linked binary loads, the loader included (none for a
/// static one).
pub fn libraries(binary: &Path) -> Vec<String> {
    let out = Command::new("ldd").arg(binary).output().expect("run ldd");
    let text = String::from_utf8_lossy(&out.stdout);
    if text.contains("not a dynamic executable") {
        return Vec::new();
    }
    text.lines()
        .filter_map(|l| {
            let l = l.trim();
            let path = l.split_once("=> ").map_or(l, |(_, p)| p);
            let path = path.split(" (").next()?;
            path.starts_with('/').then(|| path.to_owned())
        })
        .collect()
}

/// The part every VM shares, built once per test process: the archive and its directories.
pub fn base() -> &'static (Vec<u8>, BTreeSet<String>) {
    static BASE: OnceLock<(Vec<u8>, BTreeSet<String>)> = OnceLock::new();
    BASE.get_or_init(build_base)
}

fn build_base() -> (Vec<u8>, BTreeSet<String>) {
    let mut cpio = Cpio::default();
    // The root of rootfs is 1777 unless the archive says otherwise, and the helper trusts no
    // ACL under a world-writable directory.
    cpio.entry(".", libc::S_IFDIR | 0o755, 0, &[]);
    for dir in ["/proc", "/sys", "/dev", "/run", "/root", "/home", "/etc/qemu"] {
        cpio.dir(dir, 0o755);
    }
    cpio.dir("/tmp", 0o1777);
    let busybox = Path::new(BUSYBOX);
    assert!(
        busybox.exists() && libraries(busybox).is_empty(),
        "{BUSYBOX} is missing or not static: install busybox-static (packaging/deps.sh)"
    );
    cpio.file("/bin/busybox", 0o755, &fs::read(busybox).unwrap());
    let own: Vec<&str> = HOST_TOOLS
        .iter()
        .map(|(_, d)| d.rsplit('/').next().unwrap())
        .collect();
    let out = Command::new(BUSYBOX).arg("--list").output().unwrap();
    for applet in String::from_utf8_lossy(&out.stdout).lines() {
        if !own.contains(&applet) && applet != "busybox" {
            cpio.symlink(&format!("/bin/{applet}"), "busybox");
        }
    }
    for (host, dest) in HOST_TOOLS {
        cpio.binary(Path::new(host), dest, 0o755);
    }
    let helper = helper_binary();
    cpio.binary(&helper, HELPER, 0o4755);
    let _ = fs::remove_file(helper);
    cpio.file("/usr/bin/fbh-guest", 0o755, &guest_binary());
    let mut order = String::new();
    for (name, path) in kernel().modules(MODULES) {
        cpio.file(
            &format!("/lib/modules/{name}.ko"),
            0o644,
            &fs::read(path).unwrap(),
        );
        order.push_str(&name);
        order.push('\n');
    }
    cpio.file("/etc/fbh-vm/modules", 0o644, order.as_bytes());
    accounts(&mut cpio);
    cpio.file("/init", 0o755, include_bytes!("init.sh"));
    cpio.file("/usr/lib/fbh-vm/lib.sh", 0o644, include_bytes!("lib.sh"));
    let dirs = cpio.dirs.clone();
    (cpio.finish(), dirs)
}

fn accounts(cpio: &mut Cpio) {
    let mut passwd = String::from("root:x:0:0:root:/root:/bin/bash\n");
    let mut group = String::from("root:x:0:\n");
    for (name, uid) in USERS {
        passwd.push_str(&format!("{name}:x:{uid}:{uid}::/home:/bin/sh\n"));
        group.push_str(&format!("{name}:x:{uid}:\n"));
    }
    cpio.file("/etc/passwd", 0o644, passwd.as_bytes());
    cpio.file("/etc/group", 0o644, group.as_bytes());
    cpio.file("/etc/nsswitch.conf", 0o644, b"passwd: files\ngroup: files\n");
}

/// The caller, compiled at test time with `gcc -static`. C rather than a Rust binary: a static
/// Rust binary needs `-C target-feature=+crt-static` for the whole build or a target of its own,
/// and a `[[bin]]` would ship with the package; gcc and glibc's static libc are Debian packages.
/// Static glibc is safe here: the caller never looks up users (no NSS, see DESIGN §4).
fn guest_binary() -> Vec<u8> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/common/vm/guest.c");
    let out = scratch("fbh-guest");
    check(
        Command::new("gcc")
            .args(["-static", "-O2", "-Wall", "-Werror", "-o"])
            .arg(&out)
            .arg(&src),
    );
    let data = fs::read(&out).unwrap();
    let _ = fs::remove_file(out);
    data
}

/// A path of this process's own under the target directory (test binaries run side by side).
pub fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("fbh-vm");
    fs::create_dir_all(&dir).unwrap();
    dir.join(format!("{name}.{}", std::process::id()))
}

/// The crate's own helper without its debug sections: the same code, a tenth of the size, and
/// every megabyte of initramfs costs boot time under TCG.
fn helper_binary() -> PathBuf {
    let out = scratch("fdb-bridge-helper");
    let helper = env!("CARGO_BIN_EXE_fdb-bridge-helper");
    check(Command::new("objcopy").arg("--strip-debug").arg(helper).arg(&out));
    out
}
