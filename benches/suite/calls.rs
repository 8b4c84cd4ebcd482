//! Figures 1-4: per-call latency and peak RSS (interleaved variants), scale to ~1000
//! managed ports, and simultaneous calls.

use std::os::fd::OwnedFd;

use serde_json::{json, Value};

use crate::bins::Bins;
use crate::common::fork::{self, Done, Program};
use crate::common::Here;
use crate::ns::{self, View, Views};
use crate::stats::{median, Summary};
use crate::Config;

use crate::common::Mac;
pub use crate::variants::{next_mac, Variant};

/// The programs, the two ACL views and the sizes of this run.
pub struct Bench<'a> {
    pub views: &'a Views,
    pub bins: &'a Bins,
    pub cfg: &'a Config,
}

impl Bench<'_> {
    pub fn view(variant: Variant) -> View {
        if variant == Variant::Qbh {
            View::Qbh
        } else {
            View::Ours
        }
    }

    /// One call; `mac` for a managed variant (a fresh one if `None`).
    pub fn call_as(&self, variant: Variant, bridge: &str, mac: Option<Mac>) -> Result<Done, String> {
        let program = self.bins.program(variant, bridge, mac)?;
        let view = Self::view(variant);
        if view != View::Ours {
            self.views.enter(view)?;
        }
        let result = fork::call(&program, variant.sends_fd());
        if view != View::Ours {
            self.views.enter(View::Ours)?;
        }
        result
    }

    pub fn call(&self, variant: Variant, bridge: &str) -> Result<Done, String> {
        self.call_as(variant, bridge, None)
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
    fn push(&mut self, call: &Done) {
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

/// Figures 1 and 2 for one variant.
pub struct Row {
    pub variant: Variant,
    pub key: String,
    pub label: String,
    pub stats: Stats,
    /// Every timed latency, µs, in call order.
    pub raw_us: Vec<f64>,
}

/// Figures 1 and 2, per variant.
pub struct Latency {
    pub calls: usize,
    pub round: usize,
    /// Whether the phase ran at SCHED_FIFO (see [`set_fifo`]).
    pub fifo: bool,
    pub rows: Vec<Row>,
}

impl Latency {
    pub fn row(&self, variant: Variant) -> Option<&Row> {
        self.rows.iter().find(|r| r.variant == variant)
    }

    /// Panics if `variant` was not measured: only for the rows that always are.
    pub fn get(&self, variant: Variant) -> Stats {
        self.row(variant).expect("a fixed row is always measured").stats
    }

    pub fn json(&self) -> Value {
        let per: serde_json::Map<String, Value> = (self.rows.iter())
            .map(|r| {
                (
                    r.key.clone(),
                    json!({"label": r.label, "summary": r.stats.json()}),
                )
            })
            .collect();
        let raw: serde_json::Map<String, Value> = (self.rows.iter())
            .map(|r| (r.key.clone(), json!(r.raw_us)))
            .collect();
        json!({"calls_per_variant": self.calls, "round": self.round, "sched_fifo": self.fifo,
               "variants": per, "latency_us_all": raw})
    }
}

/// Every iteration calls each variant once, in a fresh random order: a fixed order gives each
/// variant the same predecessor, whose cache and TLB footprint it then pays for (measured:
/// up to 10% for the variant after qemu-bridge-helper). Taps stay open for a round of
/// `cfg.round` iterations and are closed, untimed, between rounds.
pub fn latency(b: &Bench) -> Result<Latency, String> {
    let variants = crate::variants::latency_variants(b.bins);
    let n = variants.len();
    for v in &variants {
        if !std::path::Path::new("/sys/class/net").join(v.bridge()).exists() {
            Here::add_bridge(&v.bridge());
        }
    }
    let fifo = b.cfg.fifo && set_fifo(true)?;
    let mut samples: Vec<Samples> = (0..n).map(|_| Samples::default()).collect();
    let warmup = b.cfg.warmup;
    let (total, round) = (b.cfg.latency_calls + warmup, b.cfg.round);
    let (mut i, mut order, mut rng) = (0, (0..n).collect::<Vec<usize>>(), Shuffle(0x9e37_79b9_7f4a_7c15));
    while i < total {
        let mut held: Vec<OwnedFd> = Vec::new();
        for _ in 0..round.min(total - i) {
            rng.shuffle(&mut order);
            for &k in &order {
                let v = variants[k];
                let call = b.call(v, &v.bridge())?;
                if i >= warmup {
                    samples[k].push(&call);
                }
                held.extend(call.fd);
            }
            i += 1;
        }
        drop(held);
        ns::settle()?;
    }
    if fifo {
        set_fifo(false)?;
    }
    let _ = std::fs::remove_dir_all(&b.bins.links).and_then(|()| std::fs::create_dir(&b.bins.links));
    let rows = (variants.into_iter().zip(samples))
        .map(|(v, s)| Row {
            variant: v,
            key: v.key(b.bins),
            label: v.label(b.bins),
            stats: Stats::of(&s),
            raw_us: s.latency_us,
        })
        .collect();
    Ok(Latency {
        calls: b.cfg.latency_calls,
        round,
        fifo,
        rows,
    })
}

/// Fisher-Yates over xorshift64: a fixed seed, so that a run's order can be repeated.
struct Shuffle(u64);

impl Shuffle {
    fn shuffle(&mut self, items: &mut [usize]) {
        for k in (1..items.len()).rev() {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            items.swap(k, (self.0 % (k as u64 + 1)) as usize);
        }
    }
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
    Here::add_bridge("brc");
    Here::add_bridge("brcq");
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
    let programs: Vec<Program> = (0..into.n)
        .map(|_| b.bins.program(variant, bridge, None))
        .collect::<Result<_, _>>()?;
    b.views.enter(Bench::view(variant))?;
    let result = fork::call_all(&programs);
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

/// `on`: SCHED_FIFO priority 1 for this process, and so for every child it spawns, so that
/// other work on a shared machine cannot preempt a call mid-way; returns false (and says
/// so) where the policy is refused. Off: back to SCHED_OTHER.
pub fn set_fifo(on: bool) -> Result<bool, String> {
    let (policy, priority) = if on {
        (libc::SCHED_FIFO, 1)
    } else {
        (libc::SCHED_OTHER, 0)
    };
    let param = libc::sched_param {
        sched_priority: priority,
    };
    // SAFETY: `param` is a valid sched_param for the duration of the call.
    if unsafe { libc::sched_setscheduler(0, policy, &param) } == 0 {
        return Ok(true);
    }
    let err = std::io::Error::last_os_error();
    if on {
        println!("      (SCHED_FIFO refused: {err}; measuring at the normal policy)");
        return Ok(false);
    }
    Err(format!("sched_setscheduler SCHED_OTHER: {err}"))
}
