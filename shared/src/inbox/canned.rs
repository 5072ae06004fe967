//! Canned replies: saved answers a member inserts in the composer by typing `/shortcode`.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::types::prefixed_id;
use crate::auth::{Action, Workspace, WorkspaceId};
use crate::http::ApiError;
use crate::ports::{Condition, Item, Key, Query, TableError, TxWrite};
use crate::state::AppState;

prefixed_id!(CannedId, "canned_", "canned reply");

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct CannedReply {
    pub id: CannedId,
    /// Typed after a slash in the composer (`refund` for `/refund`).
    pub short_code: String,
    pub content: String,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct CannedInput {
    pub short_code: String,
    pub content: String,
}

fn canned_key(ws: &WorkspaceId, id: &CannedId) -> Key {
    Key::new(format!("WS#{ws}#CANNED"), id.to_string())
}

/// Short codes are unique per workspace: this pointer is written in the same transaction.
fn code_key(ws: &WorkspaceId, code: &str) -> Key {
    Key::new(format!("WS#{ws}#CANNEDCODE"), code.to_owned())
}

/// A short code is 1–32 lowercase letters, digits, `_` or `-` (a leading slash is dropped).
pub fn parse_short_code(raw: &str) -> Result<String, ApiError> {
    let code = raw.trim().trim_start_matches('/').to_lowercase();
    if code.is_empty() || code.len() > 32 || !code.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
        return Err(ApiError::Validation("a short code is 1–32 letters, digits, _ or -".into()));
    }
    Ok(code)
}

fn parse_input(input: CannedInput) -> Result<(String, String), ApiError> {
    let content = input.content.trim();
    if content.is_empty() || content.chars().count() > 4096 {
        return Err(ApiError::Validation("a canned reply is 1–4096 characters".into()));
    }
    Ok((parse_short_code(&input.short_code)?, content.to_owned()))
}

/// Replaces a message that is exactly `/code` (or ends with ` /code`) with the reply's content; else `None`.
pub fn expand(text: &str, replies: &[CannedReply]) -> Option<String> {
    let (before, word) = text.rsplit_once(char::is_whitespace).map_or(("", text), |(b, w)| (b, w));
    let code = word.strip_prefix('/')?.to_lowercase();
    let reply = replies.iter().find(|r| r.short_code == code)?;
    Some(if before.is_empty() { reply.content.clone() } else { format!("{before} {}", reply.content) })
}

pub async fn list(state: &AppState, ws: &Workspace) -> Result<Vec<CannedReply>, ApiError> {
    ws.require(Action::WorkspaceRead)?;
    let page = state.table.query(Query::partition(format!("WS#{}#CANNED", ws.id())).limit(500)).await?;
    let mut all = page.items.iter().map(Item::parse::<CannedReply>).collect::<Result<Vec<_>, _>>()?;
    all.sort_by(|a, b| a.short_code.cmp(&b.short_code));
    Ok(all)
}

async fn load(state: &AppState, ws: &WorkspaceId, id: &CannedId) -> Result<(CannedReply, u64), ApiError> {
    let item = state.table.get(&canned_key(ws, id)).await?.ok_or_else(|| ApiError::NotFound(format!("no canned reply `{id}`")))?;
    Ok((item.parse()?, item.version))
}

fn taken(code: &str) -> ApiError {
    ApiError::Conflict(format!("the short code `/{code}` is already used"))
}

pub async fn create(state: &AppState, ws: &Workspace, input: CannedInput) -> Result<CannedReply, ApiError> {
    ws.require(Action::InboxReply)?;
    let (short_code, content) = parse_input(input)?;
    let now = state.clock.now().to_rfc3339();
    let reply = CannedReply { id: CannedId::new(state.clock.new_id()), short_code, content, created_at: now.clone(), updated_at: now };
    let pointer = Item::new(code_key(ws.id(), &reply.short_code)).with_attr("canned", reply.id.as_str());
    match state.table.transact(vec![TxWrite::Put { item: pointer, condition: Condition::NotExists }, TxWrite::Put { item: Item::of(canned_key(ws.id(), &reply.id), &reply), condition: Condition::NotExists }]).await {
        Ok(()) => Ok(reply),
        Err(TableError::TransactionCancelled { .. }) => Err(taken(&reply.short_code)),
        Err(e) => Err(e.into()),
    }
}

pub async fn update(state: &AppState, ws: &Workspace, id: &CannedId, input: CannedInput) -> Result<CannedReply, ApiError> {
    ws.require(Action::InboxReply)?;
    let (short_code, content) = parse_input(input)?;
    let (old, version) = load(state, ws.id(), id).await?;
    let reply = CannedReply { short_code, content, updated_at: state.clock.now().to_rfc3339(), ..old.clone() };
    let mut writes = vec![TxWrite::Put { item: Item::of(canned_key(ws.id(), id), &reply).with_version(version + 1), condition: Condition::VersionIs(version) }];
    if reply.short_code != old.short_code {
        writes.push(TxWrite::Delete { key: code_key(ws.id(), &old.short_code), condition: Condition::None });
        writes.push(TxWrite::Put { item: Item::new(code_key(ws.id(), &reply.short_code)).with_attr("canned", id.as_str()), condition: Condition::NotExists });
    }
    match state.table.transact(writes).await {
        Ok(()) => Ok(reply),
        Err(TableError::TransactionCancelled { .. }) => Err(taken(&reply.short_code)),
        Err(e) => Err(e.into()),
    }
}

pub async fn delete(state: &AppState, ws: &Workspace, id: &CannedId) -> Result<(), ApiError> {
    ws.require(Action::InboxReply)?;
    let (old, _) = load(state, ws.id(), id).await?;
    state.table.transact(vec![TxWrite::Delete { key: canned_key(ws.id(), id), condition: Condition::None }, TxWrite::Delete { key: code_key(ws.id(), &old.short_code), condition: Condition::None }]).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(code: &str, content: &str) -> CannedReply {
        CannedReply { id: CannedId::new(ulid::Ulid::nil()), short_code: code.into(), content: content.into(), created_at: String::new(), updated_at: String::new() }
    }

    #[test]
    fn expands_a_trailing_shortcode_only() {
        let all = [reply("refund", "Refunds take 5 days.")];
        assert_eq!(expand("/refund", &all).as_deref(), Some("Refunds take 5 days."));
        assert_eq!(expand("Hi Ada, /REFUND", &all).as_deref(), Some("Hi Ada, Refunds take 5 days."));
        assert_eq!(expand("/refunds", &all), None);
        assert_eq!(expand("see /refund later", &all), None);
        assert_eq!(expand("a/refund", &all), None);
    }

    #[test]
    fn short_codes_are_plain_words() {
        assert_eq!(parse_short_code("/Refund").unwrap(), "refund");
        for bad in ["", "/", "two words", "x".repeat(33).as_str(), "ünï"] {
            assert!(parse_short_code(bad).is_err(), "{bad}");
        }
    }
}
