//! The builder's simulator: runs a draft on the real engine (webhook steps included, through the
//! guarded client) but returns the messages instead of sending them, and stores nothing. The caller
//! carries the session and contact between turns.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

use super::engine::{self, ContactData, Effect, Input, Session};
use super::runtime::LiveEnv;
use super::store;
use super::types::{FlowDoc, FlowId};
use crate::auth::{Action, Workspace};
use crate::http::ApiError;
use crate::state::AppState;
use crate::whatsapp::types::Content;

#[derive(Debug, Deserialize, ToSchema)]
pub struct SimulateRequest {
    /// The document to run; the saved draft when absent.
    pub doc: Option<FlowDoc>,
    /// The session from the previous turn; absent to start.
    pub session: Option<Session>,
    #[serde(default)]
    pub contact: ContactData,
    /// The contact's message (needed once a session is running).
    pub text: Option<String>,
    /// The id of the button or list row the contact tapped (with `text` as its title).
    pub reply_id: Option<String>,
    #[serde(default)]
    #[schema(value_type = Object)]
    pub variables: Map<String, Value>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SimulateAnswer {
    /// What the bot would send, in order.
    #[schema(value_type = Vec<Object>)]
    pub messages: Vec<Content>,
    pub effects: Vec<Effect>,
    pub session: Session,
    pub contact: ContactData,
    pub ended: bool,
}

pub async fn simulate(state: &AppState, ws: &Workspace, id: &FlowId, req: SimulateRequest) -> Result<SimulateAnswer, ApiError> {
    ws.require(Action::FlowsManage)?;
    let flow = store::get(state, ws, id).await?;
    let doc = req.doc.unwrap_or(flow.draft);
    store::validate(&doc)?;
    let mut contact = req.contact;
    let (mut session, input) = match req.session.filter(|s| !s.done) {
        Some(s) => {
            let text = req.text.as_deref().ok_or_else(|| ApiError::Validation("`text` is the contact's message".into()))?;
            if text.chars().count() > 4096 {
                return Err(ApiError::Validation("`text` is at most 4096 characters".into()));
            }
            (s, Some(text.to_owned()))
        }
        None => (engine::start(&doc, id, 0, req.variables, state.clock.now()), None),
    };
    if !doc.steps.iter().any(|s| s.id == session.step) {
        return Err(ApiError::Validation(format!("the session is at step `{}`, which the document no longer has; restart", session.step)));
    }
    let input = match (input.as_deref(), req.reply_id.as_deref()) {
        (None, _) => Input::Start,
        (Some(text), Some(id)) => Input::Tap { text, id },
        (Some(text), None) => Input::Message(text),
    };
    let effects = engine::advance(&doc, &mut session, &mut contact, input, &LiveEnv::new(state, ws.id()).await?).await;
    let messages = effects.iter().filter_map(|e| if let Effect::Send { content } = e { Some(content.clone()) } else { None }).collect();
    let ended = session.done;
    Ok(SimulateAnswer { messages, effects, session, contact, ended })
}
