//! The privileged steps, in order. This file is the only place that knows the order.

use std::ffi::OsString;
use std::io::{self, Write};
use std::os::fd::AsFd;
use std::path::Path;

use crate::acl;
use crate::audit::{Audit, DEV_LOG};
use crate::cli::{self, Command};
use crate::error::Error;
use crate::mac::MacAddr;
use crate::netlink::{self, Rtnl};
use crate::policy::{self, Grant};
use crate::sys::{privs, random, seccomp, socket::SocketFd, tun};
use crate::text::{clip, Reason};

/// A refusal is one line; it quotes argv, so it is bounded.
const MAX_MESSAGE: usize = 2048;

/// Runs the helper and returns the exit status: 0 only after the fd was sent (or for
/// `--help`/`--version` alone), 1 after printing one line on any failure.
pub fn main() -> i32 {
    let mut args = std::env::args_os();
    let argv0 = args.next();
    let mut held = Held::default();
    let result = run(argv0, args, &mut held);
    report(result, held)
}

/// What outlives `run`: the `--fd` socket stays open until the message and the audit line
/// are written, because libvirt reads our stderr the moment its recvmsg sees the socket
/// close, and kills us right after.
#[derive(Default)]
struct Held {
    socket: Option<SocketFd>,
    audit: Audit,
    /// Whether there is a request to audit (not for `--help` and `--version`).
    audited: bool,
    /// Whether the caller's name was looked up (after the `--fd` check).
    named: bool,
}

/// The audit line first (bounded in time), then one line on stderr for a refusal, and
/// only then the socket closes.
fn report(result: Result<(), Error>, held: Held) -> i32 {
    let refusal = result
        .err()
        .map(|e| clip(&e.to_string(), MAX_MESSAGE).into_owned());
    let mut unlogged = None;
    if held.audited || refusal.is_some() {
        let mut audit = held.audit;
        if !held.named {
            // Refused before the lookup, so before the seccomp filter: NSS may still open
            // what it needs, and nothing is sent after this.
            audit.fields.user = privs::user_name();
        }
        unlogged = audit.record(refusal.as_deref()).err();
    }
    let unlogged = unlogged.map(|e| format!("failed to write audit line to {DEV_LOG}: {}", Reason(&e)));
    // One line: a refusal says the audit line is missing in the same line. Nothing more
    // can be done if stderr is gone; the exit status still says it.
    let line = match (&refusal, &unlogged) {
        (Some(reason), Some(unlogged)) => Some(format!("{reason} (and {unlogged})")),
        (Some(reason), None) => Some(reason.clone()),
        (None, unlogged) => unlogged.clone(),
    };
    if let Some(line) = line {
        let _ = writeln!(io::stderr(), "fdb-bridge-helper: {line}");
    }
    drop(held.socket);
    i32::from(refusal.is_some())
}

fn run(argv0: Option<OsString>, args: impl Iterator<Item = OsString>, held: &mut Held) -> Result<(), Error> {
    let Held {
        socket,
        audit,
        audited,
        named,
    } = held;

    // 1. Privileges first, before argv or any file. /dev/net/tun may be root-only, so it
    //    is opened as root; its error waits until a tap is really needed (for --help).
    let tun = tun::open();
    privs::drop_to_caller().map_err(|reason| Error::DropPrivileges { reason })?;

    // 2. argv, and the socket it names, before anything else is opened (NSS, syslog):
    //    so `--fd` can only name an fd the caller handed us, never one of ours.
    let parsed = cli::parse_invocation(argv0.as_deref(), args).map_err(|source| Error::Args { source })?;
    let request = match parsed {
        Command::Attach(request) => request,
        Command::Help => return print(cli::USAGE),
        Command::Version => return print(concat!("fdb-bridge-helper ", env!("CARGO_PKG_VERSION"), "\n")),
    };
    *audited = true;
    (audit.fields.bridge, audit.fields.mac) = (Some(request.bridge.clone()), request.mac);
    let socket = &*socket.insert(SocketFd::adopt(request.fd).map_err(|source| Error::CheckSocket {
        fd: request.fd,
        source,
    })?);
    let user = privs::user_name();
    audit.fields.user.clone_from(&user);
    *named = true;
    audit.connect();

    // 3. The ACL, read with the caller's permissions.
    let acl = acl::load(Path::new(acl::DEFAULT_PATH)).map_err(|source| Error::Acl { source })?;

    // 4. The decision.
    let caller = privs::caller(user, acl.names_groups());
    let bridge_name = request.bridge;
    let grant =
        policy::authorize(&acl, &bridge_name, request.mac, &caller).map_err(|denial| Error::Authorize {
            bridge: bridge_name.clone(),
            denial,
        })?;
    audit.fields.managed = Some(matches!(grant, Grant::Managed { .. }));

    // From here on only the system calls of steps 5 to 8 are allowed.
    seccomp::confine().map_err(|reason| Error::Confine { reason })?;

    // 5. The bridge must exist, be one, and be named as the ACL named it; then the tap.
    let mut rtnl = Rtnl::open().map_err(|source| Error::OpenNetlink { source })?;
    let bridge = netlink::get_bridge(&mut rtnl, &bridge_name).map_err(|source| Error::LookUpBridge {
        bridge: bridge_name.clone(),
        source,
    })?;
    let tap = tun::create(tun.map_err(|source| Error::OpenTun { source })?, request.use_vnet)
        .map_err(|source| Error::CreateTap { source })?;
    audit.fields.tap = Some(tap.name.clone());
    let tap_index = netlink::index_of(&mut rtnl, &tap.name).map_err(|source| Error::CreateTap { source })?;

    // 6. Managed: pin the bridge's address, so that no tap can ever move it. Then shape
    //    and enslave; a plain port comes up at once.
    if matches!(grant, Grant::Managed { .. }) {
        netlink::pin_address(&mut rtnl, &bridge).map_err(|source| Error::PinAddress {
            bridge: bridge_name.clone(),
            source,
        })?;
    }
    let enslave = |source| Error::Enslave {
        tap: tap.name.clone(),
        bridge: bridge_name.clone(),
        source,
    };
    let mut tap_mac = [0; 5];
    random::fill(&mut tap_mac).map_err(enslave)?;
    netlink::enslave(
        &mut rtnl,
        tap_index,
        &bridge,
        MacAddr::for_tap(tap_mac),
        grant == Grant::Plain,
    )
    .map_err(enslave)?;

    // 7. Managed: the MAC reserved for this tap and its static, sticky entry; then
    //    learning and flooding off (and locked), up.
    if let Grant::Managed {
        mac,
        locked,
        take_learned,
    } = grant
    {
        netlink::claim(&mut rtnl, bridge.index, tap_index, mac, take_learned).map_err(|source| {
            Error::AddFdb {
                mac,
                tap: tap.name.clone(),
                source,
            }
        })?;
        netlink::manage_port(&mut rtnl, tap_index, locked).map_err(|source| Error::ManagePort {
            tap: tap.name.clone(),
            locked,
            source,
        })?;
    }

    // 8. Drop the last capability, then send. Exit 0 only after a successful send: QEMU
    //    would take a helper that exits 0 without sending for a success.
    privs::drop_all().map_err(|reason| Error::DropCapabilities { reason })?;
    socket.send(tap.fd.as_fd()).map_err(|source| Error::SendFd {
        tap: tap.name.clone(),
        fd: request.fd,
        source,
    })
}

fn print(text: &str) -> Result<(), Error> {
    // --help and --version have nothing to fail closed about.
    let _ = io::stdout().write_all(text.as_bytes());
    Ok(())
}
