//! Recurring schedules of a site under `WS#<ws>#SITE#<site>#RECURRING`/`REC#<id>`. An active schedule's
//! record is its own due-index entry (`schedule/due_index.rs`), keyed by its next run's start minute;
//! its runs (`…#RECUR#<id>`/`RUN#<date>`: the notification each made) and its summed counters
//! (`…#RECUR#<id>`/`STATS`) live in a partition of their own.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::rule::Run;
use super::types::{self, Schedule, ScheduleId, ScheduleInput, Status};
use crate::auth::{Action, RequestMeta, Workspace, WorkspaceId};
use crate::http::ApiError;
use crate::ports::{Condition, Cursor, Item, Key, Query, TableError, TxWrite};
use crate::push::lifecycle::epoch_minute;
use crate::push::notifications::{self, NotificationId, NotificationView, Target};
use crate::push::sites::{self, SiteId};
use crate::schedule::due_index;
use crate::state::AppState;
use crate::workspaces::audit;

/// The due-index kind of schedules.
pub const KIND: &str = "RECURDUE";
const MAX_SCHEDULES: usize = 100;
pub const MAX_NEXT_RUNS: usize = 50;

fn partition(ws: &WorkspaceId, site: &SiteId) -> String {
    format!("WS#{ws}#SITE#{site}#RECURRING")
}

pub fn schedule_key(ws: &WorkspaceId, site: &SiteId, id: &ScheduleId) -> Key {
    Key::new(partition(ws, site), format!("REC#{id}"))
}

fn runs_partition(ws: &WorkspaceId, site: &SiteId, id: &str) -> String {
    format!("WS#{ws}#SITE#{site}#RECUR#{id}")
}

/// The counters of every run's notification added up (`runs` too).
pub fn stats_key(ws: &WorkspaceId, site: &SiteId, id: &str) -> Key {
    Key::new(runs_partition(ws, site, id), "STATS")
}

pub fn run_key(ws: &WorkspaceId, site: &SiteId, id: &str, date: &str) -> Key {
    Key::new(runs_partition(ws, site, id), format!("RUN#{date}"))
}

/// The record as stored: in the due index under its next run while active.
pub fn item(s: &Schedule, version: u64) -> Item {
    let item = Item::of(schedule_key(&s.workspace, &s.site_id, &s.id), s).with_version(version);
    match (&s.next_run, s.status) {
        (Some(run), Status::Active) => {
            let (pk, sk) = due_index::key(KIND, epoch_minute(run.starts_at), s.id.as_str());
            item.with_gsi1(pk, sk)
        }
        _ => item,
    }
}

/// What one run made.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RunRecord {
    pub date: String,
    pub notification_id: NotificationId,
    pub started_at: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ScheduleView {
    #[serde(flatten)]
    pub schedule: Schedule,
    pub version: u64,
    /// `runs`, and the counters of the runs' notifications added up (`accepted`, `clicks`, …).
    #[schema(value_type = Object)]
    pub stats: serde_json::Map<String, serde_json::Value>,
}

async fn view(state: &AppState, item: &Item) -> Result<ScheduleView, ApiError> {
    let schedule: Schedule = item.parse()?;
    let stats = state.table.get(&stats_key(&schedule.workspace, &schedule.site_id, schedule.id.as_str())).await?;
    let stats = stats.map(|i| i.attrs.into_iter().filter(|(_, v)| v.is_i64()).collect()).unwrap_or_default();
    Ok(ScheduleView { schedule, version: item.version, stats })
}

fn not_found() -> ApiError {
    ApiError::NotFound("no such recurring schedule".into())
}

async fn load(state: &AppState, ws: &WorkspaceId, site: &SiteId, id: &ScheduleId) -> Result<Item, ApiError> {
    state.table.get(&schedule_key(ws, site, id)).await?.ok_or_else(not_found)
}

/// The next run after the dates already run, from now; `Ended` when there is none.
fn plan_next(s: &mut Schedule, now: DateTime<Utc>) {
    s.next_run = s.timing().next_runs(now, s.last_run_date, 1).into_iter().next();
    if s.next_run.is_none() {
        s.status = Status::Ended;
    } else if s.status == Status::Ended {
        s.status = Status::Active;
    }
}

/// The schedule an input describes, checked (the segment must exist).
async fn build(state: &AppState, ws: &WorkspaceId, input: &ScheduleInput, site_id: &SiteId, base: Option<Schedule>) -> Result<Schedule, ApiError> {
    let site = sites::by_id(state, ws, site_id).await?;
    let now = state.clock.now();
    let p = types::parse(input, &site, now)?;
    if let Target::Segment { segment_id, .. } = &input.target {
        let probe = Target::Segment { segment_id: segment_id.clone(), rules: None };
        if let Err(ApiError::NotFound(_)) = crate::push::segments::resolve_target(state, ws, site_id, probe).await {
            return Err(ApiError::Validation("target.segment_id: no such segment on this site".into()));
        }
    }
    let status = match (input.status, &base) {
        (Some(Status::Ended), _) => return Err(ApiError::Validation("status: `active` or `paused`".into())),
        (Some(s), _) => s,
        (None, Some(b)) => b.status,
        (None, None) => Status::Active,
    };
    let stamp = now.to_rfc3339();
    let (id, created_at, last_run_date) = match base {
        Some(b) => (b.id, b.created_at, b.last_run_date),
        None => (ScheduleId::new(state.clock.new_id()), stamp.clone(), None),
    };
    let mut s = Schedule {
        id,
        workspace: ws.clone(),
        site_id: site_id.clone(),
        name: p.name,
        status,
        rule: p.rule,
        time: p.time,
        timezone: p.timezone,
        subscriber_local: p.subscriber_local,
        start_date: p.start_date,
        end_date: p.end_date,
        target: input.target.clone(),
        notification: input.notification.clone(),
        next_run: None,
        last_run_date,
        last_error: None,
        created_at,
        updated_at: stamp,
    };
    plan_next(&mut s, now);
    if s.next_run.is_none() {
        return Err(ApiError::Validation("end_date: no run is left between the start date and the end date".into()));
    }
    Ok(s)
}

pub async fn create(state: &AppState, ws: &Workspace, meta: &RequestMeta, site: &SiteId, input: &ScheduleInput) -> Result<ScheduleView, ApiError> {
    ws.require(Action::NotificationsSend)?;
    sites::get(state, ws, site).await?;
    let s = build(state, ws.id(), input, site, None).await?;
    let existing = state.table.query(Query::partition(partition(ws.id(), site)).prefix("REC#").limit(MAX_SCHEDULES as u32)).await?;
    if existing.items.len() >= MAX_SCHEDULES {
        return Err(ApiError::Validation(format!("a site has at most {MAX_SCHEDULES} recurring schedules")));
    }
    let record = item(&s, 0);
    state.table.transact(vec![TxWrite::Put { item: record.clone(), condition: Condition::NotExists }, audit::entry(state, ws, meta, "recurring.create", s.id.as_str())]).await?;
    view(state, &record).await
}

pub async fn get(state: &AppState, ws: &Workspace, site: &SiteId, id: &ScheduleId) -> Result<ScheduleView, ApiError> {
    ws.require(Action::WorkspaceRead)?;
    sites::get(state, ws, site).await?;
    view(state, &load(state, ws.id(), site, id).await?).await
}

pub async fn list(state: &AppState, ws: &Workspace, site: &SiteId, cursor: Option<&str>, limit: u32) -> Result<(Vec<ScheduleView>, Option<String>), ApiError> {
    ws.require(Action::WorkspaceRead)?;
    sites::get(state, ws, site).await?;
    let after = cursor.map(Cursor::parse).transpose()?;
    let page = state.table.query(Query::partition(partition(ws.id(), site)).prefix("REC#").reverse().limit(limit.clamp(1, 100)).after(after)).await?;
    let mut views = Vec::with_capacity(page.items.len());
    for i in &page.items {
        views.push(view(state, i).await?);
    }
    Ok((views, page.next.map(|c| c.as_str().to_owned())))
}

fn changed(e: TableError) -> ApiError {
    match e {
        TableError::ConditionFailed | TableError::TransactionCancelled { index: 0 } => ApiError::Conflict("the schedule was changed meanwhile; reload it".into()),
        e => e.into(),
    }
}

async fn write(state: &AppState, ws: &Workspace, meta: &RequestMeta, old: &Item, s: &Schedule, action: &str) -> Result<ScheduleView, ApiError> {
    let record = item(s, old.version + 1);
    state.table.transact(vec![TxWrite::Put { item: record.clone(), condition: Condition::VersionIs(old.version) }, audit::entry(state, ws, meta, action, s.id.as_str())]).await.map_err(changed)?;
    view(state, &record).await
}

/// Replaces everything but the dates already run (a date never runs twice, whatever the new time).
pub async fn update(state: &AppState, ws: &Workspace, meta: &RequestMeta, site: &SiteId, id: &ScheduleId, input: &ScheduleInput) -> Result<ScheduleView, ApiError> {
    ws.require(Action::NotificationsSend)?;
    sites::get(state, ws, site).await?;
    let old = load(state, ws.id(), site, id).await?;
    if input.version.is_some_and(|v| v != old.version) {
        return Err(ApiError::Conflict(format!("the schedule is at version {}; reload it", old.version)));
    }
    let s = build(state, ws.id(), input, site, Some(old.parse()?)).await?;
    write(state, ws, meta, &old, &s, "recurring.update").await
}

/// Pause (out of the due index) or resume (the next run from now on; runs missed while paused are not made up).
pub async fn set_status(state: &AppState, ws: &Workspace, meta: &RequestMeta, site: &SiteId, id: &ScheduleId, status: Status) -> Result<ScheduleView, ApiError> {
    ws.require(Action::NotificationsSend)?;
    sites::get(state, ws, site).await?;
    let old = load(state, ws.id(), site, id).await?;
    let mut s: Schedule = old.parse()?;
    if s.status == status {
        return view(state, &old).await;
    }
    let now = state.clock.now();
    s.status = status;
    s.updated_at = now.to_rfc3339();
    if status == Status::Active {
        plan_next(&mut s, now);
    }
    write(state, ws, meta, &old, &s, if status == Status::Paused { "recurring.pause" } else { "recurring.resume" }).await
}

pub async fn delete(state: &AppState, ws: &Workspace, meta: &RequestMeta, site: &SiteId, id: &ScheduleId) -> Result<(), ApiError> {
    ws.require(Action::NotificationsSend)?;
    sites::get(state, ws, site).await?;
    let writes = vec![TxWrite::Delete { key: schedule_key(ws.id(), site, id), condition: Condition::Exists }, audit::entry(state, ws, meta, "recurring.delete", id.as_str())];
    state.table.transact(writes).await.map_err(|e| match e {
        TableError::TransactionCancelled { index: 0 } | TableError::ConditionFailed => not_found(),
        e => e.into(),
    })
}

/// The next `count` runs (also of a paused schedule: the ones a resume now would make).
pub async fn next_runs(state: &AppState, ws: &Workspace, site: &SiteId, id: &ScheduleId, count: usize) -> Result<Vec<Run>, ApiError> {
    ws.require(Action::WorkspaceRead)?;
    sites::get(state, ws, site).await?;
    let s: Schedule = load(state, ws.id(), site, id).await?.parse()?;
    Ok(s.timing().next_runs(state.clock.now(), s.last_run_date, count.clamp(1, MAX_NEXT_RUNS)))
}

/// The next `count` runs of an unsaved schedule (the form's live preview); 422 as a save would answer.
pub async fn preview(state: &AppState, ws: &Workspace, site: &SiteId, input: &ScheduleInput, count: usize) -> Result<Vec<Run>, ApiError> {
    ws.require(Action::WorkspaceRead)?;
    sites::get(state, ws, site).await?;
    let s = build(state, ws.id(), input, site, None).await?;
    Ok(s.timing().next_runs(state.clock.now(), None, count.clamp(1, MAX_NEXT_RUNS)))
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RunView {
    #[serde(flatten)]
    pub run: RunRecord,
    /// The run's notification with its status and stats (absent once deleted).
    pub notification: Option<NotificationView>,
}

/// Runs made so far, newest first.
pub async fn runs(state: &AppState, ws: &Workspace, site: &SiteId, id: &ScheduleId, cursor: Option<&str>, limit: u32) -> Result<(Vec<RunView>, Option<String>), ApiError> {
    ws.require(Action::WorkspaceRead)?;
    sites::get(state, ws, site).await?;
    load(state, ws.id(), site, id).await?;
    let after = cursor.map(Cursor::parse).transpose()?;
    let page = state.table.query(Query::partition(runs_partition(ws.id(), site, id.as_str())).prefix("RUN#").reverse().limit(limit.clamp(1, 50)).after(after)).await?;
    let mut out = Vec::with_capacity(page.items.len());
    for i in &page.items {
        let run: RunRecord = i.parse()?;
        let notification = notifications::get(state, ws, site, &run.notification_id).await.ok();
        out.push(RunView { run, notification });
    }
    Ok((out, page.next.map(|c| c.as_str().to_owned())))
}
