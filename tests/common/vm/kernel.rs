//! The kernel under test: Debian 12's stock `linux-image-amd64` (6.1), which has what the host's
//! kernel lacks (bridge `vlan_filtering`, 8021q). Fetched with `apt-get download` and unpacked
//! with `dpkg -x` into a cache that survives between runs (nothing is installed on the host);
//! `vmlinux` is taken out of the bzImage so that QEMU boots it through its PVH entry, about
//! twice as fast under TCG as the bzImage's own boot path.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use nix::fcntl::{Flock, FlockArg};

/// The metapackage whose dependency names the current kernel package.
const META: &str = "linux-image-amd64";
/// Left in a kernel's cache directory once it is complete.
const COMPLETE: &str = ".complete";
/// `XEN_ELFNOTE_PHYS32_ENTRY` (<xen/interface/elfnote.h>): the PVH entry point QEMU looks for.
const PVH_NOTE: &str = "(0x00000012)";

#[derive(Debug)]
pub struct Kernel {
    /// The unpacked package (`boot/`, `lib/modules/VERSION/`).
    pub root: PathBuf,
    pub version: String,
    pub vmlinux: PathBuf,
}

/// Where downloads and unpacked kernels are kept: `$FBH_VM_CACHE`, else
/// `/var/cache/fdb-bridge-helper-tests` (outside the work tree, so a fresh clone reuses it).
pub fn cache_dir() -> PathBuf {
    std::env::var_os("FBH_VM_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/cache/fdb-bridge-helper-tests"))
}

/// The cached kernel, downloaded and unpacked on first use. Test processes running at the same
/// time serialize on a lock file, so only one downloads.
pub fn kernel() -> &'static Kernel {
    static KERNEL: OnceLock<Kernel> = OnceLock::new();
    KERNEL.get_or_init(|| {
        let cache = cache_dir();
        fs::create_dir_all(&cache).unwrap_or_else(|e| panic!("failed to create {}: {e}", cache.display()));
        let lock = File::create(cache.join(".lock")).expect("create cache lock");
        let _lock = Flock::lock(lock, FlockArg::LockExclusive)
            .unwrap_or_else(|(_, e)| panic!("failed to lock {}: {e}", cache.display()));
        match cached(&cache) {
            Some(kernel) => kernel,
            None => fetch(&cache),
        }
    })
}

/// The newest complete kernel in the cache. A cached kernel is used as is, without asking apt:
/// runs after the first need no network. Delete the cache to move to a newer kernel.
fn cached(cache: &Path) -> Option<Kernel> {
    let mut dirs: Vec<PathBuf> = fs::read_dir(cache)
        .ok()?
        .filter_map(|e| Some(e.ok()?.path()))
        .filter(|p| p.join(COMPLETE).exists())
        .collect();
    dirs.sort();
    let root = dirs.pop()?;
    let version = module_version(&root);
    let vmlinux = root.join("vmlinux");
    Some(Kernel {
        root,
        version,
        vmlinux,
    })
}

fn fetch(cache: &Path) -> Kernel {
    let package = resolve_package();
    let download = cache.join("download");
    let _ = fs::remove_dir_all(&download);
    fs::create_dir_all(&download).unwrap();
    if !run_ok(
        Command::new("apt-get")
            .args(["download", &package])
            .current_dir(&download),
    ) {
        // Stale package lists name a version the archive no longer has.
        apt_update();
        let mut retry = Command::new("apt-get");
        check(retry.args(["download", &package]).current_dir(&download));
    }
    let deb = fs::read_dir(&download)
        .unwrap()
        .filter_map(|e| Some(e.ok()?.path()))
        .find(|p| p.extension().is_some_and(|x| x == "deb"))
        .unwrap_or_else(|| panic!("apt-get download {package} left no .deb"));
    let name = deb.file_stem().unwrap().to_string_lossy().into_owned();
    let root = cache.join(&name);
    let _ = fs::remove_dir_all(&root);
    check(Command::new("dpkg").arg("-x").arg(&deb).arg(&root));
    let _ = fs::remove_dir_all(&download);
    let version = module_version(&root);
    let vmlinux = root.join("vmlinux");
    extract_vmlinux(&root.join(format!("boot/vmlinuz-{version}")), &vmlinux);
    File::create(root.join(COMPLETE)).unwrap();
    Kernel {
        root,
        version,
        vmlinux,
    }
}

/// The package `linux-image-amd64` depends on today, e.g. `linux-image-6.1.0-56-amd64`.
fn resolve_package() -> String {
    let find = || {
        let out = Command::new("apt-cache").args(["depends", META]).output().ok()?;
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        text.lines()
            .filter_map(|l| l.trim().strip_prefix("Depends: "))
            .find(|p| p.starts_with("linux-image-"))
            .map(str::to_owned)
    };
    find()
        .or_else(|| {
            apt_update();
            find()
        })
        .unwrap_or_else(|| panic!("failed to resolve {META}: apt-cache knows no such package"))
}

fn apt_update() {
    check(Command::new("apt-get").args(["update", "-qq"]));
}

/// The one directory under `lib/modules/`.
fn module_version(root: &Path) -> String {
    let dir = root.join("lib/modules");
    let mut names: Vec<String> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("failed to read {}: {e}", dir.display()))
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names.len(),
        1,
        "expected one kernel in {}: {names:?}",
        dir.display()
    );
    names.pop().unwrap()
}

/// A bzImage carries vmlinux as an xz stream behind its setup code: find the xz magic and
/// unpack that one stream (what follows it is not xz). The result must carry the PVH note.
fn extract_vmlinux(bzimage: &Path, out: &Path) {
    const XZ_MAGIC: &[u8] = b"\xfd7zXZ\0";
    let image = fs::read(bzimage).unwrap_or_else(|e| panic!("read {}: {e}", bzimage.display()));
    let start = image
        .windows(XZ_MAGIC.len())
        .position(|w| w == XZ_MAGIC)
        .unwrap_or_else(|| panic!("{} has no xz payload", bzimage.display()));
    let mut xz = Command::new("xz")
        .args(["-dc", "--single-stream"])
        .stdin(Stdio::piped())
        .stdout(File::create(out).unwrap())
        .spawn()
        .expect("failed to run xz (package xz-utils)");
    // xz stops reading at the end of the stream; a broken pipe after that is expected.
    let _ = xz.stdin.take().unwrap().write_all(&image[start..]);
    assert!(xz.wait().unwrap().success(), "xz failed on {}", bzimage.display());
    let notes = Command::new("readelf").arg("-n").arg(out).output();
    let notes = notes.expect("failed to run readelf (package binutils)");
    assert!(
        String::from_utf8_lossy(&notes.stdout).contains(PVH_NOTE),
        "{} has no PVH entry note: QEMU cannot boot it with -kernel",
        out.display()
    );
}

impl Kernel {
    fn modules_dir(&self) -> PathBuf {
        self.root.join("lib/modules").join(&self.version)
    }

    /// `names` and everything they depend on, as (name, file) in an order `insmod` accepts.
    /// Built-in ones are left out; a name that is neither a module nor built in panics.
    pub fn modules(&self, names: &[&str]) -> Vec<(String, PathBuf)> {
        let dir = self.modules_dir();
        let mut files = BTreeMap::new();
        index(&dir.join("kernel"), &mut files);
        let builtin = fs::read_to_string(dir.join("modules.builtin")).unwrap_or_default();
        let builtin: BTreeSet<String> = builtin
            .lines()
            .filter_map(|l| l.rsplit('/').next()?.strip_suffix(".ko"))
            .map(normalize)
            .collect();
        let mut order = Vec::new();
        let mut seen = BTreeSet::new();
        for name in names {
            visit(&normalize(name), &files, &builtin, &mut seen, &mut order);
        }
        order
    }
}

/// Module names use `-` and `_` interchangeably.
fn normalize(name: &str) -> String {
    name.replace('-', "_")
}

fn index(dir: &Path, files: &mut BTreeMap<String, PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            index(&path, files);
        } else if let Some(stem) = path.file_name().unwrap().to_str().unwrap().strip_suffix(".ko") {
            files.insert(normalize(stem), path);
        }
    }
}

fn visit(
    name: &str,
    files: &BTreeMap<String, PathBuf>,
    builtin: &BTreeSet<String>,
    seen: &mut BTreeSet<String>,
    order: &mut Vec<(String, PathBuf)>,
) {
    if !seen.insert(name.to_owned()) || builtin.contains(name) {
        return;
    }
    let path = files
        .get(name)
        .unwrap_or_else(|| panic!("the kernel has no module {name} and does not build it in"));
    for dep in depends(path) {
        visit(&dep, files, builtin, seen, order);
    }
    order.push((name.to_owned(), path.clone()));
}

/// The `depends=` field of a module's `.modinfo` section (NUL-separated `key=value` strings).
fn depends(path: &Path) -> Vec<String> {
    let data = fs::read(path).unwrap();
    let key = b"\0depends=";
    let Some(at) = data.windows(key.len()).position(|w| w == key) else {
        return Vec::new();
    };
    let value = &data[at + key.len()..];
    let value = &value[..value.iter().position(|b| *b == 0).unwrap_or(value.len())];
    String::from_utf8_lossy(value)
        .split(',')
        .filter(|d| !d.is_empty())
        .map(normalize)
        .collect()
}

fn run_ok(cmd: &mut Command) -> bool {
    cmd.output().is_ok_and(|o| o.status.success())
}

/// Runs `cmd`, panicking with its output unless it succeeds.
pub fn check(cmd: &mut Command) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("failed to run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
