//! Trigger routes. `api-triggers`: definitions, secret rotation, preview, test-send, invocation log and replay
//! under `/v1/workspaces/{ws}/triggers`. `hook-trigger`: the public `POST /t/{trigger}`.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use crate::http::api_router::{routes, ApiRouter};

use super::run::{self, IngestAnswer, Invocation};
use super::store;
use super::types::{ActionSpec, InvocationId, Trigger, TriggerId, TriggerInput};
use crate::auth::{RequestMeta, Workspace};
use crate::http::idempotency::{self, Attempt, IdempotencyKey, Outcome};
use crate::http::{ApiError, ApiJson, ApiOk, ApiResult};
use crate::openapi::{Envelope, ErrorEnvelope};
use crate::state::AppState;

pub fn api() -> ApiRouter<AppState> {
    ApiRouter::new()
        .routes(routes!(list_triggers, create_trigger))
        .routes(routes!(get_trigger, update_trigger, delete_trigger))
        .routes(routes!(rotate_secret))
        .routes(routes!(preview))
        .routes(routes!(preview_draft))
        .routes(routes!(list_invocations))
        .routes(routes!(get_invocation))
        .routes(routes!(replay_invocation))
        .merge(super::test_send::api())
}

/// The `api-triggers` route group (trigger admin and event endpoints).
pub fn routes() -> Router<AppState> {
    api().merge(crate::events_out::api()).split_for_parts().0
}

/// The `hook-trigger` route group: the public URL any system can POST to.
pub fn hook_routes() -> Router<AppState> {
    Router::new().route("/t/{trigger}", post(ingest))
}

#[derive(Deserialize)]
struct TrgPath {
    trg: String,
}

#[derive(Deserialize)]
struct InvPath {
    trg: String,
    inv: String,
}

#[derive(Serialize, ToSchema)]
struct TriggerWithSecret {
    #[serde(flatten)]
    trigger: Trigger,
    /// The secret to configure at the sender: shown this once.
    secret: String,
    /// The public URL path to POST to (`/t/{id}`).
    url_path: String,
}

fn with_secret(trigger: Trigger, secret: &secrecy::SecretString) -> TriggerWithSecret {
    let url_path = format!("/t/{}", trigger.id);
    TriggerWithSecret { trigger, secret: secret.expose_secret().to_owned(), url_path }
}

/// `POST /t/{trigger}`: verifies the caller, dedupes, runs the actions. 202 with the invocation; 200
/// with the original invocation for a duplicate; 401 when the signature does not verify.
async fn ingest(State(state): State<AppState>, Path(trigger): Path<String>, headers: HeaderMap, body: Bytes) -> Result<(StatusCode, axum::Json<serde_json::Value>), ApiError> {
    let answer: IngestAnswer = run::ingest(&state, &trigger, &headers, &body).await?;
    let status = if answer.duplicate { StatusCode::OK } else { StatusCode::ACCEPTED };
    Ok((status, axum::Json(json!({"success": true, "data": answer}))))
}

/// The workspace's triggers.
#[utoipa::path(get, path = "/v1/workspaces/{ws}/triggers", tag = "triggers", security(("bearer" = [])), params(("ws" = String, Path)), responses((status = 200, description = "OK", body = Envelope<Vec<Trigger>>)))]
async fn list_triggers(State(state): State<AppState>, ws: Workspace) -> ApiResult<Vec<Trigger>> {
    Ok(ApiOk::ok(store::list(&state, &ws).await?))
}

/// Creates a trigger. Templates are checked now; the answer carries the secret (once) and the URL path.
#[utoipa::path(post, path = "/v1/workspaces/{ws}/triggers", tag = "triggers", security(("bearer" = [])), params(("ws" = String, Path)), request_body = TriggerInput,
    responses((status = 201, description = "Created", body = Envelope<TriggerWithSecret>), (status = 422, description = "Invalid definition or template", body = ErrorEnvelope)))]
async fn create_trigger(State(state): State<AppState>, ws: Workspace, meta: RequestMeta, ApiJson(body): ApiJson<TriggerInput>) -> ApiResult<TriggerWithSecret> {
    let (trigger, secret) = store::create(&state, &ws, &meta, &body).await?;
    Ok(ApiOk::created(with_secret(trigger, &secret)))
}

/// One trigger (no secret; only its hint).
#[utoipa::path(get, path = "/v1/workspaces/{ws}/triggers/{trg}", tag = "triggers", security(("bearer" = [])), params(("ws" = String, Path), ("trg" = String, Path)),
    responses((status = 200, description = "OK", body = Envelope<Trigger>), (status = 404, description = "Not found", body = ErrorEnvelope)))]
async fn get_trigger(State(state): State<AppState>, ws: Workspace, Path(p): Path<TrgPath>) -> ApiResult<Trigger> {
    Ok(ApiOk::ok(store::get(&state, &ws, &TriggerId::parse(&p.trg)?).await?))
}

/// Replaces the definition (the secret and auth mode stay); `enabled: false` disables it.
#[utoipa::path(put, path = "/v1/workspaces/{ws}/triggers/{trg}", tag = "triggers", security(("bearer" = [])), params(("ws" = String, Path), ("trg" = String, Path)), request_body = TriggerInput,
    responses((status = 200, description = "OK", body = Envelope<Trigger>), (status = 404, description = "Not found", body = ErrorEnvelope), (status = 422, description = "Invalid definition or template", body = ErrorEnvelope)))]
async fn update_trigger(State(state): State<AppState>, ws: Workspace, meta: RequestMeta, Path(p): Path<TrgPath>, ApiJson(body): ApiJson<TriggerInput>) -> ApiResult<Trigger> {
    Ok(ApiOk::ok(store::update(&state, &ws, &meta, &TriggerId::parse(&p.trg)?, &body).await?))
}

/// Deletes a trigger; its URL answers 404 from now on.
#[utoipa::path(delete, path = "/v1/workspaces/{ws}/triggers/{trg}", tag = "triggers", security(("bearer" = [])), params(("ws" = String, Path), ("trg" = String, Path)),
    responses((status = 200, description = "Deleted"), (status = 404, description = "Not found", body = ErrorEnvelope)))]
async fn delete_trigger(State(state): State<AppState>, ws: Workspace, meta: RequestMeta, Path(p): Path<TrgPath>) -> ApiResult<serde_json::Value> {
    store::delete(&state, &ws, &meta, &TriggerId::parse(&p.trg)?).await?;
    Ok(ApiOk::ok(json!({"deleted": p.trg})))
}

#[derive(Deserialize, ToSchema)]
struct RotateRequest {
    /// Seconds the old secret keeps working (default 86400, at most 604800; 0 ends it now).
    overlap_seconds: Option<u32>,
    /// GitHub / Stripe: the new secret set at the provider.
    secret: Option<String>,
}

/// Issues a new secret; the old one stays valid for the overlap window.
#[utoipa::path(post, path = "/v1/workspaces/{ws}/triggers/{trg}/rotate-secret", tag = "triggers", security(("bearer" = [])), params(("ws" = String, Path), ("trg" = String, Path)), request_body = RotateRequest,
    responses((status = 200, description = "Rotated", body = Envelope<TriggerWithSecret>), (status = 404, description = "Not found", body = ErrorEnvelope), (status = 422, description = "Invalid input", body = ErrorEnvelope)))]
async fn rotate_secret(State(state): State<AppState>, ws: Workspace, meta: RequestMeta, Path(p): Path<TrgPath>, ApiJson(body): ApiJson<RotateRequest>) -> ApiResult<TriggerWithSecret> {
    let (trigger, secret) = store::rotate(&state, &ws, &meta, &TriggerId::parse(&p.trg)?, body.secret.as_deref(), body.overlap_seconds.unwrap_or(86_400)).await?;
    Ok(ApiOk::ok(with_secret(trigger, &secret)))
}

#[derive(Deserialize, ToSchema)]
struct PreviewRequest {
    /// A sample payload.
    #[schema(value_type = Object)]
    payload: serde_json::Value,
    /// Draft actions to render instead of the saved ones (the editor's live preview).
    actions: Option<Vec<ActionSpec>>,
    filter: Option<String>,
}

/// Renders a sample payload through the trigger (or draft actions) without sending anything.
#[utoipa::path(post, path = "/v1/workspaces/{ws}/triggers/{trg}/preview", tag = "triggers", security(("bearer" = [])), params(("ws" = String, Path), ("trg" = String, Path)), request_body = PreviewRequest,
    responses((status = 200, description = "`fires`, and the rendered `actions` or the template `error`", body = Envelope<Object>), (status = 404, description = "Not found", body = ErrorEnvelope)))]
async fn preview(State(state): State<AppState>, ws: Workspace, Path(p): Path<TrgPath>, ApiJson(body): ApiJson<PreviewRequest>) -> ApiResult<serde_json::Value> {
    let trigger = store::get(&state, &ws, &TriggerId::parse(&p.trg)?).await?;
    let actions = body.actions.unwrap_or(trigger.actions);
    let filter = body.filter.or(trigger.filter).filter(|f| !f.trim().is_empty());
    Ok(ApiOk::ok(run::preview(filter.as_deref(), &actions, &body.payload)))
}

#[derive(Deserialize, ToSchema)]
struct DraftPreviewRequest {
    #[schema(value_type = Object)]
    payload: serde_json::Value,
    actions: Vec<ActionSpec>,
    filter: Option<String>,
}

/// The editor's live preview of an unsaved trigger: syntax is checked, then the sample is rendered.
#[utoipa::path(post, path = "/v1/workspaces/{ws}/trigger-preview", tag = "triggers", security(("bearer" = [])), params(("ws" = String, Path)), request_body = DraftPreviewRequest,
    responses((status = 200, description = "`fires`, and the rendered `actions` or the template `error`", body = Envelope<Object>)))]
async fn preview_draft(ws: Workspace, ApiJson(body): ApiJson<DraftPreviewRequest>) -> ApiResult<serde_json::Value> {
    ws.require(crate::auth::Action::WorkspaceRead)?;
    let filter = body.filter.filter(|f| !f.trim().is_empty());
    if let Err(e) = super::render::check(filter.as_deref(), &body.actions) {
        return Ok(ApiOk::ok(json!({"fires": false, "error": format!("template error in {e}")})));
    }
    Ok(ApiOk::ok(run::preview(filter.as_deref(), &body.actions, &body.payload)))
}

#[derive(Deserialize, utoipa::IntoParams)]
struct Paging {
    limit: Option<u32>,
    cursor: Option<String>,
}

#[derive(Serialize, ToSchema)]
struct InvocationPage {
    invocations: Vec<Invocation>,
    next_cursor: Option<String>,
}

/// The invocation log, newest first (kept 30 days).
#[utoipa::path(get, path = "/v1/workspaces/{ws}/triggers/{trg}/invocations", tag = "triggers", security(("bearer" = [])), params(("ws" = String, Path), ("trg" = String, Path), Paging),
    responses((status = 200, description = "OK", body = Envelope<InvocationPage>), (status = 404, description = "Not found", body = ErrorEnvelope)))]
async fn list_invocations(State(state): State<AppState>, ws: Workspace, Path(p): Path<TrgPath>, Query(q): Query<Paging>) -> ApiResult<InvocationPage> {
    let trigger = store::get(&state, &ws, &TriggerId::parse(&p.trg)?).await?;
    let (invocations, next_cursor) = run::list(&state, &ws, &trigger.id, q.limit.unwrap_or(25), q.cursor.as_deref()).await?;
    Ok(ApiOk::ok(InvocationPage { invocations, next_cursor }))
}

/// One invocation with its verification result, rendered output and action outcomes.
#[utoipa::path(get, path = "/v1/workspaces/{ws}/triggers/{trg}/invocations/{inv}", tag = "triggers", security(("bearer" = [])), params(("ws" = String, Path), ("trg" = String, Path), ("inv" = String, Path)),
    responses((status = 200, description = "OK", body = Envelope<Invocation>), (status = 404, description = "Not found", body = ErrorEnvelope)))]
async fn get_invocation(State(state): State<AppState>, ws: Workspace, Path(p): Path<InvPath>) -> ApiResult<Invocation> {
    Ok(ApiOk::ok(run::get(&state, &ws, &TriggerId::parse(&p.trg)?, &InvocationId::parse(&p.inv)?).await?))
}

/// Runs the invocation's stored payload again as a new invocation (sends again: a replay is deliberate;
/// with an `Idempotency-Key`, a repeated request does not).
#[utoipa::path(post, path = "/v1/workspaces/{ws}/triggers/{trg}/invocations/{inv}/replay", tag = "triggers", security(("bearer" = [])), params(("ws" = String, Path), ("trg" = String, Path), ("inv" = String, Path), ("Idempotency-Key" = Option<String>, Header, description = "1–255 printable ASCII characters. A repeat within 24 hours answers 200 with the first result and sends nothing; the same key with a different request answers 422 `idempotency_key_reused`; 409 while the first is still in progress.")),
    responses((status = 201, description = "The new invocation", body = Envelope<Invocation>), (status = 200, description = "A repeat of an idempotency key: the first replay's invocation, nothing sent", body = Envelope<Invocation>),
        (status = 404, description = "Not found", body = ErrorEnvelope), (status = 409, description = "The first request with this idempotency key is still in progress", body = ErrorEnvelope),
        (status = 422, description = "No stored payload, or an idempotency key reused for a different request", body = ErrorEnvelope)))]
async fn replay_invocation(State(state): State<AppState>, ws: Workspace, headers: HeaderMap, Path(p): Path<InvPath>) -> ApiResult<Invocation> {
    ws.require(crate::auth::Action::TriggersManage)?;
    let (trigger, original) = (TriggerId::parse(&p.trg)?, InvocationId::parse(&p.inv)?);
    let attempt = IdempotencyKey::from_request(&headers, None)?.map(|k| Attempt::new("replay", k, &[trigger.as_str().as_bytes(), original.as_str().as_bytes()]));
    let (st, w, t) = (&state, &ws, &trigger);
    let outcome = idempotency::once(
        &state,
        ws.id(),
        attempt,
        |inv: &Invocation| inv.id.to_string(),
        || run::replay(&state, &ws, &trigger, &original),
        |id| async move { run::get(st, w, t, &InvocationId::parse(&id)?).await },
    )
    .await?;
    Ok(match outcome {
        Outcome::Created(inv) => ApiOk::created(inv),
        Outcome::Repeated(inv) => ApiOk::ok(inv),
    })
}
