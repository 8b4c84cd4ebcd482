//! Order statistics over samples, in the unit the caller chose (µs, KiB, ...).

use serde_json::{json, Value};

/// Median, p99 and extremes of a non-empty sample set.
#[derive(Debug, Clone, Copy)]
pub struct Summary {
    pub n: usize,
    pub median: f64,
    pub p99: f64,
    pub min: f64,
    pub max: f64,
    pub mean: f64,
}

impl Summary {
    /// Panics on an empty set: every phase measures at least one sample or fails first.
    pub fn of(samples: &[f64]) -> Self {
        assert!(!samples.is_empty(), "no samples to summarize");
        let mut sorted = samples.to_vec();
        sorted.sort_by(f64::total_cmp);
        let n = sorted.len();
        Self {
            n,
            median: median_sorted(&sorted),
            p99: nearest_rank(&sorted, 0.99),
            min: sorted[0],
            max: sorted[n - 1],
            mean: sorted.iter().sum::<f64>() / n as f64,
        }
    }

    pub fn json(&self) -> Value {
        json!({
            "n": self.n, "median": self.median, "p99": self.p99,
            "min": self.min, "max": self.max, "mean": self.mean,
        })
    }
}

pub fn median(samples: &[f64]) -> f64 {
    Summary::of(samples).median
}

fn median_sorted(sorted: &[f64]) -> f64 {
    let n = sorted.len();
    if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    }
}

/// The nearest-rank percentile: the smallest sample with at least `q` of the set at or below it.
fn nearest_rank(sorted: &[f64], q: f64) -> f64 {
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// `a / b`, or NaN when the reference is zero (printed as "n/a", JSON null).
pub fn ratio(a: f64, b: f64) -> f64 {
    if b == 0.0 {
        f64::NAN
    } else {
        a / b
    }
}
