//! `worker-webhook-process`: turns a stored provider webhook into inbox changes. Idempotent: the same
//! provider message id never creates a second message, statuses only move forward, and replaying a raw
//! event gives the same result.

use async_trait::async_trait;
use aws_lambda_events::sqs::SqsMessage;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::consent::{self, ConsentChange};
use super::conversations::{self, Conversation, Entry, LastMessage};
use super::parse::{self, InboundEvent, InboundMessage, StatusUpdate};
use crate::auth::WorkspaceId;
use crate::http::ApiError;
use crate::ports::{Condition, Item, Key, Query, TableError, TxWrite};
use crate::state::AppState;
use crate::whatsapp::channels::{self, ChannelStatus};
use crate::whatsapp::messages::{self, advance, MessageError};
use crate::whatsapp::types::{ChannelId, MessageId, Provider};
use crate::worker::{JobError, JobHandler};

/// Raw events are kept this long for replay.
pub const RAW_EVENT_TTL_SECONDS: i64 = 14 * 86_400;

/// A provider webhook as received (after its signature was checked).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct RawEvent {
    pub id: String,
    pub provider: Provider,
    pub channel_id: ChannelId,
    pub content_type: String,
    pub body: String,
    pub received_at: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ProcessJob {
    pub workspace: WorkspaceId,
    pub event: String,
}

pub fn raw_event_key(ws: &WorkspaceId, id: &str) -> Key {
    Key::new(format!("WS#{ws}#HOOKEV"), id.to_owned())
}

pub async fn enqueue(state: &AppState, ws: &WorkspaceId, event: &str) -> Result<(), ApiError> {
    let body = serde_json::to_string(&ProcessJob { workspace: ws.clone(), event: event.to_owned() }).expect("job serialises");
    state.queue.send(&crate::queues::webhook_process().name, vec![crate::ports::OutgoingMessage::new(body)]).await?;
    Ok(())
}

/// Queues a stored raw event again; `NotFound` when it expired or never existed.
pub async fn requeue(state: &AppState, ws: &WorkspaceId, event: &str) -> Result<(), ApiError> {
    if state.table.get(&raw_event_key(ws, event)).await?.is_none() {
        return Err(ApiError::NotFound(format!("webhook event {event} expired or never existed")));
    }
    enqueue(state, ws, event).await
}

/// Stored raw events, newest first.
pub async fn list_raw(state: &AppState, ws: &WorkspaceId, limit: u32) -> Result<Vec<RawEvent>, ApiError> {
    let page = state.table.query(Query::partition(format!("WS#{ws}#HOOKEV")).reverse().limit(limit.clamp(1, 100))).await?;
    Ok(page.items.iter().map(Item::parse).collect::<Result<_, _>>()?)
}

pub struct WebhookWorker;

#[async_trait]
impl JobHandler for WebhookWorker {
    async fn handle(&self, state: &AppState, message: &SqsMessage) -> Result<(), JobError> {
        let job: ProcessJob = serde_json::from_str(message.body.as_deref().unwrap_or_default()).map_err(|e| JobError::Permanent(format!("not a webhook job: {e}")))?;
        process(state, &job.workspace, &job.event).await.map(drop).map_err(|e| match e {
            ApiError::NotFound(m) | ApiError::Validation(m) => JobError::Permanent(m),
            e => JobError::retry(e),
        })
    }
}

/// Applies one stored event. Returns how many normalized events it held.
pub async fn process(state: &AppState, ws: &WorkspaceId, event_id: &str) -> Result<usize, ApiError> {
    let raw: RawEvent = state.table.get(&raw_event_key(ws, event_id)).await?.ok_or_else(|| ApiError::NotFound(format!("webhook event {event_id} expired or never existed")))?.parse()?;
    let events = match raw.provider {
        Provider::Meta => parse::meta(raw.body.as_bytes()).map_err(|e| ApiError::Validation(e.to_string()))?,
        Provider::Whapi => parse::whapi(raw.body.as_bytes()).map_err(|e| ApiError::Validation(e.to_string()))?,
        Provider::Twilio if raw.content_type.starts_with("application/json") => vec![InboundEvent::Ignored("Twilio JSON event".into())],
        Provider::Twilio => parse::twilio(&form_urlencoded::parse(raw.body.as_bytes()).into_owned().collect::<Vec<_>>()),
    };
    for event in &events {
        match event {
            InboundEvent::Message(m) => inbound(state, ws, &raw, m).await?,
            InboundEvent::Status(s) => status(state, ws, raw.provider, s).await?,
            InboundEvent::Edit { provider_message_id, text } => edit(state, ws, raw.provider, provider_message_id, Some(text)).await?,
            InboundEvent::Revoke { provider_message_id } => edit(state, ws, raw.provider, provider_message_id, None).await?,
            InboundEvent::ChannelHealth { status } => health(state, ws, &raw.channel_id, status).await?,
            InboundEvent::Ignored(why) => tracing::debug!(event = %raw.id, %why, "webhook item ignored"),
        }
    }
    Ok(events.len())
}

pub(crate) fn inbound_marker(ws: &WorkspaceId, provider: Provider, id: &str) -> Key {
    Key::new(format!("WS#{ws}#INMSG"), format!("{}#{id}", provider.as_str()))
}

fn preview(m: &InboundMessage) -> String {
    m.text.clone().unwrap_or_else(|| format!("[{}]", m.kind)).chars().take(120).collect()
}

async fn inbound(state: &AppState, ws: &WorkspaceId, raw: &RawEvent, m: &InboundMessage) -> Result<(), ApiError> {
    let (conv, created) = conversations::find_or_create(state, ws, &raw.channel_id, &m.from, m.name.as_deref()).await?;
    let at = chrono::DateTime::from_timestamp(m.timestamp, 0).filter(|_| m.timestamp > 0).map_or_else(|| raw.received_at.clone(), |t| t.to_rfc3339());
    let entry = Entry { id: m.provider_message_id.clone(), direction: "inbound".into(), kind: m.kind.clone(), text: m.text.clone(), media: m.media.clone(), media_mime: m.media_mime.clone(), media_filename: m.media_filename.clone(), provider_message_id: Some(m.provider_message_id.clone()), message_id: None, status: None, author: m.name.clone(), edited: false, deleted: false, at: at.clone() };
    // Dedupe first: the provider message id is claimed in the same transaction that writes the timeline line.
    // The line's key holds `at`, which is the receipt time when the provider sends no timestamp (Twilio), so
    // a redelivery would otherwise add a second line; and claim and line land together or not at all.
    let entry_key = conversations::entry_key(ws, &conv.id, &entry);
    let marker = Item::new(inbound_marker(ws, raw.provider, &m.provider_message_id)).with_attr("conversation", conv.id.as_str()).with_attr("entry_sk", entry_key.sk.clone()).with_expiry(state.clock.epoch_seconds() + 90 * 86_400);
    let claim = vec![TxWrite::Put { item: marker, condition: Condition::NotExists }, TxWrite::Put { item: Item::of(entry_key, &entry), condition: Condition::None }];
    match state.table.transact(claim).await {
        Ok(()) => crate::live::publish(state, ws, "message.new", json!({"conversation_id": conv.id, "entry": entry})).await,
        Err(TableError::TransactionCancelled { index: 0 }) => return Ok(()),
        Err(e) => return Err(e.into()),
    }
    let received = state.clock.now().to_rfc3339();
    let last = LastMessage { direction: "inbound".into(), preview: preview(m), at: at.clone() };
    let name = m.name.clone();
    let conv = conversations::modify(state, ws, &conv.id, |c| {
        c.unread += 1;
        c.last_inbound_at = Some(received.clone());
        if c.last_message.as_ref().is_none_or(|l| l.at <= last.at) {
            c.last_message = Some(last.clone());
        }
        if name.is_some() {
            c.contact_name = name.clone();
        }
        if matches!(c.status, conversations::ConversationStatus::Resolved | conversations::ConversationStatus::Snoozed) {
            (c.status, c.snoozed_until) = (conversations::ConversationStatus::Open, None);
        }
    })
    .await?;
    // The 24-hour window opens with every inbound message.
    let contact = messages::contact_key(ws, &raw.channel_id, &crate::whatsapp::types::Recipient::Phone(m.from.clone()));
    state.table.put(Item::new(contact).with_attr("last_inbound_at", received.clone()), Condition::None).await?;
    if let Some(opted_out) = m.text.as_deref().and_then(consent::keyword) {
        let how = format!("keyword {} on {}", m.text.as_deref().unwrap_or_default().trim().to_uppercase(), raw.channel_id);
        consent::record(state, ws, &ConsentChange { contact: m.from.clone(), opted_out, at: received.clone(), how }).await?;
    }
    crate::contacts::store::seen(state, ws, &m.from, m.name.as_deref(), &raw.channel_id, Some(&received)).await;
    let broadcast = crate::broadcasts::fanout::on_inbound(state, ws, &conv.id, &m.from).await;
    let bot_input = crate::flows::runtime::Inbound { provider_message_id: &m.provider_message_id, text: m.text.as_deref(), reply_id: m.reply_id.as_deref(), broadcast_reply: broadcast.as_deref() };
    crate::flows::runtime::on_inbound(state, ws, &conv, created, &bot_input).await?;
    notify_assignee(state, ws, &conv, m).await;
    let data = json!({"conversation_id": conv.id, "channel_id": raw.channel_id, "from": m.from, "name": m.name, "type": m.kind, "text": m.text, "media": m.media, "reply_id": m.reply_id, "provider_message_id": m.provider_message_id, "at": at});
    crate::events_out::emit(state, ws, crate::events_out::EventType::MessageInbound, data).await;
    Ok(())
}

/// A push notification to the assignee's devices; failures are logged, never fail the webhook.
async fn notify_assignee(state: &AppState, ws: &WorkspaceId, conv: &Conversation, m: &InboundMessage) {
    let Some(user) = conv.assignee.as_deref().and_then(|u| crate::auth::UserId::parse(u).ok()) else { return };
    let title = conv.contact_name.clone().unwrap_or_else(|| conv.contact.as_str().to_owned());
    let payload = json!({"title": title, "body": preview(m), "url": format!("/inbox?conversation={}", conv.id), "tag": conv.id});
    if let Err(e) = crate::push::devices::notify_user(state, &user, &payload).await {
        tracing::warn!(workspace = %ws, error = %e, "assignee not notified");
    }
}

async fn status(state: &AppState, ws: &WorkspaceId, provider: Provider, s: &StatusUpdate) -> Result<(), ApiError> {
    let pointer = crate::whatsapp::worker::provider_message_key(provider.as_str(), &s.provider_message_id);
    let Some(p) = state.table.get(&pointer).await? else {
        tracing::info!(provider = provider.as_str(), id = %s.provider_message_id, "status for a message we did not send");
        return Ok(());
    };
    let belongs = p.attrs.get("workspace").and_then(|v| v.as_str()) == Some(ws.as_str());
    let Some(id) = p.attrs.get("message").and_then(|v| v.as_str()).and_then(|m| MessageId::parse(m).ok()).filter(|_| belongs) else { return Ok(()) };
    let at = state.clock.now().to_rfc3339();
    let moved = std::sync::atomic::AtomicBool::new(false);
    let stored = messages::modify(state, ws, &id, |msg| {
        moved.store(advance(msg, s.status, &at), std::sync::atomic::Ordering::Relaxed);
        if moved.load(std::sync::atomic::Ordering::Relaxed) {
            if let Some((code, message)) = &s.error {
                msg.error = Some(MessageError { class: "provider_status".into(), code: code.clone(), message: message.clone() });
            }
        }
        moved.load(std::sync::atomic::Ordering::Relaxed)
    })
    .await?;
    if let (true, Some(msg)) = (moved.into_inner(), stored) {
        let data = messages::status_event(&msg, &at);
        crate::live::publish(state, ws, "message.status", data.clone()).await;
        crate::events_out::emit(state, ws, crate::events_out::EventType::MessageStatus, data).await;
    }
    Ok(())
}

async fn edit(state: &AppState, ws: &WorkspaceId, provider: Provider, provider_id: &str, text: Option<&str>) -> Result<(), ApiError> {
    let Some(marker) = state.table.get(&inbound_marker(ws, provider, provider_id)).await? else { return Ok(()) };
    let (Some(conv), Some(sk)) = (marker.attrs.get("conversation").and_then(|v| v.as_str()), marker.attrs.get("entry_sk").and_then(|v| v.as_str())) else { return Ok(()) };
    let conv = conversations::ConversationId::parse(conv)?;
    let key = Key::new(conversations::timeline_partition(ws, &conv), sk.to_owned());
    let Some(item) = state.table.get(&key).await? else { return Ok(()) };
    let mut entry: Entry = item.parse()?;
    match text {
        Some(t) => (entry.text, entry.edited) = (Some(t.to_owned()), true),
        None => (entry.text, entry.media, entry.deleted) = (None, None, true),
    }
    state.table.put(Item::of(key, &entry), Condition::None).await?;
    crate::live::publish(state, ws, "message.updated", json!({"conversation_id": conv, "entry": entry})).await;
    Ok(())
}

async fn health(state: &AppState, ws: &WorkspaceId, channel: &ChannelId, status: &str) -> Result<(), ApiError> {
    let linked = status == "AUTH";
    let reason = format!("Whapi status {status}");
    channels::modify(state, ws, channel, |c| {
        if linked && c.status == ChannelStatus::Disconnected {
            (c.status, c.status_reason) = (ChannelStatus::Active, None);
        } else if !linked && ["QR", "ERROR", "STOP", "SYNC_ERROR"].contains(&status) {
            (c.status, c.status_reason) = (ChannelStatus::Disconnected, Some(reason.clone()));
        }
    })
    .await?;
    Ok(())
}
