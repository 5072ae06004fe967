//! What members do in the inbox: reply (through the outbound sender), notes, mark read, assign
//! (manually or round-robin among agents), snooze, resolve, reopen, labels.

use serde::Deserialize;
use utoipa::ToSchema;

use super::teams::{self, TeamId};
use super::conversations::{self, Conversation, ConversationId, ConversationStatus, Entry, LastMessage};
use crate::auth::{Action, Role, Workspace};
use crate::http::ApiError;
use crate::state::AppState;
use crate::whatsapp::messages::{self, NewMessage};
use crate::whatsapp::types::Content;

#[derive(Deserialize, ToSchema)]
pub struct Reply {
    pub text: Option<String>,
    /// A template instead of text (needed outside the 24-hour window).
    pub template: Option<Content>,
    /// An uploaded attachment (`POST …/attachments`) to send; `text` is then its caption.
    pub attachment_id: Option<String>,
}

#[derive(Deserialize, ToSchema)]
pub struct Note {
    pub text: String,
}

#[derive(Deserialize, ToSchema)]
pub struct Assign {
    /// A member's user id, or null to unassign.
    pub assignee: Option<String>,
    /// Pick the next agent in turn instead.
    #[serde(default)]
    pub round_robin: bool,
    /// Moves it to a team (null: no team); absent leaves the team as it is. With `round_robin`, the
    /// next available member of this team (or of the conversation's team) takes it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub team_id: Option<Option<String>>,
}

/// Tells an explicit `null` (Some(None)) from an absent field (None).
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

#[derive(Deserialize, ToSchema)]
pub struct Snooze {
    /// RFC 3339 time the conversation reopens.
    pub until: String,
}

#[derive(Deserialize, ToSchema)]
pub struct Labels {
    pub labels: Vec<String>,
}

pub async fn get(state: &AppState, ws: &Workspace, id: &ConversationId) -> Result<Conversation, ApiError> {
    ws.require(Action::WorkspaceRead)?;
    let mut c = conversations::load(state, ws.id(), id).await?;
    c.status = conversations::effective_status(&c, state.clock.now());
    Ok(c)
}

/// Sends a reply to the contact and adds it to the timeline; the conversation counts as read.
pub async fn reply(state: &AppState, ws: &Workspace, id: &ConversationId, req: Reply) -> Result<Entry, ApiError> {
    ws.require(Action::InboxReply)?;
    let conv = conversations::load(state, ws.id(), id).await?;
    let content = match (req.text, req.template, req.attachment_id) {
        (text, None, Some(attachment_id)) => Content::Attachment { attachment_id, caption: text.filter(|t| !t.trim().is_empty()), kind: crate::whatsapp::types::MediaKind::Document, mime: String::new(), filename: None },
        (Some(text), None, None) => Content::Text { body: text, preview_url: false },
        (None, Some(t @ Content::Template { .. }), None) => t,
        _ => return Err(ApiError::Validation("give either `text` or a `template`".into())),
    };
    let request = NewMessage { channel_id: conv.channel_id.to_string(), to: conv.contact.as_str().to_owned(), content: content.clone(), template_fallback: None, client_message_id: None, template_id: None, template_variables: None };
    let (message, _) = messages::send(state, ws, request).await?;
    let at = message.created_at.clone();
    // The stored message carries the attachment's checked kind and name.
    let content = message.content.clone();
    let (kind, media, preview) = match &content {
        Content::Attachment { attachment_id, kind, filename, caption, .. } => {
            let label = if *kind == crate::whatsapp::types::MediaKind::Image { "Photo".to_owned() } else { filename.clone().unwrap_or_else(|| "Document".into()) };
            (kind.as_str(), Some(attachment_id.clone()), Some(caption.clone().map_or(label.clone(), |c| format!("{label}: {c}"))))
        }
        other => (other.kind(), None, None),
    };
    let text = match &content {
        Content::Text { body, .. } => Some(body.clone()),
        Content::Attachment { caption, .. } => caption.clone(),
        Content::Template { name, content_sid, .. } => Some(format!("[template {}]", name.clone().or(content_sid.clone()).unwrap_or_default())),
        _ => None,
    };
    let preview = preview.or_else(|| text.clone());
    let entry = Entry { id: message.id.to_string(), direction: "outbound".into(), kind: kind.into(), text: text.clone(), media, provider_message_id: None, message_id: Some(message.id.to_string()), status: Some(message.status), author: Some(ws.principal().actor()), edited: false, deleted: false, at: at.clone() };
    conversations::append(state, ws.id(), id, &entry).await?;
    let last = LastMessage { direction: "outbound".into(), preview: preview.unwrap_or_default().chars().take(120).collect(), at };
    conversations::modify(state, ws.id(), id, |c| {
        c.last_message = Some(last.clone());
        c.unread = 0;
    })
    .await?;
    Ok(entry)
}

pub async fn note(state: &AppState, ws: &Workspace, id: &ConversationId, req: Note) -> Result<Entry, ApiError> {
    ws.require(Action::InboxReply)?;
    conversations::load(state, ws.id(), id).await?;
    let text = req.text.trim();
    if text.is_empty() || text.chars().count() > 4000 {
        return Err(ApiError::Validation("a note is 1–4000 characters".into()));
    }
    let entry = Entry { id: state.clock.new_id().to_string().to_lowercase(), direction: "note".into(), kind: "text".into(), text: Some(text.to_owned()), media: None, provider_message_id: None, message_id: None, status: None, author: Some(ws.principal().actor()), edited: false, deleted: false, at: state.clock.now().to_rfc3339() };
    conversations::append(state, ws.id(), id, &entry).await?;
    Ok(entry)
}

pub async fn mark_read(state: &AppState, ws: &Workspace, id: &ConversationId) -> Result<Conversation, ApiError> {
    ws.require(Action::InboxReply)?;
    conversations::modify(state, ws.id(), id, |c| c.unread = 0).await
}

pub async fn assign(state: &AppState, ws: &Workspace, id: &ConversationId, req: Assign) -> Result<Conversation, ApiError> {
    ws.require(Action::InboxReply)?;
    let current = conversations::load(state, ws.id(), id).await?;
    let team = match req.team_id {
        Some(Some(t)) => Some(teams::load(state, ws.id(), &TeamId::parse(&t).map_err(|_| ApiError::Validation(format!("no team `{}`", t.chars().take(40).collect::<String>())))?).await?.id),
        Some(None) => None,
        None => current.team_id.as_deref().map(TeamId::parse).transpose()?,
    };
    let assignee = choose_assignee(state, ws, req.assignee, req.round_robin, team.as_ref()).await?;
    let team = team.map(|t| t.to_string());
    conversations::modify(state, ws.id(), id, |c| (c.assignee, c.team_id) = (assignee.clone(), team.clone())).await
}

/// The member to assign: the next available member in turn (`round_robin`, of `team` if given), or
/// `user` if they can answer conversations. Shared by manual assignment and the bot's hand-off.
pub(crate) async fn choose_assignee(state: &AppState, ws: &Workspace, user: Option<String>, round_robin: bool, team: Option<&TeamId>) -> Result<Option<String>, ApiError> {
    if round_robin {
        return teams::next_in_turn(state, ws, team).await;
    }
    let members = crate::workspaces::members::list_members(state, ws).await?;
    match user {
        Some(user) if members.iter().any(|m| m.user_id.as_str() == user && m.role != Role::Viewer) => Ok(Some(user)),
        Some(_) => Err(ApiError::Validation("the assignee must be a member who can answer conversations".into())),
        None => Ok(None),
    }
}

pub async fn set_status(state: &AppState, ws: &Workspace, id: &ConversationId, status: ConversationStatus, until: Option<&str>) -> Result<Conversation, ApiError> {
    ws.require(Action::InboxReply)?;
    let until = match (status, until) {
        (ConversationStatus::Snoozed, Some(t)) => {
            let t = chrono::DateTime::parse_from_rfc3339(t).map_err(|_| ApiError::Validation("`until` must be an RFC 3339 time".into()))?;
            if t <= state.clock.now() {
                return Err(ApiError::Validation("`until` must be in the future".into()));
            }
            Some(t.with_timezone(&chrono::Utc).to_rfc3339())
        }
        (ConversationStatus::Snoozed, None) => return Err(ApiError::Validation("snoozing needs `until`".into())),
        _ => None,
    };
    let c = conversations::modify(state, ws.id(), id, |c| (c.status, c.snoozed_until) = (status, until.clone())).await?;
    if status == ConversationStatus::Resolved {
        // Resolving ends a bot hand-off: the next message may start a flow again.
        crate::flows::control::on_resolved(state, ws.id(), id).await?;
    }
    Ok(c)
}

pub async fn set_labels(state: &AppState, ws: &Workspace, id: &ConversationId, req: Labels) -> Result<Conversation, ApiError> {
    ws.require(Action::InboxReply)?;
    let mut labels: Vec<String> = req.labels.iter().map(|l| l.trim().to_lowercase()).filter(|l| !l.is_empty()).collect();
    labels.sort();
    labels.dedup();
    if labels.len() > 20 || labels.iter().any(|l| l.chars().count() > 40) {
        return Err(ApiError::Validation("at most 20 labels of up to 40 characters".into()));
    }
    conversations::modify(state, ws.id(), id, |c| c.labels = labels.clone()).await
}
