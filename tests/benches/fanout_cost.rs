//! Fan-out economics: one notification to 1k, 10k and 100k subscribers on the embedded backend, the real
//! worker delivering to a loopback push service, with the Table, Queue and Keyring ports wrapped in the
//! counting decorator. Prints the AWS requests per 1,000 pushes by the operation each call becomes on the
//! AWS adapters, their list-price cost per million pushes, the CPU time per deliver job, and the time to
//! reach 1M subscribers it projects for 100 concurrent workers.
//! With `FANOUT_NOBODY=1` each notification targets a tag no subscriber has, and the requests of that
//! fan-out are printed per notification.
//! Run: `cargo bench -p webtrigger-tests --bench fanout_cost` (`FANOUT_SIZES=1000,10000` to pick sizes).

#[path = "../tests/api/client.rs"]
mod client;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_lc_rs::agreement::{PrivateKey, ECDH_P256};
use aws_lc_rs::encoding::{AsBigEndian, EcPublicKeyUncompressedBin};
use axum::routing::post;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use futures_util::StreamExt;
use serde_json::json;
use webtrigger::ports::counting::{list_price, CountingKeyring, CountingQueue, CountingTable, Counts};
use webtrigger::push::notifications::{notification_key, NotificationId};
use webtrigger::push::sites::SiteId;
use webtrigger::push::subscribers::{subscribe, SubscribeRequest};
use webtrigger::push::types::EndpointPolicy;
use webtrigger::auth::WorkspaceId;
use webtrigger_tests::cpu::{process_cpu, task_cpu};

/// Lambda x86 price per GB-second, at 1,769 MB (one full vCPU).
const LAMBDA_GB_SECOND: f64 = 0.000_016_666_7;
const LAMBDA_GB: f64 = 1.769;
const WORKERS: f64 = 100.0;

struct Sink {
    host: String,
    tid: String,
    received: Arc<AtomicU64>,
}

/// The push service: answers 201 to everything, on its own thread so its CPU can be told apart.
fn start_sink() -> Sink {
    let received = Arc::new(AtomicU64::new(0));
    let counter = received.clone();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let tid = std::fs::read_link("/proc/thread-self").ok().and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned())).unwrap_or_default();
        tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send((listener.local_addr().unwrap().to_string(), tid)).unwrap();
            let app = axum::Router::new().route("/push/{id}", post(move |_body: axum::body::Bytes| {
                counter.fetch_add(1, Ordering::Relaxed);
                async { axum::http::StatusCode::CREATED }
            }));
            axum::serve(listener, app).await.unwrap();
        });
    });
    let (host, tid) = rx.recv().expect("sink started");
    Sink { host, tid, received }
}

struct Run {
    pushes: u64,
    counts: std::collections::BTreeMap<&'static str, webtrigger::ports::counting::OpCount>,
    deliver_jobs: i64,
    cpu: Duration,
    wall: Duration,
    /// Size of the notification record the counters are added to (billed per started KB).
    record_bytes: u64,
}

async fn run(size: usize, sink: &Sink, nobody: bool) -> anyhow::Result<Run> {
    let (mut state, _dir) = webtrigger_tests::embedded_state().await;
    let counts = Counts::default();
    let raw_table = state.table.clone();
    let raw_queue = state.queue.clone();
    // As on AWS: the record, its outbox entry and the queue sends are separate requests.
    state.transact_and_send = None;
    state.table = Arc::new(CountingTable::new(state.table.clone(), counts.clone()));
    state.queue = Arc::new(CountingQueue::new(state.queue.clone(), counts.clone()));
    state.keyring = Arc::new(CountingKeyring::new(state.keyring.clone(), counts.clone()));
    let policy = EndpointPolicy { extra_hosts: vec![sink.host.clone()] };
    state.push = Arc::new(webtrigger::push::PushRuntime { policy: policy.clone(), ..Default::default() });

    let mut ada = client::Client::new(state.clone());
    ada.sign_up("ada@example.com").await;
    let ws = ada.create_workspace("Shop").await;
    let site = ada.post(&format!("/v1/workspaces/{ws}/sites"), json!({"name": "Shop", "allowed_origins": ["https://shop.example.com"], "contact": "mailto:ops@example.com"})).await;
    let site_id = site.data()["id"].as_str().unwrap().to_owned();
    let (ws_id, site_key_id) = (WorkspaceId::parse(&ws).unwrap(), SiteId::parse(&site_id).unwrap());

    // One browser key for all subscribers: the sink does not decrypt, and key generation is not measured.
    let key = PrivateKey::generate(&ECDH_P256).unwrap();
    let public: EcPublicKeyUncompressedBin = key.compute_public_key().unwrap().as_be_bytes().unwrap();
    let p256dh = URL_SAFE_NO_PAD.encode(public.as_ref());
    let auth = URL_SAFE_NO_PAD.encode([7u8; 16]);
    futures_util::stream::iter(0..size)
        .map(|i| {
            let req: SubscribeRequest = serde_json::from_value(json!({
                "subscription": {"endpoint": format!("http://{}/push/{i:07}-{}", sink.host, "x".repeat(120)), "keys": {"p256dh": p256dh, "auth": auth}},
                "browser": "Chrome", "os": "Android", "language": "en", "timezone": "Europe/Berlin", "tags": ["news"],
            }))
            .unwrap();
            let (state, policy, ws_id, site_key_id) = (&state, &policy, &ws_id, &site_key_id);
            async move { subscribe(state, policy, ws_id, site_key_id, &req).await.map(|_| ()) }
        })
        .buffer_unordered(8)
        .for_each(|r| {
            r.expect("subscribed");
            std::future::ready(())
        })
        .await;

    // Subscribing 100k on a debug build outlasts the 10-minute access token.
    ada.refresh().await;
    let before = sink.received.load(Ordering::Relaxed);
    counts.reset();
    let (cpu0, sink0, t0) = (process_cpu(), task_cpu(&sink.tid), Instant::now());
    let target = if nobody { json!({"type": "tags", "tags": ["nobody-has-this"]}) } else { json!({"type": "all"}) };
    let sent = ada.post(&format!("/v1/workspaces/{ws}/sites/{site_id}/notifications"), json!({"title": "Sale!", "body": "50% off everything today only", "url": "https://shop.example.com/sale", "target": target})).await;
    let notification = sent.data()["id"].as_str().unwrap().to_owned();
    let queue = webtrigger::queues::push_send();
    let worker = webtrigger::push::worker::PushWorker;
    loop {
        let n = webtrigger::local::poll_once(&state, &queue, &worker, Duration::ZERO).await?;
        if n == 0 && raw_queue.depth(&queue.name).await? == 0 {
            break;
        }
        if n == 0 {
            // A job parked with a delay (none are expected against a sink that accepts everything).
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    let wall = t0.elapsed();
    let cpu = process_cpu().saturating_sub(cpu0).saturating_sub(task_cpu(&sink.tid).saturating_sub(sink0));
    let snapshot = counts.snapshot();

    let record = raw_table.get(&notification_key(&ws_id, &site_key_id, &NotificationId::parse(&notification).unwrap())).await?.expect("notification record");
    let stat = |c: &str| record.attrs.get(c).and_then(|v| v.as_i64()).unwrap_or(0);
    let expected = if nobody { 0 } else { size };
    anyhow::ensure!(stat("accepted") == expected as i64, "every push accepted: {:?}", record.attrs);
    let view = ada.get(&format!("/v1/workspaces/{ws}/sites/{site_id}/notifications/{notification}")).await;
    anyhow::ensure!(view.data()["status"] == "completed", "notification completed: {}", view.body);
    let pushes = sink.received.load(Ordering::Relaxed) - before;
    anyhow::ensure!(pushes == expected as u64, "the sink saw {pushes} pushes for {expected} subscribers");
    let record_bytes = webtrigger::ports::counting::item_size(&record);
    Ok(Run { pushes, counts: snapshot, deliver_jobs: stat("jobs_total"), cpu, wall, record_bytes })
}

/// A fan-out that matched nobody: its AWS requests and cost for the one notification.
fn report_nobody(size: usize, r: &Run) {
    println!("\n== {size} subscribers, target matching nobody: {:.2} s wall, notification record {} bytes ==", r.wall.as_secs_f64(), r.record_bytes);
    println!("{:<40} {:>10} {:>10} {:>12}", "AWS operation", "requests", "units", "$");
    let (mut requests, mut dollars) = (0u64, 0.0);
    for (op, c) in &r.counts {
        let cost = c.units as f64 * list_price(op);
        requests += c.requests;
        dollars += cost;
        println!("{:<40} {:>10} {:>10} {:>12.8}", op, c.requests, c.units, cost);
    }
    println!("{:<40} {:>10} {:>10} {:>12.8}", "total AWS requests", requests, "", dollars);
}

fn report(size: usize, r: &Run) {
    if r.pushes == 0 {
        return report_nobody(size, r);
    }
    let per_k = 1000.0 / r.pushes as f64;
    let per_m = 1e6 / r.pushes as f64;
    println!("\n== {size} subscribers: {} pushes in {} deliver jobs, {:.2} s wall, notification record {} bytes ==", r.pushes, r.deliver_jobs, r.wall.as_secs_f64(), r.record_bytes);
    println!("{:<40} {:>12} {:>14} {:>14}", "AWS operation", "req/1k push", "units/1k push", "$ per 1M push");
    let (mut requests, mut dollars) = (0u64, 0.0);
    for (op, c) in &r.counts {
        let cost = c.units as f64 * list_price(op) * per_m;
        requests += c.requests;
        dollars += cost;
        println!("{:<40} {:>12.2} {:>14.2} {:>14.4}", op, c.requests as f64 * per_k, c.units as f64 * per_k, cost);
    }
    println!("{:<40} {:>12.2} {:>14} {:>14.4}", "total AWS requests", requests as f64 * per_k, "", dollars);
    let cpu_per_job = r.cpu.as_secs_f64() / r.deliver_jobs.max(1) as f64;
    let cpu_per_push = r.cpu.as_secs_f64() / r.pushes as f64;
    let lambda = cpu_per_push * LAMBDA_GB * LAMBDA_GB_SECOND * 1e6;
    println!("CPU (fan-out + deliver + embedded store, sink excluded): {:.1} ms per deliver job of {:.0} pushes, {:.1} µs per push", cpu_per_job * 1e3, r.pushes as f64 / r.deliver_jobs.max(1) as f64, cpu_per_push * 1e6);
    println!("Lambda compute at 1 vCPU: ${lambda:.4} per 1M pushes; all in: ${:.4} per 1M pushes", lambda + dollars);
    println!("projected time to 1M subscribers with {WORKERS} concurrent workers (CPU-bound): {:.1} s", 1e6 * cpu_per_push / WORKERS);
}

fn main() -> anyhow::Result<()> {
    let sizes: Vec<usize> = std::env::var("FANOUT_SIZES").ok().map(|s| s.split(',').filter_map(|v| v.trim().parse().ok()).collect()).unwrap_or_else(|| vec![1_000, 10_000, 100_000]);
    let nobody = std::env::var("FANOUT_NOBODY").is_ok_and(|v| v == "1");
    let sink = start_sink();
    println!("fan-out cost: one notification (target all) per size, embedded backend, one push-service origin on loopback");
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    for size in sizes {
        let r = runtime.block_on(run(size, &sink, nobody))?;
        report(size, &r);
    }
    Ok(())
}
