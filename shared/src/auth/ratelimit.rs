//! Token buckets stored through the `Table` port, so limits hold across Lambda instances and behave the
//! same on both backends. A bucket refills continuously at `per_second` up to `capacity`.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::ports::{Condition, Item, Key, Table, TableError};

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
/// bucket stays contended, the request is let through (logged): a limiter must not become an outage.
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
    tracing::warn!(bucket = name, "rate-limit bucket contended; letting the request through");
    Ok(Ok(()))
}
