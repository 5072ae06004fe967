//! Broadcast fan-out, one page of contacts per job. A page's records are written idempotently (the
//! message id is derived from broadcast + number, so a re-run finds the same message), its sends and the
//! next page are queued, and only then the page marker is written in one transaction with the page's
//! counters: a job that dies anywhere before the marker is redone without counting or creating anything
//! twice, and a copy arriving after the marker does nothing. Sends for a later local time wait in a
//! time-ordered park the minute tick releases. Also: the status-counter write every message change
//! carries, and reply attribution.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::store::{self, counters_key, recipient_partition, sub, Recipient};
use super::types::{content_for, status_deltas, Broadcast, BroadcastId, BroadcastStatus, SendAt};
use crate::auth::WorkspaceId;
use crate::contacts::audience::{self, Audience};
use crate::contacts::types::Contact;
use crate::http::ApiError;
use crate::ports::{Condition, Cursor, Item, Key, OutgoingMessage, Query, TableError, TxWrite};
use crate::state::AppState;
use crate::whatsapp::messages::{self, Message, MessageError, SendJob, StatusChange};
use crate::whatsapp::types::{MessageId, MessageStatus, PhoneNumber, Recipient as To};

/// Contacts read per fan-out job.
pub const PAGE: u32 = 100;
/// How long after a broadcast an inbound message counts as a reply to it.
pub const REPLY_WINDOW_SECS: i64 = 72 * 3600;
const PARK: &str = "BCASTPARK";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FanoutJob {
    pub workspace: WorkspaceId,
    pub broadcast: BroadcastId,
    pub page: u32,
    pub cursor: Option<String>,
}

/// The counter write for a broadcast message moving from `before` to its current status.
pub fn counter_write(ws: &WorkspaceId, m: &Message, before: MessageStatus) -> Option<TxWrite> {
    let id = BroadcastId::parse(m.broadcast.as_deref()?).ok()?;
    let deltas = status_deltas(before, m.status);
    (!deltas.is_empty()).then(|| TxWrite::Add { key: counters_key(ws, &id), deltas })
}

/// The same message id for the same broadcast and number, every time.
pub fn message_id_for(b: &BroadcastId, phone: &PhoneNumber) -> MessageId {
    let ts = ulid::Ulid::from_string(&b.as_str()[3..]).map(|u| u.timestamp_ms()).unwrap_or_default();
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, format!("{b}#{}", phone.as_str()).as_bytes());
    let mut random = [0u8; 16];
    random[6..].copy_from_slice(&digest.as_ref()[..10]);
    MessageId::new(ulid::Ulid::from_parts(ts, u128::from_be_bytes(random)))
}

pub fn last_broadcast_key(ws: &WorkspaceId, phone: &PhoneNumber) -> Key {
    Key::new(format!("WS#{ws}#LASTBCAST"), phone.as_str().to_owned())
}

/// How long to wait before sending to `c` (local-time broadcasts), from `now`.
pub fn delay_for(send_at: &SendAt, c: &Contact, now: chrono::DateTime<chrono::Utc>) -> Duration {
    let SendAt::LocalTime { date, time, default_offset } = send_at else { return Duration::ZERO };
    let offset = c.time_zone.as_deref().or(default_offset.as_deref()).and_then(crate::contacts::types::offset_minutes).unwrap_or(0);
    let (Ok(d), Ok(t)) = (chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d"), chrono::NaiveTime::parse_from_str(time, "%H:%M")) else { return Duration::ZERO };
    let at = d.and_time(t).and_utc() - chrono::Duration::minutes(i64::from(offset));
    (at - now).to_std().unwrap_or(Duration::ZERO)
}

fn recipient(c: &Contact, message_id: Option<MessageId>, status: &str, error: Option<MessageError>) -> Recipient {
    Recipient { phone: c.phone.clone(), name: c.name.clone(), message_id, status: status.into(), error, replied_at: None }
}

/// Creates (or finds) the queued message for one contact. `Ok(None)` when it was already past queued.
async fn message_for(state: &AppState, ws: &WorkspaceId, b: &Broadcast, c: &Contact, content: crate::whatsapp::types::Content) -> Result<Option<MessageId>, ApiError> {
    let now = state.clock.now().to_rfc3339();
    let m = Message {
        id: message_id_for(&b.id, &c.phone), channel_id: b.channel_id.clone(), to: To::Phone(c.phone.clone()), content, status: MessageStatus::Queued, client_message_id: None, provider_message_id: None,
        used_template_fallback: false, attempts: 0, error: None, history: vec![StatusChange { status: MessageStatus::Queued, at: now.clone() }], created_at: now.clone(), updated_at: now, created_by: b.created_by.clone(), broadcast: Some(b.id.to_string()),
    };
    match state.table.put(messages::item_of(ws, &m), Condition::NotExists).await {
        Ok(()) => Ok(Some(m.id)),
        Err(TableError::ConditionFailed) => Ok(messages::load(state, ws, &m.id).await?.filter(|(_, x)| x.status == MessageStatus::Queued).map(|(_, x)| x.id)),
        Err(e) => Err(e.into()),
    }
}

async fn send_all(state: &AppState, ws: &WorkspaceId, sends: Vec<(MessageId, Duration)>) -> Result<(), ApiError> {
    let mut now_or_soon = Vec::new();
    for (id, delay) in sends {
        let job = SendJob { workspace: ws.clone(), message: id.clone(), attempt: 1 };
        if delay > crate::ports::queue::MAX_DELAY {
            let due = state.clock.now().timestamp_millis() + delay.as_millis() as i64;
            state.table.put(Item::of(Key::new(PARK, format!("{due:013}#{ws}#{id}")), &job), Condition::None).await?;
        } else {
            now_or_soon.push(OutgoingMessage::new(serde_json::to_string(&job).expect("job serialises")).delayed(delay));
        }
    }
    for batch in now_or_soon.chunks(crate::ports::queue::MAX_BATCH) {
        state.queue.send(&crate::queues::whatsapp_send().name, batch.to_vec()).await?;
    }
    Ok(())
}

/// Queues parked sends due within the queue's longest delay (the minute tick). Returns how many.
pub async fn release_parked(state: &AppState) -> Result<usize, ApiError> {
    let now = state.clock.now().timestamp_millis();
    let horizon = now + crate::ports::queue::MAX_DELAY.as_millis() as i64 - 60_000;
    let page = state.table.query(Query::partition(PARK).between("0", format!("{horizon:013}~")).limit(200)).await?;
    for item in &page.items {
        let job: SendJob = item.parse()?;
        let due: i64 = item.key.sk[..13].parse().unwrap_or(now);
        messages::enqueue(state, &job, Duration::from_millis((due - now).max(0) as u64)).await?;
        state.table.delete(&item.key, Condition::None).await?;
    }
    Ok(page.items.len())
}

/// Runs one fan-out page.
pub async fn page(state: &AppState, job: &FanoutJob) -> Result<(), ApiError> {
    let ws = &job.workspace;
    let marker = Key::new(sub(ws, &job.broadcast), format!("PAGE#{:06}", job.page));
    if state.table.get(&marker).await?.is_some() {
        return Ok(());
    }
    let (_, b) = store::load(state, ws, &job.broadcast).await?;
    if b.status != BroadcastStatus::Sending {
        return Ok(());
    }
    let aud = Audience::parse(&b.rules)?;
    let (_, channel) = crate::whatsapp::channels::load(state, ws, &b.channel_id).await?;
    let after = job.cursor.as_deref().map(Cursor::parse).transpose()?;
    let contacts = state.table.query(Query::partition(crate::contacts::store::partition(ws)).limit(PAGE).after(after)).await?;
    let now = state.clock.now();
    let (mut recipients, mut skipped, mut queued, mut failed) = (0i64, 0i64, 0i64, 0i64);
    let mut sends = Vec::new();
    for item in &contacts.items {
        let mut c: Contact = item.parse()?;
        c.opted_out = crate::inbox::consent::is_opted_out(state, ws, &c.phone).await?;
        if !audience::matches(&aud, &c, now) {
            continue;
        }
        recipients += 1;
        let rkey = Key::new(recipient_partition(ws, &b.id), c.phone.as_str().to_owned());
        let refuse = |code: &str, message: String| Some(MessageError { class: "skipped".into(), code: code.into(), message });
        if c.opted_out {
            state.table.put(Item::of(rkey, &recipient(&c, None, "skipped", refuse("opted_out", "the contact opted out (STOP)".into()))), Condition::None).await?;
            skipped += 1;
            continue;
        }
        let content = content_for(&b, &c).and_then(|content| content.check_for(channel.provider).map(|()| content).map_err(|e| e.to_string()));
        let content = match content {
            Ok(content) => content,
            Err(why) => {
                state.table.put(Item::of(rkey, &recipient(&c, None, "failed", refuse("missing_variable", why))), Condition::None).await?;
                failed += 1;
                continue;
            }
        };
        let id = message_for(state, ws, &b, &c, content).await?;
        state.table.put(Item::of(rkey, &recipient(&c, Some(message_id_for(&b.id, &c.phone)), "queued", None)), Condition::None).await?;
        state.table.put(Item::new(last_broadcast_key(ws, &c.phone)).with_attr("broadcast", b.id.as_str()).with_attr("at", now.to_rfc3339()), Condition::None).await?;
        queued += 1;
        if let Some(id) = id {
            sends.push((id, delay_for(&b.send_at, &c, now)));
        }
    }
    send_all(state, ws, sends).await?;
    if let Some(next) = &contacts.next {
        let job = FanoutJob { workspace: ws.clone(), broadcast: b.id.clone(), page: job.page + 1, cursor: Some(next.as_str().to_owned()) };
        super::worker::enqueue(state, &[super::worker::CampaignJob::Fanout(job)]).await?;
    }
    let deltas: Vec<(String, i64)> = [("recipients", recipients), ("skipped", skipped), ("queued", queued), ("failed_before_send", failed)].into_iter().filter(|(_, n)| *n != 0).map(|(k, n)| (k.to_owned(), n)).collect();
    let mut writes = vec![TxWrite::Put { item: Item::new(marker).with_attr("contacts", contacts.items.len() as i64), condition: Condition::NotExists }];
    if !deltas.is_empty() {
        writes.push(TxWrite::Add { key: counters_key(ws, &b.id), deltas });
    }
    if contacts.next.is_none() {
        writes.push(TxWrite::Put { item: Item::new(Key::new(sub(ws, &b.id), "FANOUT_DONE")).with_attr("pages", i64::from(job.page) + 1), condition: Condition::None });
    }
    match state.table.transact(writes).await {
        Ok(()) | Err(TableError::TransactionCancelled { index: 0 }) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// An inbound message from a number a broadcast reached recently counts once as a reply to it, and the
/// conversation is labelled with the campaign. Best effort: failures are logged.
pub async fn on_inbound(state: &AppState, ws: &WorkspaceId, conversation: &crate::inbox::conversations::ConversationId, from: &PhoneNumber) {
    if let Err(e) = attribute_reply(state, ws, conversation, from).await {
        tracing::warn!(workspace = %ws, error = %e, "reply not attributed to its broadcast");
    }
}

async fn attribute_reply(state: &AppState, ws: &WorkspaceId, conversation: &crate::inbox::conversations::ConversationId, from: &PhoneNumber) -> Result<(), ApiError> {
    let Some(p) = state.table.get(&last_broadcast_key(ws, from)).await? else { return Ok(()) };
    let (Some(id), Some(at)) = (p.attrs.get("broadcast").and_then(|v| v.as_str()), p.attrs.get("at").and_then(|v| v.as_str())) else { return Ok(()) };
    let recent = chrono::DateTime::parse_from_rfc3339(at).is_ok_and(|t| (state.clock.now() - t.with_timezone(&chrono::Utc)).num_seconds() < REPLY_WINDOW_SECS);
    let id = BroadcastId::parse(id)?;
    if !recent {
        return Ok(());
    }
    let replied = Item::new(Key::new(sub(ws, &id), format!("REPLIED#{}", from.as_str())));
    match state.table.transact(vec![TxWrite::Put { item: replied, condition: Condition::NotExists }, TxWrite::Add { key: counters_key(ws, &id), deltas: vec![("replied".into(), 1)] }]).await {
        Ok(()) => {}
        Err(TableError::TransactionCancelled { index: 0 }) => return Ok(()),
        Err(e) => return Err(e.into()),
    }
    let rkey = Key::new(recipient_partition(ws, &id), from.as_str().to_owned());
    if let Some(item) = state.table.get(&rkey).await? {
        let mut r: Recipient = item.parse()?;
        r.replied_at = Some(state.clock.now().to_rfc3339());
        state.table.put(Item::of(rkey, &r), Condition::None).await?;
    }
    let (_, b) = store::load(state, ws, &id).await?;
    let label = format!("campaign:{}", b.name.chars().take(31).collect::<String>());
    crate::inbox::conversations::modify(state, ws, conversation, |c| {
        if !c.labels.contains(&label) {
            c.labels.push(label.clone());
        }
    })
    .await?;
    Ok(())
}
