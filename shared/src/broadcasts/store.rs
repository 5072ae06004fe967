//! Broadcast records (`WS#<ws>#BCAST` / id), their counters and markers (`WS#<ws>#BCAST#<id>`), the
//! per-recipient records (`…#RCPT` / number) and the due index the minute tick reads scheduled ones from.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::types::{check_variables, BroadcastId, Broadcast, BroadcastStatus, Counters, SendAt, TemplateRef, VariableMapping};
use crate::auth::{Action, Workspace, WorkspaceId};
use crate::contacts::audience::{Audience, RuleSet};
use crate::http::ApiError;
use crate::ports::{Condition, Cursor, Item, Key, Query, TableError, TxWrite};
use crate::state::AppState;
use crate::whatsapp::messages::{self, MessageError};
use crate::whatsapp::types::{ChannelId, MessageId, MessageStatus, PhoneNumber};

pub fn broadcast_key(ws: &WorkspaceId, id: &BroadcastId) -> Key {
    Key::new(format!("WS#{ws}#BCAST"), id.to_string())
}

pub fn sub(ws: &WorkspaceId, id: &BroadcastId) -> String {
    format!("WS#{ws}#BCAST#{id}")
}

pub fn counters_key(ws: &WorkspaceId, id: &BroadcastId) -> Key {
    Key::new(sub(ws, id), "COUNTERS")
}

pub fn recipient_partition(ws: &WorkspaceId, id: &BroadcastId) -> String {
    format!("WS#{ws}#BCAST#{id}#RCPT")
}

/// Time-ordered index of scheduled broadcasts (all workspaces), read by the minute tick.
pub const DUE: &str = "BCASTDUE";

fn due_key(at_ms: i64, ws: &WorkspaceId, id: &BroadcastId) -> Key {
    Key::new(DUE, format!("{at_ms:013}#{ws}#{id}"))
}

/// One recipient: the contact's number, and the message that carries the status (none when skipped or
/// failed before sending, with the reason).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Recipient {
    pub phone: PhoneNumber,
    pub name: Option<String>,
    pub message_id: Option<MessageId>,
    pub status: String,
    pub error: Option<MessageError>,
    pub replied_at: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewBroadcast {
    pub name: String,
    pub channel_id: String,
    pub template: TemplateRef,
    #[serde(default)]
    pub variables: Vec<VariableMapping>,
    /// A saved audience, or `rules` inline.
    pub audience_id: Option<String>,
    pub rules: Option<RuleSet>,
    #[serde(default = "now")]
    pub send_at: SendAt,
}

fn now() -> SendAt {
    SendAt::Now
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BroadcastView {
    #[serde(flatten)]
    pub broadcast: Broadcast,
    pub counters: Counters,
    /// Why it is paused (the channel's rate limit), until when.
    pub paused_until: Option<String>,
}

fn check_send_at(s: &SendAt, now: chrono::DateTime<chrono::Utc>) -> Result<(), ApiError> {
    match s {
        SendAt::Now => Ok(()),
        SendAt::At { at } => {
            let t = chrono::DateTime::parse_from_rfc3339(at).map_err(|_| ApiError::Validation("send_at.at must be an RFC 3339 time".into()))?;
            (t > now - chrono::Duration::minutes(1)).then_some(()).ok_or_else(|| ApiError::Validation("send_at.at is in the past".into()))
        }
        SendAt::LocalTime { date, time, default_offset } => {
            chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d").map_err(|_| ApiError::Validation("send_at.date must be YYYY-MM-DD".into()))?;
            chrono::NaiveTime::parse_from_str(time, "%H:%M").map_err(|_| ApiError::Validation("send_at.time must be HH:MM".into()))?;
            if let Some(o) = default_offset {
                crate::contacts::types::parse_time_zone(o)?;
            }
            Ok(())
        }
    }
}

/// Checks the request against the channel and the rules, and builds the draft.
pub async fn draft(state: &AppState, ws: &Workspace, req: NewBroadcast) -> Result<Broadcast, ApiError> {
    let name = req.name.trim().to_owned();
    if !(1..=100).contains(&name.chars().count()) {
        return Err(ApiError::Validation("name must be 1–100 characters".into()));
    }
    let channel_id = ChannelId::parse(&req.channel_id).map_err(|_| ApiError::Validation(format!("no channel `{}`", req.channel_id.chars().take(40).collect::<String>())))?;
    let (_, channel) = crate::whatsapp::channels::load(state, ws.id(), &channel_id).await.map_err(|e| match e {
        ApiError::NotFound(m) => ApiError::Validation(m),
        e => e,
    })?;
    check_variables(&req.variables)?;
    let template = super::content::check(state, ws.id(), &channel, &req.template, &req.variables).await?;
    let (audience_id, rules) = match (req.audience_id, req.rules) {
        (Some(a), None) => {
            let saved = crate::contacts::audiences::load(state, ws.id(), &crate::contacts::audiences::AudienceId::parse(&a).map_err(|e| ApiError::Validation(e.to_string()))?).await.map_err(|e| ApiError::Validation(e.to_string()))?;
            (Some(saved.id.to_string()), saved.rules)
        }
        (None, Some(r)) => (None, r),
        _ => return Err(ApiError::Validation("give either `audience_id` or `rules`".into())),
    };
    Audience::parse(&rules)?;
    check_send_at(&req.send_at, state.clock.now())?;
    let now = state.clock.now().to_rfc3339();
    Ok(Broadcast { id: BroadcastId::new(state.clock.new_id()), name, channel_id, template, variables: req.variables, audience_id, rules, send_at: req.send_at, status: BroadcastStatus::Draft, started_at: None, completed_at: None, created_at: now.clone(), updated_at: now, created_by: ws.principal().actor() })
}

pub async fn create(state: &AppState, ws: &Workspace, req: NewBroadcast) -> Result<BroadcastView, ApiError> {
    ws.require(Action::BroadcastsManage)?;
    let b = draft(state, ws, req).await?;
    state.table.put(Item::of(broadcast_key(ws.id(), &b.id), &b).with_version(1), Condition::NotExists).await?;
    view(state, ws.id(), b).await
}

pub async fn load(state: &AppState, ws: &WorkspaceId, id: &BroadcastId) -> Result<(Item, Broadcast), ApiError> {
    let item = state.table.get(&broadcast_key(ws, id)).await?.ok_or_else(|| ApiError::NotFound(format!("no broadcast `{id}`")))?;
    let b = item.parse()?;
    Ok((item, b))
}

/// Applies `change` if it returns true, on the version read; `Conflict` when it moved meanwhile.
pub async fn transition(state: &AppState, ws: &WorkspaceId, id: &BroadcastId, change: impl Fn(&mut Broadcast) -> Result<bool, ApiError>, extra: Vec<TxWrite>) -> Result<(Broadcast, bool), ApiError> {
    let (item, mut b) = load(state, ws, id).await?;
    if !change(&mut b)? {
        return Ok((b, false));
    }
    b.updated_at = state.clock.now().to_rfc3339();
    let mut writes = vec![TxWrite::Put { item: Item::of(item.key.clone(), &b).with_version(item.version + 1), condition: Condition::VersionIs(item.version) }];
    writes.extend(extra);
    match state.table.transact(writes).await {
        Ok(()) => Ok((b, true)),
        Err(TableError::TransactionCancelled { .. }) => Err(ApiError::Conflict(format!("broadcast {id} changed meanwhile; retry"))),
        Err(e) => Err(e.into()),
    }
}

pub async fn counters(state: &AppState, ws: &WorkspaceId, id: &BroadcastId) -> Result<Counters, ApiError> {
    let item = state.table.get(&counters_key(ws, id)).await?;
    let n = |name: &str| item.as_ref().and_then(|i| i.attrs.get(name)).and_then(|v| v.as_i64()).unwrap_or(0);
    Ok(Counters { recipients: n("recipients"), skipped: n("skipped"), queued: n("queued"), sent: n("sent"), delivered: n("delivered"), read: n("read"), failed: n("failed") + n("failed_before_send"), replied: n("replied") })
}

/// The broadcast with its counters; a sending broadcast whose every message reached a final state is
/// marked completed here, and one whose channel waits out a rate limit shows as paused.
pub async fn view(state: &AppState, ws: &WorkspaceId, mut b: Broadcast) -> Result<BroadcastView, ApiError> {
    let c = counters(state, ws, &b.id).await?;
    let mut paused_until = None;
    if b.status == BroadcastStatus::Sending {
        let fanned_out = state.table.get(&Key::new(sub(ws, &b.id), "FANOUT_DONE")).await?.is_some();
        let failed_at_provider = c.failed - state.table.get(&counters_key(ws, &b.id)).await?.and_then(|i| i.attrs.get("failed_before_send").and_then(|v| v.as_i64())).unwrap_or(0);
        if fanned_out && c.sent + failed_at_provider >= c.queued {
            let at = state.clock.now().to_rfc3339();
            match transition(state, ws, &b.id, |x| Ok(x.status == BroadcastStatus::Sending && { (x.status, x.completed_at) = (BroadcastStatus::Completed, Some(at.clone())); true }), vec![]).await {
                Ok((done, _)) => b = done,
                Err(ApiError::Conflict(_)) => {}
                Err(e) => return Err(e),
            }
        } else if let Ok((_, ch)) = crate::whatsapp::channels::load(state, ws, &b.channel_id).await {
            if ch.pause_remaining(state.clock.now()).is_some() {
                b.status = BroadcastStatus::Paused;
                paused_until = ch.paused_until.clone();
            }
        }
    }
    Ok(BroadcastView { broadcast: b, counters: c, paused_until })
}

pub async fn list(state: &AppState, ws: &Workspace) -> Result<Vec<BroadcastView>, ApiError> {
    ws.require(Action::WorkspaceRead)?;
    let page = state.table.query(Query::partition(format!("WS#{}#BCAST", ws.id())).reverse().limit(100)).await?;
    let mut out = Vec::new();
    for item in &page.items {
        out.push(view(state, ws.id(), item.parse()?).await?);
    }
    Ok(out)
}

/// Starts a draft now, or schedules it for its send time (the minute tick starts it then).
pub async fn start(state: &AppState, ws: &Workspace, id: &BroadcastId) -> Result<BroadcastView, ApiError> {
    ws.require(Action::BroadcastsManage)?;
    let (_, b) = load(state, ws.id(), id).await?;
    if b.status != BroadcastStatus::Draft {
        return Err(ApiError::Conflict(format!("broadcast {id} is {:?}, not a draft", b.status).to_lowercase()));
    }
    // The template may have been paused, rejected or removed since the draft was saved.
    let (_, channel) = crate::whatsapp::channels::load(state, ws.id(), &b.channel_id).await?;
    super::content::check(state, ws.id(), &channel, &b.template, &b.variables).await?;
    let at = match &b.send_at {
        SendAt::At { at } => chrono::DateTime::parse_from_rfc3339(at).map(|t| t.with_timezone(&chrono::Utc)).ok().filter(|t| *t > state.clock.now()),
        _ => None,
    };
    let b = match at {
        Some(t) => {
            let due = TxWrite::Put { item: Item::new(due_key(t.timestamp_millis(), ws.id(), id)).with_attr("workspace", ws.id().as_str()).with_attr("broadcast", id.as_str()), condition: Condition::None };
            transition(state, ws.id(), id, |x| Ok(x.status == BroadcastStatus::Draft && { x.status = BroadcastStatus::Scheduled; true }), vec![due]).await?.0
        }
        None => begin(state, ws.id(), id).await?.0,
    };
    view(state, ws.id(), b).await
}

/// Moves a draft or scheduled broadcast to sending and queues its first fan-out page; exactly one caller
/// wins. The move writes a due entry (a scheduled one has it already) that is removed once the page is
/// queued: if the process dies in between, the minute tick finds the entry and queues the page again.
pub async fn begin(state: &AppState, ws: &WorkspaceId, id: &BroadcastId) -> Result<(Broadcast, bool), ApiError> {
    let now = state.clock.now();
    let at = now.to_rfc3339();
    let due = due_key(now.timestamp_millis(), ws, id);
    let entry = TxWrite::Put { item: Item::new(due.clone()).with_attr("workspace", ws.as_str()).with_attr("broadcast", id.as_str()), condition: Condition::None };
    let (b, moved) = transition(state, ws, id, |x| Ok(matches!(x.status, BroadcastStatus::Draft | BroadcastStatus::Scheduled) && { (x.status, x.started_at) = (BroadcastStatus::Sending, Some(at.clone())); true }), vec![entry]).await?;
    if moved {
        queue_first_page(state, ws, id).await?;
        state.table.delete(&due, Condition::None).await?;
    }
    Ok((b, moved))
}

/// Page 0 again is harmless: a page whose marker is written does nothing.
async fn queue_first_page(state: &AppState, ws: &WorkspaceId, id: &BroadcastId) -> Result<(), ApiError> {
    super::worker::enqueue(state, &[super::worker::CampaignJob::Fanout(super::fanout::FanoutJob { workspace: ws.clone(), broadcast: id.clone(), page: 0, cursor: None })]).await
}

/// Starts scheduled broadcasts whose time has come, and re-queues the first page of any whose start
/// was cut off (the minute tick). Returns how many started.
pub async fn start_due(state: &AppState) -> Result<usize, ApiError> {
    let cutoff = format!("{:013}~", state.clock.now().timestamp_millis());
    let page = state.table.query(Query::partition(DUE).between("0", cutoff).limit(100)).await?;
    let mut n = 0;
    for item in &page.items {
        let ws = item.attrs.get("workspace").and_then(|v| v.as_str()).map(WorkspaceId::parse).transpose()?;
        let id = item.attrs.get("broadcast").and_then(|v| v.as_str()).map(BroadcastId::parse).transpose()?;
        if let (Some(ws), Some(id)) = (ws, id) {
            match begin(state, &ws, &id).await {
                Ok((_, true)) => n += 1,
                Ok((b, false)) if b.status == BroadcastStatus::Sending => queue_first_page(state, &ws, &id).await?,
                Ok(_) | Err(ApiError::NotFound(_)) => {}
                Err(e) => return Err(e),
            }
        }
        state.table.delete(&item.key, Condition::None).await?;
    }
    Ok(n)
}

pub async fn cancel(state: &AppState, ws: &Workspace, id: &BroadcastId) -> Result<BroadcastView, ApiError> {
    ws.require(Action::BroadcastsManage)?;
    let (b, moved) = transition(state, ws.id(), id, |x| Ok(matches!(x.status, BroadcastStatus::Draft | BroadcastStatus::Scheduled | BroadcastStatus::Sending) && { x.status = BroadcastStatus::Cancelled; true }), vec![]).await?;
    if !moved {
        return Err(ApiError::Conflict(format!("broadcast {id} already ended")));
    }
    view(state, ws.id(), b).await
}

/// Whether the send worker should drop this broadcast's remaining messages.
pub async fn is_cancelled(state: &AppState, ws: &WorkspaceId, id: &BroadcastId) -> Result<bool, ApiError> {
    Ok(matches!(load(state, ws, id).await, Ok((_, b)) if b.status == BroadcastStatus::Cancelled))
}

/// Recipients in number order, each with its message's current status; `status` filters within the page.
pub async fn recipients(state: &AppState, ws: &WorkspaceId, id: &BroadcastId, status: Option<&str>, cursor: Option<&str>, limit: u32) -> Result<(Vec<Recipient>, Option<String>), ApiError> {
    load(state, ws, id).await?;
    let after = cursor.map(Cursor::parse).transpose()?;
    let page = state.table.query(Query::partition(recipient_partition(ws, id)).limit(limit.clamp(1, 200)).after(after)).await?;
    let mut out = Vec::new();
    for item in &page.items {
        let mut r: Recipient = item.parse()?;
        if let Some(mid) = &r.message_id {
            if let Some((_, m)) = messages::load(state, ws, mid).await? {
                r.status = serde_json::to_value(m.status).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
                r.error = m.error.filter(|_| m.status == MessageStatus::Failed);
            }
        }
        if status.is_none_or(|s| s == r.status) {
            out.push(r);
        }
    }
    Ok((out, page.next.map(|c| c.as_str().to_owned())))
}

/// Every failed recipient as CSV: phone, name, status, error class, provider code, message. The phone
/// is E.164 (checked at import) and written as is.
pub async fn failures_csv(state: &AppState, ws: &WorkspaceId, id: &BroadcastId) -> Result<String, ApiError> {
    let mut out = String::from("phone,name,status,class,code,message\n");
    let mut cursor: Option<String> = None;
    loop {
        let (rs, next) = recipients(state, ws, id, Some("failed"), cursor.as_deref(), 200).await?;
        for r in rs {
            let e = r.error.unwrap_or(MessageError { class: String::new(), code: String::new(), message: String::new() });
            let csv_cell = crate::push::subscriber_export::cell;
            out.push_str(&[r.phone.as_str().to_owned(), csv_cell(r.name.as_deref().unwrap_or_default()), csv_cell(&r.status), csv_cell(&e.class), csv_cell(&e.code), csv_cell(&e.message)].join(","));
            out.push('\n');
        }
        match next {
            Some(n) => cursor = Some(n),
            None => return Ok(out),
        }
    }
}

/// Removes a number's recipient records from every broadcast (GDPR erase). Returns how many.
pub async fn erase_recipient(state: &AppState, ws: &WorkspaceId, phone: &PhoneNumber) -> Result<usize, ApiError> {
    let mut n = 0;
    let mut after = None;
    loop {
        let page = state.table.query(Query::partition(format!("WS#{ws}#BCAST")).limit(200).after(after)).await?;
        for item in &page.items {
            let id = BroadcastId::parse(&item.key.sk)?;
            let key = Key::new(recipient_partition(ws, &id), phone.as_str().to_owned());
            if state.table.get(&key).await?.is_some() {
                state.table.delete(&key, Condition::None).await?;
                n += 1;
            }
        }
        match page.next {
            Some(c) => after = Some(c),
            None => break,
        }
    }
    state.table.delete(&super::fanout::last_broadcast_key(ws, phone), Condition::None).await?;
    Ok(n)
}
