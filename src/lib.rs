//! fdb-bridge-helper: a drop-in qemu-bridge-helper that can also put the guest's port on
//! a managed bridge (learning and unicast flooding off, a static sticky FDB entry for its
//! MAC). The crate's only public items are [`main`] and the [`fuzzing`] facade.
//!
//! Layers, each importing only from those below it:
//! 1. leaf types and text: `text`, `ifname`, `mac`, `vid`;
//! 2. pure parsing and policy (`#![forbid(unsafe_code)]`, table-tested beside the code):
//!    `cli`, `acl` (with its `mac` and `vlan` rules), `policy`, `plan` (the decision as a value),
//!    `audit` (the log line), `explain` (`--explain`'s JSON);
//! 3. the kernel: `sys` (every `unsafe`), `netlink` (pure message builders and one
//!    send-and-ack socket);
//! 4. `error` (every message) and `run` (the steps, in order).

mod acl;
mod audit;
mod cli;
mod error;
mod explain;
mod ifname;
mod mac;
mod netlink;
mod plan;
mod policy;
mod run;
mod sys;
mod text;
mod vid;

pub use run::main;

/// What the fuzz targets (`fuzz/`) and the corpus replay test reach: the pure parsers and
/// the decision, nothing that touches the kernel.
pub mod fuzzing {
    pub use crate::ifname::IfName;
    pub use crate::mac::MacAddr;
    pub use crate::vid::Vid;

    pub mod acl {
        pub use crate::acl::{
            load_with, Acl, Caller, Error, ReadError, Target, Verb, VlanRule, DEFAULT_PATH,
        };
    }
    pub mod cli {
        pub use crate::cli::{parse, ArgError, ClaimRequest, Command, Request};
    }
    pub mod policy {
        pub use crate::policy::{authorize, authorize_pending, authorize_vlan, Denial, Grant, VlanDenial};
    }
}
