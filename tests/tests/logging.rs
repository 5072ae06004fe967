//! Logs are JSON and every line written while serving a request carries its request id. Alone in its
//! own test binary: tracing caches per-callsite interest process-wide, so other tests running without
//! a subscriber would hide these lines.

use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::routing::post;
use axum::Router;
use serde_json::{json, Value};
use tower::ServiceExt;
use webtrigger::http::{api, ApiJson, ApiOk, ApiResult};
use webtrigger::AppState;
use webtrigger_tests::embedded_state;

async fn greet(ApiJson(body): ApiJson<Value>) -> ApiResult<Value> {
    tracing::info!(fields = body.as_object().map_or(0, |o| o.len()), "greeting");
    Ok(ApiOk::created(json!({"ok": true})))
}

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "current_thread")]
async fn every_log_line_of_a_request_carries_its_id() {
    let captured = Captured::default();
    let sink = captured.clone();
    let _guard = tracing::subscriber::set_default(webtrigger::telemetry::subscriber(move || sink.clone()));
    let (state, _d) = embedded_state().await;
    let app = api(Router::<AppState>::new().route("/v1/greet", post(greet)), state, None);
    let req = Request::post("/v1/greet").header("content-type", "application/json").header("x-request-id", "trace-me-1").body(Body::from(r#"{"name":"Ada"}"#)).unwrap();
    assert_eq!(app.oneshot(req).await.unwrap().status(), StatusCode::CREATED);
    let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).expect("every log line is JSON")).collect();
    assert!(lines.iter().any(|l| l["message"] == "greeting"), "handler log captured: {text}");
    assert!(lines.iter().any(|l| l["message"] == "request finished" && l["status"] == 201));
    for line in &lines {
        assert_eq!(line["span"]["request_id"], "trace-me-1", "line without the request id: {line}");
    }
}
