//! Runs the phases in order, saying what each measures and printing its details.

use crate::calls::{self, Bench, Burst, Latency, Variant};
use crate::datapath::{self, Mode};
use crate::load::{Load, Meter};
use crate::report::Results;
use crate::scale::{self, Scale, Side};

pub fn run_all(b: &Bench) -> Result<Results, String> {
    let mut loads = Vec::new();
    let latency = phase(&mut loads, "latency", || phase_latency(b))?;
    let scale = phase(&mut loads, "scale", || phase_scale(b))?;
    let concurrent = phase(&mut loads, "concurrency", || phase_concurrency(b))?;
    let datapath = phase(&mut loads, "datapath", || phase_datapath(b))?;
    Ok(Results {
        latency,
        scale,
        concurrent,
        datapath,
        loads,
    })
}

/// Runs one phase and says how much CPU went elsewhere meanwhile.
fn phase<T>(
    loads: &mut Vec<Load>,
    name: &'static str,
    run: impl FnOnce() -> Result<T, String>,
) -> Result<T, String> {
    let meter = Meter::start()?;
    let result = run()?;
    let load = meter.stop(name)?;
    load.print();
    loads.push(load);
    Ok(result)
}

fn phase_latency(b: &Bench) -> Result<Latency, String> {
    let cfg = b.cfg;
    println!(
        "\n[1-2] latency and peak RSS: {} calls per variant (+{} warm-up), variants interleaved, in a \
         new random\n      order each iteration. A call = socketpair, fork, become uid {} (no groups), \
         exec a setuid-root\n      copy with `--use-vnet --fd=N --br=BR [--mac=M]` (only fd N \
         inherited), recvmsg of the tap fd,\n      wait4 (ru_maxrss = peak RSS). Taps stay open for a \
         round of {} iterations and are closed,\n      untimed, between rounds. {}.",
        cfg.latency_calls,
        cfg.warmup,
        b.bins.caller.0,
        cfg.round,
        if cfg.fifo {
            "Bench and children at SCHED_FIFO 1, so that other load cannot preempt a call"
        } else {
            "Normal scheduling (--no-fifo)"
        }
    );
    let latency = calls::latency(b)?;
    print_latency(&latency);
    Ok(latency)
}

fn phase_scale(b: &Bench) -> Result<Scale, String> {
    let (n, w) = (b.cfg.scale_ports, b.cfg.scale_window);
    println!(
        "\n[3] scale: ours (managed, a static entry each), then qemu-bridge-helper (plain), fill a \
         bridge\n    with {} ports (calls #1-#{0}, all kept); then {w} times, alternating: the call making \
         port #{n}\n    on the full bridge, and port #1 on an empty bridge in the same namespace (each \
         closed before\n    the next call). Ratio = median on the full bridge / median on the empty one.",
        n - 1
    );
    let scale = scale::run(b)?;
    print_scale(&scale);
    Ok(scale)
}

fn phase_concurrency(b: &Bench) -> Result<(Burst, Burst), String> {
    println!(
        "\n[4] concurrency: {} calls started at once on one bridge (ours managed with distinct \
         MACs,\n    qemu-bridge-helper plain), wall time until every fd is received and every child \
         reaped; {} reps each.",
        b.cfg.concurrent, b.cfg.concurrent_reps
    );
    let concurrent = calls::concurrency(b)?;
    for (name, burst) in [
        ("ours managed", &concurrent.0),
        ("qemu-bridge-helper", &concurrent.1),
    ] {
        println!(
            "    {name:<20} wall ms {:?}, successes {:?}",
            rounded(&burst.wall_ms),
            burst.ok
        );
        for failure in &burst.failures {
            println!("    failure: {failure}");
        }
    }
    Ok(concurrent)
}

fn phase_datapath(b: &Bench) -> Result<(Mode, Mode), String> {
    println!(
        "\n[5] datapath: per bridge a veth uplink and {} guest taps made by our helper (the ACL \
         decides\n    managed or not); {} frames per burst from the uplink's far end (AF_PACKET), 9 in \
         10 to random\n    unknown unicast MACs, 1 in 10 to guest 1's MAC; every tap drained after \
         every 128 frames.",
        b.cfg.guests, b.cfg.frames
    );
    let dp = datapath::run(b)?;
    print_datapath(&dp);
    Ok(dp)
}

fn rounded(values: &[f64]) -> Vec<f64> {
    values.iter().map(|v| (v * 10.0).round() / 10.0).collect()
}

fn print_latency(l: &Latency) {
    let floor = l.get(Variant::KernelFloor).latency_us.median;
    println!(
        "      {:<31} {:>7} {:>7} {:>7} {:>7} {:>7} {:>7} {:>10} {:>9} {:>6}",
        "variant (ms)", "median", "p99", "min", "max", "xfloor", "-floor", "peak RSS", "child CPU", "faults"
    );
    for row in &l.rows {
        let (s, ms) = (&row.stats, |us: f64| format!("{:.3}", us / 1e3));
        let t = s.latency_us;
        println!(
            "      {:<31} {:>7} {:>7} {:>7} {:>7} {:>6.2}x {:>7} {:>6} KiB {:>9} {:>6}",
            row.label,
            ms(t.median),
            ms(t.p99),
            ms(t.min),
            ms(t.max),
            t.median / floor,
            ms(t.median - floor),
            s.maxrss_kib.median,
            ms(s.cpu_us.median),
            s.minflt.median
        );
    }
    println!(
        "      (xfloor, -floor: median over / minus the kernel floor's; child CPU: user + system, \
         from wait4;\n      medians throughout)"
    );
}

fn print_scale(s: &Scale) {
    let ms = |v: &[f64]| crate::stats::median(v) / 1e3;
    let print = |name: &str, side: &Side| {
        let tenth = (side.fill.len() / 10).max(1);
        let tenths: Vec<f64> = (side.fill.chunks(tenth))
            .map(|c| (crate::stats::median(c) / 10.0).round() / 100.0)
            .collect();
        println!(
            "    {name}: full bridge {:.3} ms, empty bridge {:.3} ms ({:.2}x); {} static fdb entries;\n    \
             fill calls #1..#{}: last {w} / first {w} = {:.2}x, median ms per tenth {tenths:?}",
            ms(&side.full),
            ms(&side.empty),
            side.ratio(),
            side.static_entries,
            side.fill.len(),
            side.fill_ratio(s.window),
            w = s.window,
        );
    };
    print("ours managed", &s.ours);
    print("qemu-bridge-helper plain", &s.qbh);
    println!(
        "    closing {} taps took {:.1} s (untimed)",
        2 * (s.ports - 1),
        s.teardown_s
    );
}

fn print_datapath((plain, managed): &(Mode, Mode)) {
    println!(
        "    {:<10} {:>14} {:>13} {:>13} {:>14} {:>9} {:>9} {:>11}",
        "mode",
        "copies/unknown",
        "known->guest1",
        "known->others",
        "delivered/sent",
        "wall ms",
        "cpu ms",
        "softirq ms"
    );
    for (name, mode) in [("unmanaged", plain), ("managed", managed)] {
        for burst in &mode.bursts {
            println!(
                "    {:<10} {:>14.2} {:>13} {:>13} {:>14.2} {:>9.1} {:>9.1} {:>11.0}",
                name,
                burst.copies_per_unknown(),
                burst.known_right,
                burst.known_wrong,
                burst.delivered_per_sent(),
                burst.wall_ms,
                burst.cpu_ms,
                burst.softirq_ms
            );
        }
    }
}
