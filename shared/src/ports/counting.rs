//! Counting decorators over the `Table`, `Queue` and `Keyring` ports: every call is tallied under the AWS
//! operation it becomes on the AWS adapters, with the capacity it would be billed for, so a bench or a test
//! on the embedded backend can state what a workload costs on AWS.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use secrecy::SecretSlice;

use super::keyring::{DataKey, EncryptionContext, Keyring, KeyringError};
use super::queue::{Delivery, OutgoingMessage, Queue, QueueError, QueueSpec};
use super::table::{Condition, Item, Key, Page, Query, Table, TableError, TxWrite};

/// Requests and billed units of one AWS operation. `units` are read or write request units for DynamoDB
/// (1 KB per write unit, doubled in transactions; 4 KB per strongly consistent read unit) and billed
/// requests for SQS (one per started 64 KB of payload); for KMS they equal `requests`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OpCount {
    pub requests: u64,
    pub units: u64,
}

/// The tally, shared by the decorators of one state. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Counts(Arc<Mutex<BTreeMap<&'static str, OpCount>>>);

impl Counts {
    fn add(&self, op: &'static str, units: u64) {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let c = map.entry(op).or_default();
        c.requests += 1;
        c.units += units;
    }

    /// What was counted so far, by AWS operation name.
    pub fn snapshot(&self) -> BTreeMap<&'static str, OpCount> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Starts the tally over (e.g. after a bench's setup).
    pub fn reset(&self) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }
}

/// Approximate stored size of an item as DynamoDB measures it (names plus values), in bytes.
pub fn item_size(item: &Item) -> u64 {
    let attrs: usize = item.attrs.iter().map(|(k, v)| k.len() + v.to_string().len()).sum();
    let index = item.gsi1.as_ref().map_or(0, |g| g.pk.len() + g.sk.len() + 12);
    (item.key.pk.len() + item.key.sk.len() + 4 + index + attrs + 16) as u64
}

fn units(bytes: u64, per_unit: u64) -> u64 {
    bytes.div_ceil(per_unit).max(1)
}

pub struct CountingTable {
    inner: Arc<dyn Table>,
    counts: Counts,
}

impl CountingTable {
    pub fn new(inner: Arc<dyn Table>, counts: Counts) -> Self {
        Self { inner, counts }
    }

    /// Write units of an update of the item under `key`: DynamoDB bills the whole item an update changes
    /// (a notification record with its counters is over 1 KB), so its stored size is read (not counted).
    async fn update_units(&self, key: &Key) -> u64 {
        let stored = self.inner.get(key).await.ok().flatten();
        units(stored.as_ref().map_or(1, item_size), 1024)
    }
}

#[async_trait]
impl Table for CountingTable {
    /// GetItem, one read unit per started 4 KB.
    async fn get(&self, key: &Key) -> Result<Option<Item>, TableError> {
        let found = self.inner.get(key).await?;
        self.counts.add("DynamoDB GetItem", units(found.as_ref().map_or(1, item_size), 4096));
        Ok(found)
    }

    /// GetItem with `ConsistentRead` off: half a read unit per started 4 KB (priced so by `list_price`).
    async fn get_eventually(&self, key: &Key) -> Result<Option<Item>, TableError> {
        let found = self.inner.get_eventually(key).await?;
        self.counts.add("DynamoDB GetItem eventually consistent", units(found.as_ref().map_or(1, item_size), 4096));
        Ok(found)
    }

    /// PutItem, one write unit per started KB.
    async fn put(&self, item: Item, condition: Condition) -> Result<(), TableError> {
        self.counts.add("DynamoDB PutItem", units(item_size(&item), 1024));
        self.inner.put(item, condition).await
    }

    /// DeleteItem.
    async fn delete(&self, key: &Key, condition: Condition) -> Result<(), TableError> {
        self.counts.add("DynamoDB DeleteItem", 1);
        self.inner.delete(key, condition).await
    }

    /// Query, eventually consistent as the DynamoDB adapter issues it: half a read unit per started 4 KB
    /// of the page (tallied as one unit per started 8 KB). DynamoDB bills the items' whole size whatever
    /// the projection, so a projected query is read whole here and projected afterwards.
    async fn query(&self, mut query: Query) -> Result<Page, TableError> {
        query.checked_fields()?;
        let fields = query.fields.take();
        let mut page = self.inner.query(query).await?;
        self.counts.add("DynamoDB Query", units(page.items.iter().map(item_size).sum(), 8192));
        if let Some(fields) = fields {
            for item in &mut page.items {
                item.attrs.retain(|k, v| !v.is_null() && fields.contains(k));
            }
        }
        Ok(page)
    }

    /// UpdateItem (ADD).
    async fn add(&self, key: &Key, deltas: &[(&str, i64)]) -> Result<Vec<i64>, TableError> {
        let units = self.update_units(key).await;
        self.counts.add("DynamoDB UpdateItem", units);
        self.inner.add(key, deltas).await
    }

    /// TransactWriteItems, two write units per started KB of each item.
    async fn transact(&self, writes: Vec<TxWrite>) -> Result<(), TableError> {
        let mut units = 0;
        for w in &writes {
            units += 2 * match w {
                TxWrite::Put { item, .. } => self::units(item_size(item), 1024),
                TxWrite::Add { key, .. } | TxWrite::AddExpiring { key, .. } => self.update_units(key).await,
                TxWrite::Delete { .. } | TxWrite::Check { .. } => 1,
            };
        }
        self.counts.add("DynamoDB TransactWriteItems", units);
        self.inner.transact(writes).await
    }
}

const SQS_CHUNK: u64 = 64 * 1024;

pub struct CountingQueue {
    inner: Arc<dyn Queue>,
    counts: Counts,
}

impl CountingQueue {
    pub fn new(inner: Arc<dyn Queue>, counts: Counts) -> Self {
        Self { inner, counts }
    }
}

#[async_trait]
impl Queue for CountingQueue {
    /// Not counted: queues are created by the deployment, not per workload.
    async fn ensure(&self, spec: &QueueSpec) -> Result<(), QueueError> {
        self.inner.ensure(spec).await
    }

    /// SendMessageBatch, billed per started 64 KB of the batch.
    async fn send(&self, queue: &str, messages: Vec<OutgoingMessage>) -> Result<Vec<String>, QueueError> {
        let bytes: u64 = messages.iter().map(|m| m.body.len() as u64).sum();
        self.counts.add("SQS SendMessageBatch", units(bytes, SQS_CHUNK));
        self.inner.send(queue, messages).await
    }

    /// ReceiveMessage, billed per started 64 KB received.
    async fn receive(&self, queue: &str, max: usize, wait: Duration) -> Result<Vec<Delivery>, QueueError> {
        let got = self.inner.receive(queue, max, wait).await?;
        self.counts.add("SQS ReceiveMessage", units(got.iter().map(|d| d.body.len() as u64).sum(), SQS_CHUNK));
        Ok(got)
    }

    /// DeleteMessage (the Lambda event source mapping deletes a batch's messages with one DeleteMessageBatch).
    async fn ack(&self, queue: &str, receipt_handle: &str) -> Result<(), QueueError> {
        self.counts.add("SQS DeleteMessage", 1);
        self.inner.ack(queue, receipt_handle).await
    }

    /// ChangeMessageVisibility.
    async fn retry_after(&self, queue: &str, receipt_handle: &str, delay: Duration) -> Result<(), QueueError> {
        self.counts.add("SQS ChangeMessageVisibility", 1);
        self.inner.retry_after(queue, receipt_handle, delay).await
    }

    /// GetQueueAttributes.
    async fn depth(&self, queue: &str) -> Result<u64, QueueError> {
        self.counts.add("SQS GetQueueAttributes", 1);
        self.inner.depth(queue).await
    }
}

pub struct CountingKeyring {
    inner: Arc<dyn Keyring>,
    counts: Counts,
}

impl CountingKeyring {
    pub fn new(inner: Arc<dyn Keyring>, counts: Counts) -> Self {
        Self { inner, counts }
    }
}

#[async_trait]
impl Keyring for CountingKeyring {
    /// KMS GenerateDataKey.
    async fn generate_data_key(&self, context: &EncryptionContext) -> Result<DataKey, KeyringError> {
        self.counts.add("KMS GenerateDataKey", 1);
        self.inner.generate_data_key(context).await
    }

    /// KMS Decrypt.
    async fn unwrap_data_key(&self, wrapped: &[u8], context: &EncryptionContext) -> Result<SecretSlice<u8>, KeyringError> {
        self.counts.add("KMS Decrypt", 1);
        self.inner.unwrap_data_key(wrapped, context).await
    }

    /// KMS ReEncrypt.
    async fn rewrap(&self, wrapped: &[u8], context: &EncryptionContext) -> Result<(Vec<u8>, String), KeyringError> {
        self.counts.add("KMS ReEncrypt", 1);
        self.inner.rewrap(wrapped, context).await
    }
}

/// US-East-1 on-demand list prices in dollars per billed unit (DynamoDB read and write request units since
/// November 2024, SQS standard requests, KMS requests), keyed like the tally.
pub fn list_price(op: &str) -> f64 {
    match op.split_once(' ').map_or(op, |(service, _)| service) {
        "DynamoDB" if op.contains("eventually") => 0.0625e-6,
        "DynamoDB" if op.contains("Get") || op.contains("Query") => 0.125e-6,
        "DynamoDB" => 0.625e-6,
        "SQS" => 0.40e-6,
        "KMS" => 3.0e-6,
        _ => 0.0,
    }
}

#[cfg(all(test, feature = "embedded"))]
mod tests {
    use super::*;
    use crate::adapters::{SqliteDb, SqliteTable};
    use crate::ports::SystemClock;

    #[tokio::test]
    async fn calls_are_counted_by_aws_operation_with_their_billed_units() {
        let counts = Counts::default();
        let sqlite: Arc<dyn Table> = Arc::new(SqliteTable::new(SqliteDb::in_memory().unwrap(), Arc::new(SystemClock)));
        let table = CountingTable::new(sqlite, counts.clone());
        let big = Item::new(Key::new("p", "big")).with_attr("blob", "x".repeat(5000));
        table.put(big.clone(), Condition::None).await.unwrap();
        table.get(&big.key).await.unwrap();
        table.get(&Key::new("p", "absent")).await.unwrap();
        table.transact(vec![TxWrite::Put { item: Item::new(Key::new("p", "small")), condition: Condition::NotExists }, TxWrite::Add { key: Key::new("p", "n"), deltas: vec![("c".into(), 1)] }]).await.unwrap();
        let seen = counts.snapshot();
        assert_eq!(seen["DynamoDB PutItem"], OpCount { requests: 1, units: 5 }, "5 KB item: five write units");
        assert_eq!(seen["DynamoDB GetItem"], OpCount { requests: 2, units: 3 }, "5 KB read: two 4 KB units; a miss: one");
        assert_eq!(seen["DynamoDB TransactWriteItems"], OpCount { requests: 1, units: 4 }, "two writes, doubled in a transaction");
        counts.reset();
        assert!(counts.snapshot().is_empty());
        table.put(Item::new(Key::new("q", "huge")).with_attr("blob", "x".repeat(10_000)).with_attr("n", 1), Condition::None).await.unwrap();
        let page = table.query(Query::partition("q").project(&["n", "absent"])).await.unwrap();
        assert_eq!(page.items[0].attrs.keys().collect::<Vec<_>>(), vec!["n"], "the projection still applies");
        assert_eq!(counts.snapshot()["DynamoDB Query"], OpCount { requests: 1, units: 2 }, "billed on the whole 10 KB item, not the projected answer");
        table.add(&big.key, &[("c", 1)]).await.unwrap();
        assert_eq!(counts.snapshot()["DynamoDB UpdateItem"], OpCount { requests: 1, units: 5 }, "an update is billed on the whole item it changes");
        table.get_eventually(&big.key).await.unwrap();
        assert_eq!(counts.snapshot()["DynamoDB GetItem eventually consistent"], OpCount { requests: 1, units: 2 });
        counts.reset();
        assert_eq!(list_price("DynamoDB Query"), 0.125e-6);
        assert_eq!(list_price("KMS Decrypt"), 3.0e-6);
        assert_eq!(list_price("DynamoDB GetItem eventually consistent"), 0.0625e-6);
    }
}
