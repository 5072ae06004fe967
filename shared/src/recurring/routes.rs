//! Recurring schedule routes under `/v1/workspaces/{ws}/sites/{site}/recurring`: list, create, read,
//! replace, pause, resume, delete, the next runs (also of an unsaved draft) and the runs made.

use axum::extract::{Path, Query, State};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};
use crate::http::api_router::{routes, ApiRouter};

use super::rule::Run;
use super::store::{self, RunView, ScheduleView};
use super::types::{ScheduleId, ScheduleInput, Status};
use crate::auth::{RequestMeta, Workspace};
use crate::http::{ApiError, ApiJson, ApiOk, ApiResult};
use crate::openapi::{Envelope, ErrorEnvelope};
use crate::push::sites::SiteId;
use crate::state::AppState;

pub fn api() -> ApiRouter<AppState> {
    ApiRouter::new()
        .routes(routes!(list_recurring, create_recurring))
        .routes(routes!(preview_recurring_runs))
        .routes(routes!(get_recurring, update_recurring, delete_recurring))
        .routes(routes!(pause_recurring))
        .routes(routes!(resume_recurring))
        .routes(routes!(recurring_next_runs))
        .routes(routes!(recurring_runs))
}

#[derive(Deserialize)]
struct SitePath {
    site: String,
}

#[derive(Deserialize)]
struct SchedulePath {
    site: String,
    schedule: String,
}

fn site_id(raw: &str) -> Result<SiteId, ApiError> {
    SiteId::parse(raw).map_err(|_| ApiError::NotFound("no such site".into()))
}

fn ids(p: &SchedulePath) -> Result<(SiteId, ScheduleId), ApiError> {
    Ok((site_id(&p.site)?, ScheduleId::parse(&p.schedule).map_err(|_| ApiError::NotFound("no such recurring schedule".into()))?))
}

#[derive(Deserialize, IntoParams)]
struct Page {
    cursor: Option<String>,
    limit: Option<u32>,
}

#[derive(Deserialize, IntoParams)]
struct Count {
    /// How many runs (1–50, default 5).
    count: Option<usize>,
}

#[derive(Serialize, ToSchema)]
struct SchedulePage {
    schedules: Vec<ScheduleView>,
    next_cursor: Option<String>,
}

#[derive(Serialize, ToSchema)]
struct RunPage {
    runs: Vec<RunView>,
    next_cursor: Option<String>,
}

/// Recurring schedules of a site, newest first.
#[utoipa::path(get, path = "/v1/workspaces/{ws}/sites/{site}/recurring", tag = "push", security(("bearer" = [])), params(("ws" = String, Path), ("site" = String, Path), Page),
    responses((status = 200, description = "OK", body = Envelope<SchedulePage>), (status = 404, description = "Not found", body = ErrorEnvelope), (status = 422, description = "Invalid cursor", body = ErrorEnvelope)))]
async fn list_recurring(State(state): State<AppState>, ws: Workspace, Path(p): Path<SitePath>, Query(q): Query<Page>) -> ApiResult<SchedulePage> {
    let (schedules, next_cursor) = store::list(&state, &ws, &site_id(&p.site)?, q.cursor.as_deref(), q.limit.unwrap_or(20)).await?;
    Ok(ApiOk::ok(SchedulePage { schedules, next_cursor }))
}

/// Creates a recurring schedule: daily, weekly (days of the week) or monthly (day of the month), at a time
/// in a zone or in each subscriber's, from a start date to an optional end date. Each run is a normal notification.
#[utoipa::path(post, path = "/v1/workspaces/{ws}/sites/{site}/recurring", tag = "push", security(("bearer" = [])), params(("ws" = String, Path), ("site" = String, Path)), request_body = ScheduleInput,
    responses((status = 201, description = "Created", body = Envelope<ScheduleView>), (status = 404, description = "Not found", body = ErrorEnvelope), (status = 422, description = "Invalid input, naming the field (e.g. `rule.days: …`)", body = ErrorEnvelope)))]
async fn create_recurring(State(state): State<AppState>, ws: Workspace, meta: RequestMeta, Path(p): Path<SitePath>, ApiJson(body): ApiJson<ScheduleInput>) -> ApiResult<ScheduleView> {
    Ok(ApiOk::created(store::create(&state, &ws, &meta, &site_id(&p.site)?, &body).await?))
}

/// The next runs an unsaved schedule would make (checked as a save would be).
#[utoipa::path(post, path = "/v1/workspaces/{ws}/sites/{site}/recurring/next-runs", tag = "push", security(("bearer" = [])), params(("ws" = String, Path), ("site" = String, Path), Count), request_body = ScheduleInput,
    responses((status = 200, description = "OK", body = Envelope<Vec<Run>>), (status = 404, description = "Not found", body = ErrorEnvelope), (status = 422, description = "Invalid input", body = ErrorEnvelope)))]
async fn preview_recurring_runs(State(state): State<AppState>, ws: Workspace, Path(p): Path<SitePath>, Query(q): Query<Count>, ApiJson(body): ApiJson<ScheduleInput>) -> ApiResult<Vec<Run>> {
    Ok(ApiOk::ok(store::preview(&state, &ws, &site_id(&p.site)?, &body, q.count.unwrap_or(5)).await?))
}

/// One recurring schedule with its next run and summed stats.
#[utoipa::path(get, path = "/v1/workspaces/{ws}/sites/{site}/recurring/{schedule}", tag = "push", security(("bearer" = [])), params(("ws" = String, Path), ("site" = String, Path), ("schedule" = String, Path)),
    responses((status = 200, description = "OK", body = Envelope<ScheduleView>), (status = 404, description = "Not found", body = ErrorEnvelope)))]
async fn get_recurring(State(state): State<AppState>, ws: Workspace, Path(p): Path<SchedulePath>) -> ApiResult<ScheduleView> {
    let (site, id) = ids(&p)?;
    Ok(ApiOk::ok(store::get(&state, &ws, &site, &id).await?))
}

/// Replaces a schedule (dates already run do not run again).
#[utoipa::path(put, path = "/v1/workspaces/{ws}/sites/{site}/recurring/{schedule}", tag = "push", security(("bearer" = [])), params(("ws" = String, Path), ("site" = String, Path), ("schedule" = String, Path)), request_body = ScheduleInput,
    responses((status = 200, description = "OK", body = Envelope<ScheduleView>), (status = 404, description = "Not found", body = ErrorEnvelope), (status = 409, description = "Changed since the version given", body = ErrorEnvelope), (status = 422, description = "Invalid input", body = ErrorEnvelope)))]
async fn update_recurring(State(state): State<AppState>, ws: Workspace, meta: RequestMeta, Path(p): Path<SchedulePath>, ApiJson(body): ApiJson<ScheduleInput>) -> ApiResult<ScheduleView> {
    let (site, id) = ids(&p)?;
    Ok(ApiOk::ok(store::update(&state, &ws, &meta, &site, &id, &body).await?))
}

/// Deletes a schedule (notifications it made stay).
#[utoipa::path(delete, path = "/v1/workspaces/{ws}/sites/{site}/recurring/{schedule}", tag = "push", security(("bearer" = [])), params(("ws" = String, Path), ("site" = String, Path), ("schedule" = String, Path)),
    responses((status = 200, description = "Deleted"), (status = 404, description = "Not found", body = ErrorEnvelope)))]
async fn delete_recurring(State(state): State<AppState>, ws: Workspace, meta: RequestMeta, Path(p): Path<SchedulePath>) -> ApiResult<serde_json::Value> {
    let (site, id) = ids(&p)?;
    store::delete(&state, &ws, &meta, &site, &id).await?;
    Ok(ApiOk::ok(json!({"deleted": id})))
}

/// Pauses a schedule: no run until it is resumed.
#[utoipa::path(post, path = "/v1/workspaces/{ws}/sites/{site}/recurring/{schedule}/pause", tag = "push", security(("bearer" = [])), params(("ws" = String, Path), ("site" = String, Path), ("schedule" = String, Path)),
    responses((status = 200, description = "Paused", body = Envelope<ScheduleView>), (status = 404, description = "Not found", body = ErrorEnvelope)))]
async fn pause_recurring(State(state): State<AppState>, ws: Workspace, meta: RequestMeta, Path(p): Path<SchedulePath>) -> ApiResult<ScheduleView> {
    let (site, id) = ids(&p)?;
    Ok(ApiOk::ok(store::set_status(&state, &ws, &meta, &site, &id, Status::Paused).await?))
}

/// Resumes a schedule from its next run after now (runs missed while paused are not made up).
#[utoipa::path(post, path = "/v1/workspaces/{ws}/sites/{site}/recurring/{schedule}/resume", tag = "push", security(("bearer" = [])), params(("ws" = String, Path), ("site" = String, Path), ("schedule" = String, Path)),
    responses((status = 200, description = "Active (or ended, when no run is left)", body = Envelope<ScheduleView>), (status = 404, description = "Not found", body = ErrorEnvelope)))]
async fn resume_recurring(State(state): State<AppState>, ws: Workspace, meta: RequestMeta, Path(p): Path<SchedulePath>) -> ApiResult<ScheduleView> {
    let (site, id) = ids(&p)?;
    Ok(ApiOk::ok(store::set_status(&state, &ws, &meta, &site, &id, Status::Active).await?))
}

/// The next runs of a schedule.
#[utoipa::path(get, path = "/v1/workspaces/{ws}/sites/{site}/recurring/{schedule}/next-runs", tag = "push", security(("bearer" = [])), params(("ws" = String, Path), ("site" = String, Path), ("schedule" = String, Path), Count),
    responses((status = 200, description = "OK", body = Envelope<Vec<Run>>), (status = 404, description = "Not found", body = ErrorEnvelope)))]
async fn recurring_next_runs(State(state): State<AppState>, ws: Workspace, Path(p): Path<SchedulePath>, Query(q): Query<Count>) -> ApiResult<Vec<Run>> {
    let (site, id) = ids(&p)?;
    Ok(ApiOk::ok(store::next_runs(&state, &ws, &site, &id, q.count.unwrap_or(5)).await?))
}

/// The runs made so far, newest first, each with its notification's status and stats.
#[utoipa::path(get, path = "/v1/workspaces/{ws}/sites/{site}/recurring/{schedule}/runs", tag = "push", security(("bearer" = [])), params(("ws" = String, Path), ("site" = String, Path), ("schedule" = String, Path), Page),
    responses((status = 200, description = "OK", body = Envelope<RunPage>), (status = 404, description = "Not found", body = ErrorEnvelope), (status = 422, description = "Invalid cursor", body = ErrorEnvelope)))]
async fn recurring_runs(State(state): State<AppState>, ws: Workspace, Path(p): Path<SchedulePath>, Query(q): Query<Page>) -> ApiResult<RunPage> {
    let (site, id) = ids(&p)?;
    let (runs, next_cursor) = store::runs(&state, &ws, &site, &id, q.cursor.as_deref(), q.limit.unwrap_or(20)).await?;
    Ok(ApiOk::ok(RunPage { runs, next_cursor }))
}
