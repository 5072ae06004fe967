//! Each channel's last received webhook and whether the receiver accepted it: the health row of the
//! Channels page, so a member setting up a provider can see the provider reach us (or be refused, and why).
//! One small item per channel, overwritten by each call: the receiver pays a single unconditional put.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::types::ChannelId;
use crate::auth::WorkspaceId;
use crate::ports::{Condition, Item, Key, Query};
use crate::state::AppState;

/// The last webhook call a channel's receiver answered.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct LastWebhook {
    pub at: String,
    /// `accepted`, or `rejected` (bad signature, wrong verify token, missing configuration).
    pub status: WebhookOutcome,
    /// What happened, in words for the member (never a secret or the request body).
    pub detail: String,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum WebhookOutcome {
    Accepted,
    Rejected,
}

fn partition(ws: &WorkspaceId) -> String {
    format!("WS#{ws}#CHANSEEN")
}

pub fn key(ws: &WorkspaceId, id: &ChannelId) -> Key {
    Key::new(partition(ws), id.to_string())
}

/// Overwrites the channel's record. A failed write is logged, never failing the webhook itself: the
/// record is a convenience, the provider's delivery is not.
pub async fn record(state: &AppState, ws: &WorkspaceId, id: &ChannelId, status: WebhookOutcome, detail: &str) {
    let last = LastWebhook { at: state.clock.now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true), status, detail: detail.to_owned() };
    if let Err(e) = state.table.put(Item::of(key(ws, id), &last), Condition::None).await {
        tracing::warn!(channel = %id, error = %e, "could not record the channel's last webhook");
    }
}

/// Every channel's record in the workspace, by channel id (one query).
pub async fn all(state: &AppState, ws: &WorkspaceId) -> Result<HashMap<String, LastWebhook>, crate::ports::TableError> {
    let page = state.table.query(Query::partition(partition(ws)).limit(200)).await?;
    page.items.iter().map(|i| Ok((i.key.sk.clone(), i.parse()?))).collect()
}

pub async fn get(state: &AppState, ws: &WorkspaceId, id: &ChannelId) -> Result<Option<LastWebhook>, crate::ports::TableError> {
    state.table.get(&key(ws, id)).await?.map(|i| i.parse()).transpose()
}
