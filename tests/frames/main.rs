//! Frames and the FDB on a real bridge: what a managed, plain or locked port delivers, who
//! holds a guest's MAC, alternative names, VLAN refusals on this kernel, and two-step
//! (claimed) ports.
//!
//! One test binary: each module was a binary of its own, and each recompiled the harness.

#[path = "../common/mod.rs"]
mod common;

mod claim;
mod frames;
mod hardening_lock;
mod security_fdb;
mod security_names;
mod vlan;
