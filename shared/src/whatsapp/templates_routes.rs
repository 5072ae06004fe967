//! Template library routes under `/v1/workspaces/{ws}/channels/{chan}/templates` (in `api-credentials`).

use axum::extract::{Path, Query, State};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::templates::{Template, TemplateId};
use super::templates_store::{self, NewTemplate, SyncReport, TemplateFilter};
use super::types::ChannelId;
use crate::auth::{RequestMeta, Workspace};
use crate::http::{ApiJson, ApiOk, ApiResult};
use crate::openapi::{Envelope, ErrorEnvelope};
use crate::state::AppState;

pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_templates, create_template)).routes(routes!(sync_templates)).routes(routes!(get_template))
}

#[derive(Deserialize)]
struct ChanPath {
    chan: String,
}

#[derive(Deserialize)]
struct TplPath {
    chan: String,
    tpl: String,
}

#[derive(Serialize, ToSchema)]
struct TemplatePage {
    templates: Vec<Template>,
    next_cursor: Option<String>,
}

/// The channel's template library, oldest first; `status` filters (a filtered page may be short).
#[utoipa::path(get, path = "/v1/workspaces/{ws}/channels/{chan}/templates", tag = "whatsapp", security(("bearer" = [])), params(("ws" = String, Path), ("chan" = String, Path), TemplateFilter),
    responses((status = 200, description = "OK", body = Envelope<TemplatePage>), (status = 404, description = "Not found", body = ErrorEnvelope)))]
async fn list_templates(State(state): State<AppState>, ws: Workspace, Path(p): Path<ChanPath>, Query(f): Query<TemplateFilter>) -> ApiResult<TemplatePage> {
    let (templates, next_cursor) = templates_store::list(&state, &ws, &ChannelId::parse(&p.chan)?, &f).await?;
    Ok(ApiOk::ok(TemplatePage { templates, next_cursor }))
}

/// Creates a template: submitted for review on Meta and Twilio, ready at once on Whapi (sent as text).
#[utoipa::path(post, path = "/v1/workspaces/{ws}/channels/{chan}/templates", tag = "whatsapp", security(("bearer" = [])), params(("ws" = String, Path), ("chan" = String, Path)), request_body = NewTemplate,
    responses((status = 201, description = "Created", body = Envelope<Template>), (status = 422, description = "Invalid template, missing examples, or refused by the provider", body = ErrorEnvelope)))]
async fn create_template(State(state): State<AppState>, ws: Workspace, meta: RequestMeta, Path(p): Path<ChanPath>, ApiJson(body): ApiJson<NewTemplate>) -> ApiResult<Template> {
    Ok(ApiOk::created(templates_store::create(&state, &ws, &meta, &ChannelId::parse(&p.chan)?, body).await?))
}

/// Reads the provider's templates into the library (added, updated, removed ones marked).
#[utoipa::path(post, path = "/v1/workspaces/{ws}/channels/{chan}/templates/sync", tag = "whatsapp", security(("bearer" = [])), params(("ws" = String, Path), ("chan" = String, Path)),
    responses((status = 200, description = "What changed", body = Envelope<SyncReport>), (status = 422, description = "The provider refused or has no templates", body = ErrorEnvelope)))]
async fn sync_templates(State(state): State<AppState>, ws: Workspace, meta: RequestMeta, Path(p): Path<ChanPath>) -> ApiResult<SyncReport> {
    Ok(ApiOk::ok(templates_store::sync(&state, &ws, &meta, &ChannelId::parse(&p.chan)?).await?))
}

/// One template with its components.
#[utoipa::path(get, path = "/v1/workspaces/{ws}/channels/{chan}/templates/{tpl}", tag = "whatsapp", security(("bearer" = [])), params(("ws" = String, Path), ("chan" = String, Path), ("tpl" = String, Path)),
    responses((status = 200, description = "OK", body = Envelope<Template>), (status = 404, description = "Not found", body = ErrorEnvelope)))]
async fn get_template(State(state): State<AppState>, ws: Workspace, Path(p): Path<TplPath>) -> ApiResult<Template> {
    Ok(ApiOk::ok(templates_store::get(&state, &ws, &ChannelId::parse(&p.chan)?, &TemplateId::parse(&p.tpl)?).await?))
}
