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

/// CPU time this process's threads have used (user + system), read from `/proc`: all threads, and
/// those whose name is `thread` (e.g. `sqlite-writer`). Linux only; zero elsewhere.
#[derive(Debug, Clone, Copy, Default)]
pub struct CpuTimes {
    pub process: Duration,
    pub thread: Duration,
}

impl CpuTimes {
    pub fn now(thread: &str) -> Self {
        let named = std::fs::read_dir("/proc/self/task")
            .into_iter()
            .flatten()
            .flatten()
            .filter(|t| std::fs::read_to_string(t.path().join("comm")).is_ok_and(|c| c.trim_end() == thread))
            .map(|t| stat_cpu(&t.path().join("stat")))
            .sum();
        Self { process: stat_cpu(std::path::Path::new("/proc/self/stat")), thread: named }
    }

    /// Prints the CPU each of `calls` took since `before`, and how busy the machine's cores were over `wall`.
    pub fn report_since(&self, before: &Self, calls: usize, wall: Duration, thread: &str) {
        let per = |d: Duration| d.as_secs_f64() * 1e6 / calls as f64;
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        println!(
            "{:<48} {:>7.0} µs per call (all threads, client included), {:>5.0} µs on `{thread}`; {:.2} of {cores} cores busy",
            "  → CPU",
            per(self.process.saturating_sub(before.process)),
            per(self.thread.saturating_sub(before.thread)),
            self.process.saturating_sub(before.process).as_secs_f64() / wall.as_secs_f64()
        );
    }
}

/// utime + stime of a `/proc/…/stat` file (the fields after the parenthesised command name).
fn stat_cpu(path: &std::path::Path) -> Duration {
    let Ok(stat) = std::fs::read_to_string(path) else { return Duration::ZERO };
    let Some((_, rest)) = stat.rsplit_once(')') else { return Duration::ZERO };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = [11, 12].iter().filter_map(|&i| fields.get(i)?.parse::<u64>().ok()).sum();
    // USER_HZ is 100 on every Linux architecture the platform builds for.
    Duration::from_millis(ticks * 10)
}

/// Time the calling thread has spent on a CPU, in nanoseconds (`/proc/thread-self/schedstat`, Linux):
/// what a rate "per core" divides by, unaffected by the thread waiting or being preempted.
pub fn thread_cpu() -> Duration {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .map_or(Duration::ZERO, Duration::from_nanos)
}
