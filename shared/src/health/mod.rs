//! Platform health: `GET /v1/health` reports backend, version and whether the table answers, plus the
//! age of the last queue heartbeat (minute tick → echo queue → echo worker), which proves the pipeline runs.

mod worker;

use axum::extract::State;
use axum::Router;
use serde::Serialize;
use utoipa::ToSchema;
use crate::http::api_router::{routes, ApiRouter};

pub use worker::{EchoWorker, Heartbeat, heartbeat_key};

use crate::http::{ApiError, ApiOk, ApiResult};
use crate::state::{AppState, BackendKind};

#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    #[schema(value_type = String, example = "ok")]
    pub status: &'static str,
    pub backend: BackendKind,
    #[schema(value_type = String)]
    pub version: &'static str,
    pub time: String,
    /// Seconds since the echo worker last processed a tick heartbeat; absent before the first one.
    pub heartbeat_age_seconds: Option<i64>,
    /// Where the dashboard opens its live WebSocket: a `wss://` URL (the AWS WebSocket API), or a path on
    /// this origin (the local binary's `/live`). Absent: follow the Server-Sent Events stream instead.
    pub live_websocket_url: Option<String>,
}

/// The health route group with its documentation.
pub fn api() -> ApiRouter<AppState> {
    ApiRouter::new().routes(routes!(health)).routes(routes!(openapi_json))
}

/// The `api-health` route group: health and the API description.
pub fn routes() -> Router<AppState> {
    api().split_for_parts().0
}

/// Platform health: backend, version, and the age of the last queue heartbeat.
#[utoipa::path(get, path = "/v1/health", tag = "health",
    responses((status = 200, description = "OK", body = crate::openapi::Envelope<Health>), (status = 503, description = "The table is unreachable", body = crate::openapi::ErrorEnvelope)))]
async fn health(State(state): State<AppState>) -> ApiResult<Health> {
    let heartbeat = state.table.get(&heartbeat_key()).await.map_err(|e| ApiError::Unavailable(e.to_string()))?;
    let now = state.clock.now();
    let heartbeat_age_seconds = heartbeat
        .and_then(|item| item.parse::<Heartbeat>().ok())
        .map(|hb| (now.timestamp_millis() - hb.processed_at_ms).max(0) / 1000);
    Ok(ApiOk::ok(Health {
        status: "ok",
        backend: state.backend,
        version: env!("CARGO_PKG_VERSION"),
        time: now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        heartbeat_age_seconds,
        live_websocket_url: state.live_ws_url.clone(),
    }))
}

/// This document.
#[utoipa::path(get, path = "/v1/openapi.json", tag = "health", responses((status = 200, description = "OpenAPI 3.1 document")))]
async fn openapi_json() -> ([(axum::http::header::HeaderName, &'static str); 1], &'static str) {
    ([(axum::http::header::CONTENT_TYPE, "application/json")], crate::openapi::DOCUMENT)
}
