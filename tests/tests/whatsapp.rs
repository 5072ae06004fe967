//! WhatsApp outbound end to end on the embedded backend: credentials sealed and never shown, channels,
//! sends through each provider's loopback fake, the 24-hour window, idempotency, every error class's
//! retry / fail / pause outcome, outbox recovery, and master-key rotation.

#[path = "api/client.rs"]
mod client;

use std::sync::Arc;
use std::time::Duration;

use axum::http::Method;
use client::Client;
use serde_json::{json, Value};
use webtrigger::ports::{Clock, FixedClock};
use webtrigger::whatsapp::messages::{self, SendJob};
use webtrigger::whatsapp::types::MessageId;
use webtrigger::AppState;
use webtrigger_tests::provider_fakes::{Failure, ProviderFake, META_PHONE_NUMBER_ID, META_TOKEN, TWILIO_SID, TWILIO_TOKEN, WHAPI_TOKEN};

struct World {
    state: AppState,
    clock: Arc<FixedClock>,
    fake: ProviderFake,
    ada: Client,
    ws: String,
    _dir: Option<tempfile::TempDir>,
}

async fn world() -> World {
    world_on(false).await
}

/// The embedded backend, or (`aws`) the AWS adapters on moto. Cases that move the clock to drive retry
/// delays stay embedded: SQS delays follow real time.
async fn world_on(aws: bool) -> World {
    let clock = Arc::new(FixedClock::new(chrono::Utc::now()));
    let (mut state, dir) = if aws {
        (webtrigger_tests::aws_state_with_clock(clock.clone()).await, None)
    } else {
        let (state, dir) = webtrigger_tests::embedded_state_with_clock(clock.clone()).await;
        (state, Some(dir))
    };
    let fake = ProviderFake::start().await;
    state.whatsapp = Arc::new(webtrigger::whatsapp::WhatsAppRuntime::new(fake.urls()));
    let mut ada = Client::new(state.clone());
    ada.sign_up("ada@example.com").await;
    let ws = ada.create_workspace("Shop").await;
    World { state, clock, fake, ada, ws, _dir: dir }
}

impl World {
    fn path(&self, rest: &str) -> String {
        format!("/v1/workspaces/{}/{rest}", self.ws)
    }

    async fn credential(&mut self, body: Value) -> String {
        let r = self.ada.post(&self.path("credentials"), body).await;
        assert_eq!(r.status, 201, "{}", r.body);
        r.data()["id"].as_str().unwrap().to_owned()
    }

    async fn channel(&mut self, body: Value) -> String {
        let r = self.ada.post(&self.path("channels"), body).await;
        assert_eq!(r.status, 201, "{}", r.body);
        r.data()["id"].as_str().unwrap().to_owned()
    }

    async fn send(&mut self, body: Value) -> Value {
        let r = self.ada.post(&self.path("messages"), body).await;
        assert!(r.status == 202 || r.status == 200, "{} {}", r.status, r.body);
        r.data().clone()
    }

    /// Runs the sender worker until no job is visible (at the fixed clock's time).
    async fn drain(&self) {
        let spec = webtrigger::queues::whatsapp_send();
        while webtrigger::local::poll_once(&self.state, &spec, &webtrigger::whatsapp::worker::WhatsAppWorker, Duration::ZERO).await.unwrap() > 0 {}
    }

    /// The stored message, read without the API (access tokens expire while the clock jumps).
    async fn message(&self, id: &str) -> messages::Message {
        let ws = webtrigger::auth::WorkspaceId::parse(&self.ws).unwrap();
        messages::load(&self.state, &ws, &MessageId::parse(id).unwrap()).await.unwrap().unwrap().1
    }

    fn advance(&self, secs: u64) {
        self.clock.advance(chrono::Duration::seconds(secs as i64));
    }

    /// Records an inbound message from `to` now, opening its 24-hour window (what inbound processing does).
    async fn inbound_from(&self, channel: &str, to: &str) {
        let ws = webtrigger::auth::WorkspaceId::parse(&self.ws).unwrap();
        let key = messages::contact_key(&ws, &webtrigger::whatsapp::types::ChannelId::parse(channel).unwrap(), &webtrigger::whatsapp::types::Recipient::parse(to).unwrap());
        let item = webtrigger::ports::Item::new(key).with_attr("last_inbound_at", self.state.clock.now().to_rfc3339());
        self.state.table.put(item, webtrigger::ports::Condition::None).await.unwrap();
    }

    async fn meta_channel(&mut self) -> String {
        let cred = self.credential(json!({"name": "Meta", "provider": "meta", "access_token": META_TOKEN, "app_secret": "0123456789abcdef0123456789abcdef", "phone_number_id": META_PHONE_NUMBER_ID, "waba_id": "102290129340398"})).await;
        self.channel(json!({"name": "Support", "credential_id": cred})).await
    }
}

/// The worker tells open dashboards when a message went out, so the inbox shows `sent` without waiting
/// for the provider's status webhook (a reload that raced the send would otherwise show `queued`).
#[tokio::test]
async fn a_sent_message_is_announced_live() {
    let mut w = world().await;
    let channel = w.meta_channel().await;
    w.inbound_from(&channel, "+14155552671").await;
    let mut live = w.state.live.subscribe();
    let sent = w.send(json!({"channel_id": channel, "to": "+14155552671", "type": "text", "body": "On its way"})).await;
    w.drain().await;
    let id = sent["id"].as_str().unwrap();
    let mut statuses = Vec::new();
    while let Ok((_, event)) = live.try_recv() {
        if event.kind == "message.status" && event.data["message_id"] == id {
            statuses.push(event.data["status"].as_str().unwrap().to_owned());
        }
    }
    assert_eq!(statuses, ["sent"], "one live status event once the provider accepted it");
}

#[tokio::test]
async fn sends_through_each_provider_embedded() {
    sends_through_each_provider(world().await).await;
}

#[tokio::test]
async fn sends_through_each_provider_aws() {
    sends_through_each_provider(world_on(true).await).await;
}

async fn sends_through_each_provider(mut w: World) {

    // Credentials: only a masked hint comes back; the stored item holds ciphertext only.
    let twilio_cred = w.credential(json!({"name": "Twilio", "provider": "twilio", "account_sid": TWILIO_SID, "auth_token": TWILIO_TOKEN})).await;
    let listed = w.ada.get(&w.path("credentials")).await;
    assert!(!listed.body.to_string().contains(TWILIO_TOKEN), "the API never returns a secret");
    assert_eq!(listed.data()[0]["hint"], "auth token ••••cdef");
    let ws_id = webtrigger::auth::WorkspaceId::parse(&w.ws).unwrap();
    let cred_id = webtrigger::whatsapp::types::CredentialId::parse(&twilio_cred).unwrap();
    let raw = w.state.table.get(&webtrigger::whatsapp::credentials::credential_key(&ws_id, &cred_id)).await.unwrap().unwrap();
    let stored = serde_json::to_string(&raw.attrs).unwrap();
    assert!(!stored.contains(TWILIO_TOKEN) && !stored.contains(&base64_of(TWILIO_TOKEN)), "ciphertext never contains the secret");
    let sealed: webtrigger::ports::envelope::Sealed = serde_json::from_value(raw.attrs["sealed"].clone()).unwrap();
    let other_ws = webtrigger::auth::WorkspaceId::parse("ws_01jd5x8q0y8m3n2b7c4v6w9z1a").unwrap();
    let foreign = webtrigger::ports::envelope::open(w.state.keyring.as_ref(), &webtrigger::whatsapp::credentials::context(&other_ws, &cred_id), &sealed).await;
    assert!(matches!(foreign, Err(webtrigger::ports::KeyringError::InvalidCiphertext)), "another workspace's context cannot decrypt");

    // Bad credential input.
    w.ada.post(&w.path("credentials"), json!({"name": "x", "provider": "twilio", "account_sid": "AC123"})).await.assert_error(422, "validation_failed");
    w.ada.post(&w.path("credentials"), json!({"name": "x", "provider": "carrier-pigeon"})).await.assert_error(422, "validation_failed");

    let twilio = w.channel(json!({"name": "Sales", "credential_id": twilio_cred, "number": "+1 500 555 0006"})).await;
    w.ada.post(&w.path("channels"), json!({"name": "Dup", "credential_id": twilio_cred, "number": "+15005550006"})).await.assert_error(409, "conflict");
    w.ada.post(&w.path("channels"), json!({"name": "No number", "credential_id": twilio_cred})).await.assert_error(422, "validation_failed");
    let meta = w.meta_channel().await;
    let whapi_cred = w.credential(json!({"name": "Whapi", "provider": "whapi", "token": WHAPI_TOKEN})).await;
    let whapi = w.channel(json!({"name": "Phone", "credential_id": whapi_cred})).await;

    // Whapi linking: QR while unlinked, connected once the phone scanned it.
    let link = w.ada.post(&w.path(&format!("channels/{whapi}/link")), json!({})).await;
    assert_eq!((link.data()["status"].as_str(), link.data()["connected"].as_bool()), (Some("QR"), Some(false)), "{}", link.body);
    assert!(link.data()["qr"].as_str().unwrap().starts_with("data:image/png;base64,"));
    let pairing = w.ada.post(&w.path(&format!("channels/{whapi}/link")), json!({"phone": "+14155552671"})).await;
    assert_eq!(pairing.data()["pairing_code"], "ABCD-1234");
    w.fake.set_whapi_linked(true);
    assert_eq!(w.ada.post(&w.path(&format!("channels/{whapi}/link")), json!({})).await.data()["connected"], true);
    assert_eq!(w.ada.get(&w.path(&format!("channels/{whapi}"))).await.data()["status"], "active");
    w.ada.post(&w.path(&format!("channels/{meta}/link")), json!({})).await.assert_error(422, "unsupported_capability");

    // Bad sends.
    let msgs = w.path("messages");
    w.ada.post(&msgs, json!({"channel_id": twilio, "to": "0044 20 7946", "type": "text", "body": "hi"})).await.assert_error(422, "validation_failed");
    w.ada.post(&msgs, json!({"channel_id": "chan_01jd5x8q0y8m3n2b7c4v6w9z1a", "to": "+14155552671", "type": "text", "body": "hi"})).await.assert_error(422, "validation_failed");
    w.inbound_from(&twilio, "+14155552671").await;
    w.ada.post(&msgs, json!({"channel_id": twilio, "to": "+14155552671", "type": "text", "body": "x".repeat(1601)})).await.assert_error(422, "validation_failed");
    w.ada.post(&msgs, json!({"channel_id": whapi, "to": "+14155552671", "type": "template", "name": "hello_world", "language": "en_US"})).await.assert_error(422, "unsupported_capability");
    w.ada.post(&msgs, json!({"channel_id": twilio, "to": "+14155552671", "type": "interactive", "body": "Pick", "buttons": [{"id": "a", "title": "A"}]})).await.assert_error(422, "unsupported_capability");
    w.ada.post(&msgs, json!({"channel_id": twilio, "to": "120363025246125486@g.us", "type": "text", "body": "hi"})).await.assert_error(422, "unsupported_capability");

    // The 24-hour window: refused up front, or the template fallback is sent instead.
    let outside = w.ada.post(&msgs, json!({"channel_id": meta, "to": "+14155550100", "type": "text", "body": "Your order shipped"})).await;
    outside.assert_error(422, "outside_window");
    let fallback = w.send(json!({"channel_id": meta, "to": "+14155550100", "type": "text", "body": "Your order shipped",
        "template_fallback": {"type": "template", "name": "order_update", "language": "en_US", "variables": ["42"]}})).await;
    assert_eq!((fallback["used_template_fallback"].as_bool(), fallback["content"]["type"].as_str()), (Some(true), Some("template")));

    // One send per provider, and a duplicate client_message_id.
    let t = w.send(json!({"channel_id": twilio, "to": "+14155552671", "type": "text", "body": "Hello from Twilio", "client_message_id": "order-42"})).await;
    let again = w.ada.post(&msgs, json!({"channel_id": twilio, "to": "+14155552671", "type": "text", "body": "Hello from Twilio", "client_message_id": "order-42"})).await;
    assert_eq!((again.status, again.data()["id"].as_str()), (200, t["id"].as_str()), "the duplicate answers with the first message");
    w.inbound_from(&meta, "+16505551234").await;
    let m = w.send(json!({"channel_id": meta, "to": "+16505551234", "type": "interactive", "body": "Rate us", "buttons": [{"id": "good", "title": "Good"}]})).await;
    let wh = w.send(json!({"channel_id": whapi, "to": "120363025246125486@g.us", "type": "text", "body": "Hello group"})).await;
    assert_eq!(t["status"], "queued");
    w.drain().await;

    let received = w.fake.received();
    assert_eq!(received.len(), 4, "{received:#?}");
    let tw = received.iter().find(|r| r.provider == "twilio").unwrap();
    assert_eq!((tw.body["To"].as_str(), tw.body["From"].as_str(), tw.body["Body"].as_str()), (Some("whatsapp:+14155552671"), Some("whatsapp:+15005550006"), Some("Hello from Twilio")));
    assert!(tw.authorization.starts_with("Basic "));
    let templated = received.iter().find(|r| r.provider == "meta" && r.body["type"] == "template").unwrap();
    assert_eq!(templated.body["template"]["components"][0]["parameters"][0]["text"], "42");
    let interactive = received.iter().find(|r| r.provider == "meta" && r.body["type"] == "interactive").unwrap();
    assert_eq!((interactive.body["to"].as_str(), interactive.authorization.as_str()), (Some("16505551234"), format!("Bearer {META_TOKEN}").as_str()));
    let group = received.iter().find(|r| r.provider == "whapi").unwrap();
    assert_eq!((group.path.as_str(), group.body["to"].as_str()), ("/messages/text", Some("120363025246125486@g.us")));

    for (id, prefix) in [(&t, "SM"), (&m, "wamid."), (&wh, "PsqXn5SAD5v7HRA")] {
        let sent = w.message(id["id"].as_str().unwrap()).await;
        assert_eq!(sent.status, webtrigger::whatsapp::types::MessageStatus::Sent, "{sent:?}");
        assert!(sent.provider_message_id.as_deref().unwrap().starts_with(prefix));
    }
    let log = w.ada.get(&format!("{msgs}?channel_id={twilio}")).await;
    assert_eq!(log.data()["messages"].as_array().unwrap().len(), 1, "filtered by channel");
    let sent_only = w.ada.get(&format!("{msgs}?status=sent")).await;
    assert_eq!(sent_only.data()["messages"].as_array().unwrap().len(), 4);

    // Test WhatsApp: the provider's answer in words.
    let ok = w.ada.post(&w.path(&format!("credentials/{twilio_cred}/test")), json!({"to": "+14155552671"})).await;
    assert_eq!(ok.data()["ok"], true, "{}", ok.body);
    w.fake.script("+14155550199", vec![Failure::new(400, Some(21211), "The 'To' number 4155550199 is not a valid phone number.")]);
    let bad = w.ada.post(&w.path(&format!("credentials/{twilio_cred}/test")), json!({"to": "+14155550199"})).await;
    assert_eq!(bad.data()["ok"], false);
    assert!(bad.data()["summary"].as_str().unwrap().contains("not reachable on WhatsApp"), "{}", bad.body);
    assert_eq!(w.ada.get(&w.path(&format!("credentials/{twilio_cred}"))).await.data()["last_test"]["ok"], false);

    // A credential in use cannot be deleted; other tenants see nothing.
    w.ada.call(Method::DELETE, &w.path(&format!("credentials/{twilio_cred}")), None).await.assert_error(409, "conflict");
    let mut eve = Client::new(w.state.clone());
    eve.sign_up("eve@example.com").await;
    eve.create_workspace("Eve").await;
    eve.get(&w.path("credentials")).await.assert_error(404, "not_found");
    eve.post(&msgs, json!({"channel_id": twilio, "to": "+14155552671", "type": "text", "body": "hi"})).await.assert_error(404, "not_found");
}

fn base64_of(s: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(s)
}

#[tokio::test]
async fn error_classes_retry_fail_or_pause() {
    let mut w = world().await;
    let meta = w.meta_channel().await;
    let numbers = ["+14155550001", "+14155550002", "+14155550003", "+14155550004", "+14155550005", "+14155550006"];
    for n in numbers {
        w.inbound_from(&meta, n).await;
    }
    let send = |to: &str| json!({"channel_id": meta, "to": to, "type": "text", "body": "Hello"});

    // Permanent by code: undeliverable and outside the window fail at once, no retry.
    w.fake.script(numbers[0], vec![Failure::new(400, Some(131026), "Message Undeliverable")]);
    w.fake.script(numbers[1], vec![Failure::new(400, Some(131047), "Re-engagement message")]);
    let undeliverable = w.send(send(numbers[0])).await["id"].as_str().unwrap().to_owned();
    let window = w.send(send(numbers[1])).await["id"].as_str().unwrap().to_owned();
    // Transient twice, then accepted.
    w.fake.script(numbers[2], vec![Failure::new(500, Some(131000), "Something went wrong"), Failure::new(503, Some(131000), "Something went wrong")]);
    let flaky = w.send(send(numbers[2])).await["id"].as_str().unwrap().to_owned();
    w.drain().await;
    let m = w.message(&undeliverable).await;
    assert_eq!((format!("{:?}", m.status), m.error.as_ref().map(|e| (e.class.as_str(), e.code.as_str()))), ("Failed".into(), Some(("invalid_recipient", "131026"))));
    assert_eq!(w.message(&window).await.error.unwrap().class, "outside_window");
    let f = w.message(&flaky).await;
    assert_eq!((format!("{:?}", f.status), f.attempts), ("Sending".into(), 1), "waiting for its retry");
    assert_eq!(f.error.unwrap().code, "131000");
    w.advance(60);
    w.drain().await;
    assert_eq!(w.message(&flaky).await.attempts, 2);
    w.advance(119);
    w.drain().await;
    assert_eq!(w.message(&flaky).await.attempts, 2, "not before the 2-minute retry");
    w.advance(1);
    w.drain().await;
    let f = w.message(&flaky).await;
    assert_eq!((format!("{:?}", f.status), f.attempts, f.error.is_none()), ("Sent".into(), 3, true));
    let to_flaky = w.fake.received().iter().filter(|r| r.to == numbers[2][1..]).count();
    assert_eq!(to_flaky, 3);

    // A rate limit (by code, on a 400) pauses the channel; sends to the paused channel wait, then go.
    w.fake.script(numbers[3], vec![Failure::new(400, Some(130429), "Rate limit hit").retry_after(90)]);
    let limited = w.send(send(numbers[3])).await["id"].as_str().unwrap().to_owned();
    w.drain().await;
    let channel = w.ada.get(&w.path(&format!("channels/{meta}"))).await.data().clone();
    assert_eq!(channel["status"], "degraded", "{channel}");
    assert!(channel["status_reason"].as_str().unwrap().contains("130429"));
    let waiting = w.send(send(numbers[4])).await["id"].as_str().unwrap().to_owned();
    let before = w.fake.received().len();
    w.drain().await;
    assert_eq!(w.fake.received().len(), before, "nothing goes out while the channel is paused");
    assert_eq!(format!("{:?}", w.message(&waiting).await.status), "Queued");
    w.advance(91);
    w.drain().await;
    assert_eq!(format!("{:?}", w.message(&limited).await.status), "Sent");
    assert_eq!(format!("{:?}", w.message(&waiting).await.status), "Sent");
    assert_eq!(w.message(&waiting).await.attempts, 1, "waiting for a pause uses no attempt");

    // Transient every time: failed after the last attempt and dead-lettered.
    let always: Vec<Failure> = (0..6).map(|_| Failure::new(502, Some(131000), "Something went wrong")).collect();
    w.fake.script(numbers[5], always);
    let doomed = w.send(send(numbers[5])).await["id"].as_str().unwrap().to_owned();
    w.drain().await;
    for secs in [60, 120, 240, 480, 900] {
        w.advance(secs);
        w.drain().await;
    }
    let d = w.message(&doomed).await;
    assert_eq!((format!("{:?}", d.status), d.attempts), ("Failed".into(), 6));
    assert!(d.error.unwrap().message.starts_with("gave up after 6 attempts"));
    assert_eq!(w.state.queue.depth("whatsapp-send-dlq").await.unwrap(), 1);

    // A refused token marks the channel degraded with the reason, and fails the message.
    w.fake.script("+14155550007", vec![Failure::new(401, Some(190), "Invalid OAuth access token")]);
    w.inbound_from(&meta, "+14155550007").await;
    let expired = w.send(send("+14155550007")).await["id"].as_str().unwrap().to_owned();
    w.drain().await;
    assert_eq!(w.message(&expired).await.error.unwrap().class, "auth_failed");
    assert!(w.ada.get(&w.path(&format!("channels/{meta}"))).await.data()["status_reason"].as_str().unwrap().contains("refused the credential"));
}

#[tokio::test]
async fn twilio_codes_and_outbox_recovery() {
    let mut w = world().await;
    let cred = w.credential(json!({"name": "Twilio", "provider": "twilio", "account_sid": TWILIO_SID, "auth_token": TWILIO_TOKEN})).await;
    let ch = w.channel(json!({"name": "Sales", "credential_id": cred, "number": "+15005550006", "throughput_per_second": 2})).await;
    for n in ["+14155550011", "+14155550012", "+14155550013"] {
        w.inbound_from(&ch, n).await;
    }
    w.fake.script("+14155550011", vec![Failure::new(400, Some(63016), "Outside messaging window")]);
    w.fake.script("+14155550012", vec![Failure::new(429, Some(20429), "Too Many Requests").retry_after(7)]);
    let a = w.send(json!({"channel_id": ch, "to": "+14155550011", "type": "text", "body": "a"})).await["id"].as_str().unwrap().to_owned();
    let b = w.send(json!({"channel_id": ch, "to": "+14155550012", "type": "text", "body": "b"})).await["id"].as_str().unwrap().to_owned();
    w.drain().await;
    assert_eq!(w.message(&a).await.error.unwrap().class, "outside_window");
    assert_eq!(w.message(&b).await.error.unwrap().class, "rate_limited");
    w.advance(60);
    w.drain().await;
    assert_eq!(format!("{:?}", w.message(&b).await.status), "Sent");

    // The per-channel token bucket: 2/s lets two through, the rest wait their turn.
    w.advance(1);
    let burst: Vec<String> = futures_util::future::join_all((0..4).map(|i| {
        let mut c = w.ada.clone();
        let path = w.path("messages");
        let ch = ch.clone();
        async move { c.post(&path, json!({"channel_id": ch, "to": "+14155550013", "type": "text", "body": format!("burst {i}")})).await.data()["id"].as_str().unwrap().to_owned() }
    }))
    .await;
    w.drain().await;
    let mut sent = 0;
    for id in &burst {
        sent += usize::from(w.message(id).await.status == webtrigger::whatsapp::types::MessageStatus::Sent);
    }
    assert_eq!(sent, 2, "the bucket holds two tokens");
    w.advance(2);
    w.drain().await;
    for id in &burst {
        assert_eq!(format!("{:?}", w.message(id).await.status), "Sent");
    }

    // A crash between writing the record and queueing it: the sweeper re-queues it, sent once.
    let lost = w.send(json!({"channel_id": ch, "to": "+14155550013", "type": "text", "body": "lost"})).await["id"].as_str().unwrap().to_owned();
    let taken = w.state.queue.receive("whatsapp-send", 10, Duration::ZERO).await.unwrap();
    for d in &taken {
        w.state.queue.ack("whatsapp-send", &d.receipt_handle).await.unwrap();
    }
    let job = SendJob { workspace: webtrigger::auth::WorkspaceId::parse(&w.ws).unwrap(), message: MessageId::parse(&lost).unwrap(), attempt: 1, claim: None };
    let stale_ms = w.state.clock.now().timestamp_millis() - 600_000;
    let entry = webtrigger::ports::Item::of(webtrigger::ports::Key::new("OUTBOX#whatsapp", format!("{stale_ms:013}#{lost}")), &job);
    w.state.table.put(entry, webtrigger::ports::Condition::None).await.unwrap();
    assert_eq!(messages::sweep_outbox(&w.state).await.unwrap(), 1);
    assert_eq!(messages::sweep_outbox(&w.state).await.unwrap(), 0, "the entry is gone after re-queueing");
    let before = w.fake.received().len();
    w.advance(1);
    w.drain().await;
    assert_eq!(format!("{:?}", w.message(&lost).await.status), "Sent");
    assert_eq!(w.fake.received().len(), before + 1);
    // Re-queueing a sent message again sends nothing.
    messages::enqueue(&w.state, &job, Duration::ZERO).await.unwrap();
    w.drain().await;
    assert_eq!(w.fake.received().len(), before + 1);
}

#[tokio::test]
async fn rotation_rewraps_and_old_and_new_records_decrypt() {
    let dir = tempfile::tempdir().unwrap();
    let db = webtrigger::adapters::SqliteDb::in_memory().unwrap();
    let keys = dir.path().join("keys");
    let secrets = Arc::new(webtrigger::adapters::LocalSecrets::with_dir(dir.path().join("secrets")).generating(webtrigger::state::GENERATED_SECRETS));
    let clock: Arc<dyn Clock> = Arc::new(webtrigger::ports::SystemClock);
    let server = AppState::embedded_parts(db.clone(), Arc::new(webtrigger::adapters::LocalKeyring::open(&keys).unwrap()), secrets.clone(), clock.clone());
    server.ensure_queues().await.unwrap();
    let mut ada = Client::new(server.clone());
    ada.sign_up("ada@example.com").await;
    let ws = ada.create_workspace("Shop").await;
    let create = |token: &'static str| json!({"name": "Whapi", "provider": "whapi", "token": token});
    let old = ada.post(&format!("/v1/workspaces/{ws}/credentials"), create("whapi-token-before-rotation")).await;
    assert_eq!(old.data()["key_version"], "local-v1");
    let site = ada.post(&format!("/v1/workspaces/{ws}/sites"), json!({"name": "Shop", "allowed_origins": ["https://shop.example.com"], "contact": "mailto:ops@example.com"})).await;
    assert_eq!(site.status, 201);

    // `webtrigger keys rotate` from another process while the server runs.
    let operator_keyring = webtrigger::adapters::LocalKeyring::open(&keys).unwrap();
    assert_eq!(operator_keyring.rotate().unwrap(), 2);
    let operator = AppState::embedded_parts(db.clone(), Arc::new(operator_keyring), secrets, clock);
    let report = webtrigger::keys::rewrap_all(&operator).await.unwrap();
    assert_eq!((report.rewrapped, report.stale), (2, 0), "the credential and the site's VAPID key");
    let new = ada.post(&format!("/v1/workspaces/{ws}/credentials"), create("whapi-token-after-rotation")).await;

    let ws_id = webtrigger::auth::WorkspaceId::parse(&ws).unwrap();
    let old_id = webtrigger::whatsapp::types::CredentialId::parse(old.data()["id"].as_str().unwrap()).unwrap();
    let new_id = webtrigger::whatsapp::types::CredentialId::parse(new.data()["id"].as_str().unwrap()).unwrap();
    assert_eq!(ada.get(&format!("/v1/workspaces/{ws}/credentials/{old_id}")).await.data()["key_version"], "local-v2", "re-wrapped under the new master key");
    for (state, who) in [(&server, "the running server"), (&operator, "the operator")] {
        for (id, token) in [(&old_id, "whapi-token-before-rotation"), (&new_id, "whapi-token-after-rotation")] {
            let (_, secrets) = webtrigger::whatsapp::credentials::unseal(state, &ws_id, id).await.unwrap_or_else(|e| panic!("{who} cannot open {id}: {e}"));
            let webtrigger::whatsapp::providers::ProviderSecrets::Whapi { token: t } = secrets.as_ref() else { panic!("whapi") };
            assert_eq!(secrecy::ExposeSecret::expose_secret(t), token);
        }
    }
    let site_id = webtrigger::push::sites::SiteId::parse(site.data()["id"].as_str().unwrap()).unwrap();
    webtrigger::push::sites::vapid_key(&server, &ws_id, &site_id).await.expect("the rotated VAPID key still opens");
}
