//! Attachments agents send from the inbox. A file is uploaded in parts of at most 256 KiB, so every
//! request stays under the API body limit and every stored part under DynamoDB's 400 KB item size;
//! the bytes live in the Table port (no object store to run locally, works on both backends). The
//! type comes from the file's magic bytes, never from the name or a header. The WhatsApp worker sends
//! it per provider: Meta's media upload, a signed expiring link Twilio fetches, inline for Whapi.

use base64::Engine;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::types::prefixed_id;
use crate::auth::{Action, Workspace, WorkspaceId};
use crate::http::ApiError;
use crate::ports::{Condition, Item, Key, Query, TableError};
use crate::state::AppState;
use crate::whatsapp::types::MediaKind;

prefixed_id!(AttachmentId, "att_", "attachment");

/// Bytes per uploaded part (the last one may be shorter): 256 KiB is ~342 KB as base64 in an item.
pub const PART_BYTES: u64 = 256 * 1024;
/// The largest attachment: 4 MiB. Meta takes images up to 5 MB and documents up to 100 MB, but on AWS
/// Twilio fetches the file through a Lambda, whose answer (base64 for binary) stops at 6 MB.
pub const MAX_BYTES: u64 = 4 * 1024 * 1024;
/// Uploads, finished or not, are kept this long; the timeline then says the file expired.
const KEEP_SECONDS: i64 = 90 * 86_400;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum UploadStatus {
    Uploading,
    Ready,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Attachment {
    pub id: AttachmentId,
    pub filename: String,
    pub size: u64,
    pub parts: u32,
    pub part_bytes: u64,
    /// Known once the first part arrived (from its magic bytes).
    pub mime: Option<String>,
    pub kind: Option<MediaKind>,
    pub status: UploadStatus,
    pub created_by: String,
    pub created_at: String,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewAttachment {
    /// The file's name as the contact will see it (documents).
    pub filename: String,
    /// Its size in bytes (at most 4 MiB).
    pub size: u64,
}

fn attachment_key(ws: &WorkspaceId, id: &AttachmentId) -> Key {
    Key::new(format!("WS#{ws}#ATT"), id.to_string())
}

fn parts_partition(ws: &WorkspaceId, id: &AttachmentId) -> String {
    format!("WS#{ws}#ATT#{id}")
}

/// What the first bytes say the file is, among what WhatsApp accepts: JPEG, PNG, WebP images; PDF,
/// Office (OOXML zips and the legacy OLE files, told apart by extension) and plain-text documents.
pub fn sniff(head: &[u8], filename: &str) -> Option<(&'static str, MediaKind)> {
    let ext = filename.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase()).unwrap_or_default();
    let doc = |mime| Some((mime, MediaKind::Document));
    if head.starts_with(&[0xFF, 0xD8, 0xFF]) {
        return Some(("image/jpeg", MediaKind::Image));
    }
    if head.starts_with(b"\x89PNG\r\n\x1a\n") {
        return Some(("image/png", MediaKind::Image));
    }
    if head.len() >= 12 && &head[..4] == b"RIFF" && &head[8..12] == b"WEBP" {
        return Some(("image/webp", MediaKind::Image));
    }
    if head.starts_with(b"%PDF-") {
        return doc("application/pdf");
    }
    if head.starts_with(b"PK\x03\x04") {
        return match ext.as_str() {
            "docx" => doc("application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
            "xlsx" => doc("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
            "pptx" => doc("application/vnd.openxmlformats-officedocument.presentationml.presentation"),
            _ => None,
        };
    }
    if head.starts_with(&[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1]) {
        return match ext.as_str() {
            "doc" => doc("application/msword"),
            "xls" => doc("application/vnd.ms-excel"),
            "ppt" => doc("application/vnd.ms-powerpoint"),
            _ => None,
        };
    }
    // Text: valid UTF-8 (a character cut at the part's end is fine) without NUL bytes.
    let text = match std::str::from_utf8(head) {
        Ok(_) => true,
        Err(e) => e.error_len().is_none(),
    };
    (ext == "txt" && text && !head.contains(&0)).then_some(("text/plain", MediaKind::Document))
}

/// A file name safe to show and to send: no path, no control characters, 1–200 characters.
fn clean_filename(raw: &str) -> Result<String, ApiError> {
    let name: String = raw.rsplit(['/', '\\']).next().unwrap_or_default().chars().filter(|c| !c.is_control()).collect();
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 || name.starts_with('.') {
        return Err(ApiError::Validation("the file needs a name of 1–200 characters".into()));
    }
    Ok(name.to_owned())
}

/// Starts an upload: answers the attachment with how many parts to send.
pub async fn create(state: &AppState, ws: &Workspace, req: NewAttachment) -> Result<Attachment, ApiError> {
    ws.require(Action::InboxReply)?;
    let filename = clean_filename(&req.filename)?;
    if req.size == 0 || req.size > MAX_BYTES {
        return Err(ApiError::Validation(format!("attachments can be up to {} MB; this file is {:.1} MB", MAX_BYTES / (1024 * 1024), req.size as f64 / 1_048_576.0)));
    }
    let a = Attachment {
        id: AttachmentId::new(state.clock.new_id()),
        filename,
        size: req.size,
        parts: req.size.div_ceil(PART_BYTES) as u32,
        part_bytes: PART_BYTES,
        mime: None,
        kind: None,
        status: UploadStatus::Uploading,
        created_by: ws.principal().actor(),
        created_at: state.clock.now().to_rfc3339(),
    };
    state.table.put(Item::of(attachment_key(ws.id(), &a.id), &a).with_expiry(state.clock.epoch_seconds() + KEEP_SECONDS), Condition::NotExists).await?;
    Ok(a)
}

/// The attachment's record (404 for another workspace's id: the key names the workspace).
pub async fn load(state: &AppState, ws: &WorkspaceId, id: &AttachmentId) -> Result<(Item, Attachment), ApiError> {
    let item = state.table.get(&attachment_key(ws, id)).await?.ok_or_else(|| ApiError::NotFound(format!("no attachment `{id}`")))?;
    let a = item.parse()?;
    Ok((item, a))
}

/// Stores part `n`. It must have the exact expected length; the first part decides the type.
pub async fn put_part(state: &AppState, ws: &Workspace, id: &AttachmentId, n: u32, bytes: &[u8]) -> Result<Attachment, ApiError> {
    ws.require(Action::InboxReply)?;
    let (item, mut a) = load(state, ws.id(), id).await?;
    if a.status != UploadStatus::Uploading {
        return Err(ApiError::Conflict("this attachment is complete; start a new upload to change it".into()));
    }
    if n >= a.parts {
        return Err(ApiError::Validation(format!("part {n} is out of range: this upload has parts 0–{}", a.parts - 1)));
    }
    let expected = if n + 1 == a.parts { a.size - u64::from(n) * a.part_bytes } else { a.part_bytes };
    if bytes.len() as u64 != expected {
        return Err(ApiError::Validation(format!("part {n} must be {expected} bytes, got {}", bytes.len())));
    }
    if n == 0 {
        let (mime, kind) = sniff(bytes, &a.filename).ok_or_else(|| ApiError::Validation("only JPEG, PNG or WebP images and PDF, Word, Excel, PowerPoint or .txt documents can be attached".into()))?;
        (a.mime, a.kind) = (Some(mime.to_owned()), Some(kind));
        let updated = Item::of(item.key.clone(), &a).with_version(item.version + 1);
        let updated = match item.expires_at {
            Some(at) => updated.with_expiry(at),
            None => updated,
        };
        match state.table.put(updated, Condition::VersionIs(item.version)).await {
            Ok(()) | Err(TableError::ConditionFailed) => {}
            Err(e) => return Err(e.into()),
        }
    }
    let data = base64::engine::general_purpose::STANDARD.encode(bytes);
    let part = Item::new(Key::new(parts_partition(ws.id(), id), format!("{n:03}"))).with_attr("data", data).with_attr("len", bytes.len() as u64).with_expiry(state.clock.epoch_seconds() + KEEP_SECONDS);
    state.table.put(part, Condition::None).await?;
    Ok(a)
}

/// Part lengths by number, as stored.
async fn stored_parts(state: &AppState, ws: &WorkspaceId, id: &AttachmentId, with_data: bool) -> Result<Vec<Item>, ApiError> {
    let mut items = Vec::new();
    let mut after = None;
    loop {
        let mut q = Query::partition(parts_partition(ws, id)).limit(100).after(after);
        if !with_data {
            q = q.project(&["len"]);
        }
        let page = state.table.query(q).await?;
        items.extend(page.items);
        match page.next {
            Some(c) => after = Some(c),
            None => return Ok(items),
        }
    }
}

/// Marks the upload ready once every part is in.
pub async fn complete(state: &AppState, ws: &Workspace, id: &AttachmentId) -> Result<Attachment, ApiError> {
    ws.require(Action::InboxReply)?;
    let (item, mut a) = load(state, ws.id(), id).await?;
    if a.status == UploadStatus::Ready {
        return Ok(a);
    }
    let parts = stored_parts(state, ws.id(), id, false).await?;
    let total: u64 = parts.iter().filter_map(|p| p.attrs.get("len").and_then(|v| v.as_u64())).sum();
    if parts.len() as u32 != a.parts || total != a.size || a.mime.is_none() {
        return Err(ApiError::Validation(format!("{} of {} parts arrived; send the missing ones, then complete", parts.len(), a.parts)));
    }
    a.status = UploadStatus::Ready;
    let mut updated = Item::of(item.key.clone(), &a).with_version(item.version + 1);
    updated.expires_at = item.expires_at;
    state.table.put(updated, Condition::VersionIs(item.version)).await?;
    Ok(a)
}

/// A ready attachment and its bytes.
pub async fn read(state: &AppState, ws: &WorkspaceId, id: &AttachmentId) -> Result<(Attachment, Vec<u8>), ApiError> {
    let (_, a) = load(state, ws, id).await?;
    if a.status != UploadStatus::Ready {
        return Err(ApiError::NotFound(format!("attachment `{id}` is still uploading")));
    }
    let mut bytes = Vec::with_capacity(a.size as usize);
    for part in stored_parts(state, ws, id, true).await? {
        let data = part.attrs.get("data").and_then(|v| v.as_str()).unwrap_or_default();
        bytes.extend(base64::engine::general_purpose::STANDARD.decode(data).map_err(|_| ApiError::Internal("a stored attachment part is not base64".into()))?);
    }
    if bytes.len() as u64 != a.size {
        return Err(ApiError::NotFound(format!("attachment `{id}` has expired")));
    }
    Ok((a, bytes))
}

/// A ready attachment of this workspace, for a send (a missing or unfinished one is a 422 there).
pub async fn for_send(state: &AppState, ws: &WorkspaceId, raw_id: &str) -> Result<Attachment, ApiError> {
    let unknown = || ApiError::Validation(format!("no attachment `{}`; upload it first", raw_id.chars().take(40).collect::<String>()));
    let id = AttachmentId::parse(raw_id).map_err(|_| unknown())?;
    let (_, a) = load(state, ws, &id).await.map_err(|_| unknown())?;
    if a.status != UploadStatus::Ready {
        return Err(ApiError::Validation("the attachment is still uploading; finish the upload first".into()));
    }
    Ok(a)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_come_from_magic_bytes() {
        assert_eq!(sniff(b"\xFF\xD8\xFF\xE0rest", "x.png"), Some(("image/jpeg", MediaKind::Image)));
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\nrest", "photo"), Some(("image/png", MediaKind::Image)));
        assert_eq!(sniff(b"RIFF\x10\0\0\0WEBPVP8 ", "a.webp"), Some(("image/webp", MediaKind::Image)));
        assert_eq!(sniff(b"%PDF-1.7\n", "invoice.pdf"), Some(("application/pdf", MediaKind::Document)));
        assert_eq!(sniff(b"PK\x03\x04....", "report.DOCX").map(|t| t.1), Some(MediaKind::Document));
        assert_eq!(sniff(b"hello, world", "notes.txt"), Some(("text/plain", MediaKind::Document)));
        for (bytes, name) in [(&b"<html><script>"[..], "page.html"), (b"<svg onload=x>", "a.png"), (b"PK\x03\x04", "archive.zip"), (b"MZ\x90\0", "setup.pdf"), (b"a\0b", "bin.txt")] {
            assert_eq!(sniff(bytes, name), None, "{name}");
        }
    }

    #[test]
    fn file_names_lose_paths_and_control_characters() {
        assert_eq!(clean_filename("C:\\Users\\ada\\invoice 42.pdf").unwrap(), "invoice 42.pdf");
        assert_eq!(clean_filename("../../etc/pass\nwd.txt").unwrap(), "passwd.txt");
        assert!(clean_filename("  ").is_err() && clean_filename(".env").is_err() && clean_filename(&"a".repeat(201)).is_err());
    }
}
