//! The tap, created through /dev/net/tun exactly as qemu-bridge-helper does.

use std::fs::OpenOptions;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};

use libc::{c_char, c_short, c_uint};

use crate::ifname::IfName;

pub const TUN_PATH: &str = "/dev/net/tun";

nix::ioctl_readwrite_bad!(tun_set_iff, libc::TUNSETIFF, libc::ifreq);
nix::ioctl_read_bad!(tun_get_features, libc::TUNGETFEATURES, c_uint);
nix::ioctl_write_int_bad!(tun_set_owner, libc::TUNSETOWNER);

/// Opened first, while still root: /dev/net/tun is 0600 on some hosts. CLOEXEC (std's
/// default), so the fd never leaks into anything we might exec.
pub fn open() -> io::Result<OwnedFd> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .open(TUN_PATH)
        .map(OwnedFd::from)
}

pub struct Tap {
    pub fd: OwnedFd,
    pub name: IfName,
}

/// Same as `ip tuntap add mode tap [vnet_hdr]`, but not persistent: when the last fd
/// closes, the kernel deletes the tap and every FDB entry on its port, so no failure
/// and no crash can leave either behind. O_NONBLOCK and offloads are QEMU's business.
pub fn create(tun: OwnedFd, use_vnet: bool) -> io::Result<Tap> {
    let mut features: c_uint = 0;
    // SAFETY: TUNGETFEATURES writes one unsigned int through the pointer, which points
    // to a live local.
    unsafe { tun_get_features(tun.as_raw_fd(), &mut features) }?;
    let mut flags = libc::IFF_TAP | libc::IFF_NO_PI;
    if use_vnet && features & libc::IFF_VNET_HDR as c_uint != 0 {
        flags |= libc::IFF_VNET_HDR;
    }
    // SAFETY: ifreq is plain old data (arrays and a union of integers and pointers);
    // all-zero bytes are a valid value of it.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, src) in req.ifr_name.iter_mut().zip(b"tap%d") {
        *dst = *src as c_char;
    }
    req.ifr_ifru.ifru_flags = flags as c_short;
    // SAFETY: TUNSETIFF reads one ifreq and writes the chosen name back into it; `req`
    // is a live local for the whole call.
    unsafe { tun_set_iff(tun.as_raw_fd(), &mut req) }?;
    let name: Vec<u8> = req
        .ifr_name
        .iter()
        .take_while(|&&c| c != 0)
        .map(|&c| c as u8)
        .collect();
    let name = std::str::from_utf8(&name)
        .ok()
        .and_then(|n| IfName::new(n).ok())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "kernel returned an odd tap name"))?;
    Ok(Tap { fd: tun, name })
}

/// Records `uid` as the tap's owner (`/sys/class/net/TAP/owner`, IFLA_TUN_OWNER): a
/// pending port's, so that only its caller can claim it later. Any holder of the fd can
/// change it again; only that holder's own guest then suffers.
pub fn set_owner(tap: &Tap, uid: u32) -> io::Result<()> {
    let uid = libc::c_int::try_from(uid).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: TUNSETOWNER takes its argument by value; no memory is passed.
    unsafe { tun_set_owner(tap.fd.as_raw_fd(), uid) }?;
    Ok(())
}
