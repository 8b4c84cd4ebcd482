//! ACL files as real users meet them, through the setuid copy: per-user includes, the trust
//! rule for files, directories and symlink chains, callers from any NSS source, and the
//! shipped examples against Debian's qemu-bridge-helper; `--explain` and `--check` as admins and
//! users run them.
//!
//! One test binary: each module was a binary of its own, and each recompiled the harness.

#[path = "../common/mod.rs"]
mod common;

mod acl_symlinks;
mod acl_user;
mod check;
mod examples;
mod explain;
mod hardening_acl;
mod nss;
