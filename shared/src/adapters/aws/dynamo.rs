//! `DynamoTable`: the `Table` port on DynamoDB. TTL is enforced on read and in conditions because
//! DynamoDB deletes expired items only eventually.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, ConditionCheck, Delete, Put, ReturnValue, TransactWriteItem, Update};
use aws_sdk_dynamodb::Client;
use serde_json::{Map, Value};

use super::describe;
use crate::ports::table::{check_counter_name, check_transaction};
use crate::ports::{Clock, Condition, Cursor, Direction, Index, IndexKey, Item, Key, Page, Query, SkRange, Table, TableError, TxWrite};

type Attrs = HashMap<String, AttributeValue>;

pub struct DynamoTable {
    client: Client,
    table: String,
    clock: Arc<dyn Clock>,
}

impl DynamoTable {
    pub fn new(client: Client, table: impl Into<String>, clock: Arc<dyn Clock>) -> Self {
        Self { client, table: table.into(), clock }
    }

    pub fn table_name(&self) -> &str {
        &self.table
    }

    async fn get_item(&self, key: &Key, consistent: bool) -> Result<Option<Item>, TableError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key_attrs(key)))
            .consistent_read(consistent)
            .send()
            .await
            .map_err(unavailable)?;
        let now = self.clock.epoch_seconds();
        out.item.map(from_attrs).transpose().map(|found| found.filter(|i| !i.is_expired(now)))
    }
}

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_owned())
}

/// How often a transaction cancelled by a concurrent one on the same item is tried again.
const CONFLICT_RETRIES: u32 = 5;

fn n(v: i64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn key_attrs(key: &Key) -> Attrs {
    HashMap::from([("pk".to_owned(), s(&key.pk)), ("sk".to_owned(), s(&key.sk))])
}

fn to_attrs(item: &Item) -> Result<Attrs, TableError> {
    let mut out: Attrs = serde_dynamo::aws_sdk_dynamodb_1::to_item(&item.attrs).map_err(|e| TableError::Invalid(e.to_string()))?;
    out.extend(key_attrs(&item.key));
    if let Some(g) = &item.gsi1 {
        out.insert("gsi1pk".into(), s(&g.pk));
        out.insert("gsi1sk".into(), s(&g.sk));
    }
    if let Some(t) = item.expires_at {
        out.insert("ttl".into(), n(t));
    }
    out.insert("version".into(), n(item.version as i64));
    Ok(out)
}

fn take_s(attrs: &mut Attrs, name: &str) -> Option<String> {
    match attrs.remove(name) {
        Some(AttributeValue::S(v)) => Some(v),
        _ => None,
    }
}

fn take_n(attrs: &mut Attrs, name: &str) -> Option<i64> {
    match attrs.remove(name) {
        Some(AttributeValue::N(v)) => v.parse().ok(),
        _ => None,
    }
}

fn from_attrs(mut attrs: Attrs) -> Result<Item, TableError> {
    let corrupt = || TableError::Corrupt("item without string pk/sk".into());
    let key = Key { pk: take_s(&mut attrs, "pk").ok_or_else(corrupt)?, sk: take_s(&mut attrs, "sk").ok_or_else(corrupt)? };
    let gsi1 = match (take_s(&mut attrs, "gsi1pk"), take_s(&mut attrs, "gsi1sk")) {
        (Some(pk), Some(sk)) => Some(IndexKey { pk, sk }),
        _ => None,
    };
    let expires_at = take_n(&mut attrs, "ttl");
    let version = take_n(&mut attrs, "version").unwrap_or(0) as u64;
    let attrs: Map<String, Value> =
        serde_dynamo::aws_sdk_dynamodb_1::from_item(attrs).map_err(|e| TableError::Corrupt(format!("{}/{}: {e}", key.pk, key.sk)))?;
    Ok(Item { key, gsi1, expires_at, version, attrs })
}

/// Condition expression + its names/values for a write, treating an expired item as absent.
struct Cond {
    expr: String,
    names: HashMap<String, String>,
    values: Attrs,
}

fn condition(c: Condition, now: i64) -> Option<Cond> {
    let live = "(attribute_not_exists(#ttl) OR #ttl > :now)";
    let expr = match c {
        Condition::None => return None,
        Condition::NotExists => "(attribute_not_exists(pk) OR #ttl <= :now)".to_owned(),
        Condition::Exists => format!("attribute_exists(pk) AND {live}"),
        Condition::VersionIs(_) => format!("#version = :version AND {live}"),
    };
    let mut names = HashMap::from([("#ttl".to_owned(), "ttl".to_owned())]);
    let mut values = HashMap::from([(":now".to_owned(), n(now))]);
    if let Condition::VersionIs(v) = c {
        names.insert("#version".into(), "version".into());
        values.insert(":version".into(), n(v as i64));
    }
    Some(Cond { expr, names, values })
}

/// `ADD #c0 :d0, #c1 :d1 …` with its names and values.
fn add_expression<'a>(deltas: impl Iterator<Item = (&'a str, i64)>) -> (String, HashMap<String, String>, Attrs) {
    let mut names = HashMap::new();
    let mut values = HashMap::new();
    let mut parts = Vec::new();
    for (i, (name, delta)) in deltas.enumerate() {
        names.insert(format!("#c{i}"), name.to_owned());
        values.insert(format!(":d{i}"), n(delta));
        parts.push(format!("#c{i} :d{i}"));
    }
    (format!("ADD {}", parts.join(", ")), names, values)
}

fn cursor_from_key(mut lek: Attrs, index: Index) -> Option<Cursor> {
    let key = Key { pk: take_s(&mut lek, "pk")?, sk: take_s(&mut lek, "sk")? };
    let mut item = Item::new(key);
    if let (Some(pk), Some(sk)) = (take_s(&mut lek, "gsi1pk"), take_s(&mut lek, "gsi1sk")) {
        item.gsi1 = Some(IndexKey { pk, sk });
    }
    Some(Cursor::at(&item, index))
}

fn unavailable<E: std::error::Error>(e: E) -> TableError {
    TableError::Unavailable(describe(&e))
}

#[async_trait]
impl Table for DynamoTable {
    async fn get(&self, key: &Key) -> Result<Option<Item>, TableError> {
        self.get_item(key, true).await
    }

    async fn get_eventually(&self, key: &Key) -> Result<Option<Item>, TableError> {
        self.get_item(key, false).await
    }

    async fn put(&self, item: Item, cond: Condition) -> Result<(), TableError> {
        item.check_attr_names()?;
        let mut req = self.client.put_item().table_name(&self.table).set_item(Some(to_attrs(&item)?));
        if let Some(c) = condition(cond, self.clock.epoch_seconds()) {
            req = req.condition_expression(c.expr).set_expression_attribute_names(Some(c.names)).set_expression_attribute_values(Some(c.values));
        }
        req.send().await.map(|_| ()).map_err(|e| match e.into_service_error() {
            e if e.is_conditional_check_failed_exception() => TableError::ConditionFailed,
            e => unavailable(e),
        })
    }

    async fn delete(&self, key: &Key, cond: Condition) -> Result<(), TableError> {
        let mut req = self.client.delete_item().table_name(&self.table).set_key(Some(key_attrs(key)));
        if let Some(c) = condition(cond, self.clock.epoch_seconds()) {
            req = req.condition_expression(c.expr).set_expression_attribute_names(Some(c.names)).set_expression_attribute_values(Some(c.values));
        }
        req.send().await.map(|_| ()).map_err(|e| match e.into_service_error() {
            e if e.is_conditional_check_failed_exception() => TableError::ConditionFailed,
            e => unavailable(e),
        })
    }

    async fn query(&self, q: Query) -> Result<Page, TableError> {
        if q.limit == 0 || q.limit > 1000 {
            return Err(TableError::Invalid("query limit must be 1..=1000".into()));
        }
        let (pk_attr, sk_attr) = match q.index {
            Index::Primary => ("pk", "sk"),
            Index::Gsi1 => ("gsi1pk", "gsi1sk"),
        };
        let mut names = HashMap::from([("#pk".to_owned(), pk_attr.to_owned()), ("#ttl".to_owned(), "ttl".to_owned())]);
        let mut values = HashMap::from([(":pk".to_owned(), s(&q.pk)), (":now".to_owned(), n(self.clock.epoch_seconds()))]);
        let mut key_expr = "#pk = :pk".to_owned();
        match &q.sk {
            SkRange::All => {}
            SkRange::Prefix(p) => {
                key_expr += " AND begins_with(#sk, :p)";
                values.insert(":p".into(), s(p));
            }
            SkRange::Between(a, b) => {
                key_expr += " AND #sk BETWEEN :a AND :b";
                values.insert(":a".into(), s(a));
                values.insert(":b".into(), s(b));
            }
        }
        if q.sk != SkRange::All {
            names.insert("#sk".into(), sk_attr.into());
        }
        let projection = q.checked_fields()?.map(|fields| {
            // Every name aliased: `version` and the projected names may be DynamoDB reserved words.
            let mut parts = vec!["#ttl".to_owned()];
            for (alias, name) in [("#kpk", "pk"), ("#ksk", "sk"), ("#kgp", "gsi1pk"), ("#kgs", "gsi1sk"), ("#kv", "version")] {
                names.insert(alias.to_owned(), name.to_owned());
                parts.push(alias.to_owned());
            }
            for (i, f) in fields.iter().enumerate() {
                names.insert(format!("#f{i}"), f.clone());
                parts.push(format!("#f{i}"));
            }
            parts.join(", ")
        });
        let start = match &q.after {
            None => None,
            Some(c) => {
                let (key, ik) = c.decode()?;
                let mut start = key_attrs(&key);
                match (q.index, ik) {
                    (Index::Primary, None) => {}
                    (Index::Gsi1, Some(ik)) => {
                        start.insert("gsi1pk".into(), s(&ik.pk));
                        start.insert("gsi1sk".into(), s(&ik.sk));
                    }
                    _ => return Err(TableError::InvalidCursor),
                }
                Some(start)
            }
        };
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .set_index_name((q.index == Index::Gsi1).then(|| "gsi1".to_owned()))
            .key_condition_expression(key_expr)
            .filter_expression("attribute_not_exists(#ttl) OR #ttl > :now")
            .set_projection_expression(projection)
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(Some(values))
            .scan_index_forward(q.direction == Direction::Forward)
            .limit(q.limit as i32)
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|e| match e.into_service_error() {
                e if e.meta().code() == Some("ValidationException") => TableError::InvalidCursor,
                e => unavailable(e),
            })?;
        let mut items = out.items.unwrap_or_default().into_iter().map(from_attrs).collect::<Result<Vec<_>, _>>()?;
        if q.fields.is_some() {
            for item in &mut items {
                item.attrs.retain(|_, v| !v.is_null());
            }
        }
        let next = out.last_evaluated_key.and_then(|lek| cursor_from_key(lek, q.index));
        Ok(Page { items, next })
    }

    async fn add(&self, key: &Key, deltas: &[(&str, i64)]) -> Result<Vec<i64>, TableError> {
        if deltas.is_empty() {
            return Err(TableError::Invalid("add needs at least one counter".into()));
        }
        for (name, _) in deltas {
            check_counter_name(name)?;
        }
        let (expr, names, values) = add_expression(deltas.iter().copied());
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key_attrs(key)))
            .update_expression(expr)
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(Some(values))
            // Not UPDATED_NEW: a delta of 0 leaves the attribute unchanged, so it would be missing from the reply
            // of a write that was applied. ALL_NEW always holds every counter just added.
            .return_values(ReturnValue::AllNew)
            .send()
            .await
            .map_err(|e| unavailable(e.into_service_error()))?;
        let mut attrs = out.attributes.unwrap_or_default();
        deltas
            .iter()
            .map(|(name, _)| take_n(&mut attrs, name).ok_or_else(|| TableError::Corrupt(format!("counter `{name}` missing from reply"))))
            .collect()
    }

    async fn transact(&self, writes: Vec<TxWrite>) -> Result<(), TableError> {
        check_transaction(&writes)?;
        let now = self.clock.epoch_seconds();
        let mut items = Vec::with_capacity(writes.len());
        for w in &writes {
            let built = match w {
                TxWrite::Put { item, condition: c } => {
                    let mut b = Put::builder().table_name(&self.table).set_item(Some(to_attrs(item)?));
                    if let Some(c) = condition(*c, now) {
                        b = b.condition_expression(c.expr).set_expression_attribute_names(Some(c.names)).set_expression_attribute_values(Some(c.values));
                    }
                    TransactWriteItem::builder().put(b.build().map_err(unavailable)?)
                }
                TxWrite::Delete { key, condition: c } => {
                    let mut b = Delete::builder().table_name(&self.table).set_key(Some(key_attrs(key)));
                    if let Some(c) = condition(*c, now) {
                        b = b.condition_expression(c.expr).set_expression_attribute_names(Some(c.names)).set_expression_attribute_values(Some(c.values));
                    }
                    TransactWriteItem::builder().delete(b.build().map_err(unavailable)?)
                }
                TxWrite::Check { key, condition: c } => {
                    // A check needs an expression; `None` becomes one that always holds.
                    let c = condition(*c, now).unwrap_or(Cond {
                        expr: "attribute_exists(pk) OR attribute_not_exists(pk)".into(),
                        names: HashMap::new(),
                        values: HashMap::new(),
                    });
                    let b = ConditionCheck::builder()
                        .table_name(&self.table)
                        .set_key(Some(key_attrs(key)))
                        .condition_expression(c.expr)
                        .set_expression_attribute_names((!c.names.is_empty()).then_some(c.names))
                        .set_expression_attribute_values((!c.values.is_empty()).then_some(c.values));
                    TransactWriteItem::builder().condition_check(b.build().map_err(unavailable)?)
                }
                TxWrite::Add { key, deltas } => {
                    let (expr, names, values) = add_expression(deltas.iter().map(|(n, d)| (n.as_str(), *d)));
                    let b = Update::builder()
                        .table_name(&self.table)
                        .set_key(Some(key_attrs(key)))
                        .update_expression(expr)
                        .set_expression_attribute_names(Some(names))
                        .set_expression_attribute_values(Some(values));
                    TransactWriteItem::builder().update(b.build().map_err(unavailable)?)
                }
                TxWrite::AddExpiring { key, deltas, expires_at } => {
                    let (expr, mut names, mut values) = add_expression(deltas.iter().map(|(n, d)| (n.as_str(), *d)));
                    names.insert("#ttl".into(), "ttl".into());
                    values.insert(":ttl".into(), n(*expires_at));
                    let b = Update::builder()
                        .table_name(&self.table)
                        .set_key(Some(key_attrs(key)))
                        .update_expression(format!("{expr} SET #ttl = if_not_exists(#ttl, :ttl)"))
                        .set_expression_attribute_names(Some(names))
                        .set_expression_attribute_values(Some(values));
                    TransactWriteItem::builder().update(b.build().map_err(unavailable)?)
                }
            };
            items.push(built.build());
        }
        // A transaction cancelled only because another one was writing the same item at that moment
        // (`TransactionConflict`, common on a hot counter item) applied nothing: try it again shortly.
        let mut attempt = 0u32;
        loop {
            let sent = self.client.transact_write_items().set_transact_items(Some(items.clone())).send().await;
            let error = match sent {
                Ok(_) => return Ok(()),
                Err(e) => e.into_service_error(),
            };
            let conflict_only = match &error {
                aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError::TransactionCanceledException(tc) => {
                    if let Some(index) = tc.cancellation_reasons().iter().position(|r| r.code() == Some("ConditionalCheckFailed")) {
                        return Err(TableError::TransactionCancelled { index });
                    }
                    tc.cancellation_reasons().iter().any(|r| r.code() == Some("TransactionConflict"))
                }
                _ => false,
            };
            if !conflict_only || attempt >= CONFLICT_RETRIES {
                return Err(unavailable(error));
            }
            attempt += 1;
            let jitter = rand::random::<u64>() % 25;
            tokio::time::sleep(std::time::Duration::from_millis(20 * u64::from(attempt) + jitter)).await;
        }
    }
}
