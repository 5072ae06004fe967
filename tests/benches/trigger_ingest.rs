//! Webhook ingest on the local binary's code and embedded backend (a database file, as `webtrigger serve`
//! opens it): Standard Webhooks-signed `POST /t/{id}` calls whose trigger has one push action (verify,
//! dedupe claim, invocation log, render, notification record, fan-out enqueue), and signed Meta webhook
//! deliveries (`POST /hooks/meta/…`: verify, store the raw event, enqueue its processing). Latency is from
//! sending the request to its answer, which is written only after everything the call stored is
//! committed. Phases: in-process through the router; over loopback one call at a time; over loopback
//! under load at concurrency 16, 32 and 64, spread over 200 triggers (each accepts 600 calls a minute, so
//! the per-trigger limit is not what is measured). Loaded phases on the intake server also print the
//! server's own receipt → answer time (a layer around the router: from the parsed request to the response
//! that follows the commit), the "receipt to durable enqueue", without the client's share of the
//! cores or the socket. With a closed loop at concurrency c, mean latency is c / throughput whatever the
//! server does, so the sweep shows the latency the intake holds at each load. Each loaded phase also
//! prints the CPU per call of all threads and of the `sqlite-writer` thread alone: every write waits on
//! that one thread, so its cost per call bounds the database's rate. The loaded phases run the HTTP server without the queue
//! consumers, so they measure intake alone (the fan-out it queued is the push worker's work, see
//! `fanout_cost`); the loopback phases run again on a database opened with `WEBTRIGGER_SQLITE_SYNC=normal`
//! (commits not fsynced); the last phase repeats the trigger load on `webtrigger serve` itself, workers running.
//! Requests are signed before each phase starts; client and server share the machine's cores.
//! Run: `cargo bench -p webtrigger-tests --bench trigger_ingest`.

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_lc_rs::hmac;
use axum::body::Body;
use axum::http::Request;
use base64::{engine::general_purpose::STANDARD as B64, Engine};
use serde_json::{json, Value};
use tower::ServiceExt;
use webtrigger::config::{Config, Durability, RateLimits};
use webtrigger::local::{serve, ServeOptions};
use webtrigger::AppState;
use webtrigger_tests::cpu::CpuTimes;
use webtrigger_tests::latency::report;
use webtrigger_tests::provider_fakes::{ProviderFake, META_PHONE_NUMBER_ID, META_TOKEN};

/// Triggers the load is spread over.
const TRIGGERS: usize = 200;
const SEQUENTIAL: usize = 1_000;
/// Connections of the loaded phases; the trigger phase on the fsynced intake server sweeps `SWEEP`.
const CONCURRENCY: usize = 64;
const SWEEP: [usize; 3] = [16, 32, 64];
/// Calls per loaded phase.
const LOAD: usize = 12_000;
const APP_SECRET: &str = "bench-meta-app-secret";
/// The embedded backend's writer thread, whose CPU per call bounds what one database file can take.
const WRITER: &str = "sqlite-writer";

struct Target {
    path: String,
    key: hmac::Key,
}

/// A prepared call: path, headers and body.
type Call = (String, Vec<(&'static str, String)>, String);
/// The intake server's receipt → answer time of each call since it was last drained.
type ServerTimings = Arc<std::sync::Mutex<Vec<Duration>>>;

/// A signed trigger call number `n` (unique `webhook-id`, so none is a duplicate).
fn trigger_call(targets: &[Target], n: usize) -> Call {
    let target = &targets[n % targets.len()];
    let body = json!({"order": {"id": format!("A-{n}"), "total": 42}, "status": "paid"}).to_string();
    let (id, ts) = (format!("msg_bench_{n}"), chrono::Utc::now().timestamp().to_string());
    let sig = B64.encode(hmac::sign(&target.key, format!("{id}.{ts}.{body}").as_bytes()).as_ref());
    (target.path.clone(), vec![("content-type", "application/json".into()), ("webhook-id", id), ("webhook-timestamp", ts), ("webhook-signature", format!("v1,{sig}"))], body)
}

/// A signed Meta delivery of one inbound text message number `n`.
fn meta_call(path: &str, n: usize) -> Call {
    let from = format!("1650555{:04}", n % 10_000);
    let body = json!({"object": "whatsapp_business_account", "entry": [{"id": "102290129340398", "changes": [{"value": {"messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550783881", "phone_number_id": META_PHONE_NUMBER_ID}, "contacts": [{"profile": {"name": "Bench"}, "wa_id": from}],
        "messages": [{"from": from, "id": format!("wamid.BENCH{n}"), "timestamp": "1749416383", "type": "text", "text": {"body": "Is my order on its way?"}}]}, "field": "messages"}]}]})
    .to_string();
    let key = hmac::Key::new(hmac::HMAC_SHA256, APP_SECRET.as_bytes());
    let sig: String = hmac::sign(&key, body.as_bytes()).as_ref().iter().map(|b| format!("{b:02x}")).collect();
    (path.to_owned(), vec![("content-type", "application/json".into()), ("x-hub-signature-256", format!("sha256={sig}"))], body)
}

/// Signs up, then creates a workspace, a site, `TRIGGERS` triggers with one push action each and a Meta
/// channel, through `post(path, bearer token, body)` (over HTTP, or straight into the router).
async fn setup<F, Fut>(post: F) -> anyhow::Result<(Vec<Target>, String)>
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
    let cred = post(format!("/v1/workspaces/{ws}/credentials"), token.clone(), json!({"name": "Meta", "provider": "meta", "access_token": META_TOKEN, "app_secret": APP_SECRET, "phone_number_id": META_PHONE_NUMBER_ID, "waba_id": "102290129340398"})).await?;
    let channel = post(format!("/v1/workspaces/{ws}/channels"), token, json!({"name": "Support", "credential_id": cred["data"]["id"]})).await?;
    Ok((targets, channel["data"]["webhook_path"].as_str().expect("webhook path").to_owned()))
}

fn config() -> anyhow::Result<Config> {
    let mut config = Config::from_vars(Vec::new())?;
    config.limits = RateLimits { workspace_per_minute: 1_000_000, api_key_per_minute: 1_000_000 };
    Ok(config)
}

/// Sends one prepared call and checks its answer; returns the time to the answer.
async fn send(http: &reqwest::Client, base: &str, (path, headers, body): Call, expect: u16) -> Duration {
    let mut req = http.post(format!("{base}{path}")).body(body);
    for (k, v) in headers {
        req = req.header(k, v);
    }
    let t = Instant::now();
    let r = req.send().await.expect("send");
    let status = r.status().as_u16();
    let answer = r.bytes().await.expect("body");
    let took = t.elapsed();
    assert_eq!(status, expect, "{}", String::from_utf8_lossy(&answer));
    took
}

/// Runs `calls` over `concurrency` connections; prints latency (the client's and, given the intake
/// server's timings, the server's) and throughput.
async fn load(name: &str, concurrency: usize, http: &reqwest::Client, base: &str, calls: Vec<Call>, expect: u16, server: Option<&ServerTimings>) {
    let n = calls.len();
    let queue = Arc::new(std::sync::Mutex::new(calls));
    if let Some(timings) = server {
        timings.lock().unwrap().clear();
    }
    let (started, cpu) = (Instant::now(), CpuTimes::now(WRITER));
    let tasks: Vec<_> = (0..concurrency)
        .map(|_| {
            let (http, base, queue) = (http.clone(), base.to_owned(), queue.clone());
            tokio::spawn(async move {
                let mut out = Vec::new();
                loop {
                    let next = queue.lock().unwrap().pop();
                    let Some(call) = next else { return out };
                    out.push(send(&http, &base, call, expect).await);
                }
            })
        })
        .collect();
    let mut all = Vec::with_capacity(n);
    for t in tasks {
        all.extend(t.await.expect("task"));
    }
    let wall = started.elapsed();
    let secs = wall.as_secs_f64();
    let cpu_after = CpuTimes::now(WRITER);
    report(&format!("{name}, concurrency {concurrency}"), all);
    if let Some(timings) = server {
        report("  → server: receipt → answer", std::mem::take(&mut *timings.lock().unwrap()));
    }
    println!("{:<48} {:>7.0} signed requests/s ({n} requests)", format!("  → {name} throughput"), n as f64 / secs);
    cpu_after.report_since(&cpu, n, wall, WRITER);
}

async fn wait_up(http: &reqwest::Client, base: &str) {
    while http.get(format!("{base}/v1/health")).send().await.is_err() {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn http_setup(http: &reqwest::Client, base: &str) -> anyhow::Result<(Vec<Target>, String)> {
    setup(|path, token, body| {
        let mut req = http.post(format!("{base}{path}")).json(&body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        async move { Ok(req.send().await?.json::<Value>().await?) }
    })
    .await
}

/// The platform's router on a loopback socket, without queue consumers: intake only, timed per call.
async fn intake_server(dir: &std::path::Path, durability: Durability, fake: &ProviderFake) -> anyhow::Result<(String, ServerTimings)> {
    let mut state = AppState::from_config(&Config { backend: webtrigger::config::BackendConfig::Embedded { data_dir: dir.to_path_buf(), durability }, ..config()? }).await?;
    state.whatsapp = Arc::new(webtrigger::whatsapp::WhatsAppRuntime::new(fake.urls()));
    state.ensure_queues().await?;
    let timings = ServerTimings::default();
    let recorded = timings.clone();
    let app = webtrigger::http::api(webtrigger::local::all_routes(), state, None).layer(axum::middleware::from_fn(move |req: Request<Body>, next: axum::middleware::Next| {
        let recorded = recorded.clone();
        async move {
            let t = Instant::now();
            let answer = next.run(req).await;
            recorded.lock().unwrap().push(t.elapsed());
            answer
        }
    }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>()).await });
    Ok((base, timings))
}

/// One call at a time, then triggers and Meta webhooks under load, on an intake server over `dir`.
async fn loopback_phases(label: &str, dir: &std::path::Path, durability: Durability, fake: &ProviderFake, http: &reqwest::Client) -> anyhow::Result<()> {
    let (base, timings) = intake_server(dir, durability, fake).await?;
    wait_up(http, &base).await;
    let (targets, meta_path) = http_setup(http, &base).await?;
    let mut sequential = Vec::with_capacity(SEQUENTIAL);
    for n in 0..SEQUENTIAL {
        sequential.push(send(http, &base, trigger_call(&targets, 1_000_000 + n), 202).await);
    }
    report(&format!("{label}trigger over loopback, one at a time"), sequential);
    let sweep: &[usize] = if durability == Durability::Full { &SWEEP } else { &[CONCURRENCY] };
    for (i, &concurrency) in sweep.iter().enumerate() {
        let first = 2_000_000 + i * LOAD;
        load(&format!("{label}trigger over loopback"), concurrency, http, &base, (first..first + LOAD).map(|n| trigger_call(&targets, n)).collect(), 202, Some(&timings)).await;
    }
    load(&format!("{label}Meta webhook over loopback"), CONCURRENCY, http, &base, (0..LOAD).map(|n| meta_call(&meta_path, n)).collect(), 200, Some(&timings)).await;
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let fake = ProviderFake::start().await;
    println!("webhook ingest: signed POST → stored and enqueued → answer ({} build, embedded backend on a file)", if cfg!(debug_assertions) { "DEBUG" } else { "release" });
    let http = reqwest::Client::builder().pool_max_idle_per_host(CONCURRENCY).build()?;

    // In-process: the router, no sockets.
    let mut state = AppState::embedded(&dir.path().join("in-process"), Arc::new(webtrigger::ports::SystemClock))?;
    state.limits = config()?.limits;
    state.ensure_queues().await?;
    let app = webtrigger::http::api(webtrigger::local::all_routes(), state.clone(), None);
    let (targets, _) = setup(|path, token, body| {
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
        let (path, headers, body) = trigger_call(&targets, n);
        let mut req = Request::post(path);
        for (k, v) in headers {
            req = req.header(k, v);
        }
        let req = req.body(Body::from(body))?;
        let t = Instant::now();
        let r = app.clone().oneshot(req).await?;
        samples.push(t.elapsed());
        assert_eq!(r.status(), 202);
    }
    report("trigger, in-process (router)", samples);

    // Over loopback, intake only, then the same with `WEBTRIGGER_SQLITE_SYNC=normal` (commits not fsynced).
    loopback_phases("", &dir.path().join("intake"), Durability::Full, &fake, &http).await?;
    loopback_phases("sync=normal: ", &dir.path().join("intake-normal"), Durability::Normal, &fake, &http).await?;

    // `webtrigger serve` itself: the same load while its workers fan out what it queues.
    let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let opts = ServeOptions { data_dir: dir.path().join("serve"), addr: ([127, 0, 0, 1], port).into(), static_dir: None, drain_timeout: Duration::from_secs(5), config: config()?, allow_push_hosts: Vec::new() };
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        serve(opts, async move {
            let _ = stop_rx.await;
        })
        .await
    });
    let base = format!("http://127.0.0.1:{port}");
    wait_up(&http, &base).await;
    let (targets, _) = http_setup(&http, &base).await?;
    load("trigger on `serve`, workers running", CONCURRENCY, &http, &base, (0..LOAD / 2).map(|n| trigger_call(&targets, 3_000_000 + n)).collect(), 202, None).await;
    let _ = stop_tx.send(());
    server.await??;
    Ok(())
}
