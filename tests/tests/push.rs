//! Web Push end to end on both backends (SQLite, and the AWS adapters on moto): sites and public subscribe endpoints, a notification
//! fanned out by the real worker to a loopback push-service fake that decrypts every message with the
//! subscriber keys this test holds, checks the VAPID JWT and headers, and answers per subscriber.

#[path = "api/client.rs"]
mod client;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_lc_rs::signature::{UnparsedPublicKey as VerifyKey, ECDSA_P256_SHA256_FIXED};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::routing::post;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Value};
use client::Client;
use webtrigger_tests::browser::Browser;

#[derive(Clone, Debug)]
struct Received {
    path: String,
    headers: HeaderMap,
    body: Vec<u8>,
}

#[derive(Clone, Default)]
struct Fake {
    received: Arc<Mutex<Vec<Received>>>,
    calls: Arc<Mutex<HashMap<String, u32>>>,
}

/// Answers by the last path segment: ok → 201, gone → 410, missing → 404, big → 413, denied → 403,
/// limited → 429 (Retry-After: 1) on the first call then 201, flaky → 500 on the first call then 201.
async fn push_service(State(fake): State<Fake>, Path(name): Path<String>, headers: HeaderMap, body: Bytes) -> (StatusCode, HeaderMap, String) {
    let n = {
        let mut calls = fake.calls.lock().unwrap();
        let c = calls.entry(name.clone()).or_default();
        *c += 1;
        *c
    };
    fake.received.lock().unwrap().push(Received { path: name.clone(), headers, body: body.to_vec() });
    let mut out = HeaderMap::new();
    let status = match (name.split('-').next().unwrap(), n) {
        ("ok", _) | ("limited" | "flaky", 2..) => StatusCode::CREATED,
        ("gone", _) => StatusCode::GONE,
        ("missing", _) => StatusCode::NOT_FOUND,
        ("big", _) => StatusCode::PAYLOAD_TOO_LARGE,
        ("denied", _) => StatusCode::FORBIDDEN,
        ("limited", _) => {
            out.insert("retry-after", "1".parse().unwrap());
            StatusCode::TOO_MANY_REQUESTS
        }
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    (status, out, r#"{"code":0,"errno":0,"error":"fake"}"#.into())
}

fn b64(s: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(s).unwrap()
}

/// The whole flow on the embedded backend and again on the AWS adapters (DynamoDB, SQS, KMS on moto).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn push_end_to_end_embedded() {
    let (state, _dir) = webtrigger_tests::embedded_state().await;
    push_end_to_end(state).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn push_end_to_end_aws() {
    push_end_to_end(webtrigger_tests::aws_state_with_clock(Arc::new(webtrigger::ports::SystemClock)).await).await;
}

async fn push_end_to_end(mut state: webtrigger::AppState) {
    let fake = Fake::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let fake_host = listener.local_addr().unwrap().to_string();
    let app = axum::Router::new().route("/push/{name}", post(push_service)).with_state(fake.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let (stop_tx, worker) = client::push_consumer(&mut state, &fake_host);

    let mut ada = Client::new(state.clone());
    ada.sign_up("ada@example.com").await;
    let ws = ada.create_workspace("Shop").await;
    let sites = format!("/v1/workspaces/{ws}/sites");
    ada.post(&sites, json!({"name": "Shop", "allowed_origins": ["ftp://shop"], "contact": "mailto:ops@example.com"})).await.assert_error(422, "validation_failed");
    ada.post(&sites, json!({"name": "Shop", "allowed_origins": ["https://shop.example.com"], "contact": "ops@example.com"})).await.assert_error(422, "validation_failed");
    let site = ada.post(&sites, json!({"name": "Shop", "allowed_origins": ["https://shop.example.com"], "contact": "mailto:ops@example.com", "ttl_seconds": 3600, "urgency": "high"})).await;
    assert_eq!(site.status, 201, "{}", site.body);
    let site_id = site.data()["id"].as_str().unwrap().to_owned();
    let vapid_k = site.data()["vapid_public_key"].as_str().unwrap().to_owned();
    assert_eq!(b64(&vapid_k).len(), 65);
    assert!(!site.body.to_string().contains("vapid_private"), "the sealed private key never leaves the server");

    // The public endpoints, as the SDK calls them from the customer's page.
    let public = format!("/v1/public/sites/{site_id}");
    let mut page = Client::new(state.clone());
    assert_eq!(page.get(&public).await.data()["vapid_public_key"], vapid_k.as_str());
    let names = ["ok-a", "ok-b", "gone-c", "missing-d", "big-e", "denied-f", "limited-g", "flaky-h"];
    let browsers: Vec<Browser> = names.iter().map(|_| Browser::new()).collect();
    let subscribe = |page: &mut Client, origin: Option<&str>, body: Value| {
        let mut page = page.clone();
        let origin = origin.map(str::to_owned);
        let path = format!("{public}/subscriptions");
        async move {
            page.extra_headers = origin.into_iter().map(|o| ("origin".to_owned(), o)).collect();
            page.call(Method::POST, &path, Some(body)).await
        }
    };
    for (name, b) in names.iter().zip(&browsers) {
        let body = json!({"subscription": b.subscription(&format!("http://{fake_host}/push/{name}")), "browser": "Chrome", "language": "en", "external_id": if *name == "ok-a" { "user-1" } else { "" }, "tags": if name.starts_with("ok") { vec!["vip"] } else { vec![] }});
        let r = subscribe(&mut page, Some("https://shop.example.com"), body).await;
        assert_eq!(r.status, 201, "{name}: {}", r.body);
    }
    let again = subscribe(&mut page, Some("https://shop.example.com"), json!({"subscription": browsers[0].subscription(&format!("http://{fake_host}/push/ok-a")), "external_id": "user-1", "tags": ["vip"]})).await;
    assert_eq!((again.status, again.data()["created"].as_bool()), (200, Some(false)), "upsert by endpoint");
    let good = browsers[0].subscription(&format!("http://{fake_host}/push/other"));
    subscribe(&mut page, Some("https://evil.example.com"), json!({"subscription": good})).await.assert_error(403, "forbidden");
    subscribe(&mut page, None, json!({"subscription": good})).await.assert_error(403, "forbidden");
    let mut bad_key = good.clone();
    bad_key["keys"]["p256dh"] = json!(URL_SAFE_NO_PAD.encode([4u8; 64]));
    subscribe(&mut page, Some("https://shop.example.com"), json!({"subscription": bad_key})).await.assert_error(422, "validation_failed");
    let mut bad_auth = good.clone();
    bad_auth["keys"]["auth"] = json!("c2hvcnQ");
    subscribe(&mut page, Some("https://shop.example.com"), json!({"subscription": bad_auth})).await.assert_error(422, "validation_failed");
    let mut not_push = good.clone();
    not_push["endpoint"] = json!("https://evil.example.com/push/x");
    subscribe(&mut page, Some("https://shop.example.com"), json!({"subscription": not_push})).await.assert_error(422, "validation_failed");
    let mut unknown = page.clone();
    unknown.extra_headers = vec![("origin".into(), "https://shop.example.com".into())];
    unknown.call(Method::POST, "/v1/public/sites/site_01jd5x8q0y8m3n2b7c4v6w9z1a/subscriptions", Some(json!({"subscription": good}))).await.assert_error(404, "not_found");
    let listed = ada.get(&format!("{sites}/{site_id}/subscribers?limit=3")).await;
    assert_eq!(listed.data()["total"], 8);
    assert_eq!(listed.data()["subscribers"].as_array().unwrap().len(), 3);
    assert!(listed.data()["next_cursor"].is_string());

    let tagged = ada.get(&format!("{sites}/{site_id}/subscribers?tag=VIP&limit=200")).await;
    assert_eq!(tagged.data()["subscribers"].as_array().unwrap().len(), 2, "tag filter (case-insensitive)");
    let user_1 = ada.get(&format!("{sites}/{site_id}/subscribers?external_id=user-1")).await;
    assert_eq!(user_1.data()["subscribers"][0]["external_id"], "user-1");
    assert_eq!(user_1.data()["subscribers"].as_array().unwrap().len(), 1);
    ada.get(&format!("{sites}/{site_id}/subscribers?tag=bad%20tag")).await.assert_error(422, "validation_failed");

    let notifications = format!("{sites}/{site_id}/notifications");
    let huge = json!({"title": "t", "body": "b", "url": format!("https://shop.example.com/{}", "x".repeat(2000)), "image": format!("https://shop.example.com/{}", "y".repeat(2000)), "target": {"type": "all"}});
    ada.post(&notifications, huge).await.assert_error(422, "validation_failed");
    ada.post(&notifications, json!({"title": "", "target": {"type": "all"}})).await.assert_error(422, "validation_failed");
    let sent = ada.post(&notifications, json!({"title": "Sale!", "body": "50% off today", "url": "https://shop.example.com/sale", "target": {"type": "all"}, "topic": "sale"})).await;
    assert_eq!(sent.status, 202, "{}", sent.body);
    let ntf = sent.data()["id"].as_str().unwrap().to_owned();

    let view = loop_until_completed(&mut ada, &format!("{notifications}/{ntf}")).await;
    let stats = &view["stats"];
    assert_eq!(stats["targeted"], 8);
    assert_eq!(stats["accepted"], 4, "ok-a, ok-b, and limited-g / flaky-h after their retry: {stats}");
    assert_eq!(stats["failed_gone"], 2);
    assert_eq!(stats["failed_too_large"], 1);
    assert_eq!(stats["failed_rejected"], 1);
    assert_eq!(ada.get(&format!("{sites}/{site_id}/subscribers")).await.data()["total"], 6, "404/410 subscriptions are deleted");

    let received = fake.received.lock().unwrap().clone();
    assert_eq!(received.len(), 10, "8 first attempts + 2 retries");
    let now = chrono::Utc::now().timestamp();
    for r in &received {
        let b = &browsers[names.iter().position(|n| *n == r.path).unwrap()];
        let h = |n: &str| r.headers.get(n).map(|v| v.to_str().unwrap().to_owned());
        assert_eq!(h("content-encoding").as_deref(), Some("aes128gcm"));
        assert_eq!((h("ttl").as_deref(), h("urgency").as_deref(), h("topic").as_deref()), (Some("3600"), Some("high"), Some("sale")));
        let auth = h("authorization").unwrap();
        let (t, k) = auth.strip_prefix("vapid t=").unwrap().split_once(", k=").unwrap();
        assert_eq!(k, vapid_k, "signed with the site's key");
        let (input, sig) = t.rsplit_once('.').unwrap();
        VerifyKey::new(&ECDSA_P256_SHA256_FIXED, &b64(k)).verify(input.as_bytes(), &b64(sig)).expect("VAPID signature verifies");
        let claims: Value = serde_json::from_slice(&b64(input.split('.').nth(1).unwrap())).unwrap();
        assert_eq!(claims["aud"], format!("http://{fake_host}"));
        assert_eq!(claims["sub"], "mailto:ops@example.com");
        assert!(claims["exp"].as_i64().unwrap() <= now + 24 * 3600 && claims["exp"].as_i64().unwrap() > now);
        let payload: Value = serde_json::from_slice(&b.decrypt(&r.body)).unwrap();
        assert_eq!((payload["title"].as_str(), payload["body"].as_str()), (Some("Sale!"), Some("50% off today")));
        assert!(payload["url"].as_str().unwrap().contains("utm_source=webtrigger&utm_medium=push"), "{payload}");
        assert_eq!(payload["data"]["notification_id"], ntf.as_str());
    }
    let jwts: std::collections::BTreeSet<String> = received.iter().map(|r| r.headers["authorization"].to_str().unwrap().to_owned()).collect();
    assert_eq!(jwts.len(), 1, "one VAPID JWT per push-service origin, reused");

    // Targeting: a tag reaches only tagged subscribers; an external id reaches its user.
    fake.received.lock().unwrap().clear();
    let vip = ada.post(&notifications, json!({"title": "VIP", "target": {"type": "tags", "tags": ["VIP"]}})).await;
    let vip_id = vip.data()["id"].as_str().unwrap().to_owned();
    assert_eq!(loop_until_completed(&mut ada, &format!("{notifications}/{vip_id}")).await["stats"]["accepted"], 2);
    let user = ada.post(&notifications, json!({"title": "Hi", "target": {"type": "external_id", "external_id": "user-1"}})).await;
    let user_id = user.data()["id"].as_str().unwrap().to_owned();
    assert_eq!(loop_until_completed(&mut ada, &format!("{notifications}/{user_id}")).await["stats"]["targeted"], 1);
    let paths: Vec<String> = fake.received.lock().unwrap().iter().map(|r| r.path.clone()).collect();
    assert_eq!(paths.iter().filter(|p| *p == "ok-a").count(), 2);
    assert_eq!(paths.len(), 3);

    // Tracking from the service worker (its fetches carry the site's origin, which must be allowed).
    let mut sw = Client::new(state.clone());
    sw.post(&format!("{public}/notifications/{ntf}/events"), json!({"event": "click"})).await.assert_error(403, "forbidden");
    sw.extra_headers = vec![("origin".into(), "https://shop.example.com".into())];
    assert_eq!(sw.post(&format!("{public}/notifications/{ntf}/events"), json!({"event": "click"})).await.status, 200);
    sw.post(&format!("{public}/notifications/{ntf}/events"), json!({"event": "hover"})).await.assert_error(422, "validation_failed");
    assert_eq!(ada.get(&format!("{notifications}/{ntf}")).await.data()["stats"]["clicks"], 1);

    // Unsubscribe from the page.
    let mut shop = page.clone();
    shop.extra_headers = vec![("origin".into(), "https://shop.example.com".into())];
    let removed = shop.call(Method::DELETE, &format!("{public}/subscriptions"), Some(json!({"endpoint": format!("http://{fake_host}/push/ok-b"), "notification_id": ntf}))).await;
    assert_eq!(removed.data()["removed"], true);
    assert_eq!(ada.get(&format!("{sites}/{site_id}/subscribers")).await.data()["total"], 5);
    assert_eq!(ada.get(&format!("{notifications}/{ntf}")).await.data()["stats"]["unsubscribes"], 1, "attributed to the notification it came from");
    let again = shop.call(Method::DELETE, &format!("{public}/subscriptions"), Some(json!({"endpoint": format!("http://{fake_host}/push/ok-b"), "notification_id": ntf}))).await;
    assert_eq!(again.data()["removed"], false);
    assert_eq!(ada.get(&format!("{notifications}/{ntf}")).await.data()["stats"]["unsubscribes"], 1, "a repeated unsubscribe counts once");

    // The outbox: cleared after every enqueue; an entry left by a crash is re-queued by the tick's sweep,
    // and fan-out markers make the re-queue send nothing twice.
    let outbox = webtrigger::ports::Query::partition("OUTBOX#push");
    assert!(state.table.query(outbox.clone()).await.unwrap().items.is_empty(), "outbox cleared after enqueue");
    let sent_before = fake.received.lock().unwrap().len();
    let now_ms = chrono::Utc::now().timestamp_millis();
    for (age_ms, tag) in [(10_000, "young"), (600_000, "old")] {
        let item = webtrigger::ports::Item::new(webtrigger::ports::Key::new("OUTBOX#push", format!("{:013}#{tag}", now_ms - age_ms)))
            .with_attr("workspace", ws.as_str()).with_attr("site", site_id.as_str()).with_attr("notification", ntf.as_str());
        state.table.put(item, webtrigger::ports::Condition::None).await.unwrap();
    }
    assert_eq!(webtrigger::push::notifications::sweep_outbox(&state).await.unwrap(), 1, "only entries past the grace period");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(fake.received.lock().unwrap().len(), sent_before, "finished shards are not fanned out again");
    assert_eq!(state.table.query(outbox).await.unwrap().items.len(), 1, "the young entry stays");
    assert_eq!(ada.get(&format!("{notifications}/{ntf}")).await.data()["stats"]["targeted"], 8, "counters unchanged");

    // A direct-target notification whose outbox entry outlived its delivery (the process died before
    // clearing it): the sweep queues the same deliver job again, which finds its progress record finished,
    // so nothing is sent twice and the counters written with the record stay as they are.
    let item = webtrigger::ports::Item::new(webtrigger::ports::Key::new("OUTBOX#push", format!("{:013}#direct", now_ms - 600_000)))
        .with_attr("workspace", ws.as_str()).with_attr("site", site_id.as_str()).with_attr("notification", user_id.as_str());
    state.table.put(item, webtrigger::ports::Condition::None).await.unwrap();
    assert_eq!(webtrigger::push::notifications::sweep_outbox(&state).await.unwrap(), 1);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while state.queue.depth("push-send").await.unwrap() > 0 {
        assert!(tokio::time::Instant::now() < deadline, "the re-queued job was never consumed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(fake.received.lock().unwrap().len(), sent_before, "its one subscriber already had a final answer");
    let view = loop_until_completed(&mut ada, &format!("{notifications}/{user_id}")).await;
    assert_eq!((view["stats"]["targeted"].as_i64(), view["status"].as_str()), (Some(1), Some("completed")), "counted once: {view}");

    // Out of attempts: a deliver job on its last attempt to a push service that keeps failing is counted
    // and parked in the dead-letter queue with a fresh attempt count, ready for `webtrigger dlq redrive`.
    let down = Browser::new();
    let body = json!({"subscription": down.subscription(&format!("http://{fake_host}/push/down-z")), "external_id": "down"});
    assert_eq!(subscribe(&mut page, Some("https://shop.example.com"), body).await.status, 201);
    let down_sub = ada.get(&format!("{sites}/{site_id}/subscribers?external_id=down")).await.data()["subscribers"][0].clone();
    let job = json!({"kind": "deliver", "workspace": ws, "site": site_id, "notification": ntf, "attempt": webtrigger::push::notifications::MAX_ATTEMPTS, "subscribers": [down_sub]});
    state.queue.send("push-send", vec![webtrigger::ports::OutgoingMessage::new(job.to_string())]).await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while state.queue.depth("push-send-dlq").await.unwrap() == 0 {
        assert!(tokio::time::Instant::now() < deadline, "never dead-lettered");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(ada.get(&format!("{notifications}/{ntf}")).await.data()["stats"]["failed_transient"], 1);
    let parked = state.queue.receive("push-send-dlq", 1, Duration::ZERO).await.unwrap();
    let parked: Value = serde_json::from_str(&parked[0].body).unwrap();
    assert_eq!((parked["attempt"].as_u64(), parked["subscribers"][0]["id"].as_str()), (Some(1), down_sub["id"].as_str()));

    // The dashboard's own opt-in: a member's devices get platform notifications (test send).
    fake.received.lock().unwrap().clear();
    let dashboard_key = ada.get("/v1/me/push-key").await.data()["vapid_public_key"].as_str().unwrap().to_owned();
    assert_ne!(dashboard_key, vapid_k, "the dashboard has its own key");
    let phone = Browser::new();
    let laptop = Browser::new();
    let added = ada.post("/v1/me/devices", json!({"subscription": phone.subscription(&format!("http://{fake_host}/push/ok-phone")), "label": "Phone"})).await;
    assert_eq!(added.status, 201, "{}", added.body);
    ada.post("/v1/me/devices", json!({"subscription": laptop.subscription(&format!("http://{fake_host}/push/gone-laptop"))})).await.data();
    ada.post("/v1/me/devices", json!({"subscription": {"endpoint": "https://evil.example.com/x", "keys": {"p256dh": "x", "auth": "y"}}})).await.assert_error(422, "validation_failed");
    let tested = ada.post("/v1/me/devices/test", json!({})).await;
    assert_eq!((tested.data()["accepted"].as_u64(), tested.data()["failed"].as_u64()), (Some(1), Some(1)));
    let to_phone = fake.received.lock().unwrap().iter().find(|r| r.path == "ok-phone").cloned().expect("phone reached");
    let shown: Value = serde_json::from_slice(&phone.decrypt(&to_phone.body)).unwrap();
    assert_eq!(shown["title"], "WebTrigger");
    assert!(to_phone.headers["authorization"].to_str().unwrap().ends_with(&format!("k={dashboard_key}")));
    let devices = ada.get("/v1/me/devices").await;
    assert_eq!(devices.data().as_array().unwrap().iter().map(|d| d["label"].as_str().unwrap()).collect::<Vec<_>>(), ["Phone"], "the gone device was dropped");
    let mut bob = Client::new(state.clone());
    bob.sign_up("bob@example.com").await;
    assert!(bob.get("/v1/me/devices").await.data().as_array().unwrap().is_empty(), "devices are per member");

    stop_tx.send(true).unwrap();
    worker.await.unwrap();
}

async fn loop_until_completed(c: &mut Client, path: &str) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let r = c.get(path).await;
        if r.data()["status"] == "completed" {
            return r.data().clone();
        }
        assert!(tokio::time::Instant::now() < deadline, "never completed: {}", r.body);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// One hanging push service must not hold another's retry: a 429 with `Retry-After: 1` from one origin is
/// retried while a push to another origin is still waiting for its answer (the local consumer runs and
/// acknowledges each job on its own). The hanging push is answered only after the retry arrived, so it
/// is accepted on its first and only request; had the retry waited for it, the sender's 10 s timeout
/// would have failed it and it would have been sent again.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_slow_push_service_does_not_hold_another_origins_retry() {
    #[derive(Clone, Default)]
    struct Origin {
        calls: Arc<Mutex<Vec<String>>>,
        release: Arc<tokio::sync::Notify>,
    }
    async fn hanging(State(o): State<Origin>, Path(name): Path<String>) -> StatusCode {
        o.calls.lock().unwrap().push(name);
        o.release.notified().await;
        StatusCode::CREATED
    }
    async fn limiting(State(o): State<Origin>, Path(name): Path<String>) -> (StatusCode, HeaderMap) {
        let first = {
            let mut calls = o.calls.lock().unwrap();
            calls.push(name);
            calls.len() == 1
        };
        let mut headers = HeaderMap::new();
        if first {
            headers.insert("retry-after", "1".parse().unwrap());
            return (StatusCode::TOO_MANY_REQUESTS, headers);
        }
        (StatusCode::CREATED, headers)
    }
    let (slow, limited) = (Origin::default(), Origin::default());
    let mut hosts = Vec::new();
    for app in [axum::Router::new().route("/push/{name}", post(hanging)).with_state(slow.clone()), axum::Router::new().route("/push/{name}", post(limiting)).with_state(limited.clone())] {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        hosts.push(listener.local_addr().unwrap().to_string());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    }
    let (mut state, _dir) = webtrigger_tests::embedded_state().await;
    client::allow_push_hosts(&mut state, hosts.clone());
    let (stop_tx, worker) = client::start_push_worker(&state);

    let mut ada = Client::new(state.clone());
    ada.sign_up("ada@example.com").await;
    let ws = ada.create_workspace("Shop").await;
    let site = ada.post(&format!("/v1/workspaces/{ws}/sites"), json!({"name": "Shop", "allowed_origins": ["https://shop.example.com"], "contact": "mailto:ops@example.com"})).await;
    let site_id = site.data()["id"].as_str().unwrap().to_owned();
    let mut page = Client::new(state.clone());
    page.extra_headers = vec![("origin".to_owned(), "https://shop.example.com".to_owned())];
    for host in &hosts {
        let r = page.call(Method::POST, &format!("/v1/public/sites/{site_id}/subscriptions"), Some(json!({"subscription": Browser::new().subscription(&format!("http://{host}/push/one"))}))).await;
        assert_eq!(r.status, 201, "{}", r.body);
    }
    let notifications = format!("/v1/workspaces/{ws}/sites/{site_id}/notifications");
    let sent = ada.post(&notifications, json!({"title": "Sale", "target": {"type": "all"}})).await;
    let id = sent.data()["id"].as_str().unwrap().to_owned();

    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while limited.calls.lock().unwrap().len() < 2 {
        assert!(tokio::time::Instant::now() < deadline, "the rate-limited push was never retried");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(slow.calls.lock().unwrap().len(), 1, "the hanging push is still waiting for its answer");
    slow.release.notify_one();
    let view = loop_until_completed(&mut ada, &format!("{notifications}/{id}")).await;
    assert_eq!((view["stats"]["accepted"].as_i64(), view["stats"]["failed_transient"].as_i64()), (Some(2), Some(0)), "{view}");
    assert_eq!(slow.calls.lock().unwrap().len(), 1, "answered within its timeout, so sent once");
    stop_tx.send(true).unwrap();
    worker.await.unwrap();
}
