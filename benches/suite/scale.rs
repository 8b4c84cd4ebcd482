//! Figure 3: does a call cost more on a bridge that already has ~1000 ports?
//!
//! For ours (managed, each port with its static entry), then for qemu-bridge-helper (plain,
//! the kernel's own growth): fill a bridge with `ports - 1` taps, every tap kept (calls
//! #1..#ports-1 are the literal reading, `fill`). Then alternate `window` times: the call
//! that makes port #`ports` on the full bridge, and a call on an empty bridge of the same
//! namespace; each measured tap is closed (untimed) before the next call, so the full bridge
//! stays at `ports - 1`. Both sides of that ratio run at the same time in a namespace with
//! the same number of links, so it isolates what grows with the bridge's ports (the
//! kernel's "tap%d" naming, for one, grows with the namespace's links).

use std::os::fd::{AsFd, OwnedFd};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::calls::{Bench, Variant};
use crate::common::net::tap_name;
use crate::common::Here;
use crate::ns;
use crate::stats::{median, ratio, Summary};

/// One helper's share of figure 3 (latencies in µs).
pub struct Side {
    /// The call that makes port #`ports` on the full bridge, and a call on an empty one.
    pub full: Vec<f64>,
    pub empty: Vec<f64>,
    /// Every fill call in order: call #1 .. #ports-1 on the growing bridge.
    pub fill: Vec<f64>,
    pub static_entries: usize,
}

impl Side {
    fn new() -> Self {
        Self {
            full: vec![],
            empty: vec![],
            fill: vec![],
            static_entries: 0,
        }
    }

    pub fn ratio(&self) -> f64 {
        ratio(median(&self.full), median(&self.empty))
    }

    /// The literal reading: the fill's last `window` calls over its first `window`.
    pub fn fill_ratio(&self, window: usize) -> f64 {
        let n = self.fill.len();
        ratio(median(&self.fill[n - window..]), median(&self.fill[..window]))
    }

    fn json(&self, window: usize) -> Value {
        let tenth = (self.fill.len() / 10).max(1);
        json!({
            "full_bridge_us": Summary::of(&self.full).json(),
            "empty_bridge_us": Summary::of(&self.empty).json(),
            "ratio_full_over_empty": self.ratio(),
            "fill_ratio_last_over_first_window": self.fill_ratio(window),
            "fill_median_us_per_tenth": self.fill.chunks(tenth).map(median).collect::<Vec<_>>(),
            "static_fdb_entries_on_full_bridge": self.static_entries,
            "fill_us": self.fill,
        })
    }
}

pub struct Scale {
    pub ports: usize,
    pub window: usize,
    pub ours: Side,
    pub qbh: Side,
    pub teardown_s: f64,
}

impl Scale {
    pub fn json(&self) -> Value {
        json!({
            "ports": self.ports, "window": self.window, "teardown_s": self.teardown_s,
            "ours_managed": self.ours.json(self.window),
            "qemu_bridge_helper_plain": self.qbh.json(self.window),
        })
    }
}

/// (variant, full bridge, empty bridge)
const SIDES: [(Variant, &str, &str); 2] =
    [(Variant::Managed, "brs", "brs0"), (Variant::Qbh, "brsq", "brsq0")];

pub fn run(b: &Bench) -> Result<Scale, String> {
    let (mut ours, mut qbh) = (Side::new(), Side::new());
    let mut teardown_s = 0.0;
    for ((variant, full, empty), side) in SIDES.into_iter().zip([&mut ours, &mut qbh]) {
        teardown_s += one_side(b, variant, full, empty, side)?;
    }
    let (ports, window) = (b.cfg.scale_ports, b.cfg.scale_window);
    Ok(Scale {
        ports,
        window,
        ours,
        qbh,
        teardown_s,
    })
}

/// Fills `full`, measures, and removes everything again; returns the (untimed) teardown
/// time in seconds.
fn one_side(b: &Bench, variant: Variant, full: &str, empty: &str, side: &mut Side) -> Result<f64, String> {
    let (ports, window) = (b.cfg.scale_ports, b.cfg.scale_window);
    Here::add_bridge(full);
    Here::add_bridge(empty);
    let mut held: Vec<OwnedFd> = Vec::with_capacity(ports);
    for _ in 1..ports {
        let call = b.call(variant, full)?;
        side.fill.push(call.elapsed.as_secs_f64() * 1e6);
        held.extend(call.fd);
    }
    side.static_entries = check_full(full, ports - 1)?;
    for i in 0..window * 2 {
        let on_full = i % 2 == 0;
        // Untimed: wakes the CPU and warms fork + exec after the idle wait in close_tap.
        b.call(Variant::ExecFloor, empty)?;
        let call = b.call(variant, if on_full { full } else { empty })?;
        let us = call.elapsed.as_secs_f64() * 1e6;
        if on_full {
            side.full.push(us)
        } else {
            side.empty.push(us)
        }
        close_tap(call.fd.ok_or("no tap fd")?)?;
    }
    let start = Instant::now();
    drop(held);
    ns::settle()?;
    Here::del_link(full);
    Here::del_link(empty);
    Ok(start.elapsed().as_secs_f64())
}

/// The bridge must have `ports` ports; returns its number of static FDB entries.
fn check_full(bridge: &str, ports: usize) -> Result<usize, String> {
    let enslaved = std::fs::read_dir(format!("/sys/class/net/{bridge}/brif")).map_or(0, |d| d.count());
    if enslaved != ports {
        return Err(format!("{bridge} has {enslaved} ports, expected {ports}"));
    }
    let fdb = Here::sh(&format!("bridge fdb show br {bridge}"));
    Ok(fdb.lines().filter(|l| l.contains(" static")).count())
}

/// Closes a tap fd and waits until the tap is gone, plus a moment for deferred work.
fn close_tap(fd: OwnedFd) -> Result<(), String> {
    let name = tap_name(fd.as_fd());
    drop(fd);
    let path = std::path::Path::new("/sys/class/net").join(&name);
    let deadline = Instant::now() + Duration::from_secs(10);
    while path.exists() {
        if Instant::now() > deadline {
            return Err(format!("{name} still exists 10 s after its fd was closed"));
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    std::thread::sleep(Duration::from_millis(20));
    Ok(())
}
