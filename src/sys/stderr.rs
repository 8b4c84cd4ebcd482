//! Handing a refusal to libvirt. Its session daemon reads our stderr in a thread of its
//! own (virCommandDoAsyncIO) and, the moment recvmsg on the `--fd` socket fails, takes
//! whatever that thread has read so far: a line still in the pipe, or half read, is
//! lost. So the line goes out in one write, and the socket closes only once the pipe is
//! empty, that is once the reader has it.

use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use libc::c_int;
use nix::poll::{poll, PollTimeout};
use nix::sys::stat::{fstat, SFlag};

nix::ioctl_read_bad!(fionread, libc::FIONREAD, c_int);

/// Whether stderr is a pipe (libvirt's, QEMU's or a shell's). Asked early, before the
/// seccomp filter, which has no fstat.
pub(crate) fn is_pipe() -> bool {
    fstat(std::io::stderr())
        .is_ok_and(|st| SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFIFO)
}

/// Waits until no byte written to the stderr pipe is left unread, for at most `limit`
/// (nobody may be reading it: a shell's pipeline that reads at the end).
pub(crate) fn wait_read(limit: Duration) {
    let start = Instant::now();
    let fd = std::io::stderr().as_raw_fd();
    loop {
        let mut unread: c_int = 0;
        // SAFETY: FIONREAD writes one int through the pointer, which points to a live local.
        match unsafe { fionread(fd, &mut unread) } {
            Ok(_) if unread > 0 && start.elapsed() < limit => {}
            _ => return,
        }
        let _ = poll(&mut [], PollTimeout::from(1u8));
    }
}
