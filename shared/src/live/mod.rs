//! Live updates: one event feed per workspace (new and changed messages, conversation changes, message
//! statuses, notification stats). Domain code calls [`publish`]; a short per-workspace event log (TTL)
//! lets a client that reconnects catch up from its cursor, and a [`LiveSink`] pushes each event to the
//! workspace's open connections: the in-process [`Hub`] feeding Server-Sent Events in the local binary,
//! and on AWS the API Gateway WebSocket connections ([`websocket`]); the local binary also serves a
//! WebSocket endpoint speaking the AWS protocol (`local_ws`), chosen by `WEBTRIGGER_LIVE_WS_URL`.

mod hub;
mod local_ws;
mod routes;
pub mod ticket;
pub mod websocket;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::auth::WorkspaceId;
use crate::http::ApiError;
use crate::ports::{Condition, Item, Key, Query};
use crate::state::AppState;

pub use hub::Hub;
pub use local_ws::PATH as LOCAL_WS_PATH;
pub use routes::{api, local_routes, routes};

/// How long the log keeps events: a client away longer reloads instead of catching up.
pub const LOG_TTL_SECS: i64 = 3600;
/// At most this many events are replayed on reconnect; past that the client is told to reload.
pub const CATCH_UP_MAX: u32 = 500;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct LiveEvent {
    /// Time-ordered (a ULID): the cursor a client reconnects with.
    pub id: String,
    /// `message.new`, `message.updated` (edited or deleted), `conversation.updated`, `message.status`
    /// or `notification.stats`.
    pub kind: String,
    #[schema(value_type = Object)]
    pub data: Value,
    pub at: String,
}

/// Where events go once logged: the workspace's open connections.
#[async_trait]
pub trait LiveSink: Send + Sync {
    /// Delivers `event` to every open connection of `ws`, best effort (the log covers what is missed).
    async fn deliver(&self, ws: &WorkspaceId, event: &LiveEvent);
}

fn log_partition(ws: &WorkspaceId) -> String {
    format!("WS#{ws}#LIVE")
}

fn new_event(state: &AppState, kind: &str, data: Value) -> LiveEvent {
    LiveEvent { id: state.clock.new_id().to_string(), kind: kind.to_owned(), data, at: state.clock.now().to_rfc3339() }
}

/// Logs the event for catch-up and delivers it. Never fails the caller: a lost live event costs a
/// refresh, not the change it describes (which is already stored).
pub async fn publish(state: &AppState, ws: &WorkspaceId, kind: &str, data: Value) {
    let event = new_event(state, kind, data);
    let item = Item::of(Key::new(log_partition(ws), event.id.clone()), &event).with_expiry(state.clock.epoch_seconds() + LOG_TTL_SECS);
    if let Err(e) = state.table.put(item, Condition::None).await {
        tracing::warn!(error = %e, kind, "live event not logged");
    }
    state.live.deliver(ws, &event).await;
}

/// Delivers without logging: for frequent counters (notification stats) whose current values a
/// reconnecting client reloads anyway, so the hot send path writes nothing extra.
pub async fn notify(state: &AppState, ws: &WorkspaceId, kind: &str, data: Value) {
    let event = new_event(state, kind, data);
    state.live.deliver(ws, &event).await;
}

/// What a client that was away missed: the events after `cursor`, or `None` when it must reload
/// (the cursor is unreadable, older than the log, or too much happened meanwhile).
pub async fn since(state: &AppState, ws: &WorkspaceId, cursor: &str) -> Result<Option<Vec<LiveEvent>>, ApiError> {
    let Ok(at) = ulid::Ulid::from_string(cursor) else { return Ok(None) };
    let age_ms = state.clock.now().timestamp_millis() - at.timestamp_ms() as i64;
    if age_ms > LOG_TTL_SECS * 1000 {
        return Ok(None);
    }
    // `between` is inclusive: start just after the cursor itself.
    let (from, to) = (ulid::Ulid(at.0.saturating_add(1)).to_string(), ulid::Ulid(u128::MAX).to_string());
    let page = state.table.query(Query::partition(log_partition(ws)).between(from, to).limit(CATCH_UP_MAX + 1)).await?;
    if page.items.len() > CATCH_UP_MAX as usize {
        return Ok(None);
    }
    let now = state.clock.epoch_seconds();
    Ok(Some(page.items.iter().filter(|i| i.expires_at.is_none_or(|e| e > now)).map(Item::parse::<LiveEvent>).collect::<Result<Vec<_>, _>>()?))
}
