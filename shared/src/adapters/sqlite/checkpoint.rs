//! WAL checkpoints off the commit path. A checkpoint copies committed pages from the WAL into the
//! database file and fsyncs it; run as the writer's auto-checkpoint it lands inside one batch's commit,
//! and every caller of that batch waits for it (the tail of the ingest latency). A thread of its own runs
//! PASSIVE checkpoints instead, which never block the writer: woken by commits, at most once per
//! `INTERVAL`. The writer keeps an auto-checkpoint at `BACKSTOP_PAGES` in case this thread falls behind.

use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use rusqlite::Connection;

/// WAL pages (4 KiB) after which the writer checkpoints by itself: far above what the thread lets pile up.
pub(super) const BACKSTOP_PAGES: i64 = 16_384;
/// Least time between two background checkpoints, so a busy writer's commits share one.
const INTERVAL: Duration = Duration::from_millis(100);

/// What the writer tells the checkpoint thread.
#[derive(Default)]
pub(super) struct Checkpoints {
    state: Mutex<State>,
    wake: Condvar,
}

#[derive(Default)]
struct State {
    /// Commits since the last checkpoint began.
    commits: u64,
    /// The writer is gone: the thread ends (closing its connection checkpoints what is left).
    closed: bool,
}

impl Checkpoints {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A write transaction committed.
    pub(super) fn committed(&self) {
        self.lock().commits += 1;
        self.wake.notify_one();
    }

    /// The writer stopped.
    pub(super) fn close(&self) {
        self.lock().closed = true;
        self.wake.notify_one();
    }
}

/// The checkpoint thread's loop, on its own read-write connection to the database file.
pub(super) fn run_checkpointer(conn: Connection, checkpoints: Arc<Checkpoints>) {
    loop {
        {
            let mut state = checkpoints.lock();
            while state.commits == 0 && !state.closed {
                state = checkpoints.wake.wait(state).unwrap_or_else(|e| e.into_inner());
            }
            if state.closed {
                return;
            }
            state.commits = 0;
        }
        // (busy, frames in the WAL, frames checkpointed); a PASSIVE checkpoint that could not copy
        // everything (a reader still uses old frames) simply continues at the next one.
        match conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?, r.get::<_, i64>(2)?))) {
            Ok((_, frames, copied)) => tracing::trace!(frames, copied, "wal checkpoint"),
            Err(e) => tracing::warn!(error = %e, "wal checkpoint failed"),
        }
        let deadline = Instant::now() + INTERVAL;
        let mut state = checkpoints.lock();
        while !state.closed {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            state = checkpoints.wake.wait_timeout(state, left).unwrap_or_else(|e| e.into_inner()).0;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use crate::adapters::sqlite::SqliteDb;

    #[tokio::test]
    async fn committed_pages_reach_the_database_file_without_the_writer_checkpointing() {
        let (dir, path) = super::super::scratch_db("checkpoint");
        let db = SqliteDb::open(&path).unwrap();
        let initial = std::fs::metadata(&path).unwrap().len();
        // ~2 MiB: far below the writer's own auto-checkpoint (`BACKSTOP_PAGES`), so only the thread copies it.
        for batch in 0..20 {
            db.write(move |c| {
                for i in 0..100 {
                    c.execute("INSERT INTO queues (name, visibility_ms, max_receives, dlq) VALUES (?1, 1, 1, ?2)", rusqlite::params![format!("q{batch}-{i}"), "x".repeat(1024)]).map_err(|e| e.to_string())?;
                }
                Ok::<_, String>(())
            })
            .await
            .unwrap();
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::fs::metadata(&path).unwrap().len() < initial + 1_500_000 {
            assert!(Instant::now() < deadline, "the database file never received the WAL's pages");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let rows: i64 = db.read(|c| c.query_row("SELECT COUNT(*) FROM queues", [], |r| r.get(0)).map_err(|e| e.to_string())).await.unwrap();
        assert_eq!(rows, 2_000);
        drop(db);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
