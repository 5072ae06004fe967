//! `SqliteQueue`: the `Queue` port on SQLite with SQS semantics (visibility timeout, receive count,
//! redrive to `<name>-dlq` after `max_receives`). Long polling wakes on local sends.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use rusqlite::{params, OptionalExtension};
use tokio::sync::Notify;

use super::SqliteDb;
use crate::ports::queue::check_send;
use crate::ports::table::check_transaction;
use crate::ports::{Clock, Delivery, OutgoingMessage, Queue, QueueError, QueueSpec, TableError, TransactAndSend, TxWrite};

pub struct SqliteQueue {
    db: SqliteDb,
    clock: Arc<dyn Clock>,
    /// One wake-up signal per queue, so a send wakes only that queue's consumers rather than every
    /// consumer in the process (each of which would take the write lock to find nothing).
    signals: std::sync::Mutex<std::collections::HashMap<String, Arc<Notify>>>,
}

impl SqliteQueue {
    pub fn new(db: SqliteDb, clock: Arc<dyn Clock>) -> Self {
        Self { db, clock, signals: Default::default() }
    }

    fn signal(&self, queue: &str) -> Arc<Notify> {
        let mut signals = self.signals.lock().unwrap_or_else(|e| e.into_inner());
        signals.entry(queue.to_owned()).or_default().clone()
    }
}

impl From<String> for QueueError {
    fn from(s: String) -> Self {
        QueueError::Unavailable(s)
    }
}

fn db_err(e: rusqlite::Error) -> QueueError {
    QueueError::Unavailable(e.to_string())
}

struct QueueRow {
    visibility_ms: i64,
    max_receives: u32,
    dlq: Option<String>,
}

fn insert_messages(c: &rusqlite::Connection, queue: &str, ids: &[String], messages: &[OutgoingMessage], now: i64) -> Result<(), QueueError> {
    queue_row(c, queue)?;
    let mut insert = c.prepare_cached("INSERT INTO queue_messages (id, queue, body, sent_at, visible_at) VALUES (?1, ?2, ?3, ?4, ?5)").map_err(db_err)?;
    for (id, m) in ids.iter().zip(messages) {
        insert.execute(params![id, queue, m.body, now, now + m.delay.as_millis() as i64]).map_err(db_err)?;
    }
    Ok(())
}

fn queue_row(c: &rusqlite::Connection, name: &str) -> Result<QueueRow, QueueError> {
    c.prepare_cached("SELECT visibility_ms, max_receives, dlq FROM queues WHERE name = ?1")
        .and_then(|mut stmt| stmt.query_row([name], |r| Ok(QueueRow { visibility_ms: r.get(0)?, max_receives: r.get(1)?, dlq: r.get(2)? })).optional())
        .map_err(db_err)?
    .ok_or_else(|| QueueError::UnknownQueue(name.to_owned()))
}

fn check_name(name: &str) -> Result<(), QueueError> {
    let ok = !name.is_empty() && name.len() <= 70 && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if ok { Ok(()) } else { Err(QueueError::Invalid(format!("bad queue name `{name}`"))) }
}

impl SqliteQueue {
    /// Makes every received-but-unacknowledged message visible again, keeping its receive count. Only
    /// for the start of the one process that owns the database: whoever received them is dead.
    /// A message whose visibility a consumer changed (a retry delay) keeps its delay.
    pub async fn release_in_flight(&self) -> Result<usize, QueueError> {
        let now = self.clock.now().timestamp_millis();
        self.db
            .write(move |c| {
                c.execute("UPDATE queue_messages SET visible_at = ?1, receipt = NULL, leased = 0 WHERE leased = 1 AND visible_at > ?1", [now]).map_err(db_err)
            })
            .await
    }

    async fn receive_now(&self, queue: &str, max: usize) -> Result<Vec<Delivery>, QueueError> {
        let queue = queue.to_owned();
        let now = self.clock.now().timestamp_millis();
        let receipt_seed = self.clock.new_id().to_string();
        // An idle consumer polls often: look on a read connection before queueing for the writer.
        let (q, look) = (queue.clone(), now);
        let any_visible = self
            .db
            .read(move |c| {
                queue_row(c, &q)?;
                c.prepare_cached("SELECT EXISTS (SELECT 1 FROM queue_messages WHERE queue = ?1 AND visible_at <= ?2)")
                    .and_then(|mut stmt| stmt.query_row(params![q, look], |r| r.get::<_, bool>(0)))
                    .map_err(db_err)
            })
            .await?;
        if !any_visible {
            return Ok(Vec::new());
        }
        self.db
            .write(move |tx| {
                let q = queue_row(tx, &queue)?;
                let candidates: Vec<(String, String, i64, u32)> = {
                    let mut stmt = tx
                        .prepare_cached(
                            "SELECT id, body, sent_at, receive_count FROM queue_messages
                             WHERE queue = ?1 AND visible_at <= ?2 ORDER BY visible_at, id LIMIT ?3",
                        )
                        .map_err(db_err)?;
                    let rows = stmt
                        .query_map(params![queue, now, (max * 4) as i64], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
                        .map_err(db_err)?;
                    rows.collect::<rusqlite::Result<_>>().map_err(db_err)?
                };
                let mut out = Vec::new();
                for (n, (id, body, sent_at, count)) in candidates.into_iter().enumerate() {
                    if count >= q.max_receives {
                        if let Some(dlq) = &q.dlq {
                            tx.execute(
                                "UPDATE queue_messages SET queue = ?1, receive_count = 0, visible_at = ?2, receipt = NULL, leased = 0 WHERE id = ?3",
                                params![dlq, now, id],
                            )
                            .map_err(db_err)?;
                            continue;
                        }
                    }
                    if out.len() == max {
                        break;
                    }
                    let receipt = format!("{receipt_seed}-{n}");
                    tx.execute(
                        "UPDATE queue_messages SET receive_count = receive_count + 1, visible_at = ?1, receipt = ?2, leased = 1 WHERE id = ?3",
                        params![now + q.visibility_ms, receipt, id],
                    )
                    .map_err(db_err)?;
                    out.push(Delivery { message_id: id, receipt_handle: receipt, body, receive_count: count + 1, sent_at_ms: sent_at });
                }
                Ok(out)
            })
            .await
    }
}

#[async_trait]
impl Queue for SqliteQueue {
    async fn ensure(&self, spec: &QueueSpec) -> Result<(), QueueError> {
        check_name(&spec.name)?;
        if spec.max_receives == 0 {
            return Err(QueueError::Invalid("max_receives must be at least 1".into()));
        }
        let spec = spec.clone();
        self.db
            .write(move |c| {
                let dlq = spec.dlq_name();
                c.execute(
                    "INSERT INTO queues (name, visibility_ms, max_receives, dlq) VALUES (?1, ?2, ?3, NULL)
                     ON CONFLICT (name) DO NOTHING",
                    params![dlq, spec.visibility_timeout.as_millis() as i64, u32::MAX],
                )
                .map_err(db_err)?;
                c.execute(
                    "INSERT INTO queues (name, visibility_ms, max_receives, dlq) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (name) DO UPDATE SET visibility_ms = excluded.visibility_ms,
                        max_receives = excluded.max_receives, dlq = excluded.dlq",
                    params![spec.name, spec.visibility_timeout.as_millis() as i64, spec.max_receives, dlq],
                )
                .map_err(db_err)?;
                Ok(())
            })
            .await
    }

    async fn send(&self, queue: &str, messages: Vec<OutgoingMessage>) -> Result<Vec<String>, QueueError> {
        check_send(&messages)?;
        let signal = self.signal(queue);
        let queue = queue.to_owned();
        let now = self.clock.now().timestamp_millis();
        let ids: Vec<String> = messages.iter().map(|_| self.clock.new_id().to_string()).collect();
        let out = ids.clone();
        self.db.write(move |c| insert_messages(c, &queue, &ids, &messages, now)).await?;
        signal.notify_waiters();
        Ok(out)
    }

    async fn receive(&self, queue: &str, max: usize, wait: Duration) -> Result<Vec<Delivery>, QueueError> {
        if max == 0 || max > crate::ports::queue::MAX_BATCH {
            return Err(QueueError::Invalid("receive takes 1..=10 messages".into()));
        }
        let deadline = tokio::time::Instant::now() + wait;
        let signal = self.signal(queue);
        loop {
            let notified = signal.notified();
            let got = self.receive_now(queue, max).await?;
            let now = tokio::time::Instant::now();
            if !got.is_empty() || now >= deadline {
                return Ok(got);
            }
            // Wake on a local send, or poll again for delayed/timed-out messages becoming visible.
            let nap = (deadline - now).min(Duration::from_millis(100));
            let _ = tokio::time::timeout(nap, notified).await;
        }
    }

    async fn ack(&self, queue: &str, receipt_handle: &str) -> Result<(), QueueError> {
        let (queue, receipt) = (queue.to_owned(), receipt_handle.to_owned());
        self.db
            .write(move |c| {
                queue_row(c, &queue)?;
                c.prepare_cached("DELETE FROM queue_messages WHERE queue = ?1 AND receipt = ?2").and_then(|mut stmt| stmt.execute(params![queue, receipt])).map_err(db_err)?;
                Ok(())
            })
            .await
    }

    async fn retry_after(&self, queue: &str, receipt_handle: &str, delay: Duration) -> Result<(), QueueError> {
        if delay > Duration::from_secs(12 * 3600) {
            return Err(QueueError::Invalid("visibility timeout exceeds 12 hours".into()));
        }
        let signal = self.signal(queue);
        let (queue, receipt) = (queue.to_owned(), receipt_handle.to_owned());
        let visible_at = self.clock.now().timestamp_millis() + delay.as_millis() as i64;
        let changed = self
            .db
            .write(move |c| {
                queue_row(c, &queue)?;
                c.execute(
                    "UPDATE queue_messages SET visible_at = ?1, leased = 0 WHERE queue = ?2 AND receipt = ?3",
                    params![visible_at, queue, receipt],
                )
                .map_err(db_err)
            })
            .await?;
        if changed == 0 {
            return Err(QueueError::StaleReceipt);
        }
        signal.notify_waiters();
        Ok(())
    }

    async fn depth(&self, queue: &str) -> Result<u64, QueueError> {
        let queue = queue.to_owned();
        self.db
            .read(move |c| {
                queue_row(c, &queue)?;
                c.query_row("SELECT COUNT(*) FROM queue_messages WHERE queue = ?1", [queue], |r| r.get::<_, i64>(0))
                    .map(|n| n as u64)
                    .map_err(db_err)
            })
            .await
    }
}

/// The table's transaction and the sends run in one writer job, so they share a savepoint and a commit.
#[async_trait]
impl TransactAndSend for SqliteQueue {
    async fn transact_and_send(&self, writes: Vec<TxWrite>, queue: &str, messages: Vec<OutgoingMessage>) -> Result<(), TableError> {
        check_transaction(&writes)?;
        let encoded = super::table::encode_puts(&writes)?;
        for batch in messages.chunks(crate::ports::queue::MAX_BATCH) {
            check_send(batch).map_err(|e| TableError::Invalid(e.to_string()))?;
        }
        let signal = self.signal(queue);
        let queue = queue.to_owned();
        let now = self.clock.now();
        let ids: Vec<String> = messages.iter().map(|_| self.clock.new_id().to_string()).collect();
        self.db
            .write(move |c| {
                super::table::transact_in(c, &writes, &encoded, now.timestamp())?;
                insert_messages(c, &queue, &ids, &messages, now.timestamp_millis()).map_err(|e| TableError::Unavailable(e.to_string()))
            })
            .await?;
        signal.notify_waiters();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::SqliteQueue;
    use crate::adapters::sqlite::{SqliteDb, SqliteTable};
    use crate::ports::{Condition, Item, Key, OutgoingMessage, Queue, QueueSpec, SystemClock, Table, TableError, TransactAndSend, TxWrite};

    #[tokio::test]
    async fn the_transaction_and_its_sends_commit_together_or_not_at_all() {
        let db = SqliteDb::in_memory().unwrap();
        let (table, queue) = (SqliteTable::new(db.clone(), Arc::new(SystemClock)), SqliteQueue::new(db, Arc::new(SystemClock)));
        queue.ensure(&QueueSpec::new("jobs", Duration::from_secs(30), 3)).await.unwrap();
        let record = || TxWrite::Put { item: Item::new(Key::new("N#1", "RECORD")), condition: Condition::NotExists };
        let messages = |n: usize| (0..n).map(|i| OutgoingMessage::new(format!("job {i}"))).collect::<Vec<_>>();

        queue.transact_and_send(vec![record()], "jobs", messages(12)).await.unwrap();
        assert!(table.get(&Key::new("N#1", "RECORD")).await.unwrap().is_some());
        let mut received = queue.receive("jobs", 10, Duration::ZERO).await.unwrap().len();
        received += queue.receive("jobs", 10, Duration::ZERO).await.unwrap().len();
        assert_eq!(received, 12, "more sends than one SQS batch holds, all in the same commit");

        // A refused condition queues nothing; an oversized message writes nothing.
        assert_eq!(queue.transact_and_send(vec![record()], "jobs", messages(3)).await, Err(TableError::TransactionCancelled { index: 0 }));
        let other = TxWrite::Put { item: Item::new(Key::new("N#2", "RECORD")), condition: Condition::NotExists };
        let huge = vec![OutgoingMessage::new("x".repeat(256 * 1024 + 1))];
        assert!(matches!(queue.transact_and_send(vec![other], "jobs", huge).await, Err(TableError::Invalid(_))));
        assert!(table.get(&Key::new("N#2", "RECORD")).await.unwrap().is_none());
        assert!(queue.receive("jobs", 10, Duration::ZERO).await.unwrap().is_empty());
    }
}
