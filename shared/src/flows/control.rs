//! The bot switch on a conversation: paused by an agent, or off after a hand-off until the conversation
//! is resolved or handed back. The runtime checks it before every inbound message.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::engine::Session;
use super::runtime::{load_session, session_key};
use crate::auth::WorkspaceId;
use crate::http::ApiError;
use crate::inbox::conversations::{self, ConversationId};
use crate::ports::{Condition, Item, Key};
use crate::state::AppState;

pub(super) fn bot_key(ws: &WorkspaceId, conv: &ConversationId) -> Key {
    Key::new(format!("WS#{ws}#BOT"), conv.to_string())
}

/// Whether the bot is off for a conversation: paused by an agent, or handed off to one.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct BotControl {
    pub paused: bool,
    /// `agent` or `handoff`.
    pub reason: String,
    pub by: String,
    pub at: String,
}

/// The switch if the bot is off here.
pub(super) async fn bot_control(state: &AppState, ws: &WorkspaceId, conv: &ConversationId) -> Result<Option<BotControl>, ApiError> {
    Ok(state.table.get(&bot_key(ws, conv)).await?.map(|i| i.parse()).transpose()?.filter(|b: &BotControl| b.paused))
}

/// An agent pauses (or resumes) the bot on a conversation; resuming also hands a conversation back.
pub async fn set_paused(state: &AppState, ws: &crate::auth::Workspace, conv: &ConversationId, paused: bool) -> Result<BotControl, ApiError> {
    ws.require(crate::auth::Action::InboxReply)?;
    conversations::load(state, ws.id(), conv).await?;
    let control = BotControl { paused, reason: "agent".into(), by: ws.principal().actor(), at: state.clock.now().to_rfc3339() };
    if paused {
        state.table.put(Item::of(bot_key(ws.id(), conv), &control), Condition::None).await?;
    } else {
        state.table.delete(&bot_key(ws.id(), conv), Condition::None).await?;
    }
    Ok(control)
}

/// The bot's state on a conversation, for the inbox.
pub async fn bot_status(state: &AppState, ws: &crate::auth::Workspace, conv: &ConversationId) -> Result<(Option<BotControl>, Option<Session>), ApiError> {
    ws.require(crate::auth::Action::WorkspaceRead)?;
    conversations::load(state, ws.id(), conv).await?;
    Ok((bot_control(state, ws.id(), conv).await?, load_session(state, ws.id(), conv).await?.map(|(_, s)| s)))
}

/// A resolved conversation gets its bot back (the hand-off ends); a running session is dropped.
pub async fn on_resolved(state: &AppState, ws: &WorkspaceId, conv: &ConversationId) -> Result<(), ApiError> {
    state.table.delete(&bot_key(ws, conv), Condition::None).await?;
    state.table.delete(&session_key(ws, conv), Condition::None).await?;
    Ok(())
}
