//! Signed links to an attachment for providers that fetch media themselves (Twilio's `MediaUrl`):
//! `{public}/hooks/media/{ws}/{message}/{attachment}?exp=…&sig=…`, an HMAC-SHA256 over all four under a
//! key derived from the platform's token signing key. A link opens only that workspace's attachment for
//! that message until it expires; anything else answers 404 (no hint which part was wrong).

use aws_lc_rs::{constant_time, hmac};
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use base64::Engine;
use secrecy::ExposeSecret;
use serde::Deserialize;

use super::attachments::{self, AttachmentId};
use crate::auth::WorkspaceId;
use crate::http::ApiError;
use crate::state::AppState;
use crate::whatsapp::types::MessageId;

/// Long enough for Twilio's queue (messages wait up to 4 hours) and its retries.
pub const LINK_SECONDS: i64 = 24 * 3600;

async fn key(state: &AppState) -> Result<hmac::Key, ApiError> {
    let secret = state.secrets.get("token-signing-key").await.map_err(|e| ApiError::Internal(format!("signing key unavailable: {e}")))?;
    // A derived key: a media signature can never pass as an access-token signature, or back.
    let derived = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, secret.expose_secret().as_bytes()), b"webtrigger media link v1");
    Ok(hmac::Key::new(hmac::HMAC_SHA256, derived.as_ref()))
}

fn signed(key: &hmac::Key, ws: &str, message: &str, attachment: &str, exp: i64) -> String {
    let tag = hmac::sign(key, format!("{ws}\n{message}\n{attachment}\n{exp}").as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(tag.as_ref())
}

/// The link Twilio fetches for `attachment` of `message`, valid for a day.
pub async fn link(state: &AppState, public_url: &str, ws: &WorkspaceId, message: &MessageId, attachment: &AttachmentId) -> Result<String, ApiError> {
    let exp = state.clock.epoch_seconds() + LINK_SECONDS;
    let sig = signed(&key(state).await?, ws.as_str(), message.as_str(), attachment.as_str(), exp);
    Ok(format!("{}/hooks/media/{ws}/{message}/{attachment}?exp={exp}&sig={sig}", public_url.trim_end_matches('/')))
}

pub fn routes() -> Router<AppState> {
    Router::new().route("/hooks/media/{ws}/{message}/{attachment}", get(fetch))
}

#[derive(Deserialize)]
struct LinkPath {
    ws: String,
    message: String,
    attachment: String,
}

#[derive(Deserialize)]
struct LinkQuery {
    exp: Option<i64>,
    sig: Option<String>,
}

/// Serves the attachment to whoever holds a valid link (the provider), with its stored type.
async fn fetch(State(state): State<AppState>, Path(p): Path<LinkPath>, Query(q): Query<LinkQuery>) -> Result<Response, ApiError> {
    let gone = || ApiError::NotFound("this media link is invalid or has expired".into());
    let (Some(exp), Some(sig)) = (q.exp, q.sig) else { return Err(gone()) };
    let expected = signed(&key(&state).await?, &p.ws, &p.message, &p.attachment, exp);
    if constant_time::verify_slices_are_equal(expected.as_bytes(), sig.as_bytes()).is_err() || exp <= state.clock.epoch_seconds() {
        return Err(gone());
    }
    let ws = WorkspaceId::parse(&p.ws).map_err(|_| gone())?;
    let id = AttachmentId::parse(&p.attachment).map_err(|_| gone())?;
    let (a, bytes) = attachments::read(&state, &ws, &id).await.map_err(|_| gone())?;
    Ok(content_response(&a, bytes))
}

/// The file as an HTTP answer: its sniffed type, never rendered as a page (nosniff, a sandbox CSP),
/// and documents offered as a download under their name.
pub fn content_response(a: &attachments::Attachment, bytes: Vec<u8>) -> Response {
    let mime = a.mime.clone().unwrap_or_else(|| "application/octet-stream".into());
    let name: String = a.filename.chars().map(|c| if c.is_ascii_alphanumeric() || "._- ".contains(c) { c } else { '_' }).collect();
    let disposition = if mime.starts_with("image/") { format!("inline; filename=\"{name}\"") } else { format!("attachment; filename=\"{name}\"") };
    (
        [(header::CONTENT_TYPE, mime), (header::CONTENT_DISPOSITION, disposition), (header::X_CONTENT_TYPE_OPTIONS, "nosniff".into()), (header::CONTENT_SECURITY_POLICY, "sandbox; default-src 'none'".into()), (header::CACHE_CONTROL, "private, max-age=3600".into())],
        bytes,
    )
        .into_response()
}
