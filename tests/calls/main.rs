//! One call of the helper and everything around it: every failure path, hostile process
//! state, faults and load, the privilege timeline, the audit log and its attack surface,
//! and stderr as libvirt reads it.
//!
//! One test binary: each module was a binary of its own, and each recompiled the harness.

#[path = "../common/mod.rs"]
mod common;

mod failures;
mod hardening_audit;
mod hardening_faults;
mod libvirt_stderr;
mod privileges;
mod security_audit;
mod state;
