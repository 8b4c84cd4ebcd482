//! Defence in depth, as passt does: once argv and the ACL are read and the decision is
//! made, only the system calls that the remaining steps make are allowed. Anything else
//! kills the process: a bug or an exploit past this point cannot open files, exec, or
//! create any socket but a netlink one.

use std::collections::BTreeMap;

use libc::c_long;
use seccompiler::{
    BackendError, BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule,
};

/// Each allowed call and why (arguments restricted where the call is a door to more).
const ALLOWED: &[(c_long, &str)] = &[
    (libc::SYS_socket, "AF_NETLINK only: the rtnetlink socket"),
    (libc::SYS_connect, "the rtnetlink socket connects to the kernel"),
    (libc::SYS_sendto, "rtnetlink requests; the syslog datagram"),
    (libc::SYS_poll, "a bounded wait for room in syslog's queue"),
    (
        libc::SYS_ppoll,
        "the same, where libc's poll() uses ppoll; the wait for libvirt to read stderr",
    ),
    (libc::SYS_recvfrom, "rtnetlink answers"),
    (
        libc::SYS_ioctl,
        "TUNGETFEATURES, TUNSETIFF and TUNSETOWNER (a pending port's owner); FIONREAD on \
         stderr (has libvirt read the refusal?) only",
    ),
    (libc::SYS_getrandom, "the tap's address"),
    (libc::SYS_capget, "the caps crate reads before it sets"),
    (libc::SYS_capset, "the last drop of CAP_NET_ADMIN"),
    (libc::SYS_sendmsg, "sending the tap fd"),
    (
        libc::SYS_write,
        "the error line on stderr; syslog over a stream socket",
    ),
    (libc::SYS_writev, "stderr, should std batch it"),
    (libc::SYS_close, "at exit"),
    (
        libc::SYS_fcntl,
        "F_GETFD only: debug builds of std check an fd before closing it",
    ),
    (libc::SYS_brk, "the allocator"),
    (libc::SYS_mmap, "the allocator"),
    (libc::SYS_munmap, "the allocator, and at exit"),
    (libc::SYS_mremap, "the allocator"),
    (libc::SYS_madvise, "the allocator"),
    (libc::SYS_futex, "std's stderr lock"),
    (
        libc::SYS_clock_gettime,
        "the syslog timestamp, if the vDSO is missing",
    ),
    (libc::SYS_sigaltstack, "std tears down its signal stack at exit"),
    (libc::SYS_rt_sigprocmask, "abort()"),
    (libc::SYS_rt_sigaction, "abort()"),
    (libc::SYS_getpid, "abort()"),
    (libc::SYS_gettid, "abort()"),
    (libc::SYS_tgkill, "abort()"),
    (libc::SYS_exit, "exit"),
    (libc::SYS_exit_group, "exit"),
];

/// Building the program from the table, or installing it.
#[derive(Debug)]
pub(crate) enum SeccompError {
    Build(BackendError),
    Install(seccompiler::Error),
}

/// Installs the filter on this (the only) thread. Needs no_new_privs, set by the privilege drop.
pub(crate) fn confine() -> Result<(), SeccompError> {
    let program = program().map_err(SeccompError::Build)?;
    seccompiler::apply_filter(&program).map_err(SeccompError::Install)
}

fn program() -> Result<BpfProgram, BackendError> {
    let mut rules: BTreeMap<i64, Vec<SeccompRule>> = ALLOWED.iter().map(|(nr, _)| (*nr, vec![])).collect();
    rules.insert(libc::SYS_socket, any_of(0, &[libc::AF_NETLINK as u64])?);
    let ioctls = [
        libc::TUNGETFEATURES,
        libc::TUNSETIFF,
        libc::TUNSETOWNER,
        libc::FIONREAD,
    ];
    rules.insert(libc::SYS_ioctl, any_of(1, &ioctls.map(u64::from))?);
    rules.insert(libc::SYS_fcntl, any_of(1, &[libc::F_GETFD as u64])?);
    let arch = std::env::consts::ARCH.try_into()?;
    SeccompFilter::new(rules, SeccompAction::KillProcess, SeccompAction::Allow, arch)?.try_into()
}

/// Rules matching when argument `index` equals one of `values` (rules are OR'ed).
fn any_of(index: u8, values: &[u64]) -> Result<Vec<SeccompRule>, BackendError> {
    values
        .iter()
        .map(|&v| {
            let condition = SeccompCondition::new(index, SeccompCmpArgLen::Dword, SeccompCmpOp::Eq, v)?;
            SeccompRule::new(vec![condition])
        })
        .collect()
}
