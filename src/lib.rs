//! fdb-bridge-helper: a drop-in qemu-bridge-helper that can also put the guest's port on
//! a managed bridge (learning and unicast flooding off, a static FDB entry for its MAC).
//! `run` holds the steps in order; `cli`, `acl`, `policy`, `ifname` and `mac` are pure;
//! `sys` and `netlink` talk to the kernel.

pub mod acl;
pub mod audit;
pub mod cli;
pub mod error;
pub mod ifname;
pub mod mac;
pub mod macrule;
pub mod netlink;
pub mod policy;
pub mod run;
pub mod sys;
pub mod text;
