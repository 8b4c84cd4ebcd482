//! Calling a program exactly as QEMU calls its bridge helper (net/tap.c
//! `net_bridge_run_helper`), for timing: a socketpair; fork; the child keeps only its end
//! (as `--fd=N`) besides 0-2, becomes the caller and execs; the parent blocks in recvmsg for
//! one byte with the tap fd in SCM_RIGHTS, then reaps the child with wait4 (its rusage).
//! Nothing else happens between fork and the fd: no exec-status pipe, no output capture
//! (the child's stderr is ours), unlike [`super::direct::spawn`].
//!
//! Everything this process opens is close-on-exec (std and our sockets, taps received with
//! MSG_CMSG_CLOEXEC), so clearing FD_CLOEXEC on the child's end is all QEMU's fd sweep does.
//! The calling process must be single-threaded while it forks.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

use super::call::{qemu_socketpair, receive};

/// A program, its whole argv (argv[0] included: `sh` for QEMU's shell, a link's path for
/// a MAC in argv[0]) and the caller it runs as; `{fd}` in an argument stands for the number
/// of the child's socket end.
#[derive(Debug, Clone)]
pub struct Program {
    pub path: String,
    pub argv: Vec<String>,
    /// (uid, gid) the child takes before exec, with no supplementary groups; `None` = root.
    pub caller: Option<(libc::uid_t, libc::gid_t)>,
}

/// A finished call: how long it took, what the child used, and the fd it sent, if any.
#[derive(Debug)]
pub struct Done {
    pub fd: Option<OwnedFd>,
    pub elapsed: Duration,
    pub usage: Usage,
}

/// From the child's rusage (wait4).
#[derive(Debug, Clone, Copy)]
pub struct Usage {
    /// Peak resident set, KiB.
    pub maxrss_kib: i64,
    /// User + system CPU time, µs.
    pub cpu_us: i64,
    /// Minor page faults.
    pub minflt: i64,
}

/// A started child: our socket end and its pid.
struct Child {
    sock: OwnedFd,
    pid: libc::pid_t,
    what: String,
}

/// Runs `program` once and waits for it: spawn, fd received, child reaped. A non-zero exit,
/// a signal, or an fd where none was expected (or none where one was) is an error.
pub fn call(program: &Program, expect_fd: bool) -> Result<Done, String> {
    let start = Instant::now();
    let child = start_child(program)?;
    let fd = recv(&child)?;
    let usage = reap(&child)?;
    let elapsed = start.elapsed();
    match (fd.is_some(), expect_fd) {
        (true, false) => Err(format!("{}: sent an fd, expected none", child.what)),
        (false, true) => Err(format!("{}: exit 0 without sending an fd", child.what)),
        _ => Ok(Done { fd, elapsed, usage }),
    }
}

/// Starts every program at once, then collects the fds and reaps the children. Returns the
/// wall time from the first spawn to the last child reaped, and each call's outcome.
pub fn call_all(programs: &[Program]) -> Result<(Duration, Vec<Result<OwnedFd, String>>), String> {
    let start = Instant::now();
    let children: Vec<Child> = programs.iter().map(start_child).collect::<Result<_, _>>()?;
    let fds: Vec<Result<Option<OwnedFd>, String>> = children.iter().map(recv).collect();
    let reaped: Vec<Result<Usage, String>> = children.iter().map(reap).collect();
    let elapsed = start.elapsed();
    let outcomes = children
        .iter()
        .zip(fds.into_iter().zip(reaped))
        .map(|(child, (fd, status))| {
            status?;
            fd?.ok_or_else(|| format!("{}: exit 0 without sending an fd", child.what))
        })
        .collect();
    Ok((elapsed, outcomes))
}

fn start_child(program: &Program) -> Result<Child, String> {
    let (ours, theirs) = qemu_socketpair();
    let number = theirs.as_raw_fd().to_string();
    let path = cstring(&program.path)?;
    let args: Vec<String> = (program.argv.iter())
        .map(|arg| arg.replace("{fd}", &number))
        .collect();
    let argv: Vec<CString> = args.iter().map(|a| cstring(a)).collect::<Result<_, _>>()?;
    let pid = fork_exec(&path, &argv, theirs.as_raw_fd(), program.caller)?;
    let what = args.join(" ");
    drop(theirs);
    Ok(Child {
        sock: ours,
        pid,
        what,
    })
}

fn cstring(text: &str) -> Result<CString, String> {
    CString::new(text).map_err(|_| format!("NUL byte in argument {text:?}"))
}

/// fork, then in the child: clear FD_CLOEXEC on `keep`, become `caller`, execv, or
/// `_exit(127)`.
fn fork_exec(
    path: &CString,
    argv: &[CString],
    keep: RawFd,
    caller: Option<(libc::uid_t, libc::gid_t)>,
) -> Result<libc::pid_t, String> {
    let mut ptrs: Vec<*const libc::c_char> = argv.iter().map(|a| a.as_ptr()).collect();
    ptrs.push(std::ptr::null());
    // SAFETY: the process is single-threaded when it forks; the child only makes
    // async-signal-safe calls (fcntl, set*id, execv, _exit) on memory prepared before the fork.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(format!("fork: {}", io::Error::last_os_error()));
    }
    if pid == 0 {
        // SAFETY: in the child: `keep` is an fd inherited from the parent, `ptrs` is a
        // NULL-terminated array of pointers into the live CStrings of `argv`, `path` is live.
        unsafe {
            let became = match caller {
                None => true,
                Some((uid, gid)) => {
                    libc::setgroups(0, std::ptr::null()) == 0
                        && libc::setresgid(gid, gid, gid) == 0
                        && libc::setresuid(uid, uid, uid) == 0
                }
            };
            if became && libc::fcntl(keep, libc::F_SETFD, 0) == 0 {
                libc::execv(path.as_ptr(), ptrs.as_ptr());
            }
            libc::_exit(127);
        }
    }
    Ok(pid)
}

/// Blocks until the child sends (one byte + SCM_RIGHTS) or closes its end (no fd).
fn recv(child: &Child) -> Result<Option<OwnedFd>, String> {
    receive(&child.sock, true).map_err(|e| format!("{}: {e}", child.what))
}

/// waitpid with rusage; an error unless the child exited 0.
fn reap(child: &Child) -> Result<Usage, String> {
    let mut status = 0;
    // SAFETY: rusage is plain old data; all-zero is a valid value for wait4 to overwrite.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: `status` and `usage` are valid, writable and live for the call.
        let rc = unsafe { libc::wait4(child.pid, &mut status, 0, &mut usage) };
        if rc == child.pid {
            break;
        }
        let err = io::Error::last_os_error();
        if err.raw_os_error() != Some(libc::EINTR) {
            return Err(format!("{}: wait4: {err}", child.what));
        }
    }
    if libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0 {
        let us = |t: libc::timeval| t.tv_sec * 1_000_000 + t.tv_usec;
        return Ok(Usage {
            maxrss_kib: usage.ru_maxrss,
            cpu_us: us(usage.ru_utime) + us(usage.ru_stime),
            minflt: usage.ru_minflt,
        });
    }
    let how = if libc::WIFEXITED(status) {
        format!("exit status {}", libc::WEXITSTATUS(status))
    } else {
        format!("signal {}", libc::WTERMSIG(status))
    };
    Err(format!("{} failed ({how}); its stderr is above", child.what))
}
