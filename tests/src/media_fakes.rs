//! Inbound media on the provider fakes, in the documented shapes. Meta: `GET /v23.0/{media-id}` with the
//! bearer token answers `{messaging_product, url, mime_type, sha256, file_size, id}` whose `url` is on the
//! fake (`/lookaside/{id}`, bearer checked again); an expired id answers Graph's 400 code 100 subcode 33.
//! Twilio: `GET /2010-04-01/Accounts/{sid}/Messages/{mm}/Media/{me}` with HTTP Basic auth answers a 307 to
//! `/twiliocdn/{me}`, served without credentials. Whapi: `GET /whapi/media/{id}` with the bearer token
//! answers the bytes. Tests add files, expire them, and script the next answer's failure.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine;
use serde_json::json;

use crate::provider_fakes::{respond, ProviderFake, META_TOKEN, TWILIO_SID, TWILIO_TOKEN, WHAPI_TOKEN};

#[derive(Default)]
struct Inner {
    /// id → (mime, bytes); the id is Meta's media id, Twilio's `ME…` sid or Whapi's media id.
    files: HashMap<String, (String, Vec<u8>)>,
    expired: HashSet<String>,
    /// Statuses the next media requests answer instead, in order.
    failures: VecDeque<u16>,
    /// Every media request: (path, Authorization header).
    requests: Vec<(String, String)>,
}

#[derive(Clone, Default)]
pub struct Media(Arc<Mutex<Inner>>);

impl Media {
    pub fn add(&self, id: &str, mime: &str, bytes: &[u8]) {
        self.0.lock().unwrap().files.insert(id.to_owned(), (mime.to_owned(), bytes.to_vec()));
    }

    /// The provider dropped the file (Meta after about 30 days).
    pub fn expire(&self, id: &str) {
        self.0.lock().unwrap().expired.insert(id.to_owned());
    }

    pub fn fail_next(&self, statuses: &[u16]) {
        self.0.lock().unwrap().failures.extend(statuses);
    }

    pub fn requests(&self) -> Vec<(String, String)> {
        self.0.lock().unwrap().requests.clone()
    }

    /// Records the request; a scripted failure status if any, else the file unless expired.
    fn take(&self, path: String, headers: &HeaderMap, id: &str) -> Result<Option<(String, Vec<u8>)>, u16> {
        let mut inner = self.0.lock().unwrap();
        let auth = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
        inner.requests.push((path, auth));
        if let Some(status) = inner.failures.pop_front() {
            return Err(status);
        }
        Ok(if inner.expired.contains(id) { None } else { inner.files.get(id).cloned() })
    }
}

pub fn routes() -> axum::Router<ProviderFake> {
    axum::Router::new()
        .route("/lookaside/{id}", get(meta_download))
        .route("/2010-04-01/Accounts/{sid}/Messages/{mm}/Media/{me}", get(twilio_media))
        .route("/twiliocdn/{me}", get(twilio_cdn))
        .route("/whapi/media/{id}", get(whapi_media))
}

fn bytes_answer(mime: &str, bytes: Vec<u8>) -> Response {
    ([(header::CONTENT_TYPE, mime.to_owned())], bytes).into_response()
}

fn graph_error(status: u16, code: i64, subcode: Option<i64>, message: &str) -> Response {
    respond(status, json!({"error": {"message": message, "type": "GraphMethodException", "code": code, "error_subcode": subcode, "fbtrace_id": "AXsgnV2Cm3ZMGF3dF_cfYIn"}}), None)
}

/// `GET /v23.0/{media-id}` (routed by `template_fakes`, which owns that path for upload POSTs).
pub async fn meta_media_info(State(fake): State<ProviderFake>, Path(id): Path<String>, headers: HeaderMap) -> Response {
    let authorized = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) == Some(&format!("Bearer {META_TOKEN}"));
    let taken = fake.media.take(format!("/v23.0/{id}"), &headers, &id);
    if !authorized {
        return graph_error(401, 190, None, "Invalid OAuth access token");
    }
    match taken {
        Err(status) => graph_error(status, 131000, None, "Something went wrong"),
        Ok(None) => graph_error(400, 100, Some(33), &format!("Unsupported get request. Object with ID '{id}' does not exist, cannot be loaded due to missing permissions, or does not support this operation.")),
        Ok(Some((mime, bytes))) => {
            let sha = base64::engine::general_purpose::STANDARD.encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &bytes).as_ref());
            respond(200, json!({"messaging_product": "whatsapp", "url": format!("{}/lookaside/{id}", fake.base_url), "mime_type": mime, "sha256": sha, "file_size": bytes.len().to_string(), "id": id}), None)
        }
    }
}

async fn meta_download(State(fake): State<ProviderFake>, Path(id): Path<String>, headers: HeaderMap) -> Response {
    let authorized = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) == Some(&format!("Bearer {META_TOKEN}"));
    match fake.media.take(format!("/lookaside/{id}"), &headers, &id) {
        _ if !authorized => StatusCode::UNAUTHORIZED.into_response(),
        Err(status) => StatusCode::from_u16(status).expect("status").into_response(),
        Ok(None) => StatusCode::NOT_FOUND.into_response(),
        Ok(Some((mime, bytes))) => bytes_answer(&mime, bytes),
    }
}

async fn twilio_media(State(fake): State<ProviderFake>, Path((sid, mm, me)): Path<(String, String, String)>, headers: HeaderMap) -> Response {
    let expected = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{TWILIO_SID}:{TWILIO_TOKEN}")));
    let authorized = sid == TWILIO_SID && headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) == Some(expected.as_str());
    match fake.media.take(format!("/2010-04-01/Accounts/{sid}/Messages/{mm}/Media/{me}"), &headers, &me) {
        _ if !authorized => respond(401, json!({"code": 20003, "message": "Authenticate", "more_info": "https://www.twilio.com/docs/errors/20003", "status": 401}), None),
        Err(status) => respond(status, json!({"code": 20500, "message": "Internal Server Error", "status": status}), None),
        Ok(None) => respond(404, json!({"code": 20404, "message": "The requested resource was not found", "more_info": "https://www.twilio.com/docs/errors/20404", "status": 404}), None),
        // HTTP Basic auth on media: a redirect to a short-lived CDN URL.
        Ok(Some(_)) => (StatusCode::TEMPORARY_REDIRECT, [(header::LOCATION, format!("/twiliocdn/{me}"))]).into_response(),
    }
}

async fn twilio_cdn(State(fake): State<ProviderFake>, Path(me): Path<String>, headers: HeaderMap) -> Response {
    let leaked = headers.contains_key(header::AUTHORIZATION);
    match fake.media.take(format!("/twiliocdn/{me}"), &headers, &me) {
        _ if leaked => StatusCode::BAD_REQUEST.into_response(),
        Ok(Some((mime, bytes))) => bytes_answer(&mime, bytes),
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn whapi_media(State(fake): State<ProviderFake>, Path(id): Path<String>, headers: HeaderMap) -> Response {
    let authorized = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) == Some(&format!("Bearer {WHAPI_TOKEN}"));
    match fake.media.take(format!("/whapi/media/{id}"), &headers, &id) {
        _ if !authorized => respond(401, json!({"error": {"code": 401, "message": "Unauthorized"}}), None),
        Err(status) => respond(status, json!({"error": {"code": status, "message": "Internal error"}}), None),
        Ok(None) => respond(404, json!({"error": {"code": 404, "message": "Media not found"}}), None),
        Ok(Some((mime, bytes))) => bytes_answer(&mime, bytes),
    }
}
