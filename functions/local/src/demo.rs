//! `webtrigger demo`: fills a fresh data directory with a realistic workspace so every screen has
//! something to show. It runs the real server in-process on loopback and creates everything through the
//! public API (so every rule and counter applies, nothing is written to tables directly): push
//! subscribers on a loopback push service that accepts every message, WhatsApp conversations from signed
//! Meta webhooks, trigger invocations from real calls.

use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context};
use aws_lc_rs::{agreement, hmac, rand::SecureRandom};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Value};
use webtrigger::config::{BackendConfig, Config};
use webtrigger::local::{serve, ServeOptions};

const OWNER: &str = "owner@demo.example.com";
const SHOP: &str = "https://shop.example.com";
const APP_SECRET: &str = "demo-app-secret-0123456789abcdef";
const PHONE_NUMBER_ID: &str = "106540352242922";
const CUSTOMERS: [(&str, &str, &str); 4] = [
    ("Sheena Nelson", "16505551234", "Hi! Is my order #1042 on its way?"),
    ("Tomás García", "34612345678", "Do you have gluten-free bread today?"),
    ("Aiko Tanaka", "81312345678", "quote"),
    ("Lena Fischer", "4915112345678", "Can I change my delivery address?"),
];

/// A data directory the demo may fill: missing, or empty.
fn check_fresh(dir: &Path) -> anyhow::Result<()> {
    if dir.exists() && std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))?.next().is_some() {
        bail!("{} already has data; the demo fills only a fresh install (pass an empty or new --data-dir)", dir.display());
    }
    Ok(())
}

fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?.local_addr()?.port())
}

/// A push service on loopback that accepts every message (201), as FCM would.
async fn push_fake() -> anyhow::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
    let addr = listener.local_addr()?;
    let app = axum::Router::new().fallback(|| async { axum::http::StatusCode::CREATED });
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(addr)
}

struct Api {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Api {
    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> anyhow::Result<Value> {
        let mut req = self.http.request(method.clone(), format!("{}{path}", self.base)).bearer_auth(&self.token);
        if let Some(body) = body {
            req = req.json(&body);
        }
        let res = req.send().await.with_context(|| format!("{method} {path}"))?;
        let status = res.status();
        let json: Value = res.json().await.with_context(|| format!("{method} {path}: not JSON"))?;
        if !status.is_success() || json["success"] != true {
            bail!("{method} {path} answered {status}: {json}");
        }
        Ok(json["data"].clone())
    }

    async fn post(&self, path: &str, body: Value) -> anyhow::Result<Value> {
        self.call(reqwest::Method::POST, path, Some(body)).await
    }

    async fn get(&self, path: &str) -> anyhow::Result<Value> {
        self.call(reqwest::Method::GET, path, None).await
    }
}

fn str_of<'a>(v: &'a Value, field: &str) -> anyhow::Result<&'a str> {
    v[field].as_str().with_context(|| format!("no `{field}` in {v}"))
}

/// A browser-like push subscription: a real P-256 public key and auth secret, on the loopback service.
fn subscription(push: SocketAddr, n: usize) -> anyhow::Result<Value> {
    let rng = aws_lc_rs::rand::SystemRandom::new();
    let key = agreement::PrivateKey::generate(&agreement::ECDH_P256).map_err(|_| anyhow::anyhow!("P-256 key generation failed"))?;
    let public = key.compute_public_key().map_err(|_| anyhow::anyhow!("P-256 public key failed"))?;
    let mut auth = [0u8; 16];
    rng.fill(&mut auth).map_err(|_| anyhow::anyhow!("no randomness"))?;
    let (browser, language, timezone, tags) = match n % 3 {
        0 => ("Chrome", "en-GB", "Europe/London", json!(["newsletter"])),
        1 => ("Firefox", "de-DE", "Europe/Berlin", json!(["vip", "newsletter"])),
        _ => ("Edge", "es-ES", "Europe/Madrid", json!([])),
    };
    Ok(json!({
        "subscription": { "endpoint": format!("http://{push}/push/demo-{n}"), "keys": { "p256dh": URL_SAFE_NO_PAD.encode(public.as_ref()), "auth": URL_SAFE_NO_PAD.encode(auth) } },
        "browser": browser, "language": language, "timezone": timezone, "tags": tags,
    }))
}

fn inbound(id: &str, name: &str, wa_id: &str, text: &str) -> String {
    json!({ "object": "whatsapp_business_account", "entry": [{ "id": "102290129340398", "changes": [{ "field": "messages", "value": {
        "messaging_product": "whatsapp", "metadata": { "display_phone_number": "15550783881", "phone_number_id": PHONE_NUMBER_ID },
        "contacts": [{ "profile": { "name": name }, "wa_id": wa_id }],
        "messages": [{ "from": wa_id, "id": id, "timestamp": chrono_now().to_string(), "type": "text", "text": { "body": text } }] } }] }] })
    .to_string()
}

fn chrono_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// Fills `data_dir` (which must be fresh) and prints how to sign in.
pub async fn demo(data_dir: PathBuf) -> anyhow::Result<()> {
    check_fresh(&data_dir)?;
    let push = push_fake().await?;
    let port = free_port()?;
    let mut config = Config::from_env()?;
    config.backend = BackendConfig::Embedded { data_dir: data_dir.clone(), durability: Default::default() };
    // Meta's API at a closed port: the demo never reaches the internet.
    config.providers.meta = "http://127.0.0.1:9/v23.0".into();
    let opts = ServeOptions { data_dir: data_dir.clone(), addr: SocketAddr::from((Ipv4Addr::LOCALHOST, port)), static_dir: None, drain_timeout: Duration::from_secs(10), config, allow_push_hosts: vec![push.to_string()] };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve(opts, async {
        let _ = stopped.await;
    }));
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    wait_until(|| async { http.get(format!("{base}/v1/health")).send().await.is_ok_and(|r| r.status().is_success()) }, "the server to start").await?;

    let password = format!("demo-{}", &URL_SAFE_NO_PAD.encode(webtrigger::crypto::random_bytes::<9>()));
    let signup = Api { http: http.clone(), base: base.clone(), token: String::new() }.post("/v1/auth/signup", json!({"email": OWNER, "password": password})).await?;
    let api = Api { http, base, token: str_of(&signup, "access_token")?.to_owned() };
    let summary = fill(&api, push).await?;

    let _ = stop.send(());
    server.await.context("server task")??;
    println!("Demo workspace ready in {}:", data_dir.display());
    for line in summary {
        println!("  {line}");
    }
    println!("\nStart it with `webtrigger serve --data-dir {}` and log in as:\n  email:    {OWNER}\n  password: {password}", data_dir.display());
    Ok(())
}

async fn wait_until<F, Fut>(mut check: F, what: &str) -> anyhow::Result<()>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..300 {
        if check().await {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!("timed out waiting for {what}")
}

async fn fill(api: &Api, push: SocketAddr) -> anyhow::Result<Vec<String>> {
    let ws = str_of(&api.post("/v1/workspaces", json!({"name": "Demo Bakery"})).await?, "id")?.to_owned();
    api.call(reqwest::Method::PUT, "/v1/me/default-workspace", Some(json!({"workspace_id": ws}))).await?;
    let w = format!("/v1/workspaces/{ws}");
    let mut summary = vec![format!("workspace “Demo Bakery” ({ws})")];

    // Web Push: two sites, subscribers, and two sent notifications with impressions and clicks.
    let site = str_of(&api.post(&format!("{w}/sites"), json!({"name": "Bakery shop", "allowed_origins": [SHOP], "contact": "mailto:ops@demo.example.com"})).await?, "id")?.to_owned();
    api.post(&format!("{w}/sites"), json!({"name": "Bakery blog", "allowed_origins": ["https://blog.example.com"], "contact": "mailto:ops@demo.example.com"})).await?;
    let subscribers = 24;
    for n in 0..subscribers {
        let res = api.http.post(format!("{}/v1/public/sites/{site}/subscriptions", api.base)).header("origin", SHOP).json(&subscription(push, n)?).send().await?;
        if !res.status().is_success() {
            bail!("subscribing demo browser {n} answered {}: {}", res.status(), res.text().await.unwrap_or_default());
        }
    }
    let mut notifications = Vec::new();
    for (title, body, target) in [("Fresh croissants are out", "Warm from the oven until 10:00.", json!({"type": "all"})), ("VIP tasting on Friday", "Reserve your seat for our new sourdough.", json!({"type": "tags", "tags": ["vip"]}))] {
        let n = api.post(&format!("{w}/sites/{site}/notifications"), json!({"title": title, "body": body, "url": format!("{SHOP}/today"), "target": target})).await?;
        notifications.push(str_of(&n, "id")?.to_owned());
    }
    for id in &notifications {
        let path = format!("{w}/sites/{site}/notifications/{id}");
        wait_until(|| async { api.get(&path).await.is_ok_and(|n| n["status"] == "completed") }, "the demo notifications to be sent").await?;
    }
    for (i, id) in notifications.iter().enumerate() {
        for (event, count) in [("impression", 14 - 6 * i), ("click", 5 - 2 * i), ("unsubscribe", 1 - i)] {
            for _ in 0..count {
                let res = api.http.post(format!("{}/v1/public/sites/{site}/notifications/{id}/events", api.base)).header("origin", SHOP).json(&json!({"event": event})).send().await?;
                if !res.status().is_success() {
                    bail!("tracking a demo {event} answered {}", res.status());
                }
            }
        }
    }
    summary.push(format!("2 sites, {subscribers} subscribers, {} sent notifications with impressions and clicks", notifications.len()));

    // WhatsApp: a Meta channel and conversations from signed inbound webhooks.
    let cred = api.post(&format!("{w}/credentials"), json!({"name": "Meta (demo)", "provider": "meta", "access_token": "EAAGdemoaccesstoken0123456789", "app_secret": APP_SECRET, "phone_number_id": PHONE_NUMBER_ID, "waba_id": "102290129340398"})).await?;
    let channel = api.post(&format!("{w}/channels"), json!({"name": "Bakery WhatsApp", "credential_id": str_of(&cred, "id")?})).await?;
    let hook = str_of(&channel, "webhook_path")?.to_owned();
    let key = hmac::Key::new(hmac::HMAC_SHA256, APP_SECRET.as_bytes());
    for (i, (name, wa_id, text)) in CUSTOMERS.iter().enumerate() {
        let body = inbound(&format!("wamid.DEMO{i}"), name, wa_id, text);
        let signature: String = hmac::sign(&key, body.as_bytes()).as_ref().iter().map(|b| format!("{b:02x}")).collect();
        let res = api.http.post(format!("{}{hook}", api.base)).header("content-type", "application/json").header("x-hub-signature-256", format!("sha256={signature}")).body(body).send().await?;
        if !res.status().is_success() {
            bail!("delivering a demo WhatsApp message answered {}", res.status());
        }
    }
    let conversations = CUSTOMERS.len();
    wait_until(|| async { api.get(&format!("{w}/conversations")).await.is_ok_and(|c| inbox_len(&c) >= conversations) }, "the demo conversations").await?;
    summary.push(format!("a WhatsApp channel with {conversations} conversations"));

    // Triggers with invocations, and a published flow.
    let trigger = api.post(&format!("{w}/triggers"), json!({"name": "New order", "auth": "token", "actions": [{"type": "members", "title": "New order {{ body.order.id }}", "body": "{{ body.order.total }} from {{ body.order.customer }}"}]})).await?;
    let (tid, secret) = (str_of(&trigger, "id")?, str_of(&trigger, "secret")?);
    for (id, total, customer) in [("1041", "€18.50", "Sheena"), ("1042", "€7.20", "Tomás"), ("1043", "€32.00", "Aiko")] {
        let res = api.http.post(format!("{}/t/{tid}", api.base)).bearer_auth(secret).json(&json!({"order": {"id": id, "total": total, "customer": customer}})).send().await?;
        if !res.status().is_success() {
            bail!("calling the demo trigger answered {}", res.status());
        }
    }
    summary.push("a trigger “New order” with 3 invocations".into());
    let flow = api.post(&format!("{w}/flows"), demo_flow()).await?;
    api.post(&format!("{w}/flows/{}/publish", str_of(&flow, "id")?), json!({})).await?;
    summary.push("a published flow “Quote bot” (keyword “quote”)".into());
    Ok(summary)
}

fn inbox_len(conversations: &Value) -> usize {
    conversations.as_array().or_else(|| conversations["conversations"].as_array()).or_else(|| conversations["items"].as_array()).map_or(0, Vec::len)
}

fn demo_flow() -> Value {
    json!({
        "name": "Quote bot", "priority": 10,
        "triggers": [{"type": "keyword", "match": "contains", "value": "quote"}],
        "steps": [
            {"id": "welcome", "type": "send_text", "text": "Hi! Let us get you a quote for your event.", "next": "guests"},
            {"id": "guests", "type": "ask", "text": "How many guests?", "into": "guests", "kind": "number", "next": "email"},
            {"id": "email", "type": "ask", "text": "Which email should we send the quote to?", "into": "contact.email", "kind": "email", "next": "done"},
            {"id": "done", "type": "handoff", "note": "Quote request for {{ guests }} guests"},
        ]
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_fresh_directory_is_filled() {
        let dir = tempfile::tempdir().unwrap();
        check_fresh(&dir.path().join("new")).unwrap();
        check_fresh(dir.path()).unwrap();
        std::fs::write(dir.path().join("webtrigger.db"), b"x").unwrap();
        let err = check_fresh(dir.path()).unwrap_err().to_string();
        assert!(err.contains("already has data"), "{err}");
    }
}
