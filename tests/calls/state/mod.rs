//! Hostile process state, through the setuid copy run as alice: closed stdio, a hostile
//! environment, inherited fds, `--fd` values that cannot carry the tap, low rlimits,
//! SIGSTOP/SIGCONT, and the seccomp filter's place in the timeline. The helpers and imports
//! here serve every child module (`use super::*`).

use crate::common;

use std::fs;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::os::unix::net::{UnixDatagram, UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::call::call_via;
use common::direct::{in_ns, spawn, spawn_limited, Finished};
use common::{env, managed_args, strs, trace, Call, Install, Mac, Netns, TapFd, BR0_MANAGED_BR1_PLAIN};
use nix::sys::signal::{kill, Signal};
use nix::sys::socket::{socket, AddressFamily, SockFlag, SockProtocol, SockType};
use nix::unistd::Pid;

/// Where the directly started helper finds its socket in the rlimit tests: a fixed
/// number, so that every run sees the same fd layout (0-2, the tun fd at 3, its own
/// fds from 4 up).
const SOCK_FD: RawFd = 10;
const DENIED: &str = "fdb-bridge-helper: failed to authorize bridge br9: access denied by acl file";
const INVALID: [&str; 2] = ["--br=br9", "--fd={fd}"];

/// br0 managed, br1 plain; br9 is not allowed.
fn setup() -> Netns {
    Netns::with_bridges(&["br0", "br1"]).with_acl(BR0_MANAGED_BR1_PLAIN)
}

fn alice_call(args: &[&str]) -> Call<'static> {
    Call::new(Install::Setuid, &env().alice, args)
}

/// A managed call succeeded: the guest's static entry is on the returned tap.
fn assert_managed(ns: &Netns, tap: &TapFd, mac: &str) {
    let entry = format!("{mac} dev {} sticky master br0 static", tap.name());
    let fdb = ns.bridge("fdb show br br0");
    assert!(fdb.contains(&entry), "no {entry:?} in {fdb}");
}

/// No tap and no FDB entry for `mac` remain (the kernel removes both when the last fd of
/// the tap closes; poll briefly).
fn assert_nothing_left(ns: &Netns, mac: &str, held: &[String]) {
    let clean = || {
        let taps = ns.taps();
        taps.iter().all(|t| held.contains(t)) && !ns.bridge("fdb show br br0").contains(mac)
    };
    assert!(
        common::wait_for(3.0, clean),
        "left behind: taps {:?} (held {held:?}), fdb {}",
        ns.taps(),
        ns.bridge("fdb show br br0")
    );
}

/// The outcome of one limited run, judged: `Ok(Some(tap))` success, `Ok(None)` a clean
/// failure, `Err(why)` anything else.
fn judge(ns: &Netns, mac: &str, run: Finished, allow_abort: bool) -> Result<Option<TapFd>, String> {
    let Finished { outcome: out, signal } = run;
    if out.stderr.contains("panicked") {
        return Err(format!("panic message: {:?}", out.stderr));
    }
    match (signal, out.code, out.fd) {
        (None, Some(0), Some(fd)) if out.stderr.is_empty() => {
            let tap = TapFd::new(fd, true);
            assert_managed(ns, &tap, mac);
            Ok(Some(tap))
        }
        (None, Some(1), None)
            if out.stderr.starts_with("fdb-bridge-helper: failed to ") && out.stderr.lines().count() == 1 =>
        {
            Ok(None)
        }
        // The dynamic loader, before `main` and before anything privileged: it cannot open
        // the libraries with no free fd. Exit 127, one line, nothing sent.
        (None, Some(127), None)
            if out.stderr.contains("error while loading shared libraries")
                && out.stderr.lines().count() == 1 =>
        {
            Ok(None)
        }
        (Some(libc::SIGABRT), None, None)
            if allow_abort && out.stderr.starts_with("memory allocation of ") =>
        {
            Ok(None)
        }
        (signal, code, fd) => Err(format!(
            "signal {signal:?}, exit {code:?}, fd sent: {}, stderr {:?}",
            fd.is_some(),
            out.stderr
        )),
    }
}

mod fd_values;
mod inherited;
mod limits;
mod stdio;
