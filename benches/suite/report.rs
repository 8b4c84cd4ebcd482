//! The summary table (each figure with its reference, ratio and target) and the JSON report.

use serde_json::{json, Value};

use crate::calls::{Burst, Latency, Variant};
use crate::datapath::{self, Mode};
use crate::load::Load;
use crate::scale::Scale;
use crate::stats::{median, ratio};
use crate::Config;

/// Everything one run measured.
pub struct Results {
    pub latency: Latency,
    pub scale: Scale,
    pub concurrent: (Burst, Burst),
    pub datapath: (Mode, Mode),
    /// CPU used outside the bench, per phase.
    pub loads: Vec<Load>,
}

/// One line of the summary: a figure, its reference, their ratio and the target.
pub struct Row {
    pub figure: String,
    pub ours: String,
    pub reference: String,
    pub ratio: f64,
    pub target: String,
    pub met: Option<bool>,
}

fn row(figure: &str, ours: String, reference: String, ratio: f64, target: &str, met: Option<bool>) -> Row {
    let (figure, target) = (figure.to_owned(), target.to_owned());
    Row {
        figure,
        ours,
        reference,
        ratio,
        target,
        met,
    }
}

fn ms(us: f64) -> String {
    format!("{:.3} ms", us / 1e3)
}

fn mib(kib: f64) -> String {
    format!("{:.2} MiB", kib / 1024.0)
}

pub fn rows(r: &Results, cfg: &Config) -> Vec<Row> {
    let mut rows = latency_rows(&r.latency);
    rows.extend(scale_rows(&r.scale));
    let (co, cq) = &r.concurrent;
    let (wo, wq) = (median(&co.wall_ms), median(&cq.wall_ms));
    rows.push(row(
        &format!("4 {} simultaneous calls, wall (vs qbh)", co.n),
        format!("{wo:.1} ms"),
        format!("{wq:.1} ms"),
        ratio(wo, wq),
        "info",
        None,
    ));
    rows.push(row(
        "4 simultaneous calls that succeeded (worst rep)",
        format!("{}/{}", co.min_ok(), co.n),
        format!("{}/{}", cq.min_ok(), cq.n),
        ratio(co.min_ok() as f64, cq.min_ok() as f64),
        "all",
        Some(co.min_ok() == co.n),
    ));
    rows.extend(datapath_rows(&r.datapath, cfg));
    rows
}

fn scale_rows(s: &Scale) -> Vec<Row> {
    let (o, q) = (&s.ours, &s.qbh);
    let (n, w) = (s.ports, s.window);
    vec![
        row(
            &format!("3 scale: ours managed, port #{n} vs #1 (interleaved)"),
            ms(median(&o.full)),
            ms(median(&o.empty)),
            o.ratio(),
            "<= 1.10x",
            Some(o.ratio() <= 1.10),
        ),
        row(
            &format!("3 scale: qemu-bridge-helper plain, port #{n} vs #1"),
            ms(median(&q.full)),
            ms(median(&q.empty)),
            q.ratio(),
            "info",
            None,
        ),
        row(
            &format!("3 scale: ours, fill calls #{}-{} vs #1-{w}", n - w, n - 1),
            ms(median(&o.fill[o.fill.len() - w..])),
            ms(median(&o.fill[..w])),
            o.fill_ratio(w),
            "info",
            None,
        ),
        row(
            "3 scale: ours growth / qemu-bridge-helper growth",
            format!("{:.2}x", o.ratio()),
            format!("{:.2}x", q.ratio()),
            ratio(o.ratio(), q.ratio()),
            "info",
            None,
        ),
    ]
}

fn latency_rows(l: &Latency) -> Vec<Row> {
    let (qbh, managed) = (l.get(Variant::Qbh), l.get(Variant::Managed));
    let mut rows = Vec::new();
    for r in l.rows.iter().filter(|r| r.variant != Variant::Qbh) {
        let t = r.stats.latency_us.median;
        let (target, met) = match r.variant {
            Variant::Managed => ("<= 0.60x", Some(ratio(t, qbh.latency_us.median) <= 0.60)),
            _ => ("info", None),
        };
        let name = format!("1 latency median, {}", r.label);
        rows.push(row(
            &name,
            ms(t),
            ms(qbh.latency_us.median),
            ratio(t, qbh.latency_us.median),
            target,
            met,
        ));
    }
    let (m, q) = (managed.latency_us, qbh.latency_us);
    rows.push(row(
        "1 latency p99, ours, managed",
        ms(m.p99),
        ms(q.p99),
        ratio(m.p99, q.p99),
        "info",
        None,
    ));
    // Against other references than qemu-bridge-helper.
    let floor = l.get(Variant::KernelFloor).latency_us.median;
    let mut versus = vec![("1 ours managed / kernel floor".to_owned(), m.median, floor)];
    for (v, what) in [
        (Variant::Shell, "via /bin/sh -c"),
        (Variant::Argv0, "MAC in argv[0]"),
    ] {
        if let Some(r) = l.row(v) {
            let name = format!("1 ours managed {what} / direct exec");
            versus.push((name, r.stats.latency_us.median, m.median));
        }
    }
    for (name, ours, reference) in versus {
        rows.push(row(
            &name,
            ms(ours),
            ms(reference),
            ratio(ours, reference),
            "info",
            None,
        ));
    }
    for r in l.rows.iter().filter(|r| r.variant != Variant::Qbh) {
        let rss = r.stats.maxrss_kib.median;
        let (target, met) = match r.variant {
            Variant::Managed | Variant::Plain => ("<= 2 MiB", Some(rss <= 2048.0)),
            _ => ("info", None),
        };
        let name = format!("2 peak RSS, {}", r.label);
        let q = qbh.maxrss_kib.median;
        rows.push(row(&name, mib(rss), mib(q), ratio(rss, q), target, met));
    }
    rows
}

fn datapath_rows((plain, managed): &(Mode, Mode), cfg: &Config) -> Vec<Row> {
    type Measure = fn(&datapath::Burst) -> f64;
    let expect = format!("{} -> 0", cfg.guests);
    // (figure, measure, decimals, unit, target)
    let table: [(&str, Measure, usize, &str, &str); 6] = [
        (
            "5 copies per unknown-unicast frame (vs unmanaged)",
            datapath::Burst::copies_per_unknown,
            2,
            "",
            &expect,
        ),
        (
            "5 deliveries per known-MAC frame",
            datapath::Burst::known_per_known,
            2,
            "",
            "1 -> 1",
        ),
        (
            "5 frames delivered to taps per frame sent",
            datapath::Burst::delivered_per_sent,
            2,
            "",
            "info",
        ),
        ("5 time to push the burst", |b| b.wall_ms, 1, " ms", "info"),
        ("5 CPU of the bench process", |b| b.cpu_ms, 1, " ms", "info"),
        (
            "5 softirq CPU, machine (10 ms ticks)",
            |b| b.softirq_ms,
            0,
            " ms",
            "info",
        ),
    ];
    let rows = table.iter().map(|(figure, measure, digits, unit, target)| {
        let (m, p) = (managed.median(measure), plain.median(measure));
        let met = match *target {
            "info" => None,
            "1 -> 1" => Some(m == 1.0 && p == 1.0),
            _ => Some(m == 0.0 && p == cfg.guests as f64),
        };
        let (ours, reference) = (format!("{m:.digits$}{unit}"), format!("{p:.digits$}{unit}"));
        row(figure, ours, reference, ratio(m, p), target, met)
    });
    rows.collect()
}

/// The summary table on stdout, and how busy the machine was with other things.
pub fn print(rows: &[Row], loads: &[Load]) {
    let w = rows.iter().map(|r| r.figure.len()).max().unwrap_or(0);
    println!(
        "\n{:w$}  {:>11}  {:>11}  {:>7}  {:>9}  result",
        "figure", "ours", "reference", "ratio", "target"
    );
    println!("{}", "-".repeat(w + 58));
    for r in rows {
        let ratio = if r.ratio.is_finite() {
            format!("{:.2}x", r.ratio)
        } else {
            "n/a".into()
        };
        let met = match r.met {
            Some(true) => "met",
            Some(false) => "NOT MET",
            None => "",
        };
        println!(
            "{:w$}  {:>11}  {:>11}  {ratio:>7}  {:>9}  {met}",
            r.figure, r.ours, r.reference, r.target
        );
    }
    println!(
        "reference: qemu-bridge-helper (1, 2, 4), port #1 on an empty bridge (3), the unmanaged \
         bridge (5);\nratio = ours / reference; 'info' rows have no target."
    );
    if let Some(worst) = loads.iter().max_by(|a, b| a.share().total_cmp(&b.share())) {
        println!(
            "CPU used outside the bench: up to {:.0}% of one CPU (phase {}){}",
            worst.share() * 100.0,
            worst.phase,
            if worst.share() > 0.2 {
                " -- other load on the machine skewed these figures"
            } else {
                ""
            }
        );
    }
}

/// `machine` is [`machine`] as it was at the start of the run.
pub fn json(r: &Results, rows: &[Row], cfg: &Config, machine: Value, seconds: f64) -> Value {
    let summary: Vec<Value> = (rows.iter())
        .map(|r| {
            json!({"figure": r.figure, "ours": r.ours, "reference": r.reference,
                        "ratio": r.ratio, "target": r.target, "met": r.met})
        })
        .collect();
    let (co, cq) = &r.concurrent;
    json!({
        "machine": machine,
        "loadavg_at_end": loadavg(),
        "command": "cargo bench --bench helper -- [--quick] [--json PATH] [--compare LABEL=PATH]... [--no-fifo]",
        "config": cfg.json(),
        "other_cpu_per_phase": r.loads.iter().map(Load::json).collect::<Vec<_>>(),
        "run_seconds": seconds,
        "summary": summary,
        "latency": r.latency.json(),
        "scale": r.scale.json(),
        "concurrency": {"ours_managed": co.json(), "qemu_bridge_helper_plain": cq.json()},
        "datapath": {"unmanaged": r.datapath.0.json(), "managed": r.datapath.1.json()},
    })
}

/// nproc, kernel, CPU model, memory, and the two binaries.
pub fn machine() -> Value {
    let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
    let field = |text: &str, key: &str| {
        (text.lines())
            .find(|l| l.starts_with(key))
            .and_then(|l| l.split(':').nth(1))
            .map(|v| v.trim().to_owned())
    };
    let cpuinfo = read("/proc/cpuinfo");
    let qbh_version = std::process::Command::new("dpkg-query")
        .args(["-W", "-f=${Version}", "qemu-system-common"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    json!({
        "nproc": std::thread::available_parallelism().map_or(0, |n| n.get()),
        "kernel": read("/proc/sys/kernel/osrelease").trim(),
        "cpu_model": field(&cpuinfo, "model name"),
        "mem_total": field(&read("/proc/meminfo"), "MemTotal"),
        "ours": crate::setup::OURS,
        "ours_bytes": std::fs::metadata(crate::setup::OURS).map_or(0, |m| m.len()),
        "qemu_bridge_helper": crate::setup::QBH,
        "qemu_system_common_version": qbh_version,
        "floors": concat!(env!("CARGO_MANIFEST_DIR"), "/benches/floor/*.c, cc -O2 -static"),
        "loadavg_at_start": loadavg(),
    })
}

/// /proc/loadavg: other work on the machine skews every figure.
pub fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .trim()
        .to_owned()
}
