//! Request id (API Gateway's, a valid caller `x-request-id`, or a new ULID) on a tracing span around
//! the request, so every log line carries it; and envelope conversion of bare error responses.

use std::time::Instant;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use lambda_http::request::RequestContext;
use lambda_http::RequestExt;
use tracing::Instrument;

use super::ApiError;

pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// The id of the current request, available to handlers as an extension.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(pub String);

fn valid_caller_id(v: &HeaderValue) -> Option<String> {
    let s = v.to_str().ok()?;
    let ok = !s.is_empty() && s.len() <= 128 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b));
    ok.then(|| s.to_owned())
}

fn request_id(req: &Request) -> String {
    let from_gateway = match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => ctx.request_id.clone(),
        _ => None,
    };
    from_gateway
        .or_else(|| req.headers().get(REQUEST_ID_HEADER).and_then(valid_caller_id))
        .unwrap_or_else(|| ulid::Ulid::new().to_string())
}

pub async fn request_context(mut req: Request, next: Next) -> Response {
    let id = request_id(&req);
    req.extensions_mut().insert(RequestId(id.clone()));
    let span = tracing::info_span!("request", request_id = %id, method = %req.method(), path = %req.uri().path());
    let started = Instant::now();
    let mut response = next.run(req).instrument(span.clone()).await;
    let status = response.status().as_u16();
    span.in_scope(|| tracing::info!(status, latency_ms = started.elapsed().as_millis() as u64, "request finished"));
    if let Ok(v) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID_HEADER, v);
    }
    response
}

/// Replaces any 4xx/5xx answer that is not already JSON (router 405, body-limit 413, ...) with the envelope.
pub async fn envelope_errors(max_body_bytes: usize, req: Request, next: Next) -> Response {
    let mut response = next.run(req).await;
    let status = response.status();
    if status == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
        // The unread rest of the body makes the connection unusable: tell the client not to reuse it.
        response.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    let is_json = response.headers().get(header::CONTENT_TYPE).is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let (mut parts, _) = response.into_parts();
    let mut fresh = ApiError::from_status(status, max_body_bytes).into_response();
    *fresh.status_mut() = status;
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.extend(fresh.headers_mut().drain().filter_map(|(k, v)| k.map(|k| (k, v))));
    Response::from_parts(parts, fresh.into_body()).map(Body::new)
}
