//! Per-workspace audit log: who did what to which record, when, from where. Newest first, cursor paged,
//! kept 400 days. Entries are written in the same transaction as the change they describe when possible.

use serde::{Deserialize, Serialize};

use crate::auth::{RequestMeta, Workspace};
use crate::http::ApiError;
use crate::ports::{Condition, Cursor, Item, Key, Query, TxWrite};
use crate::state::AppState;

const RETENTION_SECS: i64 = 400 * 24 * 3600;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct AuditEntry {
    pub id: String,
    pub at: String,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub ip: String,
    pub user_agent: String,
}

fn partition(ws: &Workspace) -> String {
    format!("{}#AUDIT", ws.pk())
}

/// The audit entry as a transaction write, to land atomically with the change it records.
pub fn entry(state: &AppState, ws: &Workspace, meta: &RequestMeta, action: &str, target: &str) -> TxWrite {
    let id = state.clock.new_id().to_string();
    let record = AuditEntry {
        id: id.clone(),
        at: state.clock.now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        actor: ws.principal().actor(),
        action: action.to_owned(),
        target: target.to_owned(),
        ip: meta.ip.clone(),
        user_agent: meta.user_agent.clone(),
    };
    let item = Item::of(Key::new(partition(ws), id), &record).with_expiry(state.clock.epoch_seconds() + RETENTION_SECS);
    TxWrite::Put { item, condition: Condition::NotExists }
}

/// Records an entry on its own (for changes that are not a transaction).
pub async fn record(state: &AppState, ws: &Workspace, meta: &RequestMeta, action: &str, target: &str) -> Result<(), ApiError> {
    state.table.transact(vec![entry(state, ws, meta, action, target)]).await.map_err(ApiError::from)
}

pub async fn list(state: &AppState, ws: &Workspace, cursor: Option<&str>, limit: u32) -> Result<(Vec<AuditEntry>, Option<String>), ApiError> {
    let after = cursor.map(Cursor::parse).transpose()?;
    let page = state.table.query(Query::partition(partition(ws)).reverse().limit(limit.clamp(1, 100)).after(after)).await?;
    let entries = page.items.iter().map(|i| i.parse()).collect::<Result<Vec<AuditEntry>, _>>()?;
    Ok((entries, page.next.map(|c| c.as_str().to_owned())))
}
