//! Attachment upload routes (`api-inbox`): start an upload, send its parts as raw bytes, complete it,
//! read it back (the dashboard's thumbnails and downloads).

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::Response;
use serde::Deserialize;
use crate::http::api_router::{routes, ApiRouter};

use super::attachments::{self, Attachment, AttachmentId, NewAttachment};
use crate::auth::{Action, Workspace};
use crate::http::{ApiError, ApiJson, ApiOk, ApiResult};
use crate::openapi::{Envelope, ErrorEnvelope};
use crate::state::AppState;

pub fn api() -> ApiRouter<AppState> {
    ApiRouter::new().routes(routes!(create_attachment)).routes(routes!(get_attachment)).routes(routes!(put_part)).routes(routes!(complete)).routes(routes!(content))
}

#[derive(Deserialize)]
struct AttPath {
    att: String,
}

#[derive(Deserialize)]
struct PartPath {
    att: String,
    n: u32,
}

/// Starts an upload (up to 4 MiB): answers how many parts of `part_bytes` to send.
#[utoipa::path(post, path = "/v1/workspaces/{ws}/attachments", tag = "inbox", security(("bearer" = [])), params(("ws" = String, Path)), request_body = NewAttachment,
    responses((status = 201, description = "Started", body = Envelope<Attachment>), (status = 422, description = "Too large or no name", body = ErrorEnvelope)))]
async fn create_attachment(State(state): State<AppState>, ws: Workspace, ApiJson(body): ApiJson<NewAttachment>) -> ApiResult<Attachment> {
    Ok(ApiOk::created(attachments::create(&state, &ws, body).await?))
}

/// An attachment's name, size, type and upload status.
#[utoipa::path(get, path = "/v1/workspaces/{ws}/attachments/{att}", tag = "inbox", security(("bearer" = [])), params(("ws" = String, Path), ("att" = String, Path)),
    responses((status = 200, description = "OK", body = Envelope<Attachment>), (status = 404, description = "Not found", body = ErrorEnvelope)))]
async fn get_attachment(State(state): State<AppState>, ws: Workspace, Path(p): Path<AttPath>) -> ApiResult<Attachment> {
    ws.require(Action::WorkspaceRead)?;
    Ok(ApiOk::ok(attachments::load(&state, ws.id(), &AttachmentId::parse(&p.att)?).await?.1))
}

/// Stores part `n` (0-based) as the raw request body; the first part's bytes decide the file type.
#[utoipa::path(put, path = "/v1/workspaces/{ws}/attachments/{att}/parts/{n}", tag = "inbox", security(("bearer" = [])), params(("ws" = String, Path), ("att" = String, Path), ("n" = u32, Path)),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 200, description = "Stored", body = Envelope<Attachment>), (status = 404, description = "Not found", body = ErrorEnvelope), (status = 422, description = "Wrong length or not an accepted file type", body = ErrorEnvelope)))]
async fn put_part(State(state): State<AppState>, ws: Workspace, Path(p): Path<PartPath>, body: Bytes) -> ApiResult<Attachment> {
    Ok(ApiOk::ok(attachments::put_part(&state, &ws, &AttachmentId::parse(&p.att)?, p.n, &body).await?))
}

/// Finishes the upload once every part is stored; the attachment can then be sent.
#[utoipa::path(post, path = "/v1/workspaces/{ws}/attachments/{att}/complete", tag = "inbox", security(("bearer" = [])), params(("ws" = String, Path), ("att" = String, Path)),
    responses((status = 200, description = "Ready", body = Envelope<Attachment>), (status = 404, description = "Not found", body = ErrorEnvelope), (status = 422, description = "Parts missing", body = ErrorEnvelope)))]
async fn complete(State(state): State<AppState>, ws: Workspace, Path(p): Path<AttPath>) -> ApiResult<Attachment> {
    Ok(ApiOk::ok(attachments::complete(&state, &ws, &AttachmentId::parse(&p.att)?).await?))
}

/// The file itself (images inline, documents as a download).
#[utoipa::path(get, path = "/v1/workspaces/{ws}/attachments/{att}/content", tag = "inbox", security(("bearer" = [])), params(("ws" = String, Path), ("att" = String, Path)),
    responses((status = 200, description = "The file", content_type = "application/octet-stream"), (status = 404, description = "Not found, unfinished or expired", body = ErrorEnvelope)))]
async fn content(State(state): State<AppState>, ws: Workspace, Path(p): Path<AttPath>) -> Result<Response, ApiError> {
    ws.require(Action::WorkspaceRead)?;
    let (a, bytes) = attachments::read(&state, ws.id(), &AttachmentId::parse(&p.att)?).await?;
    Ok(super::media_link::content_response(&a, bytes))
}
