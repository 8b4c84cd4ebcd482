//! libvirt's hook directory as the helper and libvirtd see it: a root-owned directory of
//! the test's, bind-mounted over /etc/libvirt/hooks inside the test's mount namespace,
//! with or without `qemu.d/fdb-bridge-helper` (the libvirt integration's symlink).

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use super::{Netns, Run};

/// Where libvirt (and the helper's lstat) look.
pub const HOOKS: &str = "/etc/libvirt/hooks";
pub const HOOK_LINK: &str = "qemu.d/fdb-bridge-helper";

/// Creates `NS/hooks` (root 0755), and `qemu.d/fdb-bridge-helper` → `target` in it if
/// `target` is given. Makes the host's /etc/libvirt/hooks exist as an empty mount point.
pub fn hooks_dir(ns: &Netns, target: Option<&Path>) -> PathBuf {
    fs::create_dir_all(HOOKS).expect("mkdir /etc/libvirt/hooks");
    let dir = ns.dir.join("hooks");
    let qemu_d = dir.join("qemu.d");
    fs::create_dir_all(&qemu_d).unwrap();
    for d in [&dir, &qemu_d] {
        fs::set_permissions(d, fs::Permissions::from_mode(0o755)).unwrap();
    }
    if let Some(target) = target {
        std::os::unix::fs::symlink(target, dir.join(HOOK_LINK)).unwrap();
    }
    dir
}

/// `run` with `hooks` over /etc/libvirt/hooks.
pub fn with_hooks<'a>(mut run: Run<'a>, hooks: &Path) -> Run<'a> {
    run.binds.push((hooks.to_owned(), PathBuf::from(HOOKS)));
    run
}
