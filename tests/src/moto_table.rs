//! `SerialWrites`: the Table port on moto with its writes taken one at a time.
//!
//! moto is not DynamoDB under concurrent writes: it applies a transaction by snapshotting the whole
//! table and, when any part fails (a condition, say), restores that snapshot, erasing every write other
//! requests made meanwhile; and its item updates are an unlocked read-modify-write. DynamoDB serialises
//! writes to an item and cancels a conflicting transaction without touching anything else. Taking the
//! writes one at a time gives moto's answers DynamoDB's meaning; concurrency itself is tested on SQLite.

use async_trait::async_trait;
use webtrigger::ports::{Condition, Item, Key, Page, Query, Table, TableError, TxWrite};

pub struct SerialWrites<T> {
    inner: T,
    writes: tokio::sync::Mutex<()>,
}

impl<T> SerialWrites<T> {
    pub fn new(inner: T) -> Self {
        Self { inner, writes: tokio::sync::Mutex::new(()) }
    }
}

#[async_trait]
impl<T: Table> Table for SerialWrites<T> {
    async fn get(&self, key: &Key) -> Result<Option<Item>, TableError> {
        self.inner.get(key).await
    }

    async fn put(&self, item: Item, condition: Condition) -> Result<(), TableError> {
        let _one = self.writes.lock().await;
        self.inner.put(item, condition).await
    }

    async fn delete(&self, key: &Key, condition: Condition) -> Result<(), TableError> {
        let _one = self.writes.lock().await;
        self.inner.delete(key, condition).await
    }

    async fn query(&self, query: Query) -> Result<Page, TableError> {
        self.inner.query(query).await
    }

    async fn add(&self, key: &Key, deltas: &[(&str, i64)]) -> Result<Vec<i64>, TableError> {
        let _one = self.writes.lock().await;
        self.inner.add(key, deltas).await
    }

    async fn transact(&self, writes: Vec<TxWrite>) -> Result<(), TableError> {
        let _one = self.writes.lock().await;
        self.inner.transact(writes).await
    }
}
