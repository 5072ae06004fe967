//! A loopback fake of the three WhatsApp provider APIs (Twilio Messages, Meta Graph `/messages` and
//! `/media` uploads, Whapi `/messages/*`, `/health`, `/users/login`) answering with the documented
//! success and error bodies (providers.md sections 2–4). Tests script answers per recipient (and for
//! Meta uploads) and read what was received.

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

/// Asked before a message send is answered, with the send's number (1, 2, … over the fake's life);
/// `true` answers 503 instead. Crash tests kill the server from here, so a kill lands mid-broadcast.
pub type SendGate = Arc<dyn Fn(usize) -> std::pin::Pin<Box<dyn std::future::Future<Output = bool> + Send>> + Send + Sync>;

#[derive(Default)]
struct Inner {
    received: Vec<Received>,
    /// Sends answered with success: (recipient as sent, provider message id).
    accepted: Vec<(String, String)>,
    sends: usize,
    gate: Option<SendGate>,
    scripts: HashMap<String, VecDeque<Failure>>,
    whapi_linked: bool,
    next_id: u64,
    /// Meta media uploads, by the media id answered.
    uploads: Vec<Upload>,
    upload_failures: VecDeque<Failure>,
}

/// One file received by Meta's `POST /{phone-number-id}/media`.
#[derive(Debug, Clone)]
pub struct Upload {
    pub id: String,
    /// The multipart `messaging_product` and `type` fields.
    pub messaging_product: String,
    pub mime: String,
    pub filename: String,
    /// The `file` part's own Content-Type.
    pub file_type: String,
    pub bytes: Vec<u8>,
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
            .route("/v23.0/{pnid}/media", post(meta_media))
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

    /// The next Meta media uploads fail with these, in order.
    pub fn script_uploads(&self, failures: Vec<Failure>) {
        self.inner.lock().unwrap().upload_failures = failures.into();
    }

    /// Files Meta's media endpoint accepted.
    pub fn uploads(&self) -> Vec<Upload> {
        self.inner.lock().unwrap().uploads.clone()
    }

    pub fn received(&self) -> Vec<Received> {
        self.inner.lock().unwrap().received.clone()
    }

    /// Every send answered with success, in order: (recipient as sent, provider message id).
    pub fn accepted(&self) -> Vec<(String, String)> {
        self.inner.lock().unwrap().accepted.clone()
    }

    pub fn set_send_gate(&self, gate: SendGate) {
        self.inner.lock().unwrap().gate = Some(gate);
    }

    /// Counts the send and asks the gate whether to refuse it.
    async fn refused_by_gate(&self) -> bool {
        let (n, gate) = {
            let mut inner = self.inner.lock().unwrap();
            inner.sends += 1;
            (inner.sends, inner.gate.clone())
        };
        match gate {
            Some(g) => g(n).await,
            None => false,
        }
    }

    fn accept(&self, to: &str, id: &str) {
        self.inner.lock().unwrap().accepted.push((to.to_owned(), id.to_owned()));
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
    if fake.refused_by_gate().await {
        return respond(503, twilio_error(503, 20503, "Service Unavailable"), None);
    }
    let msid = format!("SM{n:032x}");
    fake.accept(&to, &msid);
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
    // A media message by id must name an uploaded file (Graph answers 131053 for an unknown one).
    if let Some(kind) = body["type"].as_str().filter(|k| ["image", "document", "audio", "video", "sticker"].contains(k)) {
        if let Some(id) = body[kind]["id"].as_str() {
            if !fake.inner.lock().unwrap().uploads.iter().any(|u| u.id == id) {
                return respond(400, meta_error(131053, "Media upload error: unknown media id"), None);
            }
        }
    }
    if fake.refused_by_gate().await {
        return respond(503, meta_error(131000, "Something went wrong"), None);
    }
    let wamid = format!("wamid.HBgL{n:020}");
    fake.accept(&to, &wamid);
    respond(200, json!({"messaging_product": "whatsapp", "contacts": [{"input": to, "wa_id": to}], "messages": [{"id": wamid}]}), None)
}

/// Meta's supported media types and their size limits (Graph "Supported media types").
fn meta_limit(mime: &str) -> Option<usize> {
    const MB: usize = 1024 * 1024;
    match mime {
        "image/jpeg" | "image/png" => Some(5 * MB),
        "application/pdf" | "text/plain" | "application/msword" | "application/vnd.ms-excel" | "application/vnd.ms-powerpoint" => Some(100 * MB),
        m if m.starts_with("application/vnd.openxmlformats-officedocument.") => Some(100 * MB),
        _ => None,
    }
}

/// One part of a `multipart/form-data` body: (name, filename, content type, bytes).
type FormPart = (String, Option<String>, Option<String>, Vec<u8>);

/// The parts of a `multipart/form-data` body.
fn multipart(headers: &HeaderMap, body: &[u8]) -> Vec<FormPart> {
    let ct = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let Some(boundary) = ct.split(';').find_map(|p| p.trim().strip_prefix("boundary=")).map(|b| format!("--{}", b.trim_matches('"'))) else { return vec![] };
    let find = |hay: &[u8], needle: &[u8], from: usize| hay.get(from..).and_then(|h| h.windows(needle.len()).position(|w| w == needle)).map(|i| i + from);
    let mut out = Vec::new();
    let mut at = find(body, boundary.as_bytes(), 0);
    while let Some(start) = at {
        let head_start = start + boundary.len() + 2;
        let Some(head_end) = find(body, b"\r\n\r\n", head_start) else { break };
        let Some(next) = find(body, format!("\r\n{boundary}").as_bytes(), head_end) else { break };
        let head = String::from_utf8_lossy(&body[head_start..head_end]).into_owned();
        let attr = |name: &str| head.split(';').find_map(|p| p.trim().strip_prefix(&format!("{name}=\"")).map(|v| v.split('"').next().unwrap_or_default().to_owned()));
        let content_type = head.lines().find_map(|l| l.strip_prefix("Content-Type: ").or_else(|| l.strip_prefix("content-type: ")).map(str::to_owned));
        out.push((attr("name").unwrap_or_default(), attr("filename"), content_type, body[head_end + 4..next].to_vec()));
        at = Some(next + 2);
    }
    out
}

/// `POST /{phone-number-id}/media`: multipart `messaging_product=whatsapp`, `type`, `file` → `{"id"}`.
async fn meta_media(State(fake): State<ProviderFake>, Path(pnid): Path<String>, headers: HeaderMap, body: Bytes) -> Response {
    if bearer(&headers) != META_TOKEN {
        return respond(401, meta_error(190, "Invalid OAuth access token"), None);
    }
    let parts = multipart(&headers, &body);
    let field = |name: &str| parts.iter().find(|p| p.0 == name);
    let text = |name: &str| field(name).map(|p| String::from_utf8_lossy(&p.3).into_owned()).unwrap_or_default();
    let (product, mime) = (text("messaging_product"), text("type"));
    let failure = fake.inner.lock().unwrap().upload_failures.pop_front();
    if let Some(f) = failure {
        return respond(f.status, meta_error(f.code.unwrap_or(131053), &f.message), f.retry_after);
    }
    let Some(file) = field("file") else { return respond(400, meta_error(100, "(#100) The parameter file is required."), None) };
    if pnid != META_PHONE_NUMBER_ID || product != "whatsapp" {
        return respond(400, meta_error(100, "(#100) Invalid parameter"), None);
    }
    match meta_limit(&mime) {
        None => return respond(400, meta_error(100, &format!("(#100) Param type must be one of the supported media types, got {mime}")), None),
        Some(max) if file.3.len() > max => return respond(400, meta_error(131053, "Media upload error: file too large"), None),
        Some(_) => {}
    }
    let id = {
        let mut inner = fake.inner.lock().unwrap();
        inner.next_id += 1;
        let id = format!("{}", 1_013_859_600_285_441u64 + inner.next_id);
        inner.uploads.push(Upload { id: id.clone(), messaging_product: product, mime, filename: file.1.clone().unwrap_or_default(), file_type: file.2.clone().unwrap_or_default(), bytes: file.3.clone() });
        id
    };
    respond(200, json!({"id": id}), None)
}

/// Whapi's `media`: an http(s) URL, a media id, or `data:<mime>;name=<file>;base64,<data>` that must decode.
fn whapi_media_ok(media: &str) -> bool {
    match media.strip_prefix("data:") {
        Some(rest) => rest.split_once(";base64,").is_some_and(|(_, data)| base64::engine::general_purpose::STANDARD.decode(data).is_ok_and(|b| !b.is_empty())),
        None => media.starts_with("https://") || media.starts_with("http://") || (!media.is_empty() && !media.contains(' ')),
    }
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
    if ["image", "document", "video", "audio"].contains(&kind.as_str()) && !body["media"].as_str().is_some_and(whapi_media_ok) {
        return respond(400, json!({"error": {"code": 400, "message": "media: must be a URL, a media id or a base64 data URL"}}), None);
    }
    if fake.refused_by_gate().await {
        return respond(503, json!({"error": {"code": 503, "message": "Service Unavailable"}}), None);
    }
    let chat = if to.contains('@') { to.clone() } else { format!("{to}@s.whatsapp.net") };
    fake.accept(&to, &format!("PsqXn5SAD5v7HRA-wHqB9tg-{n}"));
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
