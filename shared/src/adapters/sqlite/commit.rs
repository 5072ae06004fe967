//! Group commit: one writer thread owns the write connection and runs the write jobs of concurrent
//! callers together, each inside its own savepoint, under one `BEGIN IMMEDIATE … COMMIT` (so one WAL
//! append, and with `synchronous=FULL` one fsync, per batch). A caller hears its result only after
//! the batch holding its job committed, so an answer built on it (a 202) means the write is durable.
//! A job that fails rolls back to its savepoint and leaves the rest of the batch alone.

use std::sync::mpsc::Receiver;
use std::sync::Arc;

use rusqlite::Connection;

use super::checkpoint::Checkpoints;

/// Most jobs one transaction holds: bounds how long the first caller of a batch waits behind the others.
const MAX_BATCH: usize = 256;

/// A write job on its way to the writer thread.
pub(super) trait Job: Send {
    /// Runs the job inside the open transaction; the result is held until the commit.
    fn run(self: Box<Self>, conn: &Connection) -> Box<dyn Finish>;
    /// The job could not run (no transaction could be opened).
    fn fail(self: Box<Self>, error: String);
}

/// A job that ran and waits for its batch's commit.
pub(super) trait Finish: Send {
    fn finish(self: Box<Self>, committed: Result<(), String>);
}

/// A closure with the channel its caller waits on.
pub(super) struct Call<F, T, E> {
    pub f: F,
    pub reply: tokio::sync::oneshot::Sender<Result<T, E>>,
}

struct Ran<T, E> {
    result: Result<T, E>,
    reply: tokio::sync::oneshot::Sender<Result<T, E>>,
}

impl<F, T, E> Job for Call<F, T, E>
where
    F: FnOnce(&Connection) -> Result<T, E> + Send + 'static,
    T: Send + 'static,
    E: Send + 'static + From<String>,
{
    fn run(self: Box<Self>, conn: &Connection) -> Box<dyn Finish> {
        let result = match run_cached(conn, "SAVEPOINT job") {
            Err(e) => Err(E::from(format!("sqlite savepoint: {e}"))),
            Ok(()) => {
                let result = (self.f)(conn);
                // A failed job leaves no trace; the batch's other jobs keep theirs. (If the job's error
                // ended the whole transaction, the writer notices through autocommit and fails the batch.)
                if !conn.is_autocommit() {
                    let undone = if result.is_ok() { Ok(()) } else { run_cached(conn, "ROLLBACK TO job") };
                    if let Err(e) = undone.and_then(|()| run_cached(conn, "RELEASE job")) {
                        tracing::warn!(error = %e, "sqlite savepoint could not be closed");
                    }
                }
                result
            }
        };
        Box::new(Ran { result, reply: self.reply })
    }

    fn fail(self: Box<Self>, error: String) {
        let _ = self.reply.send(Err(E::from(error)));
    }
}

impl<T: Send, E: Send + From<String>> Finish for Ran<T, E> {
    fn finish(self: Box<Self>, committed: Result<(), String>) {
        let _ = self.reply.send(match committed {
            Ok(()) => self.result,
            Err(e) => Err(E::from(e)),
        });
    }
}

/// Runs one statement without parameters, parsed once per connection: the writer runs these per job.
fn run_cached(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.execute([]).map(drop)
}

/// The writer thread's loop: runs until every sender is gone. Each commit is reported to `checkpoints`.
pub(super) fn run_writer(conn: Connection, jobs: Receiver<Box<dyn Job>>, checkpoints: Option<Arc<Checkpoints>>) {
    while let Ok(first) = jobs.recv() {
        let mut next = Some(first);
        let mut waiting: Vec<Box<dyn Finish>> = Vec::new();
        let mut taken = 0;
        while let Some(job) = next.take() {
            taken += 1;
            if conn.is_autocommit() {
                if let Err(e) = run_cached(&conn, "BEGIN IMMEDIATE") {
                    job.fail(format!("sqlite begin: {e}"));
                    next = more(&jobs, taken);
                    continue;
                }
            }
            waiting.push(job.run(&conn));
            if conn.is_autocommit() {
                // The job's error rolled the whole transaction back: the batch so far is lost.
                for w in waiting.drain(..) {
                    w.finish(Err("sqlite transaction rolled back by an error; retry".into()));
                }
            }
            next = more(&jobs, taken);
        }
        let committed = if conn.is_autocommit() {
            Ok(())
        } else {
            run_cached(&conn, "COMMIT").map_err(|e| {
                let _ = conn.execute_batch("ROLLBACK");
                format!("sqlite commit: {e}")
            })
        };
        if let (Ok(()), Some(c)) = (&committed, &checkpoints) {
            c.committed();
        }
        for w in waiting {
            w.finish(committed.clone());
        }
    }
    if let Some(c) = checkpoints {
        c.close();
    }
}

/// The next job already waiting, if the batch has room.
fn more(jobs: &Receiver<Box<dyn Job>>, taken: usize) -> Option<Box<dyn Job>> {
    if taken >= MAX_BATCH {
        return None;
    }
    // Empty or disconnected: the batch ends here (a disconnect ends the loop at the next `recv`).
    jobs.try_recv().ok()
}
