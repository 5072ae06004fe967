//! Template parts of the provider fake: Meta `/{waba-id}/message_templates` (listing paged two at a
//! time by `paging.cursors.after`, creation with Graph's documented error body for a duplicate and a
//! check that a media header's `header_handle` is one the fake issued for that kind of file), Meta's
//! Resumable Upload API (`/{app-id}/uploads`, then `/{upload-id}` with `Authorization: OAuth`,
//! `file_offset: 0` and exactly the announced bytes) and Twilio's Content API (`/v1/Content` paged by
//! `meta.next_page_url`, ApprovalRequests, creation).

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap};
use axum::response::Response;
use axum::routing::{get, post};
use base64::Engine;
use serde_json::{json, Value};

use crate::provider_fakes::{respond, ProviderFake, META_TOKEN, TWILIO_SID, TWILIO_TOKEN};

/// The WhatsApp Business Account the fake knows.
pub const META_WABA_ID: &str = "102290129340398";
/// The Meta app uploads are made under.
pub const META_APP_ID: &str = "584544743160774";
/// Items per listing page: small, so every sync in the tests crosses pages.
const PAGE: usize = 2;

#[derive(Default)]
struct Store {
    meta: Vec<Value>,
    /// (content item, WhatsApp approval or Null when never submitted).
    twilio: Vec<(Value, Value)>,
    next: u64,
    /// Open upload sessions: id → (announced length, file type).
    sessions: std::collections::HashMap<String, (usize, String)>,
    /// Issued file handles with their file type.
    handles: Vec<(String, String)>,
    /// The next file upload (step 2) answers this status and Graph error instead.
    upload_failure: Option<(u16, Value)>,
}

/// The fake's template data, shared by its handlers; tests seed it and read it back.
#[derive(Clone, Default)]
pub struct Templates(Arc<Mutex<Store>>);

impl Templates {
    pub fn set_meta(&self, templates: Vec<Value>) {
        self.0.lock().unwrap().meta = templates;
    }

    pub fn meta(&self) -> Vec<Value> {
        self.0.lock().unwrap().meta.clone()
    }

    /// The next upload of file bytes fails with this HTTP status and Graph error code.
    pub fn fail_next_upload(&self, status: u16, code: i64, message: &str) {
        self.0.lock().unwrap().upload_failure = Some((status, meta_error(code, None, message, None)));
    }

    /// The handles issued so far, with their file types.
    pub fn handles(&self) -> Vec<(String, String)> {
        self.0.lock().unwrap().handles.clone()
    }

    pub fn set_twilio(&self, contents: Vec<(Value, Value)>) {
        self.0.lock().unwrap().twilio = contents;
    }
}

pub fn routes() -> axum::Router<ProviderFake> {
    axum::Router::new()
        .route("/v23.0/{waba}/message_templates", get(meta_list).post(meta_create))
        .route("/v23.0/{app}/uploads", post(meta_open_upload))
        .route("/v23.0/{upload}", post(meta_upload_bytes))
        .route("/content/v1/Content", get(twilio_list).post(twilio_create))
        .route("/content/v1/Content/{sid}/ApprovalRequests", get(twilio_approval))
        .route("/content/v1/Content/{sid}/ApprovalRequests/whatsapp", post(twilio_submit))
}

fn meta_error(code: i64, subcode: Option<i64>, message: &str, user_msg: Option<&str>) -> Value {
    let mut e = json!({"message": message, "type": "OAuthException", "code": code, "is_transient": false, "fbtrace_id": "AXsgnV2Cm3ZMGF3dF_cfYIn"});
    if let Some(s) = subcode {
        e["error_subcode"] = s.into();
    }
    if let Some(u) = user_msg {
        e["error_user_title"] = "Message template error".into();
        e["error_user_msg"] = u.into();
    }
    json!({"error": e})
}

fn meta_auth(headers: &HeaderMap, waba: &str) -> Option<Response> {
    let bearer = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer ")).unwrap_or_default();
    if bearer != META_TOKEN {
        return Some(respond(401, meta_error(190, Some(463), "Invalid OAuth access token", None), None));
    }
    (waba != META_WABA_ID).then(|| respond(400, meta_error(100, Some(33), &format!("Unsupported get request. Object with ID '{waba}' does not exist"), None), None))
}

fn page_start(cursor: Option<&String>) -> usize {
    cursor.and_then(|c| base64::engine::general_purpose::STANDARD.decode(c).ok()).and_then(|b| String::from_utf8(b).ok()).and_then(|s| s.parse().ok()).unwrap_or(0)
}

fn cursor(i: usize) -> String {
    base64::engine::general_purpose::STANDARD.encode(i.to_string())
}

async fn meta_list(State(fake): State<ProviderFake>, Path(waba): Path<String>, Query(q): Query<std::collections::HashMap<String, String>>, headers: HeaderMap) -> Response {
    fake.take("meta", format!("/v23.0/{waba}/message_templates"), &headers, json!(q), String::new());
    if let Some(r) = meta_auth(&headers, &waba) {
        return r;
    }
    let all = fake.templates.meta();
    let start = page_start(q.get("after")).min(all.len());
    let end = (start + PAGE).min(all.len());
    let mut paging = json!({"cursors": {"before": cursor(start), "after": cursor(end)}});
    if end < all.len() {
        paging["next"] = format!("https://graph.facebook.com/v23.0/{waba}/message_templates?limit=2&after={}", cursor(end)).into();
    }
    respond(200, json!({"data": all[start..end], "paging": paging}), None)
}

async fn meta_create(State(fake): State<ProviderFake>, Path(waba): Path<String>, headers: HeaderMap, body: Bytes) -> Response {
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    fake.take("meta", format!("/v23.0/{waba}/message_templates"), &headers, body.clone(), String::new());
    if let Some(r) = meta_auth(&headers, &waba) {
        return r;
    }
    let store = &fake.templates;
    let duplicate = store.meta().iter().any(|t| t["name"] == body["name"] && t["language"] == body["language"]);
    if duplicate {
        return respond(400, meta_error(100, Some(2_388_024), "Invalid parameter", Some("There is already English (US) content for this template. You can create a new template and try again.")), None);
    }
    let components = body["components"].as_array().cloned().unwrap_or_default();
    if let Some(header) = components.iter().find(|c| c["type"] == "HEADER" && c["format"] != "TEXT") {
        let family = match header["format"].as_str().unwrap_or_default() {
            "IMAGE" => "image/",
            "VIDEO" => "video/",
            _ => "application/pdf",
        };
        let handle = header.pointer("/example/header_handle/0").and_then(Value::as_str).unwrap_or_default();
        if !store.handles().iter().any(|(h, t)| h == handle && t.starts_with(family)) {
            return respond(400, meta_error(100, Some(2_494_102), "Invalid parameter", Some("Uploaded media handle is invalid: upload the sample with the Resumable Upload API and use its handle.")), None);
        }
    }
    let body_text = components.iter().find(|c| c["type"] == "BODY").and_then(|c| c["text"].as_str()).unwrap_or_default();
    let has_example = components.iter().any(|c| c["type"] == "BODY" && c.get("example").is_some());
    if body["name"].as_str().is_none_or(str::is_empty) || body["category"].is_null() || (body_text.contains("{{") && !has_example) {
        return respond(400, meta_error(100, None, "Invalid parameter", Some("Variables need sample values: add an example for each variable.")), None);
    }
    let mut inner = store.0.lock().unwrap();
    inner.next += 1;
    let id = format!("59442547926{:04}", inner.next);
    let mut stored = body.clone();
    stored["id"] = id.clone().into();
    stored["status"] = "PENDING".into();
    inner.meta.push(stored);
    respond(200, json!({"id": id, "status": "PENDING", "category": body["category"]}), None)
}

/// The types Meta's Resumable Upload API accepts.
const UPLOAD_TYPES: [&str; 5] = ["application/pdf", "image/jpeg", "image/jpg", "image/png", "video/mp4"];

/// Step 1: `POST /{app-id}/uploads?file_name&file_length&file_type`, the token as a bearer header or
/// `access_token` query parameter; answers the session id.
async fn meta_open_upload(State(fake): State<ProviderFake>, Path(app): Path<String>, Query(q): Query<std::collections::HashMap<String, String>>, headers: HeaderMap) -> Response {
    fake.take("meta", format!("/v23.0/{app}/uploads"), &headers, json!(q), String::new());
    let bearer = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
    if bearer.or(q.get("access_token").map(String::as_str)) != Some(META_TOKEN) {
        return respond(401, meta_error(190, Some(463), "Invalid OAuth access token", None), None);
    }
    if app != META_APP_ID {
        return respond(400, meta_error(100, Some(33), &format!("Unsupported post request. Object with ID '{app}' does not exist, cannot be loaded due to missing permissions, or does not support this operation"), None), None);
    }
    let length = q.get("file_length").and_then(|l| l.parse::<usize>().ok()).filter(|l| *l > 0);
    let file_type = q.get("file_type").filter(|t| UPLOAD_TYPES.contains(&t.as_str()));
    let (Some(length), Some(file_type)) = (length, file_type) else {
        return respond(400, meta_error(100, None, "(#100) Invalid parameter: file_length and file_type (one of application/pdf, image/jpeg, image/jpg, image/png, video/mp4) are required", None), None);
    };
    let mut inner = fake.templates.0.lock().unwrap();
    inner.next += 1;
    let id = format!("upload:{}?sig=ARZqkGCA_uQMxC8nHKI{}", base64::engine::general_purpose::URL_SAFE.encode(format!("attachment:{}", inner.next)), inner.next);
    inner.sessions.insert(id.split('?').next().unwrap_or_default().to_owned(), (length, file_type.clone()));
    respond(200, json!({"id": id}), None)
}

/// Step 2: `POST /{upload-id}` with `Authorization: OAuth {token}`, `file_offset: 0` and the bytes;
/// answers the file handle once all announced bytes arrived.
async fn meta_upload_bytes(State(fake): State<ProviderFake>, Path(upload): Path<String>, Query(q): Query<std::collections::HashMap<String, String>>, headers: HeaderMap, body: Bytes) -> Response {
    fake.take("meta", format!("/v23.0/{upload}"), &headers, json!({"file_offset": headers.get("file_offset").and_then(|v| v.to_str().ok()), "bytes": body.len(), "sig": q.get("sig")}), String::new());
    let oauth = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("OAuth "));
    if oauth != Some(META_TOKEN) {
        return respond(401, meta_error(190, None, "Invalid OAuth access token: the upload takes `Authorization: OAuth <token>`", None), None);
    }
    let mut inner = fake.templates.0.lock().unwrap();
    let Some((length, file_type)) = inner.sessions.get(&upload).cloned().filter(|_| q.contains_key("sig")) else {
        return respond(400, meta_error(100, Some(33), &format!("Unsupported post request. Object with ID '{upload}' does not exist"), None), None);
    };
    if headers.get("file_offset").and_then(|v| v.to_str().ok()) != Some("0") {
        return respond(400, meta_error(100, None, "(#100) The file_offset header is required and must be 0 for a new upload", None), None);
    }
    if let Some((status, error)) = inner.upload_failure.take() {
        return respond(status, error, None);
    }
    if body.len() != length {
        return respond(400, meta_error(100, None, &format!("(#100) file_length was {length} but {} bytes were sent", body.len()), None), None);
    }
    inner.sessions.remove(&upload);
    let handle = format!("4::{}:ARa1ZDhwbLZM3EENeeg{}", base64::engine::general_purpose::STANDARD.encode(&file_type), inner.handles.len() + 1);
    inner.handles.push((handle.clone(), file_type));
    respond(200, json!({"h": handle}), None)
}

fn twilio_auth(headers: &HeaderMap) -> Option<Response> {
    let expected = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{TWILIO_SID}:{TWILIO_TOKEN}")));
    (headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) != Some(expected.as_str()))
        .then(|| respond(401, json!({"code": 20003, "message": "Authenticate", "more_info": "https://www.twilio.com/docs/errors/20003", "status": 401}), None))
}

async fn twilio_list(State(fake): State<ProviderFake>, Query(q): Query<std::collections::HashMap<String, String>>, headers: HeaderMap) -> Response {
    fake.take("twilio", "/v1/Content".into(), &headers, json!(q), String::new());
    if let Some(r) = twilio_auth(&headers) {
        return r;
    }
    let all: Vec<Value> = fake.templates.0.lock().unwrap().twilio.iter().map(|(c, _)| c.clone()).collect();
    let start = q.get("PageToken").and_then(|t| t.strip_prefix("PT")).and_then(|n| n.parse().ok()).unwrap_or(0usize).min(all.len());
    let end = (start + PAGE).min(all.len());
    let page = start / PAGE;
    let url = |p: usize, token: usize| format!("https://content.twilio.com/v1/Content?PageSize={PAGE}&Page={p}&PageToken=PT{token}");
    let next = (end < all.len()).then(|| url(page + 1, end));
    respond(200, json!({"contents": all[start..end], "meta": {"page": page, "page_size": PAGE, "first_page_url": url(0, 0), "previous_page_url": null, "url": url(page, start), "next_page_url": next, "key": "contents"}}), None)
}

async fn twilio_approval(State(fake): State<ProviderFake>, Path(sid): Path<String>, headers: HeaderMap) -> Response {
    fake.take("twilio", format!("/v1/Content/{sid}/ApprovalRequests"), &headers, Value::Null, String::new());
    if let Some(r) = twilio_auth(&headers) {
        return r;
    }
    let found = fake.templates.0.lock().unwrap().twilio.iter().find(|(c, _)| c["sid"] == sid.as_str()).map(|(_, a)| a.clone());
    match found {
        Some(whatsapp) => respond(200, json!({"sid": sid, "account_sid": TWILIO_SID, "url": format!("https://content.twilio.com/v1/Content/{sid}/ApprovalRequests"), "whatsapp": whatsapp}), None),
        None => respond(404, json!({"code": 20404, "message": format!("The requested resource /Content/{sid}/ApprovalRequests was not found"), "more_info": "https://www.twilio.com/docs/errors/20404", "status": 404}), None),
    }
}

async fn twilio_create(State(fake): State<ProviderFake>, headers: HeaderMap, body: Bytes) -> Response {
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    fake.take("twilio", "/v1/Content".into(), &headers, body.clone(), String::new());
    if let Some(r) = twilio_auth(&headers) {
        return r;
    }
    let mut inner = fake.templates.0.lock().unwrap();
    inner.next += 1;
    let sid = format!("HX{:032x}", inner.next);
    let item = json!({"sid": sid, "account_sid": TWILIO_SID, "friendly_name": body["friendly_name"], "language": body["language"], "variables": body["variables"], "types": body["types"],
        "url": format!("https://content.twilio.com/v1/Content/{sid}"), "date_created": "2026-01-05T10:00:00Z", "date_updated": "2026-01-05T10:00:00Z",
        "links": {"approval_fetch": format!("https://content.twilio.com/v1/Content/{sid}/ApprovalRequests"), "approval_create": format!("https://content.twilio.com/v1/Content/{sid}/ApprovalRequests/whatsapp")}});
    inner.twilio.push((item.clone(), Value::Null));
    respond(201, item, None)
}

async fn twilio_submit(State(fake): State<ProviderFake>, Path(sid): Path<String>, headers: HeaderMap, body: Bytes) -> Response {
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    fake.take("twilio", format!("/v1/Content/{sid}/ApprovalRequests/whatsapp"), &headers, body.clone(), String::new());
    if let Some(r) = twilio_auth(&headers) {
        return r;
    }
    let mut inner = fake.templates.0.lock().unwrap();
    let Some((item, approval)) = inner.twilio.iter_mut().find(|(c, _)| c["sid"] == sid.as_str()) else {
        return respond(404, json!({"code": 20404, "message": "The requested resource was not found", "more_info": "https://www.twilio.com/docs/errors/20404", "status": 404}), None);
    };
    let content_type = item["types"].as_object().and_then(|t| t.keys().next().cloned()).unwrap_or_default();
    *approval = json!({"type": "whatsapp", "name": body["name"], "category": body["category"], "content_type": content_type, "status": "received", "rejection_reason": "", "allow_category_change": true});
    respond(201, approval.clone(), None)
}
