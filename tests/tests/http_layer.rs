//! The shared HTTP layer: envelopes, error mapping for bad requests, request ids, JSON logs.


use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::routing::post;
use axum::Router;
use http_body_util::BodyExt;
use serde::Deserialize;
use serde_json::{json, Value};
use tower::ServiceExt;
use webtrigger::http::{api, ApiJson, ApiOk, ApiResult};
use webtrigger::AppState;
use webtrigger_tests::embedded_state;

#[derive(Deserialize)]
struct Greeting {
    name: String,
}

async fn greet(ApiJson(g): ApiJson<Greeting>) -> ApiResult<Value> {
    tracing::info!(name_len = g.name.len(), "greeting");
    Ok(ApiOk::created(json!({"hello": g.name})))
}

async fn app(max_body_bytes: usize) -> (Router, tempfile::TempDir) {
    let (mut state, dir) = embedded_state().await;
    state.max_body_bytes = max_body_bytes;
    let routes = Router::<AppState>::new().merge(webtrigger::health::routes()).route("/v1/greet", post(greet));
    (api(routes, state, None), dir)
}

async fn send(app: &Router, req: Request<Body>) -> (StatusCode, axum::http::HeaderMap, Value) {
    let response = app.clone().oneshot(req).await.unwrap();
    let (status, headers) = (response.status(), response.headers().clone());
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let body = serde_json::from_slice(&bytes).unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(&bytes)));
    (status, headers, body)
}

fn post_json(body: &str) -> Request<Body> {
    Request::post("/v1/greet").header("content-type", "application/json").body(Body::from(body.to_owned())).unwrap()
}

fn assert_error(got: &(StatusCode, axum::http::HeaderMap, Value), status: u16, code: &str) {
    assert_eq!(got.0.as_u16(), status, "{:?}", got.2);
    assert_eq!(got.2["success"], false);
    assert_eq!(got.2["error"]["code"], code);
    assert!(got.2["error"]["message"].as_str().is_some_and(|m| !m.is_empty()));
}

#[tokio::test]
async fn success_envelope() {
    let (app, _d) = app(1024 * 1024).await;
    let got = send(&app, post_json(r#"{"name":"Ada"}"#)).await;
    assert_eq!(got.0, StatusCode::CREATED);
    assert_eq!(got.2, json!({"success": true, "data": {"hello": "Ada"}}));
}

#[tokio::test]
async fn bad_requests_get_the_error_envelope() {
    let (app, _d) = app(2048).await;
    assert_error(&send(&app, post_json(r#"{"name": "#)).await, 400, "invalid_json");
    assert_error(&send(&app, post_json(r#"{"nom": "Ada"}"#)).await, 422, "validation_failed");
    let text = Request::post("/v1/greet").header("content-type", "text/plain").body(Body::from(r#"{"name":"Ada"}"#)).unwrap();
    assert_error(&send(&app, text).await, 415, "unsupported_media_type");
    let big = format!(r#"{{"name":"{}"}}"#, "a".repeat(4096));
    assert_error(&send(&app, post_json(&big)).await, 413, "payload_too_large");
    let chunked_big = Request::post("/v1/greet").header("content-type", "application/json").body(Body::from_stream(futures_util::stream::iter(
        (0..8).map(|_| Ok::<_, std::io::Error>(axum::body::Bytes::from(vec![b' '; 1024]))),
    ))).unwrap();
    assert_error(&send(&app, chunked_big).await, 413, "payload_too_large");
    assert_error(&send(&app, Request::get("/v1/nope").body(Body::empty()).unwrap()).await, 404, "not_found");
    assert_error(&send(&app, Request::get("/elsewhere").body(Body::empty()).unwrap()).await, 404, "not_found");
    assert_error(&send(&app, Request::delete("/v1/health").body(Body::empty()).unwrap()).await, 405, "method_not_allowed");
}

#[tokio::test]
async fn request_ids() {
    let (app, _d) = app(1024 * 1024).await;
    let generated = send(&app, Request::get("/v1/health").body(Body::empty()).unwrap()).await;
    let id = generated.1["x-request-id"].to_str().unwrap();
    assert!(ulid::Ulid::from_string(id).is_ok(), "a fresh ULID when the caller sends none: {id}");
    let echoed = send(&app, Request::get("/v1/health").header("x-request-id", "caller-42").body(Body::empty()).unwrap()).await;
    assert_eq!(echoed.1["x-request-id"], "caller-42");
    let hostile = send(&app, Request::get("/v1/health").header("x-request-id", "a b\"<script>").body(Body::empty()).unwrap()).await;
    assert_ne!(hostile.1["x-request-id"], "a b\"<script>", "unsafe caller ids are replaced");
}
