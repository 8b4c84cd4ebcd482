//! Every system call that needs `unsafe` or privileges, each behind a small safe API.
//! Nothing outside this module (and `netlink`) talks to the kernel directly.

pub mod libvirt;
pub mod privs;
pub mod random;
pub mod seccomp;
pub mod socket;
pub mod stderr;
pub mod syslog;
pub mod trusted;
pub mod tun;
