//! Master-key rotation. Every record holding a sealed secret registers itself in the `SEALED` partition
//! (in the same transaction as the record); `rewrap_all` re-wraps each data key under the current master
//! key (KMS ReEncrypt in AWS) while the ciphertext stays as it is, so reads keep working throughout.

use serde::{Deserialize, Serialize};

use crate::http::ApiError;
use crate::ports::envelope::Sealed;
use crate::ports::{Condition, EncryptionContext, Item, Key, Query, TableError, TxWrite};
use crate::state::AppState;

const PARTITION: &str = "SEALED";

#[derive(Serialize, Deserialize)]
struct Entry {
    record_pk: String,
    record_sk: String,
    /// The record attribute holding the [`Sealed`] value.
    field: String,
    context: std::collections::BTreeMap<String, String>,
}

/// The registry write to add to the transaction that creates a record with a sealed `field`.
pub fn register(record: &Key, field: &str, context: &EncryptionContext) -> TxWrite {
    let entry = Entry { record_pk: record.pk.clone(), record_sk: record.sk.clone(), field: field.to_owned(), context: context.pairs().clone() };
    TxWrite::Put { item: Item::of(Key::new(PARTITION, format!("{}|{}|{field}", record.pk, record.sk)), &entry), condition: Condition::None }
}

/// The registry delete to add to the transaction that deletes such a record.
pub fn unregister(record: &Key, field: &str) -> TxWrite {
    TxWrite::Delete { key: Key::new(PARTITION, format!("{}|{}|{field}", record.pk, record.sk)), condition: Condition::None }
}

#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct RotationReport {
    pub rewrapped: usize,
    /// Registry entries whose record is gone (removed from the registry).
    pub stale: usize,
}

/// Re-wraps every registered data key under the keyring's current master key.
pub async fn rewrap_all(state: &AppState) -> Result<RotationReport, ApiError> {
    let mut report = RotationReport::default();
    let mut cursor = None;
    loop {
        let page = state.table.query(Query::partition(PARTITION).limit(100).after(cursor)).await?;
        for item in &page.items {
            let entry: Entry = item.parse()?;
            if rewrap_one(state, &entry).await? {
                report.rewrapped += 1;
            } else {
                state.table.delete(&item.key, Condition::None).await?;
                report.stale += 1;
            }
        }
        match page.next {
            Some(next) => cursor = Some(next),
            None => return Ok(report),
        }
    }
}

/// Returns false when the record no longer exists. A concurrent update is retried on the fresh record.
async fn rewrap_one(state: &AppState, entry: &Entry) -> Result<bool, ApiError> {
    let key = Key::new(entry.record_pk.clone(), entry.record_sk.clone());
    let context = EncryptionContext::new(entry.context.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    for _ in 0..5 {
        let Some(mut item) = state.table.get(&key).await? else { return Ok(false) };
        let Some(value) = item.attrs.get(&entry.field).cloned() else { return Ok(false) };
        let sealed: Sealed = serde_json::from_value(value).map_err(|e| ApiError::Internal(format!("sealed field {}: {e}", entry.field)))?;
        let (wrapped_key, master_key_id) = state.keyring.rewrap(&sealed.wrapped_key, &context).await?;
        let rewrapped = Sealed { wrapped_key, master_key_id, ..sealed };
        item.attrs.insert(entry.field.clone(), serde_json::to_value(&rewrapped).expect("sealed serialises"));
        let version = item.version;
        match state.table.put(item.with_version(version + 1), Condition::VersionIs(version)).await {
            Ok(()) => return Ok(true),
            Err(TableError::ConditionFailed) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(ApiError::Conflict(format!("{} kept changing during rotation; run it again", entry.record_sk)))
}
