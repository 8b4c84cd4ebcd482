//! Figure 5: what managed mode saves on the datapath. A bridge with a veth uplink and 32
//! guest taps (made by our helper, so the ACL decides managed or not); from the uplink's
//! far end an AF_PACKET socket sends a burst of frames to unknown unicast MACs and, one in
//! ten, to the first guest's MAC. The bench drains every tap and counts our frames.

use std::os::fd::{AsRawFd, OwnedFd};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use serde_json::{json, Value};

use crate::calls::{next_mac, Bench, Variant};
use crate::common::net::{packet_socket, VNET_HDR_LEN};
use crate::common::{random_bytes, random_vec, Frame, Here, Mac};
use crate::stats::median;
use crate::{load, ns};

/// Frames sent between two drains: well below a tap's queue (500), so nothing is dropped.
const BATCH: usize = 128;
const TAG_UNKNOWN: u8 = 0;
const TAG_KNOWN: u8 = 1;
const TAG_LEARN: u8 = 2;

/// One burst through one bridge.
#[derive(Debug, Default, Clone)]
pub struct Burst {
    pub unknown_sent: u64,
    pub known_sent: u64,
    /// Copies of unknown-unicast frames read from any tap.
    pub unknown_copies: u64,
    /// Known-MAC frames read from the first guest's tap / from any other tap.
    pub known_right: u64,
    pub known_wrong: u64,
    pub wall_ms: f64,
    /// This process's CPU time (syscalls, the softirq work they trigger, reading the taps).
    pub cpu_ms: f64,
    /// Machine-wide softirq time from /proc/stat (10 ms ticks).
    pub softirq_ms: f64,
}

impl Burst {
    pub fn copies_per_unknown(&self) -> f64 {
        self.unknown_copies as f64 / self.unknown_sent as f64
    }

    pub fn known_per_known(&self) -> f64 {
        self.known_right as f64 / self.known_sent as f64
    }

    pub fn delivered_per_sent(&self) -> f64 {
        let got = self.unknown_copies + self.known_right + self.known_wrong;
        got as f64 / (self.unknown_sent + self.known_sent) as f64
    }

    pub fn json(&self) -> Value {
        json!({
            "unknown_sent": self.unknown_sent, "known_sent": self.known_sent,
            "unknown_copies": self.unknown_copies, "known_delivered_right_tap": self.known_right,
            "known_delivered_other_taps": self.known_wrong, "wall_ms": self.wall_ms,
            "cpu_self_ms": self.cpu_ms, "softirq_machine_ms": self.softirq_ms,
        })
    }
}

/// Every burst of one mode, and their medians.
pub struct Mode {
    pub managed: bool,
    pub bursts: Vec<Burst>,
}

impl Mode {
    pub fn median(&self, f: impl Fn(&Burst) -> f64) -> f64 {
        median(&self.bursts.iter().map(f).collect::<Vec<_>>())
    }

    pub fn json(&self) -> Value {
        json!({
            "managed": self.managed,
            "copies_per_unknown_unicast": self.median(Burst::copies_per_unknown),
            "deliveries_per_known_frame": self.median(Burst::known_per_known),
            "deliveries_per_frame_sent": self.median(Burst::delivered_per_sent),
            "wall_ms_median": self.median(|b| b.wall_ms),
            "cpu_self_ms_median": self.median(|b| b.cpu_ms),
            "softirq_machine_ms_median": self.median(|b| b.softirq_ms),
            "bursts": self.bursts.iter().map(Burst::json).collect::<Vec<_>>(),
        })
    }
}

/// The guests of one bridge and the far end of its uplink.
struct Rig {
    taps: Vec<OwnedFd>,
    known: Mac,
    far_mac: Mac,
    sock: OwnedFd,
}

/// Builds both bridges, then alternates bursts (unmanaged first) `cfg.burst_reps` times.
pub fn run(b: &Bench) -> Result<(Mode, Mode), String> {
    let nonce: [u8; 8] = random_bytes();
    let plain = rig(b, "dpu")?;
    let managed = rig(b, "dpm")?;
    let mut modes = (
        Mode {
            managed: false,
            bursts: vec![],
        },
        Mode {
            managed: true,
            bursts: vec![],
        },
    );
    for _ in 0..b.cfg.burst_reps {
        modes.0.bursts.push(burst(&plain, b.cfg.frames, &nonce)?);
        modes.1.bursts.push(burst(&managed, b.cfg.frames, &nonce)?);
    }
    drop((plain, managed));
    ns::settle()?;
    Ok(modes)
}

fn rig(b: &Bench, bridge: &str) -> Result<Rig, String> {
    let (port, far) = (format!("{bridge}-up"), format!("{bridge}-far"));
    Here::add_bridge(bridge);
    Here::add_veth(bridge, &port, &far);
    let known = next_mac();
    let mut taps = Vec::with_capacity(b.cfg.guests);
    for i in 0..b.cfg.guests {
        let mac = if i == 0 { known } else { next_mac() };
        let call = b.call_as(Variant::Managed, bridge, Some(mac))?;
        let fd = call.fd.ok_or("no tap fd")?;
        nix::fcntl::fcntl(&fd, nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK))
            .map_err(|e| format!("O_NONBLOCK on tap: {e}"))?;
        taps.push(fd);
    }
    let ports = std::fs::read_dir(format!("/sys/class/net/{bridge}/brif")).map_err(|e| e.to_string())?;
    for entry in ports.flatten() {
        Here::wait_ready(&entry.file_name().to_string_lossy());
    }
    let rig = Rig {
        far_mac: Mac::parse(&Here::mac_of(&far)),
        // Protocol 0: it only sends (one bound to our EtherType would also queue a copy
        // of every frame it sends).
        sock: packet_socket(&far, 0),
        taps,
        known,
    };
    // The first guest speaks once, so that an unmanaged bridge learns its MAC too.
    let hello = frame(rig.far_mac, rig.known, &[0; 8], TAG_LEARN);
    let mut buf = vec![0u8; VNET_HDR_LEN];
    buf.extend_from_slice(&hello);
    nix::unistd::write(&rig.taps[0], &buf).map_err(|e| format!("write to tap: {e}"))?;
    std::thread::sleep(Duration::from_millis(50));
    drain(&rig, &[0; 8], &mut Burst::default())?;
    Ok(rig)
}

fn frame(dst: Mac, src: Mac, nonce: &[u8; 8], tag: u8) -> Vec<u8> {
    let (dst, src, nonce) = (dst.0, src.0, *nonce);
    Frame { dst, src, nonce, tag }.bytes()
}

/// The burst: every tenth frame to the known guest, the rest to fresh random unicast MACs
/// (locally administered, so never a real device's).
fn frames(rig: &Rig, count: usize, nonce: &[u8; 8]) -> Vec<Vec<u8>> {
    let random: Vec<u8> = random_vec(count * 6);
    let frames = (0..count).map(|i| {
        if i % 10 == 9 {
            return frame(rig.known, rig.far_mac, nonce, TAG_KNOWN);
        }
        let mut dst = [0u8; 6];
        dst.copy_from_slice(&random[i * 6..i * 6 + 6]);
        dst[0] = (dst[0] & 0xfc) | 0x02;
        frame(Mac(dst), rig.far_mac, nonce, TAG_UNKNOWN)
    });
    frames.collect()
}

fn burst(rig: &Rig, count: usize, nonce: &[u8; 8]) -> Result<Burst, String> {
    let frames = frames(rig, count, nonce);
    let mut out = Burst::default();
    let (cpu0, irq0) = (load::self_cpu_ms()?, load::softirq_ms()?);
    let start = Instant::now();
    for batch in frames.chunks(BATCH) {
        for f in batch {
            let n = nix::unistd::write(&rig.sock, f).map_err(|e| format!("send frame: {e}"))?;
            if n != f.len() {
                return Err(format!("short send: {n} bytes"));
            }
            if f[22] == TAG_KNOWN {
                out.known_sent += 1;
            } else {
                out.unknown_sent += 1;
            }
        }
        drain(rig, nonce, &mut out)?;
    }
    let mut end = start.elapsed();
    // Stragglers (none expected: the softirq work runs as each send returns).
    while !readable(rig, 30)?.is_empty() {
        drain(rig, nonce, &mut out)?;
        end = start.elapsed();
    }
    out.wall_ms = end.as_secs_f64() * 1e3;
    (out.cpu_ms, out.softirq_ms) = (load::self_cpu_ms()? - cpu0, load::softirq_ms()? - irq0);
    Ok(out)
}

/// Reads every readable tap until none is, counting our frames.
fn drain(rig: &Rig, nonce: &[u8; 8], out: &mut Burst) -> Result<(), String> {
    let mut buf = [0u8; 2048];
    loop {
        let ready = readable(rig, 0)?;
        if ready.is_empty() {
            return Ok(());
        }
        for i in ready {
            loop {
                let n = match nix::unistd::read(&rig.taps[i], &mut buf) {
                    Err(Errno::EAGAIN) => break,
                    Err(e) => return Err(format!("read tap: {e}")),
                    Ok(n) => n,
                };
                count(&buf[VNET_HDR_LEN.min(n)..n], i, nonce, out);
            }
        }
    }
}

/// Counts `f` (read from guest `tap`) if it is one of ours.
fn count(f: &[u8], tap: usize, nonce: &[u8; 8], out: &mut Burst) {
    match (Frame::tag_of(f, nonce), tap) {
        (Some(TAG_UNKNOWN), _) => out.unknown_copies += 1,
        (Some(TAG_KNOWN), 0) => out.known_right += 1,
        (Some(TAG_KNOWN), _) => out.known_wrong += 1,
        _ => {}
    }
}

/// poll(2) over every tap for up to `ms`: the indices of the readable ones.
fn readable(rig: &Rig, ms: i32) -> Result<Vec<usize>, String> {
    let mut fds: Vec<libc::pollfd> = (rig.taps.iter())
        .map(|t| libc::pollfd {
            fd: t.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    // SAFETY: `fds` is a valid array of `fds.len()` pollfds for the duration of the call.
    let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, ms) };
    if n < 0 {
        return Err(format!("poll: {}", std::io::Error::last_os_error()));
    }
    Ok((fds.iter().enumerate())
        .filter(|(_, p)| p.revents != 0)
        .map(|(i, _)| i)
        .collect())
}
