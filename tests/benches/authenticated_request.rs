//! Cost of one authenticated request on the local binary's code: token verification alone, opening a
//! workspace (member read + rate-limit bucket), a full request through the router in-process, and
//! requests over loopback to `local::serve` (sequential latency and throughput at concurrency 8).
//! Run: `cargo bench -p webtrigger-tests --bench authenticated_request`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::Request;
use serde_json::{json, Value};
use tower::ServiceExt;
use webtrigger::auth::{open_workspace, principal::authenticate};
use webtrigger_tests::latency::report;
use webtrigger::config::{Config, RateLimits};
use webtrigger::local::{serve, ServeOptions};
use webtrigger::ports::SystemClock;
use webtrigger::AppState;

async fn timed<F: std::future::Future<Output = ()>>(n: usize, mut f: impl FnMut() -> F) -> Vec<Duration> {
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        f().await;
        out.push(t.elapsed());
    }
    out
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let mut config = Config::from_vars(Vec::new())?;
    config.limits = RateLimits { workspace_per_minute: 1_000_000, api_key_per_minute: 1_000_000 };
    let opts = ServeOptions { data_dir: dir.path().join("data"), addr: ([127, 0, 0, 1], port).into(), static_dir: None, drain_timeout: Duration::from_secs(5), config: config.clone(), allow_push_hosts: Vec::new() };
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve(opts, async move {
        let _ = stop_rx.await;
    }));
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    while http.get(format!("{base}/v1/health")).send().await.is_err() {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let signup: Value = http.post(format!("{base}/v1/auth/signup")).json(&json!({"email": "bench@example.com", "password": "correct horse battery"})).send().await?.json().await?;
    let token = signup["data"]["access_token"].as_str().expect("token").to_owned();
    let ws: Value = http.post(format!("{base}/v1/workspaces")).bearer_auth(&token).json(&json!({"name": "Bench"})).send().await?.json().await?;
    let ws_id = ws["data"]["id"].as_str().expect("workspace").to_owned();
    let url = format!("{base}/v1/workspaces/{ws_id}");

    println!("authenticated request cost (embedded backend, {} build)", if cfg!(debug_assertions) { "DEBUG" } else { "release" });
    // Component timings on a second, private data directory with the same user and workspace.
    let mut state = AppState::embedded(&dir.path().join("components"), Arc::new(SystemClock))?;
    state.limits = config.limits;
    let session = webtrigger::auth::accounts::sign_up(&state, "bench@example.com", "correct horse battery", "bench").await.expect("sign up");
    let principal = webtrigger::auth::Principal::User { user_id: session.user_id.clone(), session_id: session.session_id.clone() };
    let meta = webtrigger::auth::RequestMeta { ip: "127.0.0.1".into(), user_agent: "bench".into() };
    let local_ws = webtrigger::workspaces::members::create(&state, &principal, &meta, "Bench").await.expect("workspace").id.to_string();
    let local_token = session.access_token;
    let headers = {
        let mut h = axum::http::HeaderMap::new();
        h.insert("authorization", format!("Bearer {local_token}").parse()?);
        h
    };
    assert_eq!(authenticate(&state, &headers).await.expect("valid token"), principal);
    report("token verify (HS256, cached key)", timed(20_000, || async { authenticate(&state, &headers).await.unwrap(); }).await);
    report("workspace open (member read + bucket)", timed(5_000, || async { open_workspace(&state, &principal, &local_ws).await.unwrap(); }).await);
    let app = webtrigger::http::api(webtrigger::local::all_routes(), state.clone(), None);
    report(
        "GET /v1/workspaces/{ws} in-process (router)",
        timed(5_000, || {
            let req = Request::get(format!("/v1/workspaces/{local_ws}")).header("authorization", format!("Bearer {local_token}")).body(Body::empty()).unwrap();
            let app = app.clone();
            async move { assert_eq!(app.oneshot(req).await.unwrap().status(), 200) }
        })
        .await,
    );
    report("GET /v1/workspaces/{ws} over loopback", timed(3_000, || async { assert_eq!(http.get(&url).bearer_auth(&token).send().await.unwrap().status(), 200) }).await);

    let started = Instant::now();
    let per_task = 500;
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let (http, url, token) = (http.clone(), url.clone(), token.clone());
            tokio::spawn(async move {
                for _ in 0..per_task {
                    assert_eq!(http.get(&url).bearer_auth(&token).send().await.unwrap().status(), 200);
                }
            })
        })
        .collect();
    for t in tasks {
        t.await?;
    }
    let secs = started.elapsed().as_secs_f64();
    println!("{:<44} {:>8.0} requests/s at concurrency 8 ({} requests)", "GET /v1/workspaces/{ws} over loopback", (8 * per_task) as f64 / secs, 8 * per_task);
    let _ = stop_tx.send(());
    server.await??;
    Ok(())
}
