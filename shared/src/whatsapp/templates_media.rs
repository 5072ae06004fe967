//! Sample media for a Meta template with an image, video or document header: the file is checked
//! against Meta's types and size limits (and its first bytes against the type it claims), uploaded with
//! the Resumable Upload API under the credential's app, and the handle handed back for the template's
//! `examples.header_media`.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::channels;
use super::credentials;
use super::providers::{meta_upload, ErrorClass, ProviderSecrets};
use super::templates::HeaderFormat;
use super::types::ChannelId;
use crate::auth::{Action, RequestMeta, Workspace};
use crate::http::ApiError;
use crate::state::AppState;
use crate::workspaces::audit;

const MB: usize = 1024 * 1024;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct MediaQuery {
    /// The header the sample is for: `image`, `video` or `document`.
    pub format: HeaderFormat,
    /// The file's name as Meta is told it (1–200 characters); `sample` when left out.
    pub file_name: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct UploadedSample {
    /// Meta's file handle: pass it as `examples.header_media` when creating the template.
    pub handle: String,
    pub format: HeaderFormat,
    pub file_type: String,
    pub file_length: usize,
}

/// The MIME types Meta's Resumable Upload API takes for each header format, Meta's size limit for that
/// kind of media, and how such a file starts.
fn accepted(format: HeaderFormat) -> Option<(&'static [&'static str], usize, &'static str)> {
    match format {
        HeaderFormat::Image => Some((&["image/jpeg", "image/jpg", "image/png"], 5 * MB, "a JPEG or PNG image")),
        HeaderFormat::Video => Some((&["video/mp4"], 16 * MB, "an MP4 video")),
        HeaderFormat::Document => Some((&["application/pdf"], 100 * MB, "a PDF document")),
        HeaderFormat::Text => None,
    }
}

/// Whether the bytes are what the type says (a renamed file is refused here, not by Meta's review).
fn looks_like(file_type: &str, bytes: &[u8]) -> bool {
    match file_type {
        "image/jpeg" | "image/jpg" => bytes.starts_with(&[0xFF, 0xD8, 0xFF]),
        "image/png" => bytes.starts_with(b"\x89PNG\r\n\x1a\n"),
        "video/mp4" => bytes.get(4..8) == Some(b"ftyp"),
        "application/pdf" => bytes.starts_with(b"%PDF-"),
        _ => false,
    }
}

fn megabytes(n: usize) -> String {
    format!("{:.1} MB", n as f64 / MB as f64)
}

fn refused(code: &'static str, message: String) -> ApiError {
    ApiError::Refused { code, message }
}

/// Checks a sample: the format takes media, the type is one Meta accepts for it, the size is within
/// Meta's limit, and the bytes match the type. Answers the MIME type to declare.
pub fn check_sample(format: HeaderFormat, content_type: Option<&str>, bytes: &[u8]) -> Result<String, ApiError> {
    let (types, limit, what) = accepted(format).ok_or_else(|| ApiError::Validation("format must be image, video or document: a text header needs no sample file".into()))?;
    let file_type = content_type.unwrap_or_default().split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    let label = format!("{format:?}").to_ascii_lowercase();
    if !types.contains(&file_type.as_str()) {
        let given = if file_type.is_empty() { "no Content-Type".to_owned() } else { format!("`{}`", file_type.chars().take(60).collect::<String>()) };
        return Err(refused("media_type_unsupported", format!("an {label} header sample must be {what} ({}); the upload has {given}", types.join(", "))));
    }
    if bytes.is_empty() {
        return Err(refused("media_empty", "the sample file is empty".into()));
    }
    if bytes.len() > limit {
        return Err(refused("media_too_large", format!("an {label} header sample can be at most {} (Meta's limit); this file is {}", megabytes(limit), megabytes(bytes.len()))));
    }
    if !looks_like(&file_type, bytes) {
        return Err(refused("media_type_mismatch", format!("the file is not {what}, although it was sent as {file_type}")));
    }
    Ok(file_type)
}

fn file_name(raw: Option<&str>) -> Result<String, ApiError> {
    let name = raw.map(str::trim).filter(|n| !n.is_empty()).unwrap_or("sample");
    let ok = name.chars().count() <= 200 && !name.chars().any(|c| c.is_control() || c == '/' || c == '\\');
    ok.then(|| name.to_owned()).ok_or_else(|| ApiError::Validation("file_name must be 1–200 characters without slashes or control characters".into()))
}

/// Uploads a header sample for a template on the channel (Meta channels only) and answers its handle.
pub async fn upload(state: &AppState, ws: &Workspace, meta: &RequestMeta, chan: &ChannelId, q: &MediaQuery, content_type: Option<&str>, bytes: &[u8]) -> Result<UploadedSample, ApiError> {
    ws.require(Action::ChannelsManage)?;
    let (_, channel) = channels::load(state, ws.id(), chan).await?;
    let (cred, secrets) = credentials::unseal(state, ws.id(), &channel.credential_id).await?;
    let ProviderSecrets::Meta { access_token, .. } = secrets.as_ref() else {
        let how = "Twilio templates give the media URL in the template, and Whapi sends the header media with each message";
        return Err(refused("unsupported_capability", format!("only Meta reviews templates with an uploaded sample; {how}")));
    };
    let file_type = check_sample(q.format, content_type, bytes)?;
    let name = file_name(q.file_name.as_deref())?;
    let app_id = cred.app_id.as_deref().ok_or_else(|| {
        refused("meta_app_id_missing", "the Meta credential has no app_id: add the Meta app's id (App settings → Basic → App ID) to the credential, then upload again".into())
    })?;
    let rt = &state.whatsapp;
    let sample = meta_upload::Sample { file_name: &name, file_type: &file_type, bytes };
    let handle = meta_upload::upload(&rt.http, &rt.urls.meta, access_token, app_id, &sample).await.map_err(|e| match e.class {
        ErrorClass::AuthFailed => refused("provider_auth_failed", format!("Meta refused the credential for the upload ({}: {})", e.code, e.message)),
        ErrorClass::Transient { .. } | ErrorClass::RateLimited { .. } => ApiError::Upstream(format!("Meta's upload failed, try again ({}: {})", e.code, e.message)),
        _ => refused("provider_error", format!("Meta refused the upload ({}: {})", e.code, e.message)),
    })?;
    audit::record(state, ws, meta, "template.media_upload", chan.as_str()).await?;
    Ok(UploadedSample { handle, format: q.format, file_type, file_length: bytes.len() })
}

/// Whether a template example for a media header is an upload handle (what Meta reviews) rather than a URL.
pub fn is_handle(value: &str) -> bool {
    value.contains(':') && !value.contains("://") && value.len() <= 4096 && !value.chars().any(char::is_whitespace)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_are_checked_against_meta_limits() {
        let jpeg = [0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10];
        assert_eq!(check_sample(HeaderFormat::Image, Some("image/jpeg"), &jpeg).unwrap(), "image/jpeg");
        let code = |r: Result<String, ApiError>| r.unwrap_err().code();
        assert_eq!(code(check_sample(HeaderFormat::Image, Some("image/gif"), &jpeg)), "media_type_unsupported");
        assert_eq!(code(check_sample(HeaderFormat::Video, Some("image/jpeg"), &jpeg)), "media_type_unsupported");
        assert_eq!(code(check_sample(HeaderFormat::Image, Some("image/png"), &jpeg)), "media_type_mismatch");
        assert_eq!(code(check_sample(HeaderFormat::Image, Some("image/jpeg"), &[])), "media_empty");
        let mut big = vec![0u8; 5 * MB + 1];
        big[..3].copy_from_slice(&[0xFF, 0xD8, 0xFF]);
        let e = check_sample(HeaderFormat::Image, Some("image/jpeg"), &big).unwrap_err();
        assert_eq!((e.code(), e.to_string().contains("at most 5.0 MB")), ("media_too_large", true), "{e}");
        assert_eq!(check_sample(HeaderFormat::Document, Some("application/pdf; charset=binary"), b"%PDF-1.7").unwrap(), "application/pdf");
        assert_eq!(check_sample(HeaderFormat::Video, Some("video/mp4"), b"\0\0\0\x18ftypmp42").unwrap(), "video/mp4");
        assert!(check_sample(HeaderFormat::Text, Some("text/plain"), b"x").is_err());
        assert!(is_handle("4::aW1hZ2UvanBlZw==:ARa1ZDhwbLZM3EENeeg") && !is_handle("https://cdn.example/p.jpg"));
    }
}
