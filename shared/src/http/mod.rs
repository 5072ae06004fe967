//! The HTTP layer shared by every route group, in Lambda and in the local binary alike:
//! request id, JSON logs per request, body limit, the error envelope on every 4xx/5xx, and draining
//! bodies left unread by early answers so keep-alive connections survive them.

mod drain;
mod envelope;
mod error;
mod middleware;

use axum::extract::DefaultBodyLimit;
use axum::routing::any;
use axum::Router;

pub mod idempotency;
pub mod client_ip;
pub mod outbound;

pub use envelope::{ApiJson, ApiOk, ApiResult};
pub use error::ApiError;
pub use middleware::RequestId;

use crate::state::AppState;

/// Wraps route groups in the shared middleware. Unknown `/v1` paths answer the 404 envelope; other
/// unknown paths go to `fallback` (the dashboard locally) or also answer 404.
pub fn api(routes: Router<AppState>, state: AppState, fallback: Option<Router>) -> Router {
    let limit = state.max_body_bytes;
    let routes = routes.route("/v1", any(not_found)).route("/v1/{*rest}", any(not_found)).with_state(state);
    let app = match fallback {
        Some(site) => routes.fallback_service(site),
        None => routes.fallback(not_found),
    };
    // Outermost last: request id around everything, then the envelope around the body limits.
    app.layer(DefaultBodyLimit::max(limit))
        .layer(tower_http::limit::RequestBodyLimitLayer::new(limit))
        .layer(axum::middleware::from_fn(move |req, next| middleware::envelope_errors(limit, req, next)))
        .layer(axum::middleware::from_fn(move |req, next| drain::drain_unread_body(limit, req, next)))
        .layer(axum::middleware::from_fn(middleware::request_context))
}

async fn not_found(req: axum::extract::Request) -> ApiError {
    ApiError::NotFound(format!("no route for {} {}", req.method(), req.uri().path()))
}
