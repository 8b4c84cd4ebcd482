//! Starting the helper directly, without `ip netns exec` and a shell in between: from a
//! thread that has entered a test's network namespace and a mount namespace of its own
//! (with the test's /etc/qemu bind-mounted). Children inherit the thread's namespaces, so
//! the helper starts in about a millisecond (for SIGKILL at random points, for dozens of
//! concurrent calls), and mounts made from the thread (a private /dev with a /dev/log
//! socket) are seen by the helper and by nothing else on the host.

use std::ffi::CString;
use std::fs::File;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};

use nix::sched::{setns, unshare, CloneFlags};

use super::call::{qemu_socketpair, recv_fd};
use super::{Netns, Outcome, TestUser};

/// Runs `f` on a thread inside `ns`: its network namespace, and a new mount namespace
/// (every mount a slave of the host's, so nothing propagates back) with `ns.etc` over
/// /etc/qemu. `setup` is a shell script run first, as root, in that mount namespace.
/// Panics in `f` propagate.
pub fn in_ns<R: Send>(ns: &Netns, setup: &str, f: impl FnOnce() -> R + Send) -> R {
    std::thread::scope(|scope| {
        let thread = scope.spawn(|| {
            enter(ns);
            if !setup.is_empty() {
                let out = Command::new("sh").args(["-c", setup]).output().unwrap();
                assert!(
                    out.status.success(),
                    "setup {setup:?}: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            f()
        });
        thread
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

fn enter(ns: &Netns) {
    let netns = File::open(format!("/run/netns/{}", ns.name)).expect("open netns");
    setns(&netns, CloneFlags::CLONE_NEWNET).expect("setns");
    // A thread may have a mount namespace of its own: CLONE_NEWNS implies CLONE_FS,
    // which unshares this thread's root and cwd from the other threads'.
    unshare(CloneFlags::CLONE_NEWNS).expect("unshare(CLONE_NEWNS)");
    mount(None, "/", None, libc::MS_REC | libc::MS_SLAVE);
    let etc = ns.etc.to_str().unwrap();
    mount(Some(etc), "/etc/qemu", None, libc::MS_BIND);
}

/// mount(2); panics on failure.
pub fn mount(source: Option<&str>, target: &str, fstype: Option<&str>, flags: libc::c_ulong) {
    let c = |s: &str| CString::new(s).unwrap();
    let (source, target, fstype) = (source.map(c), c(target), fstype.map(c));
    let ptr = |s: &Option<CString>| s.as_ref().map_or(std::ptr::null(), |s| s.as_ptr());
    // SAFETY: every pointer is null or a NUL-terminated string that outlives the call.
    let rc = unsafe {
        libc::mount(
            ptr(&source),
            target.as_ptr(),
            ptr(&fstype),
            flags,
            std::ptr::null(),
        )
    };
    assert_eq!(rc, 0, "mount {target:?}: {}", std::io::Error::last_os_error());
}

/// A helper started by [`spawn`] and not yet reaped.
pub struct Pending {
    pub child: Child,
    ours: OwnedFd,
    sock: RawFd,
}

/// Starts `program args` (`{fd}` in args is the socket's number) as QEMU would, from
/// the current thread (call it inside [`in_ns`]), as `user` (uid and primary gid only:
/// no supplementary groups) or as root. Returns once the program is exec'd.
pub fn spawn(program: &Path, args: &[&str], user: Option<&TestUser>) -> Pending {
    spawn_limited(program, args, user, &[], None)
}

/// As [`spawn`], with resource limits (`setrlimit(resource, soft = hard = value)`) set
/// just before the exec, and optionally the socket's number in the helper fixed to `fd`
/// (so that which of the helper's own fds hit a low RLIMIT_NOFILE does not depend on
/// the fds the test process happens to have open).
pub fn spawn_limited(
    program: &Path,
    args: &[&str],
    user: Option<&TestUser>,
    limits: &[(libc::__rlimit_resource_t, u64)],
    fd: Option<RawFd>,
) -> Pending {
    let (ours, theirs) = qemu_socketpair();
    let ours_number = theirs.as_raw_fd();
    let sock = fd.unwrap_or(ours_number);
    let mut cmd = Command::new(program);
    cmd.args(args.iter().map(|a| a.replace("{fd}", &sock.to_string())))
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(user) = user {
        cmd.uid(user.uid).gid(user.gid);
    }
    let limits: Vec<(libc::__rlimit_resource_t, libc::rlimit)> = limits
        .iter()
        .map(|&(resource, value)| {
            let limit = libc::rlimit {
                rlim_cur: value,
                rlim_max: value,
            };
            (resource, limit)
        })
        .collect();
    // SAFETY: runs between fork and exec and only calls dup2(2), fcntl(2) and
    // setrlimit(2), which are async-signal-safe; it does not allocate (the Vec is only
    // iterated). dup2 replaces whatever the child had at `sock` (in the child only).
    unsafe {
        cmd.pre_exec(move || {
            if sock != ours_number && libc::dup2(ours_number, sock) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            if libc::fcntl(sock, libc::F_SETFD, 0) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            for (resource, limit) in &limits {
                if libc::setrlimit(*resource, limit) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
    let child = cmd.spawn().expect("spawn helper");
    drop(theirs);
    Pending { child, ours, sock }
}

/// How a directly started helper ended.
#[derive(Debug)]
pub struct Finished {
    pub outcome: Outcome,
    /// The signal that killed it, if one did.
    pub signal: Option<i32>,
}

impl Pending {
    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Waits for the helper and collects what it did, as the harness's `call` does.
    pub fn finish(self) -> Outcome {
        self.finish_signal().outcome
    }

    /// As [`Pending::finish`], with the signal that ended the process, if any.
    pub fn finish_signal(self) -> Finished {
        let out = self.child.wait_with_output().expect("wait for helper");
        Finished {
            signal: std::os::unix::process::ExitStatusExt::signal(&out.status),
            outcome: Outcome {
                code: out.status.code(),
                stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
                stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
                fd: recv_fd(&self.ours),
                sock: self.sock,
            },
        }
    }
}

/// How a helper given a time limit ended ([`Pending::finish_within`]).
#[derive(Debug)]
pub struct Timed {
    pub finished: Finished,
    /// From the call to the exit (or to the kill).
    pub elapsed: std::time::Duration,
    /// It was still running at the limit and was killed (SIGKILL).
    pub killed: bool,
}

impl Pending {
    /// Our end of the socketpair (the helper's `--fd`), for reading it as QEMU or
    /// libvirt does while the helper still runs.
    pub fn ours(&self) -> &OwnedFd {
        &self.ours
    }

    /// As [`Pending::finish_signal`], but a helper still running after `limit` is killed,
    /// so that a hang fails the test instead of hanging it.
    pub fn finish_within(mut self, limit: std::time::Duration) -> Timed {
        let start = std::time::Instant::now();
        let mut killed = false;
        while self.child.try_wait().expect("wait for helper").is_none() {
            if start.elapsed() > limit {
                let _ = self.child.kill();
                killed = true;
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        let elapsed = start.elapsed();
        Timed {
            finished: self.finish_signal(),
            elapsed,
            killed,
        }
    }
}
