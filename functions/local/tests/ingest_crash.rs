//! `kill -9` of the real `webtrigger serve` while signed trigger calls pour in from 8 senders at once,
//! then a restart on the same data dir. Every call answered 202 before the kill was stored: after the
//! restart, with nothing re-sent, each one's invocation is `fired` and its notification is delivered
//! (`completed`, one push to the site's subscriber). Then every sender retries everything (as Standard
//! Webhooks senders do with whatever they did not see answered): the 202'd calls answer 200 as
//! duplicates of the same invocation, and in the end there is exactly one invocation and one
//! notification per webhook id — none twice, none missing. The triggers' only action is a push, so each
//! call's dedupe claim, invocation and notification commit in one transaction: a call cut off by the kill
//! left all of them or none, and its retry either repeats it or runs it.
//!
//! Not covered here: a trigger with several actions logs its claim and a `running` invocation before the
//! first action; a call cut off there is answered as a duplicate by its retry, and the minute tick ends
//! its invocation as `failed` 15 minutes later (`triggers/interrupted.rs`, unit-tested there).

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::process::Child;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_lc_rs::hmac;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use base64::{engine::general_purpose::STANDARD as B64, Engine};
use serde_json::{json, Value};
use support::{kill, Server};
use webtrigger_tests::browser::Browser;

const TRIGGERS: usize = 4;
const SENDERS: usize = 8;
const CALLS: usize = 400;
/// The kill lands once this many calls have been answered 202 (the others are in flight or unsent).
const KILL_AFTER: usize = 150;

fn start(data_dir: &std::path::Path, push_host: &str) -> Server {
    support::start(data_dir, &["--allow-push-host", push_host], &[])
}

fn wait_killed(child: &mut Child) {
    support::wait_killed(child, Duration::from_secs(60));
}

#[derive(Clone, Default)]
struct PushService {
    pushes: Arc<AtomicUsize>,
}

async fn push(State(fake): State<PushService>) -> StatusCode {
    fake.pushes.fetch_add(1, Ordering::SeqCst);
    StatusCode::CREATED
}

struct Trigger {
    path: String,
    key: hmac::Key,
}

/// Call `n`: always the same trigger, webhook id and body, so a retry is a true repeat.
fn call(http: &reqwest::Client, base: &str, triggers: &[Trigger], n: usize) -> reqwest::RequestBuilder {
    let t = &triggers[n % triggers.len()];
    let body = json!({"order": {"id": format!("O-{n:04}")}, "status": "paid"}).to_string();
    let (id, ts) = (format!("msg_crash_{n:04}"), chrono::Utc::now().timestamp().to_string());
    let sig = B64.encode(hmac::sign(&t.key, format!("{id}.{ts}.{body}").as_bytes()).as_ref());
    http.post(format!("{base}{}", t.path))
        .header("content-type", "application/json")
        .header("webhook-id", id)
        .header("webhook-timestamp", ts)
        .header("webhook-signature", format!("v1,{sig}"))
        .body(body)
}

async fn get(http: &reqwest::Client, base: &str, token: &str, path: &str) -> Value {
    let r = http.get(format!("{base}{path}")).bearer_auth(token).send().await.expect("get");
    assert_eq!(r.status(), 200, "{path}");
    r.json().await.unwrap()
}

/// Every notification of the site, by title.
async fn notifications(http: &reqwest::Client, base: &str, token: &str, path: &str) -> Vec<Value> {
    let (mut out, mut cursor) = (Vec::new(), None::<String>);
    loop {
        let page = get(http, base, token, &format!("{path}?limit=100{}", cursor.map(|c| format!("&cursor={c}")).unwrap_or_default())).await;
        out.extend(page["data"]["notifications"].as_array().unwrap().iter().cloned());
        match page["data"]["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => return out,
        }
    }
}

/// Every invocation of every trigger.
async fn invocations(http: &reqwest::Client, base: &str, token: &str, ws: &str, triggers: &[String]) -> Vec<Value> {
    let mut out = Vec::new();
    for t in triggers {
        let mut cursor = None::<String>;
        loop {
            let page = get(http, base, token, &format!("/v1/workspaces/{ws}/triggers/{t}/invocations?limit=100{}", cursor.map(|c| format!("&cursor={c}")).unwrap_or_default())).await;
            out.extend(page["data"]["invocations"].as_array().unwrap().iter().cloned());
            match page["data"]["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_owned()),
                None => break,
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_accepted_trigger_call_survives_kill_9_once() {
    let fake = PushService::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let push_host = listener.local_addr().unwrap().to_string();
    let app = axum::Router::new().route("/push/{name}", post(push)).with_state(fake.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let tmp = tempfile::tempdir().unwrap();
    let data_dir = tmp.path().join("data");
    let mut server = start(&data_dir, &push_host);
    let http = reqwest::Client::new();
    let base = server.base.clone();
    let signup: Value = http.post(format!("{base}/v1/auth/signup")).json(&json!({"email": "ada@example.com", "password": "correct horse battery"})).send().await.unwrap().json().await.unwrap();
    let token = signup["data"]["access_token"].as_str().unwrap().to_owned();
    let post = |path: String, body: Value| {
        let r = http.post(format!("{base}{path}")).bearer_auth(&token).json(&body);
        async move { r.send().await.unwrap().json::<Value>().await.unwrap() }
    };
    let ws = post("/v1/workspaces".into(), json!({"name": "Shop"})).await["data"]["id"].as_str().unwrap().to_owned();
    let site = post(format!("/v1/workspaces/{ws}/sites"), json!({"name": "Shop", "allowed_origins": ["https://shop.example.com"], "contact": "mailto:ops@example.com"})).await["data"]["id"].as_str().unwrap().to_owned();
    let sub = json!({"subscription": Browser::new().subscription(&format!("http://{push_host}/push/only"))});
    let r = http.post(format!("{base}/v1/public/sites/{site}/subscriptions")).header("origin", "https://shop.example.com").json(&sub).send().await.unwrap();
    assert_eq!(r.status(), 201);
    let (mut triggers, mut trigger_ids) = (Vec::new(), Vec::new());
    for i in 0..TRIGGERS {
        let action = json!({"type": "push", "site_id": site, "target": {"type": "all"}, "title": "Order {{ order.id }}"});
        let created = post(format!("/v1/workspaces/{ws}/triggers"), json!({"name": format!("Orders {i}"), "actions": [action]})).await;
        let key = B64.decode(created["data"]["secret"].as_str().unwrap().trim_start_matches("whsec_")).unwrap();
        triggers.push(Trigger { path: created["data"]["url_path"].as_str().unwrap().to_owned(), key: hmac::Key::new(hmac::HMAC_SHA256, &key) });
        trigger_ids.push(created["data"]["id"].as_str().unwrap().to_owned());
    }
    let triggers = Arc::new(triggers);

    // 8 senders; the kill lands while calls are in flight.
    let accepted: Arc<Mutex<BTreeMap<usize, String>>> = Arc::default();
    let next = Arc::new(AtomicUsize::new(0));
    let pid = server.child.id();
    let senders: Vec<_> = (0..SENDERS)
        .map(|_| {
            let (http, base, triggers, accepted, next) = (http.clone(), base.clone(), triggers.clone(), accepted.clone(), next.clone());
            tokio::spawn(async move {
                loop {
                    let n = next.fetch_add(1, Ordering::SeqCst);
                    if n >= CALLS {
                        return;
                    }
                    let Ok(r) = call(&http, &base, &triggers, n).send().await else { return };
                    if r.status() != 202 {
                        return;
                    }
                    let Ok(answer) = r.json::<Value>().await else { return };
                    let mut accepted = accepted.lock().unwrap();
                    accepted.insert(n, answer["data"]["invocation_id"].as_str().unwrap().to_owned());
                    if accepted.len() == KILL_AFTER {
                        kill(pid);
                    }
                }
            })
        })
        .collect();
    for s in senders {
        s.await.unwrap();
    }
    tokio::task::block_in_place(|| wait_killed(&mut server.child));
    let accepted = accepted.lock().unwrap().clone();
    assert!(accepted.len() >= KILL_AFTER, "{} accepted before the kill", accepted.len());
    assert!(accepted.len() < CALLS, "the kill landed before every call was answered");

    // Restart; nothing is re-sent yet: every 202'd call is processed from what was stored.
    server = start(&data_dir, &push_host);
    let base = server.base.clone();
    let notes_path = format!("/v1/workspaces/{ws}/sites/{site}/notifications");
    let deadline = Instant::now() + Duration::from_secs(120);
    let accepted_titles: BTreeSet<String> = accepted.keys().map(|n| format!("Order O-{n:04}")).collect();
    loop {
        let notes = notifications(&http, &base, &token, &notes_path).await;
        let completed: BTreeSet<String> = notes.iter().filter(|n| n["status"] == "completed").map(|n| n["title"].as_str().unwrap().to_owned()).collect();
        if accepted_titles.is_subset(&completed) {
            break;
        }
        assert!(Instant::now() < deadline, "accepted calls never delivered: {:?}", accepted_titles.difference(&completed).take(5).collect::<Vec<_>>());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let logged: BTreeMap<String, Value> = invocations(&http, &base, &token, &ws, &trigger_ids).await.into_iter().map(|i| (i["id"].as_str().unwrap().to_owned(), i)).collect();
    for (n, inv) in &accepted {
        assert_eq!(logged.get(inv).map(|i| i["status"].clone()), Some(json!("fired")), "call {n}'s invocation {inv}");
    }

    // Every sender retries everything: no call is run twice.
    for n in 0..CALLS {
        let r = call(&http, &base, &triggers, n).send().await.unwrap();
        let status = r.status().as_u16();
        let answer: Value = r.json().await.unwrap();
        match accepted.get(&n) {
            Some(inv) => {
                assert_eq!(status, 200, "call {n} was accepted before the kill: a retry is a duplicate ({answer})");
                assert_eq!(answer["data"]["invocation_id"].as_str(), Some(inv.as_str()), "the retry names the first invocation");
            }
            None => assert!(status == 202 || status == 200, "call {n} after the restart: {status} {answer}"),
        }
    }
    // Every retry has been answered, so whatever it stored is there. (A call cut off between its record
    // and its enqueue is fanned out by the outbox sweep minutes later; only its count matters here.)
    let notes = notifications(&http, &base, &token, &notes_path).await;
    let mut titles: BTreeMap<String, usize> = BTreeMap::new();
    for n in &notes {
        *titles.entry(n["title"].as_str().unwrap().to_owned()).or_default() += 1;
    }
    let twice: Vec<_> = titles.iter().filter(|(_, c)| **c > 1).collect();
    assert!(twice.is_empty(), "sent twice: {twice:?}");
    let logged = invocations(&http, &base, &token, &ws, &trigger_ids).await;
    let mut per_call: BTreeMap<String, usize> = BTreeMap::new();
    for i in &logged {
        *per_call.entry(i["idempotency_key"].as_str().unwrap_or_default().to_owned()).or_default() += 1;
    }
    assert!(per_call.values().all(|c| *c == 1), "one invocation per webhook id");
    assert_eq!(per_call.len(), CALLS, "every webhook id has its invocation, the calls cut off by the kill included");
    let unfired: Vec<_> = logged.iter().filter(|i| i["status"] != "fired").map(|i| i["idempotency_key"].clone()).collect();
    assert!(unfired.is_empty(), "every invocation fired (none left running by the kill): {unfired:?}");
    assert_eq!(titles.len(), CALLS, "every call has its notification");
    assert!(accepted.keys().all(|n| per_call.contains_key(&format!("msg_crash_{n:04}"))));
    for n in notes.iter().filter(|n| accepted_titles.contains(n["title"].as_str().unwrap())) {
        assert_eq!(n["stats"]["accepted"], 1, "an accepted call's notification reached the one subscriber once: {n}");
    }
    assert!(fake.pushes.load(Ordering::SeqCst) >= accepted.len(), "the push service saw every accepted call's push");
}
