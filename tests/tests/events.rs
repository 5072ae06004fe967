//! The sample events in `events/` fed through the real handlers, exactly as Lambda would deliver them.

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use aws_lambda_events::event::sqs::SqsEvent;
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;
use webtrigger::health::{heartbeat_key, EchoWorker, Heartbeat};
use webtrigger::{http::api, queues, schedule, worker};
use webtrigger_tests::{embedded_state, workspace_file};

fn sample(name: &str) -> String {
    std::fs::read_to_string(workspace_file(&format!("events/{name}"))).unwrap()
}

async fn call_api(event: &str) -> (u16, Option<String>, Value) {
    let (state, _dir) = embedded_state().await;
    let request = lambda_http::request::from_str(event).expect("valid API Gateway v2 event");
    let response = api(webtrigger::health::routes(), state, None).oneshot(request).await.unwrap();
    let status = response.status().as_u16();
    let id = response.headers().get("x-request-id").map(|v| v.to_str().unwrap().to_owned());
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, id, serde_json::from_slice(&body).expect("JSON body"))
}

#[tokio::test]
async fn api_gateway_health_event() {
    let (status, request_id, body) = call_api(&sample("apigw-v2-health.json")).await;
    assert_eq!(status, 200);
    assert_eq!(request_id.as_deref(), Some("JKJaXmPLvHcESHA="), "the API Gateway request id is the request id");
    assert_eq!(body["success"], true);
    assert_eq!(body["data"]["status"], "ok");
    assert_eq!(body["data"]["backend"], "embedded");
    assert_eq!(body["data"]["version"], env!("CARGO_PKG_VERSION"));
}

#[tokio::test]
async fn api_gateway_wrong_method_event_gets_error_envelope() {
    let (status, request_id, body) = call_api(&sample("apigw-v2-wrong-method.json")).await;
    assert_eq!(status, 405);
    assert_eq!(request_id.as_deref(), Some("KLMbYnQMwIdFTIB="));
    assert_eq!(body["success"], false);
    assert_eq!(body["error"]["code"], "method_not_allowed");
}

#[tokio::test]
async fn sqs_echo_batch_event() {
    let (state, _dir) = embedded_state().await;
    let event: SqsEvent = serde_json::from_str(&sample("sqs-echo-batch.json")).unwrap();
    let response = worker::process_batch(&state, &queues::echo(), &EchoWorker, event).await;
    assert!(response.batch_item_failures.is_empty(), "the poison message is dead-lettered, not retried: {response:?}");
    let stored = state.table.get(&heartbeat_key()).await.unwrap().expect("heartbeat recorded");
    assert_eq!(stored.parse::<Heartbeat>().unwrap().minute, 29925893);
    assert_eq!(state.queue.depth(&queues::echo().dlq_name()).await.unwrap(), 1);
    let json = serde_json::to_value(&response).unwrap();
    assert_eq!(json["batchItemFailures"], serde_json::json!([]), "serialises in the shape Lambda reads");
}

#[tokio::test]
async fn eventbridge_schedule_event() {
    let (state, _dir) = embedded_state().await;
    let event: EventBridgeEvent = serde_json::from_str(&sample("eventbridge-schedule.json")).unwrap();
    let minute = 1444323186 / 60; // 2015-10-08T16:53:06Z
    let report = schedule::handle_scheduled_event(&state, event.clone()).await.unwrap();
    assert_eq!(report.minutes_run, vec![minute]);
    assert_eq!(state.queue.depth(&queues::echo().name).await.unwrap(), 1, "the tick sent a heartbeat");
    let again = schedule::handle_scheduled_event(&state, event.clone()).await.unwrap();
    assert!(again.minutes_run.is_empty(), "a redelivered event does not run the minute twice");

    let mut five_later = event;
    five_later.time = five_later.time.map(|t| t + chrono::Duration::minutes(5));
    let caught_up = schedule::handle_scheduled_event(&state, five_later).await.unwrap();
    assert_eq!(caught_up.minutes_run, (minute + 1..=minute + 5).collect::<Vec<_>>(), "missed minutes are caught up in order");
    assert_eq!(state.queue.depth(&queues::echo().name).await.unwrap(), 2, "one heartbeat per tick, not per caught-up minute");
}
