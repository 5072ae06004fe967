//! Files contacts send (images, documents, audio, video, stickers), for the dashboard: the timeline line
//! holds only the provider's media id or URL, which needs the channel's credential, so
//! `GET …/conversations/{conv}/messages/{entry}/media` fetches it from the provider and answers the bytes.
//! Nothing is cached server-side: the answer is `Cache-Control: private`, so a browser keeps what it
//! showed, and a provider that dropped the file (Meta keeps media about 30 days) is a 410.

use axum::extract::{Path, State};
use axum::response::Response;
use serde::Deserialize;
use crate::http::api_router::{routes, ApiRouter};

use super::conversations::{self, ConversationId, Entry};
use crate::auth::{Action, Workspace};
use crate::http::ApiError;
use crate::openapi::ErrorEnvelope;
use crate::ports::Key;
use crate::state::{AppState, BackendKind};
use crate::whatsapp::providers::inbound_media::{self, MediaError};
use crate::whatsapp::channels::{self, Channel};
use crate::whatsapp::credentials;

/// The largest file shown: WhatsApp's limit for video and audio (16 MB). On AWS a Lambda answer stops
/// at 6 MB (binary goes out as base64), so there the cap is 4 MiB, as for uploads.
pub const MAX_BYTES: u64 = 16 * 1024 * 1024;
pub const MAX_BYTES_AWS: u64 = 4 * 1024 * 1024;

pub fn api() -> ApiRouter<AppState> {
    ApiRouter::new().routes(routes!(inbound_media_content))
}

#[derive(Deserialize)]
struct MediaPath {
    conv: String,
    entry: String,
}

/// The file a contact sent on this timeline line, fetched from the provider (images, audio and video
/// inline; documents as a download).
#[utoipa::path(get, path = "/v1/workspaces/{ws}/conversations/{conv}/messages/{entry}/media", tag = "inbox", security(("bearer" = [])),
    params(("ws" = String, Path), ("conv" = String, Path), ("entry" = String, Path, description = "The timeline line's id (the provider message id)")),
    responses((status = 200, description = "The file", content_type = "application/octet-stream"), (status = 404, description = "No such conversation, line, or no file on it", body = ErrorEnvelope),
        (status = 410, description = "The provider no longer has the file", body = ErrorEnvelope), (status = 502, description = "The provider failed, refused the credential, or the file is too large", body = ErrorEnvelope)))]
async fn inbound_media_content(State(state): State<AppState>, ws: Workspace, Path(p): Path<MediaPath>) -> Result<Response, ApiError> {
    ws.require(Action::WorkspaceRead)?;
    let (entry, fetched) = fetch(&state, &ws, &ConversationId::parse(&p.conv)?, &p.entry).await?;
    Ok(response(&entry, fetched))
}

/// The inbound timeline line `entry_id` of this workspace's conversation (404 for anything else).
pub async fn inbound_entry(state: &AppState, ws: &Workspace, conv: &ConversationId, entry_id: &str) -> Result<(Channel, Entry), ApiError> {
    let c = conversations::load(state, ws.id(), conv).await?;
    let none = || ApiError::NotFound("this conversation has no such message with a file".into());
    if entry_id.is_empty() || entry_id.len() > 200 {
        return Err(none());
    }
    let (_, channel) = channels::load(state, ws.id(), &c.channel_id).await?;
    let marker = state.table.get(&super::process::inbound_marker(ws.id(), channel.provider, entry_id)).await?.ok_or_else(none)?;
    let (Some(owner), Some(sk)) = (marker.attrs.get("conversation").and_then(|v| v.as_str()), marker.attrs.get("entry_sk").and_then(|v| v.as_str())) else { return Err(none()) };
    if owner != c.id.as_str() {
        return Err(none());
    }
    let entry: Entry = state.table.get(&Key::new(conversations::timeline_partition(ws.id(), &c.id), sk.to_owned())).await?.ok_or_else(none)?.parse()?;
    if entry.direction != "inbound" || entry.deleted || entry.media.is_none() {
        return Err(none());
    }
    Ok((channel, entry))
}

/// Finds the line and fetches its file with the channel's credential.
pub async fn fetch(state: &AppState, ws: &Workspace, conv: &ConversationId, entry_id: &str) -> Result<(Entry, inbound_media::Fetched), ApiError> {
    let (channel, entry) = inbound_entry(state, ws, conv, entry_id).await?;
    let (_, secrets) = credentials::unseal(state, ws.id(), &channel.credential_id).await?;
    let cap = if state.backend == BackendKind::Aws { MAX_BYTES_AWS } else { MAX_BYTES };
    let rt = &state.whatsapp;
    let media = entry.media.as_deref().unwrap_or_default();
    match inbound_media::fetch(&rt.media, &rt.urls, &secrets, media, cap).await {
        Ok(f) => Ok((entry, f)),
        Err(e) => {
            tracing::info!(workspace = %ws.id(), conversation = %conv, provider = channel.provider.as_str(), error = %e, "inbound media not fetched");
            Err(api_error(e))
        }
    }
}

fn api_error(e: MediaError) -> ApiError {
    let message = e.to_string();
    match e {
        MediaError::Gone => ApiError::Gone(message),
        MediaError::TooLarge(_) => ApiError::UpstreamRefused { code: "media_too_large", message },
        MediaError::Refused(_) => ApiError::UpstreamRefused { code: "media_url_refused", message },
        MediaError::AuthFailed(_) => ApiError::UpstreamRefused { code: "provider_auth_failed", message },
        MediaError::Unavailable(_) | MediaError::Invalid(_) => ApiError::Upstream(message),
    }
}

/// Types a browser may show inline from our origin; everything else is a download.
fn inline(mime: &str) -> bool {
    matches!(mime, "image/jpeg" | "image/png" | "image/webp" | "image/gif") || ((mime.starts_with("audio/") || mime.starts_with("video/")) && !mime.contains('+'))
}

/// A type to answer with: a plain `type/subtype` that cannot run as a page, else `application/octet-stream`.
fn safe_type(raw: Option<&str>) -> String {
    let t = raw.unwrap_or_default().split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    let plain = t.split_once('/').is_some_and(|(a, b)| !a.is_empty() && !b.is_empty() && t.bytes().all(|c| c.is_ascii_alphanumeric() || b"/.+-".contains(&c)));
    let active = ["html", "xml", "svg", "javascript", "ecmascript", "xhtml"].iter().any(|w| t.contains(w));
    if plain && !active { t } else { "application/octet-stream".into() }
}

/// The file with a safe type: images, audio and video inline, the rest as a download.
fn response(entry: &Entry, f: inbound_media::Fetched) -> Response {
    let mime = safe_type(f.mime.as_deref().or(entry.media_mime.as_deref()));
    let fallback = format!("{}.{}", entry.kind, mime.rsplit('/').next().unwrap_or("bin"));
    let show = inline(&mime);
    super::media_link::file_response(mime, entry.media_filename.as_deref().unwrap_or(&fallback), show, f.bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_passive_types_go_out_as_themselves() {
        assert_eq!(safe_type(Some("image/jpeg")), "image/jpeg");
        assert_eq!(safe_type(Some("audio/ogg; codecs=opus")), "audio/ogg");
        assert_eq!(safe_type(Some("application/pdf")), "application/pdf");
        for bad in [Some("text/html"), Some("image/svg+xml"), Some("application/xhtml+xml"), Some("text/javascript"), Some("nonsense"), Some("a/b c"), None] {
            assert_eq!(safe_type(bad), "application/octet-stream", "{bad:?}");
        }
        assert!(inline("image/webp") && inline("video/mp4") && inline("audio/ogg"));
        assert!(!inline("application/pdf") && !inline("application/octet-stream") && !inline("text/plain"));
    }
}
