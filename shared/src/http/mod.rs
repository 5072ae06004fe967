//! The HTTP layer shared by every route group, in Lambda and in the local binary alike:
//! request id, JSON logs per request, body limit, the error envelope on every 4xx/5xx, and draining
//! bodies left unread by early answers so keep-alive connections survive them.

mod drain;
mod envelope;
mod error;
mod middleware;

pub mod api_router;

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
        .layer(axum::middleware::from_fn(move |req, next| limit_body(limit, req, next)))
        .layer(axum::middleware::from_fn(move |req, next| middleware::envelope_errors(limit, req, next)))
        .layer(axum::middleware::from_fn(move |req, next| drain::drain_unread_body(limit, req, next)))
        .layer(axum::middleware::from_fn(middleware::request_context))
}

/// The cap for raw media uploads (template header samples): Meta's largest limit for a header sample
/// this platform accepts (video, 16 MB), above the JSON body cap. On AWS, API Gateway and Lambda refuse
/// request bodies past about 6 MB before they reach the route.
pub const MEDIA_UPLOAD_MAX_BYTES: usize = 16 * 1024 * 1024;

/// The cap for the media upload route given the JSON body cap `limit`.
pub fn media_upload_cap(limit: usize) -> usize {
    limit.max(MEDIA_UPLOAD_MAX_BYTES)
}

/// The body cap for a path: the media upload route gets `media_upload_cap`, everything else `limit`.
fn body_cap(path: &str, limit: usize) -> usize {
    if path.starts_with("/v1/workspaces/") && path.ends_with("/templates/media") {
        media_upload_cap(limit)
    } else {
        limit
    }
}

/// Refuses a declared length over the path's cap at once, and stops reading a body that grows past it.
async fn limit_body(limit: usize, req: axum::extract::Request, next: axum::middleware::Next) -> axum::response::Response {
    use axum::response::IntoResponse;
    let cap = body_cap(req.uri().path(), limit);
    let declared = req.headers().get(axum::http::header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > cap as u64) {
        let mut r = ApiError::PayloadTooLarge(Some(cap)).into_response();
        r.headers_mut().insert(axum::http::header::CONNECTION, axum::http::HeaderValue::from_static("close"));
        return r;
    }
    next.run(req.map(|b| axum::body::Body::new(http_body_util::Limited::new(b, cap)))).await
}

async fn not_found(req: axum::extract::Request) -> ApiError {
    ApiError::NotFound(format!("no route for {} {}", req.method(), req.uri().path()))
}
