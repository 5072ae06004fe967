//! Embedded backend: one SQLite database file (WAL) holding the table and the queues.

mod queue;
mod table;

use std::path::Path;
use std::sync::{Arc, Mutex};

use rusqlite::Connection;

pub use queue::SqliteQueue;
pub use table::SqliteTable;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS items (
    pk TEXT NOT NULL, sk TEXT NOT NULL, gsi1pk TEXT, gsi1sk TEXT, ttl INTEGER,
    version INTEGER NOT NULL, data TEXT NOT NULL,
    PRIMARY KEY (pk, sk)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS items_gsi1 ON items (gsi1pk, gsi1sk, pk, sk) WHERE gsi1pk IS NOT NULL;
CREATE INDEX IF NOT EXISTS items_ttl ON items (ttl) WHERE ttl IS NOT NULL;
CREATE TABLE IF NOT EXISTS queues (
    name TEXT PRIMARY KEY, visibility_ms INTEGER NOT NULL, max_receives INTEGER NOT NULL, dlq TEXT);
CREATE TABLE IF NOT EXISTS queue_messages (
    id TEXT PRIMARY KEY, queue TEXT NOT NULL, body TEXT NOT NULL, sent_at INTEGER NOT NULL,
    visible_at INTEGER NOT NULL, receive_count INTEGER NOT NULL DEFAULT 0, receipt TEXT);
CREATE INDEX IF NOT EXISTS queue_messages_visible ON queue_messages (queue, visible_at);
CREATE UNIQUE INDEX IF NOT EXISTS queue_messages_receipt ON queue_messages (receipt) WHERE receipt IS NOT NULL;
";

/// A shared SQLite connection. Writes are serialised by the mutex (SQLite allows one writer anyway);
/// every call runs on the blocking pool so the async runtime never waits on disk. Write transactions
/// begin IMMEDIATE so that another process on the same file (an operator command beside `serve`) waits
/// on the busy timeout instead of failing a read-to-write upgrade with SQLITE_BUSY.
#[derive(Clone)]
pub struct SqliteDb {
    conn: Arc<Mutex<Connection>>,
}

impl SqliteDb {
    /// Opens (creating if needed) the database file in WAL mode and applies the schema.
    pub fn open(path: &Path) -> rusqlite::Result<Self> {
        let conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        Self::init(conn)
    }

    /// A private in-memory database (tests, benchmarks).
    pub fn in_memory() -> rusqlite::Result<Self> {
        Self::init(Connection::open_in_memory()?)
    }

    fn init(conn: Connection) -> rusqlite::Result<Self> {
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.execute_batch(SCHEMA)?;
        // `leased` (received and not yet acknowledged or delayed by its consumer) came after the first schema.
        let has_leased: bool = conn.query_row("SELECT COUNT(*) FROM pragma_table_info('queue_messages') WHERE name = 'leased'", [], |r| r.get::<_, i64>(0).map(|n| n > 0))?;
        if !has_leased {
            conn.execute_batch("ALTER TABLE queue_messages ADD COLUMN leased INTEGER NOT NULL DEFAULT 0")?;
        }
        Ok(Self { conn: Arc::new(Mutex::new(conn)) })
    }

    pub fn journal_mode(&self) -> rusqlite::Result<String> {
        let conn = self.conn.lock().expect("sqlite lock");
        conn.query_row("PRAGMA journal_mode", [], |r| r.get(0))
    }

    pub(crate) async fn call<T, E>(&self, f: impl FnOnce(&mut Connection) -> Result<T, E> + Send + 'static) -> Result<T, E>
    where
        T: Send + 'static,
        E: Send + 'static + From<String>,
    {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            let mut guard = conn.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            f(&mut guard)
        })
        .await
        .map_err(|e| E::from(format!("sqlite task failed: {e}")))?
    }
}
