//! `kill -9` of the real `webtrigger serve` while a notification to 100 subscribers is being sent, then a
//! restart on the same data dir: every subscriber gets it, nobody who already had a final answer recorded
//! gets it again, the counters equal what the push service accepted, and the status reaches `completed`.
//! The push-service fake kills the server itself at the chosen point (before answering the Nth push), so
//! the kill lands mid-delivery however busy the machine is; what was committed at that moment is read
//! from the database before the restart, which makes the "not sent twice" check exact.

mod support;

use std::collections::{BTreeMap, BTreeSet};

use std::process::Child;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::post;
use serde_json::{json, Value};
use support::{kill, Server};
use webtrigger_tests::browser::Browser;

const SUBSCRIBERS: usize = 100;

/// The push service: counts every push per subscriber; kills the server before answering push number
/// `kill_at` (0: never).
#[derive(Clone, Default)]
struct PushService {
    received: Arc<Mutex<BTreeMap<String, u32>>>,
    total: Arc<AtomicUsize>,
    kill_at: Arc<AtomicUsize>,
    server_pid: Arc<AtomicU32>,
}

async fn push(State(fake): State<PushService>, Path(name): Path<String>) -> StatusCode {
    *fake.received.lock().unwrap().entry(name).or_default() += 1;
    let n = fake.total.fetch_add(1, Ordering::SeqCst) + 1;
    if n == fake.kill_at.load(Ordering::SeqCst) {
        kill(fake.server_pid.load(Ordering::SeqCst));
        return StatusCode::SERVICE_UNAVAILABLE;
    }
    StatusCode::CREATED
}

fn start(data_dir: &std::path::Path, push_host: &str) -> Server {
    support::start(data_dir, &["--allow-push-host", push_host], &[])
}

struct Api {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Api {
    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>, origin: Option<&str>) -> (u16, Value) {
        let mut r = self.http.request(method, format!("{}{path}", self.base)).bearer_auth(&self.token);
        if let Some(o) = origin {
            r = r.header("origin", o);
        }
        if let Some(b) = body {
            r = r.json(&b);
        }
        let response = r.send().await.expect("request");
        (response.status().as_u16(), response.json().await.unwrap_or(Value::Null))
    }
}

/// Signs up, creates a site and subscribes `SUBSCRIBERS` browsers whose endpoints are the fake's.
async fn set_up(base: &str, data_dir: &std::path::Path, push_host: &str) -> (Api, String, String) {
    let http = reqwest::Client::new();
    let signup: Value = http.post(format!("{base}/v1/auth/signup")).json(&json!({"email": "ada@example.com", "password": "correct horse battery"})).send().await.unwrap().json().await.unwrap();
    let token = signup["data"]["access_token"].as_str().expect("signed up").to_owned();
    let api = Api { http, base: base.to_owned(), token };
    let (status, ws) = api.call(reqwest::Method::POST, "/v1/workspaces", Some(json!({"name": "Shop"})), None).await;
    assert_eq!(status, 201, "{ws}");
    let ws = ws["data"]["id"].as_str().unwrap().to_owned();
    let site_body = json!({"name": "Shop", "allowed_origins": ["https://shop.example.com"], "contact": "mailto:ops@example.com"});
    let (status, site) = api.call(reqwest::Method::POST, &format!("/v1/workspaces/{ws}/sites"), Some(site_body), None).await;
    assert_eq!(status, 201, "{site}");
    let site = site["data"]["id"].as_str().unwrap().to_owned();
    // A few through the public endpoint as the SDK calls it; the rest straight into the data dir, as
    // the public endpoint's per-visitor limit would slow a test down to a minute.
    let policy = webtrigger::push::types::EndpointPolicy { extra_hosts: vec![push_host.to_owned()] };
    let state = webtrigger::AppState::embedded(data_dir, Arc::new(webtrigger::ports::SystemClock)).expect("open the data dir");
    let (ws_id, site_id) = (webtrigger::auth::WorkspaceId::parse(&ws).unwrap(), webtrigger::push::sites::SiteId::parse(&site).unwrap());
    for i in 0..SUBSCRIBERS {
        let body = json!({"subscription": Browser::new().subscription(&format!("http://{push_host}/push/sub-{i:03}"))});
        if i < 10 {
            let (status, answer) = api.call(reqwest::Method::POST, &format!("/v1/public/sites/{site}/subscriptions"), Some(body), Some("https://shop.example.com")).await;
            assert_eq!(status, 201, "subscriber {i}: {answer}");
        } else {
            let request = serde_json::from_value(body).unwrap();
            webtrigger::push::subscribers::subscribe(&state, &policy, &ws_id, &site_id, &request).await.unwrap();
        }
    }
    (api, ws, site)
}

/// The subscribers whose final answer was committed in the progress record of a deliver job still under
/// way (a finished job's record drops its done set: its subscribers all had their answer).
async fn committed_answers(data_dir: &std::path::Path, ws: &str, site: &str, notification: &str) -> BTreeSet<String> {
    let state = webtrigger::AppState::embedded(data_dir, Arc::new(webtrigger::ports::SystemClock)).expect("open the data dir");
    let mut done = BTreeSet::new();
    let mut cursor = None;
    loop {
        let query = webtrigger::ports::Query::partition(format!("WS#{ws}#SITE#{site}#NOTIF#{notification}")).prefix("JOB#").limit(100).after(cursor);
        let page = state.table.query(query).await.unwrap();
        for item in &page.items {
            done.extend(webtrigger::push::progress::answered_prefixes(item).unwrap());
        }
        match page.next {
            Some(next) => cursor = Some(next),
            None => return done,
        }
    }
}

async fn wait_completed(api: &Api, path: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (_, view) = api.call(reqwest::Method::GET, path, None, None).await;
        if view["data"]["status"] == "completed" {
            return view["data"].clone();
        }
        assert!(Instant::now() < deadline, "never completed: {view}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

enum KillPoint {
    /// Before answering these pushes (counted across restarts).
    AtPushes(Vec<usize>),
    /// As soon as the send request has been answered (the fan-out is starting).
    AfterSendAnswered,
}

async fn crash_and_recover(kill_point: KillPoint) {
    let fake = PushService::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let push_host = listener.local_addr().unwrap().to_string();
    let app = axum::Router::new().route("/push/{name}", post(push)).with_state(fake.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let tmp = tempfile::tempdir().unwrap();
    let data_dir = tmp.path().join("data");
    let mut server = start(&data_dir, &push_host);
    fake.server_pid.store(server.child.id(), Ordering::SeqCst);
    let (mut api, ws, site) = set_up(&server.base, &data_dir, &push_host).await;
    let kills = match &kill_point {
        KillPoint::AtPushes(at) => at.clone(),
        KillPoint::AfterSendAnswered => vec![0],
    };
    let mut kills = kills.into_iter();
    fake.kill_at.store(kills.next().unwrap(), Ordering::SeqCst);

    let notifications = format!("/v1/workspaces/{ws}/sites/{site}/notifications");
    let (status, sent) = api.call(reqwest::Method::POST, &notifications, Some(json!({"title": "Sale", "body": "Today only", "target": {"type": "all"}})), None).await;
    assert_eq!(status, 202, "{sent}");
    let id = sent["data"]["id"].as_str().unwrap().to_owned();
    if let KillPoint::AfterSendAnswered = kill_point {
        kill(server.child.id());
    }

    // Per subscriber whose answer was committed when a kill landed: how many pushes it had had by then.
    // It must never get another one.
    let mut settled: BTreeMap<String, u32> = BTreeMap::new();
    let mut lives = 1u32;
    loop {
        tokio::task::block_in_place(|| wait_killed(&mut server.child));
        lives += 1;
        let committed = committed_answers(&data_dir, &ws, &site, &id).await;
        let counts = fake.received.lock().unwrap().clone();
        let names = subscriber_names(&data_dir, &ws, &site).await;
        for sub in committed {
            // Done sets hold the first hex digits of a subscriber id.
            let name = names.iter().find(|(id, _)| id.starts_with(&sub)).map(|(_, n)| n.clone()).expect("a committed answer names a subscriber");
            settled.entry(name.clone()).or_insert_with(|| counts[&name]);
        }
        let next_kill = kills.next().unwrap_or(0);
        fake.kill_at.store(next_kill, Ordering::SeqCst);
        server = start(&data_dir, &push_host);
        fake.server_pid.store(server.child.id(), Ordering::SeqCst);
        api.base = server.base.clone();
        if next_kill == 0 {
            break;
        }
    }

    let view = wait_completed(&api, &format!("{notifications}/{id}")).await;
    let received = fake.received.lock().unwrap().clone();
    assert_eq!(received.len(), SUBSCRIBERS, "every subscriber got the notification");
    let pushes: u32 = received.values().sum();
    assert!(received.values().all(|n| *n <= lives), "at most one send per life of the server: {received:?}");
    for (name, at_kill) in &settled {
        assert_eq!(received[name], *at_kill, "{name} was sent again although its final answer was recorded before a kill");
    }
    let stats = &view["stats"];
    assert_eq!(stats["targeted"], SUBSCRIBERS, "{view}");
    // The push service answered every push 201 except the one it was killed at: each subscriber was
    // accepted once, however many times it was sent to.
    assert_eq!(stats["accepted"], SUBSCRIBERS, "counters equal what the push service accepted ({pushes} pushes): {view}");
    assert_eq!(stats["failed_transient"], 0, "{view}");
}

/// Endpoint name (`sub-007`) by subscriber id, read from the data dir.
async fn subscriber_names(data_dir: &std::path::Path, ws: &str, site: &str) -> BTreeMap<String, String> {
    let state = webtrigger::AppState::embedded(data_dir, Arc::new(webtrigger::ports::SystemClock)).expect("open the data dir");
    let mut out = BTreeMap::new();
    for shard in 0..webtrigger::push::subscribers::SHARDS {
        let query = webtrigger::ports::Query::partition(format!("WS#{ws}#SITE#{site}#SUBS#{shard:02}")).prefix("SUB#").limit(1000);
        for item in state.table.query(query).await.unwrap().items {
            let endpoint = item.attrs["subscription"]["endpoint"].as_str().unwrap();
            out.insert(item.attrs["id"].as_str().unwrap().to_owned(), endpoint.rsplit('/').next().unwrap().to_owned());
        }
    }
    assert_eq!(out.len(), SUBSCRIBERS, "read every subscriber");
    out
}

fn wait_killed(child: &mut Child) {
    support::wait_killed(child, Duration::from_secs(60));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn killed_mid_delivery_twice_then_restarted() {
    crash_and_recover(KillPoint::AtPushes(vec![30, 70])).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn killed_at_the_first_push_while_other_shards_fan_out() {
    crash_and_recover(KillPoint::AtPushes(vec![1])).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn killed_right_after_the_send_was_answered() {
    crash_and_recover(KillPoint::AfterSendAnswered).await;
}
