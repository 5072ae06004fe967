//! The benches' one report line for a set of latency samples.

use std::time::Duration;

/// Prints `name`, the sample count, p50 / p99 / mean, and the rate one task sustained.
pub fn report(name: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let n = samples.len();
    let total: Duration = samples.iter().sum();
    let pct = |p: f64| samples[((n as f64 * p) as usize).min(n - 1)];
    println!(
        "{name:<48} n={n:>6}  p50 {:>8.1} µs  p99 {:>8.1} µs  mean {:>8.1} µs  ({:>8.0}/s on one task)",
        pct(0.50).as_secs_f64() * 1e6,
        pct(0.99).as_secs_f64() * 1e6,
        total.as_secs_f64() * 1e6 / n as f64,
        n as f64 / total.as_secs_f64()
    );
}
