//! Trigger ingest on the local binary's code: Standard Webhooks-signed `POST /t/{id}` calls whose trigger
//! has one push action (verify, dedupe claim, invocation log, render, notification record, fan-out
//! enqueue). Latency from receipt to the answer (written after the enqueue) in-process through the
//! router, then over loopback (sequential p50/p99 and throughput under a bounded load at concurrency 8).
//! Run: `cargo bench -p webtrigger-tests --bench trigger_ingest`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_lc_rs::hmac;
use axum::body::Body;
use axum::http::Request;
use base64::{engine::general_purpose::STANDARD as B64, Engine};
use serde_json::{json, Value};
use tower::ServiceExt;
use webtrigger_tests::latency::report;
use webtrigger::config::{Config, RateLimits};
use webtrigger::local::{serve, ServeOptions};

/// Triggers the load is spread over: each accepts 600 calls a minute, the bounded load stays below that.
const TRIGGERS: usize = 16;
const SEQUENTIAL: usize = 800;
const CONCURRENT: usize = 8;
const PER_TASK: usize = 200;

struct Target {
    path: String,
    key: hmac::Key,
}

/// A signed request for call number `n` (unique `webhook-id`, so none is a duplicate).
fn signed(target: &Target, n: usize) -> (Vec<(&'static str, String)>, String) {
    let body = json!({"order": {"id": format!("A-{n}"), "total": 42}, "status": "paid"}).to_string();
    let (id, ts) = (format!("msg_bench_{n}"), chrono::Utc::now().timestamp().to_string());
    let sig = B64.encode(hmac::sign(&target.key, format!("{id}.{ts}.{body}").as_bytes()).as_ref());
    (vec![("content-type", "application/json".into()), ("webhook-id", id), ("webhook-timestamp", ts), ("webhook-signature", format!("v1,{sig}"))], body)
}

/// Signs up, then creates a workspace, a site and `TRIGGERS` triggers with one push action each, through
/// `post(path, bearer token, body)` (over HTTP, or straight into the router).
async fn setup<F, Fut>(post: F) -> anyhow::Result<Vec<Target>>
where
    F: Fn(String, Option<String>, Value) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<Value>>,
{
    let signup = post("/v1/auth/signup".into(), None, json!({"email": "bench@example.com", "password": "correct horse battery"})).await?;
    let token = Some(signup["data"]["access_token"].as_str().expect("token").to_owned());
    let ws = post("/v1/workspaces".into(), token.clone(), json!({"name": "Bench"})).await?;
    let ws = ws["data"]["id"].as_str().expect("workspace").to_owned();
    let site = post(format!("/v1/workspaces/{ws}/sites"), token.clone(), json!({"name": "Shop", "allowed_origins": ["https://shop.example.com"], "contact": "mailto:ops@example.com"})).await?;
    let site = site["data"]["id"].as_str().expect("site").to_owned();
    let mut targets = Vec::new();
    for i in 0..TRIGGERS {
        let action = json!({"type": "push", "site_id": site, "target": {"type": "tags", "tags": "vip"}, "title": "Order {{ order.id }}", "body": "{{ order.total }} {{ status }}", "url": "https://shop.example.com/o/{{ order.id }}"});
        let created = post(format!("/v1/workspaces/{ws}/triggers"), token.clone(), json!({"name": format!("Orders {i}"), "filter": "status == \"paid\"", "actions": [action]})).await?;
        let key = B64.decode(created["data"]["secret"].as_str().expect("secret").trim_start_matches("whsec_"))?;
        targets.push(Target { path: created["data"]["url_path"].as_str().expect("url").to_owned(), key: hmac::Key::new(hmac::HMAC_SHA256, &key) });
    }
    Ok(targets)
}

async fn start(dir: &std::path::Path) -> anyhow::Result<(String, tokio::sync::oneshot::Sender<()>, tokio::task::JoinHandle<anyhow::Result<()>>)> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let mut config = Config::from_vars(Vec::new())?;
    config.limits = RateLimits { workspace_per_minute: 1_000_000, api_key_per_minute: 1_000_000 };
    let opts = ServeOptions { data_dir: dir.to_path_buf(), addr: ([127, 0, 0, 1], port).into(), static_dir: None, drain_timeout: Duration::from_secs(5), config, allow_push_hosts: Vec::new() };
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        serve(opts, async move {
            let _ = stop_rx.await;
        })
        .await
        .map_err(anyhow::Error::from)
    });
    Ok((format!("http://127.0.0.1:{port}"), stop_tx, server))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    println!("trigger ingest: signed POST /t/{{id}} → push notification enqueued ({} build, embedded backend)", if cfg!(debug_assertions) { "DEBUG" } else { "release" });
    let (base, stop_tx, server) = start(&dir.path().join("data")).await?;
    let http = reqwest::Client::new();
    while http.get(format!("{base}/v1/health")).send().await.is_err() {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let targets = Arc::new(
        setup(|path, token, body| {
            let mut req = http.post(format!("{base}{path}")).json(&body);
            if let Some(t) = token {
                req = req.bearer_auth(t);
            }
            async move { Ok(req.send().await?.json::<Value>().await?) }
        })
        .await?,
    );
    let counter = Arc::new(AtomicUsize::new(0));
    let call = {
        let (http, base, targets, counter) = (http.clone(), base.clone(), targets.clone(), counter.clone());
        move || {
            let (http, base, targets, counter) = (http.clone(), base.clone(), targets.clone(), counter.clone());
            async move {
                let n = counter.fetch_add(1, Ordering::Relaxed);
                let target = &targets[n % TRIGGERS];
                let (headers, body) = signed(target, n);
                let mut req = http.post(format!("{base}{}", target.path)).body(body);
                for (k, v) in headers {
                    req = req.header(k, v);
                }
                let t = Instant::now();
                let r = req.send().await.expect("send");
                let status = r.status();
                let answer: Value = r.json().await.expect("json");
                let took = t.elapsed();
                assert_eq!((status.as_u16(), answer["data"]["status"].as_str()), (202, Some("fired")), "{answer}");
                took
            }
        }
    };

    // In-process: the same router, no sockets.
    let state = webtrigger::AppState::embedded(&dir.path().join("in-process"), Arc::new(webtrigger::ports::SystemClock))?;
    let app = webtrigger::http::api(webtrigger::local::all_routes(), state.clone(), None);
    let in_process = {
        // Triggers are created through the router itself so the state under test holds them.
        let targets = setup(|path, token, body| {
            let mut req = Request::post(path).header("content-type", "application/json");
            if let Some(t) = token {
                req = req.header("authorization", format!("Bearer {t}"));
            }
            let app = app.clone();
            async move {
                let r = app.oneshot(req.body(Body::from(body.to_string()))?).await?;
                Ok(serde_json::from_slice::<Value>(&axum::body::to_bytes(r.into_body(), usize::MAX).await?)?)
            }
        })
        .await?;
        let mut samples = Vec::with_capacity(SEQUENTIAL);
        for n in 0..SEQUENTIAL {
            let target = &targets[n % TRIGGERS];
            let (headers, body) = signed(target, n);
            let mut req = Request::post(target.path.clone());
            for (k, v) in headers {
                req = req.header(k, v);
            }
            let req = req.body(Body::from(body))?;
            let t = Instant::now();
            let r = app.clone().oneshot(req).await?;
            samples.push(t.elapsed());
            assert_eq!(r.status(), 202);
        }
        samples
    };
    report("receipt → enqueued, in-process (router)", in_process);

    let mut sequential = Vec::with_capacity(SEQUENTIAL);
    for _ in 0..SEQUENTIAL {
        sequential.push(call().await);
    }
    report("receipt → enqueued → answer, over loopback", sequential);

    let started = Instant::now();
    let tasks: Vec<_> = (0..CONCURRENT)
        .map(|_| {
            let call = call.clone();
            tokio::spawn(async move {
                let mut out = Vec::with_capacity(PER_TASK);
                for _ in 0..PER_TASK {
                    out.push(call().await);
                }
                out
            })
        })
        .collect();
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await?);
    }
    let secs = started.elapsed().as_secs_f64();
    report(&format!("over loopback at concurrency {CONCURRENT}"), all);
    println!("{:<48} {:>7.0} signed requests/s at concurrency {CONCURRENT} ({} requests, client and server share the cores)", "throughput", (CONCURRENT * PER_TASK) as f64 / secs, CONCURRENT * PER_TASK);
    let _ = stop_tx.send(());
    server.await??;
    Ok(())
}
