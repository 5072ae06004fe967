//! Outbound messages: the record is written `queued` with its idempotency marker and an outbox entry in
//! one transaction, then queued for `worker-whatsapp-send`; status only moves forward. Free-form
//! messages outside the 24-hour customer service window are refused up front unless a template
//! fallback is given.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::channels::{self, Channel};
use super::types::{ChannelId, Content, MessageId, MessageStatus, Recipient};
use crate::auth::{Action, Workspace, WorkspaceId};
use crate::http::ApiError;
use crate::ports::{Condition, Cursor, Item, Key, OutgoingMessage, Query, TableError, TxWrite};
use crate::state::AppState;

/// WhatsApp's customer service window.
pub const SERVICE_WINDOW_SECONDS: i64 = 24 * 3600;

#[derive(Deserialize, ToSchema)]
pub struct NewMessage {
    pub channel_id: String,
    pub to: String,
    #[serde(flatten)]
    pub content: Content,
    /// Sent instead of a free-form message when the contact is outside the 24-hour window.
    pub template_fallback: Option<Content>,
    /// Your id for this message: repeating a send with the same id returns the first message and sends nothing.
    pub client_message_id: Option<String>,
    /// With `"type": "template"`: a template of the channel's library by id (else `name` + `language`
    /// find one there, when synced).
    pub template_id: Option<String>,
    /// With a library template: its variables by component, checked against it (422 names the
    /// missing or extra one). Replaces `variables`.
    pub template_variables: Option<super::templates_render::Variables>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct MessageError {
    pub class: String,
    pub code: String,
    pub message: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct StatusChange {
    pub status: MessageStatus,
    pub at: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct Message {
    pub id: MessageId,
    pub channel_id: ChannelId,
    pub to: Recipient,
    pub content: Content,
    pub status: MessageStatus,
    pub client_message_id: Option<String>,
    pub provider_message_id: Option<String>,
    /// True when the contact was outside the window and the template fallback was sent.
    pub used_template_fallback: bool,
    pub attempts: u32,
    /// The last provider error: final when `status` is `failed`, otherwise the reason for a pending retry.
    pub error: Option<MessageError>,
    pub history: Vec<StatusChange>,
    pub created_at: String,
    pub updated_at: String,
    pub created_by: String,
    /// The broadcast this message belongs to; the broadcast's counters move with its status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub broadcast: Option<String>,
    /// The claim of the send job that moved it to `sending` (see `SendJob::claim`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(ignore)]
    pub claim: Option<String>,
}

/// A queued send job.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SendJob {
    pub workspace: WorkspaceId,
    pub message: MessageId,
    pub attempt: u32,
    /// Set by a producer that may queue the same message twice (a broadcast page redone after a crash):
    /// each run queues under its own claim, and the first job to move the message to `sending` owns it,
    /// so a copy under another claim drops it instead of sending again. Retries and waits of a job keep
    /// its claim; a job redelivered after a crash still owns its message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claim: Option<String>,
}

pub fn message_key(ws: &WorkspaceId, id: &MessageId) -> Key {
    Key::new(format!("WS#{ws}#MSG"), id.to_string())
}

/// The stored form of a message, indexed by channel for the message log.
pub fn item_of(ws: &WorkspaceId, m: &Message) -> Item {
    Item::of(message_key(ws, &m.id), m).with_gsi1(format!("WS#{ws}#CHAN#{}#MSG", m.channel_id), m.id.to_string())
}

fn dedupe_key(ws: &WorkspaceId, client_id: &str) -> Key {
    Key::new(format!("WS#{ws}#CMID"), client_id.to_owned())
}

/// Where inbound processing records a contact's last message (feeds the 24-hour window).
pub fn contact_key(ws: &WorkspaceId, channel: &ChannelId, to: &Recipient) -> Key {
    Key::new(format!("WS#{ws}#CHAN#{channel}#CONTACT"), to.as_str().to_owned())
}

fn check_client_id(id: &str) -> Result<(), ApiError> {
    let ok = (1..=128).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b"._:-".contains(&b));
    ok.then_some(()).ok_or_else(|| ApiError::Validation("client_message_id must be 1–128 characters of letters, digits and . _ : -".into()))
}

/// Whether `to` wrote to the channel within the last 24 hours.
pub async fn window_open(state: &AppState, ws: &WorkspaceId, channel: &ChannelId, to: &Recipient) -> Result<bool, ApiError> {
    let Some(item) = state.table.get(&contact_key(ws, channel, to)).await? else { return Ok(false) };
    let last = item.attrs.get("last_inbound_at").and_then(|v| v.as_str()).and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok());
    Ok(last.is_some_and(|t| (state.clock.now() - t.with_timezone(&chrono::Utc)).num_seconds() < SERVICE_WINDOW_SECONDS))
}

/// The content to send: `content` inside the window (or when it is a template), else the fallback.
async fn resolve_content(state: &AppState, ws: &WorkspaceId, channel: &Channel, to: &Recipient, req: &NewMessage) -> Result<(Content, bool), ApiError> {
    let content = super::templates_store::content_for_send(state, ws, channel, &req.content, req.template_id.as_deref(), req.template_variables.as_ref()).await?;
    let content = with_attachment(state, ws, channel, content).await?;
    content.check_for(channel.provider)?;
    if let Some(fallback) = &req.template_fallback {
        if !matches!(fallback, Content::Template { .. }) {
            return Err(ApiError::Validation("template_fallback must be a template (\"type\": \"template\")".into()));
        }
        fallback.check_for(channel.provider)?;
    }
    let needs_window = channel.provider.enforces_service_window() && !matches!(content, Content::Template { .. }) && matches!(to, Recipient::Phone(_));
    if !needs_window || window_open(state, ws, &channel.id, to).await? {
        return Ok((content, false));
    }
    match &req.template_fallback {
        Some(t) => Ok((t.clone(), true)),
        None => Err(ApiError::Refused {
            code: "outside_window",
            message: format!("{} has not written to this channel in the last 24 hours, so WhatsApp only allows a template; send a template or add `template_fallback`", to.as_str()),
        }),
    }
}

/// An attachment send filled in from the stored upload (kind, type, name are never the caller's), and
/// refused up front where the channel could not deliver it.
async fn with_attachment(state: &AppState, ws: &WorkspaceId, channel: &Channel, content: Content) -> Result<Content, ApiError> {
    let Content::Attachment { attachment_id, caption, .. } = content else { return Ok(content) };
    let a = crate::inbox::attachments::for_send(state, ws, &attachment_id).await?;
    let mime = a.mime.clone().unwrap_or_default();
    if mime == "image/webp" && channel.provider != super::types::Provider::Whapi {
        return Err(ApiError::Validation(format!("{} sends WebP only as stickers; attach the picture as JPEG or PNG", channel.provider.as_str())));
    }
    if channel.provider == super::types::Provider::Twilio && state.whatsapp.public_url.is_none() {
        return Err(ApiError::Refused { code: "public_url_missing", message: "Twilio fetches attachments from this platform: set WEBTRIGGER_PUBLIC_URL to the address Twilio can reach".into() });
    }
    Ok(Content::Attachment { attachment_id: a.id.to_string(), caption, kind: a.kind.unwrap_or(super::types::MediaKind::Document), mime, filename: Some(a.filename) })
}

/// Validates, writes the message `queued` (once per `client_message_id`), and queues it.
/// Returns the message and whether it was created by this call.
pub async fn send(state: &AppState, ws: &Workspace, req: NewMessage) -> Result<(Message, bool), ApiError> {
    ws.require(Action::MessagesSend)?;
    if let Some(id) = &req.client_message_id {
        check_client_id(id)?;
        if let Some(existing) = find_duplicate(state, ws.id(), id).await? {
            return Ok((existing, false));
        }
    }
    let channel_id = ChannelId::parse(&req.channel_id).map_err(|_| ApiError::Validation(format!("no channel `{}`", req.channel_id.chars().take(40).collect::<String>())))?;
    let (_, channel) = channels::load(state, ws.id(), &channel_id).await.map_err(|e| match e {
        ApiError::NotFound(m) => ApiError::Validation(m),
        e => e,
    })?;
    let to = Recipient::parse(&req.to)?;
    if matches!(to, Recipient::Group(_)) && !channel.provider.capabilities().groups {
        return Err(ApiError::Refused { code: "unsupported_capability", message: format!("{} cannot send to groups", channel.provider.as_str()) });
    }
    if let Recipient::Phone(phone) = &to {
        if crate::inbox::consent::is_opted_out(state, ws.id(), phone).await? {
            return Err(ApiError::Refused { code: "opted_out", message: format!("{} opted out of messages (replied STOP); they must send START to opt back in", phone.as_str()) });
        }
    }
    let (content, used_template_fallback) = resolve_content(state, ws.id(), &channel, &to, &req).await?;
    let now = state.clock.now().to_rfc3339();
    let message = Message {
        id: MessageId::new(state.clock.new_id()),
        channel_id,
        to,
        content,
        status: MessageStatus::Queued,
        client_message_id: req.client_message_id.clone(),
        provider_message_id: None,
        used_template_fallback,
        attempts: 0,
        error: None,
        history: vec![StatusChange { status: MessageStatus::Queued, at: now.clone() }],
        created_at: now.clone(),
        updated_at: now,
        created_by: ws.principal().actor(),
        broadcast: None,
        claim: None,
    };
    let item = item_of(ws.id(), &message);
    let outbox = Item::of(Key::new(OUTBOX, format!("{:013}#{}", state.clock.now().timestamp_millis(), message.id)), &SendJob { workspace: ws.id().clone(), message: message.id.clone(), attempt: 1, claim: None });
    let outbox_key = outbox.key.clone();
    let mut writes = vec![TxWrite::Put { item, condition: Condition::NotExists }, TxWrite::Put { item: outbox, condition: Condition::NotExists }];
    if let Some(cid) = &message.client_message_id {
        let marker = Item::new(dedupe_key(ws.id(), cid)).with_attr("message", message.id.as_str()).with_expiry(state.clock.epoch_seconds() + 30 * 86_400);
        writes.push(TxWrite::Put { item: marker, condition: Condition::NotExists });
    }
    match state.table.transact(writes).await {
        Ok(()) => {}
        // A concurrent send with the same client id won the marker: answer with its message.
        Err(TableError::TransactionCancelled { index: 2 }) => {
            let cid = message.client_message_id.as_deref().unwrap_or_default();
            return find_duplicate(state, ws.id(), cid).await?.map(|m| (m, false)).ok_or_else(|| ApiError::Conflict("a send with this client_message_id is in progress".into()));
        }
        Err(e) => return Err(e.into()),
    }
    enqueue(state, &SendJob { workspace: ws.id().clone(), message: message.id.clone(), attempt: 1, claim: None }, std::time::Duration::ZERO).await?;
    if let Recipient::Phone(phone) = &message.to {
        crate::contacts::store::seen(state, ws.id(), phone, None, &message.channel_id, None).await;
    }
    if let Err(e) = state.table.delete(&outbox_key, Condition::None).await {
        tracing::warn!(error = %e, "outbox entry not cleared; the sweeper will re-queue (the worker skips sent messages)");
    }
    Ok((message, true))
}

async fn find_duplicate(state: &AppState, ws: &WorkspaceId, client_id: &str) -> Result<Option<Message>, ApiError> {
    let Some(marker) = state.table.get(&dedupe_key(ws, client_id)).await? else { return Ok(None) };
    let Some(id) = marker.attrs.get("message").and_then(|v| v.as_str()).and_then(|s| MessageId::parse(s).ok()) else { return Ok(None) };
    Ok(state.table.get(&message_key(ws, &id)).await?.map(|i| i.parse()).transpose()?)
}

pub async fn enqueue(state: &AppState, job: &SendJob, delay: std::time::Duration) -> Result<(), ApiError> {
    let body = serde_json::to_string(job).expect("job serialises");
    state.queue.send(&crate::queues::whatsapp_send().name, vec![OutgoingMessage::new(body).delayed(delay.min(crate::ports::queue::MAX_DELAY))]).await?;
    Ok(())
}

const OUTBOX: &str = "OUTBOX#whatsapp";
/// Outbox entries older than this were lost between record and enqueue.
pub const OUTBOX_GRACE_MS: i64 = 120_000;

/// Re-queues messages whose outbox entry outlived the grace period (the process died between writing
/// the record and queueing it). The worker skips messages that are no longer queued, so this never
/// sends twice. Returns how many were re-queued.
pub async fn sweep_outbox(state: &AppState) -> Result<usize, ApiError> {
    let cutoff = format!("{:013}", state.clock.now().timestamp_millis() - OUTBOX_GRACE_MS);
    let page = state.table.query(Query::partition(OUTBOX).between("0", format!("{cutoff}~")).limit(100)).await?;
    for item in &page.items {
        let job: SendJob = item.parse()?;
        enqueue(state, &job, std::time::Duration::ZERO).await?;
        state.table.delete(&item.key, Condition::None).await?;
        tracing::warn!(message = %job.message, "re-queued a WhatsApp message lost before it was queued");
    }
    Ok(page.items.len())
}

pub async fn load(state: &AppState, ws: &WorkspaceId, id: &MessageId) -> Result<Option<(Item, Message)>, ApiError> {
    match state.table.get(&message_key(ws, id)).await? {
        Some(item) => {
            let m = item.parse()?;
            Ok(Some((item, m)))
        }
        None => Ok(None),
    }
}

/// Applies `change` to the message if it still allows it (optimistic version check, retried on races).
/// `change` returns false to leave the message untouched. Returns the stored message.
pub async fn modify(state: &AppState, ws: &WorkspaceId, id: &MessageId, change: impl Fn(&mut Message) -> bool) -> Result<Option<Message>, ApiError> {
    for _ in 0..5 {
        let Some((item, mut m)) = load(state, ws, id).await? else { return Ok(None) };
        let before = m.status;
        if !change(&mut m) {
            return Ok(Some(m));
        }
        m.updated_at = state.clock.now().to_rfc3339();
        let mut updated = Item::of(item.key.clone(), &m).with_version(item.version + 1);
        updated.gsi1 = item.gsi1.clone();
        // A broadcast's counters move in the same transaction as the status, so each change counts once.
        let written = match crate::broadcasts::fanout::counter_write(ws, &m, before) {
            Some(counters) => state.table.transact(vec![TxWrite::Put { item: updated, condition: Condition::VersionIs(item.version) }, counters]).await,
            None => state.table.put(updated, Condition::VersionIs(item.version)).await,
        };
        match written {
            Ok(()) => return Ok(Some(m)),
            Err(TableError::ConditionFailed | TableError::TransactionCancelled { index: 0 }) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(ApiError::Conflict("the message kept changing; retry".into()))
}

/// What a `message.status` event (live, and to event webhooks) says of a message whose status moved at `at`.
pub fn status_event(m: &Message, at: &str) -> serde_json::Value {
    serde_json::json!({"message_id": m.id, "channel_id": m.channel_id, "to": m.to, "status": m.status, "error": m.error, "at": at})
}

/// Moves a message forward to `status` (ignored when that would go backwards), at `at`.
pub fn advance(m: &mut Message, status: MessageStatus, at: &str) -> bool {
    if !m.status.can_become(status) {
        return false;
    }
    if m.status == MessageStatus::Failed {
        // Delivered after all: the failure report was wrong or out of date (it stays in the history).
        m.error = None;
    }
    m.status = status;
    m.history.push(StatusChange { status, at: at.to_owned() });
    true
}

pub async fn get(state: &AppState, ws: &Workspace, id: &MessageId) -> Result<Message, ApiError> {
    ws.require(Action::WorkspaceRead)?;
    load(state, ws.id(), id).await?.map(|(_, m)| m).ok_or_else(|| ApiError::NotFound(format!("no message `{id}`")))
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct MessageFilter {
    pub channel_id: Option<String>,
    pub status: Option<MessageStatus>,
    pub cursor: Option<String>,
    pub limit: Option<u32>,
}

/// Newest first; with `status`, pages are filtered after reading (a page may hold fewer than `limit`).
pub async fn list(state: &AppState, ws: &Workspace, f: &MessageFilter) -> Result<(Vec<Message>, Option<String>), ApiError> {
    ws.require(Action::WorkspaceRead)?;
    let after = f.cursor.as_deref().map(Cursor::parse).transpose()?;
    let limit = f.limit.unwrap_or(50).clamp(1, 100);
    let query = match &f.channel_id {
        Some(c) => Query::gsi1(format!("WS#{}#CHAN#{}#MSG", ws.id(), ChannelId::parse(c)?)),
        None => Query::partition(format!("WS#{}#MSG", ws.id())),
    };
    let page = state.table.query(query.reverse().limit(limit).after(after)).await?;
    let messages = page.items.iter().map(Item::parse::<Message>).collect::<Result<Vec<_>, _>>()?;
    let messages = messages.into_iter().filter(|m| f.status.is_none_or(|s| m.status == s)).collect();
    Ok((messages, page.next.map(|c| c.as_str().to_owned())))
}
