//! The outer process: checks that the bench can run at all (root, an optimized helper,
//! qemu-bridge-helper), writes the two ACL directories, installs the programs (bins.rs),
//! makes the network namespace and re-executes this binary inside it with our ACL directory
//! bind-mounted over /etc/qemu and a 0666 tun node over /dev/net/tun, in a private mount
//! namespace. It removes the namespace and the directory afterwards.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use crate::Options;

/// Debian's reference helper (package qemu-system-common).
pub const QBH: &str = "/usr/lib/qemu/qemu-bridge-helper";
/// Ours, as cargo built it for this bench (the bench profile inherits release).
pub const OURS: &str = env!("CARGO_BIN_EXE_fdb-bridge-helper");

/// Ours: every bridge allowed; the bench's managed bridges marked (the latency rows' are
/// added from variants.rs).
const ACL_OURS: &str = "allow all\nmanaged brs\nmanaged brc\nmanaged dpm\n";
/// qemu-bridge-helper refuses lines it does not know: in bridge.conf every call fails
/// ("Unknown command `managed'"); in an include it says so on stderr and stops reading it.
const ACL_QBH: &str = "allow all\n";

/// Runs the whole bench and returns the inner process's exit code.
pub fn launch(opts: &Options) -> Result<i32, String> {
    preflight(opts)?;
    // Namespaces `fbhb-PID` and directories `fbh-bench-PID` left by runs that died.
    crate::common::ns::remove_stale("fbhb-", "fbh-bench-", &crate::bins::PARENTS);
    let id = std::process::id();
    let (dir, netns) = (crate::bins::run_dir(id)?, format!("fbhb-{id}"));
    let result = write_acl_dirs(&dir)
        .and_then(|()| crate::bins::install(&dir, OURS, QBH, opts))
        .and_then(|()| run_inner(opts, &dir, &netns));
    let _ = Command::new("ip").args(["netns", "del", &netns]).output();
    let _ = fs::remove_dir_all(&dir);
    result
}

fn preflight(opts: &Options) -> Result<(), String> {
    if !nix::unistd::geteuid().is_root() {
        return Err(
            "the benchmark needs root (it creates network namespaces and taps): \
                    run `cargo bench --bench helper` as root"
                .into(),
        );
    }
    check_optimized(Path::new(OURS))?;
    let mode = fs::metadata(QBH).map_err(|e| format!("{QBH}: {e} (apt-get install qemu-system-common)"))?;
    if mode.permissions().mode() & 0o111 == 0 {
        return Err(format!("{QBH} is not executable"));
    }
    for (label, path) in &opts.compare {
        if !fs::metadata(path).is_ok_and(|m| m.is_file()) {
            return Err(format!("--compare {label}={}: no such file", path.display()));
        }
    }
    // The mount point only (the harness may create it); nothing is ever written into it.
    fs::create_dir_all("/etc/qemu").map_err(|e| format!("mkdir /etc/qemu: {e}"))
}

/// The bench profile inherits release (lto, codegen-units = 1, panic = abort, strip): a
/// binary with a symbol table or debug info was built some other way.
fn check_optimized(path: &Path) -> Result<(), String> {
    let elf = fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let names = section_names(&elf).ok_or_else(|| format!("{}: not an ELF64 file", path.display()))?;
    let unstripped: Vec<&String> = (names.iter())
        .filter(|n| *n == ".symtab" || n.starts_with(".debug_"))
        .collect();
    if !unstripped.is_empty() || !path.components().any(|c| c.as_os_str() == "release") {
        return Err(format!(
            "{} is not an optimized build (sections {unstripped:?}): run it through `cargo bench`",
            path.display()
        ));
    }
    Ok(())
}

/// The section names of a little-endian ELF64 file.
fn section_names(elf: &[u8]) -> Option<Vec<String>> {
    let u16_at = |o: usize| Some(u16::from_le_bytes(elf.get(o..o + 2)?.try_into().ok()?) as usize);
    let u32_at = |o: usize| Some(u32::from_le_bytes(elf.get(o..o + 4)?.try_into().ok()?) as usize);
    let u64_at = |o: usize| Some(u64::from_le_bytes(elf.get(o..o + 8)?.try_into().ok()?) as usize);
    if elf.get(..5)? != b"\x7fELF\x02" {
        return None;
    }
    let (shoff, shentsize, shnum, shstrndx) = (u64_at(0x28)?, u16_at(0x3a)?, u16_at(0x3c)?, u16_at(0x3e)?);
    let header = |i: usize| shoff + i * shentsize;
    let strtab = u64_at(header(shstrndx) + 0x18)?;
    let name = |i: usize| -> Option<String> {
        let start = strtab + u32_at(header(i))?;
        let len = elf.get(start..)?.iter().position(|b| *b == 0)?;
        Some(String::from_utf8_lossy(&elf[start..start + len]).into_owned())
    };
    (0..shnum).map(name).collect()
}

/// `DIR/ours/bridge.conf` and `DIR/qbh/bridge.conf`, root 0644 in root 0755 directories
/// (our helper honours only ACL files that no one but root could have written).
fn write_acl_dirs(dir: &Path) -> Result<(), String> {
    let _ = fs::remove_dir_all(dir);
    let ours = format!("{ACL_OURS}{}", crate::variants::acl_lines(crate::MAX_COMPARE));
    for (sub, text) in [("", ""), ("ours", ours.as_str()), ("qbh", ACL_QBH)] {
        let d = dir.join(sub);
        fs::create_dir_all(&d).map_err(|e| format!("mkdir {}: {e}", d.display()))?;
        fs::set_permissions(&d, fs::Permissions::from_mode(0o755)).map_err(|e| e.to_string())?;
        if !text.is_empty() {
            let f = d.join("bridge.conf");
            fs::write(&f, text).map_err(|e| format!("write {}: {e}", f.display()))?;
            fs::set_permissions(&f, fs::Permissions::from_mode(0o644)).map_err(|e| e.to_string())?;
        }
    }
    Ok(())
}

fn run_inner(opts: &Options, dir: &Path, netns: &str) -> Result<i32, String> {
    let out = Command::new("ip").args(["netns", "add", netns]).output();
    match out {
        Ok(o) if o.status.success() => {}
        Ok(o) => {
            return Err(format!(
                "ip netns add {netns}: {}",
                String::from_utf8_lossy(&o.stderr)
            ))
        }
        Err(e) => return Err(format!("ip: {e} (install iproute2)")),
    }
    let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
    let script = "mount --bind \"$1\" /etc/qemu && mount --bind \"$2\" /dev/net/tun || exit 125; \
                  shift 2; exec \"$@\"";
    let mut cmd = Command::new("ip");
    cmd.args(["netns", "exec", netns, "sh", "-c", script, "sh"])
        .arg(dir.join("ours"))
        .arg(dir.join("tun"))
        .arg(exe)
        .arg("--inner")
        .arg(dir)
        .arg("--json")
        .arg(&opts.json);
    if opts.quick {
        cmd.arg("--quick");
    }
    if opts.no_fifo {
        cmd.arg("--no-fifo");
    }
    for (label, path) in &opts.compare {
        cmd.arg("--compare").arg(format!("{label}={}", path.display()));
    }
    let mut child = cmd.spawn().map_err(|e| format!("ip netns exec: {e}"))?;
    // Ctrl-C stops the inner process (same process group); this one stays to clean up.
    // SAFETY: installs SIG_IGN, no handler code runs.
    unsafe { libc::signal(libc::SIGINT, libc::SIG_IGN) };
    let status = child.wait().map_err(|e| format!("wait for the bench: {e}"))?;
    Ok(status.code().unwrap_or(1))
}
