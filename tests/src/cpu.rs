//! CPU time read from `/proc` (Linux; zero or `None` elsewhere), for benches that report CPU beside
//! wall time: a busy machine inflates the one and not the other.

use std::time::Duration;

/// CPU time (user + system) of the whole process so far, all threads (`/proc/self/stat`, 10 ms ticks).
pub fn process_cpu() -> Duration {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else { return Duration::ZERO };
    let Some((_, rest)) = stat.rsplit_once(')') else { return Duration::ZERO };
    let ticks: u64 = rest.split_whitespace().skip(11).take(2).filter_map(|t| t.parse::<u64>().ok()).sum();
    // USER_HZ is 100 on every Linux architecture the platform builds for.
    Duration::from_millis(ticks * 10)
}

/// Time on a CPU of the task whose `schedstat` file this is (its first field, in nanoseconds).
pub fn schedstat(path: &str) -> Option<Duration> {
    let stat = std::fs::read_to_string(path).ok()?;
    stat.split_whitespace().next()?.parse().ok().map(Duration::from_nanos)
}

/// Time on a CPU of the calling thread: what a rate "per core" divides by, unaffected by waiting.
pub fn thread_cpu() -> Duration {
    schedstat("/proc/thread-self/schedstat").unwrap_or_default()
}

/// Time on a CPU of this process's thread `tid`.
pub fn task_cpu(tid: &str) -> Duration {
    schedstat(&format!("/proc/self/task/{tid}/schedstat")).unwrap_or_default()
}

/// Time on a CPU of this process's threads named `name` (e.g. `sqlite-writer`), summed.
pub fn named_threads_cpu(name: &str) -> Duration {
    let tasks = std::fs::read_dir("/proc/self/task").into_iter().flatten().flatten();
    tasks
        .filter(|t| std::fs::read_to_string(t.path().join("comm")).is_ok_and(|c| c.trim_end() == name))
        .filter_map(|t| schedstat(&t.path().join("schedstat").to_string_lossy()))
        .sum()
}

/// The process's CPU time and that of its threads named `thread`, at one moment.
#[derive(Debug, Clone, Copy, Default)]
pub struct CpuTimes {
    pub process: Duration,
    pub thread: Duration,
}

impl CpuTimes {
    pub fn now(thread: &str) -> Self {
        Self { process: process_cpu(), thread: named_threads_cpu(thread) }
    }

    /// Prints the CPU each of `calls` took since `before`, and how busy the machine's cores were over `wall`.
    pub fn report_since(&self, before: &Self, calls: usize, wall: Duration, thread: &str) {
        let per = |d: Duration| d.as_secs_f64() * 1e6 / calls as f64;
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let process = self.process.saturating_sub(before.process);
        println!(
            "{:<48} {:>7.0} µs per call (all threads, client included), {:>5.0} µs on `{thread}`; {:.2} of {cores} cores busy",
            "  → CPU",
            per(process),
            per(self.thread.saturating_sub(before.thread)),
            process.as_secs_f64() / wall.as_secs_f64()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spin(for_at_least: Duration) {
        let start = thread_cpu();
        while thread_cpu() - start < for_at_least {
            std::hint::black_box((0..1_000u64).sum::<u64>());
        }
    }

    #[test]
    fn a_busy_thread_is_found_by_name_and_counted_in_the_process() {
        let process = process_cpu();
        let (spun_tx, spun) = std::sync::mpsc::channel();
        let (exit, exit_rx) = std::sync::mpsc::channel::<()>();
        let worker = std::thread::Builder::new()
            .name("cpu-probe".into())
            .spawn(move || {
                spin(Duration::from_millis(100));
                spun_tx.send(()).unwrap();
                let _ = exit_rx.recv();
            })
            .unwrap();
        spun.recv().unwrap();
        // Read while the thread still exists (a finished thread leaves /proc/self/task).
        let seen = named_threads_cpu("cpu-probe");
        exit.send(()).unwrap();
        worker.join().unwrap();
        assert!(seen >= Duration::from_millis(100), "named thread CPU {seen:?}");
        assert!(process_cpu() - process >= Duration::from_millis(50), "process CPU grew by {:?}", process_cpu() - process);
        assert_eq!(named_threads_cpu("no-such-thread"), Duration::ZERO);
    }
}
