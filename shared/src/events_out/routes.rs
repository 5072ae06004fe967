//! Event endpoint routes (part of `api-triggers`): `/v1/workspaces/{ws}/event-endpoints`.

use axum::extract::{Path, Query, State};
use axum::Router;
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use crate::http::api_router::{routes, ApiRouter};

use super::deliver::{self, Attempt};
use super::endpoints::{self, Endpoint, EndpointId, EndpointInput};
use crate::auth::{Action, RequestMeta, Workspace};
use crate::http::{ApiJson, ApiOk, ApiResult};
use crate::openapi::{Envelope, ErrorEnvelope};
use crate::state::AppState;

pub fn api() -> ApiRouter<AppState> {
    ApiRouter::new()
        .routes(routes!(list_endpoints, create_endpoint))
        .routes(routes!(get_endpoint, update_endpoint, delete_endpoint))
        .routes(routes!(endpoint_attempts))
        .routes(routes!(test_endpoint))
}

pub fn routes() -> Router<AppState> {
    api().split_for_parts().0
}

#[derive(Deserialize)]
struct EpPath {
    ep: String,
}

#[derive(Serialize, ToSchema)]
struct CreatedEndpoint {
    #[serde(flatten)]
    endpoint: Endpoint,
    /// The `whsec_` signing secret: shown this once.
    secret: String,
}

/// The workspace's event webhook endpoints.
#[utoipa::path(get, path = "/v1/workspaces/{ws}/event-endpoints", tag = "event-webhooks", security(("bearer" = [])), params(("ws" = String, Path)), responses((status = 200, description = "OK", body = Envelope<Vec<Endpoint>>)))]
async fn list_endpoints(State(state): State<AppState>, ws: Workspace) -> ApiResult<Vec<Endpoint>> {
    Ok(ApiOk::ok(endpoints::list(&state, &ws).await?))
}

/// Adds an endpoint. The URL must be https and public (SSRF guard); the signing secret is in the answer only.
#[utoipa::path(post, path = "/v1/workspaces/{ws}/event-endpoints", tag = "event-webhooks", security(("bearer" = [])), params(("ws" = String, Path)), request_body = EndpointInput,
    responses((status = 201, description = "Created", body = Envelope<CreatedEndpoint>), (status = 422, description = "Invalid or private URL", body = ErrorEnvelope)))]
async fn create_endpoint(State(state): State<AppState>, ws: Workspace, meta: RequestMeta, ApiJson(body): ApiJson<EndpointInput>) -> ApiResult<CreatedEndpoint> {
    let (endpoint, secret) = endpoints::create(&state, &ws, &meta, &body).await?;
    Ok(ApiOk::created(CreatedEndpoint { endpoint, secret: secret.expose_secret().to_owned() }))
}

/// One endpoint.
#[utoipa::path(get, path = "/v1/workspaces/{ws}/event-endpoints/{ep}", tag = "event-webhooks", security(("bearer" = [])), params(("ws" = String, Path), ("ep" = String, Path)),
    responses((status = 200, description = "OK", body = Envelope<Endpoint>), (status = 404, description = "Not found", body = ErrorEnvelope)))]
async fn get_endpoint(State(state): State<AppState>, ws: Workspace, Path(p): Path<EpPath>) -> ApiResult<Endpoint> {
    Ok(ApiOk::ok(endpoints::get(&state, &ws, &EndpointId::parse(&p.ep)?).await?))
}

/// Replaces URL, description, event types and `enabled` (re-enabling clears the failure state).
#[utoipa::path(put, path = "/v1/workspaces/{ws}/event-endpoints/{ep}", tag = "event-webhooks", security(("bearer" = [])), params(("ws" = String, Path), ("ep" = String, Path)), request_body = EndpointInput,
    responses((status = 200, description = "OK", body = Envelope<Endpoint>), (status = 404, description = "Not found", body = ErrorEnvelope), (status = 422, description = "Invalid or private URL", body = ErrorEnvelope)))]
async fn update_endpoint(State(state): State<AppState>, ws: Workspace, meta: RequestMeta, Path(p): Path<EpPath>, ApiJson(body): ApiJson<EndpointInput>) -> ApiResult<Endpoint> {
    Ok(ApiOk::ok(endpoints::update(&state, &ws, &meta, &EndpointId::parse(&p.ep)?, &body).await?))
}

/// Removes an endpoint; queued deliveries to it are dropped.
#[utoipa::path(delete, path = "/v1/workspaces/{ws}/event-endpoints/{ep}", tag = "event-webhooks", security(("bearer" = [])), params(("ws" = String, Path), ("ep" = String, Path)),
    responses((status = 200, description = "Deleted"), (status = 404, description = "Not found", body = ErrorEnvelope)))]
async fn delete_endpoint(State(state): State<AppState>, ws: Workspace, meta: RequestMeta, Path(p): Path<EpPath>) -> ApiResult<serde_json::Value> {
    endpoints::delete(&state, &ws, &meta, &EndpointId::parse(&p.ep)?).await?;
    Ok(ApiOk::ok(json!({"deleted": p.ep})))
}

#[derive(Deserialize, utoipa::IntoParams)]
struct Limit {
    limit: Option<u32>,
}

/// Delivery attempts to this endpoint, newest first (kept 30 days).
#[utoipa::path(get, path = "/v1/workspaces/{ws}/event-endpoints/{ep}/attempts", tag = "event-webhooks", security(("bearer" = [])), params(("ws" = String, Path), ("ep" = String, Path), Limit),
    responses((status = 200, description = "OK", body = Envelope<Vec<Attempt>>), (status = 404, description = "Not found", body = ErrorEnvelope)))]
async fn endpoint_attempts(State(state): State<AppState>, ws: Workspace, Path(p): Path<EpPath>, Query(q): Query<Limit>) -> ApiResult<Vec<Attempt>> {
    let endpoint = endpoints::get(&state, &ws, &EndpointId::parse(&p.ep)?).await?;
    Ok(ApiOk::ok(deliver::attempts(&state, ws.id(), &endpoint.id, q.limit.unwrap_or(50)).await?))
}

/// Queues a `webhook.test` event to this endpoint.
#[utoipa::path(post, path = "/v1/workspaces/{ws}/event-endpoints/{ep}/test", tag = "event-webhooks", security(("bearer" = [])), params(("ws" = String, Path), ("ep" = String, Path)),
    responses((status = 202, description = "Queued"), (status = 404, description = "Not found", body = ErrorEnvelope)))]
async fn test_endpoint(State(state): State<AppState>, ws: Workspace, Path(p): Path<EpPath>) -> ApiResult<serde_json::Value> {
    ws.require(Action::TriggersManage)?;
    let endpoint = endpoints::get(&state, &ws, &EndpointId::parse(&p.ep)?).await?;
    let id = deliver::send_test(&state, ws.id(), &endpoint.id).await?;
    Ok(ApiOk(axum::http::StatusCode::ACCEPTED, json!({"event_id": id})))
}
