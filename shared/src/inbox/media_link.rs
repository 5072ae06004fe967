//! Links to an attachment for providers that fetch media themselves (Twilio's `MediaUrl`):
//! `{public}/hooks/media/{token}`, a capability URL. The token is 32 random bytes; only its SHA-256 is
//! stored, in an item naming the workspace, message and attachment it opens, expiring with the link.
//! Nothing to sign means the sender needs no platform secret; a link opens that one attachment for
//! that message until it expires, and anything else answers 404 (no hint which part was wrong).

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde::{Deserialize, Serialize};

use super::attachments::{self, AttachmentId};
use crate::auth::tokens::{opaque_token, token_hash};
use crate::auth::WorkspaceId;
use crate::http::ApiError;
use crate::ports::{Condition, Item, Key};
use crate::state::AppState;
use crate::whatsapp::types::MessageId;

/// Long enough for Twilio's queue (messages wait up to 4 hours) and its retries.
pub const LINK_SECONDS: i64 = 24 * 3600;

#[derive(Serialize, Deserialize)]
struct Link {
    workspace: WorkspaceId,
    message: MessageId,
    attachment: AttachmentId,
    expires: i64,
}

fn link_key(token: &str) -> Key {
    Key::new(format!("MEDIALINK#{}", token_hash(token)), "LINK")
}

/// A new link Twilio fetches for `attachment` of `message`, valid for a day.
pub async fn link(state: &AppState, public_url: &str, ws: &WorkspaceId, message: &MessageId, attachment: &AttachmentId) -> Result<String, ApiError> {
    let token = opaque_token("");
    let expires = state.clock.epoch_seconds() + LINK_SECONDS;
    let record = Link { workspace: ws.clone(), message: message.clone(), attachment: attachment.clone(), expires };
    state.table.put(Item::of(link_key(&token), &record).with_expiry(expires), Condition::NotExists).await?;
    Ok(format!("{}/hooks/media/{token}", public_url.trim_end_matches('/')))
}

pub fn routes() -> Router<AppState> {
    Router::new().route("/hooks/media/{token}", get(fetch))
}

/// Serves the attachment to whoever holds a live link (the provider), with its stored type.
async fn fetch(State(state): State<AppState>, Path(token): Path<String>) -> Result<Response, ApiError> {
    let gone = || ApiError::NotFound("this media link is invalid or has expired".into());
    if token.len() != 43 || !token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
        return Err(gone());
    }
    let link: Link = state.table.get(&link_key(&token)).await?.ok_or_else(gone)?.parse()?;
    if link.expires <= state.clock.epoch_seconds() {
        return Err(gone());
    }
    // The link stays bound to its message: one that no longer sends this attachment opens nothing.
    let sends_it = crate::whatsapp::messages::load(&state, &link.workspace, &link.message).await?.is_some_and(|(_, m)| matches!(&m.content, crate::whatsapp::types::Content::Attachment { attachment_id, .. } if attachment_id == link.attachment.as_str()));
    if !sends_it {
        return Err(gone());
    }
    let (a, bytes) = attachments::read(&state, &link.workspace, &link.attachment).await.map_err(|_| gone())?;
    Ok(content_response(&a, bytes))
}

/// An attachment as an HTTP answer: its sniffed type, images inline, documents as a download.
pub fn content_response(a: &attachments::Attachment, bytes: Vec<u8>) -> Response {
    let mime = a.mime.clone().unwrap_or_else(|| "application/octet-stream".into());
    let inline = mime.starts_with("image/");
    file_response(mime, &a.filename, inline, bytes)
}

/// A file as an HTTP answer, never rendered as a page (nosniff, a sandbox CSP), kept only in the
/// viewer's cache; `inline` ones show in the page, the rest download under `filename` (made header-safe).
pub fn file_response(mime: String, filename: &str, inline: bool, bytes: Vec<u8>) -> Response {
    let name: String = filename.chars().map(|c| if c.is_ascii_alphanumeric() || "._- ".contains(c) { c } else { '_' }).collect();
    let disposition = format!("{}; filename=\"{name}\"", if inline { "inline" } else { "attachment" });
    (
        [(header::CONTENT_TYPE, mime), (header::CONTENT_DISPOSITION, disposition), (header::X_CONTENT_TYPE_OPTIONS, "nosniff".into()), (header::CONTENT_SECURITY_POLICY, "sandbox; default-src 'none'".into()), (header::CACHE_CONTROL, "private, max-age=3600".into())],
        bytes,
    )
        .into_response()
}
