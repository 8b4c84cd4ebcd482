//! Whether the libvirt integration is installed: then a managed port asked for without a
//! MAC is made pending, for the hook to claim before the guest starts.
#![forbid(unsafe_code)]

use std::path::Path;

/// The hook's symlink (`ln -s …/fdb-bridge-helper-libvirt-hook` here). libvirt (6.5 and
/// later) runs every file in this directory at each step of a guest's life.
pub(crate) const HOOK_PATH: &str = "/etc/libvirt/hooks/qemu.d/fdb-bridge-helper";

/// lstat as the caller, before the seccomp filter: the link itself, whatever it points
/// at. Any error (no such file, a directory the caller cannot search) reads as absent,
/// and the request is refused with the hint, as without the hook.
pub(crate) fn hook_installed() -> bool {
    Path::new(HOOK_PATH).symlink_metadata().is_ok()
}
