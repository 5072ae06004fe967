//! The sample events in `events/` fed through the real handlers, exactly as Lambda would deliver them.

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use aws_lambda_events::event::sqs::SqsEvent;
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;
use webtrigger::health::{heartbeat_key, EchoWorker, Heartbeat};
use webtrigger::inbox::parse::{self, InboundEvent, InboundMessage, StatusUpdate};
use webtrigger::whatsapp::types::{MessageStatus, PhoneNumber};
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

// Provider webhook bodies (providers.md §2.4, §3.4, §4), normalised by the inbox parsers the
// `webhook-process` worker runs.

fn phone(raw: &str) -> PhoneNumber {
    PhoneNumber::parse(raw).unwrap()
}

#[test]
fn meta_inbound_text_sample() {
    let events = parse::meta(sample("meta-inbound-text.json").as_bytes()).unwrap();
    assert_eq!(
        events,
        vec![InboundEvent::Message(InboundMessage {
            provider_message_id: "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA=".into(),
            from: phone("+16505551234"),
            name: Some("Sheena Nelson".into()),
            kind: "text".into(),
            text: Some("Does it come in another color?".into()),
            media: None,
            media_mime: None,
            media_filename: None,
            reply_id: None,
            timestamp: 1749416383,
        })]
    );
}

#[test]
fn meta_status_sample_carries_the_failure_code() {
    let events = parse::meta(sample("meta-status-failed.json").as_bytes()).unwrap();
    assert_eq!(events.len(), 2);
    assert_eq!(events[0], InboundEvent::Status(StatusUpdate { provider_message_id: "wamid.gBGGFlCGg0cvAglAxydbAoy-gwNo".into(), status: MessageStatus::Sent, error: None }));
    let InboundEvent::Status(failed) = &events[1] else { panic!("second event is a status: {events:?}") };
    assert_eq!(failed.status, MessageStatus::Failed);
    let (code, message) = failed.error.clone().unwrap();
    assert_eq!(code, "131047");
    assert!(message.starts_with("Message failed to send because more than 24 hours"), "{message}");
}

fn form(name: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(sample(name).as_bytes()).into_owned().collect()
}

#[test]
fn twilio_inbound_sample() {
    let events = parse::twilio(&form("twilio-inbound.form"));
    let [InboundEvent::Message(m)] = events.as_slice() else { panic!("one message: {events:?}") };
    assert_eq!(m.provider_message_id, "SM45e9d2b6a3e0c1f4b7a8d9e0f1a2b3c4");
    assert_eq!(m.from, phone("+919900000000"));
    assert_eq!((m.name.as_deref(), m.kind.as_str(), m.text.as_deref()), (Some("Ranjit Sankar"), "text", Some("hey")));
}

#[test]
fn twilio_status_sample_undelivered_is_a_failure_with_its_code() {
    let events = parse::twilio(&form("twilio-status.form"));
    let [InboundEvent::Status(s)] = events.as_slice() else { panic!("one status: {events:?}") };
    assert_eq!((s.provider_message_id.as_str(), s.status), ("SMc4c9e8d7c6b5a4f3e2d1c0b9a8f7e6d5", MessageStatus::Failed));
    assert_eq!(s.error.as_ref().map(|e| e.0.as_str()), Some("63016"));
}

#[test]
fn whapi_inbound_sample_skips_our_own_echo() {
    let events = parse::whapi(sample("whapi-inbound.json").as_bytes()).unwrap();
    assert_eq!(events.len(), 2);
    let InboundEvent::Message(m) = &events[0] else { panic!("first is the customer's message: {events:?}") };
    assert_eq!((m.provider_message_id.as_str(), m.text.as_deref(), m.name.as_deref()), ("p.w30M7fgwWD4XwHu.g4CA-gBgTwl0rVw", Some("Hello!"), Some("John")));
    assert_eq!((m.from.clone(), m.timestamp), (phone("+14155552671"), 1712995245));
    assert!(matches!(&events[1], InboundEvent::Ignored(why) if why == "our own message"), "from_me is skipped: {events:?}");
}

#[test]
fn whapi_health_sample_reports_the_channel_state() {
    let events = parse::whapi(sample("whapi-health.json").as_bytes()).unwrap();
    assert_eq!(events, vec![InboundEvent::ChannelHealth { status: "QR".into() }]);
}
