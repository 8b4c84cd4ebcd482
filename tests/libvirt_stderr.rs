//! libvirt's session mode reads the helper's stderr the moment `recvmsg` on its end of the
//! socket sees it close, then kills the helper: a refusal's one line must already be in
//! the pipe by then, or the user sees only "Transport endpoint is not connected". Done
//! here as libvirt does it, 100 times, with both cores busy so that the helper is often
//! descheduled between closing the socket and writing the line.

mod common;

use std::io::{ErrorKind, Read};
use std::os::fd::AsRawFd;
use std::process::{Child, Command, Stdio};

use common::call::recv_fd;
use common::devlog::{self, PRIVATE_DEV};
use common::direct::{in_ns, spawn};
use common::{env, Netns};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

const ROUNDS: usize = 100;

/// Busy loops, one per core, for as long as this lives.
struct Load(Vec<Child>);

impl Load {
    fn start(n: usize) -> Self {
        Self(
            (0..n)
                .map(|_| {
                    Command::new("sh")
                        .args(["-c", "while :; do :; done"])
                        .stdin(Stdio::null())
                        .spawn()
                        .expect("start a busy loop")
                })
                .collect(),
        )
    }
}

impl Drop for Load {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Waits up to 10 s for `fd` to be readable (data or the peer's close).
fn wait_readable(fd: &impl AsRawFd) -> bool {
    let mut pfd = libc::pollfd {
        fd: fd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: `pfd` is one valid pollfd, and the count says one.
    let n = unsafe { libc::poll(&mut pfd, 1, 10_000) };
    assert!(n >= 0, "poll: {}", std::io::Error::last_os_error());
    n > 0
}

/// What is in the pipe right now, without waiting for more.
fn read_available(pipe: &mut std::process::ChildStderr) -> String {
    // SAFETY: F_SETFL with O_NONBLOCK on a pipe fd this process owns changes only its flags.
    let rc = unsafe { libc::fcntl(pipe.as_raw_fd(), libc::F_SETFL, libc::O_NONBLOCK) };
    assert_eq!(rc, 0, "fcntl: {}", std::io::Error::last_os_error());
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match pipe.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::WouldBlock => break,
            Err(e) => panic!("read stderr: {e}"),
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// One refused call as libvirt makes it: returns what stderr held when the socket closed.
fn libvirt_call(args: &[&str]) -> String {
    let mut pending = spawn(&env().setuid, args, Some(&env().alice));
    let mut stderr = pending.child.stderr.take().expect("stderr pipe");
    assert!(wait_readable(pending.ours()), "no answer within 10 s");
    assert!(recv_fd(pending.ours()).is_none(), "a refused call sent an fd");
    let seen = read_available(&mut stderr);
    let _ = kill(Pid::from_raw(pending.pid()), Signal::SIGTERM);
    pending.finish();
    seen
}

/// Point 9: 100 of 100 refusals (alternately the ACL's and a managed bridge's without
/// --mac) have their line on stderr when the socket closes, under load.
#[test]
fn the_refusal_is_on_stderr_when_the_socket_closes() {
    let ns = Netns::new();
    ns.add_bridge("br0");
    ns.write_acl("bridge.conf", "allow br0\nmanaged br0\n");
    let cases: [(&[&str], &str); 2] = [
        (
            &["--br=br1", "--fd={fd}"],
            "fdb-bridge-helper: failed to authorize bridge br1: access denied by acl file",
        ),
        (
            &["--use-vnet", "--br=br0", "--fd={fd}"],
            "fdb-bridge-helper: failed to authorize bridge br0: ",
        ),
    ];
    let load = Load::start(2);
    let missing = in_ns(&ns, PRIVATE_DEV, || {
        let log = devlog::datagram();
        let mut missing = Vec::new();
        for round in 0..ROUNDS {
            let (args, want) = cases[round % 2];
            let seen = libvirt_call(args);
            if !seen.contains(want) {
                missing.push((round, seen));
            }
            devlog::drain(&log);
        }
        missing
    });
    drop(load);
    assert!(
        missing.is_empty(),
        "the line was on stderr at the socket's close in {} of {ROUNDS} calls; missing in \
         rounds {:?}",
        ROUNDS - missing.len(),
        missing.iter().map(|(r, _)| r).collect::<Vec<_>>()
    );
    assert_eq!(ns.taps(), Vec::<String>::new(), "taps left");
}
