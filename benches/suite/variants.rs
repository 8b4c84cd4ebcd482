//! What is called, and how: each variant is spawned exactly as its caller would spawn it
//! (QEMU's direct exec; QEMU's `/bin/sh -c` for a helper string with a space; a link whose
//! name carries the MAC), by the unprivileged caller, on a bridge of its own.

use std::sync::atomic::{AtomicU32, Ordering};

use crate::bins::Bins;
use crate::common::fork::Program;
use crate::common::Mac;

/// What is called.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    /// Ours with `--mac=`, exec'd directly, on a bridge the ACL marks `managed`.
    Managed,
    /// Ours exactly as QEMU calls it (no `--mac`), on a plain bridge.
    Plain,
    /// Debian's qemu-bridge-helper, plain bridge.
    Qbh,
    /// benches/floor/kernel.c: only the system calls of a managed call, static C.
    KernelFloor,
    /// benches/floor/noop.c: a static program that exits at once.
    ExecFloor,
    /// A managed call as QEMU makes it for a helper string with a space:
    /// `/bin/sh -c "OURS --mac=M --use-vnet --fd=N --br=BR"`.
    Shell,
    /// A managed call with no shell: QEMU execs a link `…/vm@MAC` to ours directly.
    Argv0,
    /// A managed call by another build of ours (`--compare LABEL=PATH`, by index).
    Compare(usize),
}

/// The rows of figures 1-2, in order; `false` leaves a row out.
pub const ROWS: [(Variant, bool); 7] = [
    (Variant::Managed, true),
    (Variant::Plain, true),
    (Variant::Qbh, true),
    (Variant::KernelFloor, true),
    (Variant::ExecFloor, true),
    (Variant::Shell, true),
    // The MAC from the `@MAC` end of argv[0]: QEMU execs a path without a space directly.
    (Variant::Argv0, true),
];

/// The enabled [`ROWS`], then one row per `--compare` build.
pub fn latency_variants(bins: &Bins) -> Vec<Variant> {
    let rows = ROWS.iter().filter(|(_, on)| *on).map(|(v, _)| *v);
    rows.chain((0..bins.compare.len()).map(Variant::Compare))
        .collect()
}

impl Variant {
    pub fn key(self, bins: &Bins) -> String {
        match self {
            Self::Managed => "ours_managed".into(),
            Self::Plain => "ours_plain".into(),
            Self::Qbh => "qemu_bridge_helper_plain".into(),
            Self::KernelFloor => "kernel_floor".into(),
            Self::ExecFloor => "exec_floor".into(),
            Self::Shell => "ours_managed_via_sh".into(),
            Self::Argv0 => "ours_managed_mac_in_argv0".into(),
            Self::Compare(i) => format!("ours_managed_{}", bins.compare[i].0),
        }
    }

    pub fn label(self, bins: &Bins) -> String {
        match self {
            Self::Managed => "ours, managed (--mac)".into(),
            Self::Plain => "ours, plain".into(),
            Self::Qbh => "qemu-bridge-helper, plain".into(),
            Self::KernelFloor => "kernel floor (static C)".into(),
            Self::ExecFloor => "exec floor (static no-op)".into(),
            Self::Shell => "ours, managed, via /bin/sh -c".into(),
            Self::Argv0 => "ours, managed, MAC in argv[0]".into(),
            Self::Compare(i) => format!("ours, managed, {}", bins.compare[i].0),
        }
    }

    /// Each has a bridge of its own, so that every bridge holds the same number of ports.
    pub fn bridge(self) -> String {
        match self {
            Self::Managed => "brm".into(),
            Self::Plain | Self::ExecFloor => "brp".into(),
            Self::Qbh => "brq".into(),
            Self::KernelFloor => "brk".into(),
            Self::Shell => "brsh".into(),
            Self::Argv0 => "bra".into(),
            Self::Compare(i) => format!("brx{i}"),
        }
    }

    pub fn sends_fd(self) -> bool {
        self != Self::ExecFloor
    }

    fn managed(self) -> bool {
        matches!(
            self,
            Self::Managed | Self::KernelFloor | Self::Shell | Self::Argv0 | Self::Compare(_)
        )
    }
}

/// The bridges [`Variant::bridge`] names that our ACL must mark `managed`.
pub fn acl_lines(max_compare: usize) -> String {
    let fixed = ["brm", "brsh", "bra"].map(String::from);
    let compare = (0..max_compare).map(|i| format!("brx{i}"));
    fixed
        .into_iter()
        .chain(compare)
        .map(|b| format!("managed {b}\n"))
        .collect()
}

/// A fresh guest MAC `52:54:00:xx:xx:xx` (a counter: unique within the run).
pub fn next_mac() -> Mac {
    static NEXT: AtomicU32 = AtomicU32::new(1);
    let [_, a, b, c] = NEXT.fetch_add(1, Ordering::Relaxed).to_be_bytes();
    Mac::guest([a, b, c])
}

impl Bins {
    /// How `variant` is spawned on `bridge`; a managed one claims `mac` (a fresh one if
    /// `None`). For [`Variant::Argv0`] this makes the link, untimed.
    pub fn program(&self, variant: Variant, bridge: &str, mac: Option<Mac>) -> Result<Program, String> {
        let mac = mac.unwrap_or_else(next_mac);
        let qemu_args = ["--use-vnet".into(), "--fd={fd}".into(), format!("--br={bridge}")];
        let direct = |path: &str, mac_arg: bool| {
            let mut argv = vec![path.to_owned()];
            argv.extend(qemu_args.iter().cloned());
            argv.extend(mac_arg.then(|| format!("--mac={mac}")));
            (path.to_owned(), argv)
        };
        let (path, argv) = match variant {
            Variant::Managed | Variant::Plain => direct(&self.ours, variant.managed()),
            Variant::Qbh => direct(&self.qbh, false),
            Variant::KernelFloor => direct(&self.kernel_floor, true),
            Variant::ExecFloor => direct(&self.exec_floor, false),
            Variant::Compare(i) => direct(&self.compare[i].1, true),
            // QEMU: execv("/bin/sh", {"sh", "-c", "HELPER --use-vnet --fd=N --br=BR"}).
            Variant::Shell => {
                let line = format!("{} --mac={mac} {}", self.ours, qemu_args.join(" "));
                ("/bin/sh".into(), vec!["sh".into(), "-c".into(), line])
            }
            Variant::Argv0 => {
                let link = self.links.join(format!("vm@{mac}"));
                let _ = std::fs::remove_file(&link);
                std::os::unix::fs::symlink(&self.ours, &link)
                    .map_err(|e| format!("symlink {}: {e}", link.display()))?;
                direct(&link.to_string_lossy(), false)
            }
        };
        Ok(Program {
            path,
            argv,
            caller: Some(self.caller),
        })
    }
}
