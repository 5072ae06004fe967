//! Web Push sending throughput: the worker's code (encrypt per message, VAPID JWT cached per origin, one
//! pooled HTTP client, 16 in flight) on one core, side by side with Node's `web-push` (what the seeds
//! use) doing the same job against the same loopback sink. Also: encryption alone, and the worker
//! binary's release size when it has been built. Run: `cargo bench -p webtrigger-tests --bench push_send`.

use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use aws_lc_rs::agreement::{PrivateKey, ECDH_P256};
use aws_lc_rs::encoding::{AsBigEndian, EcPublicKeyUncompressedBin};
use axum::routing::post;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use futures_util::StreamExt;
use serde_json::json;
use webtrigger::push::crypto::{encrypt, VapidKey};
use webtrigger::push::sender::{Delivery, PushSender};
use webtrigger::push::types::{EndpointPolicy, PushSubscription, Urgency};

const MESSAGES: usize = 4000;

fn main() -> anyhow::Result<()> {
    // The sink runs on its own thread so the sender's runtime below is one core's worth of work.
    let received = Arc::new(AtomicU64::new(0));
    let counter = received.clone();
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            addr_tx.send(listener.local_addr().unwrap()).unwrap();
            let app = axum::Router::new().route("/push/{id}", post(move |_body: axum::body::Bytes| {
                counter.fetch_add(1, Ordering::Relaxed);
                async { axum::http::StatusCode::CREATED }
            }));
            axum::serve(listener, app).await.unwrap();
        });
    });
    let addr = addr_rx.recv()?;
    let host = addr.to_string();
    let policy = EndpointPolicy { extra_hosts: vec![host.clone()] };

    let mut subs = Vec::with_capacity(MESSAGES);
    for i in 0..MESSAGES {
        let key = PrivateKey::generate(&ECDH_P256).unwrap();
        let public: EcPublicKeyUncompressedBin = key.compute_public_key().unwrap().as_be_bytes().unwrap();
        let mut auth = [0u8; 16];
        aws_lc_rs::rand::fill(&mut auth).unwrap();
        let p256dh = URL_SAFE_NO_PAD.encode(public.as_ref());
        subs.push(PushSubscription::parse(&format!("http://{host}/push/{i}"), &p256dh, &URL_SAFE_NO_PAD.encode(auth), &policy).map_err(|e| anyhow::anyhow!("{e}"))?);
    }
    let (vapid, scalar) = VapidKey::generate()?;
    let payload = json!({"title": "Sale!", "body": "50% off everything today only", "url": "https://shop.example.com/sale?utm_source=webtrigger", "data": {"notification_id": "ntf_01jd5x8q0y8m3n2b7c4v6w9z1a"}}).to_string();

    println!("Web Push send benchmark: {MESSAGES} messages, {}-byte payload, 16 in flight, loopback sink", payload.len());
    let (p256dh, auth) = subs[0].key_bytes();
    let t = Instant::now();
    for _ in 0..MESSAGES {
        encrypt(&p256dh, &auth, payload.as_bytes())?;
    }
    let per = t.elapsed().as_secs_f64() / MESSAGES as f64;
    println!("{:<48} {:>9.1} µs/msg {:>10.0} msg/s", "rust: aes128gcm encryption only", per * 1e6, 1.0 / per);

    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let rust_rate = runtime.block_on(async {
        let sender = PushSender::new();
        let delivery = Delivery { payload: payload.as_bytes(), ttl_seconds: 3600, urgency: Urgency::Normal, topic: None };
        let now = chrono::Utc::now();
        let started = Instant::now();
        let accepted = futures_util::stream::iter(&subs)
            .map(|s| sender.send(s, &vapid, "mailto:ops@example.com", &delivery, now))
            .buffer_unordered(16)
            .filter(|o| std::future::ready(*o == webtrigger::push::outcome::Outcome::Accepted))
            .count()
            .await;
        assert_eq!(accepted, MESSAGES, "every push accepted by the sink");
        MESSAGES as f64 / started.elapsed().as_secs_f64()
    });
    println!("{:<48} {:>10.0} pushes/s on one core", "rust: worker sender (encrypt + cached VAPID + POST)", rust_rate);

    let node_dir = webtrigger_tests::workspace_file("tests/bench-node");
    if !node_dir.join("node_modules/web-push").is_dir() {
        let ok = Command::new("npm").args(["ci", "--no-audit", "--no-fund", "--loglevel=error"]).current_dir(&node_dir).status()?.success();
        anyhow::ensure!(ok, "npm ci in tests/bench-node failed");
    }
    let file = std::env::temp_dir().join(format!("push-bench-{}.json", std::process::id()));
    let node_subs: Vec<_> = subs.iter().map(|s| json!({"endpoint": s.endpoint, "keys": {"p256dh": s.p256dh, "auth": s.auth}})).collect();
    let public = vapid.public_key().to_owned();
    let private = URL_SAFE_NO_PAD.encode(&scalar);
    std::fs::write(&file, json!({"subscriptions": node_subs, "payload": payload, "vapid": {"subject": "mailto:ops@example.com", "publicKey": public, "privateKey": private}}).to_string())?;
    let before = received.load(Ordering::Relaxed);
    let out = Command::new("node").arg(node_dir.join("push-bench.mjs")).arg(&file).arg("16").output()?;
    let _ = std::fs::remove_file(&file);
    anyhow::ensure!(out.status.success(), "node bench failed: {}", String::from_utf8_lossy(&out.stderr));
    let node: serde_json::Value = serde_json::from_slice(&out.stdout)?;
    let node_rate = node["per_second"].as_f64().unwrap_or(0.0);
    assert_eq!(received.load(Ordering::Relaxed) - before, MESSAGES as u64, "the sink saw every Node push");
    println!("{:<48} {:>10.0} pushes/s on one core", "node: web-push 3.6.7 (generateRequestDetails + POST)", node_rate);
    println!("{:<48} {:>10.1}x", "ratio rust / node", rust_rate / node_rate);

    let binary = webtrigger_tests::workspace_file("target/release/worker-push-send");
    match std::fs::metadata(&binary) {
        Ok(m) => println!("{:<48} {:>10.1} MB (x86_64, stripped)", "worker-push-send release binary", m.len() as f64 / 1e6),
        Err(_) => println!("worker-push-send release binary: not built (cargo build --release -p worker-push-send)"),
    }
    Ok(())
}
