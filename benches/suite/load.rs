//! CPU accounting: this process, its reaped children, and the whole machine (/proc/stat),
//! so that each phase can say how much CPU went to something other than the bench.

use std::time::Instant;

use serde_json::{json, Value};

/// CPU time of `who` (RUSAGE_SELF or RUSAGE_CHILDREN), ms.
fn rusage_ms(who: libc::c_int) -> Result<f64, String> {
    // SAFETY: rusage is plain old data; all-zero is a valid value for getrusage to overwrite.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `usage` is valid and writable for the call.
    if unsafe { libc::getrusage(who, &mut usage) } != 0 {
        return Err(format!("getrusage: {}", std::io::Error::last_os_error()));
    }
    let ms = |t: libc::timeval| t.tv_sec as f64 * 1e3 + t.tv_usec as f64 / 1e3;
    Ok(ms(usage.ru_utime) + ms(usage.ru_stime))
}

/// This process's CPU time, ms (includes the softirq work done on its syscalls' way out).
pub fn self_cpu_ms() -> Result<f64, String> {
    rusage_ms(libc::RUSAGE_SELF)
}

/// The `cpu` line of /proc/stat (all CPUs), in ms: USER_HZ is 100, so 10 ms ticks.
fn proc_stat() -> Result<Vec<f64>, String> {
    let stat = std::fs::read_to_string("/proc/stat").map_err(|e| format!("/proc/stat: {e}"))?;
    let line = stat.lines().next().unwrap_or_default();
    let fields: Vec<f64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|f| f.parse().ok())
        .collect();
    if fields.len() < 8 {
        return Err(format!("/proc/stat: {line:?}"));
    }
    Ok(fields.iter().map(|ticks| ticks * 10.0).collect())
}

/// Machine-wide softirq time so far, ms.
pub fn softirq_ms() -> Result<f64, String> {
    Ok(proc_stat()?[6])
}

/// Machine-wide busy time so far, ms: user, nice, system, irq, softirq, steal.
fn busy_ms() -> Result<f64, String> {
    let f = proc_stat()?;
    Ok(f[0] + f[1] + f[2] + f[5] + f[6] + f[7])
}

/// Started at the beginning of a phase.
pub struct Meter {
    start: Instant,
    busy: f64,
    ours: f64,
}

/// CPU the machine spent during a phase that was neither this process nor its children:
/// other work on the machine, or kernel threads (e.g. freeing deleted taps).
#[derive(Debug, Clone)]
pub struct Load {
    pub phase: &'static str,
    pub wall_s: f64,
    pub others_ms: f64,
}

impl Meter {
    pub fn start() -> Result<Self, String> {
        let ours = self_cpu_ms()? + rusage_ms(libc::RUSAGE_CHILDREN)?;
        Ok(Self {
            start: Instant::now(),
            busy: busy_ms()?,
            ours,
        })
    }

    pub fn stop(self, phase: &'static str) -> Result<Load, String> {
        let ours = self_cpu_ms()? + rusage_ms(libc::RUSAGE_CHILDREN)? - self.ours;
        let busy = busy_ms()? - self.busy;
        let wall_s = self.start.elapsed().as_secs_f64();
        Ok(Load {
            phase,
            wall_s,
            others_ms: (busy - ours).max(0.0),
        })
    }
}

impl Load {
    /// Other CPU as a share of one CPU over the phase.
    pub fn share(&self) -> f64 {
        self.others_ms / (self.wall_s * 1e3)
    }

    pub fn print(&self) {
        let pct = self.share() * 100.0;
        println!(
            "    CPU outside the bench during this phase: {:.0} ms in {:.1} s ({pct:.0}% of one CPU){}",
            self.others_ms,
            self.wall_s,
            if pct > 20.0 {
                " -- WARNING: other load, figures are skewed"
            } else {
                ""
            }
        );
    }

    pub fn json(&self) -> Value {
        json!({"phase": self.phase, "wall_s": self.wall_s, "other_cpu_ms": self.others_ms,
               "other_cpu_share_of_one_cpu": self.share()})
    }
}
