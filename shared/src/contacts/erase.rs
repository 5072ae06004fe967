//! GDPR erasure of a contact everywhere: the contact record, its conversations with their timelines,
//! every message to or from the number (records and provider-id pointers), the 24-hour window records,
//! broadcast recipient records and the consent history. Messages are removed, not kept as "deleted
//! contact": a message body is personal data and the platform has no legal duty to keep it. One thing
//! stays: when the contact had opted out, the current opt-out (number + "opted out") is kept as a
//! suppression record, so a later import or API send can never message them again.

use serde::Serialize;
use utoipa::ToSchema;

use super::store;
use crate::auth::WorkspaceId;
use crate::http::ApiError;
use crate::inbox::conversations;
use crate::ports::{Condition, Item, Key, Query};
use crate::state::AppState;
use crate::whatsapp::messages::{self, Message};
use crate::whatsapp::types::{PhoneNumber, Recipient};

#[derive(Debug, Default, Serialize, ToSchema)]
pub struct Erased {
    pub conversations: usize,
    pub timeline_entries: usize,
    pub messages: usize,
    pub broadcast_recipients: usize,
    /// True when an opt-out was kept as a suppression record.
    pub suppression_kept: bool,
}

/// Deletes every item of a partition; returns how many.
async fn clear_partition(state: &AppState, pk: &str) -> Result<usize, ApiError> {
    let mut n = 0;
    loop {
        let page = state.table.query(Query::partition(pk).limit(200)).await?;
        for item in &page.items {
            state.table.delete(&item.key, Condition::None).await?;
        }
        n += page.items.len();
        if page.items.is_empty() {
            return Ok(n);
        }
    }
}

async fn delete_message(state: &AppState, ws: &WorkspaceId, m: &Message, provider: Option<&str>) -> Result<(), ApiError> {
    if let (Some(pid), Some(provider)) = (&m.provider_message_id, provider) {
        state.table.delete(&crate::whatsapp::worker::provider_message_key(provider, pid), Condition::None).await?;
    }
    state.table.delete(&messages::message_key(ws, &m.id), Condition::None).await?;
    Ok(())
}

pub async fn erase(state: &AppState, ws: &WorkspaceId, phone: &PhoneNumber) -> Result<Erased, ApiError> {
    let Some((_, contact)) = store::load(state, ws, phone).await? else { return Err(ApiError::NotFound(format!("no contact {}", phone.as_str()))) };
    let mut out = Erased::default();
    let channels = crate::whatsapp::channels::list_all(state, ws).await?;
    let provider_of = |id: &crate::whatsapp::types::ChannelId| channels.iter().find(|c| &c.id == id).map(|c| c.provider.as_str());
    let recipient = Recipient::Phone(phone.clone());
    // Conversations and their timelines, through the per-channel pointers.
    for ch in channels.iter().map(|c| c.id.clone()).chain(contact.channels.iter().cloned()) {
        let pointer = conversations::by_contact_key(ws, &ch, phone);
        state.table.delete(&messages::contact_key(ws, &ch, &recipient), Condition::None).await?;
        let Some(p) = state.table.get(&pointer).await? else { continue };
        if let Some(id) = p.attrs.get("conversation").and_then(|v| v.as_str()).and_then(|s| conversations::ConversationId::parse(s).ok()) {
            out.timeline_entries += clear_partition(state, &conversations::timeline_partition(ws, &id)).await?;
            state.table.delete(&conversations::conversation_key(ws, &id), Condition::None).await?;
            out.conversations += 1;
        }
        state.table.delete(&pointer, Condition::None).await?;
    }
    // Every message to the number (replies, API sends, broadcasts): a scan of the workspace's message log,
    // which is rare enough (an erasure request) to afford.
    let mut after = None;
    loop {
        let page = state.table.query(Query::partition(format!("WS#{ws}#MSG")).limit(500).after(after)).await?;
        for item in &page.items {
            let m: Message = item.parse()?;
            if m.to == recipient {
                delete_message(state, ws, &m, provider_of(&m.channel_id)).await?;
                out.messages += 1;
            }
        }
        match page.next {
            Some(c) => after = Some(c),
            None => break,
        }
    }
    out.broadcast_recipients = crate::broadcasts::store::erase_recipient(state, ws, phone).await?;
    let suppressed = crate::inbox::consent::is_opted_out(state, ws, phone).await?;
    clear_partition(state, &format!("WS#{ws}#CONSENT#{}", phone.as_str())).await?;
    if suppressed {
        let keep = crate::inbox::consent::ConsentChange { contact: phone.clone(), opted_out: true, at: state.clock.now().to_rfc3339(), how: "kept as a suppression record when the contact was erased".into() };
        state.table.put(Item::of(Key::new(format!("WS#{ws}#CONSENT"), phone.as_str().to_owned()), &keep), Condition::None).await?;
    } else {
        state.table.delete(&Key::new(format!("WS#{ws}#CONSENT"), phone.as_str().to_owned()), Condition::None).await?;
    }
    out.suppression_kept = suppressed;
    state.table.delete(&store::contact_key(ws, phone), Condition::None).await?;
    Ok(out)
}
