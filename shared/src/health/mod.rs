//! Platform health: `GET /v1/health` reports backend, version and whether the table answers, plus the
//! age of the last queue heartbeat (minute tick → echo queue → echo worker), which proves the pipeline runs.

mod worker;

use axum::extract::State;
use axum::routing::get;
use axum::Router;
use serde::Serialize;

pub use worker::{EchoWorker, Heartbeat, heartbeat_key};

use crate::http::{ApiError, ApiOk, ApiResult};
use crate::state::{AppState, BackendKind};

#[derive(Debug, Serialize)]
pub struct Health {
    pub status: &'static str,
    pub backend: BackendKind,
    pub version: &'static str,
    pub time: String,
    /// Seconds since the echo worker last processed a tick heartbeat; absent before the first one.
    pub heartbeat_age_seconds: Option<i64>,
}

pub fn routes() -> Router<AppState> {
    Router::new().route("/v1/health", get(health))
}

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
    }))
}
