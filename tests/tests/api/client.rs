#![allow(dead_code)]
//! A small client over the full local router (no network): JSON in and out, bearer tokens, and the
//! refresh cookie kept like a browser would.

use axum::body::Body;
use axum::http::{header, Method, Request};
use axum::Router;
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;
use webtrigger::AppState;

pub struct Reply {
    pub status: u16,
    pub body: Value,
    pub headers: axum::http::HeaderMap,
    /// The body as received (files).
    #[allow(dead_code)]
    pub bytes: Vec<u8>,
}

impl Reply {
    pub fn data(&self) -> &Value {
        assert_eq!(self.body["success"], true, "expected success, got {} {}", self.status, self.body);
        &self.body["data"]
    }

    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or_else(|| panic!("no error code in {} {}", self.status, self.body))
    }

    pub fn assert_error(&self, status: u16, code: &str) {
        assert_eq!((self.status, self.code()), (status, code), "{}", self.body);
    }
}

#[derive(Clone)]
pub struct Client {
    app: Router,
    pub token: Option<String>,
    pub cookie: Option<String>,
    pub ip: String,
    pub extra_headers: Vec<(String, String)>,
}

impl Client {
    pub fn new(state: AppState) -> Self {
        let app = webtrigger::http::api(webtrigger::local::all_routes(), state, None);
        Self { app, token: None, cookie: None, ip: "198.51.100.1".into(), extra_headers: Vec::new() }
    }

    pub fn with_token(&self, token: &str) -> Self {
        Self { token: Some(token.to_owned()), cookie: None, ..self.clone() }
    }

    pub async fn call(&mut self, method: Method, path: &str, body: Option<Value>) -> Reply {
        match body {
            Some(v) => self.send(method, path, Body::from(v.to_string()), Some("application/json")).await,
            None => self.send(method, path, Body::empty(), None).await,
        }
    }

    /// Sends raw bytes; the content type comes from `extra_headers`.
    #[allow(dead_code)]
    pub async fn call_raw(&mut self, method: Method, path: &str, body: Vec<u8>) -> Reply {
        self.send(method, path, Body::from(body), None).await
    }

    async fn send(&mut self, method: Method, path: &str, body: Body, content_type: Option<&str>) -> Reply {
        let mut req = Request::builder().method(method).uri(path).header("x-forwarded-for", &self.ip);
        let addr: std::net::SocketAddr = format!("{}:40000", self.ip).parse().unwrap();
        if let Some(t) = &self.token {
            req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        for (name, value) in &self.extra_headers {
            req = req.header(name.as_str(), value.as_str());
        }
        if let Some(c) = &self.cookie {
            req = req.header(header::COOKIE, format!("wt_refresh={c}"));
        }
        if let Some(ct) = content_type {
            req = req.header(header::CONTENT_TYPE, ct);
        }
        let mut request = req.body(body).unwrap();
        request.extensions_mut().insert(axum::extract::ConnectInfo(addr));
        let response = self.app.clone().oneshot(request).await.unwrap();
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        if let Some(set) = headers.get(header::SET_COOKIE).and_then(|v| v.to_str().ok()) {
            let value = set.split(';').next().unwrap().trim_start_matches("wt_refresh=").to_owned();
            self.cookie = (!value.is_empty()).then_some(value);
        }
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let body = if bytes.is_empty() { Value::Null } else { serde_json::from_slice(&bytes).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned())) };
        Reply { status, body, headers, bytes: bytes.to_vec() }
    }

    pub async fn get(&mut self, path: &str) -> Reply {
        self.call(Method::GET, path, None).await
    }

    pub async fn post(&mut self, path: &str, body: Value) -> Reply {
        self.call(Method::POST, path, Some(body)).await
    }

    /// Signs up and keeps the access token and refresh cookie.
    pub async fn sign_up(&mut self, email: &str) -> String {
        let r = self.post("/v1/auth/signup", serde_json::json!({"email": email, "password": "correct horse battery"})).await;
        assert_eq!(r.status, 201, "{}", r.body);
        self.token = Some(r.data()["access_token"].as_str().unwrap().to_owned());
        r.data()["user_id"].as_str().unwrap().to_owned()
    }

    /// A fresh access token from the refresh cookie (after the test clock jumped past its expiry).
    #[allow(dead_code)]
    pub async fn refresh(&mut self) {
        self.token = None;
        let r = self.post("/v1/auth/refresh", serde_json::json!({})).await;
        assert_eq!(r.status, 200, "{}", r.body);
        self.token = Some(r.data()["access_token"].as_str().unwrap().to_owned());
    }

    pub async fn create_workspace(&mut self, name: &str) -> String {
        let r = self.post("/v1/workspaces", serde_json::json!({"name": name})).await;
        assert_eq!(r.status, 201, "{}", r.body);
        r.data()["id"].as_str().unwrap().to_owned()
    }
}

/// A provider fake behind `state`'s WhatsApp runtime (media links under `public_url`) and a signed-up
/// owner of a fresh "Support" workspace: where every provider-facing test starts.
pub async fn provider_world(state: &mut AppState, public_url: Option<&str>) -> (webtrigger_tests::provider_fakes::ProviderFake, Client, String) {
    let fake = webtrigger_tests::provider_fakes::ProviderFake::start().await;
    state.whatsapp = std::sync::Arc::new(webtrigger::whatsapp::WhatsAppRuntime::new(fake.urls()).with_public_url(public_url.map(str::to_owned)));
    let mut owner = Client::new(state.clone());
    owner.sign_up("ada@example.com").await;
    let ws = owner.create_workspace("Support").await;
    (fake, owner, ws)
}

/// Web Push allowed to reach `hosts` (loopback push-service fakes) besides the public push services.
pub fn allow_push_hosts(state: &mut AppState, hosts: Vec<String>) {
    state.push = std::sync::Arc::new(webtrigger::push::PushRuntime { policy: webtrigger::push::types::EndpointPolicy { extra_hosts: hosts }, ..Default::default() });
}

/// The push-send queue consumed as `serve` consumes it; send `true` on the returned sender, then await
/// the handle, to stop it.
pub fn start_push_worker(state: &AppState) -> (tokio::sync::watch::Sender<bool>, tokio::task::JoinHandle<()>) {
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let worker = tokio::spawn(webtrigger::local::consume(state.clone(), webtrigger::queues::push_send(), std::sync::Arc::new(webtrigger::push::worker::PushWorker), stopped));
    (stop, worker)
}

/// `allow_push_hosts` for one `host`, then `start_push_worker`.
pub fn push_consumer(state: &mut AppState, host: &str) -> (tokio::sync::watch::Sender<bool>, tokio::task::JoinHandle<()>) {
    allow_push_hosts(state, vec![host.into()]);
    start_push_worker(state)
}

/// A signed-up owner of a fresh "Shop" workspace with one site "Shop" (origin https://shop.example.com):
/// the owner's client, the workspace's sites URL and the site's id.
pub async fn shop_site(state: &AppState) -> (Client, String, String) {
    let mut owner = Client::new(state.clone());
    owner.sign_up("ada@example.com").await;
    let ws = owner.create_workspace("Shop").await;
    let sites = format!("/v1/workspaces/{ws}/sites");
    let site = owner.post(&sites, serde_json::json!({"name": "Shop", "allowed_origins": ["https://shop.example.com"], "contact": "mailto:ops@example.com"})).await;
    assert_eq!(site.status, 201, "{}", site.body);
    let id = site.data()["id"].as_str().unwrap().to_owned();
    (owner, sites, id)
}

/// Polls a subscriber import (`{sites}/{site}/imports/{id}`) until it completes (within 300 s); its view.
pub async fn wait_import_completed(c: &mut Client, import_url: &str) -> Value {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(300);
    loop {
        let r = c.get(import_url).await;
        if r.data()["status"] == "completed" {
            return r.data().clone();
        }
        assert!(tokio::time::Instant::now() < deadline, "never completed: {}", r.body);
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}
