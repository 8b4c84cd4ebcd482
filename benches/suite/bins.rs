//! The programs under test, installed for one run as a QEMU user meets them: setuid-root
//! copies of ours, of qemu-bridge-helper, of any `--compare` builds and of the two floors
//! (benches/floor/*.c, compiled here with `cc -O2 -static`), called by an unprivileged user.
//! qemu-bridge-helper opens /dev/net/tun as that user, so the run's namespace gets a 0666
//! /dev/net/tun (as most distributions have; this host's is 0600).
//!
//! Every copy is synced and dropped from the page cache, so that its first exec reads it
//! from disk as after a reboot, like libc and ld.so: how a file was written decides the
//! size of its page-cache folios, and so how many page faults an exec of it takes (a static
//! build written by `cp` in large writes ran 9% faster, 8 faults fewer, than the same bytes
//! read back from disk).

use std::fs;
use std::os::fd::AsRawFd;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use nix::sys::statvfs::{statvfs, FsFlags};
use nix::unistd::User;

use crate::Options;

/// Who calls the helpers: in /etc/passwd everywhere, owns nothing.
const CALLER: &str = "nobody";
/// (file under benches/floor, installed name)
const FLOORS: [(&str, &str); 2] = [("kernel.c", "kernel-floor"), ("noop.c", "exec-floor")];

/// Where a run may put setuid copies: the first of these whose file system honours setuid.
pub const PARENTS: [&str; 3] = ["/run", "/var/tmp", "/tmp"];

/// Every path a call needs, and the caller's ids.
pub struct Bins {
    pub ours: String,
    pub qbh: String,
    pub kernel_floor: String,
    pub exec_floor: String,
    /// `--compare LABEL=PATH`: (label, setuid copy).
    pub compare: Vec<(String, String)>,
    /// Links `vm@MAC` to ours, for the MAC-in-argv[0] row.
    pub links: PathBuf,
    pub caller: (libc::uid_t, libc::gid_t),
}

impl Bins {
    /// The paths [`install`] made under `dir`.
    pub fn new(dir: &Path, opts: &Options) -> Result<Self, String> {
        let bin = |name: &str| dir.join("bin").join(name).to_string_lossy().into_owned();
        let user = User::from_name(CALLER)
            .map_err(|e| format!("look up user {CALLER}: {e}"))?
            .ok_or(format!("no user {CALLER} to call the helpers as"))?;
        Ok(Self {
            ours: bin("fdb-bridge-helper"),
            qbh: bin("qemu-bridge-helper"),
            kernel_floor: bin(FLOORS[0].1),
            exec_floor: bin(FLOORS[1].1),
            compare: (opts.compare.iter())
                .map(|(label, _)| (label.clone(), bin(&format!("compare-{label}"))))
                .collect(),
            links: dir.join("links"),
            caller: (user.uid.as_raw(), user.gid.as_raw()),
        })
    }
}

/// A directory for this run under the first of [`PARENTS`] that allows setuid programs.
pub fn run_dir(id: u32) -> Result<PathBuf, String> {
    let usable = |p: &&&str| statvfs(**p).is_ok_and(|s| !s.flags().contains(FsFlags::ST_NOSUID));
    let parent = PARENTS.iter().find(usable).ok_or(format!(
        "none of {PARENTS:?} allows setuid programs (nosuid mounts): the bench installs setuid copies"
    ))?;
    Ok(Path::new(parent).join(format!("fbh-bench-{id}")))
}

/// Compiles the floors and installs every program under `dir/bin`, root 4755, plus the
/// 0666 tun node `dir/tun` and the empty link directory.
pub fn install(dir: &Path, ours: &str, qbh: &str, opts: &Options) -> Result<(), String> {
    let bin = dir.join("bin");
    for d in [&bin, &dir.join("links")] {
        fs::create_dir_all(d).map_err(|e| format!("mkdir {}: {e}", d.display()))?;
        fs::set_permissions(d, fs::Permissions::from_mode(0o755)).map_err(|e| e.to_string())?;
    }
    for (source, name) in FLOORS {
        compile(source, &bin.join(name))?;
    }
    setuid_copy(Path::new(ours), &bin.join("fdb-bridge-helper"))?;
    setuid_copy(Path::new(qbh), &bin.join("qemu-bridge-helper"))?;
    for (label, path) in &opts.compare {
        setuid_copy(path, &bin.join(format!("compare-{label}")))?;
    }
    for entry in fs::read_dir(&bin).map_err(|e| format!("read {}: {e}", bin.display()))? {
        drop_from_cache(&entry.map_err(|e| e.to_string())?.path())?;
    }
    make_tun(&dir.join("tun"))
}

/// Written back, then out of the page cache.
fn drop_from_cache(path: &Path) -> Result<(), String> {
    let file = fs::File::open(path).map_err(|e| format!("open {}: {e}", path.display()))?;
    file.sync_all()
        .map_err(|e| format!("fsync {}: {e}", path.display()))?;
    // SAFETY: the fd is open for the whole call; fadvise only reads its arguments.
    let rc = unsafe { libc::posix_fadvise(file.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED) };
    if rc != 0 {
        let err = std::io::Error::from_raw_os_error(rc);
        return Err(format!("drop {} from the page cache: {err}", path.display()));
    }
    Ok(())
}

/// `cc -O2 -static`; a bench without its floor would compare against nothing, so any
/// failure stops it with the compiler's words.
fn compile(source: &str, out: &Path) -> Result<(), String> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("benches/floor")
        .join(source);
    let result = Command::new("cc")
        .args(["-O2", "-static", "-o"])
        .arg(out)
        .arg(&src)
        .output();
    let why = match result {
        Ok(o) if o.status.success() => return setuid_copy(out, out),
        Ok(o) => String::from_utf8_lossy(&o.stderr).trim().to_owned(),
        Err(e) => e.to_string(),
    };
    Err(format!(
        "cannot build the floor {}: `cc -O2 -static` failed: {why}\n\
         (the floors need a C compiler and a static libc: apt-get install gcc libc6-dev)",
        src.display()
    ))
}

/// A root-owned 4755 copy (the bench runs as root, so copies are root's).
fn setuid_copy(from: &Path, to: &Path) -> Result<(), String> {
    if from != to {
        fs::copy(from, to).map_err(|e| format!("copy {} to {}: {e}", from.display(), to.display()))?;
    }
    fs::set_permissions(to, fs::Permissions::from_mode(0o4755))
        .map_err(|e| format!("chmod 4755 {}: {e}", to.display()))
}

fn make_tun(path: &Path) -> Result<(), String> {
    let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).map_err(|e| e.to_string())?;
    // SAFETY: `c` is a NUL-terminated path that outlives the call.
    let rc = unsafe { libc::mknod(c.as_ptr(), libc::S_IFCHR | 0o666, libc::makedev(10, 200)) };
    if rc != 0 {
        return Err(format!(
            "mknod {}: {}",
            path.display(),
            std::io::Error::last_os_error()
        ));
    }
    fs::set_permissions(path, fs::Permissions::from_mode(0o666)).map_err(|e| e.to_string())
}
