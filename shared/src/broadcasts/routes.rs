//! Broadcast HTTP routes (`api-broadcasts`) under `/v1/workspaces/{ws}`: create a draft, preview it
//! (count and sample messages), start or schedule, cancel, progress, recipients and a failures CSV.

use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use crate::http::api_router::{routes, ApiRouter};

use super::store::{self, BroadcastView, NewBroadcast, Recipient};
use super::types::BroadcastId;
use crate::auth::{Action, Workspace};
use crate::http::{ApiError, ApiJson, ApiOk, ApiResult};
use crate::openapi::{Envelope, ErrorEnvelope};
use crate::state::AppState;
use crate::whatsapp::types::Content;

pub fn api() -> ApiRouter<AppState> {
    ApiRouter::new()
        .routes(routes!(list_broadcasts, create_broadcast))
        .routes(routes!(preview_broadcast))
        .routes(routes!(get_broadcast))
        .routes(routes!(start_broadcast))
        .routes(routes!(cancel_broadcast))
        .routes(routes!(list_recipients))
        .routes(routes!(failures_csv))
}

/// The `api-broadcasts` route group.
pub fn routes() -> Router<AppState> {
    api().split_for_parts().0
}

#[derive(Deserialize)]
struct BcPath {
    bc: String,
}

#[derive(Deserialize, utoipa::IntoParams)]
struct RecipientFilter {
    /// queued, sending, sent, delivered, read, failed, skipped
    status: Option<String>,
    cursor: Option<String>,
    limit: Option<u32>,
}

#[derive(Serialize, ToSchema)]
struct RecipientPage {
    recipients: Vec<Recipient>,
    next_cursor: Option<String>,
}

#[derive(Serialize, ToSchema)]
struct Sample {
    phone: String,
    name: Option<String>,
    /// The message this contact would get, or why they would not.
    content: Option<Content>,
    error: Option<String>,
}

#[derive(Serialize, ToSchema)]
struct Preview {
    count: crate::contacts::audiences::AudienceCount,
    samples: Vec<Sample>,
}

/// Broadcasts, newest first, with their counters.
#[utoipa::path(get, path = "/v1/workspaces/{ws}/broadcasts", tag = "broadcasts", security(("bearer" = [])), params(("ws" = String, Path)),
    responses((status = 200, description = "OK", body = Envelope<Vec<BroadcastView>>)))]
async fn list_broadcasts(State(state): State<AppState>, ws: Workspace) -> ApiResult<Vec<BroadcastView>> {
    Ok(ApiOk::ok(store::list(&state, &ws).await?))
}

/// Creates a draft (channel, template, variable mapping, audience, send time).
#[utoipa::path(post, path = "/v1/workspaces/{ws}/broadcasts", tag = "broadcasts", security(("bearer" = [])), params(("ws" = String, Path)), request_body = NewBroadcast,
    responses((status = 201, description = "Created", body = Envelope<BroadcastView>), (status = 422, description = "Invalid", body = ErrorEnvelope)))]
async fn create_broadcast(State(state): State<AppState>, ws: Workspace, ApiJson(body): ApiJson<NewBroadcast>) -> ApiResult<BroadcastView> {
    Ok(ApiOk::created(store::create(&state, &ws, body).await?))
}

/// Checks a broadcast without saving it: the audience count and the messages of the first contacts.
#[utoipa::path(post, path = "/v1/workspaces/{ws}/broadcasts/preview", tag = "broadcasts", security(("bearer" = [])), params(("ws" = String, Path)), request_body = NewBroadcast,
    responses((status = 200, description = "OK", body = Envelope<Preview>), (status = 422, description = "Invalid", body = ErrorEnvelope)))]
async fn preview_broadcast(State(state): State<AppState>, ws: Workspace, ApiJson(body): ApiJson<NewBroadcast>) -> ApiResult<Preview> {
    ws.require(Action::WorkspaceRead)?;
    let b = store::draft(&state, &ws, body).await?;
    let count = crate::contacts::audiences::count(&state, &ws, &b.rules).await?;
    let aud = crate::contacts::audience::Audience::parse(&b.rules)?;
    let opted_out = crate::contacts::store::opted_out_set(&state, ws.id()).await?;
    let (contacts, _) = crate::contacts::audiences::contact_page(&state, ws.id(), None, 200, &opted_out).await?;
    let (_, channel) = crate::whatsapp::channels::load(&state, ws.id(), &b.channel_id).await?;
    let template = super::content::resolve(&state, ws.id(), &channel, &b.template).await?;
    let samples = contacts.iter().filter(|c| crate::contacts::audience::matches(&aud, c, state.clock.now()) && !c.opted_out).take(3).map(|c| {
        let r = super::types::content_for(&b, &template, c);
        Sample { phone: c.phone.as_str().to_owned(), name: c.name.clone(), content: r.as_ref().ok().cloned(), error: r.err().map(|e| e.message) }
    });
    Ok(ApiOk::ok(Preview { count, samples: samples.collect() }))
}

/// A broadcast with its progress (sent / delivered / read / replied / failed / skipped).
#[utoipa::path(get, path = "/v1/workspaces/{ws}/broadcasts/{bc}", tag = "broadcasts", security(("bearer" = [])), params(("ws" = String, Path), ("bc" = String, Path)),
    responses((status = 200, description = "OK", body = Envelope<BroadcastView>), (status = 404, description = "Not found", body = ErrorEnvelope)))]
async fn get_broadcast(State(state): State<AppState>, ws: Workspace, Path(p): Path<BcPath>) -> ApiResult<BroadcastView> {
    ws.require(Action::WorkspaceRead)?;
    let (_, b) = store::load(&state, ws.id(), &BroadcastId::parse(&p.bc)?).await?;
    Ok(ApiOk::ok(store::view(&state, ws.id(), b).await?))
}

/// Sends a draft now, or schedules it for its send time.
#[utoipa::path(post, path = "/v1/workspaces/{ws}/broadcasts/{bc}/start", tag = "broadcasts", security(("bearer" = [])), params(("ws" = String, Path), ("bc" = String, Path)),
    responses((status = 200, description = "Sending or scheduled", body = Envelope<BroadcastView>), (status = 409, description = "Not a draft", body = ErrorEnvelope)))]
async fn start_broadcast(State(state): State<AppState>, ws: Workspace, Path(p): Path<BcPath>) -> ApiResult<BroadcastView> {
    Ok(ApiOk::ok(store::start(&state, &ws, &BroadcastId::parse(&p.bc)?).await?))
}

/// Cancels a draft, scheduled or sending broadcast; messages not yet sent are dropped.
#[utoipa::path(post, path = "/v1/workspaces/{ws}/broadcasts/{bc}/cancel", tag = "broadcasts", security(("bearer" = [])), params(("ws" = String, Path), ("bc" = String, Path)),
    responses((status = 200, description = "Cancelled", body = Envelope<BroadcastView>), (status = 409, description = "Already ended", body = ErrorEnvelope)))]
async fn cancel_broadcast(State(state): State<AppState>, ws: Workspace, Path(p): Path<BcPath>) -> ApiResult<BroadcastView> {
    Ok(ApiOk::ok(store::cancel(&state, &ws, &BroadcastId::parse(&p.bc)?).await?))
}

/// Recipients with their message status, in number order.
#[utoipa::path(get, path = "/v1/workspaces/{ws}/broadcasts/{bc}/recipients", tag = "broadcasts", security(("bearer" = [])), params(("ws" = String, Path), ("bc" = String, Path), RecipientFilter),
    responses((status = 200, description = "OK", body = Envelope<RecipientPage>), (status = 404, description = "Not found", body = ErrorEnvelope)))]
async fn list_recipients(State(state): State<AppState>, ws: Workspace, Path(p): Path<BcPath>, Query(f): Query<RecipientFilter>) -> ApiResult<RecipientPage> {
    ws.require(Action::WorkspaceRead)?;
    let (recipients, next_cursor) = store::recipients(&state, ws.id(), &BroadcastId::parse(&p.bc)?, f.status.as_deref(), f.cursor.as_deref(), f.limit.unwrap_or(50)).await?;
    Ok(ApiOk::ok(RecipientPage { recipients, next_cursor }))
}

/// The failed recipients with their provider error, as CSV.
#[utoipa::path(get, path = "/v1/workspaces/{ws}/broadcasts/{bc}/failures.csv", tag = "broadcasts", security(("bearer" = [])), params(("ws" = String, Path), ("bc" = String, Path)),
    responses((status = 200, description = "CSV", body = String, content_type = "text/csv"), (status = 404, description = "Not found", body = ErrorEnvelope)))]
async fn failures_csv(State(state): State<AppState>, ws: Workspace, Path(p): Path<BcPath>) -> Result<Response, ApiError> {
    ws.require(Action::WorkspaceRead)?;
    let csv = store::failures_csv(&state, ws.id(), &BroadcastId::parse(&p.bc)?).await?;
    Ok(([(header::CONTENT_TYPE, "text/csv; charset=utf-8"), (header::CONTENT_DISPOSITION, "attachment; filename=\"failures.csv\"")], csv).into_response())
}
