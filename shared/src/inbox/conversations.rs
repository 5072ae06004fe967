//! Conversations: one per channel + contact, with the contact's profile, last message, unread count,
//! last inbound time, status (open, pending, snoozed until, resolved), assignee, labels, and a timeline
//! of inbound messages, replies and private notes.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::types::prefixed_id;
use crate::auth::WorkspaceId;
use crate::http::ApiError;
use crate::ports::{Condition, Cursor, Item, Key, Query, TableError, TxWrite};
use crate::state::AppState;
use crate::whatsapp::types::{ChannelId, MessageStatus, PhoneNumber};

prefixed_id!(ConversationId, "conv_", "conversation");

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ConversationStatus {
    Open,
    Pending,
    Snoozed,
    Resolved,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct LastMessage {
    pub direction: String,
    pub preview: String,
    pub at: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct Conversation {
    pub id: ConversationId,
    pub channel_id: ChannelId,
    pub contact: PhoneNumber,
    pub contact_name: Option<String>,
    pub status: ConversationStatus,
    pub snoozed_until: Option<String>,
    /// The member (user id) it is assigned to.
    pub assignee: Option<String>,
    /// The team it belongs to (its round-robin pool).
    #[serde(default)]
    pub team_id: Option<String>,
    pub labels: Vec<String>,
    pub unread: u32,
    pub last_message: Option<LastMessage>,
    pub last_inbound_at: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

/// One line of a conversation's timeline.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct Entry {
    pub id: String,
    /// `inbound`, `outbound` or `note`.
    pub direction: String,
    pub kind: String,
    pub text: Option<String>,
    /// Replies: the attachment id. Inbound: the provider's media id or URL (open it through
    /// `…/messages/{entry}/media`, never directly: it needs the channel's credential).
    pub media: Option<String>,
    /// Inbound media: the type and (documents) the file name the provider announced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_mime: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_filename: Option<String>,
    pub provider_message_id: Option<String>,
    /// For replies: the message record that carries the delivery status.
    pub message_id: Option<String>,
    pub status: Option<MessageStatus>,
    pub author: Option<String>,
    pub edited: bool,
    pub deleted: bool,
    pub at: String,
}

pub fn conversation_key(ws: &WorkspaceId, id: &ConversationId) -> Key {
    Key::new(format!("WS#{ws}#CONV"), id.to_string())
}

pub fn by_contact_key(ws: &WorkspaceId, channel: &ChannelId, contact: &PhoneNumber) -> Key {
    Key::new(format!("WS#{ws}#CONVBY#{channel}"), contact.as_str().to_owned())
}

pub fn timeline_partition(ws: &WorkspaceId, id: &ConversationId) -> String {
    format!("WS#{ws}#CONV#{id}#TL")
}

/// Newest activity first in the workspace inbox.
fn inbox_index(ws: &WorkspaceId) -> String {
    format!("WS#{ws}#INBOX")
}

pub fn item_of(ws: &WorkspaceId, c: &Conversation) -> Item {
    let activity = c.last_message.as_ref().map_or(c.created_at.as_str(), |m| m.at.as_str());
    Item::of(conversation_key(ws, &c.id), c).with_gsi1(inbox_index(ws), format!("{activity}#{}", c.id))
}

/// The conversation for (channel, contact), created on first contact. Returns it and whether it is new.
pub async fn find_or_create(state: &AppState, ws: &WorkspaceId, channel: &ChannelId, contact: &PhoneNumber, name: Option<&str>) -> Result<(Conversation, bool), ApiError> {
    let pointer = by_contact_key(ws, channel, contact);
    for _ in 0..3 {
        if let Some(p) = state.table.get(&pointer).await? {
            let id = p.attrs.get("conversation").and_then(|v| v.as_str()).map(ConversationId::parse).transpose()?.ok_or_else(|| ApiError::Internal("conversation pointer without id".into()))?;
            if let Some(item) = state.table.get(&conversation_key(ws, &id)).await? {
                return Ok((item.parse()?, false));
            }
        }
        let now = state.clock.now().to_rfc3339();
        let c = Conversation {
            id: ConversationId::new(state.clock.new_id()),
            channel_id: channel.clone(),
            contact: contact.clone(),
            contact_name: name.map(str::to_owned),
            status: ConversationStatus::Open,
            snoozed_until: None,
            assignee: None,
            team_id: None,
            labels: vec![],
            unread: 0,
            last_message: None,
            last_inbound_at: None,
            created_at: now.clone(),
            updated_at: now,
        };
        let p = Item::new(pointer.clone()).with_attr("conversation", c.id.as_str());
        match state.table.transact(vec![TxWrite::Put { item: p, condition: Condition::NotExists }, TxWrite::Put { item: item_of(ws, &c), condition: Condition::NotExists }]).await {
            Ok(()) => {
                crate::live::publish(state, ws, "conversation.updated", serde_json::json!({"conversation": c})).await;
                return Ok((c, true));
            }
            // Another event for the same contact created it first: read theirs.
            Err(TableError::TransactionCancelled { .. }) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(ApiError::Conflict("the conversation kept changing; retry".into()))
}

/// The conversation for (channel, contact), if there is one.
pub async fn find(state: &AppState, ws: &WorkspaceId, channel: &ChannelId, contact: &PhoneNumber) -> Result<Option<Conversation>, ApiError> {
    let Some(p) = state.table.get(&by_contact_key(ws, channel, contact)).await? else { return Ok(None) };
    let Some(id) = p.attrs.get("conversation").and_then(|v| v.as_str()).map(ConversationId::parse).transpose()? else { return Ok(None) };
    Ok(state.table.get(&conversation_key(ws, &id)).await?.map(|i| i.parse()).transpose()?)
}

/// The newest `limit` timeline lines as stored (without looking up reply statuses).
pub async fn recent_lines(state: &AppState, ws: &WorkspaceId, id: &ConversationId, limit: u32) -> Result<Vec<Entry>, ApiError> {
    let page = state.table.query(Query::partition(timeline_partition(ws, id)).reverse().limit(limit.clamp(1, 100))).await?;
    Ok(page.items.iter().map(Item::parse::<Entry>).collect::<Result<Vec<_>, _>>()?)
}

pub async fn load(state: &AppState, ws: &WorkspaceId, id: &ConversationId) -> Result<Conversation, ApiError> {
    state.table.get(&conversation_key(ws, id)).await?.ok_or_else(|| ApiError::NotFound(format!("no conversation `{id}`")))?.parse().map_err(Into::into)
}

/// Applies `change` with an optimistic version check, retried on races; keeps the inbox index current.
pub async fn modify(state: &AppState, ws: &WorkspaceId, id: &ConversationId, change: impl Fn(&mut Conversation)) -> Result<Conversation, ApiError> {
    for _ in 0..8 {
        let item = state.table.get(&conversation_key(ws, id)).await?.ok_or_else(|| ApiError::NotFound(format!("no conversation `{id}`")))?;
        let mut c: Conversation = item.parse()?;
        change(&mut c);
        c.updated_at = state.clock.now().to_rfc3339();
        match state.table.put(item_of(ws, &c).with_version(item.version + 1), Condition::VersionIs(item.version)).await {
            Ok(()) => {
                crate::live::publish(state, ws, "conversation.updated", serde_json::json!({"conversation": c})).await;
                return Ok(c);
            }
            Err(TableError::ConditionFailed) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(ApiError::Conflict("the conversation kept changing; retry".into()))
}

/// Adds a timeline entry (sorted by time, then id).
/// Where `entry` lives on the conversation's timeline (ordered by time, then id).
pub fn entry_key(ws: &WorkspaceId, id: &ConversationId, entry: &Entry) -> Key {
    Key::new(timeline_partition(ws, id), format!("{}#{}", entry.at, entry.id))
}

pub async fn append(state: &AppState, ws: &WorkspaceId, id: &ConversationId, entry: &Entry) -> Result<(), ApiError> {
    state.table.put(Item::of(entry_key(ws, id, entry), entry), Condition::None).await?;
    crate::live::publish(state, ws, "message.new", serde_json::json!({"conversation_id": id, "entry": entry})).await;
    Ok(())
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
pub struct ConversationFilter {
    pub status: Option<ConversationStatus>,
    /// A user id, or `none` for unassigned.
    pub assignee: Option<String>,
    pub channel_id: Option<String>,
    pub label: Option<String>,
    pub team_id: Option<String>,
    pub cursor: Option<String>,
    pub limit: Option<u32>,
}

impl ConversationFilter {
    fn keeps(&self, c: &Conversation, now: chrono::DateTime<chrono::Utc>) -> bool {
        let status = effective_status(c, now);
        self.status.is_none_or(|s| s == status)
            && self.assignee.as_deref().is_none_or(|a| if a == "none" { c.assignee.is_none() } else { c.assignee.as_deref() == Some(a) })
            && self.channel_id.as_deref().is_none_or(|ch| c.channel_id.as_str() == ch)
            && self.label.as_deref().is_none_or(|l| c.labels.iter().any(|x| x.eq_ignore_ascii_case(l)))
            && self.team_id.as_deref().is_none_or(|t| c.team_id.as_deref() == Some(t))
    }
}

/// A snoozed conversation whose time has come counts as open.
pub fn effective_status(c: &Conversation, now: chrono::DateTime<chrono::Utc>) -> ConversationStatus {
    let woke = c.snoozed_until.as_deref().and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok()).is_some_and(|t| t <= now);
    if c.status == ConversationStatus::Snoozed && woke { ConversationStatus::Open } else { c.status }
}

/// Newest activity first; filters apply within each page read (a page may hold fewer than `limit`).
pub async fn list(state: &AppState, ws: &WorkspaceId, f: &ConversationFilter) -> Result<(Vec<Conversation>, Option<String>), ApiError> {
    let after = f.cursor.as_deref().map(Cursor::parse).transpose()?;
    let page = state.table.query(Query::gsi1(inbox_index(ws)).reverse().limit(f.limit.unwrap_or(30).clamp(1, 100)).after(after)).await?;
    let now = state.clock.now();
    let mut out = Vec::new();
    for item in &page.items {
        let mut c: Conversation = item.parse()?;
        if f.keeps(&c, now) {
            c.status = effective_status(&c, now);
            out.push(c);
        }
    }
    Ok((out, page.next.map(|c| c.as_str().to_owned())))
}

/// The timeline, newest first (page backwards with the cursor).
pub async fn timeline(state: &AppState, ws: &WorkspaceId, id: &ConversationId, cursor: Option<&str>, limit: u32) -> Result<(Vec<Entry>, Option<String>), ApiError> {
    let after = cursor.map(Cursor::parse).transpose()?;
    let page = state.table.query(Query::partition(timeline_partition(ws, id)).reverse().limit(limit.clamp(1, 100)).after(after)).await?;
    let mut entries = page.items.iter().map(Item::parse::<Entry>).collect::<Result<Vec<_>, _>>()?;
    // Replies show their message's current delivery status.
    for e in entries.iter_mut().filter(|e| e.message_id.is_some()) {
        if let Some(mid) = e.message_id.as_deref().and_then(|m| crate::whatsapp::types::MessageId::parse(m).ok()) {
            if let Some((_, m)) = crate::whatsapp::messages::load(state, ws, &mid).await? {
                e.status = Some(m.status);
                e.provider_message_id = m.provider_message_id;
            }
        }
    }
    Ok((entries, page.next.map(|c| c.as_str().to_owned())))
}
