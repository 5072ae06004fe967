//! Drip routes under `/v1/workspaces/{ws}/sites/{site}/drips`: list, create, read (with per-step stats),
//! replace, pause, resume, delete. Editors and up write; every member reads.

use axum::extract::{Path, Query, State};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};
use crate::http::api_router::{routes, ApiRouter};

use super::store::{self, DripView};
use super::types::{DripId, DripInput, Status};
use crate::auth::{RequestMeta, Workspace};
use crate::http::{ApiError, ApiJson, ApiOk, ApiResult};
use crate::openapi::{Envelope, ErrorEnvelope};
use crate::push::sites::SiteId;
use crate::state::AppState;

pub fn api() -> ApiRouter<AppState> {
    ApiRouter::new()
        .routes(routes!(list_drips, create_drip))
        .routes(routes!(get_drip, update_drip, delete_drip))
        .routes(routes!(pause_drip))
        .routes(routes!(resume_drip))
}

#[derive(Deserialize)]
struct SitePath {
    site: String,
}

#[derive(Deserialize)]
struct DripPath {
    site: String,
    drip: String,
}

fn site_id(raw: &str) -> Result<SiteId, ApiError> {
    SiteId::parse(raw).map_err(|_| ApiError::NotFound("no such site".into()))
}

fn ids(p: &DripPath) -> Result<(SiteId, DripId), ApiError> {
    Ok((site_id(&p.site)?, DripId::parse(&p.drip).map_err(|_| ApiError::NotFound("no such drip".into()))?))
}

#[derive(Deserialize, IntoParams)]
struct Page {
    cursor: Option<String>,
    limit: Option<u32>,
}

#[derive(Serialize, ToSchema)]
struct DripPage {
    drips: Vec<DripView>,
    next_cursor: Option<String>,
}

/// Welcome drips of a site, newest first, with their stats.
#[utoipa::path(get, path = "/v1/workspaces/{ws}/sites/{site}/drips", tag = "push", security(("bearer" = [])), params(("ws" = String, Path), ("site" = String, Path), Page),
    responses((status = 200, description = "OK", body = Envelope<DripPage>), (status = 404, description = "Not found", body = ErrorEnvelope), (status = 422, description = "Invalid cursor", body = ErrorEnvelope)))]
async fn list_drips(State(state): State<AppState>, ws: Workspace, Path(p): Path<SitePath>, Query(q): Query<Page>) -> ApiResult<DripPage> {
    let (drips, next_cursor) = store::list(&state, &ws, &site_id(&p.site)?, q.cursor.as_deref(), q.limit.unwrap_or(20)).await?;
    Ok(ApiOk::ok(DripPage { drips, next_cursor }))
}

/// Creates a drip: steps sent each `delay_minutes` after a new subscriber subscribed, optionally only to a segment.
#[utoipa::path(post, path = "/v1/workspaces/{ws}/sites/{site}/drips", tag = "push", security(("bearer" = [])), params(("ws" = String, Path), ("site" = String, Path)), request_body = DripInput,
    responses((status = 201, description = "Created", body = Envelope<DripView>), (status = 404, description = "Not found", body = ErrorEnvelope), (status = 422, description = "Invalid input, naming the field (e.g. `steps[1].delay_minutes: …`)", body = ErrorEnvelope)))]
async fn create_drip(State(state): State<AppState>, ws: Workspace, meta: RequestMeta, Path(p): Path<SitePath>, ApiJson(body): ApiJson<DripInput>) -> ApiResult<DripView> {
    Ok(ApiOk::created(store::create(&state, &ws, &meta, &site_id(&p.site)?, &body).await?))
}

/// One drip with per-step stats.
#[utoipa::path(get, path = "/v1/workspaces/{ws}/sites/{site}/drips/{drip}", tag = "push", security(("bearer" = [])), params(("ws" = String, Path), ("site" = String, Path), ("drip" = String, Path)),
    responses((status = 200, description = "OK", body = Envelope<DripView>), (status = 404, description = "Not found", body = ErrorEnvelope)))]
async fn get_drip(State(state): State<AppState>, ws: Workspace, Path(p): Path<DripPath>) -> ApiResult<DripView> {
    let (site, id) = ids(&p)?;
    Ok(ApiOk::ok(store::get(&state, &ws, &site, &id).await?))
}

/// Replaces a drip's name, segment and steps (pass back step ids to keep steps and their stats). Only
/// steps still ahead of each enrolled subscriber are affected.
#[utoipa::path(put, path = "/v1/workspaces/{ws}/sites/{site}/drips/{drip}", tag = "push", security(("bearer" = [])), params(("ws" = String, Path), ("site" = String, Path), ("drip" = String, Path)), request_body = DripInput,
    responses((status = 200, description = "OK", body = Envelope<DripView>), (status = 404, description = "Not found", body = ErrorEnvelope), (status = 409, description = "Changed since the version given", body = ErrorEnvelope), (status = 422, description = "Invalid input", body = ErrorEnvelope)))]
async fn update_drip(State(state): State<AppState>, ws: Workspace, meta: RequestMeta, Path(p): Path<DripPath>, ApiJson(body): ApiJson<DripInput>) -> ApiResult<DripView> {
    let (site, id) = ids(&p)?;
    Ok(ApiOk::ok(store::update(&state, &ws, &meta, &site, &id, &body).await?))
}

/// Deletes a drip; subscribers on their way through it get no further steps.
#[utoipa::path(delete, path = "/v1/workspaces/{ws}/sites/{site}/drips/{drip}", tag = "push", security(("bearer" = [])), params(("ws" = String, Path), ("site" = String, Path), ("drip" = String, Path)),
    responses((status = 200, description = "Deleted"), (status = 404, description = "Not found", body = ErrorEnvelope)))]
async fn delete_drip(State(state): State<AppState>, ws: Workspace, meta: RequestMeta, Path(p): Path<DripPath>) -> ApiResult<serde_json::Value> {
    let (site, id) = ids(&p)?;
    store::delete(&state, &ws, &meta, &site, &id).await?;
    Ok(ApiOk::ok(json!({"deleted": id})))
}

/// Pauses a drip: nobody new is enrolled, and steps coming due meanwhile are skipped (`skipped_paused`).
#[utoipa::path(post, path = "/v1/workspaces/{ws}/sites/{site}/drips/{drip}/pause", tag = "push", security(("bearer" = [])), params(("ws" = String, Path), ("site" = String, Path), ("drip" = String, Path)),
    responses((status = 200, description = "Paused", body = Envelope<DripView>), (status = 404, description = "Not found", body = ErrorEnvelope)))]
async fn pause_drip(State(state): State<AppState>, ws: Workspace, meta: RequestMeta, Path(p): Path<DripPath>) -> ApiResult<DripView> {
    let (site, id) = ids(&p)?;
    Ok(ApiOk::ok(store::set_status(&state, &ws, &meta, &site, &id, Status::Paused).await?))
}

/// Resumes a paused drip.
#[utoipa::path(post, path = "/v1/workspaces/{ws}/sites/{site}/drips/{drip}/resume", tag = "push", security(("bearer" = [])), params(("ws" = String, Path), ("site" = String, Path), ("drip" = String, Path)),
    responses((status = 200, description = "Active", body = Envelope<DripView>), (status = 404, description = "Not found", body = ErrorEnvelope)))]
async fn resume_drip(State(state): State<AppState>, ws: Workspace, meta: RequestMeta, Path(p): Path<DripPath>) -> ApiResult<DripView> {
    let (site, id) = ids(&p)?;
    Ok(ApiOk::ok(store::set_status(&state, &ws, &meta, &site, &id, Status::Active).await?))
}
