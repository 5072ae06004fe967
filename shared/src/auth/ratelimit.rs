//! Token buckets. A bucket refills continuously at `per_second` up to `capacity`. Where buckets live is
//! the `Buckets` port: on AWS in the table (`TableBuckets`), so limits hold across Lambda instances; on
//! the embedded backend in memory (`MemoryBuckets`), since one process serves everything there and a
//! bucket write per request would cost a database commit on every call. A restart refills them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::ports::{Condition, Item, Key, Table, TableError};

/// Where the request limits' token buckets are kept.
#[async_trait]
pub trait Buckets: Send + Sync {
    /// Takes one token, or answers `Err(retry_after)` when the bucket is empty.
    async fn take(&self, name: &str, limit: Limit, now_ms: i64) -> Result<Result<(), Duration>, TableError>;
    /// `Err(retry_after)` if the bucket holds less than one token, without taking one.
    async fn check(&self, name: &str, limit: Limit, now_ms: i64) -> Result<Result<(), Duration>, TableError>;
}

/// Buckets as table items, shared by every process on the table.
pub struct TableBuckets(pub Arc<dyn Table>);

#[async_trait]
impl Buckets for TableBuckets {
    async fn take(&self, name: &str, limit: Limit, now_ms: i64) -> Result<Result<(), Duration>, TableError> {
        take(self.0.as_ref(), name, limit, now_ms).await
    }
    async fn check(&self, name: &str, limit: Limit, now_ms: i64) -> Result<Result<(), Duration>, TableError> {
        check(self.0.as_ref(), name, limit, now_ms).await
    }
}

/// Buckets in this process's memory (the embedded backend's single process).
#[derive(Default)]
pub struct MemoryBuckets {
    buckets: Mutex<HashMap<String, Bucket>>,
}

/// Past this many buckets, the ones that have refilled (holding no state worth keeping) are dropped.
const MEMORY_BUCKETS_SWEEP_AT: usize = 100_000;

impl MemoryBuckets {
    fn with<T>(&self, name: &str, limit: Limit, now_ms: i64, f: impl FnOnce(&mut f64) -> T) -> T {
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if buckets.len() >= MEMORY_BUCKETS_SWEEP_AT && !buckets.contains_key(name) {
            // Every limit refills within hours; a bucket untouched for a day is full whatever its limit.
            buckets.retain(|_, b| now_ms - b.at_ms < 86_400_000);
        }
        let bucket = buckets.entry(name.to_owned()).or_insert(Bucket { tokens: limit.capacity, at_ms: now_ms });
        let refilled = bucket.tokens + (now_ms - bucket.at_ms).max(0) as f64 / 1000.0 * limit.per_second;
        bucket.tokens = refilled.min(limit.capacity);
        bucket.at_ms = bucket.at_ms.max(now_ms);
        f(&mut bucket.tokens)
    }
}

#[async_trait]
impl Buckets for MemoryBuckets {
    async fn take(&self, name: &str, limit: Limit, now_ms: i64) -> Result<Result<(), Duration>, TableError> {
        Ok(self.with(name, limit, now_ms, |tokens| {
            if *tokens < 1.0 {
                return Err(wait_for(1.0 - *tokens, limit));
            }
            *tokens -= 1.0;
            Ok(())
        }))
    }
    async fn check(&self, name: &str, limit: Limit, now_ms: i64) -> Result<Result<(), Duration>, TableError> {
        Ok(self.with(name, limit, now_ms, |tokens| if *tokens >= 1.0 { Ok(()) } else { Err(wait_for(1.0 - *tokens, limit)) }))
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limit {
    pub capacity: f64,
    pub per_second: f64,
}

impl Limit {
    pub const fn per_minute(capacity: f64, refill_per_minute: f64) -> Self {
        Self { capacity, per_second: refill_per_minute / 60.0 }
    }
}

#[derive(Serialize, Deserialize)]
struct Bucket {
    tokens: f64,
    at_ms: i64,
}

fn key(name: &str) -> Key {
    Key::new(format!("RL#{name}"), "BUCKET")
}

/// Tokens in the bucket at `now_ms` and the stored version (0 when absent).
async fn level(table: &dyn Table, name: &str, limit: Limit, now_ms: i64) -> Result<(f64, u64), TableError> {
    Ok(match table.get(&key(name)).await? {
        None => (limit.capacity, 0),
        Some(item) => {
            let b: Bucket = item.parse()?;
            let refilled = b.tokens + (now_ms - b.at_ms).max(0) as f64 / 1000.0 * limit.per_second;
            (refilled.min(limit.capacity), item.version)
        }
    })
}

fn wait_for(missing: f64, limit: Limit) -> Duration {
    Duration::from_secs_f64((missing / limit.per_second).max(1.0))
}

/// `Err(retry_after)` if the bucket holds less than one token, without taking one.
pub async fn check(table: &dyn Table, name: &str, limit: Limit, now_ms: i64) -> Result<Result<(), Duration>, TableError> {
    let (tokens, _) = level(table, name, limit, now_ms).await?;
    Ok(if tokens >= 1.0 { Ok(()) } else { Err(wait_for(1.0 - tokens, limit)) })
}

/// Takes one token, or answers `Err(retry_after)` when the bucket is empty. Concurrent takers are
/// serialised by the bucket's version: a taker that loses the race backs off briefly and re-reads. If the
/// bucket stays contended it answers `Err(1 s)`, never a free pass: contention is exactly what a flood of
/// requests against one bucket looks like, so failing open would switch the limit off under attack.
pub async fn take(table: &dyn Table, name: &str, limit: Limit, now_ms: i64) -> Result<Result<(), Duration>, TableError> {
    for attempt in 0..10u32 {
        let (tokens, version) = level(table, name, limit, now_ms).await?;
        if tokens < 1.0 {
            return Ok(Err(wait_for(1.0 - tokens, limit)));
        }
        let full_in_s = ((limit.capacity - tokens + 1.0) / limit.per_second).ceil() as i64;
        let item = Item::new(key(name))
            .with_attr("tokens", tokens - 1.0)
            .with_attr("at_ms", now_ms)
            .with_version(version + 1)
            .with_expiry(now_ms / 1000 + full_in_s + 60);
        let condition = if version == 0 { Condition::NotExists } else { Condition::VersionIs(version) };
        match table.put(item, condition).await {
            Ok(()) => return Ok(Ok(())),
            Err(TableError::ConditionFailed) => {
                let jitter = rand::random::<u64>() % (1 + u64::from(attempt) * 2);
                tokio::time::sleep(Duration::from_millis(jitter)).await;
            }
            Err(e) => return Err(e),
        }
    }
    tracing::warn!(bucket = name, "rate-limit bucket contended; refusing the request for now");
    Ok(Err(Duration::from_secs(1)))
}

#[cfg(all(test, feature = "embedded"))]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::Arc;

    use async_trait::async_trait;

    use super::*;
    use crate::adapters::{SqliteDb, SqliteTable};
    use crate::ports::{Page, Query, SystemClock, TxWrite};

    /// A table where another taker always wins the race: every conditional put of the bucket fails.
    struct AlwaysContended {
        inner: SqliteTable,
        puts: AtomicU32,
    }

    #[async_trait]
    impl Table for AlwaysContended {
        async fn get(&self, key: &Key) -> Result<Option<Item>, TableError> {
            self.inner.get(key).await
        }
        async fn put(&self, _item: Item, _condition: Condition) -> Result<(), TableError> {
            self.puts.fetch_add(1, Ordering::SeqCst);
            Err(TableError::ConditionFailed)
        }
        async fn delete(&self, key: &Key, condition: Condition) -> Result<(), TableError> {
            self.inner.delete(key, condition).await
        }
        async fn query(&self, query: Query) -> Result<Page, TableError> {
            self.inner.query(query).await
        }
        async fn add(&self, key: &Key, deltas: &[(&str, i64)]) -> Result<Vec<i64>, TableError> {
            self.inner.add(key, deltas).await
        }
        async fn transact(&self, writes: Vec<TxWrite>) -> Result<(), TableError> {
            self.inner.transact(writes).await
        }
    }

    #[tokio::test]
    async fn a_contended_bucket_fails_closed() {
        let table = AlwaysContended { inner: SqliteTable::new(SqliteDb::in_memory().unwrap(), Arc::new(SystemClock)), puts: AtomicU32::new(0) };
        let answer = take(&table, "busy", Limit::per_minute(10.0, 10.0), 0).await.unwrap();
        assert_eq!(answer, Err(Duration::from_secs(1)), "a bucket that could not be updated lets nothing through");
        assert_eq!(table.puts.load(Ordering::SeqCst), 10, "it retried before giving up");
    }

    #[tokio::test]
    async fn memory_buckets_refill_over_time_and_answer_when_to_retry() {
        let buckets = MemoryBuckets::default();
        let limit = Limit::per_minute(3.0, 60.0);
        for _ in 0..3 {
            assert_eq!(buckets.take("t", limit, 0).await.unwrap(), Ok(()));
        }
        assert_eq!(buckets.take("t", limit, 0).await.unwrap(), Err(Duration::from_secs(1)), "empty: retry after the second one token takes");
        assert_eq!(buckets.check("t", limit, 500).await.unwrap(), Err(Duration::from_secs(1)), "half a token is not one");
        assert_eq!(buckets.take("other", limit, 0).await.unwrap(), Ok(()), "buckets are per name");
        assert_eq!(buckets.take("t", limit, 1_000).await.unwrap(), Ok(()), "one token back after a second");
        assert!(buckets.take("t", limit, 1_000).await.unwrap().is_err());
        assert_eq!(buckets.take("t", limit, 60_000).await.unwrap(), Ok(()), "full again, never above capacity");
        assert_eq!(buckets.take("t", limit, 60_000).await.unwrap(), Ok(()));
        assert_eq!(buckets.take("t", limit, 60_000).await.unwrap(), Ok(()));
        assert!(buckets.take("t", limit, 60_000).await.unwrap().is_err());
    }

    #[tokio::test]
    async fn concurrent_takers_never_exceed_the_capacity() {
        let table: Arc<dyn Table> = Arc::new(SqliteTable::new(SqliteDb::in_memory().unwrap(), Arc::new(SystemClock)));
        let limit = Limit::per_minute(20.0, 0.000_001);
        // A real "now": bucket items carry a TTL that the table honours against its clock.
        let now_ms = chrono::Utc::now().timestamp_millis();
        let tasks: Vec<_> = (0..60).map(|_| { let t = table.clone(); tokio::spawn(async move { take(t.as_ref(), "shared", limit, now_ms).await.unwrap().is_ok() }) }).collect();
        let mut granted = 0;
        for t in tasks {
            granted += u32::from(t.await.unwrap());
        }
        assert!(granted <= 20, "{granted} of 60 got through a bucket of 20");
        assert!(granted > 0);
    }
}
