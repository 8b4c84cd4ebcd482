//! A tiny frame sender and counter for `packaging/demo.sh`, over an AF_PACKET socket:
//!
//!   frames send IFACE DST SRC COUNT   sends COUNT frames DST <- SRC (ethertype 0x88b5)
//!   frames count IFACE DST MS         counts frames to DST seen on IFACE for MS ms
//!
//! On a tap, `count` sees what the bridge sends to the guest, whether or not the guest
//! reads it.

use std::io;
use std::mem::size_of;
use std::time::{Duration, Instant};

/// IEEE 802 local experimental ethertype 1: nobody else's traffic.
const ETHERTYPE: u16 = 0x88b5;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        ["send", iface, dst, src, count] => send(iface, mac(dst), mac(src), count.parse().unwrap_or(0)),
        ["count", iface, dst, ms] => count(iface, mac(dst), ms.parse().unwrap_or(0)),
        _ => {
            eprintln!("usage: frames send IFACE DST SRC COUNT | frames count IFACE DST MS");
            std::process::exit(2);
        }
    };
    if let Err(e) = result {
        eprintln!("frames: {e}");
        std::process::exit(1);
    }
}

fn mac(text: &str) -> [u8; 6] {
    let mut out = [0; 6];
    let parts: Vec<u8> = text
        .split(':')
        .filter_map(|p| u8::from_str_radix(p, 16).ok())
        .collect();
    if parts.len() != 6 {
        eprintln!("frames: not a MAC: {text}");
        std::process::exit(2);
    }
    out.copy_from_slice(&parts);
    out
}

/// A packet socket bound to `iface`, all protocols.
fn open(iface: &str) -> io::Result<i32> {
    let name = std::ffi::CString::new(iface).map_err(|_| io::ErrorKind::InvalidInput)?;
    // SAFETY: `name` is a valid NUL-terminated string.
    let index = unsafe { libc::if_nametoindex(name.as_ptr()) };
    if index == 0 {
        return Err(io::Error::last_os_error());
    }
    let all = (libc::ETH_P_ALL as u16).to_be();
    // SAFETY: plain socket(2) call; the fd is checked below.
    let fd = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW, i32::from(all)) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: sockaddr_ll is plain data; all-zero is a valid value.
    let mut addr: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    addr.sll_family = libc::AF_PACKET as u16;
    addr.sll_protocol = all;
    addr.sll_ifindex = index as i32;
    let len = size_of::<libc::sockaddr_ll>() as u32;
    // SAFETY: `addr` is a valid sockaddr_ll of `len` bytes.
    if unsafe { libc::bind(fd, (&addr as *const libc::sockaddr_ll).cast(), len) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(fd)
}

fn send(iface: &str, dst: [u8; 6], src: [u8; 6], count: u32) -> io::Result<()> {
    let fd = open(iface)?;
    let mut frame = Vec::with_capacity(60);
    frame.extend_from_slice(&dst);
    frame.extend_from_slice(&src);
    frame.extend_from_slice(&ETHERTYPE.to_be_bytes());
    frame.resize(60, 0);
    for _ in 0..count {
        // SAFETY: `frame` is valid for its length.
        if unsafe { libc::send(fd, frame.as_ptr().cast(), frame.len(), 0) } < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

fn count(iface: &str, dst: [u8; 6], ms: u64) -> io::Result<()> {
    let fd = open(iface)?;
    let deadline = Instant::now() + Duration::from_millis(ms);
    let mut seen = 0u32;
    let mut buf = [0u8; 2048];
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        let mut poll = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        let wait = i32::try_from(left.as_millis()).unwrap_or(i32::MAX).max(1);
        // SAFETY: one valid pollfd.
        if unsafe { libc::poll(&mut poll, 1, wait) } <= 0 {
            continue;
        }
        // SAFETY: `buf` is valid for its length.
        let n = unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), 0) };
        let frame = &buf[..usize::try_from(n).unwrap_or(0)];
        if frame.len() >= 14 && frame[..6] == dst && frame[12..14] == ETHERTYPE.to_be_bytes() {
            seen += 1;
        }
    }
    println!("{seen}");
    Ok(())
}
