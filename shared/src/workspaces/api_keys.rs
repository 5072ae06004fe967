//! API keys for server-to-server calls: `wt_<key ulid>_<secret>`, shown once; stored as a SHA-256 hash
//! in a pointer item the authenticator reads, next to a listing item that shows only the prefix.
//!
//! Items: `WS#<id>`/`APIKEY#<key>` (listing) and `APIKEY#<key>`/`APIKEY` (pointer), written together.

use serde::{Deserialize, Serialize};

use super::audit;
use crate::auth::principal::api_key_pointer;
use crate::auth::tokens::{opaque_token, token_hash};
use crate::auth::{Action, ApiKeyId, RequestMeta, Scope, Workspace};
use crate::http::ApiError;
use crate::ports::{Condition, Item, Key, Query, TxWrite};
use crate::state::AppState;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct ApiKey {
    pub id: ApiKeyId,
    pub name: String,
    /// The first characters of the key, enough to recognise it.
    pub prefix: String,
    pub scopes: Vec<Scope>,
    pub created_by: String,
    pub created_at: String,
    pub revoked_at: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CreatedApiKey {
    #[serde(flatten)]
    pub key: ApiKey,
    /// The full key. It is shown this once and cannot be recovered.
    pub secret: String,
}

fn listing_key(ws: &Workspace, id: &ApiKeyId) -> Key {
    Key::new(ws.pk(), format!("APIKEY#{id}"))
}

fn parse_scopes(scopes: Vec<Scope>) -> Result<Vec<Scope>, ApiError> {
    let mut scopes = scopes;
    scopes.sort();
    scopes.dedup();
    if scopes.is_empty() {
        return Err(ApiError::Validation("an API key needs at least one scope".into()));
    }
    Ok(scopes)
}

pub async fn create(state: &AppState, ws: &Workspace, meta: &RequestMeta, name: &str, scopes: Vec<Scope>) -> Result<CreatedApiKey, ApiError> {
    ws.require(Action::ApiKeysManage)?;
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 80 {
        return Err(ApiError::Validation("API key name must be 1–80 characters".into()));
    }
    let scopes = parse_scopes(scopes)?;
    let id = ApiKeyId::new(state.clock.new_id());
    let secret = format!("wt_{}_{}", id.as_str().trim_start_matches("key_"), opaque_token("").trim_start_matches('_'));
    let key = ApiKey {
        id: id.clone(),
        name: name.to_owned(),
        prefix: secret.chars().take(12).collect(),
        scopes: scopes.clone(),
        created_by: ws.principal().actor(),
        created_at: state.clock.now().to_rfc3339(),
        revoked_at: None,
    };
    let pointer = Item::new(api_key_pointer(&id))
        .with_attr("workspace", ws.id().as_str())
        .with_attr("secret_hash", token_hash(&secret))
        .with_attr("scopes", serde_json::to_value(&scopes).unwrap_or_default())
        .with_attr("revoked", false);
    state
        .table
        .transact(vec![
            TxWrite::Put { item: Item::of(listing_key(ws, &id), &key), condition: Condition::NotExists },
            TxWrite::Put { item: pointer, condition: Condition::NotExists },
            audit::entry(state, ws, meta, "api_key.create", id.as_str()),
        ])
        .await?;
    Ok(CreatedApiKey { key, secret })
}

pub async fn list(state: &AppState, ws: &Workspace) -> Result<Vec<ApiKey>, ApiError> {
    ws.require(Action::ApiKeysManage)?;
    let page = state.table.query(Query::partition(ws.pk()).prefix("APIKEY#").limit(1000)).await?;
    page.items.iter().map(|i| i.parse().map_err(ApiError::from)).collect()
}

/// Revokes a key at once: the authenticator refuses it from the next request on.
pub async fn revoke(state: &AppState, ws: &Workspace, meta: &RequestMeta, id: &ApiKeyId) -> Result<ApiKey, ApiError> {
    ws.require(Action::ApiKeysManage)?;
    let listing = state.table.get(&listing_key(ws, id)).await?.ok_or_else(|| ApiError::NotFound("no such API key".into()))?;
    let mut key: ApiKey = listing.parse()?;
    if key.revoked_at.is_some() {
        return Ok(key);
    }
    key.revoked_at = Some(state.clock.now().to_rfc3339());
    let mut pointer = state.table.get(&api_key_pointer(id)).await?.ok_or_else(|| ApiError::Internal("API key pointer missing".into()))?;
    pointer.attrs.insert("revoked".into(), true.into());
    state
        .table
        .transact(vec![
            TxWrite::Put { item: Item::of(listing_key(ws, id), &key), condition: Condition::Exists },
            TxWrite::Put { item: pointer, condition: Condition::Exists },
            audit::entry(state, ws, meta, "api_key.revoke", id.as_str()),
        ])
        .await?;
    Ok(key)
}
