//! Drips of a site, stored under `WS#<ws>#SITE#<site>#DRIPS`/`DRIP#<id>`; their counters (`enrolled`, per
//! step `sent`, `skipped_*` and the mirrored delivery counters) in the drip's own partition
//! `…#DRIP#<id>`, so a counter never bumps the definition's version and one query reads them all.

use serde::Serialize;
use utoipa::ToSchema;

use super::types::{self, Drip, DripId, DripInput, Status, Step, StepId};
use crate::auth::{Action, RequestMeta, Workspace, WorkspaceId};
use crate::http::ApiError;
use crate::ports::{Condition, Cursor, Item, Key, Query, TableError, TxWrite};
use crate::push::sites::{self, SiteId};
use crate::state::AppState;
use crate::workspaces::audit;

/// A site's drips are all read when someone subscribes, so their number is bounded.
pub const MAX_DRIPS: usize = 20;

fn partition(ws: &WorkspaceId, site: &SiteId) -> String {
    format!("WS#{ws}#SITE#{site}#DRIPS")
}

pub fn drip_key(ws: &WorkspaceId, site: &SiteId, id: &DripId) -> Key {
    Key::new(partition(ws, site), format!("DRIP#{id}"))
}

fn stats_partition(ws: &WorkspaceId, site: &SiteId, drip: &str) -> String {
    format!("WS#{ws}#SITE#{site}#DRIP#{drip}")
}

/// The counters of one step over every subscriber it went (or did not go) to.
pub fn step_stats_key(ws: &WorkspaceId, site: &SiteId, drip: &str, step: &str) -> Key {
    Key::new(stats_partition(ws, site, drip), format!("STEP#{step}"))
}

/// The drip's own counters: `enrolled`, `completed`, `stopped`.
pub fn drip_stats_key(ws: &WorkspaceId, site: &SiteId, drip: &str) -> Key {
    Key::new(stats_partition(ws, site, drip), "STATS")
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StepView {
    #[serde(flatten)]
    pub step: Step,
    /// `sent`, `skipped_unsubscribed`, `skipped_segment`, `skipped_paused`, and the counters of the
    /// notifications sent (`accepted`, `failed_*`, `capped`, `impressions`, `clicks`, `unsubscribes`).
    #[schema(value_type = Object)]
    pub stats: serde_json::Map<String, serde_json::Value>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DripView {
    pub id: DripId,
    pub site_id: SiteId,
    pub name: String,
    pub status: Status,
    pub segment_id: Option<String>,
    pub steps: Vec<StepView>,
    /// `enrolled`, `completed` (had every step), `stopped` (unsubscribed on the way).
    #[schema(value_type = Object)]
    pub stats: serde_json::Map<String, serde_json::Value>,
    pub created_at: String,
    pub updated_at: String,
    pub version: u64,
}

fn counters(item: Option<&Item>) -> serde_json::Map<String, serde_json::Value> {
    item.map(|i| i.attrs.iter().filter(|(_, v)| v.is_i64()).map(|(k, v)| (k.clone(), v.clone())).collect()).unwrap_or_default()
}

async fn view(state: &AppState, ws: &WorkspaceId, item: &Item) -> Result<DripView, ApiError> {
    let drip: Drip = item.parse()?;
    let page = state.table.query(Query::partition(stats_partition(ws, &drip.site_id, drip.id.as_str())).prefix("S").limit(100)).await?;
    let find = |sk: &str| page.items.iter().find(|i| i.key.sk == sk);
    let steps = drip.steps.iter().map(|s| StepView { step: s.clone(), stats: counters(find(&format!("STEP#{}", s.id))) }).collect();
    Ok(DripView { id: drip.id, site_id: drip.site_id, name: drip.name, status: drip.status, segment_id: drip.segment_id, steps, stats: counters(find("STATS")), created_at: drip.created_at, updated_at: drip.updated_at, version: item.version })
}

fn not_found() -> ApiError {
    ApiError::NotFound("no such drip".into())
}

async fn load(state: &AppState, ws: &WorkspaceId, site: &SiteId, id: &DripId) -> Result<Item, ApiError> {
    state.table.get(&drip_key(ws, site, id)).await?.ok_or_else(not_found)
}

/// A saved segment of the site, or 422 naming `segment_id`.
async fn check_segment(state: &AppState, ws: &WorkspaceId, site: &SiteId, segment: Option<&str>) -> Result<Option<String>, ApiError> {
    let Some(raw) = segment.map(str::trim).filter(|s| !s.is_empty()) else { return Ok(None) };
    let target = crate::push::notifications::Target::Segment { segment_id: raw.to_owned(), rules: None };
    match crate::push::segments::resolve_target(state, ws, site, target).await {
        Ok(_) => Ok(Some(raw.to_owned())),
        Err(ApiError::NotFound(_)) => Err(ApiError::Validation("segment_id: no such segment on this site".into())),
        Err(e) => Err(e),
    }
}

pub async fn create(state: &AppState, ws: &Workspace, meta: &RequestMeta, site_id: &SiteId, input: &DripInput) -> Result<DripView, ApiError> {
    ws.require(Action::NotificationsSend)?;
    let site = sites::get(state, ws, site_id).await?;
    let (name, steps) = types::parse(input, &site, &[], || StepId::new(state.clock.new_id()))?;
    let segment_id = check_segment(state, ws.id(), site_id, input.segment_id.as_deref()).await?;
    if active_and_paused(state, ws.id(), site_id).await?.len() >= MAX_DRIPS {
        return Err(ApiError::Validation(format!("a site has at most {MAX_DRIPS} drips")));
    }
    let now = state.clock.now().to_rfc3339();
    let drip = Drip { id: DripId::new(state.clock.new_id()), site_id: site_id.clone(), name, status: input.status.unwrap_or_default(), segment_id, steps, created_at: now.clone(), updated_at: now };
    let item = Item::of(drip_key(ws.id(), site_id, &drip.id), &drip);
    state.table.transact(vec![TxWrite::Put { item: item.clone(), condition: Condition::NotExists }, audit::entry(state, ws, meta, "drip.create", drip.id.as_str())]).await?;
    view(state, ws.id(), &item.with_version(0)).await
}

pub async fn get(state: &AppState, ws: &Workspace, site: &SiteId, id: &DripId) -> Result<DripView, ApiError> {
    ws.require(Action::WorkspaceRead)?;
    sites::get(state, ws, site).await?;
    view(state, ws.id(), &load(state, ws.id(), site, id).await?).await
}

/// Every drip of a site, for enrolment (no access check). A record that does not parse is left out
/// (and logged), so it cannot make every subscribe call of the site fail.
pub async fn active_and_paused(state: &AppState, ws: &WorkspaceId, site: &SiteId) -> Result<Vec<Drip>, ApiError> {
    let page = state.table.query(Query::partition(partition(ws, site)).prefix("DRIP#").limit(MAX_DRIPS as u32 + 5)).await?;
    Ok(page
        .items
        .iter()
        .filter_map(|i| i.parse().map_err(|e| tracing::warn!(error = %e, "drip record does not parse; skipped")).ok())
        .collect())
}

/// The drip for the tick (no access check); `None` once deleted.
pub async fn by_id(state: &AppState, ws: &WorkspaceId, site: &SiteId, id: &str) -> Result<Option<Drip>, ApiError> {
    let Ok(id) = DripId::parse(id) else { return Ok(None) };
    Ok(state.table.get(&drip_key(ws, site, &id)).await?.map(|i| i.parse()).transpose()?)
}

pub async fn list(state: &AppState, ws: &Workspace, site: &SiteId, cursor: Option<&str>, limit: u32) -> Result<(Vec<DripView>, Option<String>), ApiError> {
    ws.require(Action::WorkspaceRead)?;
    sites::get(state, ws, site).await?;
    let after = cursor.map(Cursor::parse).transpose()?;
    let page = state.table.query(Query::partition(partition(ws.id(), site)).prefix("DRIP#").reverse().limit(limit.clamp(1, 100)).after(after)).await?;
    let mut views = Vec::with_capacity(page.items.len());
    for item in &page.items {
        views.push(view(state, ws.id(), item).await?);
    }
    Ok((views, page.next.map(|c| c.as_str().to_owned())))
}

fn changed(e: TableError) -> ApiError {
    match e {
        TableError::ConditionFailed | TableError::TransactionCancelled { index: 0 } => ApiError::Conflict("the drip was changed meanwhile; reload it".into()),
        e => e.into(),
    }
}

/// Replaces name, segment and steps (and the status when given). Steps passed with their ids keep them
/// (and their stats); enrolments go on from where they are, so only steps still ahead are affected.
pub async fn update(state: &AppState, ws: &Workspace, meta: &RequestMeta, site_id: &SiteId, id: &DripId, input: &DripInput) -> Result<DripView, ApiError> {
    ws.require(Action::NotificationsSend)?;
    let site = sites::get(state, ws, site_id).await?;
    let item = load(state, ws.id(), site_id, id).await?;
    if input.version.is_some_and(|v| v != item.version) {
        return Err(ApiError::Conflict(format!("the drip is at version {}; reload it", item.version)));
    }
    let old: Drip = item.parse()?;
    let kept: Vec<StepId> = old.steps.iter().map(|s| s.id.clone()).collect();
    let (name, steps) = types::parse(input, &site, &kept, || StepId::new(state.clock.new_id()))?;
    let segment_id = check_segment(state, ws.id(), site_id, input.segment_id.as_deref()).await?;
    let drip = Drip { name, steps, segment_id, status: input.status.unwrap_or(old.status), updated_at: state.clock.now().to_rfc3339(), ..old };
    write(state, ws, meta, &item, &drip, "drip.update").await
}

async fn write(state: &AppState, ws: &Workspace, meta: &RequestMeta, item: &Item, drip: &Drip, action: &str) -> Result<DripView, ApiError> {
    let updated = Item::of(item.key.clone(), drip).with_version(item.version + 1);
    let writes = vec![TxWrite::Put { item: updated.clone(), condition: Condition::VersionIs(item.version) }, audit::entry(state, ws, meta, action, drip.id.as_str())];
    state.table.transact(writes).await.map_err(changed)?;
    view(state, ws.id(), &updated).await
}

/// Pause or resume. Idempotent: setting the status a drip has answers it as it is.
pub async fn set_status(state: &AppState, ws: &Workspace, meta: &RequestMeta, site: &SiteId, id: &DripId, status: Status) -> Result<DripView, ApiError> {
    ws.require(Action::NotificationsSend)?;
    sites::get(state, ws, site).await?;
    let item = load(state, ws.id(), site, id).await?;
    let drip: Drip = item.parse()?;
    if drip.status == status {
        return view(state, ws.id(), &item).await;
    }
    let action = if status == Status::Paused { "drip.pause" } else { "drip.resume" };
    write(state, ws, meta, &item, &Drip { status, updated_at: state.clock.now().to_rfc3339(), ..drip }, action).await
}

/// Deletes the definition; enrolments still waiting find it gone when due and are dropped then (no scan).
pub async fn delete(state: &AppState, ws: &Workspace, meta: &RequestMeta, site: &SiteId, id: &DripId) -> Result<(), ApiError> {
    ws.require(Action::NotificationsSend)?;
    sites::get(state, ws, site).await?;
    let writes = vec![TxWrite::Delete { key: drip_key(ws.id(), site, id), condition: Condition::Exists }, audit::entry(state, ws, meta, "drip.delete", id.as_str())];
    state.table.transact(writes).await.map_err(|e| match e {
        TableError::TransactionCancelled { index: 0 } | TableError::ConditionFailed => not_found(),
        e => e.into(),
    })
}
