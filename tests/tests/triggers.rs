//! Webhook triggers and event webhooks end to end on the embedded backend: a signed POST to `/t/{id}`
//! becomes a push that decrypts with the subscriber's keys at a loopback push service and a WhatsApp
//! template at the Meta fake; the same `webhook-id` sent again answers with the first invocation and
//! sends nothing; every auth mode refuses bad and stale signatures; template errors are 4xx at save
//! time and logged failures at run time; event webhooks reach a receiver that fails, on the published
//! schedule, exactly once per success with a valid signature; private addresses are refused. The sends
//! this world reaches (notifications, messages, replays) also honour an `Idempotency-Key`.

#[path = "api/client.rs"]
mod client;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::routing::post;
use client::{Client, Reply};
use serde_json::{json, Value};
use webtrigger::http::outbound::OutboundPolicy;
use webtrigger::ports::FixedClock;
use webtrigger::triggers::verify;
use webtrigger::AppState;
use webtrigger_tests::browser::Browser;
use webtrigger_tests::provider_fakes::{ProviderFake, META_PHONE_NUMBER_ID, META_TOKEN};

/// What the receiver got: headers, body, and the status it answered.
type Received = (HeaderMap, Vec<u8>, u16);

/// An event receiver that answers `fail_first` 500s, then 200s (or always `always` when set).
#[derive(Clone, Default)]
struct Receiver {
    received: Arc<Mutex<Vec<Received>>>,
    fail_first: Arc<Mutex<usize>>,
    always: Arc<Mutex<Option<u16>>>,
}

async fn receive(State(r): State<Receiver>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let status = match *r.always.lock().unwrap() {
        Some(s) => s,
        None => {
            let mut left = r.fail_first.lock().unwrap();
            if *left > 0 {
                *left -= 1;
                500
            } else {
                200
            }
        }
    };
    r.received.lock().unwrap().push((headers, body.to_vec(), status));
    StatusCode::from_u16(status).unwrap()
}

struct World {
    state: AppState,
    clock: Arc<FixedClock>,
    fake: ProviderFake,
    receiver: Receiver,
    receiver_url: String,
    ada: Client,
    ws: String,
    site: String,
    channel: String,
    visitor: Browser,
    _dir: Option<tempfile::TempDir>,
}

#[derive(Clone, Copy)]
enum On {
    Embedded,
    /// DynamoDB, SQS and KMS adapters on the moto server.
    Aws,
}

async fn world() -> World {
    world_on(On::Embedded).await
}

async fn world_on(on: On) -> World {
    let clock = Arc::new(FixedClock::new(chrono::Utc::now()));
    let (mut state, dir) = match on {
        On::Embedded => {
            let (state, dir) = webtrigger_tests::embedded_state_with_clock(clock.clone()).await;
            (state, Some(dir))
        }
        On::Aws => (webtrigger_tests::aws_state_with_clock(clock.clone()).await, None),
    };
    let fake = ProviderFake::start().await;
    let fake_host = fake.base_url.trim_start_matches("http://").to_owned();
    state.whatsapp = Arc::new(webtrigger::whatsapp::WhatsAppRuntime::new(fake.urls()));
    state.push = Arc::new(webtrigger::push::PushRuntime { policy: webtrigger::push::types::EndpointPolicy { extra_hosts: vec![fake_host] }, ..Default::default() });

    let receiver = Receiver::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let receiver_host = listener.local_addr().unwrap().to_string();
    let app = axum::Router::new().route("/hook", post(receive)).with_state(receiver.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    state.events_out = Arc::new(webtrigger::events_out::EventsRuntime::new(OutboundPolicy { allow_hosts: vec![receiver_host.clone()] }));

    let mut ada = Client::new(state.clone());
    ada.sign_up("ada@example.com").await;
    let ws = ada.create_workspace("Shop").await;
    let site = ada.post(&format!("/v1/workspaces/{ws}/sites"), json!({"name": "Shop", "allowed_origins": ["https://shop.example.com"], "contact": "mailto:ops@example.com"})).await;
    assert_eq!(site.status, 201, "{}", site.body);
    let site = site.data()["id"].as_str().unwrap().to_owned();
    let visitor = Browser::new();
    let mut page = Client::new(state.clone());
    page.extra_headers.push(("origin".into(), "https://shop.example.com".into()));
    let sub = page.post(&format!("/v1/public/sites/{site}/subscriptions"), json!({"subscription": visitor.subscription(&format!("{}/push/visitor", fake.base_url)), "external_id": "cust-42"})).await;
    assert_eq!(sub.status, 201, "{}", sub.body);
    let cred = ada.post(&format!("/v1/workspaces/{ws}/credentials"), json!({"name": "Meta", "provider": "meta", "access_token": META_TOKEN, "app_secret": "0123456789abcdef0123456789abcdef", "phone_number_id": META_PHONE_NUMBER_ID, "waba_id": "102290129340398"})).await;
    assert_eq!(cred.status, 201, "{}", cred.body);
    let channel = ada.post(&format!("/v1/workspaces/{ws}/channels"), json!({"name": "Orders", "credential_id": cred.data()["id"]})).await;
    assert_eq!(channel.status, 201, "{}", channel.body);
    let channel = channel.data()["id"].as_str().unwrap().to_owned();
    World { state, clock, fake, receiver, receiver_url: format!("http://{receiver_host}/hook"), ada, ws, site, channel, visitor, _dir: dir }
}

impl World {
    fn path(&self, rest: &str) -> String {
        format!("/v1/workspaces/{}/{rest}", self.ws)
    }

    fn order_trigger(&self) -> Value {
        json!({
            "name": "Order shipped",
            "actions": [
                {"type": "push", "site_id": self.site, "target": {"type": "external_id", "external_id": "{{ customer.id }}"},
                 "title": "Order {{ order.id }} shipped", "body": "{{ order.items | length }} item(s) on the way", "url": "https://shop.example.com/orders/{{ order.id }}"},
                {"type": "whatsapp", "channel_id": self.channel, "to": "{{ customer.phone }}", "template_name": "order_shipped", "template_language": "en_US", "template_variables": ["{{ order.id }}"]}
            ]
        })
    }

    async fn create_trigger(&mut self, body: Value) -> (String, String) {
        let r = self.ada.post(&self.path("triggers"), body).await;
        assert_eq!(r.status, 201, "{}", r.body);
        assert_eq!(r.data()["url_path"], format!("/t/{}", r.data()["id"].as_str().unwrap()));
        (r.data()["id"].as_str().unwrap().to_owned(), r.data()["secret"].as_str().unwrap().to_owned())
    }

    async fn call(&self, trigger: &str, headers: Vec<(&str, String)>, body: &[u8]) -> Reply {
        let mut caller = Client::new(self.state.clone());
        caller.extra_headers = headers.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
        caller.extra_headers.push(("content-type".into(), "application/json".into()));
        caller.call_raw(Method::POST, &format!("/t/{trigger}"), body.to_vec()).await
    }

    fn now(&self) -> i64 {
        use webtrigger::ports::Clock;
        self.clock.now().timestamp()
    }

    /// A Standard Webhooks request as a sender signs it now.
    async fn signed(&self, trigger: &str, secret: &str, id: &str, body: &[u8]) -> Reply {
        let ts = self.now();
        let sig = verify::standard_sign(secret, id, ts, body).unwrap();
        self.call(trigger, vec![("webhook-id", id.into()), ("webhook-timestamp", ts.to_string()), ("webhook-signature", sig)], body).await
    }

    async fn drain(&self) {
        for (spec, handler) in webtrigger::local::all_workers() {
            while webtrigger::local::poll_once(&self.state, &spec, handler.as_ref(), Duration::ZERO).await.unwrap() > 0 {}
        }
    }

    fn pushes(&self) -> Vec<Value> {
        use base64::Engine;
        let raw = self.fake.received().into_iter().filter(|r| r.provider == "push").collect::<Vec<_>>();
        raw.iter().map(|r| serde_json::from_slice(&self.visitor.decrypt(&base64::engine::general_purpose::STANDARD.decode(r.body.as_str().unwrap()).unwrap())).unwrap()).collect()
    }

    fn whatsapp_sent(&self) -> Vec<Value> {
        self.fake.received().into_iter().filter(|r| r.provider == "meta").map(|r| r.body).collect()
    }

    fn advance(&self, secs: i64) {
        self.clock.advance(chrono::Duration::seconds(secs));
    }
}

/// Runs each case on the embedded backend and on the AWS adapters (moto). The event-webhook cases stay
/// embedded-only: their retry schedule runs on the test clock, which SQS delays do not follow.
macro_rules! on_both_backends {
    ($($case:ident),* $(,)?) => {
        mod embedded {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $case() {
                super::$case(super::world_on(super::On::Embedded).await).await
            })*
        }
        mod aws {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $case() {
                super::$case(super::world_on(super::On::Aws).await).await
            })*
        }
    };
}

on_both_backends!(
    a_signed_post_sends_push_and_whatsapp_once,
    every_auth_mode_refuses_bad_and_stale_signatures,
    dedupe_on_a_payload_path_lasts_the_window_and_the_filter_skips_events,
    template_errors_are_4xx_at_save_time_and_logged_failures_at_run_time,
    idempotency_keys_answer_repeats_with_the_first_result,
    a_lone_push_action_is_stored_with_its_claim_and_log_at_once,
);

const ORDER: &[u8] = br#"{"order": {"id": 1001, "items": ["boots", "laces"]}, "customer": {"id": "cust-42", "phone": "+14155552671"}}"#;

async fn a_signed_post_sends_push_and_whatsapp_once(mut w: World) {
    let (trigger, secret) = w.create_trigger(w.order_trigger()).await;
    assert!(secret.starts_with("whsec_"), "{secret}");
    let listed = w.ada.get(&w.path(&format!("triggers/{trigger}"))).await;
    assert!(!listed.body.to_string().contains(&secret), "the secret is shown once only");

    let first = w.signed(&trigger, &secret, "msg_order_1001", ORDER).await;
    assert_eq!(first.status, 202, "{}", first.body);
    assert_eq!((first.data()["status"].as_str(), first.data()["duplicate"].as_bool()), (Some("fired"), Some(false)));
    let invocation = first.data()["invocation_id"].as_str().unwrap().to_owned();
    w.drain().await;

    let pushes = w.pushes();
    assert_eq!(pushes.len(), 1, "one push reached the visitor: {pushes:?}");
    assert_eq!(pushes[0]["title"], "Order 1001 shipped");
    assert_eq!(pushes[0]["body"], "2 item(s) on the way");
    assert!(pushes[0]["url"].as_str().unwrap().starts_with("https://shop.example.com/orders/1001?utm_source=webtrigger"));
    let sent = w.whatsapp_sent();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0]["to"], "14155552671");
    assert_eq!(sent[0]["template"]["name"], "order_shipped");
    assert_eq!(sent[0]["template"]["components"][0]["parameters"][0]["text"], "1001");

    // The sender retries the same event ten times (new timestamps, same webhook-id): nothing is sent again.
    for _ in 0..10 {
        w.advance(1);
        let again = w.signed(&trigger, &secret, "msg_order_1001", ORDER).await;
        assert_eq!(again.status, 200, "{}", again.body);
        assert_eq!((again.data()["invocation_id"].as_str(), again.data()["duplicate"].as_bool()), (Some(invocation.as_str()), Some(true)));
    }
    w.drain().await;
    assert_eq!((w.pushes().len(), w.whatsapp_sent().len()), (1, 1), "duplicates sent nothing");
    let markers = w.state.table.query(webtrigger::ports::Query::partition(webtrigger::triggers::interrupted::PARTITION)).await.unwrap();
    assert!(markers.items.is_empty(), "the ended invocation's running marker is gone: {:?}", markers.items);

    let log = w.ada.get(&w.path(&format!("triggers/{trigger}/invocations"))).await;
    let invocations = log.data()["invocations"].as_array().unwrap().clone();
    assert_eq!(invocations.len(), 1, "{}", log.body);
    let inv = &invocations[0];
    assert_eq!((inv["verification"].as_str(), inv["idempotency_key"].as_str()), (Some("ok"), Some("msg_order_1001")));
    assert_eq!(inv["rendered"][0]["title"], "Order 1001 shipped");
    assert_eq!(inv["rendered"][1]["to"], json!(["+14155552671"]));
    assert!(inv["outcomes"].as_array().unwrap().iter().all(|o| o["ok"] == true), "{inv}");
    assert!(inv["outcomes"][0]["ids"][0].as_str().unwrap().starts_with("ntf_"));

    let replay = w.ada.post(&w.path(&format!("triggers/{trigger}/invocations/{invocation}/replay")), json!({})).await;
    assert_eq!(replay.status, 201, "{}", replay.body);
    assert_eq!((replay.data()["status"].as_str(), replay.data()["replay_of"].as_str()), (Some("fired"), Some(invocation.as_str())));
    w.drain().await;
    assert_eq!((w.pushes().len(), w.whatsapp_sent().len()), (2, 2), "a replay is deliberate and sends again");

    // Another tenant cannot see or replay it.
    let mut eve = Client::new(w.state.clone());
    eve.sign_up("eve@example.com").await;
    eve.create_workspace("Eve").await;
    assert_eq!(eve.get(&w.path(&format!("triggers/{trigger}"))).await.status, 404);
}

/// A trigger with one push action writes its notification, dedupe claim and invocation in one
/// transaction: of concurrent deliveries of one event exactly one fires, and each repeat finds the
/// invocation it repeats; a push that cannot be sent leaves a failed invocation that still dedupes.
async fn a_lone_push_action_is_stored_with_its_claim_and_log_at_once(mut w: World) {
    let mut def = w.order_trigger();
    def["actions"].as_array_mut().unwrap().truncate(1);
    def["actions"][0]["body"] = json!("{{ order.note | default('on the way') }}");
    let (trigger, secret) = w.create_trigger(def).await;
    let replies = futures_util::future::join_all((0..8).map(|_| w.signed(&trigger, &secret, "msg_lone_1", ORDER))).await;
    let fired: Vec<_> = replies.iter().filter(|r| r.status == 202).collect();
    assert_eq!(fired.len(), 1, "{:?}", replies.iter().map(|r| (r.status, r.body.to_string())).collect::<Vec<_>>());
    assert_eq!((fired[0].data()["status"].as_str(), fired[0].data()["duplicate"].as_bool()), (Some("fired"), Some(false)));
    let invocation = fired[0].data()["invocation_id"].as_str().unwrap().to_owned();
    for r in replies.iter().filter(|r| r.status != 202) {
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!((r.data()["invocation_id"].as_str(), r.data()["duplicate"].as_bool(), r.data()["status"].as_str()), (Some(invocation.as_str()), Some(true), Some("fired")), "{}", r.body);
    }
    w.drain().await;
    assert_eq!(w.pushes().len(), 1, "one event, one push");
    let log = w.ada.get(&w.path(&format!("triggers/{trigger}/invocations"))).await;
    let invocations = log.data()["invocations"].as_array().unwrap().clone();
    assert_eq!(invocations.len(), 1, "{}", log.body);
    assert_eq!((invocations[0]["status"].as_str(), invocations[0]["outcomes"][0]["ok"].as_bool()), (Some("fired"), Some(true)), "{}", log.body);
    let notification = invocations[0]["outcomes"][0]["ids"][0].as_str().unwrap();
    let sent = w.ada.get(&w.path(&format!("sites/{}/notifications/{notification}", w.site))).await;
    assert_eq!((sent.status, sent.data()["stats"]["accepted"].as_i64()), (200, Some(1)), "{}", sent.body);

    // A body longer than a notification may be: the action fails, the invocation says so, and a repeat is a repeat.
    let long = serde_json::to_vec(&json!({"order": {"id": 7, "note": "x".repeat(1500)}, "customer": {"id": "cust-42"}})).unwrap();
    let r = w.signed(&trigger, &secret, "msg_lone_2", &long).await;
    assert_eq!((r.status, r.data()["status"].as_str()), (202, Some("failed")), "{}", r.body);
    let again = w.signed(&trigger, &secret, "msg_lone_2", &long).await;
    assert_eq!((again.status, again.data()["duplicate"].as_bool(), again.data()["status"].as_str()), (200, Some(true), Some("failed")), "{}", again.body);
    assert_eq!(again.data()["invocation_id"], r.data()["invocation_id"]);
    let log = w.ada.get(&w.path(&format!("triggers/{trigger}/invocations"))).await;
    let newest = &log.data()["invocations"][0];
    assert!(newest["outcomes"][0]["detail"].as_str().unwrap().contains("at most 1000 characters"), "{}", newest["outcomes"]);
    w.drain().await;
    assert_eq!(w.pushes().len(), 1, "the failed push sent nothing");
}

async fn every_auth_mode_refuses_bad_and_stale_signatures(mut w: World) {
    let (trigger, secret) = w.create_trigger(w.order_trigger()).await;
    let ts = w.now();
    let good = verify::standard_sign(&secret, "msg_1", ts, ORDER).unwrap();
    let cases: Vec<(Vec<(&str, String)>, &str)> = vec![
        (vec![("webhook-id", "msg_1".into()), ("webhook-timestamp", ts.to_string()), ("webhook-signature", good.replace("v1,", "v1,A"))], "signature does not match"),
        (vec![("webhook-id", "msg_1".into()), ("webhook-timestamp", (ts - 301).to_string()), ("webhook-signature", verify::standard_sign(&secret, "msg_1", ts - 301, ORDER).unwrap())], "timestamp outside"),
        (vec![("webhook-id", "msg_1".into()), ("webhook-timestamp", (ts + 400).to_string()), ("webhook-signature", verify::standard_sign(&secret, "msg_1", ts + 400, ORDER).unwrap())], "timestamp outside"),
        (vec![("webhook-timestamp", ts.to_string()), ("webhook-signature", good.clone())], "missing webhook-id"),
        (vec![("webhook-id", "msg_2".into()), ("webhook-timestamp", ts.to_string()), ("webhook-signature", good.clone())], "signature does not match"),
    ];
    for (headers, why) in cases {
        let r = w.call(&trigger, headers, ORDER).await;
        r.assert_error(401, "invalid_signature");
        assert!(r.body["error"]["message"].as_str().unwrap().contains(why), "{} vs {why}", r.body);
    }
    let body_changed = w.call(&trigger, vec![("webhook-id", "msg_1".into()), ("webhook-timestamp", ts.to_string()), ("webhook-signature", good.clone())], br#"{"order": {"id": 666}}"#).await;
    body_changed.assert_error(401, "invalid_signature");
    w.signed(&trigger, &secret, "msg_3", b"not json").await.assert_error(422, "validation_failed");
    w.call("trg_01m82nt40k1r5ym3dn75bq20k7", vec![], ORDER).await.assert_error(404, "not_found");
    w.drain().await;
    assert!(w.pushes().is_empty() && w.whatsapp_sent().is_empty(), "refused calls send nothing");
    let log = w.ada.get(&w.path(&format!("triggers/{trigger}/invocations?limit=100"))).await;
    let rejected = log.data()["invocations"].as_array().unwrap().iter().filter(|i| i["status"] == "rejected").count();
    assert_eq!(rejected, 6, "refusals are logged with their reason: {}", log.body);

    // GitHub: X-Hub-Signature-256 over the body with the secret set on GitHub.
    let mut gh = w.order_trigger();
    gh["auth"] = json!("github");
    gh["secret"] = json!("a-github-secret-1234");
    let (gh_trigger, _) = w.create_trigger(gh).await;
    let github = |sig: String| vec![("x-hub-signature-256", sig), ("x-github-event", "push".into()), ("x-github-delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958".into())];
    let ok = w.call(&gh_trigger, github(verify::github_sign("a-github-secret-1234", ORDER)), ORDER).await;
    assert_eq!(ok.status, 202, "{}", ok.body);
    w.call(&gh_trigger, github(verify::github_sign("another-secret-12345", ORDER)), ORDER).await.assert_error(401, "invalid_signature");
    let dup = w.call(&gh_trigger, github(verify::github_sign("a-github-secret-1234", ORDER)), ORDER).await;
    assert_eq!((dup.status, dup.data()["duplicate"].as_bool()), (200, Some(true)), "X-GitHub-Delivery dedupes");

    // Stripe: t=…,v1=… with a five-minute tolerance; the event id dedupes.
    let mut st = w.order_trigger();
    st["auth"] = json!("stripe");
    let (_, _) = {
        let r = w.ada.post(&w.path("triggers"), st.clone()).await;
        r.assert_error(422, "validation_failed");
        assert!(r.body["error"]["message"].as_str().unwrap().contains("signing secret from Stripe"));
        (0, 0)
    };
    st["secret"] = json!("whsec_stripe_signing_secret_123");
    let (st_trigger, _) = w.create_trigger(st).await;
    let stripe_body = br#"{"id": "evt_1", "order": {"id": 7, "items": []}, "customer": {"id": "cust-42", "phone": "+14155552671"}}"#;
    let ok = w.call(&st_trigger, vec![("stripe-signature", verify::stripe_sign("whsec_stripe_signing_secret_123", w.now(), stripe_body))], stripe_body).await;
    assert_eq!(ok.status, 202, "{}", ok.body);
    let old = verify::stripe_sign("whsec_stripe_signing_secret_123", w.now() - 600, stripe_body);
    let stale = w.call(&st_trigger, vec![("stripe-signature", old)], stripe_body).await;
    stale.assert_error(401, "invalid_signature");

    // Token: a bearer secret; rotation keeps the old one working through the overlap only.
    let mut tk = w.order_trigger();
    tk["auth"] = json!("token");
    let (tk_trigger, old_token) = w.create_trigger(tk).await;
    let bearer = |t: &str| vec![("authorization", format!("Bearer {t}"))];
    assert_eq!(w.call(&tk_trigger, bearer(&old_token), ORDER).await.status, 202);
    w.call(&tk_trigger, bearer("wtt_wrong"), ORDER).await.assert_error(401, "invalid_signature");
    let rotated = w.ada.post(&w.path(&format!("triggers/{tk_trigger}/rotate-secret")), json!({"overlap_seconds": 3600})).await;
    assert_eq!(rotated.status, 200, "{}", rotated.body);
    let new_token = rotated.data()["secret"].as_str().unwrap().to_owned();
    assert_ne!(new_token, old_token);
    assert_eq!(w.call(&tk_trigger, bearer(&new_token), ORDER).await.status, 202);
    assert_eq!(w.call(&tk_trigger, bearer(&old_token), ORDER).await.status, 202, "the old secret works during the overlap");
    w.advance(3601);
    w.ada.refresh().await;
    w.call(&tk_trigger, bearer(&old_token), ORDER).await.assert_error(401, "invalid_signature");
    assert_eq!(w.call(&tk_trigger, bearer(&new_token), ORDER).await.status, 202);

    // Disabled: refused with a clear code, nothing runs.
    let mut disabled = w.order_trigger();
    disabled["enabled"] = json!(false);
    disabled["auth"] = json!("token");
    let put = w.ada.call(Method::PUT, &w.path(&format!("triggers/{tk_trigger}")), Some(disabled)).await;
    assert_eq!(put.status, 200, "{}", put.body);
    w.call(&tk_trigger, bearer(&new_token), ORDER).await.assert_error(422, "trigger_disabled");
}

async fn dedupe_on_a_payload_path_lasts_the_window_and_the_filter_skips_events(mut w: World) {
    let mut def = w.order_trigger();
    def["auth"] = json!("token");
    def["dedupe_path"] = json!("order.id");
    def["dedupe_window_seconds"] = json!(60);
    def["filter"] = json!("order.items | length > 1");
    let (trigger, token) = w.create_trigger(def).await;
    let bearer = vec![("authorization", format!("Bearer {token}"))];

    let first = w.call(&trigger, bearer.clone(), ORDER).await;
    assert_eq!((first.status, first.data()["status"].as_str()), (202, Some("fired")), "{}", first.body);
    w.advance(30);
    let again = w.call(&trigger, bearer.clone(), ORDER).await;
    assert_eq!((again.status, again.data()["duplicate"].as_bool()), (200, Some(true)), "same order.id inside the window: {}", again.body);
    assert_eq!(again.data()["invocation_id"], first.data()["invocation_id"]);
    w.drain().await;
    assert_eq!((w.pushes().len(), w.whatsapp_sent().len()), (1, 1));

    w.advance(31);
    w.ada.refresh().await;
    let later = w.call(&trigger, bearer.clone(), ORDER).await;
    assert_eq!((later.status, later.data()["duplicate"].as_bool()), (202, Some(false)), "the window is over: {}", later.body);
    assert_ne!(later.data()["invocation_id"], first.data()["invocation_id"]);

    let single = br#"{"order": {"id": 1002, "items": ["boots"]}, "customer": {"id": "cust-42", "phone": "+14155552671"}}"#;
    let skipped = w.call(&trigger, bearer.clone(), single).await;
    assert_eq!((skipped.status, skipped.data()["status"].as_str()), (202, Some("filtered")), "{}", skipped.body);
    w.drain().await;
    assert_eq!((w.pushes().len(), w.whatsapp_sent().len()), (2, 2), "the filtered event sent nothing");

    let not_json = w.call(&trigger, bearer, b"order=1003").await;
    not_json.assert_error(422, "validation_failed");
    let log = w.ada.get(&w.path(&format!("triggers/{trigger}/invocations"))).await;
    let statuses: Vec<_> = log.data()["invocations"].as_array().unwrap().iter().map(|i| i["status"].as_str().unwrap().to_owned()).collect();
    assert_eq!(statuses, ["filtered", "fired", "fired"], "newest first; the duplicate and the bad body left no invocation");
}

async fn template_errors_are_4xx_at_save_time_and_logged_failures_at_run_time(mut w: World) {
    let mut bad = w.order_trigger();
    bad["actions"][0]["title"] = json!("Order {{ order.id ");
    let r = w.ada.post(&w.path("triggers"), bad).await;
    r.assert_error(422, "validation_failed");
    assert!(r.body["error"]["message"].as_str().unwrap().contains("actions[0].title"), "{}", r.body);
    let mut bad_filter = w.order_trigger();
    bad_filter["filter"] = json!("order.total >");
    w.ada.post(&w.path("triggers"), bad_filter).await.assert_error(422, "validation_failed");
    let mut unknown_site = w.order_trigger();
    unknown_site["actions"][0]["site_id"] = json!("site_01m82nt40k1r5ym3dn75bq20k7");
    let r = w.ada.post(&w.path("triggers"), unknown_site).await;
    r.assert_error(422, "validation_failed");
    assert!(r.body["error"]["message"].as_str().unwrap().contains("no site"));
    w.ada.post(&w.path("triggers"), json!({"name": "x", "actions": []})).await.assert_error(422, "validation_failed");
    w.ada.post(&w.path("triggers"), json!({"name": "x", "actions": [{"type": "fax"}]})).await.assert_error(422, "validation_failed");

    let mut filtered = w.order_trigger();
    filtered["filter"] = json!("order.items | length > 0");
    let (trigger, secret) = w.create_trigger(filtered).await;

    let preview = w.ada.post(&w.path(&format!("triggers/{trigger}/preview")), json!({"payload": serde_json::from_slice::<Value>(ORDER).unwrap()})).await;
    assert_eq!(preview.status, 200, "{}", preview.body);
    assert_eq!((preview.data()["fires"].as_bool(), preview.data()["actions"][0]["title"].as_str()), (Some(true), Some("Order 1001 shipped")));
    let preview = w.ada.post(&w.path(&format!("triggers/{trigger}/preview")), json!({"payload": {"order": {"items": [1]}}})).await;
    assert!(preview.data()["error"].as_str().unwrap().contains("actions[0]"), "{}", preview.body);

    let empty = br#"{"order": {"id": 5, "items": []}, "customer": {"id": "cust-42", "phone": "+14155552671"}}"#;
    let r = w.signed(&trigger, &secret, "msg_empty", empty).await;
    assert_eq!(r.data()["status"], "filtered", "{}", r.body);
    let missing = br#"{"order": {"items": [1]}}"#;
    let r = w.signed(&trigger, &secret, "msg_missing", missing).await;
    assert_eq!(r.status, 202, "{}", r.body);
    assert_eq!(r.data()["status"], "failed");
    let error = r.data()["error"].as_str().unwrap();
    assert!(error.contains("actions[0].") && error.contains("undefined"), "{}", r.body);
    w.drain().await;
    assert!(w.pushes().is_empty() && w.whatsapp_sent().is_empty(), "filtered and failed invocations send nothing");
    let log = w.ada.get(&w.path(&format!("triggers/{trigger}/invocations"))).await;
    let statuses: Vec<&str> = log.data()["invocations"].as_array().unwrap().iter().map(|i| i["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, vec!["failed", "filtered"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn event_webhooks_retry_on_schedule_and_arrive_once_signed() {
    let mut w = world().await;
    for private in ["https://10.0.0.7/hook", "https://169.254.169.254/latest/meta-data", "http://127.0.0.1:1/hook", "https://localhost/hook", "http://example.com/hook"] {
        let r = w.ada.post(&w.path("event-endpoints"), json!({"url": private})).await;
        r.assert_error(422, "validation_failed");
    }
    let created = w.ada.post(&w.path("event-endpoints"), json!({"url": w.receiver_url, "event_types": ["trigger.failed"]})).await;
    assert_eq!(created.status, 201, "{}", created.body);
    let endpoint = created.data()["id"].as_str().unwrap().to_owned();
    let secret = created.data()["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"));
    assert!(!w.ada.get(&w.path("event-endpoints")).await.body.to_string().contains(&secret));

    *w.receiver.fail_first.lock().unwrap() = 3;
    let (trigger, trigger_secret) = w.create_trigger(w.order_trigger()).await;
    let r = w.signed(&trigger, &trigger_secret, "msg_bad", br#"{"order": {}}"#).await;
    assert_eq!(r.data()["status"], "failed");

    // Attempt 1 now, 2 after 5 s, 3 after 5 min (queue delays), 4 after 30 min (parked, swept by the tick).
    w.drain().await;
    for (wait, expected) in [(5, 2), (300, 3), (1800, 4)] {
        w.advance(wait);
        webtrigger::events_out::sweep_due(&w.state).await.unwrap();
        w.drain().await;
        assert_eq!(w.receiver.received.lock().unwrap().len(), expected, "attempt {expected} after {wait} s");
    }
    w.advance(36_000);
    webtrigger::events_out::sweep_due(&w.state).await.unwrap();
    w.drain().await;
    let received = w.receiver.received.lock().unwrap().clone();
    assert_eq!(received.len(), 4, "nothing after the success");
    assert_eq!(received.iter().filter(|(_, _, s)| *s == 200).count(), 1, "delivered exactly once");
    let first_id = received[0].0["webhook-id"].to_str().unwrap().to_owned();
    for (headers, body, _) in &received {
        let h = |n: &str| headers.get(n).and_then(|v| v.to_str().ok());
        assert_eq!(h("webhook-id"), Some(first_id.as_str()), "the id stays across retries");
        let ts: i64 = h("webhook-timestamp").unwrap().parse().unwrap();
        let sig = verify::StandardHeaders { id: h("webhook-id"), timestamp: h("webhook-timestamp"), signature: h("webhook-signature") };
        verify::standard_verify(&[&secret], &sig, body, ts).expect("each attempt carries a valid signature");
        let event: Value = serde_json::from_slice(body).unwrap();
        assert_eq!((event["type"].as_str(), event["data"]["trigger_id"].as_str()), (Some("trigger.failed"), Some(trigger.as_str())));
    }
    w.ada.refresh().await;
    let attempts = w.ada.get(&w.path(&format!("event-endpoints/{endpoint}/attempts"))).await;
    let oks: Vec<bool> = attempts.data().as_array().unwrap().iter().map(|a| a["ok"].as_bool().unwrap()).collect();
    assert_eq!(oks, vec![true, false, false, false], "newest first: {}", attempts.body);

    // An endpoint answering 410 Gone is disabled at once, with an audit entry.
    *w.receiver.always.lock().unwrap() = Some(410);
    let test = w.ada.post(&w.path(&format!("event-endpoints/{endpoint}/test")), json!({})).await;
    assert_eq!(test.status, 202, "{}", test.body);
    w.drain().await;
    let ep = w.ada.get(&w.path(&format!("event-endpoints/{endpoint}"))).await;
    assert_eq!((ep.data()["enabled"].as_bool(), ep.data()["disabled_reason"].as_str()), (Some(false), Some("the endpoint answered 410 Gone")));
    let audit = w.ada.get(&w.path("audit")).await;
    assert!(audit.body.to_string().contains("event_endpoint.disable"), "{}", audit.body);
    let before = w.receiver.received.lock().unwrap().len();
    w.signed(&trigger, &trigger_secret, "msg_bad_2", br#"{"order": {}}"#).await;
    w.drain().await;
    assert_eq!(w.receiver.received.lock().unwrap().len(), before, "a disabled endpoint gets nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_endpoint_failing_for_five_days_is_disabled() {
    let mut w = world().await;
    *w.receiver.always.lock().unwrap() = Some(503);
    let created = w.ada.post(&w.path("event-endpoints"), json!({"url": w.receiver_url})).await;
    let endpoint = created.data()["id"].as_str().unwrap().to_owned();
    for day in 0..=5 {
        w.ada.refresh().await;
        let r = w.ada.post(&w.path(&format!("event-endpoints/{endpoint}/test")), json!({})).await;
        assert_eq!(r.status, 202, "day {day}: {}", r.body);
        w.drain().await;
        w.advance(86_400);
    }
    w.ada.refresh().await;
    let ep = w.ada.get(&w.path(&format!("event-endpoints/{endpoint}"))).await;
    assert_eq!(ep.data()["enabled"], false, "{}", ep.body);
    assert!(ep.data()["disabled_reason"].as_str().unwrap().contains("5 days"), "{}", ep.body);
    // Re-enabling clears the failure state.
    let put = w.ada.call(Method::PUT, &w.path(&format!("event-endpoints/{endpoint}")), Some(json!({"url": w.receiver_url, "enabled": true}))).await;
    assert_eq!((put.data()["enabled"].as_bool(), put.data()["failing_since"].is_null()), (Some(true), true), "{}", put.body);
}

impl World {
    /// A POST as ada with an `Idempotency-Key` header.
    async fn post_keyed(&self, path: &str, key: &str, body: Value) -> Reply {
        let mut c = self.ada.clone();
        c.extra_headers.push(("idempotency-key".into(), key.into()));
        c.post(&self.path(path), body).await
    }
}

async fn idempotency_keys_answer_repeats_with_the_first_result(mut w: World) {
    let notification = json!({"title": "Sale", "body": "Today only", "target": {"type": "all"}});
    let first = w.post_keyed(&format!("sites/{}/notifications", w.site), "sale-2026-12", notification.clone()).await;
    assert_eq!(first.status, 202, "{}", first.body);
    let id = first.data()["id"].as_str().unwrap().to_owned();
    w.drain().await;
    assert_eq!(w.pushes().len(), 1);
    // The client lost the answer and retries, with the body's keys in another order.
    let reordered = json!({"target": {"type": "all"}, "body": "Today only", "title": "Sale"});
    let again = w.post_keyed(&format!("sites/{}/notifications", w.site), "sale-2026-12", reordered).await;
    assert_eq!((again.status, again.data()["id"].as_str()), (200, Some(id.as_str())), "{}", again.body);
    w.drain().await;
    assert_eq!(w.pushes().len(), 1, "the repeat sent nothing");
    let listed = w.ada.get(&w.path(&format!("sites/{}/notifications", w.site))).await;
    assert_eq!(listed.data()["notifications"].as_array().unwrap().len(), 1, "{}", listed.body);
    w.post_keyed(&format!("sites/{}/notifications", w.site), "sale-2026-12", json!({"title": "Sale", "body": "Tomorrow too", "target": {"type": "all"}})).await.assert_error(422, "idempotency_key_reused");
    // The key in the body is the same key.
    let in_body = json!({"title": "Hi", "body": "there", "target": {"type": "all"}, "client_notification_id": "hello-1"});
    let first = w.ada.post(&w.path(&format!("sites/{}/notifications", w.site)), in_body.clone()).await;
    assert_eq!(first.status, 202, "{}", first.body);
    let again = w.post_keyed(&format!("sites/{}/notifications", w.site), "hello-1", in_body.clone()).await;
    assert_eq!((again.status, again.data()["id"].as_str()), (200, first.data()["id"].as_str()));
    w.post_keyed(&format!("sites/{}/notifications", w.site), "hello-2", in_body).await.assert_error(422, "validation_failed");
    for bad in ["k".repeat(256), "tab\tin".to_owned()] {
        w.post_keyed(&format!("sites/{}/notifications", w.site), &bad, notification.clone()).await.assert_error(422, "validation_failed");
    }
    w.drain().await;
    assert_eq!(w.pushes().len(), 2, "one per key");

    // WhatsApp messages: the same, and a key is scoped to its route (this one was used for a notification).
    let message = json!({"channel_id": w.channel, "to": "+14155552671", "type": "template", "name": "order_shipped", "language": "en_US", "variables": ["1001"]});
    let sent = w.post_keyed("messages", "sale-2026-12", message.clone()).await;
    assert_eq!(sent.status, 202, "{}", sent.body);
    let again = w.post_keyed("messages", "sale-2026-12", message.clone()).await;
    assert_eq!((again.status, again.data()["id"].as_str()), (200, sent.data()["id"].as_str()), "{}", again.body);
    let mut other = message.clone();
    other["to"] = json!("+14155550000");
    w.post_keyed("messages", "sale-2026-12", other).await.assert_error(422, "idempotency_key_reused");
    w.drain().await;
    assert_eq!(w.whatsapp_sent().len(), 1, "one message reached the provider");

    // Replays: the first answers 201 with a new invocation, a repeat 200 with the same one.
    let (trigger, secret) = w.create_trigger(w.order_trigger()).await;
    let fired = w.signed(&trigger, &secret, "msg_order_1001", ORDER).await;
    let invocation = fired.data()["invocation_id"].as_str().unwrap().to_owned();
    let replay_path = format!("triggers/{trigger}/invocations/{invocation}/replay");
    let replay = w.post_keyed(&replay_path, "replay-1", json!({})).await;
    assert_eq!(replay.status, 201, "{}", replay.body);
    let again = w.post_keyed(&replay_path, "replay-1", json!({})).await;
    assert_eq!((again.status, again.data()["id"].as_str()), (200, replay.data()["id"].as_str()), "{}", again.body);
    let original_path = format!("triggers/{trigger}/invocations/{}/replay", replay.data()["id"].as_str().unwrap());
    w.post_keyed(&original_path, "replay-1", json!({})).await.assert_error(422, "idempotency_key_reused");
    w.drain().await;
    assert_eq!((w.pushes().len(), w.whatsapp_sent().len()), (4, 3), "the trigger and one replay sent; the repeat did not");

    // A key lasts 24 hours (on the test clock; both backends treat an item past its TTL as absent).
    w.advance(24 * 3600 - 60);
    let within = w.post_keyed(&format!("sites/{}/notifications", w.site), "sale-2026-12", notification.clone()).await;
    assert_eq!((within.status, within.data()["id"].as_str()), (200, Some(id.as_str())));
    w.advance(60);
    let later = w.post_keyed(&format!("sites/{}/notifications", w.site), "sale-2026-12", json!({"title": "Sale", "body": "Tomorrow too", "target": {"type": "all"}})).await;
    assert_eq!(later.status, 202, "after 24 h the key is free again: {}", later.body);
    assert_ne!(later.data()["id"].as_str(), Some(id.as_str()));
}
