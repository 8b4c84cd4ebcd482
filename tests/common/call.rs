//! Calling the helper exactly as QEMU does, without QEMU: a socketpair whose child end the
//! helper inherits as `--fd=N`, and one message with the tap fd in SCM_RIGHTS back.

use std::io::IoSliceMut;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::Stdio;

use nix::errno::Errno;
use nix::sys::socket::{
    recvmsg, socketpair, AddressFamily, ControlMessageOwned, MsgFlags, SockFlag, SockType,
};

use super::{env, Install, Netns, Run, TapFd, TestUser};

/// One helper invocation. In `args`, `{fd}` stands for the number of the socket's child end.
pub struct Call<'a> {
    pub install: Install,
    pub run: Run<'a>,
    pub args: Vec<String>,
    /// Other fds (open in the test process) the helper inherits under the same numbers.
    pub keep: Vec<RawFd>,
}

impl<'a> Call<'a> {
    /// `install` run as `user` (with the 0666 tun for the file-caps copy).
    pub fn new(install: Install, user: &'a TestUser, args: &[&str]) -> Self {
        Self {
            install,
            run: Run::user(user, install),
            args: args.iter().map(|a| a.to_string()).collect(),
            keep: Vec::new(),
        }
    }

    pub fn keep(mut self, fd: RawFd) -> Self {
        self.keep.push(fd);
        self
    }

    pub fn strace(mut self, out: PathBuf, expr: &str) -> Self {
        self.run.strace = Some((out, expr.to_owned()));
        self
    }

    pub fn run(&self, ns: &Netns) -> Outcome {
        call(ns, self)
    }
}

/// What the helper did: exit code, output, and the fd it sent (the guest's NIC), if any.
#[derive(Debug)]
pub struct Outcome {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub fd: Option<OwnedFd>,
    /// The `--fd` number the helper was given.
    pub sock: RawFd,
}

pub fn call(ns: &Netns, call: &Call) -> Outcome {
    call_via(ns, call, &[])
}

/// The pair QEMU makes for the helper: AF_UNIX stream, CLOEXEC (the child's end is made
/// inheritable just before the exec).
pub fn qemu_socketpair() -> (OwnedFd, OwnedFd) {
    socketpair(
        AddressFamily::Unix,
        SockType::Stream,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .unwrap()
}

/// As [`call`], with the helper started through `wrapper` (a command that ends by
/// exec'ing its arguments: `env VAR=..`, `timeout 10`, `sh -c '...; exec "$0" "$@"'`):
/// runs `wrapper... HELPER args...`. `{fd}` is replaced in `wrapper` too.
pub fn call_via(ns: &Netns, call: &Call, wrapper: &[&str]) -> Outcome {
    let (ours, theirs) = qemu_socketpair();
    let sock = theirs.as_raw_fd();
    let args: Vec<String> = call
        .args
        .iter()
        .map(|a| a.replace("{fd}", &sock.to_string()))
        .collect();
    let mut cmd = match wrapper.split_first() {
        None => ns.command(&call.run, env().helper(call.install), &args),
        Some((program, rest)) => {
            let helper = env().helper(call.install).to_str().expect("UTF-8 path");
            let all: Vec<String> = rest
                .iter()
                .map(|a| a.replace("{fd}", &sock.to_string()))
                .chain([helper.to_owned()])
                .chain(args)
                .collect();
            ns.command(&call.run, std::path::Path::new(program), &all)
        }
    };
    // Everything in this process is CLOEXEC; only the child of this fork gets these fds, so
    // parallel tests never leak their socket ends into each other's helpers.
    let inherit: Vec<RawFd> = call.keep.iter().copied().chain([sock]).collect();
    // SAFETY: the closure runs between fork and exec and only calls fcntl(2), which is
    // async-signal-safe; it does not allocate (the Vec is only iterated).
    unsafe {
        cmd.pre_exec(move || {
            for fd in &inherit {
                if libc::fcntl(*fd, libc::F_SETFD, 0) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
    let out = cmd.stdin(Stdio::null()).output().expect("run helper");
    drop(theirs);
    Outcome {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        fd: recv_fd(&ours),
        sock,
    }
}

/// The fd the helper sent, if it sent one. The helper has exited: whatever it sent is
/// queued already, so this never blocks.
pub fn recv_fd(ours: &OwnedFd) -> Option<OwnedFd> {
    receive(ours, false).unwrap_or_else(|e| panic!("{e}"))
}

/// What the helper sent on `ours`: `None` if it closed its end without sending (or, unless
/// `wait`, has sent nothing yet); an error for anything but one byte with one fd in
/// SCM_RIGHTS. `wait`: block until it sends or closes, as QEMU does.
pub fn receive(ours: &OwnedFd, wait: bool) -> Result<Option<OwnedFd>, String> {
    let mut byte = [0u8; 2];
    let mut iov = [IoSliceMut::new(&mut byte)];
    let mut space = nix::cmsg_space!([RawFd; 4]);
    let mut flags = MsgFlags::MSG_CMSG_CLOEXEC;
    if !wait {
        flags |= MsgFlags::MSG_DONTWAIT;
    }
    let msg = loop {
        match recvmsg::<()>(ours.as_raw_fd(), &mut iov, Some(&mut space), flags) {
            Err(Errno::EINTR) => continue,
            Err(Errno::EAGAIN) if !wait => return Ok(None),
            other => break other.map_err(|e| format!("recvmsg: {e}"))?,
        }
    };
    let mut fds = Vec::new();
    for cmsg in msg.cmsgs().map_err(|e| format!("cmsgs: {e}"))? {
        if let ControlMessageOwned::ScmRights(received) = cmsg {
            // SAFETY: the kernel just installed these fds in this process; nothing else owns them.
            fds.extend(received.into_iter().map(|fd| unsafe { OwnedFd::from_raw_fd(fd) }));
        }
    }
    match (msg.bytes, fds.len()) {
        (0, 0) => Ok(None), // the helper closed the socket without sending
        (1, 1) => Ok(fds.pop()),
        (bytes, n) => Err(format!(
            "the helper must send exactly one data byte and one fd: sent {bytes} bytes and {n} fds"
        )),
    }
}

impl Outcome {
    /// Exit 0 with an fd: returns the guest's NIC. `vnet`: whether `--use-vnet` was given.
    pub fn success(self, vnet: bool) -> TapFd {
        assert_eq!(
            self.code,
            Some(0),
            "helper failed: stderr {:?} stdout {:?}",
            self.stderr,
            self.stdout
        );
        assert_eq!(self.stderr, "", "a successful call prints nothing on stderr");
        let fd = self.fd.expect("exit 0 but no fd was sent");
        TapFd::new(fd, vnet)
    }

    /// Exit 1, no fd, exactly one stderr line `fdb-bridge-helper: failed to ...` containing
    /// every one of `expect`, and no tap left in `ns`.
    pub fn failure(&self, ns: &Netns, expect: &[&str]) {
        self.failure_leaving(ns, expect, &[]);
    }

    /// As [`Outcome::failure`], where `taps` existed before the call and are all that is left.
    pub fn failure_leaving(&self, ns: &Netns, expect: &[&str], taps: &[String]) {
        let ctx = format!("stderr {:?}, stdout {:?}", self.stderr, self.stdout);
        assert_eq!(self.code, Some(1), "exit code, {ctx}");
        assert!(self.fd.is_none(), "a failed call sent an fd, {ctx}");
        assert!(self.stderr.ends_with('\n'), "{ctx}");
        assert_eq!(self.stderr.lines().count(), 1, "exactly one line, {ctx}");
        assert!(self.stderr.starts_with("fdb-bridge-helper: failed to "), "{ctx}");
        for want in expect {
            assert!(self.stderr.contains(want), "expected {want:?} in {ctx}");
        }
        assert_eq!(ns.taps(), taps, "a failed call left a tap, {ctx}");
    }
}
