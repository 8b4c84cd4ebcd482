//! The privileged steps, in order. This file is the only place that knows the order.

use std::ffi::OsString;
use std::io::{self, Write};
use std::os::fd::AsFd;
use std::path::Path;

use crate::acl;
use crate::audit::Audit;
use crate::cli::{self, Command};
use crate::error::Error;
use crate::mac::MacAddr;
use crate::macrule::Caller;
use crate::netlink::{self, Rtnl};
use crate::policy::{self, Grant};
use crate::sys::{privs, random, seccomp, socket::SocketFd, tun};

/// Runs the helper and returns the exit status: 0 only after the fd was sent (or for
/// `--help`/`--version` alone), 1 after printing one line on any failure.
pub fn main() -> i32 {
    let mut audit = None;
    let result = run(std::env::args_os().skip(1), &mut audit);
    let refusal = result.as_ref().err().map(ToString::to_string);
    if let Some(audit) = audit.filter(|a: &Audit| a.fields.bridge.is_some() || refusal.is_some()) {
        audit.record(refusal.as_deref());
    }
    match refusal {
        None => 0,
        Some(reason) => {
            // Nothing more can be done if stderr is gone; the exit status still says it.
            let _ = writeln!(io::stderr(), "fdb-bridge-helper: {reason}");
            1
        }
    }
}

/// `audit` is opened after step 1 and filled in as the steps learn things; `main` logs it.
fn run(args: impl Iterator<Item = OsString>, audit: &mut Option<Audit>) -> Result<(), Error> {
    // 1. Privileges first, before argv or any file. /dev/net/tun may be root-only, so it
    //    is opened as root; its error waits until a tap is really needed (for --help).
    let tun = tun::open();
    privs::drop_to_caller().map_err(|reason| Error::DropPrivileges { reason })?;
    let user = privs::user_name();
    let fields = &mut audit.insert(Audit::open(user.clone())).fields;

    // 2. argv, and the socket it names.
    let request = match cli::parse(args).map_err(|source| Error::Args { source })? {
        Command::Attach(request) => request,
        Command::Help => return print(cli::USAGE),
        Command::Version => return print(concat!("fdb-bridge-helper ", env!("CARGO_PKG_VERSION"), "\n")),
    };
    (fields.bridge, fields.mac) = (Some(request.bridge.clone()), request.mac);
    let socket = SocketFd::adopt(request.fd).map_err(|source| Error::CheckSocket {
        fd: request.fd,
        source,
    })?;

    // 3. The ACL, read with the caller's permissions.
    let acl = acl::load(Path::new(acl::DEFAULT_PATH), Path::new(acl::EXTENSION_PATH))
        .map_err(|source| Error::Acl { source })?;

    // 4. The decision.
    let groups = if acl.names_groups() {
        privs::group_names()
    } else {
        Vec::new()
    };
    let caller = Caller { user, groups };
    let bridge_name = request.bridge;
    let grant =
        policy::authorize(&acl, &bridge_name, request.mac, &caller).map_err(|denial| Error::Authorize {
            bridge: bridge_name.clone(),
            denial,
        })?;

    fields.managed = Some(matches!(grant, Grant::Managed { .. }));

    // From here on only the system calls of steps 5 to 8 are allowed.
    seccomp::confine().map_err(|reason| Error::Confine { reason })?;

    // 5. The bridge must exist and be one; then the tap.
    let mut rtnl = Rtnl::open().map_err(|source| Error::OpenNetlink { source })?;
    let bridge = netlink::get_bridge(&mut rtnl, &bridge_name).map_err(|source| Error::LookUpBridge {
        bridge: bridge_name.clone(),
        source,
    })?;
    let tap = tun::create(tun.map_err(|source| Error::OpenTun { source })?, request.use_vnet)
        .map_err(|source| Error::CreateTap { source })?;
    fields.tap = Some(tap.name.clone());
    let tap_index = netlink::index_of(&mut rtnl, &tap.name).map_err(|source| Error::CreateTap { source })?;

    // 6. Shape and enslave; a plain port comes up at once.
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

    // 7. Managed: the guest's static entry, then learning and flooding off (and locked), up.
    if let Grant::Managed { mac, locked } = grant {
        netlink::claim(&mut rtnl, bridge.index, tap_index, mac).map_err(|source| Error::AddFdb {
            mac,
            tap: tap.name.clone(),
            source,
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
