//! `SqliteTable`: the `Table` port on SQLite. Sort order is SQLite's BINARY collation, which matches
//! DynamoDB's byte-wise UTF-8 ordering.

use std::sync::Arc;

use async_trait::async_trait;
use rusqlite::{params, params_from_iter, types::Value as SqlValue, Connection, OptionalExtension};
use serde_json::{Map, Value};

use super::SqliteDb;
use crate::ports::table::{check_counter_name, check_transaction};
use crate::ports::{Clock, Condition, Cursor, Direction, Index, IndexKey, Item, Key, Page, Query, SkRange, Table, TableError, TxWrite};

pub struct SqliteTable {
    db: SqliteDb,
    clock: Arc<dyn Clock>,
}

impl SqliteTable {
    pub fn new(db: SqliteDb, clock: Arc<dyn Clock>) -> Self {
        Self { db, clock }
    }

    /// Deletes items whose TTL has passed (DynamoDB does this in the background; locally the tick does).
    pub async fn purge_expired(&self) -> Result<usize, TableError> {
        let now = self.clock.epoch_seconds();
        self.db.write(move |c| c.execute("DELETE FROM items WHERE ttl IS NOT NULL AND ttl <= ?1", [now]).map_err(db_err)).await
    }
}

impl From<String> for TableError {
    fn from(s: String) -> Self {
        TableError::Unavailable(s)
    }
}

fn db_err(e: rusqlite::Error) -> TableError {
    TableError::Unavailable(e.to_string())
}

const COLUMNS: &str = "pk, sk, gsi1pk, gsi1sk, ttl, version, data";

fn row_to_item(row: &rusqlite::Row<'_>) -> rusqlite::Result<Item> {
    let gsi1 = match (row.get::<_, Option<String>>(2)?, row.get::<_, Option<String>>(3)?) {
        (Some(pk), Some(sk)) => Some(IndexKey { pk, sk }),
        _ => None,
    };
    let data: String = row.get(6)?;
    let attrs: Map<String, Value> = serde_json::from_str(&data)
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(6, rusqlite::types::Type::Text, Box::new(e)))?;
    Ok(Item {
        key: Key { pk: row.get(0)?, sk: row.get(1)? },
        gsi1,
        expires_at: row.get(4)?,
        version: row.get::<_, i64>(5)? as u64,
        attrs,
    })
}

/// [`row_to_item`] keeping only the projected attributes: the others are skipped while parsing, so
/// their strings are never allocated (most of a subscriber item is its push subscription).
fn row_to_projected_item(row: &rusqlite::Row<'_>, fields: &[String]) -> rusqlite::Result<Item> {
    let gsi1 = match (row.get::<_, Option<String>>(2)?, row.get::<_, Option<String>>(3)?) {
        (Some(pk), Some(sk)) => Some(IndexKey { pk, sk }),
        _ => None,
    };
    let data = row.get_ref(6)?.as_str()?;
    let mut de = serde_json::Deserializer::from_str(data);
    let attrs = serde::de::DeserializeSeed::deserialize(Projection(fields), &mut de)
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(6, rusqlite::types::Type::Text, Box::new(e)))?;
    Ok(Item {
        key: Key { pk: row.get(0)?, sk: row.get(1)? },
        gsi1,
        expires_at: row.get(4)?,
        version: row.get::<_, i64>(5)? as u64,
        attrs,
    })
}

/// Reads a JSON object into a map of only the named, non-null attributes.
struct Projection<'a>(&'a [String]);

impl<'de> serde::de::DeserializeSeed<'de> for Projection<'_> {
    type Value = Map<String, Value>;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> serde::de::Visitor<'de> for Projection<'_> {
    type Value = Map<String, Value>;
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an item's attributes as a JSON object")
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            if self.0.iter().any(|f| *f == key) {
                let value: Value = map.next_value()?;
                if !value.is_null() {
                    out.insert(key.into_owned(), value);
                }
            } else {
                map.next_value::<serde::de::IgnoredAny>()?;
            }
        }
        Ok(out)
    }
}

/// (version, ttl) of the stored item, if any.
fn current(tx: &Connection, key: &Key) -> rusqlite::Result<Option<(u64, Option<i64>)>> {
    tx.prepare_cached("SELECT version, ttl FROM items WHERE pk = ?1 AND sk = ?2")?
        .query_row(params![key.pk, key.sk], |r| Ok((r.get::<_, i64>(0)? as u64, r.get(1)?)))
        .optional()
}

fn holds(tx: &Connection, key: &Key, condition: Condition, now: i64) -> rusqlite::Result<bool> {
    if condition == Condition::None {
        return Ok(true);
    }
    let live = current(tx, key)?.filter(|(_, ttl)| ttl.is_none_or(|t| t > now));
    Ok(match condition {
        Condition::None => true,
        Condition::NotExists => live.is_none(),
        Condition::Exists => live.is_some(),
        Condition::VersionIs(v) => live.is_some_and(|(stored, _)| stored == v),
    })
}

/// An item's attributes as stored. Callers encode before handing a write to the writer thread, so the
/// one thread every write waits on does not also serialise.
fn encode(item: &Item) -> Result<String, TableError> {
    serde_json::to_string(&item.attrs).map_err(|e| TableError::Invalid(e.to_string()))
}

/// The stored form of each `Put` of a transaction (`None` for the other writes), in order.
pub(super) fn encode_puts(writes: &[TxWrite]) -> Result<Vec<Option<String>>, TableError> {
    writes.iter().map(|w| if let TxWrite::Put { item, .. } = w { encode(item).map(Some) } else { Ok(None) }).collect()
}

fn write(tx: &Connection, item: &Item, data: &str) -> Result<(), TableError> {
    let (gpk, gsk) = item.gsi1.as_ref().map(|g| (Some(&g.pk), Some(&g.sk))).unwrap_or((None, None));
    tx.prepare_cached("INSERT OR REPLACE INTO items (pk, sk, gsi1pk, gsi1sk, ttl, version, data) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)")
        .and_then(|mut stmt| stmt.execute(params![item.key.pk, item.key.sk, gpk, gsk, item.expires_at, item.version as i64, data]))
        .map_err(db_err)?;
    Ok(())
}

/// Writes `item` unless a live item holds its key (an expired one is replaced, as `NotExists` treats it
/// as absent); false when one does. One statement, so the key's leaf page is visited once.
fn write_absent(tx: &Connection, item: &Item, data: &str, now: i64) -> Result<bool, TableError> {
    let (gpk, gsk) = item.gsi1.as_ref().map(|g| (Some(&g.pk), Some(&g.sk))).unwrap_or((None, None));
    let changed = tx
        .prepare_cached(
            "INSERT INTO items (pk, sk, gsi1pk, gsi1sk, ttl, version, data) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) \
             ON CONFLICT (pk, sk) DO UPDATE SET gsi1pk = excluded.gsi1pk, gsi1sk = excluded.gsi1sk, ttl = excluded.ttl, version = excluded.version, data = excluded.data \
             WHERE items.ttl IS NOT NULL AND items.ttl <= ?8",
        )
        .and_then(|mut stmt| stmt.execute(params![item.key.pk, item.key.sk, gpk, gsk, item.expires_at, item.version as i64, data, now]))
        .map_err(db_err)?;
    Ok(changed == 1)
}

/// Adds `deltas` to the counters of the item under `key` (created if absent) inside `tx`.
fn add_in(tx: &Connection, key: &Key, deltas: &[(String, i64)], expires_at: Option<i64>) -> Result<Vec<i64>, TableError> {
    let existing = tx
        .prepare_cached(&format!("SELECT {COLUMNS} FROM items WHERE pk = ?1 AND sk = ?2"))
        .and_then(|mut stmt| stmt.query_row(params![key.pk, key.sk], row_to_item).optional())
        .map_err(db_err)?;
    let mut item = existing.unwrap_or_else(|| Item::new(key.clone()));
    if item.expires_at.is_none() {
        item.expires_at = expires_at;
    }
    let mut out = Vec::with_capacity(deltas.len());
    for (name, delta) in deltas {
        let old = match item.attrs.get(name) {
            None => 0,
            Some(v) => v.as_i64().ok_or_else(|| TableError::Invalid(format!("attribute `{name}` is not a number")))?,
        };
        let new = old.checked_add(*delta).ok_or_else(|| TableError::Invalid(format!("counter `{name}` overflows")))?;
        item.attrs.insert(name.clone(), new.into());
        out.push(new);
    }
    write(tx, &item, &encode(&item)?)?;
    Ok(out)
}

fn build_query(q: &Query, now: i64) -> Result<(String, Vec<SqlValue>), TableError> {
    let (pk_col, sk_col) = match q.index {
        Index::Primary => ("pk", "sk"),
        Index::Gsi1 => ("gsi1pk", "gsi1sk"),
    };
    let mut sql = format!("SELECT {COLUMNS} FROM items WHERE {pk_col} = ? AND (ttl IS NULL OR ttl > ?)");
    let mut args: Vec<SqlValue> = vec![q.pk.clone().into(), now.into()];
    match &q.sk {
        SkRange::All => {}
        SkRange::Prefix(p) => {
            sql += &format!(" AND {sk_col} >= ? AND substr({sk_col}, 1, ?) = ?");
            args.extend([p.clone().into(), (p.chars().count() as i64).into(), p.clone().into()]);
        }
        SkRange::Between(a, b) => {
            sql += &format!(" AND {sk_col} BETWEEN ? AND ?");
            args.extend([a.clone().into(), b.clone().into()]);
        }
    }
    let (cmp, order) = match q.direction {
        Direction::Forward => (">", "ASC"),
        Direction::Reverse => ("<", "DESC"),
    };
    if let Some(cursor) = &q.after {
        let (key, index_key) = cursor.decode()?;
        match (q.index, index_key) {
            (Index::Primary, None) => {
                sql += &format!(" AND sk {cmp} ?");
                args.push(key.sk.into());
            }
            (Index::Gsi1, Some(ik)) => {
                sql += &format!(" AND (gsi1sk, pk, sk) {cmp} (?, ?, ?)");
                args.extend([ik.sk.into(), key.pk.into(), key.sk.into()]);
            }
            _ => return Err(TableError::InvalidCursor),
        }
    }
    sql += &match q.index {
        Index::Primary => format!(" ORDER BY sk {order} LIMIT ?"),
        Index::Gsi1 => format!(" ORDER BY gsi1sk {order}, pk {order}, sk {order} LIMIT ?"),
    };
    args.push((q.limit as i64 + 1).into());
    Ok((sql, args))
}

fn delete_row(c: &Connection, key: &Key) -> Result<(), TableError> {
    c.prepare_cached("DELETE FROM items WHERE pk = ?1 AND sk = ?2").and_then(|mut stmt| stmt.execute(params![key.pk, key.sk])).map_err(db_err)?;
    Ok(())
}

/// Each write in order, checking its condition as it goes and stopping at the first that fails (whose
/// index is reported). Keys are distinct within a transaction, so no write changes a later one's
/// condition, and the job's savepoint undoes the writes before a failure: the same outcome as checking
/// every condition first, with one visit to each key instead of two.
/// `encoded` is `encode_puts(writes)`.
pub(super) fn transact_in(c: &Connection, writes: &[TxWrite], encoded: &[Option<String>], now: i64) -> Result<(), TableError> {
    for (index, (w, data)) in writes.iter().zip(encoded).enumerate() {
        let cancelled = TableError::TransactionCancelled { index };
        let data = data.as_deref().unwrap_or_default();
        match w {
            TxWrite::Put { item, condition: Condition::NotExists } => {
                if !write_absent(c, item, data, now)? {
                    return Err(cancelled);
                }
            }
            TxWrite::Put { item, condition } => {
                if !holds(c, &item.key, *condition, now).map_err(db_err)? {
                    return Err(cancelled);
                }
                write(c, item, data)?;
            }
            TxWrite::Delete { key, condition } => {
                if !holds(c, key, *condition, now).map_err(db_err)? {
                    return Err(cancelled);
                }
                delete_row(c, key)?;
            }
            TxWrite::Check { key, condition } => {
                if !holds(c, key, *condition, now).map_err(db_err)? {
                    return Err(cancelled);
                }
            }
            TxWrite::Add { key, deltas } => {
                add_in(c, key, deltas, None)?;
            }
            TxWrite::AddExpiring { key, deltas, expires_at } => {
                add_in(c, key, deltas, Some(*expires_at))?;
            }
        }
    }
    Ok(())
}

#[async_trait]
impl Table for SqliteTable {
    async fn get(&self, key: &Key) -> Result<Option<Item>, TableError> {
        let key = key.clone();
        let now = self.clock.epoch_seconds();
        self.db
            .read_point(move |c| {
                c.prepare_cached(&format!("SELECT {COLUMNS} FROM items WHERE pk = ?1 AND sk = ?2"))
                    .and_then(|mut stmt| stmt.query_row(params![key.pk, key.sk], row_to_item).optional())
                    .map_err(db_err)
            })
            .await
            .map(|found| found.filter(|item| !item.is_expired(now)))
    }

    async fn put(&self, item: Item, condition: Condition) -> Result<(), TableError> {
        item.check_attr_names()?;
        let (now, data) = (self.clock.epoch_seconds(), encode(&item)?);
        self.db
            .write(move |c| match condition {
                Condition::NotExists => write_absent(c, &item, &data, now)?.then_some(()).ok_or(TableError::ConditionFailed),
                _ if !holds(c, &item.key, condition, now).map_err(db_err)? => Err(TableError::ConditionFailed),
                _ => write(c, &item, &data),
            })
            .await
    }

    async fn delete(&self, key: &Key, condition: Condition) -> Result<(), TableError> {
        let key = key.clone();
        let now = self.clock.epoch_seconds();
        self.db
            .write(move |c| {
                if !holds(c, &key, condition, now).map_err(db_err)? {
                    return Err(TableError::ConditionFailed);
                }
                delete_row(c, &key)
            })
            .await
    }

    async fn query(&self, query: Query) -> Result<Page, TableError> {
        if query.limit == 0 || query.limit > 1000 {
            return Err(TableError::Invalid("query limit must be 1..=1000".into()));
        }
        let (sql, args) = build_query(&query, self.clock.epoch_seconds())?;
        let fields = query.checked_fields()?.map(<[String]>::to_vec);
        let mut items = self
            .db
            .read(move |c| {
                let mut stmt = c.prepare_cached(&sql).map_err(db_err)?;
                let rows = stmt.query_map(params_from_iter(args), |row| match &fields {
                    None => row_to_item(row),
                    Some(f) => row_to_projected_item(row, f),
                });
                let rows = rows.map_err(db_err)?;
                rows.collect::<rusqlite::Result<Vec<Item>>>().map_err(db_err)
            })
            .await?;
        let more = items.len() > query.limit as usize;
        items.truncate(query.limit as usize);

        let next = if more { items.last().map(|last| Cursor::at(last, query.index)) } else { None };
        Ok(Page { items, next })
    }

    async fn add(&self, key: &Key, deltas: &[(&str, i64)]) -> Result<Vec<i64>, TableError> {
        for (name, _) in deltas {
            check_counter_name(name)?;
        }
        let key = key.clone();
        let deltas: Vec<(String, i64)> = deltas.iter().map(|(n, d)| ((*n).to_owned(), *d)).collect();
        self.db.write(move |c| add_in(c, &key, &deltas, None)).await
    }

    async fn transact(&self, writes: Vec<TxWrite>) -> Result<(), TableError> {
        check_transaction(&writes)?;
        let now = self.clock.epoch_seconds();
        let encoded = encode_puts(&writes)?;
        self.db.write(move |c| transact_in(c, &writes, &encoded, now)).await
    }
}
