//! Segment routes under `/v1/workspaces/{ws}/sites/{site}/segments` (CRUD and estimates), the site's
//! VAPID key import, the subscriber import and export, and the public attributes endpoint the SDK's `setAttributes` calls.

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use serde::Deserialize;
use serde_json::json;
use utoipa::ToSchema;
use crate::http::api_router::{routes, ApiRouter};

use super::segments::{self, Estimate, Segment, SegmentId, SegmentInput};
use super::sites::SiteId;
use super::subscribers;
use crate::auth::{RequestMeta, Workspace};
use crate::http::{ApiError, ApiJson, ApiOk, ApiResult};
use crate::openapi::{Envelope, ErrorEnvelope};
use crate::state::AppState;

pub fn api() -> ApiRouter<AppState> {
    ApiRouter::new()
        .routes(routes!(list_segments, create_segment))
        .routes(routes!(estimate_draft))
        .routes(routes!(get_segment, update_segment, delete_segment))
        .routes(routes!(estimate_segment))
        .routes(routes!(import_vapid_key))
        .routes(routes!(export_subscribers))
        .routes(routes!(import_subscribers))
        .routes(routes!(create_subscriber_import))
        .routes(routes!(get_subscriber_import))
        .routes(routes!(put_import_part))
}

pub fn public_api() -> ApiRouter<AppState> {
    ApiRouter::new().routes(routes!(update_attributes))
}

#[derive(Deserialize)]
struct SitePath {
    site: String,
}

#[derive(Deserialize)]
struct SegmentPath {
    site: String,
    segment: String,
}

fn site_id(raw: &str) -> Result<SiteId, ApiError> {
    SiteId::parse(raw).map_err(|_| ApiError::NotFound("no such site".into()))
}

fn ids(p: &SegmentPath) -> Result<(SiteId, SegmentId), ApiError> {
    Ok((site_id(&p.site)?, SegmentId::parse(&p.segment).map_err(|_| ApiError::NotFound("no such segment".into()))?))
}

/// Segments of a site.
#[utoipa::path(get, path = "/v1/workspaces/{ws}/sites/{site}/segments", tag = "push", security(("bearer" = [])), params(("ws" = String, Path), ("site" = String, Path)),
    responses((status = 200, description = "OK", body = Envelope<Vec<Segment>>), (status = 404, description = "Not found", body = ErrorEnvelope)))]
async fn list_segments(State(state): State<AppState>, ws: Workspace, Path(p): Path<SitePath>) -> ApiResult<Vec<Segment>> {
    let site = super::sites::get(&state, &ws, &site_id(&p.site)?).await?.id;
    Ok(ApiOk::ok(segments::list(&state, &ws, &site).await?))
}

/// Saves a segment; its rules are checked and a refusal names the rule by JSON path.
#[utoipa::path(post, path = "/v1/workspaces/{ws}/sites/{site}/segments", tag = "push", security(("bearer" = [])), params(("ws" = String, Path), ("site" = String, Path)), request_body = SegmentInput,
    responses((status = 201, description = "Created", body = Envelope<Segment>), (status = 404, description = "Not found", body = ErrorEnvelope), (status = 422, description = "Invalid rules, e.g. `rules.groups[1].conditions[0].op: ...`", body = ErrorEnvelope)))]
async fn create_segment(State(state): State<AppState>, ws: Workspace, meta: RequestMeta, Path(p): Path<SitePath>, ApiJson(body): ApiJson<SegmentInput>) -> ApiResult<Segment> {
    Ok(ApiOk::created(segments::create(&state, &ws, &meta, &site_id(&p.site)?, &body).await?))
}

/// One segment.
#[utoipa::path(get, path = "/v1/workspaces/{ws}/sites/{site}/segments/{segment}", tag = "push", security(("bearer" = [])), params(("ws" = String, Path), ("site" = String, Path), ("segment" = String, Path)),
    responses((status = 200, description = "OK", body = Envelope<Segment>), (status = 404, description = "Not found", body = ErrorEnvelope)))]
async fn get_segment(State(state): State<AppState>, ws: Workspace, Path(p): Path<SegmentPath>) -> ApiResult<Segment> {
    let (site, id) = ids(&p)?;
    Ok(ApiOk::ok(segments::get(&state, &ws, &site, &id).await?))
}

/// Replaces a segment's name and rules (notifications already sent keep the rules they were sent with).
#[utoipa::path(put, path = "/v1/workspaces/{ws}/sites/{site}/segments/{segment}", tag = "push", security(("bearer" = [])), params(("ws" = String, Path), ("site" = String, Path), ("segment" = String, Path)), request_body = SegmentInput,
    responses((status = 200, description = "OK", body = Envelope<Segment>), (status = 404, description = "Not found", body = ErrorEnvelope), (status = 409, description = "Changed concurrently", body = ErrorEnvelope), (status = 422, description = "Invalid rules", body = ErrorEnvelope)))]
async fn update_segment(State(state): State<AppState>, ws: Workspace, meta: RequestMeta, Path(p): Path<SegmentPath>, ApiJson(body): ApiJson<SegmentInput>) -> ApiResult<Segment> {
    let (site, id) = ids(&p)?;
    Ok(ApiOk::ok(segments::update(&state, &ws, &meta, &site, &id, &body).await?))
}

/// Deletes a segment.
#[utoipa::path(delete, path = "/v1/workspaces/{ws}/sites/{site}/segments/{segment}", tag = "push", security(("bearer" = [])), params(("ws" = String, Path), ("site" = String, Path), ("segment" = String, Path)),
    responses((status = 200, description = "Deleted"), (status = 404, description = "Not found", body = ErrorEnvelope)))]
async fn delete_segment(State(state): State<AppState>, ws: Workspace, meta: RequestMeta, Path(p): Path<SegmentPath>) -> ApiResult<serde_json::Value> {
    let (site, id) = ids(&p)?;
    segments::delete(&state, &ws, &meta, &site, &id).await?;
    Ok(ApiOk::ok(json!({"deleted": p.segment})))
}

/// How many subscribers a saved segment selects now.
#[utoipa::path(post, path = "/v1/workspaces/{ws}/sites/{site}/segments/{segment}/estimate", tag = "push", security(("bearer" = [])), params(("ws" = String, Path), ("site" = String, Path), ("segment" = String, Path)),
    responses((status = 200, description = "OK", body = Envelope<Estimate>), (status = 404, description = "Not found", body = ErrorEnvelope)))]
async fn estimate_segment(State(state): State<AppState>, ws: Workspace, Path(p): Path<SegmentPath>) -> ApiResult<Estimate> {
    let (site, id) = ids(&p)?;
    let segment = segments::get(&state, &ws, &site, &id).await?;
    Ok(ApiOk::ok(segments::estimate(&state, &ws, &site, &segment.rules).await?))
}

#[derive(Deserialize, ToSchema)]
struct DraftRules {
    #[schema(value_type = Object)]
    rules: serde_json::Value,
}

/// How many subscribers unsaved rules select now (the rule editor's live estimate).
#[utoipa::path(post, path = "/v1/workspaces/{ws}/sites/{site}/segments/estimate", tag = "push", security(("bearer" = [])), params(("ws" = String, Path), ("site" = String, Path)), request_body = DraftRules,
    responses((status = 200, description = "OK", body = Envelope<Estimate>), (status = 404, description = "Not found", body = ErrorEnvelope), (status = 422, description = "Invalid rules", body = ErrorEnvelope)))]
async fn estimate_draft(State(state): State<AppState>, ws: Workspace, Path(p): Path<SitePath>, ApiJson(body): ApiJson<DraftRules>) -> ApiResult<Estimate> {
    let rules = segments::parse_rules(&body.rules)?;
    Ok(ApiOk::ok(segments::estimate(&state, &ws, &site_id(&p.site)?, &rules).await?))
}

#[derive(Deserialize, ToSchema)]
struct AttributesBody {
    endpoint: String,
    /// Merged into the stored attributes; `null` removes a key.
    #[schema(value_type = Object)]
    attributes: serde_json::Map<String, serde_json::Value>,
}

/// Merges custom attributes into a browser's subscription (`WebTrigger.setAttributes`). Values are
/// strings (≤ 256 characters), numbers or bools; at most 50 keys of ≤ 64 characters, 1 KiB in all.
#[utoipa::path(put, path = "/v1/public/sites/{site}/subscriptions/attributes", tag = "push-public", params(("site" = String, Path)), request_body = AttributesBody,
    responses((status = 200, description = "OK: all attributes now stored"), (status = 403, description = "Origin not allowed", body = ErrorEnvelope), (status = 404, description = "Unknown subscription", body = ErrorEnvelope), (status = 422, description = "An attribute is invalid; the message names its key", body = ErrorEnvelope)))]
async fn update_attributes(State(state): State<AppState>, headers: HeaderMap, meta: RequestMeta, Path(p): Path<SitePath>, ApiJson(body): ApiJson<AttributesBody>) -> ApiResult<serde_json::Value> {
    let (site, pointer) = super::routes::open_public(&state, &headers, &meta, &p.site).await?;
    let id = crate::auth::tokens::token_hash(&body.endpoint)[..32].to_owned();
    let sub = subscribers::set_attributes(&state, &pointer.workspace, &site, &id, &body.attributes).await?;
    Ok(ApiOk::ok(json!({"attributes": sub.attributes})))
}

/// Replaces the site's VAPID key pair with an imported one (a site moving from another vendor keeps its
/// subscribers). Sealed like a generated key; the private key is never returned.
#[utoipa::path(put, path = "/v1/workspaces/{ws}/sites/{site}/vapid-key", tag = "push", security(("bearer" = [])), params(("ws" = String, Path), ("site" = String, Path)), request_body = super::vapid_import::VapidKeyImport,
    responses((status = 200, description = "OK: the site with its new public key", body = Envelope<super::sites::Site>), (status = 404, description = "Not found", body = ErrorEnvelope), (status = 422, description = "Not a P-256 private key, or the public key does not match", body = ErrorEnvelope)))]
async fn import_vapid_key(State(state): State<AppState>, ws: Workspace, meta: RequestMeta, Path(p): Path<SitePath>, ApiJson(body): ApiJson<super::vapid_import::VapidKeyImport>) -> ApiResult<super::sites::Site> {
    Ok(ApiOk::ok(super::vapid_import::import(&state, &ws, &meta, &site_id(&p.site)?, &body).await?))
}

#[derive(Deserialize, utoipa::IntoParams)]
struct ExportQuery {
    /// From the previous page's `X-Next-Cursor` header.
    cursor: Option<String>,
    /// Rows per page, at most 10,000 (the default).
    limit: Option<usize>,
}

/// A page of the site's subscribers as CSV (`id,endpoint,p256dh,auth,tags,external_id,attributes,
/// time_zone,…`; the header on the first page only). When there is more,
/// `X-Next-Cursor` holds the cursor and `Link` the next page's URL (`rel="next"`).
#[utoipa::path(get, path = "/v1/workspaces/{ws}/sites/{site}/subscribers/export", tag = "push", security(("bearer" = [])), params(("ws" = String, Path), ("site" = String, Path), ExportQuery),
    responses((status = 200, description = "CSV, one subscriber a row", content_type = "text/csv", body = String), (status = 404, description = "Not found", body = ErrorEnvelope), (status = 422, description = "Bad cursor", body = ErrorEnvelope)))]
async fn export_subscribers(State(state): State<AppState>, ws: Workspace, Path(p): Path<SitePath>, axum::extract::Query(q): axum::extract::Query<ExportQuery>) -> Result<axum::response::Response, ApiError> {
    use axum::http::header;
    let site = site_id(&p.site)?;
    let page = super::subscriber_export::export_page(&state, &ws, &site, q.cursor.as_deref(), q.limit.unwrap_or(super::subscriber_export::PAGE_ROWS)).await?;
    let mut response = axum::response::IntoResponse::into_response(([(header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()), (header::CONTENT_DISPOSITION, format!("attachment; filename=\"subscribers-{site}.csv\""))], page.csv));
    if let Some(next) = page.next_cursor {
        let limit = q.limit.map(|l| format!("&limit={l}")).unwrap_or_default();
        let link = format!("<?cursor={next}{limit}>; rel=\"next\"").parse().map_err(|_| ApiError::Internal("cursor is not a header value".into()))?;
        response.headers_mut().insert(header::LINK, link);
        response.headers_mut().insert("x-next-cursor", next.parse().map_err(|_| ApiError::Internal("cursor is not a header value".into()))?);
    }
    Ok(response)
}

/// Imports subscribers from CSV (a header naming `endpoint,p256dh,auth` and any of `tags,external_id,
/// attributes,time_zone`) or JSON lines, as a background job; rows are checked as strictly as the public
/// subscribe endpoint and upserted by endpoint. The upload is bounded by the API's body limit: a larger
/// file goes in parts (`POST …/imports`, then `PUT …/imports/{import}/parts/{n}`).
#[utoipa::path(post, path = "/v1/workspaces/{ws}/sites/{site}/subscribers/import", tag = "push", security(("bearer" = [])), params(("ws" = String, Path), ("site" = String, Path)),
    request_body(content = String, content_type = "text/csv"),
    responses((status = 202, description = "Accepted: the import job", body = Envelope<super::imports::ImportView>), (status = 404, description = "Not found", body = ErrorEnvelope), (status = 422, description = "Empty, not UTF-8, or a CSV header without the needed columns", body = ErrorEnvelope)))]
async fn import_subscribers(State(state): State<AppState>, ws: Workspace, meta: RequestMeta, headers: HeaderMap, Path(p): Path<SitePath>, body: axum::body::Bytes) -> ApiResult<super::imports::ImportView> {
    let text = std::str::from_utf8(&body).map_err(|_| ApiError::Validation("the file is not UTF-8".into()))?;
    let content_type = headers.get(axum::http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
    let view = super::imports::start(&state, &ws, &meta, &site_id(&p.site)?, content_type, text).await?;
    Ok(ApiOk(axum::http::StatusCode::ACCEPTED, view))
}

#[derive(Deserialize)]
struct ImportPath {
    site: String,
    import: String,
}

/// Creates an import that takes its file in parts, for files past the body limit (`max_part_bytes`).
#[utoipa::path(post, path = "/v1/workspaces/{ws}/sites/{site}/imports", tag = "push", security(("bearer" = [])), params(("ws" = String, Path), ("site" = String, Path)), request_body = super::imports::NewImport,
    responses((status = 201, description = "Created: waiting for part 1", body = Envelope<super::imports::ImportView>), (status = 404, description = "Not found", body = ErrorEnvelope), (status = 422, description = "Unknown format", body = ErrorEnvelope)))]
async fn create_subscriber_import(State(state): State<AppState>, ws: Workspace, meta: RequestMeta, Path(p): Path<SitePath>, ApiJson(body): ApiJson<super::imports::NewImport>) -> ApiResult<super::imports::ImportView> {
    Ok(ApiOk::created(super::imports::create(&state, &ws, &meta, &site_id(&p.site)?, body.format).await?))
}

#[derive(Deserialize)]
struct PartPath {
    site: String,
    import: String,
    part: u32,
}

#[derive(Deserialize, utoipa::IntoParams)]
struct PartQuery {
    /// True on the file's final part.
    #[serde(default)]
    last: bool,
}

/// Part `part` (1, 2, …, in order) of an import's file: whole lines, part 1 of a CSV starting with the
/// header. Sending a part again is harmless; after the last part the import runs.
#[utoipa::path(put, path = "/v1/workspaces/{ws}/sites/{site}/imports/{import}/parts/{part}", tag = "push", security(("bearer" = [])), params(("ws" = String, Path), ("site" = String, Path), ("import" = String, Path), ("part" = u32, Path), PartQuery),
    request_body(content = String, content_type = "text/csv"),
    responses((status = 202, description = "Stored and queued", body = Envelope<super::imports::ImportView>), (status = 404, description = "Not found", body = ErrorEnvelope), (status = 409, description = "Out of order, or after the last part", body = ErrorEnvelope), (status = 413, description = "Past the body limit", body = ErrorEnvelope), (status = 422, description = "Not UTF-8, a bad header, or too many rows", body = ErrorEnvelope)))]
async fn put_import_part(State(state): State<AppState>, ws: Workspace, Path(p): Path<PartPath>, axum::extract::Query(q): axum::extract::Query<PartQuery>, body: axum::body::Bytes) -> ApiResult<super::imports::ImportView> {
    let text = std::str::from_utf8(&body).map_err(|_| ApiError::Validation("the part is not UTF-8 (cut the file at line ends)".into()))?;
    let id = super::imports::ImportId::parse(&p.import).map_err(|_| ApiError::NotFound("no such import".into()))?;
    let site = site_id(&p.site)?;
    super::sites::get(&state, &ws, &site).await?;
    let view = super::imports::add_part(&state, &ws, &site, &id, p.part, q.last, text).await?;
    Ok(ApiOk(axum::http::StatusCode::ACCEPTED, view))
}

/// An import job: progress, counters and the per-row errors (by line of the uploaded file).
#[utoipa::path(get, path = "/v1/workspaces/{ws}/sites/{site}/imports/{import}", tag = "push", security(("bearer" = [])), params(("ws" = String, Path), ("site" = String, Path), ("import" = String, Path)),
    responses((status = 200, description = "OK", body = Envelope<super::imports::ImportView>), (status = 404, description = "Not found", body = ErrorEnvelope)))]
async fn get_subscriber_import(State(state): State<AppState>, ws: Workspace, Path(p): Path<ImportPath>) -> ApiResult<super::imports::ImportView> {
    let id = super::imports::ImportId::parse(&p.import).map_err(|_| ApiError::NotFound("no such import".into()))?;
    let site = site_id(&p.site)?;
    super::sites::get(&state, &ws, &site).await?;
    Ok(ApiOk::ok(super::imports::get(&state, &ws, &site, &id).await?))
}
