//! Link flags for the helper binary (only the `[[bin]]`, not tests or benches), from
//! measurements in the README's Performance section: the helper is exec'd for every guest
//! NIC, and after the kernel's own work most of a call is loading it.
//!
//! 1. libgcc's unwinder linked in statically. std names `-lgcc_s` on its link line itself,
//!    so `-static-libgcc` changes nothing; a linker script named `libgcc_s.so`, found first,
//!    turns that request into the static `libgcc_eh.a`. Exec then loads one shared library
//!    (libc) instead of two. With `panic = "abort"` the unwinder only ever walks a stack to
//!    print a backtrace. libgcc's runtime exception permits static linking.
//! 2. `-z pack-relative-relocs` (DT_RELR, glibc 2.36 and later): the ~1400 relative
//!    relocations of a PIE take 2 KiB instead of 34 KiB to read. The linker makes the binary
//!    require glibc's GLIBC_ABI_DT_RELR, so on an older glibc it refuses to start instead
//!    of running unrelocated; it is used only where the build host's glibc has it.

use std::env;
use std::fs;
use std::path::PathBuf;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let var = |name: &str| env::var(name).unwrap_or_default();
    let static_crt = var("CARGO_CFG_TARGET_FEATURE")
        .split(',')
        .any(|f| f == "crt-static");
    if var("CARGO_CFG_TARGET_OS") != "linux" || var("CARGO_CFG_TARGET_ENV") != "gnu" || static_crt {
        return;
    }
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let dir = out.join("static-libgcc");
    fs::create_dir_all(&dir).expect("create OUT_DIR/static-libgcc");
    fs::write(dir.join("libgcc_s.so"), "INPUT(-lgcc_eh)\n").expect("write OUT_DIR/static-libgcc/libgcc_s.so");
    println!("cargo:rustc-link-arg-bins=-L{}", dir.display());
    if var("HOST") == var("TARGET") && host_glibc_at_least(2, 36) {
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
}

/// `getconf GNU_LIBC_VERSION` prints `glibc 2.36`; anything unreadable counts as older.
fn host_glibc_at_least(major: u32, minor: u32) -> bool {
    let Ok(out) = Command::new("getconf").arg("GNU_LIBC_VERSION").output() else {
        return false;
    };
    let text = String::from_utf8_lossy(&out.stdout);
    let mut numbers = text
        .trim()
        .strip_prefix("glibc ")
        .unwrap_or("")
        .split('.')
        .map(|n| n.parse::<u32>().unwrap_or(0));
    let version = (numbers.next().unwrap_or(0), numbers.next().unwrap_or(0));
    version >= (major, minor)
}
