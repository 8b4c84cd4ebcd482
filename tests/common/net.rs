//! Frames: raw Ethernet frames with a private EtherType and a per-test nonce, injected and
//! captured with AF_PACKET sockets inside a namespace, and read from / written to the tap
//! fd the helper returned (the guest's NIC).

use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::time::{Duration, Instant};

use nix::sched::{setns, CloneFlags};
use nix::sys::socket::{socket, AddressFamily, SockFlag, SockType};

use super::{random_bytes, Netns};

/// IEEE 802 "local experimental" EtherType: nothing else in the namespace uses it.
pub const ETHERTYPE: u16 = 0x88b5;
/// `struct virtio_net_hdr` without mergeable buffers, what a tap with IFF_VNET_HDR uses.
pub const VNET_HDR_LEN: usize = 10;

/// A test frame: `dst`, `src`, [`ETHERTYPE`], the test's nonce and a tag naming the frame.
#[derive(Debug, Clone, Copy)]
pub struct Frame {
    pub dst: [u8; 6],
    pub src: [u8; 6],
    pub nonce: [u8; 8],
    pub tag: u8,
}

impl Frame {
    pub fn nonce() -> [u8; 8] {
        random_bytes()
    }

    pub fn bytes(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(60);
        b.extend_from_slice(&self.dst);
        b.extend_from_slice(&self.src);
        b.extend_from_slice(&ETHERTYPE.to_be_bytes());
        b.extend_from_slice(&self.nonce);
        b.push(self.tag);
        b.resize(60, 0);
        b
    }

    /// The tag of `bytes` if it is one of ours with `nonce`.
    pub fn tag_of(bytes: &[u8], nonce: &[u8; 8]) -> Option<u8> {
        if bytes.len() < 23 || bytes[12..14] != ETHERTYPE.to_be_bytes() || bytes[14..22] != nonce[..] {
            return None;
        }
        Some(bytes[22])
    }
}

/// Reads frames from `fd` (skipping `skip` header bytes) and returns the tags of those
/// with `nonce`, in order. Stops `linger` after `until` is seen, or at `timeout`.
pub fn read_tags(
    fd: BorrowedFd,
    skip: usize,
    nonce: &[u8; 8],
    until: u8,
    linger: Duration,
    timeout: Duration,
) -> Vec<u8> {
    let mut tags = Vec::new();
    let mut deadline = Instant::now() + timeout;
    let mut buf = vec![0u8; 65536];
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        if !readable(fd, left) {
            break;
        }
        let n = nix::unistd::read(fd, &mut buf).expect("read frame");
        assert!(n >= skip, "short read of {n} bytes");
        if let Some(tag) = Frame::tag_of(&buf[skip..n], nonce) {
            tags.push(tag);
            if tag == until {
                deadline = deadline.min(Instant::now() + linger);
            }
        }
    }
    tags
}

/// The fd the helper returned: the guest's NIC. Keep it to keep the tap.
#[derive(Debug)]
pub struct TapFd {
    pub fd: OwnedFd,
    /// Whether frames carry a virtio-net header (the call had `--use-vnet`).
    pub vnet: bool,
}

impl TapFd {
    pub fn new(fd: OwnedFd, vnet: bool) -> Self {
        Self { fd, vnet }
    }

    /// The tap's name, from the fd itself (TUNGETIFF).
    pub fn name(&self) -> String {
        tap_name(self.fd.as_fd())
    }

    /// The IFF_* flags the tap was created with.
    pub fn flags(&self) -> i32 {
        // SAFETY: TUNGETIFF filled ifru_flags, the union member it sets.
        i32::from(unsafe { tun_getiff(self.fd.as_fd()).ifr_ifru.ifru_flags })
    }

    fn skip(&self) -> usize {
        if self.vnet {
            VNET_HDR_LEN
        } else {
            0
        }
    }

    /// The guest sends `frame` (with an all-zero virtio-net header if `vnet`).
    pub fn write_frame(&self, frame: &[u8]) {
        let mut buf = vec![0u8; self.skip()];
        buf.extend_from_slice(frame);
        let n = nix::unistd::write(&self.fd, &buf).expect("write to tap");
        assert_eq!(n, buf.len());
    }

    /// Tags of our frames the guest receives, as [`read_tags`] with a 200 ms linger.
    pub fn read_tags(&self, nonce: &[u8; 8], until: u8) -> Vec<u8> {
        let (linger, timeout) = (Duration::from_millis(200), Duration::from_secs(3));
        read_tags(self.fd.as_fd(), self.skip(), nonce, until, linger, timeout)
    }
}

fn tun_getiff(fd: BorrowedFd) -> libc::ifreq {
    // SAFETY: ifreq is plain old data; all-zero is a valid value.
    let mut ifr: libc::ifreq = unsafe { std::mem::zeroed() };
    // SAFETY: TUNGETIFF writes a struct ifreq into the valid, writable `ifr`.
    let rc = unsafe { libc::ioctl(fd.as_raw_fd(), libc::TUNGETIFF, &mut ifr) };
    assert_eq!(rc, 0, "TUNGETIFF: {}", std::io::Error::last_os_error());
    ifr
}

/// The name of the tap behind a tun fd (TUNGETIFF).
pub fn tap_name(fd: BorrowedFd) -> String {
    let name: Vec<u8> = (tun_getiff(fd).ifr_name.iter())
        .take_while(|c| **c != 0)
        .map(|c| *c as u8)
        .collect();
    String::from_utf8(name).unwrap()
}

/// An AF_PACKET raw socket on `link` of the current thread's network namespace, receiving
/// frames of EtherType `protocol` (0: none, a socket that only sends; with [`ETHERTYPE`] it
/// also sees the frames it sends out of the link).
pub fn packet_socket(link: &str, protocol: u16) -> OwnedFd {
    let fd = socket(AddressFamily::Packet, SockType::Raw, SockFlag::SOCK_CLOEXEC, None).unwrap();
    let index = nix::net::if_::if_nametoindex(link).expect("if_nametoindex");
    // SAFETY: sockaddr_ll is plain old data; all-zero is valid before we fill it in.
    let mut addr: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    addr.sll_family = libc::AF_PACKET as u16;
    addr.sll_protocol = protocol.to_be();
    addr.sll_ifindex = index as i32;
    let len = std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t;
    // SAFETY: `addr` is a valid sockaddr_ll of `len` bytes for the duration of the call.
    let rc = unsafe { libc::bind(fd.as_raw_fd(), (&raw const addr).cast(), len) };
    assert_eq!(
        rc,
        0,
        "bind AF_PACKET to {link}: {}",
        std::io::Error::last_os_error()
    );
    fd
}

/// An AF_PACKET raw socket bound to a link inside a namespace.
#[derive(Debug)]
pub struct PacketSock {
    pub fd: OwnedFd,
}

impl PacketSock {
    /// Opens the socket from a thread that entered the namespace: a net namespace can be
    /// entered per thread, and the socket stays in it after the thread ends.
    pub fn open(ns: &Netns, link: &str) -> Self {
        let path = format!("/run/netns/{}", ns.name);
        let link = link.to_owned();
        let fd = std::thread::spawn(move || {
            let nsfd = File::open(&path).expect("open netns");
            setns(&nsfd, CloneFlags::CLONE_NEWNET).expect("setns");
            packet_socket(&link, ETHERTYPE)
        })
        .join()
        .expect("netns thread");
        Self { fd }
    }

    pub fn send(&self, frame: &[u8]) {
        let n = nix::unistd::write(&self.fd, frame).expect("send frame");
        assert_eq!(n, frame.len());
    }

    /// Tags of our frames arriving on the link, as [`read_tags`] with a 200 ms linger.
    pub fn read_tags(&self, nonce: &[u8; 8], until: u8) -> Vec<u8> {
        let (linger, timeout) = (Duration::from_millis(200), Duration::from_secs(3));
        read_tags(self.fd.as_fd(), 0, nonce, until, linger, timeout)
    }
}

/// poll(2) for POLLIN, up to `wait`.
pub fn readable(fd: BorrowedFd, wait: Duration) -> bool {
    let ms = i32::try_from(wait.as_millis().max(1)).unwrap_or(i32::MAX);
    let mut pfd = libc::pollfd {
        fd: fd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: `pfd` is one valid pollfd, and the count says one.
    let n = unsafe { libc::poll(&mut pfd, 1, ms) };
    assert!(n >= 0, "poll: {}", std::io::Error::last_os_error());
    n > 0
}
