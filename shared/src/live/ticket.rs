//! Stream tickets: `EventSource` (and the browser's `WebSocket`) cannot send an `Authorization` header,
//! and an access token in a URL would end up in proxy and access logs. So a signed-in member trades the
//! access token for a ticket: random, single-use, valid for one workspace for a minute, stored hashed.
//! The stream checks membership again when the ticket is redeemed, and ends after
//! [`super::routes::STREAM_MAX_SECS`], so a removed member's stream does not outlive them for long.

use aws_lc_rs::digest;
use base64::Engine;
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::principal::{open_workspace, Principal};
use crate::auth::{Action, UserId, Workspace};
use crate::http::ApiError;
use crate::ports::{Condition, Item, Key, TableError};
use crate::state::AppState;

pub const TICKET_SECS: i64 = 60;

#[derive(Debug, Serialize, ToSchema)]
pub struct Ticket {
    pub ticket: String,
    pub expires_in: i64,
    /// The feed's position now: a WebSocket client (which gets no greeting frame) catches up from it
    /// after its first gap, as an SSE client does from the `ready` event's id.
    pub cursor: String,
}

fn ticket_key(ticket: &str) -> Key {
    let hash = digest::digest(&digest::SHA256, ticket.as_bytes());
    Key::new("LIVETICKET", hash.as_ref().iter().map(|b| format!("{b:02x}")).collect::<String>())
}

/// A ticket for the caller (a signed-in member) to open `ws`'s live stream once.
pub async fn issue(state: &AppState, ws: &Workspace) -> Result<Ticket, ApiError> {
    ws.require(Action::WorkspaceRead)?;
    let (user, session) = ws.principal().user()?;
    let ticket = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(crate::crypto::random_bytes::<32>());
    let item = Item::new(ticket_key(&ticket)).with_attr("user", user.as_str()).with_attr("session", session).with_attr("workspace", ws.id().as_str()).with_expiry(state.clock.epoch_seconds() + TICKET_SECS);
    state.table.put(item, Condition::NotExists).await?;
    Ok(Ticket { ticket, expires_in: TICKET_SECS, cursor: state.clock.new_id().to_string() })
}

/// The workspace access a ticket stands for, consuming it. Unknown, used, expired, or for another
/// workspace: 401. A member removed since it was issued: 404, as for any workspace they cannot see.
pub async fn redeem(state: &AppState, raw_ws: &str, ticket: &str) -> Result<Workspace, ApiError> {
    if ticket.len() > 100 {
        return Err(ApiError::Unauthorized);
    }
    let key = ticket_key(ticket);
    let item = state.table.get(&key).await?.ok_or(ApiError::Unauthorized)?;
    let attr = |name: &str| item.attrs.get(name).and_then(|v| v.as_str()).map(str::to_owned).ok_or(ApiError::Unauthorized);
    if item.expires_at.is_some_and(|e| e <= state.clock.epoch_seconds()) || attr("workspace")? != raw_ws {
        return Err(ApiError::Unauthorized);
    }
    match state.table.delete(&key, Condition::Exists).await {
        Ok(()) => {}
        // Redeemed by a concurrent request first.
        Err(TableError::ConditionFailed) => return Err(ApiError::Unauthorized),
        Err(e) => return Err(e.into()),
    }
    let principal = Principal::User { user_id: UserId::parse(&attr("user")?).map_err(|_| ApiError::Unauthorized)?, session_id: attr("session")? };
    let ws = open_workspace(state, &principal, raw_ws).await?;
    ws.require(Action::WorkspaceRead)?;
    Ok(ws)
}
