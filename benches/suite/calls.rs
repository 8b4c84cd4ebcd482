//! Figures 1-4: per-call latency and peak RSS (interleaved variants), scale to ~1000
//! managed ports, and simultaneous calls.

use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicU32, Ordering};

use serde_json::{json, Value};

use crate::ns::{self, View, Views};
use crate::spawn::{self, Call, Program};
use crate::stats::{median, Summary};
use crate::Config;

/// What is called.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    /// Ours with `--mac=`: managed on a bridge the ACL marks `managed`, else plain.
    Managed,
    /// Ours exactly as QEMU calls it (no `--mac`), on a plain bridge.
    Plain,
    /// Debian's qemu-bridge-helper, plain bridge.
    Qbh,
    /// `/bin/true`, spawned the same way: the cost of fork + exec + reaping alone.
    Floor,
}

impl Variant {
    pub const ALL: [Variant; 4] = [Self::Managed, Self::Plain, Self::Qbh, Self::Floor];

    pub fn key(self) -> &'static str {
        match self {
            Self::Managed => "ours_managed",
            Self::Plain => "ours_plain",
            Self::Qbh => "qemu_bridge_helper_plain",
            Self::Floor => "spawn_floor",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Managed => "ours, managed (--mac)",
            Self::Plain => "ours, plain",
            Self::Qbh => "qemu-bridge-helper, plain",
            Self::Floor => "spawn floor (/bin/true)",
        }
    }
}

/// The binaries, the two ACL views and the sizes of this run.
pub struct Bench<'a> {
    pub views: &'a Views,
    pub ours: String,
    pub qbh: String,
    pub floor: String,
    pub cfg: &'a Config,
}

/// A fresh guest MAC `52:54:00:xx:xx:xx` (a counter: unique within the run).
pub fn next_mac() -> [u8; 6] {
    static NEXT: AtomicU32 = AtomicU32::new(1);
    let [_, a, b, c] = NEXT.fetch_add(1, Ordering::Relaxed).to_be_bytes();
    [0x52, 0x54, 0x00, a, b, c]
}

pub fn mac_text(mac: &[u8; 6]) -> String {
    let [a, b, c, d, e, f] = mac;
    format!("{a:02x}:{b:02x}:{c:02x}:{d:02x}:{e:02x}:{f:02x}")
}

impl Bench<'_> {
    fn program(&self, variant: Variant, bridge: &str, mac: Option<[u8; 6]>) -> Program {
        let path = match variant {
            Variant::Managed | Variant::Plain => &self.ours,
            Variant::Qbh => &self.qbh,
            Variant::Floor => &self.floor,
        };
        let mut args = vec!["--use-vnet".into(), "--fd={fd}".into(), format!("--br={bridge}")];
        if variant == Variant::Managed {
            args.push(format!("--mac={}", mac_text(&mac.unwrap_or_else(next_mac))));
        }
        Program {
            path: path.clone(),
            args,
        }
    }

    pub fn view(variant: Variant) -> View {
        if variant == Variant::Qbh {
            View::Qbh
        } else {
            View::Ours
        }
    }

    /// One call; `mac` for [`Variant::Managed`] (a fresh one if `None`).
    pub fn call_as(&self, variant: Variant, bridge: &str, mac: Option<[u8; 6]>) -> Result<Call, String> {
        let program = self.program(variant, bridge, mac);
        let view = Self::view(variant);
        if view != View::Ours {
            self.views.enter(view)?;
        }
        let result = spawn::call(&program, variant != Variant::Floor);
        if view != View::Ours {
            self.views.enter(View::Ours)?;
        }
        result
    }

    pub fn call(&self, variant: Variant, bridge: &str) -> Result<Call, String> {
        self.call_as(variant, bridge, None)
    }
}

fn bridge_of(variant: Variant) -> &'static str {
    match variant {
        Variant::Managed => "brm",
        Variant::Plain | Variant::Floor => "brp",
        Variant::Qbh => "brq",
    }
}

/// One variant's samples: latency in µs, and the child's peak RSS (KiB), CPU time (µs)
/// and minor page faults.
#[derive(Default)]
pub struct Samples {
    pub latency_us: Vec<f64>,
    pub maxrss_kib: Vec<f64>,
    pub cpu_us: Vec<f64>,
    pub minflt: Vec<f64>,
}

impl Samples {
    fn push(&mut self, call: &Call) {
        self.latency_us.push(call.elapsed.as_secs_f64() * 1e6);
        self.maxrss_kib.push(call.usage.maxrss_kib as f64);
        self.cpu_us.push(call.usage.cpu_us as f64);
        self.minflt.push(call.usage.minflt as f64);
    }
}

/// The summaries of one variant's [`Samples`].
#[derive(Debug, Clone, Copy)]
pub struct Stats {
    pub latency_us: Summary,
    pub maxrss_kib: Summary,
    pub cpu_us: Summary,
    pub minflt: Summary,
}

impl Stats {
    fn of(s: &Samples) -> Self {
        Self {
            latency_us: Summary::of(&s.latency_us),
            maxrss_kib: Summary::of(&s.maxrss_kib),
            cpu_us: Summary::of(&s.cpu_us),
            minflt: Summary::of(&s.minflt),
        }
    }

    fn json(&self) -> Value {
        json!({"latency_us": self.latency_us.json(), "maxrss_kib": self.maxrss_kib.json(),
               "child_cpu_us": self.cpu_us.json(), "child_minor_faults": self.minflt.json()})
    }
}

/// Figures 1 and 2, per variant.
pub struct Latency {
    pub calls: usize,
    pub round: usize,
    pub results: Vec<(Variant, Stats)>,
    /// Every timed latency, µs, per variant in call order.
    pub raw_us: Vec<(Variant, Vec<f64>)>,
}

impl Latency {
    pub fn get(&self, variant: Variant) -> Stats {
        let found = self.results.iter().find(|(v, _)| *v == variant);
        found.map(|(_, s)| *s).expect("every variant is measured")
    }

    pub fn json(&self) -> Value {
        let per: serde_json::Map<String, Value> = (self.results.iter())
            .map(|(v, s)| (v.key().into(), s.json()))
            .collect();
        let raw: serde_json::Map<String, Value> = (self.raw_us.iter())
            .map(|(v, s)| (v.key().into(), json!(s)))
            .collect();
        json!({"calls_per_variant": self.calls, "round": self.round, "variants": per, "latency_us_all": raw})
    }
}

/// Round-robin over the variants (the first one rotates per iteration); taps stay open for
/// a round of `cfg.round` iterations and are closed, untimed, between rounds.
pub fn latency(b: &Bench) -> Result<Latency, String> {
    for br in ["brm", "brp", "brq"] {
        ns::add_bridge(br)?;
    }
    let mut samples: Vec<Samples> = (0..4).map(|_| Samples::default()).collect();
    let warmup = b.cfg.warmup;
    let (total, round) = (b.cfg.latency_calls + warmup, b.cfg.round);
    let mut i = 0;
    while i < total {
        let mut held: Vec<OwnedFd> = Vec::new();
        for _ in 0..round.min(total - i) {
            for k in 0..4 {
                let v = Variant::ALL[(i + k) % 4];
                let call = b.call(v, bridge_of(v))?;
                if i >= warmup {
                    samples[(i + k) % 4].push(&call);
                }
                held.extend(call.fd);
            }
            i += 1;
        }
        drop(held);
        ns::settle()?;
    }
    let results = (Variant::ALL.iter().zip(&samples))
        .map(|(v, s)| (*v, Stats::of(s)))
        .collect();
    let raw_us = (Variant::ALL.into_iter().zip(samples))
        .map(|(v, s)| (v, s.latency_us))
        .collect();
    Ok(Latency {
        calls: b.cfg.latency_calls,
        round,
        results,
        raw_us,
    })
}

/// Figure 4 for one variant: `reps` bursts of `n` simultaneous calls on one bridge.
pub struct Burst {
    pub n: usize,
    pub wall_ms: Vec<f64>,
    pub ok: Vec<usize>,
    pub failures: Vec<String>,
}

impl Burst {
    pub fn json(&self) -> Value {
        json!({"n": self.n, "wall_ms": self.wall_ms, "wall_ms_median": median(&self.wall_ms),
               "successes": self.ok, "failures": self.failures})
    }

    pub fn min_ok(&self) -> usize {
        self.ok.iter().copied().min().unwrap_or(0)
    }
}

/// Alternates bursts of ours (managed, distinct MACs) and qemu-bridge-helper's (plain).
pub fn concurrency(b: &Bench) -> Result<(Burst, Burst), String> {
    let n = b.cfg.concurrent;
    ns::add_bridge("brc")?;
    ns::add_bridge("brcq")?;
    let mut ours = Burst {
        n,
        wall_ms: vec![],
        ok: vec![],
        failures: vec![],
    };
    let mut qbh = Burst {
        n,
        wall_ms: vec![],
        ok: vec![],
        failures: vec![],
    };
    for _ in 0..b.cfg.concurrent_reps {
        burst(b, Variant::Managed, "brc", &mut ours)?;
        burst(b, Variant::Qbh, "brcq", &mut qbh)?;
    }
    Ok((ours, qbh))
}

fn burst(b: &Bench, variant: Variant, bridge: &str, into: &mut Burst) -> Result<(), String> {
    let programs: Vec<Program> = (0..into.n).map(|_| b.program(variant, bridge, None)).collect();
    b.views.enter(Bench::view(variant))?;
    let result = spawn::call_all(&programs);
    b.views.enter(View::Ours)?;
    let (wall, outcomes) = result?;
    into.wall_ms.push(wall.as_secs_f64() * 1e3);
    let mut held = Vec::new();
    for outcome in outcomes {
        match outcome {
            Ok(fd) => held.push(fd),
            Err(e) => into.failures.push(e),
        }
    }
    into.ok.push(held.len());
    drop(held);
    ns::settle()
}
