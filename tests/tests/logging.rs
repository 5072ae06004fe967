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

#[path = "api/client.rs"]
mod client;

/// Credential creation, sends that fail and succeed, and a credential test log plenty, but never a secret.
#[tokio::test(flavor = "current_thread")]
async fn provider_secrets_never_reach_the_logs() {
    use webtrigger_tests::provider_fakes::{Failure, ProviderFake, META_PHONE_NUMBER_ID, META_TOKEN};
    let captured = Captured::default();
    let sink = captured.clone();
    let _guard = tracing::subscriber::set_default(webtrigger::telemetry::subscriber(move || sink.clone()));
    let (mut state, _d) = embedded_state().await;
    let fake = ProviderFake::start().await;
    state.whatsapp = Arc::new(webtrigger::whatsapp::WhatsAppRuntime::new(fake.urls()));
    let mut ada = client::Client::new(state.clone());
    ada.sign_up("ada@example.com").await;
    let ws = ada.create_workspace("Shop").await;
    let app_secret = "feedfacefeedfacefeedfacefeedface";
    let cred = ada.post(&format!("/v1/workspaces/{ws}/credentials"), json!({"name": "Meta", "provider": "meta", "access_token": META_TOKEN, "app_secret": app_secret, "phone_number_id": META_PHONE_NUMBER_ID, "waba_id": "102290129340398"})).await;
    let cred = cred.data()["id"].as_str().unwrap().to_owned();
    // A malformed secret in a rejected request is not echoed either.
    ada.post(&format!("/v1/workspaces/{ws}/credentials"), json!({"name": "Bad", "provider": "whapi", "token": "has spaces in-the-secret-9f8e"})).await.assert_error(422, "validation_failed");
    let channel = ada.post(&format!("/v1/workspaces/{ws}/channels"), json!({"name": "Support", "credential_id": cred})).await.data()["id"].as_str().unwrap().to_owned();
    fake.script("+14155550001", vec![Failure::new(401, Some(190), "Invalid OAuth access token")]);
    let send = json!({"channel_id": channel, "to": "+14155550001", "type": "template", "name": "hello_world", "language": "en_US"});
    assert_eq!(ada.post(&format!("/v1/workspaces/{ws}/messages"), send).await.status, 202);
    let spec = webtrigger::queues::whatsapp_send();
    while webtrigger::local::poll_once(&state, &spec, &webtrigger::whatsapp::worker::WhatsAppWorker, std::time::Duration::ZERO).await.unwrap() > 0 {}
    let tested = ada.post(&format!("/v1/workspaces/{ws}/credentials/{cred}/test"), json!({"to": "+14155550002", "template": {"type": "template", "name": "hello_world", "language": "en_US"}})).await;
    assert_eq!(tested.data()["ok"], true, "{}", tested.body);

    let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(text.contains("provider refused the message"), "the failure was logged: {text}");
    for secret in [META_TOKEN, app_secret, "has spaces in-the-secret-9f8e"] {
        assert!(!text.contains(secret), "a secret reached the logs");
    }
}
