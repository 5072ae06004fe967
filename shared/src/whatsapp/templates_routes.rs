//! Template library routes under `/v1/workspaces/{ws}/channels/{chan}/templates` (in `api-credentials`).

use axum::extract::{Path, Query, State};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use crate::http::api_router::{routes, ApiRouter};

use super::templates::{Template, TemplateId};
use super::templates_media::{self, MediaQuery, UploadedSample};
use super::templates_store::{self, NewTemplate, SyncReport, TemplateFilter};
use super::types::ChannelId;
use crate::auth::{RequestMeta, Workspace};
use crate::http::{ApiError, ApiJson, ApiOk, ApiResult};
use crate::openapi::{Envelope, ErrorEnvelope};
use crate::state::AppState;

pub fn api() -> ApiRouter<AppState> {
    ApiRouter::new().routes(routes!(list_templates, create_template)).routes(routes!(sync_templates)).routes(routes!(upload_sample)).routes(routes!(get_template))
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

/// Uploads the sample media a Meta template with an image, video or document header is reviewed with
/// (Meta's Resumable Upload API, under the credential's `app_id`). The body is the raw file, its
/// `Content-Type` the file's type; the answer's `handle` goes into `examples.header_media`.
#[utoipa::path(post, path = "/v1/workspaces/{ws}/channels/{chan}/templates/media", tag = "whatsapp", security(("bearer" = [])), params(("ws" = String, Path), ("chan" = String, Path), MediaQuery),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "The file: image/jpeg or image/png (5 MB), video/mp4 (16 MB), application/pdf (16 MB here, 100 MB at Meta)"),
    responses((status = 201, description = "Uploaded", body = Envelope<UploadedSample>), (status = 413, description = "Over the upload cap", body = ErrorEnvelope),
        (status = 422, description = "Wrong type, too big, not a Meta channel, no app_id, or refused by Meta", body = ErrorEnvelope), (status = 502, description = "Meta's upload failed", body = ErrorEnvelope)))]
async fn upload_sample(State(state): State<AppState>, ws: Workspace, meta: RequestMeta, Path(p): Path<ChanPath>, Query(q): Query<MediaQuery>, headers: axum::http::HeaderMap, body: axum::body::Body) -> ApiResult<UploadedSample> {
    let cap = crate::http::media_upload_cap(state.max_body_bytes);
    let bytes = axum::body::to_bytes(body, cap).await.map_err(|_| ApiError::PayloadTooLarge(Some(cap)))?;
    let content_type = headers.get(axum::http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
    Ok(ApiOk::created(templates_media::upload(&state, &ws, &meta, &ChannelId::parse(&p.chan)?, &q, content_type, &bytes).await?))
}
