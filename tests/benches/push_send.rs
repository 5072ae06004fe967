//! Web Push sending throughput: the worker's code (encrypt per message, VAPID JWT cached per origin, one
//! pooled HTTP client, 16 in flight) on one core, side by side with Node's `web-push` (what the seeds
//! use) doing the same job against the same loopback sink. Also: encryption alone, and the worker
//! binary's release size when it has been built. Run: `cargo bench -p webtrigger-tests --bench push_send`.
//! The crypto floor (one P-256 key generation + ECDH + the HKDF chain + AES-128-GCM, on aws-lc-rs, the
//! library the sender uses) is timed in the same run, so the sender's share of it does not depend on the machine's load.
//! `PUSH_BENCH_MESSAGES=n` (default 4000) and `PUSH_BENCH_PHASES=floor,encrypt,send,node` (default all;
//! `none` runs only the setup) let `valgrind --tool=callgrind` count instructions per phase by difference.

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
use webtrigger_tests::cpu::thread_cpu;

/// One message's worth of the primitives Web Push needs, nothing else: the floor the sender is measured against.
#[inline(never)]
fn floor_aws_lc(ua_public: &[u8; 65], auth: &[u8; 16], salt: &[u8; 16], plaintext: &[u8]) -> usize {
    use aws_lc_rs::{aead, agreement, hmac};
    let private = agreement::PrivateKey::generate(&ECDH_P256).unwrap();
    let public = private.compute_public_key().unwrap();
    let secret = agreement::agree(&private, agreement::UnparsedPublicKey::new(&ECDH_P256, ua_public), (), |s| Ok(<[u8; 32]>::try_from(s).unwrap())).unwrap();
    fn mac(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
        let mut ctx = hmac::Context::with_key(&hmac::Key::new(hmac::HMAC_SHA256, key));
        parts.iter().for_each(|p| ctx.update(p));
        <[u8; 32]>::try_from(ctx.sign().as_ref()).unwrap()
    }
    let prk_key = mac(auth, &[&secret]);
    let ikm = mac(&prk_key, &[b"WebPush: info\0", ua_public, public.as_ref(), &[1]]);
    let prk = mac(salt, &[&ikm]);
    let cek = mac(&prk, &[b"Content-Encoding: aes128gcm\0", &[1]]);
    let nonce = mac(&prk, &[b"Content-Encoding: nonce\0", &[1]]);
    let key = aead::LessSafeKey::new(aead::UnboundKey::new(&aead::AES_128_GCM, &cek[..16]).unwrap());
    let mut record = Vec::with_capacity(plaintext.len() + 17);
    record.extend_from_slice(plaintext);
    record.push(2);
    key.seal_in_place_append_tag(aead::Nonce::try_assume_unique_for_key(&nonce[..12]).unwrap(), aead::Aad::empty(), &mut record).unwrap();
    record.len()
}

/// Seconds per call of `f`, over `n` calls: wall clock, and the calling thread's CPU time.
fn per_call(n: usize, mut f: impl FnMut(usize)) -> (f64, f64) {
    let (t, cpu) = (Instant::now(), thread_cpu());
    (0..n).for_each(&mut f);
    (t.elapsed().as_secs_f64() / n as f64, (thread_cpu() - cpu).as_secs_f64() / n as f64)
}

fn main() -> anyhow::Result<()> {
    let messages: usize = std::env::var("PUSH_BENCH_MESSAGES").ok().and_then(|v| v.parse().ok()).unwrap_or(4000);
    let phases = std::env::var("PUSH_BENCH_PHASES").unwrap_or_else(|_| "floor,encrypt,send,node".into());
    let phase = |name: &str| phases.split(',').any(|p| p.trim() == name);
    run(messages, &phase)
}

fn run(messages: usize, phase: &dyn Fn(&str) -> bool) -> anyhow::Result<()> {

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

    let mut subs = Vec::with_capacity(messages);
    for i in 0..messages {
        let key = PrivateKey::generate(&ECDH_P256).unwrap();
        let public: EcPublicKeyUncompressedBin = key.compute_public_key().unwrap().as_be_bytes().unwrap();
        let mut auth = [0u8; 16];
        aws_lc_rs::rand::fill(&mut auth).unwrap();
        let p256dh = URL_SAFE_NO_PAD.encode(public.as_ref());
        subs.push(PushSubscription::parse(&format!("http://{host}/push/{i}"), &p256dh, &URL_SAFE_NO_PAD.encode(auth), &policy).map_err(|e| anyhow::anyhow!("{e}"))?);
    }
    let (vapid, scalar) = VapidKey::generate()?;
    let payload = json!({"title": "Sale!", "body": "50% off everything today only", "url": "https://shop.example.com/sale?utm_source=webtrigger", "data": {"notification_id": "ntf_01jd5x8q0y8m3n2b7c4v6w9z1a"}}).to_string();

    println!("Web Push send benchmark: {messages} messages, {}-byte payload, 16 in flight, loopback sink", payload.len());
    let keys: Vec<([u8; 65], [u8; 16])> = subs.iter().map(PushSubscription::key_bytes).collect();
    let salt = [7u8; 16];
    let (mut floor, mut floor_cpu) = (f64::INFINITY, f64::INFINITY);
    if phase("floor") {
        (floor, floor_cpu) = per_call(messages, |i| {
            std::hint::black_box(floor_aws_lc(&keys[i].0, &keys[i].1, &salt, payload.as_bytes()));
        });
        println!("{:<48} {:>9.1} µs/msg {:>10.0} msg/s  ({:.1} µs of CPU)", "floor: aws-lc-rs keygen+ECDH+HKDF+AES-GCM", floor * 1e6, 1.0 / floor, floor_cpu * 1e6);
    }
    if phase("encrypt") {
        let (per, cpu) = per_call(messages, |i| {
            std::hint::black_box(encrypt(&keys[i].0, &keys[i].1, payload.as_bytes()).unwrap());
        });
        println!("{:<48} {:>9.1} µs/msg {:>10.0} msg/s  ({:.1} µs of CPU)", "rust: aes128gcm encryption only", per * 1e6, 1.0 / per, cpu * 1e6);
    }
    if !phase("send") {
        return Ok(());
    }

    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let cpu_before = thread_cpu();
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
        assert_eq!(accepted, messages, "every push accepted by the sink");
        messages as f64 / started.elapsed().as_secs_f64()
    });
    // The runtime is this thread; the sink and the kernel's loopback work on the other core are not counted.
    let per_cpu_second = messages as f64 / (thread_cpu() - cpu_before).as_secs_f64();
    println!("{:<48} {:>10.0} pushes/s on one core", "rust: worker sender (encrypt + cached VAPID + POST)", rust_rate);
    println!("{:<48} {:>10.0} pushes per CPU-second of the sender's thread", "", per_cpu_second);
    if floor.is_finite() {
        println!("{:<48} {:>10.0} % (per CPU-second: {:.0} %)", "sender rate / floor rate (same run)", rust_rate * floor * 100.0, per_cpu_second * floor_cpu * 100.0);
    }
    if !phase("node") {
        return Ok(());
    }

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
    assert_eq!(received.load(Ordering::Relaxed) - before, messages as u64, "the sink saw every Node push");
    println!("{:<48} {:>10.0} pushes/s on one core", "node: web-push 3.6.7 (generateRequestDetails + POST)", node_rate);
    println!("{:<48} {:>10.1}x", "ratio rust / node", rust_rate / node_rate);

    let binary = webtrigger_tests::workspace_file("target/release/worker-push-send");
    match std::fs::metadata(&binary) {
        Ok(m) => println!("{:<48} {:>10.1} MB (x86_64, stripped)", "worker-push-send release binary", m.len() as f64 / 1e6),
        Err(_) => println!("worker-push-send release binary: not built (cargo build --release -p worker-push-send)"),
    }
    Ok(())
}
