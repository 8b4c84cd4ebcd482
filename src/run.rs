//! The privileged steps, in order. This file is the only place that knows the order.

use std::ffi::OsString;
use std::io::{self, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;
use std::time::Duration;

use crate::acl;
use crate::audit::{self, Fields, Mode};
use crate::cli::{self, ClaimRequest, Command};
use crate::error::Error;
use crate::ifname::IfName;
use crate::mac::MacAddr;
use crate::netlink::{self, Rtnl, VlanError};
use crate::plan::{self, ClaimPlan, Plan};
use crate::policy;
use crate::sys::syslog::{Syslog, DEV_LOG};
use crate::sys::{libvirt, privs, random, seccomp, socket::SocketFd, stderr, trusted, tun};
use crate::text::{clip, Reason};
use crate::vid::Vid;

mod check;
mod explain;

/// A refusal is one line; it quotes argv, so it is bounded.
const MAX_MESSAGE: usize = 2048;
/// How long a refusal waits for the reader of a stderr pipe (libvirt's) before the
/// socket closes: a reader that is there takes a millisecond or two, even under load.
const STDERR_WAIT: Duration = Duration::from_millis(200);

/// Runs the helper and returns the exit status: 0 only after the fd was sent (or for
/// `--help`/`--version` alone), 1 after printing one line on any failure.
pub fn main() -> i32 {
    let mut args = std::env::args_os();
    let argv0 = args.next();
    let mut held = Held::default();
    let result = run(argv0, args, &mut held);
    report(result, held)
}

/// What outlives `run`: the `--fd` socket stays open until the audit line and the message
/// are written and read, because libvirt takes what its reader thread has of our stderr
/// the moment its recvmsg sees the socket close, and kills us right after.
#[derive(Default)]
struct Held {
    socket: Option<SocketFd>,
    /// Connected after the `--fd` check and before the seccomp filter.
    syslog: Option<Syslog>,
    /// What is known of the request so far, for the audit line.
    fields: Fields,
    /// Whether there is a request to audit (not for `--help` and `--version`).
    audited: bool,
    /// Whether the caller's name was looked up (after the `--fd` check).
    named: bool,
    /// Whether stderr is a pipe, asked before the seccomp filter.
    stderr_pipe: bool,
    /// `--explain` and `--check`: the exit status, their output printed (no audit line).
    exit: Option<i32>,
}

fn run(argv0: Option<OsString>, args: impl Iterator<Item = OsString>, held: &mut Held) -> Result<(), Error> {
    // 1. Privileges first, before argv or any file. /dev/net/tun may be root-only, so it
    //    is opened as root; its error waits until a tap is really needed (for --help).
    let tun = tun::open();
    privs::drop_to_caller()?;
    held.fields.uid = nix::unistd::getuid().as_raw();
    held.stderr_pipe = stderr::is_pipe();

    // 2. argv, and the socket it names, before anything else is opened (NSS, syslog):
    //    so `--fd` can only name an fd the caller handed us, never one of ours.
    let parsed = cli::parse_invocation(argv0.as_deref(), args).map_err(|source| Error::Args { source })?;
    let request = match parsed {
        Command::Attach(request) => request,
        Command::Claim(request) => return claim(request, held),
        Command::Explain(request) => return explain::explain(request, tun, held),
        Command::Check(file) => return check::check(file.as_deref(), held),
        Command::Help => return print(cli::USAGE),
        Command::Version => return print(concat!("fdb-bridge-helper ", env!("CARGO_PKG_VERSION"), "\n")),
    };
    held.audited = true;
    (held.fields.bridge, held.fields.mac) = (Some(request.bridge.clone()), request.mac);
    held.fields.vlan = request.vlan;
    let socket = SocketFd::adopt(request.fd).map_err(|source| Error::CheckSocket {
        fd: request.fd,
        source,
    })?;
    let socket = &*held.socket.insert(socket);
    let user = privs::user_name();
    (held.fields.user, held.named) = (user.clone(), true);
    held.syslog = Some(Syslog::connect());

    // 3. The ACL, read with the caller's permissions.
    let acl = acl::load_both_with(
        Path::new(acl::DEFAULT_PATH),
        Path::new(acl::EXTENSION_PATH),
        &trusted::read,
    )
    .map_err(|source| Error::Acl { source })?;

    // 4. The decision, as a plan. Without a MAC, a managed bridge gets a pending port if
    //    the libvirt hook is there to claim it.
    let caller = privs::caller(user, acl.names_groups());
    let plan = decide(&acl, &request, &caller, libvirt::hook_installed())?;
    held.fields.vlan = plan.vlan;
    held.fields.mode = Some(match (plan.port.is_plain(), plan.owner) {
        (true, _) => Mode::Plain,
        (false, None) => Mode::Managed,
        (false, Some(_)) => Mode::Pending,
    });

    // From here on only the system calls of steps 5 to 8 are allowed.
    seccomp::confine().map_err(|source| Error::Seccomp { source })?;

    // 5.–7. The plan applied.
    let tap = apply(&plan, tun, &mut held.fields)?;

    // 8. Drop the last capability, then send. Exit 0 only after a successful send: QEMU
    //    would take a helper that exits 0 without sending for a success.
    privs::drop_all()?;
    socket.send(tap.fd.as_fd()).map_err(|source| Error::SendFd {
        tap: tap.name.clone(),
        fd: request.fd,
        source,
    })
}

/// Step 4, shared with `--explain`: the ACL's decision on `request`, as a plan.
fn decide(acl: &acl::Acl, request: &cli::Request, caller: &acl::Caller, hook: bool) -> Result<Plan, Error> {
    let grant = match request.mac {
        Some(mac) => policy::authorize(acl, &request.bridge, Some(mac), caller),
        None => policy::authorize_pending(acl, &request.bridge, caller, hook),
    };
    let grant = grant.map_err(|denial| Error::Authorize {
        bridge: request.bridge.clone(),
        denial,
    })?;
    let vlan = policy::authorize_vlan(acl, &request.bridge, request.vlan, caller).map_err(|denial| {
        Error::AuthorizeVlan {
            bridge: request.bridge.clone(),
            denial,
        }
    })?;
    Ok(Plan::new(request, grant, vlan))
}

/// Steps 5 to 7: does what `plan` says and nothing else.
fn apply(plan: &Plan, tun: io::Result<OwnedFd>, fields: &mut Fields) -> Result<tun::Tap, Error> {
    // 5. The bridge must exist, be one, and be named as the ACL named it; then the tap.
    let mut rtnl = Rtnl::open().map_err(|source| Error::OpenNetlink { source })?;
    let bridge = netlink::get_bridge(&mut rtnl, &plan.bridge).map_err(|source| Error::LookUpBridge {
        bridge: plan.bridge.clone(),
        source,
    })?;
    let vlans = plan::membership(plan.vlan, bridge.vlans).map_err(|source| Error::Unfiltered {
        bridge: plan.bridge.clone(),
        source,
    })?;
    let tap = tun::create(tun.map_err(|source| Error::OpenTun { source })?, plan.vnet_hdr)
        .map_err(|source| Error::CreateTap { source })?;
    fields.tap = Some(tap.name.clone());
    if let Some(owner) = plan.owner {
        tun::set_owner(&tap, owner).map_err(|source| Error::SetOwner {
            tap: tap.name.clone(),
            source,
        })?;
    }
    let index = netlink::index_of(&mut rtnl, &tap.name).map_err(|source| Error::TapIndex {
        tap: tap.name.clone(),
        source,
    })?;

    // 6. Pin the bridge's address (managed), so that no tap can ever move it; then shape
    //    and enslave. A plain port outside any VLAN comes up at once.
    if plan.pin_bridge_address {
        netlink::pin_address(&mut rtnl, &bridge).map_err(|source| Error::PinAddress {
            bridge: plan.bridge.clone(),
            source,
        })?;
    }
    let mut random = [0; 5];
    random::fill(&mut random).map_err(|source| Error::TapAddress { source })?;
    let up = plan.up_on_join();
    netlink::enslave(&mut rtnl, index, &bridge, MacAddr::for_tap(random), up).map_err(|source| {
        Error::Enslave {
            tap: tap.name.clone(),
            bridge: plan.bridge.clone(),
            source,
        }
    })?;

    // 7. The port in its VLAN alone (an entry needs its VLAN first); the MAC reserved for
    //    this tap and its static, sticky entry in that VLAN; then the port's flags
    //    (learning and flooding off, maybe locked), up — or, pending, down.
    if let Some((vid, leave)) = vlans.join {
        netlink::join_vlan(&mut rtnl, index, vid, leave).map_err(|source| Error::JoinVlan {
            tap: tap.name.clone(),
            vid,
            source,
        })?;
    }
    if let Some(entry) = &plan.fdb {
        netlink::claim(&mut rtnl, bridge.index, index, entry, vlans.entry).map_err(|source| {
            Error::AddFdb {
                mac: entry.mac,
                vlan: vlans.entry,
                tap: tap.name.clone(),
                source,
            }
        })?;
    }
    if !up {
        netlink::set_port(&mut rtnl, index, plan.port, plan.up).map_err(|source| Error::SetPort {
            tap: tap.name.clone(),
            port: plan.port,
            source,
        })?;
    }
    Ok(tap)
}

/// `--claim=TAP --mac=MAC`, step two of a pending port: steps 1 to 3 as above (no `--fd`:
/// nothing is sent), then, under the same seccomp filter, the tap and its bridge as the
/// kernel has them, the decision on that bridge and MAC, and the MAC claimed as `--mac`
/// claims it. Exit 0 once the port is up with its entry.
fn claim(request: ClaimRequest, held: &mut Held) -> Result<(), Error> {
    held.audited = true;
    (held.fields.tap, held.fields.mac) = (Some(request.tap.clone()), Some(request.mac));
    held.fields.mode = Some(Mode::Claim);
    let user = privs::user_name();
    (held.fields.user, held.named) = (user.clone(), true);
    held.syslog = Some(Syslog::connect());
    let (top, ours) = (Path::new(acl::DEFAULT_PATH), Path::new(acl::EXTENSION_PATH));
    let acl = acl::load_both_with(top, ours, &trusted::read).map_err(|source| Error::Acl { source })?;
    let caller = privs::caller(user, acl.names_groups());
    seccomp::confine().map_err(|source| Error::Seccomp { source })?;

    // 4. Only the owner's pending port, on a bridge the ACL manages for this MAC.
    let tap = &request.tap;
    let mut rtnl = Rtnl::open().map_err(|source| Error::OpenNetlink { source })?;
    let state = netlink::inspect_tap(&mut rtnl, tap).map_err(|source| Error::LookUpTap {
        tap: tap.clone(),
        source,
    })?;
    let bridge_index = state.check(tap, caller.uid).map_err(|reason| Error::CheckTap {
        tap: tap.clone(),
        reason,
    })?;
    let bridge = netlink::bridge_name(&mut rtnl, bridge_index).map_err(|source| Error::LookUpTapBridge {
        tap: tap.clone(),
        source,
    })?;
    held.fields.bridge = Some(bridge.clone());
    let plan = policy::authorize(&acl, &bridge, Some(request.mac), &caller)
        .and_then(|grant| ClaimPlan::new(state.index, grant))
        .map_err(|denial| Error::Authorize {
            bridge: bridge.clone(),
            denial,
        })?;

    // 7. One MAC per port (the marker, exclusive), then exactly `--mac`'s claim, in the
    //    port's VLAN where the bridge filters VLANs, then up.
    let vlan = claim_vlan(&mut rtnl, &bridge, state.index).map_err(|source| Error::ReadPortVlan {
        tap: tap.clone(),
        source,
    })?;
    netlink::add_altname(&mut rtnl, state.index, &plan.marker).map_err(|source| Error::MarkClaimed {
        tap: tap.clone(),
        source,
    })?;
    netlink::claim(&mut rtnl, bridge_index, state.index, &plan.fdb, vlan).map_err(|source| {
        Error::AddFdb {
            mac: request.mac,
            vlan,
            tap: tap.clone(),
            source,
        }
    })?;
    netlink::set_port(&mut rtnl, state.index, plan.port, true).map_err(|source| Error::SetPort {
        tap: tap.clone(),
        port: plan.port,
        source,
    })?;
    privs::drop_all().map_err(Error::from)
}

/// The audit line first (bounded in time), then one line on stderr for a refusal, and
/// only once a pipe's reader has it (bounded too) the socket closes.
fn report(result: Result<(), Error>, mut held: Held) -> i32 {
    if let (Ok(()), Some(code)) = (&result, held.exit) {
        return code;
    }
    let refusal = result
        .err()
        .map(|e| clip(&e.to_string(), MAX_MESSAGE).into_owned());
    let mut unlogged = None;
    if held.audited || refusal.is_some() {
        if !held.named {
            // Refused before the lookup, so before the seccomp filter: NSS and the syslog
            // socket may still be opened, and nothing is sent after this.
            held.fields.user = privs::user_name();
        }
        let syslog = held.syslog.take().unwrap_or_else(Syslog::connect);
        unlogged = syslog
            .send(&audit::datagram(&held.fields, refusal.as_deref()))
            .err();
    }
    let unlogged = unlogged.map(|e| format!("failed to write audit line to {DEV_LOG}: {}", Reason(&e)));
    // One line: a refusal says the audit line is missing in the same line. Nothing more
    // can be done if stderr is gone; the exit status still says it.
    let line = match (&refusal, &unlogged) {
        (Some(reason), Some(unlogged)) => Some(format!("{reason} (and {unlogged})")),
        (Some(reason), None) => Some(reason.clone()),
        (None, unlogged) => unlogged.clone(),
    };
    // One write: libvirt may take the pipe's content between two.
    if let Some(line) = line {
        let _ = io::stderr().write_all(format!("fdb-bridge-helper: {line}\n").as_bytes());
        if held.stderr_pipe && held.socket.is_some() {
            stderr::wait_read(STDERR_WAIT);
        }
    }
    drop(held.socket);
    i32::from(refusal.is_some())
}

/// The VLAN a claimed entry belongs in: the port's PVID on a bridge that filters VLANs.
fn claim_vlan(rtnl: &mut Rtnl, bridge: &IfName, port: u32) -> Result<Option<Vid>, VlanError> {
    match netlink::get_bridge(rtnl, bridge) {
        Ok(b) if b.vlans.filtering == plan::Filtering::On => netlink::pvid_of(rtnl, port),
        _ => Ok(None),
    }
}

fn print(text: &str) -> Result<(), Error> {
    // --help and --version have nothing to fail closed about.
    let _ = io::stdout().write_all(text.as_bytes());
    Ok(())
}
