//! The notification lifecycle: `draft → scheduled → sending → completed`, or `cancelled`. Every move
//! rewrites the record conditional on the version read (two people pressing Send: one send, one 409);
//! a cancel while sending adds to a counter instead, so it never overwrites delivery counters, and deliver
//! jobs check it before sending. Scheduled starts and held deliver jobs wait in a due index, one partition
//! per minute (`SCHED#<epoch minute>`), which the minute tick reads: no scan, no per-campaign schedule.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::notifications::{self, check_size, notification_key, start, Lifecycle, NewNotification, Notification, NotificationId, NotificationView, PushJob};
use super::sites::{self, SiteId};
use crate::auth::{Action, RequestMeta, Workspace, WorkspaceId};
use crate::http::ApiError;
use crate::ports::{Condition, Item, Key, Query, TableError, TxWrite};
use crate::state::AppState;
use crate::workspaces::audit;

/// How far ahead `send_at` may be.
pub const MAX_AHEAD_DAYS: i64 = 30;
/// Each minute also reads this many earlier minutes of the due index: entries left by a tick that died
/// after claiming its minute are picked up by the next one (starts are conditional, releases idempotent).
const LOOK_BACK_MINUTES: i64 = 2;

/// A conflicting move (the record changed since it was read) as the 409 the caller sees.
pub(crate) fn moved(e: TableError) -> ApiError {
    match e {
        TableError::ConditionFailed | TableError::TransactionCancelled { index: 0 } => ApiError::Conflict("the notification was changed or sent meanwhile; reload it".into()),
        e => e.into(),
    }
}

/// `send_at`: RFC 3339, after `now` and at most 30 days ahead.
pub fn parse_send_at(raw: Option<&str>, now: DateTime<Utc>) -> Result<Option<DateTime<Utc>>, ApiError> {
    let Some(raw) = raw else { return Ok(None) };
    let at = DateTime::parse_from_rfc3339(raw).map_err(|_| ApiError::Validation("send_at must be an RFC 3339 time such as 2026-12-24T09:00:00Z".into()))?.with_timezone(&Utc);
    if at <= now {
        return Err(ApiError::Validation("send_at is in the past".into()));
    }
    if at > now + Duration::days(MAX_AHEAD_DAYS) {
        return Err(ApiError::Validation(format!("send_at may be at most {MAX_AHEAD_DAYS} days ahead")));
    }
    Ok(Some(at))
}

pub fn epoch_minute(at: DateTime<Utc>) -> i64 {
    // Rounded up: the tick of minute m runs at or after m:00, never before the time asked for.
    (at.timestamp() + 59).div_euclid(60)
}

/// What waits in the due index.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum Due {
    /// A scheduled notification to start.
    Start { workspace: WorkspaceId, site: SiteId, notification: NotificationId },
    /// A deliver job held for a subscriber's local time, quiet hours or the send rate.
    Release { job: String },
}

fn due_partition(minute: i64) -> String {
    format!("SCHED#{minute}")
}

fn start_key(minute: i64, ws: &WorkspaceId, id: &NotificationId) -> Key {
    Key::new(due_partition(minute), format!("S#{ws}#{id}"))
}

/// The due-index entry that holds a deliver job until `minute` (its id keeps a re-run fan-out's copy
/// on the same key).
pub(crate) fn hold(minute: i64, job: &PushJob) -> Item {
    let PushJob::Deliver { notification, job: Some(name), .. } = job else { unreachable!("only deliver jobs with ids are held") };
    let body = serde_json::to_string(job).expect("job serialises");
    Item::of(Key::new(due_partition(minute), format!("R#{notification}#{name}")), &Due::Release { job: body }).with_expiry(minute * 60 + 7 * 86_400)
}

/// Writes a draft or scheduled notification: new (`prior` None) or over the version read, with its due
/// entry moved from `old_at` to `at` in the same transaction.
pub(crate) async fn save(state: &AppState, ws: &WorkspaceId, n: &Notification, prior: Option<(u64, Option<DateTime<Utc>>)>, at: Option<DateTime<Utc>>, extra: Vec<TxWrite>) -> Result<(), ApiError> {
    let key = notification_key(ws, &n.site_id, &n.id);
    let (item, condition, old_at) = match prior {
        None => (Item::of(key, n), Condition::NotExists, None),
        Some((v, old_at)) => (Item::of(key, n).with_version(v + 1), Condition::VersionIs(v), old_at),
    };
    let mut writes = vec![TxWrite::Put { item, condition }];
    let (old, new) = (old_at.map(epoch_minute), at.map(epoch_minute));
    if let Some(m) = old.filter(|m| Some(*m) != new) {
        writes.push(TxWrite::Delete { key: start_key(m, ws, &n.id), condition: Condition::None });
    }
    if let Some(m) = new {
        let entry = Due::Start { workspace: ws.clone(), site: n.site_id.clone(), notification: n.id.clone() };
        writes.push(TxWrite::Put { item: Item::of(start_key(m, ws, &n.id), &entry).with_expiry(m * 60 + 7 * 86_400), condition: Condition::None });
    }
    writes.extend(extra);
    state.table.transact(writes).await.map_err(moved)
}

async fn load(state: &AppState, ws: &WorkspaceId, site: &SiteId, id: &NotificationId) -> Result<(Item, Notification), ApiError> {
    let item = state.table.get(&notification_key(ws, site, id)).await?.ok_or_else(|| ApiError::NotFound("no such notification".into()))?;
    let n = item.parse()?;
    Ok((item, n))
}

fn scheduled_at(n: &Notification) -> Option<DateTime<Utc>> {
    n.plan.send_at.as_deref().and_then(|s| DateTime::parse_from_rfc3339(s).ok()).map(|d| d.with_timezone(&Utc))
}

fn conflict(n: &Notification, doing: &str) -> ApiError {
    ApiError::Conflict(format!("a notification in `{}` cannot be {doing}", serde_json::to_value(n.lifecycle).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()))
}

/// `POST …/{id}/send`: a draft is scheduled when its `send_at` is still ahead, else started; a
/// scheduled one is started now. Anything else is a 409.
pub async fn send_now(state: &AppState, ws: &Workspace, meta: &RequestMeta, site: &SiteId, id: &NotificationId) -> Result<NotificationView, ApiError> {
    ws.require(Action::NotificationsSend)?;
    let (item, mut n) = load(state, ws.id(), site, id).await?;
    let old_at = scheduled_at(&n).filter(|_| n.lifecycle == Lifecycle::Scheduled);
    let ahead = scheduled_at(&n).filter(|at| *at > state.clock.now() && n.lifecycle == Lifecycle::Draft);
    let audit = audit::entry(state, ws, meta, "notification.send", id.as_str());
    match (n.lifecycle, ahead) {
        (Lifecycle::Draft, Some(at)) => {
            n.lifecycle = Lifecycle::Scheduled;
            save(state, ws.id(), &n, Some((item.version, None)), Some(at), vec![audit]).await?;
        }
        (Lifecycle::Draft | Lifecycle::Scheduled, _) => {
            let mut extra = vec![audit];
            extra.extend(old_at.map(|at| TxWrite::Delete { key: start_key(epoch_minute(at), ws.id(), id), condition: Condition::None }));
            start(state, ws.id(), n, Some(item.version), extra).await?;
        }
        _ => return Err(conflict(&n, "sent")),
    }
    notifications::get(state, ws, site, id).await
}

/// `DELETE …/{id}`: cancels a draft or scheduled notification, or stops one that is sending (its
/// queued deliver jobs count their subscribers `cancelled`). 409 once completed or cancelled.
pub async fn cancel(state: &AppState, ws: &Workspace, meta: &RequestMeta, site: &SiteId, id: &NotificationId) -> Result<NotificationView, ApiError> {
    ws.require(Action::NotificationsSend)?;
    let (item, mut n) = load(state, ws.id(), site, id).await?;
    let audit = audit::entry(state, ws, meta, "notification.cancel", id.as_str());
    match n.lifecycle {
        Lifecycle::Draft | Lifecycle::Scheduled => {
            let old_at = scheduled_at(&n).filter(|_| n.lifecycle == Lifecycle::Scheduled);
            n.lifecycle = Lifecycle::Cancelled;
            save(state, ws.id(), &n, Some((item.version, old_at)), None, vec![audit]).await?;
        }
        Lifecycle::Sending if notifications::view(&item)?.status == "sending" => {
            let add = TxWrite::Add { key: item.key.clone(), deltas: vec![("cancel_requested".into(), 1)] };
            state.table.transact(vec![add, audit]).await?;
        }
        _ => return Err(conflict(&n, "cancelled")),
    }
    notifications::get(state, ws, site, id).await
}

/// `PATCH …/{id}`: edits a draft or a scheduled notification with the fields given (JSON merge of the
/// top-level keys); `version`, when given, must be the one last read.
pub async fn patch(state: &AppState, ws: &Workspace, meta: &RequestMeta, site_id: &SiteId, id: &NotificationId, body: serde_json::Value) -> Result<NotificationView, ApiError> {
    ws.require(Action::NotificationsSend)?;
    let serde_json::Value::Object(mut changes) = body else { return Err(ApiError::Validation("the body must be a JSON object".into())) };
    let (item, n) = load(state, ws.id(), site_id, id).await?;
    if let Some(v) = changes.remove("version") {
        if v.as_u64() != Some(item.version) {
            return Err(ApiError::Conflict(format!("the notification is at version {}; reload it", item.version)));
        }
    }
    if !matches!(n.lifecycle, Lifecycle::Draft | Lifecycle::Scheduled) {
        return Err(conflict(&n, "edited"));
    }
    for fixed in ["id", "site_id", "created_at", "created_by", "lifecycle", "started_at", "status", "stats", "draft"] {
        if changes.contains_key(fixed) {
            return Err(ApiError::Validation(format!("`{fixed}` cannot be changed")));
        }
    }
    let mut merged = serde_json::to_value(&n).map_err(|e| ApiError::Internal(e.to_string()))?;
    let fields = merged.as_object_mut().expect("a notification is an object");
    for (k, v) in changes {
        fields.insert(k, v);
    }
    let req: NewNotification = serde_json::from_value(merged).map_err(|e| ApiError::Validation(format!("invalid notification: {e}")))?;
    notifications::validate(&req)?;
    let now = state.clock.now();
    let at = match req.plan.send_at.as_deref() {
        // An unchanged time that has passed meanwhile is left to the tick (or to `send`).
        Some(s) if Some(s) == n.plan.send_at.as_deref() => scheduled_at(&n),
        other => parse_send_at(other, now)?,
    };
    if n.lifecycle == Lifecycle::Scheduled && at.is_none() {
        return Err(ApiError::Validation("a scheduled notification needs send_at; send it now or cancel it instead".into()));
    }
    let site = sites::get(state, ws, site_id).await?;
    let updated = Notification {
        content: req.content,
        target: req.target,
        ttl_seconds: req.ttl_seconds.unwrap_or(site.ttl_seconds),
        urgency: req.urgency.unwrap_or(site.urgency),
        topic: req.topic,
        plan: req.plan,
        ..n.clone()
    };
    check_size(&site, &updated)?;
    let scheduled = n.lifecycle == Lifecycle::Scheduled;
    let old_at = scheduled_at(&n).filter(|_| scheduled);
    let audit = audit::entry(state, ws, meta, "notification.update", id.as_str());
    save(state, ws.id(), &updated, Some((item.version, old_at)), at.filter(|_| scheduled), vec![audit]).await?;
    notifications::get(state, ws, site_id, id).await
}

/// The due-index work of one tick minute (and the few before it): starts the scheduled notifications
/// and queues the held deliver jobs. A start is a conditional move, so a notification starts once
/// whichever tick gets to it; a release repeats job ids, whose progress records make a repeat harmless.
pub async fn run_due(state: &AppState, minute: i64) -> Result<usize, ApiError> {
    let mut done = 0;
    for m in minute - LOOK_BACK_MINUTES..=minute {
        done += run_due_minute(state, m).await?;
    }
    Ok(done)
}

/// The due entries of minutes a long-stopped tick skipped (at most one day of them).
pub async fn run_skipped(state: &AppState, first: i64, last: i64) -> Result<usize, ApiError> {
    let mut done = 0;
    for m in first.max(last - 1440)..=last {
        done += run_due_minute(state, m).await?;
    }
    Ok(done)
}

async fn run_due_minute(state: &AppState, minute: i64) -> Result<usize, ApiError> {
    let mut done = 0;
    loop {
        let page = state.table.query(Query::partition(due_partition(minute)).limit(100)).await?;
        if page.items.is_empty() {
            return Ok(done);
        }
        for item in &page.items {
            match item.parse::<Due>()? {
                Due::Start { workspace, site, notification } => start_scheduled(state, &workspace, &site, &notification).await?,
                Due::Release { job } => {
                    let job: PushJob = serde_json::from_str(&job).map_err(|e| ApiError::Internal(e.to_string()))?;
                    if let PushJob::Deliver { workspace, site, notification, variant: Some(super::ab::WINNER), .. } = &job {
                        // The test's wait is over: the winner is chosen now, before the rest goes out.
                        if let Ok((_, n)) = load(state, workspace, site, notification).await {
                            super::ab::winner(state, workspace, &n).await?;
                        }
                    }
                    notifications::enqueue(state, vec![job], std::time::Duration::ZERO).await?;
                }
            }
            state.table.delete(&item.key, Condition::None).await?;
            done += 1;
        }
    }
}

async fn start_scheduled(state: &AppState, ws: &WorkspaceId, site: &SiteId, id: &NotificationId) -> Result<(), ApiError> {
    let Some(item) = state.table.get(&notification_key(ws, site, id)).await? else { return Ok(()) };
    let n: Notification = item.parse()?;
    if n.lifecycle != Lifecycle::Scheduled {
        return Ok(());
    }
    match start(state, ws, n, Some(item.version), Vec::new()).await {
        // Started by an overlapping tick, or edited or cancelled meanwhile: that move stands.
        Ok(_) | Err(ApiError::Conflict(_)) => Ok(()),
        Err(e) => Err(e),
    }
}
