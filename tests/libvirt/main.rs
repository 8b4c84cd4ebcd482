//! libvirt: Debian's libvirtd in session mode against the helper and its hook, and the hook
//! binary on its own.
//!
//! One test binary: each module was a binary of its own, and each recompiled the harness.

#[path = "../common/mod.rs"]
mod common;

mod hook;
mod session;
