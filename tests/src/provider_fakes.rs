//! A loopback fake of the three WhatsApp provider APIs (Twilio Messages, Meta Graph `/messages`,
//! Whapi `/messages/*`, `/health`, `/users/login`) answering with the documented success and error
//! bodies (providers.md sections 2–4). Tests script answers per recipient and read what was received.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use serde_json::{json, Value};

/// The secrets the fake accepts.
pub const TWILIO_SID: &str = "ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
pub const TWILIO_TOKEN: &str = "0123456789abcdef0123456789abcdef";
pub const META_TOKEN: &str = "EAAGfakeaccesstoken0123456789";
pub const META_PHONE_NUMBER_ID: &str = "106540352242922";
pub const WHAPI_TOKEN: &str = "whapi-token-0123456789";

/// One scripted failure: the HTTP status and the provider's own error code.
#[derive(Debug, Clone)]
pub struct Failure {
    pub status: u16,
    pub code: Option<i64>,
    pub message: String,
    pub retry_after: Option<u64>,
}

impl Failure {
    pub fn new(status: u16, code: Option<i64>, message: &str) -> Self {
        Self { status, code, message: message.into(), retry_after: None }
    }

    pub fn retry_after(mut self, secs: u64) -> Self {
        self.retry_after = Some(secs);
        self
    }
}

#[derive(Debug, Clone)]
pub struct Received {
    pub provider: &'static str,
    pub path: String,
    pub authorization: String,
    /// Form fields (Twilio) or the JSON body (Meta, Whapi) as JSON.
    pub body: Value,
    /// The recipient as the provider saw it.
    pub to: String,
}

#[derive(Default)]
struct Inner {
    received: Vec<Received>,
    scripts: HashMap<String, VecDeque<Failure>>,
    whapi_linked: bool,
    next_id: u64,
}

#[derive(Clone, Default)]
pub struct ProviderFake {
    inner: Arc<Mutex<Inner>>,
    /// Meta and Twilio template data (`template_fakes`).
    pub templates: crate::template_fakes::Templates,
    pub base_url: String,
}

impl ProviderFake {
    /// Starts the fake on a free loopback port.
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let fake = Self { inner: Arc::default(), templates: Default::default(), base_url: format!("http://{}", listener.local_addr().expect("addr")) };
        let app = axum::Router::new()
            .route("/2010-04-01/Accounts/{sid}/Messages.json", post(twilio))
            .route("/v23.0/{pnid}/messages", post(meta))
            .route("/whapi/messages/{kind}", post(whapi))
            .route("/whapi/health", get(whapi_health))
            .route("/whapi/users/login", get(whapi_login))
            .route("/whapi/users/login/{phone}", get(whapi_pairing))
            .route("/push/{name}", post(push_service))
            .merge(crate::template_fakes::routes())
            .with_state(fake.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.expect("fake serves") });
        fake
    }

    /// Base URLs to configure the platform with.
    pub fn urls(&self) -> webtrigger::whatsapp::providers::ProviderUrls {
        webtrigger::whatsapp::providers::ProviderUrls { twilio: self.base_url.clone(), meta: format!("{}/v23.0", self.base_url), whapi: format!("{}/whapi", self.base_url), twilio_content: format!("{}/content", self.base_url) }
    }

    /// The next sends to `to` (digits, no `+`) fail with these, in order; later ones succeed.
    pub fn script(&self, to: &str, failures: Vec<Failure>) {
        self.inner.lock().unwrap().scripts.insert(to.trim_start_matches('+').to_owned(), failures.into());
    }

    pub fn received(&self) -> Vec<Received> {
        self.inner.lock().unwrap().received.clone()
    }

    pub fn set_whapi_linked(&self, linked: bool) {
        self.inner.lock().unwrap().whapi_linked = linked;
    }

    /// Records the request; returns the scripted failure for `to`, if any, and a fresh message number.
    pub(crate) fn take(&self, provider: &'static str, path: String, headers: &HeaderMap, body: Value, to: String) -> (Option<Failure>, u64) {
        let mut inner = self.inner.lock().unwrap();
        let authorization = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
        let key = to.trim_start_matches("whatsapp:").trim_start_matches('+').to_owned();
        inner.received.push(Received { provider, path, authorization, body, to });
        inner.next_id += 1;
        let failure = inner.scripts.get_mut(&key).and_then(VecDeque::pop_front);
        (failure, inner.next_id)
    }
}

pub(crate) fn respond(status: u16, body: Value, retry_after: Option<u64>) -> Response {
    let mut r = (StatusCode::from_u16(status).expect("status"), axum::Json(body)).into_response();
    if let Some(s) = retry_after {
        r.headers_mut().insert(header::RETRY_AFTER, s.to_string().parse().expect("digits"));
    }
    r
}

fn bearer(headers: &HeaderMap) -> &str {
    headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer ")).unwrap_or_default()
}

fn twilio_error(status: u16, code: i64, message: &str) -> Value {
    json!({"code": code, "message": message, "more_info": format!("https://www.twilio.com/docs/errors/{code}"), "status": status})
}

async fn twilio(State(fake): State<ProviderFake>, Path(sid): Path<String>, headers: HeaderMap, body: Bytes) -> Response {
    let fields: Vec<(String, String)> = form_pairs(&body);
    let form: serde_json::Map<String, Value> = fields.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect();
    let to = form.get("To").and_then(Value::as_str).unwrap_or_default().to_owned();
    let expected = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{TWILIO_SID}:{TWILIO_TOKEN}")));
    let (failure, n) = fake.take("twilio", format!("/2010-04-01/Accounts/{sid}/Messages.json"), &headers, Value::Object(form.clone()), to.clone());
    if headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) != Some(expected.as_str()) || sid != TWILIO_SID {
        return respond(401, twilio_error(401, 20003, "Authenticate"), None);
    }
    if let Some(f) = failure {
        return respond(f.status, twilio_error(f.status, f.code.unwrap_or(20500), &f.message), f.retry_after);
    }
    let msid = format!("SM{n:032x}");
    respond(201, json!({"account_sid": TWILIO_SID, "api_version": "2010-04-01", "body": form.get("Body"), "date_created": "Mon, 29 Nov 2021 22:40:10 +0000", "date_sent": null,
        "date_updated": "Mon, 29 Nov 2021 22:40:10 +0000", "direction": "outbound-api", "error_code": null, "error_message": null, "from": form.get("From"), "messaging_service_sid": null,
        "num_media": "0", "num_segments": "1", "price": null, "price_unit": null, "sid": msid, "status": "queued",
        "subresource_uris": {"media": format!("/2010-04-01/Accounts/{TWILIO_SID}/Messages/{msid}/Media.json")}, "to": to, "uri": format!("/2010-04-01/Accounts/{TWILIO_SID}/Messages/{msid}.json")}), None)
}

fn form_pairs(body: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(body).map(|(k, v)| (k.into_owned(), v.into_owned())).collect()
}

/// A push service stand-in: records the encrypted body (standard base64, for `Browser::decrypt`) and accepts.
async fn push_service(State(fake): State<ProviderFake>, Path(name): Path<String>, headers: HeaderMap, body: Bytes) -> Response {
    use base64::Engine;
    fake.take("push", format!("/push/{name}"), &headers, Value::String(base64::engine::general_purpose::STANDARD.encode(&body)), name.clone());
    StatusCode::CREATED.into_response()
}

fn meta_error(code: i64, message: &str) -> Value {
    json!({"error": {"message": message, "type": "OAuthException", "code": code, "error_data": {"messaging_product": "whatsapp", "details": message}, "fbtrace_id": "AXsgnV2Cm3ZMGF3dF_cfYIn"}})
}

async fn meta(State(fake): State<ProviderFake>, Path(pnid): Path<String>, headers: HeaderMap, body: Bytes) -> Response {
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let to = body["to"].as_str().unwrap_or_default().to_owned();
    let (failure, n) = fake.take("meta", format!("/v23.0/{pnid}/messages"), &headers, body.clone(), to.clone());
    if bearer(&headers) != META_TOKEN {
        return respond(401, meta_error(190, "Invalid OAuth access token"), None);
    }
    if pnid != META_PHONE_NUMBER_ID || body["messaging_product"] != "whatsapp" {
        return respond(400, meta_error(100, "Invalid parameter"), None);
    }
    if let Some(f) = failure {
        return respond(f.status, meta_error(f.code.unwrap_or(131000), &f.message), f.retry_after);
    }
    respond(200, json!({"messaging_product": "whatsapp", "contacts": [{"input": to, "wa_id": to}], "messages": [{"id": format!("wamid.HBgL{n:020}")}]}), None)
}

async fn whapi(State(fake): State<ProviderFake>, Path(kind): Path<String>, headers: HeaderMap, body: Bytes) -> Response {
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let to = body["to"].as_str().unwrap_or_default().to_owned();
    let (failure, n) = fake.take("whapi", format!("/messages/{kind}"), &headers, body.clone(), to.clone());
    if bearer(&headers) != WHAPI_TOKEN {
        return respond(401, json!({"error": {"code": 401, "message": "Unauthorized"}}), None);
    }
    if let Some(f) = failure {
        return respond(f.status, json!({"error": {"code": f.status, "message": f.message}}), f.retry_after);
    }
    let chat = if to.contains('@') { to.clone() } else { format!("{to}@s.whatsapp.net") };
    respond(200, json!({"sent": true, "message": {"id": format!("PsqXn5SAD5v7HRA-wHqB9tg-{n}"), "type": kind, "chat_id": chat, "from_me": true, "timestamp": 1712995245, "source": "api", "status": "pending"}}), None)
}

async fn whapi_health(State(fake): State<ProviderFake>, headers: HeaderMap) -> Response {
    if bearer(&headers) != WHAPI_TOKEN {
        return respond(401, json!({"error": {"code": 401, "message": "Unauthorized"}}), None);
    }
    let linked = fake.inner.lock().unwrap().whapi_linked;
    let (code, text) = if linked { (4, "AUTH") } else { (3, "QR") };
    respond(200, json!({"start_at": 1713774883, "uptime": 78, "status": {"code": code, "text": text}, "version": "1.8.3"}), None)
}

async fn whapi_login(headers: HeaderMap) -> Response {
    if bearer(&headers) != WHAPI_TOKEN {
        return respond(401, json!({"error": {"code": 401, "message": "Unauthorized"}}), None);
    }
    respond(200, json!({"status": "OK", "base64": "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==", "expire": 20}), None)
}

async fn whapi_pairing(Path(phone): Path<String>, headers: HeaderMap) -> Response {
    if bearer(&headers) != WHAPI_TOKEN || !phone.bytes().all(|b| b.is_ascii_digit()) {
        return respond(400, json!({"error": {"code": 400, "message": "Bad request"}}), None);
    }
    respond(200, json!({"code": "ABCD-1234"}), None)
}
