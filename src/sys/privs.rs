//! From setuid-root (or `cap_net_admin+ep`) down to the caller holding
//! CAP_NET_ADMIN alone, and later down to nothing.
#![forbid(unsafe_code)]

use caps::errors::CapsError;
use caps::{CapSet, Capability, CapsHashSet};
use nix::errno::Errno;
use nix::sys::prctl;
use nix::unistd::{geteuid, getgid, getgroups, getuid, setresgid, setresuid, Gid, Group, Uid, User};

use crate::acl::Caller;

const NET_ADMIN: Capability = Capability::CAP_NET_ADMIN;

/// Which call of the privilege drop failed; `error` words each as a step of its own.
#[derive(Debug)]
pub(crate) enum PrivsError {
    BoundingSet(Capability, CapsError),
    KeepCaps(Errno),
    SetResGid(Gid, Errno),
    SetResUid(Uid, Errno),
    Capset(CapSet, CapsError),
    NoNewPrivs(Errno),
    Dumpable(Errno),
}

/// Becomes the caller (real uid and gid, supplementary groups kept: per-user ACL includes
/// depend on them) holding at most CAP_NET_ADMIN, with no_new_privs set and not dumpable.
pub(crate) fn drop_to_caller() -> Result<(), PrivsError> {
    if geteuid().is_root() {
        become_caller()?;
    }
    // Keep CAP_NET_ADMIN only if we have it (a plain, uninstalled binary has nothing).
    let keep: CapsHashSet = match caps::has_cap(None, CapSet::Permitted, NET_ADMIN) {
        Ok(true) => [NET_ADMIN].into_iter().collect(),
        _ => CapsHashSet::new(),
    };
    // Effective first: the kernel refuses a Permitted set that no longer covers Effective.
    set(CapSet::Effective, &keep)?;
    set(CapSet::Permitted, &keep)?;
    set(CapSet::Inheritable, &CapsHashSet::new())?;
    caps::clear(None, CapSet::Ambient).map_err(|e| PrivsError::Capset(CapSet::Ambient, e))?;
    prctl::set_no_new_privs().map_err(PrivsError::NoNewPrivs)?;
    prctl::set_dumpable(false).map_err(PrivsError::Dumpable)
}

/// Setuid-root only: the bounding set can be cut only while we hold CAP_SETPCAP, and the
/// uid change must keep the permitted set (keep-caps) so that CAP_NET_ADMIN survives it.
fn become_caller() -> Result<(), PrivsError> {
    // Dropping a capability that is already out of the set succeeds, so no read first.
    for cap in caps::all().into_iter().filter(|&c| c != NET_ADMIN) {
        caps::drop(None, CapSet::Bounding, cap).map_err(|e| PrivsError::BoundingSet(cap, e))?;
    }
    let (uid, gid) = (getuid(), getgid());
    prctl::set_keepcaps(true).map_err(PrivsError::KeepCaps)?;
    setresgid(gid, gid, gid).map_err(|e| PrivsError::SetResGid(gid, e))?;
    setresuid(uid, uid, uid).map_err(|e| PrivsError::SetResUid(uid, e))?;
    prctl::set_keepcaps(false).map_err(PrivsError::KeepCaps)
}

/// Before the fd is sent: the process exits holding no capability at all.
pub(crate) fn drop_all() -> Result<(), PrivsError> {
    set(CapSet::Effective, &CapsHashSet::new())?;
    set(CapSet::Permitted, &CapsHashSet::new())
}

fn set(which: CapSet, caps: &CapsHashSet) -> Result<(), PrivsError> {
    caps::set(None, which, caps).map_err(|e| PrivsError::Capset(which, e))
}

/// The caller's user name, for the audit log and `mac user=` lines; looked up as the
/// caller, after the drop, through every NSS source the host configures. `None` when no
/// source knows the uid (or one fails): such a caller matches `user=#UID` lines only.
pub(crate) fn user_name() -> Option<String> {
    User::from_uid(getuid()).ok().flatten().map(|u| u.name)
}

/// The caller as `mac` lines see it. `user` is [`user_name`]'s answer, already looked up
/// for the audit log. The gids cost one system call; their names cost an NSS lookup each
/// (a directory server, perhaps), so they are looked up only if `group_names` (a
/// `group=NAME` line exists). A gid that no source knows just has no name.
pub(crate) fn caller(user: Option<String>, group_names: bool) -> Caller {
    let mut gids: Vec<u32> = getgroups()
        .unwrap_or_default()
        .into_iter()
        .map(Gid::as_raw)
        .collect();
    gids.push(getgid().as_raw());
    gids.sort_unstable();
    gids.dedup();
    let groups = if group_names {
        gids.iter()
            .filter_map(|&g| Group::from_gid(Gid::from_raw(g)).ok().flatten())
            .map(|g| g.name)
            .collect()
    } else {
        Vec::new()
    };
    Caller {
        uid: getuid().as_raw(),
        user,
        gids,
        groups,
    }
}

/// The name NSS gives `gid`, if any source knows it (for `--explain`).
pub(crate) fn group_name(gid: u32) -> Option<String> {
    Group::from_gid(Gid::from_raw(gid)).ok().flatten().map(|g| g.name)
}
