//! `Table` port: one key-value table with a sort key, one overloaded secondary index, counters,
//! transactions and TTL. DynamoDB in AWS, SQLite locally; the conformance suite holds both to this contract.

use async_trait::async_trait;
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Attribute names the adapters reserve; everything else in `Item::attrs` is free-form.
pub const RESERVED_ATTRS: [&str; 6] = ["pk", "sk", "gsi1pk", "gsi1sk", "ttl", "version"];

/// Most writes one transaction may carry (DynamoDB's TransactWriteItems limit is 100; we keep the older,
/// portable 25 so a transaction always fits in one request).
pub const MAX_TRANSACTION_WRITES: usize = 25;

/// Primary key of an item.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Key {
    pub pk: String,
    pub sk: String,
}

impl Key {
    pub fn new(pk: impl Into<String>, sk: impl Into<String>) -> Self {
        Self { pk: pk.into(), sk: sk.into() }
    }
}

/// Key on the one secondary index (`gsi1`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexKey {
    pub pk: String,
    pub sk: String,
}

/// One stored record. `version` is the optimistic-lock counter checked by [`Condition::VersionIs`];
/// `expires_at` (epoch seconds) is the TTL after which reads no longer return the item.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    pub key: Key,
    pub gsi1: Option<IndexKey>,
    pub expires_at: Option<i64>,
    pub version: u64,
    pub attrs: Map<String, Value>,
}

impl Item {
    pub fn new(key: Key) -> Self {
        Self { key, gsi1: None, expires_at: None, version: 0, attrs: Map::new() }
    }

    /// An item whose attributes are the fields of `value` (a struct serialising to a JSON object).
    pub fn of(key: Key, value: &impl Serialize) -> Self {
        let mut item = Self::new(key);
        match serde_json::to_value(value) {
            Ok(Value::Object(map)) => item.attrs = map,
            other => debug_assert!(false, "Item::of needs a struct, got {other:?}"),
        }
        item
    }

    pub fn with_attr(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.attrs.insert(name.to_owned(), value.into());
        self
    }

    pub fn with_gsi1(mut self, pk: impl Into<String>, sk: impl Into<String>) -> Self {
        self.gsi1 = Some(IndexKey { pk: pk.into(), sk: sk.into() });
        self
    }

    pub fn with_expiry(mut self, epoch_seconds: i64) -> Self {
        self.expires_at = Some(epoch_seconds);
        self
    }

    pub fn with_version(mut self, version: u64) -> Self {
        self.version = version;
        self
    }

    /// Deserialises the free-form attributes into a domain type.
    pub fn parse<T: serde::de::DeserializeOwned>(&self) -> Result<T, TableError> {
        serde_json::from_value(Value::Object(self.attrs.clone()))
            .map_err(|e| TableError::Corrupt(format!("{}/{}: {e}", self.key.pk, self.key.sk)))
    }

    pub(crate) fn is_expired(&self, now_epoch: i64) -> bool {
        self.expires_at.is_some_and(|t| t <= now_epoch)
    }

    pub(crate) fn check_attr_names(&self) -> Result<(), TableError> {
        match self.attrs.keys().find(|k| RESERVED_ATTRS.contains(&k.as_str())) {
            Some(k) => Err(TableError::Invalid(format!("attribute name `{k}` is reserved"))),
            None => Ok(()),
        }
    }
}

/// Precondition on the item currently stored under the key. An expired item counts as absent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Condition {
    None,
    NotExists,
    Exists,
    /// The stored item exists and its `version` equals this value.
    VersionIs(u64),
}

/// Which sort keys a query selects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SkRange {
    All,
    Prefix(String),
    /// Inclusive on both ends.
    Between(String, String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Index {
    Primary,
    Gsi1,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Forward,
    Reverse,
}

/// An opaque position in a query result; the item at the position is excluded from the next page.
/// A cursor from a forward page used with a reverse query pages backwards from that point.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor(String);

#[derive(Serialize, Deserialize)]
struct CursorBody {
    pk: String,
    sk: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    ipk: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    isk: Option<String>,
}

impl Cursor {
    /// The position of `item` in a query over `index`.
    pub fn at(item: &Item, index: Index) -> Self {
        let (ipk, isk) = match (index, &item.gsi1) {
            (Index::Gsi1, Some(g)) => (Some(g.pk.clone()), Some(g.sk.clone())),
            _ => (None, None),
        };
        let body = CursorBody { pk: item.key.pk.clone(), sk: item.key.sk.clone(), ipk, isk };
        Cursor(URL_SAFE_NO_PAD.encode(serde_json::to_vec(&body).expect("cursor serialises")))
    }

    /// Parses a cursor received from a client; anything malformed is `TableError::InvalidCursor`.
    pub fn parse(raw: &str) -> Result<Self, TableError> {
        Self(raw.to_owned()).decode().map(|_| Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// (table key, index key) of the position.
    pub(crate) fn decode(&self) -> Result<(Key, Option<IndexKey>), TableError> {
        let bytes = URL_SAFE_NO_PAD.decode(&self.0).map_err(|_| TableError::InvalidCursor)?;
        let b: CursorBody = serde_json::from_slice(&bytes).map_err(|_| TableError::InvalidCursor)?;
        let index = match (b.ipk, b.isk) {
            (Some(pk), Some(sk)) => Some(IndexKey { pk, sk }),
            (None, None) => None,
            _ => return Err(TableError::InvalidCursor),
        };
        Ok((Key { pk: b.pk, sk: b.sk }, index))
    }
}

#[derive(Debug, Clone)]
pub struct Query {
    pub index: Index,
    pub pk: String,
    pub sk: SkRange,
    pub direction: Direction,
    pub limit: u32,
    pub after: Option<Cursor>,
    /// Only these top-level attributes come back (with the key, index key, version and TTL); an
    /// attribute absent or null in the stored item is absent from the answer. `None`: every attribute.
    pub fields: Option<Vec<String>>,
}

impl Query {
    pub fn partition(pk: impl Into<String>) -> Self {
        Self { index: Index::Primary, pk: pk.into(), sk: SkRange::All, direction: Direction::Forward, limit: 100, after: None, fields: None }
    }

    pub fn gsi1(pk: impl Into<String>) -> Self {
        Self { index: Index::Gsi1, ..Self::partition(pk) }
    }

    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.sk = SkRange::Prefix(prefix.into());
        self
    }

    pub fn between(mut self, from: impl Into<String>, to: impl Into<String>) -> Self {
        self.sk = SkRange::Between(from.into(), to.into());
        self
    }

    pub fn reverse(mut self) -> Self {
        self.direction = Direction::Reverse;
        self
    }

    pub fn limit(mut self, limit: u32) -> Self {
        self.limit = limit;
        self
    }

    pub fn after(mut self, cursor: Option<Cursor>) -> Self {
        self.after = cursor;
        self
    }

    /// Reads only `fields` of each item (a scan that needs a few small attributes of large items).
    pub fn project(mut self, fields: &[&str]) -> Self {
        self.fields = Some(fields.iter().map(|f| (*f).to_owned()).collect());
        self
    }

    /// The projected field names, checked: letters, digits and `_`, not a key or system attribute.
    pub(crate) fn checked_fields(&self) -> Result<Option<&[String]>, TableError> {
        let Some(fields) = &self.fields else { return Ok(None) };
        for f in fields {
            if f.is_empty() || !f.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') || RESERVED_PROJECTION.contains(&f.as_str()) {
                return Err(TableError::Invalid(format!("`{f}` cannot be projected")));
            }
        }
        Ok(Some(fields))
    }
}

const RESERVED_PROJECTION: [&str; 6] = ["pk", "sk", "gsi1pk", "gsi1sk", "ttl", "version"];

/// One page of a query. `next` is present when more items may follow in the query's direction.
#[derive(Debug, Clone)]
pub struct Page {
    pub items: Vec<Item>,
    pub next: Option<Cursor>,
}

/// One write of a transaction.
#[derive(Debug, Clone)]
pub enum TxWrite {
    Put { item: Item, condition: Condition },
    Delete { key: Key, condition: Condition },
    /// Asserts a condition on an item without writing it.
    Check { key: Key, condition: Condition },
    /// Adds each delta to a numeric attribute (absent counts as 0), creating the item if needed, like
    /// [`Table::add`]; lets a counter move together with the write that proves it was not added before.
    Add { key: Key, deltas: Vec<(String, i64)> },
    /// An `Add` that also gives the item a TTL (epoch seconds) when it has none yet, so a counter bucket
    /// (an analytics rollup) expires a fixed time after its first write however often it is added to.
    AddExpiring { key: Key, deltas: Vec<(String, i64)>, expires_at: i64 },
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum TableError {
    #[error("condition failed")]
    ConditionFailed,
    #[error("transaction cancelled: write {index} failed its condition")]
    TransactionCancelled { index: usize },
    #[error("invalid cursor")]
    InvalidCursor,
    #[error("invalid request: {0}")]
    Invalid(String),
    #[error("stored item is corrupt: {0}")]
    Corrupt(String),
    #[error("table backend unavailable: {0}")]
    Unavailable(String),
}

#[async_trait]
pub trait Table: Send + Sync {
    /// Returns the item under `key`, or `None` if absent or past its TTL.
    async fn get(&self, key: &Key) -> Result<Option<Item>, TableError>;

    /// `get`, eventually consistent where the backend offers it (DynamoDB: half the read units), so it
    /// may miss a write of the last second or so. For records whose latest change the caller can do
    /// without; each caller says why. The default is the strongly consistent `get`.
    async fn get_eventually(&self, key: &Key) -> Result<Option<Item>, TableError> {
        self.get(key).await
    }

    /// Writes the whole item if `condition` holds, else `ConditionFailed`. The item's `version` is stored as given.
    async fn put(&self, item: Item, condition: Condition) -> Result<(), TableError>;

    /// Deletes the item if `condition` holds; deleting an absent item with `Condition::None` is not an error.
    async fn delete(&self, key: &Key, condition: Condition) -> Result<(), TableError>;

    /// One page of items of a partition (primary or `gsi1`) in sort-key order, skipping expired items;
    /// a page may hold fewer than `limit` items while `next` is still present.
    async fn query(&self, query: Query) -> Result<Page, TableError>;

    /// Atomically adds each delta to a numeric attribute (absent counts as 0), creating the item if needed;
    /// returns the new values in argument order. Counter names must be `[A-Za-z0-9_]+`.
    async fn add(&self, key: &Key, deltas: &[(&str, i64)]) -> Result<Vec<i64>, TableError>;

    /// Applies up to [`MAX_TRANSACTION_WRITES`] writes all-or-nothing; when a condition fails, nothing is
    /// written and the error names the index of the first failing write.
    async fn transact(&self, writes: Vec<TxWrite>) -> Result<(), TableError>;
}

pub(crate) fn check_counter_name(name: &str) -> Result<(), TableError> {
    let ok = !name.is_empty()
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && !RESERVED_ATTRS.contains(&name);
    if ok { Ok(()) } else { Err(TableError::Invalid(format!("bad counter name `{name}`"))) }
}

pub(crate) fn check_transaction(writes: &[TxWrite]) -> Result<(), TableError> {
    if writes.is_empty() || writes.len() > MAX_TRANSACTION_WRITES {
        return Err(TableError::Invalid(format!("a transaction takes 1..={MAX_TRANSACTION_WRITES} writes, got {}", writes.len())));
    }
    let mut seen = std::collections::HashSet::new();
    for w in writes {
        let key = match w {
            TxWrite::Put { item, .. } => {
                item.check_attr_names()?;
                &item.key
            }
            TxWrite::Delete { key, .. } | TxWrite::Check { key, .. } => key,
            TxWrite::Add { key, deltas } | TxWrite::AddExpiring { key, deltas, .. } => {
                if deltas.is_empty() {
                    return Err(TableError::Invalid("an add needs at least one counter".into()));
                }
                for (name, _) in deltas {
                    check_counter_name(name)?;
                }
                key
            }
        };
        if !seen.insert(key) {
            return Err(TableError::Invalid(format!("key {}/{} appears twice in one transaction", key.pk, key.sk)));
        }
    }
    Ok(())
}
