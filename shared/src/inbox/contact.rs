//! What the inbox shows beside a conversation and finds for a search: the contact's profile (name,
//! phone, tags and fields the bot captured, consent) with their other conversations, and a search over
//! recent conversations' contacts and messages.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::consent;
use super::conversations::{self, Conversation, ConversationFilter, ConversationId, Entry};
use crate::auth::{Action, Workspace};
use crate::http::ApiError;
use crate::state::AppState;

/// The contact side panel.
#[derive(Debug, Serialize, ToSchema)]
pub struct ContactPanel {
    pub name: Option<String>,
    pub phone: String,
    pub tags: Vec<String>,
    pub fields: std::collections::BTreeMap<String, String>,
    pub opted_out: bool,
    /// The contact's other conversations (on any channel), newest activity first.
    pub conversations: Vec<Conversation>,
}

pub async fn panel(state: &AppState, ws: &Workspace, id: &ConversationId) -> Result<ContactPanel, ApiError> {
    ws.require(Action::WorkspaceRead)?;
    let conv = conversations::load(state, ws.id(), id).await?;
    let data = crate::flows::runtime::load_contact(state, ws.id(), conv.contact.as_str()).await?;
    let mut others = Vec::new();
    for ch in crate::whatsapp::channels::list(state, ws).await? {
        if let Some(other) = conversations::find(state, ws.id(), &ch.channel.id, &conv.contact).await? {
            if other.id != conv.id {
                others.push(other);
            }
        }
    }
    others.sort_by(|a, b| b.updated_at.cmp(&a.updated_at));
    Ok(ContactPanel {
        name: conv.contact_name.clone(),
        phone: conv.contact.as_str().to_owned(),
        tags: data.tags.into_iter().collect(),
        fields: data.fields,
        opted_out: consent::is_opted_out(state, ws.id(), &conv.contact).await?,
        conversations: others,
    })
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct SearchQuery {
    /// At least two characters, matched case-insensitively.
    pub q: String,
}

/// A message line that matched, with its conversation.
#[derive(Debug, Serialize, ToSchema)]
pub struct MessageHit {
    pub conversation_id: ConversationId,
    pub contact: String,
    pub contact_name: Option<String>,
    pub entry: Entry,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SearchResults {
    /// Conversations whose contact name, phone or labels match.
    pub conversations: Vec<Conversation>,
    pub messages: Vec<MessageHit>,
}

/// How far a search reaches: the most recent conversations and the newest lines of each. The table has
/// no text index, so search reads these pages; older history is found by paging the timeline.
const SEARCH_CONVERSATIONS: u32 = 100;
const SEARCH_LINES: u32 = 100;
const SEARCH_HITS: usize = 50;

/// Whether `haystack` contains the lowercased `needle`.
fn matches(haystack: &str, needle: &str) -> bool {
    haystack.to_lowercase().contains(needle)
}

pub async fn search(state: &AppState, ws: &Workspace, q: &str) -> Result<SearchResults, ApiError> {
    ws.require(Action::WorkspaceRead)?;
    let needle = q.trim().to_lowercase();
    if needle.chars().count() < 2 || needle.chars().count() > 100 {
        return Err(ApiError::Validation("search for 2–100 characters".into()));
    }
    let digits: String = needle.chars().filter(char::is_ascii_digit).collect();
    let filter = ConversationFilter { limit: Some(SEARCH_CONVERSATIONS), ..Default::default() };
    let (recent, _) = conversations::list(state, ws.id(), &filter).await?;
    let mut out = SearchResults { conversations: vec![], messages: vec![] };
    for c in &recent {
        let by_phone = digits.len() >= 3 && c.contact.as_str().contains(&digits);
        if by_phone || c.contact_name.as_deref().is_some_and(|n| matches(n, &needle)) || c.labels.iter().any(|l| matches(l, &needle)) {
            out.conversations.push(c.clone());
        }
        if out.messages.len() >= SEARCH_HITS {
            continue;
        }
        let lines = conversations::recent_lines(state, ws.id(), &c.id, SEARCH_LINES).await?;
        for entry in lines.into_iter().filter(|e| !e.deleted && e.text.as_deref().is_some_and(|t| matches(t, &needle))) {
            out.messages.push(MessageHit { conversation_id: c.id.clone(), contact: c.contact.as_str().to_owned(), contact_name: c.contact_name.clone(), entry });
        }
    }
    out.messages.truncate(SEARCH_HITS);
    Ok(out)
}
