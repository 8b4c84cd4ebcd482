//! Benchmarks of fdb-bridge-helper against Debian's qemu-bridge-helper, in a network
//! namespace of their own (needs root):
//!
//! ```sh
//! cargo bench --bench helper -- [--quick] [--json PATH] [--compare LABEL=PATH]... [--no-fifo]
//! ```
//!
//! 1. per-call latency (spawn to fd received and child reaped), exactly as QEMU calls a
//!    helper, by an unprivileged user, of setuid-root copies: ours managed and plain,
//!    qemu-bridge-helper plain, the kernel floor (a static C program making only the system
//!    calls of a managed call), the exec floor (a static no-op), ours managed through
//!    QEMU's `/bin/sh -c`, and any other builds of ours given with `--compare`;
//! 2. the child's peak RSS; 3. call #1000 on a bridge with 999 managed ports vs call #1;
//! 4. simultaneous calls on one bridge; 5. what managed mode saves on the datapath.
//!
//! Every figure is a ratio against a reference measured in the same run. The table goes to
//! stdout, the full report (every sample, machine info) to the JSON file (default
//! target/bench-report.json). `--quick` runs every phase with few iterations (CI runs it so
//! that the suite keeps working). Figures 1-2 run at SCHED_FIFO unless `--no-fifo`.

#[path = "../tests/common/mod.rs"]
mod common;

#[path = "suite/bins.rs"]
mod bins;
#[path = "suite/calls.rs"]
mod calls;
#[path = "suite/datapath.rs"]
mod datapath;
#[path = "suite/detail.rs"]
mod detail;
#[path = "suite/load.rs"]
mod load;
#[path = "suite/ns.rs"]
mod ns;
#[path = "suite/report.rs"]
mod report;
#[path = "suite/scale.rs"]
mod scale;
#[path = "suite/setup.rs"]
mod setup;
#[path = "suite/stats.rs"]
mod stats;
#[path = "suite/variants.rs"]
mod variants;

use std::path::PathBuf;
use std::time::Instant;

use serde_json::{json, Value};

/// Sizes of one run.
pub struct Config {
    pub quick: bool,
    /// Timed calls per variant in figures 1-2, after `warmup` untimed ones.
    pub latency_calls: usize,
    pub warmup: usize,
    /// Iterations whose taps stay open together; closed (untimed) between rounds.
    pub round: usize,
    /// Figure 3: ports made on one bridge, and calls timed at each end.
    pub scale_ports: usize,
    pub scale_window: usize,
    /// Figure 4: simultaneous calls, and how many times.
    pub concurrent: usize,
    pub concurrent_reps: usize,
    /// Figure 5: guest taps per bridge, frames per burst, bursts per mode.
    pub guests: usize,
    pub frames: usize,
    pub burst_reps: usize,
    /// Figures 1-2 at SCHED_FIFO (the machine may be busy with other work).
    pub fifo: bool,
}

impl Config {
    fn new(quick: bool, fifo: bool) -> Self {
        let full = !quick;
        let pick = |full_n: usize, quick_n: usize| if full { full_n } else { quick_n };
        Self {
            quick,
            latency_calls: pick(300, 30),
            warmup: pick(5, 2),
            round: pick(50, 10),
            scale_ports: pick(1000, 50),
            scale_window: pick(30, 10),
            concurrent: pick(64, 8),
            concurrent_reps: pick(5, 2),
            guests: 32,
            frames: pick(20_000, 2_000),
            burst_reps: pick(3, 1),
            fifo,
        }
    }

    pub fn json(&self) -> Value {
        json!({
            "quick": self.quick, "latency_calls": self.latency_calls, "warmup": self.warmup,
            "round": self.round, "scale_ports": self.scale_ports, "scale_window": self.scale_window,
            "concurrent": self.concurrent, "concurrent_reps": self.concurrent_reps,
            "guests": self.guests, "frames": self.frames, "burst_reps": self.burst_reps,
            "sched_fifo": self.fifo,
        })
    }
}

/// At most this many `--compare` builds (each has a managed bridge in our ACL).
pub const MAX_COMPARE: usize = 8;

/// Command line: `[--quick] [--json PATH] [--compare LABEL=PATH]... [--no-fifo]`; `--inner
/// DIR` is the re-executed process. cargo adds `--bench`, which means nothing here.
pub struct Options {
    pub quick: bool,
    pub json: PathBuf,
    pub inner: Option<PathBuf>,
    /// Other builds of ours to time beside it (managed calls): (label, binary).
    pub compare: Vec<(String, PathBuf)>,
    pub no_fifo: bool,
}

fn parse_args() -> Result<Options, String> {
    let mut opts = Options {
        quick: false,
        json: PathBuf::from("target/bench-report.json"),
        inner: None,
        compare: Vec::new(),
        no_fifo: false,
    };
    let mut args = std::env::args_os().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| {
            args.next()
                .map(PathBuf::from)
                .ok_or(format!("{name} needs a value"))
        };
        match arg.to_str() {
            Some("--quick") => opts.quick = true,
            Some("--json") => opts.json = value("--json")?,
            Some("--inner") => opts.inner = Some(value("--inner")?),
            Some("--compare") => opts.compare.push(compare_arg(&value("--compare")?)?),
            Some("--no-fifo") => opts.no_fifo = true,
            Some("--bench") => {}
            _ => {
                return Err(format!(
                    "unknown argument {arg:?}; usage: [--quick] [--json PATH] \
                     [--compare LABEL=PATH]... [--no-fifo]"
                ))
            }
        }
    }
    if opts.compare.len() > MAX_COMPARE {
        return Err(format!("at most {MAX_COMPARE} --compare builds"));
    }
    let cwd = std::env::current_dir().map_err(|e| format!("current dir: {e}"))?;
    opts.json = cwd.join(&opts.json);
    Ok(opts)
}

/// `LABEL=PATH`: a label of letters, digits and `_` (it names a JSON key), an absolute path.
fn compare_arg(arg: &std::path::Path) -> Result<(String, PathBuf), String> {
    let text = arg.to_str().ok_or("--compare: not UTF-8")?;
    let (label, path) = text.split_once('=').ok_or("--compare needs LABEL=PATH")?;
    let good = |c: char| c.is_ascii_alphanumeric() || c == '_';
    if label.is_empty() || !label.chars().all(good) || !path.starts_with('/') {
        return Err(format!(
            "--compare {text:?}: want LABEL=/ABS/PATH, LABEL of [A-Za-z0-9_]"
        ));
    }
    Ok((label.into(), path.into()))
}

fn main() {
    let result = parse_args().and_then(|opts| match &opts.inner {
        None => setup::launch(&opts),
        Some(dir) => inner(&opts, dir).map(|()| 0),
    });
    let code = result.unwrap_or_else(|e| {
        eprintln!("benchmark failed: {e}");
        1
    });
    std::process::exit(code);
}

/// Inside the namespace: every phase, the table, the JSON report.
fn inner(opts: &Options, dir: &std::path::Path) -> Result<(), String> {
    let started = Instant::now();
    let cfg = Config::new(opts.quick, !opts.no_fifo);
    let machine = report::machine();
    let text = |key: &str| {
        machine[key]
            .as_str()
            .map_or(machine[key].to_string(), str::to_owned)
    };
    println!(
        "fdb-bridge-helper benchmark: {} CPUs ({}), Linux {}, qemu-system-common {}, load {}\n\
         helper under test: {}; IPv6 is off in the bench's network namespace",
        text("nproc"),
        text("cpu_model"),
        text("kernel"),
        text("qemu_system_common_version"),
        text("loadavg_at_start"),
        setup::OURS
    );
    if cfg.quick {
        println!("quick mode: figures are not meaningful");
    }
    ns::prepare();
    ns::raise_nofile(8192)?;
    let views = ns::Views::new(&dir.join("qbh"))?;
    check_views(&views)?;
    let bins = bins::Bins::new(dir, opts)?;
    let bench = calls::Bench {
        views: &views,
        bins: &bins,
        cfg: &cfg,
    };
    let results = detail::run_all(&bench)?;
    let rows = report::rows(&results, &cfg);
    report::print(&rows, &results.loads);
    let seconds = started.elapsed().as_secs_f64();
    let value = report::json(&results, &rows, &cfg, machine, seconds);
    write_json(&opts.json, &value)?;
    println!("\nrun time {seconds:.1} s; JSON report: {}", opts.json.display());
    if cfg.quick {
        println!("quick mode: figures are not meaningful");
    }
    let (ours, _) = &results.concurrent;
    if ours.min_ok() != ours.n {
        return Err(format!("simultaneous calls failed: {:?}", ours.failures));
    }
    Ok(())
}

/// Each helper must see its own ACL, or the figures compare the wrong things.
fn check_views(views: &ns::Views) -> Result<(), String> {
    let ours = views.acl(ns::View::Ours)?;
    let qbh = views.acl(ns::View::Qbh)?;
    if !ours.contains("managed brm") || qbh != "allow all\n" {
        return Err(format!(
            "wrong /etc/qemu views: ours {ours:?}, qemu-bridge-helper's {qbh:?}"
        ));
    }
    Ok(())
}

fn write_json(path: &std::path::Path, value: &Value) -> Result<(), String> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| format!("mkdir {}: {e}", parent.display()))?;
    }
    let text = serde_json::to_string_pretty(value).map_err(|e| e.to_string())?;
    std::fs::write(path, text + "\n").map_err(|e| format!("write {}: {e}", path.display()))
}
