//! Embedded backend: one SQLite database file (WAL) holding the table and the queues.

mod checkpoint;
mod commit;
mod queue;
mod table;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rusqlite::{Connection, OpenFlags, OptionalExtension};

pub use queue::SqliteQueue;
pub use table::SqliteTable;

/// `items` is a rowid table with its key as a unique index: rows (a few hundred bytes to a few KiB of
/// JSON) are appended in rowid order, and only the small key entries land at random places. As a
/// WITHOUT ROWID table (the first schema) the rows themselves sat in the key's B-tree: a handful per
/// leaf, spilling to overflow pages past ~1 KB, so each write dirtied several random pages.
macro_rules! items_columns {
    () => {
        "pk TEXT NOT NULL, sk TEXT NOT NULL, gsi1pk TEXT, gsi1sk TEXT, ttl INTEGER,
    version INTEGER NOT NULL, data TEXT NOT NULL,
    PRIMARY KEY (pk, sk)"
    };
}

const SCHEMA: &str = concat!(
    "CREATE TABLE IF NOT EXISTS items (",
    items_columns!(),
    ");
CREATE INDEX IF NOT EXISTS items_gsi1 ON items (gsi1pk, gsi1sk, pk, sk) WHERE gsi1pk IS NOT NULL;
CREATE INDEX IF NOT EXISTS items_ttl ON items (ttl) WHERE ttl IS NOT NULL;
CREATE TABLE IF NOT EXISTS queues (
    name TEXT PRIMARY KEY, visibility_ms INTEGER NOT NULL, max_receives INTEGER NOT NULL, dlq TEXT);
CREATE TABLE IF NOT EXISTS queue_messages (
    id TEXT PRIMARY KEY, queue TEXT NOT NULL, body TEXT NOT NULL, sent_at INTEGER NOT NULL,
    visible_at INTEGER NOT NULL, receive_count INTEGER NOT NULL DEFAULT 0, receipt TEXT);
CREATE INDEX IF NOT EXISTS queue_messages_visible ON queue_messages (queue, visible_at);
CREATE UNIQUE INDEX IF NOT EXISTS queue_messages_receipt ON queue_messages (receipt) WHERE receipt IS NOT NULL;
",
);

pub use crate::config::Durability;

fn synchronous(durability: Durability) -> &'static str {
    match durability {
        Durability::Full => "FULL",
        Durability::Normal => "NORMAL",
    }
}

type Jobs = std::sync::mpsc::Sender<Box<dyn commit::Job>>;

/// The embedded database. Writes go to one writer thread that commits the writes of concurrent
/// callers together (group commit, see `commit.rs`); reads run on a small pool of read connections on
/// the blocking pool, which WAL lets proceed beside the writer and which see only committed data. An
/// in-memory database has a single connection, so its reads queue with the writes. Write transactions
/// begin IMMEDIATE so that another process on the same file (an operator command beside `serve`) waits
/// on the busy timeout instead of failing a read-to-write upgrade with SQLITE_BUSY.
#[derive(Clone)]
pub struct SqliteDb {
    writer: Jobs,
    readers: Option<Arc<Readers>>,
}

struct Readers {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

/// Read connections kept open between reads.
const IDLE_READERS: usize = 8;
/// The writer's page cache (negative: in KiB), so the pages of a busy batch stay in memory.
const WRITER_CACHE_KIB: i64 = -16 * 1024;
/// Reads map the database file instead of copying each page with a read syscall.
const MMAP_BYTES: i64 = 256 * 1024 * 1024;

impl Readers {
    fn take(&self) -> rusqlite::Result<Connection> {
        if let Some(c) = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop() {
            return Ok(c);
        }
        let conn = Connection::open_with_flags(&self.path, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.pragma_update(None, "mmap_size", MMAP_BYTES)?;
        Ok(conn)
    }

    fn give_back(&self, conn: Connection) {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() < IDLE_READERS {
            idle.push(conn);
        }
    }
}

/// Rewrites a first-schema `items` (WITHOUT ROWID) as the rowid table `SCHEMA` declares, in one
/// transaction; its indexes are dropped with it and `SCHEMA` creates them again.
fn migrate_items_to_rowid(conn: &Connection) -> rusqlite::Result<()> {
    let sql: Option<String> = conn.query_row("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'items'", [], |r| r.get(0)).optional()?;
    if !sql.is_some_and(|s| s.to_ascii_uppercase().contains("WITHOUT ROWID")) {
        return Ok(());
    }
    tracing::info!("rewriting the items table as a rowid table (once)");
    let rewritten = conn.execute_batch(concat!(
        "BEGIN IMMEDIATE; CREATE TABLE items_rowid (",
        items_columns!(),
        ");
         INSERT INTO items_rowid (pk, sk, gsi1pk, gsi1sk, ttl, version, data) SELECT pk, sk, gsi1pk, gsi1sk, ttl, version, data FROM items;
         DROP TABLE items;
         ALTER TABLE items_rowid RENAME TO items;
         COMMIT;"
    ));
    if rewritten.is_err() && !conn.is_autocommit() {
        let _ = conn.execute_batch("ROLLBACK");
    }
    rewritten
}

fn spawn(name: &str, f: impl FnOnce() + Send + 'static) -> rusqlite::Result<()> {
    std::thread::Builder::new().name(name.into()).spawn(f).map(drop).map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))
}

impl SqliteDb {
    /// Opens (creating if needed) the database file in WAL mode with full durability.
    pub fn open(path: &Path) -> rusqlite::Result<Self> {
        Self::open_with(path, Durability::default())
    }

    /// Opens (creating if needed) the database file in WAL mode and applies the schema.
    pub fn open_with(path: &Path, durability: Durability) -> rusqlite::Result<Self> {
        let conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", synchronous(durability))?;
        // Each job runs in a savepoint, whose statement journal would otherwise be a temporary file:
        // a write syscall per page a job touches. In memory it costs a page copy.
        conn.pragma_update(None, "temp_store", "MEMORY")?;
        conn.pragma_update(None, "cache_size", WRITER_CACHE_KIB)?;
        conn.pragma_update(None, "mmap_size", MMAP_BYTES)?;
        conn.pragma_update(None, "wal_autocheckpoint", checkpoint::BACKSTOP_PAGES)?;
        let checkpointer = Connection::open(path)?;
        checkpointer.pragma_update(None, "synchronous", synchronous(durability))?;
        let checkpoints = Arc::new(checkpoint::Checkpoints::default());
        let readers = Readers { path: path.to_path_buf(), idle: Mutex::new(Vec::new()) };
        let db = Self::init(conn, Some(Arc::new(readers)), Some(checkpoints.clone()))?;
        spawn("sqlite-checkpoint", move || checkpoint::run_checkpointer(checkpointer, checkpoints))?;
        Ok(db)
    }

    /// A private in-memory database (tests, benchmarks).
    pub fn in_memory() -> rusqlite::Result<Self> {
        Self::init(Connection::open_in_memory()?, None, None)
    }

    fn init(conn: Connection, readers: Option<Arc<Readers>>, checkpoints: Option<Arc<checkpoint::Checkpoints>>) -> rusqlite::Result<Self> {
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        migrate_items_to_rowid(&conn)?;
        conn.execute_batch(SCHEMA)?;
        // `leased` (received and not yet acknowledged or delayed by its consumer) came after the first schema.
        let has_leased: bool = conn.query_row("SELECT COUNT(*) FROM pragma_table_info('queue_messages') WHERE name = 'leased'", [], |r| r.get::<_, i64>(0).map(|n| n > 0))?;
        if !has_leased {
            conn.execute_batch("ALTER TABLE queue_messages ADD COLUMN leased INTEGER NOT NULL DEFAULT 0")?;
        }
        conn.set_prepared_statement_cache_capacity(64);
        let (tx, rx) = std::sync::mpsc::channel();
        spawn("sqlite-writer", move || commit::run_writer(conn, rx, checkpoints))?;
        Ok(Self { writer: tx, readers })
    }

    /// The journal mode (`wal` for a file, `memory` in memory).
    pub fn journal_mode(&self) -> rusqlite::Result<String> {
        match &self.readers {
            Some(readers) => readers.take()?.query_row("PRAGMA journal_mode", [], |r| r.get(0)),
            None => Ok("memory".into()),
        }
    }

    /// Runs `f` as one job of the next group commit; answers once that batch is committed.
    pub(crate) async fn write<T, E>(&self, f: impl FnOnce(&Connection) -> Result<T, E> + Send + 'static) -> Result<T, E>
    where
        T: Send + 'static,
        E: Send + 'static + From<String>,
    {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let job: Box<dyn commit::Job> = Box::new(commit::Call { f, reply });
        let sent = self.writer.send(job);
        if sent.is_err() {
            return Err(E::from("sqlite writer is gone".into()));
        }
        answer.await.map_err(|_| E::from("sqlite writer dropped the job".into()))?
    }

    /// Runs a short read-only `f` (a lookup by primary key) on a read connection in the calling task:
    /// handing it to the blocking pool would cost two thread wake-ups, more than the lookup itself, which
    /// reads pages already in memory (mapped) and never waits on the writer (WAL).
    pub(crate) async fn read_point<T, E>(&self, f: impl FnOnce(&Connection) -> Result<T, E> + Send + 'static) -> Result<T, E>
    where
        T: Send + 'static,
        E: Send + 'static + From<String>,
    {
        let Some(readers) = &self.readers else { return self.write(f).await };
        let conn = readers.take().map_err(|e| E::from(format!("sqlite read connection: {e}")))?;
        let out = f(&conn);
        readers.give_back(conn);
        out
    }

    /// Runs a read-only `f` on a read connection (committed data only).
    pub(crate) async fn read<T, E>(&self, f: impl FnOnce(&Connection) -> Result<T, E> + Send + 'static) -> Result<T, E>
    where
        T: Send + 'static,
        E: Send + 'static + From<String>,
    {
        let Some(readers) = self.readers.clone() else { return self.write(f).await };
        tokio::task::spawn_blocking(move || {
            let conn = readers.take().map_err(|e| E::from(format!("sqlite read connection: {e}")))?;
            let out = f(&conn);
            readers.give_back(conn);
            out
        })
        .await
        .map_err(|e| E::from(format!("sqlite task failed: {e}")))?
    }
}

/// A fresh directory under the system's temp dir for a test's database file (`<dir>/db.sqlite`).
#[cfg(test)]
fn scratch_db(purpose: &str) -> (PathBuf, PathBuf) {
    let dir = std::env::temp_dir().join(format!("webtrigger-{purpose}-{}", ulid::Ulid::new()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("db.sqlite");
    (dir, path)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::SqliteDb;
    use crate::adapters::sqlite::SqliteTable;
    use crate::ports::{Key, Query, SystemClock, Table};

    #[tokio::test]
    async fn a_first_schema_database_is_rewritten_with_its_items_kept() {
        let (dir, path) = super::scratch_db("migrate");
        {
            let old = rusqlite::Connection::open(&path).unwrap();
            old.execute_batch(
                "CREATE TABLE items (pk TEXT NOT NULL, sk TEXT NOT NULL, gsi1pk TEXT, gsi1sk TEXT, ttl INTEGER,
                     version INTEGER NOT NULL, data TEXT NOT NULL, PRIMARY KEY (pk, sk)) WITHOUT ROWID;
                 CREATE INDEX items_gsi1 ON items (gsi1pk, gsi1sk, pk, sk) WHERE gsi1pk IS NOT NULL;
                 INSERT INTO items VALUES ('WS#1', 'SITE#a', 'IDX', '1', NULL, 3, '{\"name\":\"Shop\"}');",
            )
            .unwrap();
        }
        let db = SqliteDb::open(&path).unwrap();
        let table = SqliteTable::new(db.clone(), Arc::new(SystemClock));
        let item = table.get(&Key::new("WS#1", "SITE#a")).await.unwrap().expect("kept");
        assert_eq!((item.version, item.attrs["name"].as_str()), (3, Some("Shop")));
        assert_eq!(table.query(Query::gsi1("IDX")).await.unwrap().items.len(), 1, "the index is there again");
        drop((table, db));
        let check = rusqlite::Connection::open(&path).unwrap();
        let sql: String = check.query_row("SELECT sql FROM sqlite_master WHERE name = 'items'", [], |r| r.get(0)).unwrap();
        assert!(!sql.to_ascii_uppercase().contains("WITHOUT ROWID"), "{sql}");
        let leftovers: i64 = check.query_row("SELECT COUNT(*) FROM sqlite_master WHERE name = 'items_rowid'", [], |r| r.get(0)).unwrap();
        assert_eq!(leftovers, 0);
        drop(check);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
