//! Event webhook endpoints: a workspace's URLs (SSRF-checked), the event types each wants, and a
//! `whsec_` signing secret sealed beside the record and shown once.

use base64::Engine;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::EventType;
use crate::auth::types::prefixed_id;
use crate::auth::{Action, RequestMeta, Workspace, WorkspaceId};
use crate::http::ApiError;
use crate::ports::envelope::{open_cached, seal, Sealed};
use crate::ports::{Condition, EncryptionContext, Item, Key, Query, TxWrite};
use crate::state::AppState;
use crate::workspaces::audit;

prefixed_id!(EndpointId, "ep_", "endpoint");

const SEALED: &str = "sealed";
const MAX_ENDPOINTS: usize = 20;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct Endpoint {
    pub id: EndpointId,
    pub url: String,
    pub description: Option<String>,
    /// Empty: every event type.
    pub event_types: Vec<EventType>,
    pub enabled: bool,
    /// Why the platform disabled it (sustained failure, 410 Gone).
    pub disabled_reason: Option<String>,
    /// Start of the current run of failed attempts; cleared by a success.
    pub failing_since: Option<String>,
    pub last_success_at: Option<String>,
    pub secret_hint: String,
    pub created_at: String,
}

impl Endpoint {
    pub fn wants(&self, event: EventType) -> bool {
        self.enabled && (self.event_types.is_empty() || self.event_types.contains(&event))
    }
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EndpointInput {
    pub url: String,
    pub description: Option<String>,
    #[serde(default)]
    pub event_types: Vec<EventType>,
    /// Re-enabling a disabled endpoint clears its failure state.
    #[serde(default = "yes")]
    pub enabled: bool,
}

fn yes() -> bool {
    true
}

pub fn endpoint_key(ws: &WorkspaceId, id: &EndpointId) -> Key {
    Key::new(format!("WS#{ws}"), format!("EVENDPOINT#{id}"))
}

fn context(ws: &WorkspaceId, id: &EndpointId) -> EncryptionContext {
    EncryptionContext::new([("workspace", ws.as_str()), ("endpoint", id.as_str()), ("purpose", "event-webhook-secret")])
}

fn validate(state: &AppState, input: &EndpointInput) -> Result<String, ApiError> {
    let url = crate::http::outbound::check_url(&input.url, &state.events_out.policy)?;
    if input.description.as_ref().is_some_and(|d| d.chars().count() > 200) {
        return Err(ApiError::Validation("description must be at most 200 characters".into()));
    }
    Ok(url.to_string())
}

pub async fn create(state: &AppState, ws: &Workspace, meta: &RequestMeta, input: &EndpointInput) -> Result<(Endpoint, SecretString), ApiError> {
    ws.require(Action::TriggersManage)?;
    let url = validate(state, input)?;
    if list_all(state, ws.id()).await?.len() >= MAX_ENDPOINTS {
        return Err(ApiError::Refused { code: "limit_reached", message: format!("a workspace can have at most {MAX_ENDPOINTS} event endpoints") });
    }
    let id = EndpointId::new(state.clock.new_id());
    let secret = format!("whsec_{}", base64::engine::general_purpose::STANDARD.encode(crate::crypto::random_bytes::<32>()));
    let endpoint = Endpoint {
        id: id.clone(),
        url,
        description: input.description.clone(),
        event_types: input.event_types.clone(),
        enabled: input.enabled,
        disabled_reason: None,
        failing_since: None,
        last_success_at: None,
        secret_hint: format!("••••{}", &secret[secret.len() - 4..]),
        created_at: state.clock.now().to_rfc3339(),
    };
    let sealed = seal(state.keyring.as_ref(), &context(ws.id(), &id), secret.as_bytes()).await?;
    let key = endpoint_key(ws.id(), &id);
    let mut item = Item::of(key.clone(), &endpoint);
    item.attrs.insert(SEALED.into(), serde_json::to_value(&sealed).expect("sealed serialises"));
    state
        .table
        .transact(vec![TxWrite::Put { item, condition: Condition::NotExists }, crate::keys::register(&key, SEALED, &context(ws.id(), &id)), audit::entry(state, ws, meta, "event_endpoint.create", id.as_str())])
        .await?;
    Ok((endpoint, SecretString::from(secret)))
}

/// Every endpoint of a workspace (for fan-out; no permission check).
pub async fn list_all(state: &AppState, ws: &WorkspaceId) -> Result<Vec<Endpoint>, ApiError> {
    let page = state.table.query(Query::partition(format!("WS#{ws}")).prefix("EVENDPOINT#").limit(100)).await?;
    page.items.iter().map(|i| i.parse().map_err(ApiError::from)).collect()
}

pub async fn list(state: &AppState, ws: &Workspace) -> Result<Vec<Endpoint>, ApiError> {
    ws.require(Action::WorkspaceRead)?;
    list_all(state, ws.id()).await
}

pub async fn load(state: &AppState, ws: &WorkspaceId, id: &EndpointId) -> Result<(Item, Endpoint), ApiError> {
    let item = state.table.get(&endpoint_key(ws, id)).await?.ok_or_else(|| ApiError::NotFound("no such endpoint".into()))?;
    let endpoint = item.parse()?;
    Ok((item, endpoint))
}

pub async fn get(state: &AppState, ws: &Workspace, id: &EndpointId) -> Result<Endpoint, ApiError> {
    ws.require(Action::WorkspaceRead)?;
    Ok(load(state, ws.id(), id).await?.1)
}

pub async fn update(state: &AppState, ws: &Workspace, meta: &RequestMeta, id: &EndpointId, input: &EndpointInput) -> Result<Endpoint, ApiError> {
    ws.require(Action::TriggersManage)?;
    let url = validate(state, input)?;
    let (item, old) = load(state, ws.id(), id).await?;
    let reenabled = input.enabled && !old.enabled;
    let endpoint = Endpoint {
        url,
        description: input.description.clone(),
        event_types: input.event_types.clone(),
        enabled: input.enabled,
        disabled_reason: if reenabled { None } else { old.disabled_reason.clone() },
        failing_since: if reenabled { None } else { old.failing_since.clone() },
        ..old
    };
    save(state, ws.id(), &item, &endpoint, vec![audit::entry(state, ws, meta, "event_endpoint.update", id.as_str())]).await?;
    Ok(endpoint)
}

/// Writes a changed endpoint over `item` (version-checked), keeping its sealed secret.
pub async fn save(state: &AppState, ws: &WorkspaceId, item: &Item, endpoint: &Endpoint, mut extra: Vec<TxWrite>) -> Result<(), ApiError> {
    let mut updated = Item::of(endpoint_key(ws, &endpoint.id), endpoint).with_version(item.version + 1);
    if let Some(v) = item.attrs.get(SEALED) {
        updated.attrs.insert(SEALED.into(), v.clone());
    }
    extra.insert(0, TxWrite::Put { item: updated, condition: Condition::VersionIs(item.version) });
    state.table.transact(extra).await?;
    Ok(())
}

pub async fn delete(state: &AppState, ws: &Workspace, meta: &RequestMeta, id: &EndpointId) -> Result<(), ApiError> {
    ws.require(Action::TriggersManage)?;
    load(state, ws.id(), id).await?;
    let key = endpoint_key(ws.id(), id);
    state
        .table
        .transact(vec![TxWrite::Delete { key: key.clone(), condition: Condition::Exists }, crate::keys::unregister(&key, SEALED), audit::entry(state, ws, meta, "event_endpoint.delete", id.as_str())])
        .await?;
    Ok(())
}

/// The signing secret, for the sender.
pub async fn secret(state: &AppState, ws: &WorkspaceId, id: &EndpointId, item: &Item) -> Result<SecretString, ApiError> {
    let sealed: Sealed = serde_json::from_value(item.attrs.get(SEALED).cloned().unwrap_or_default()).map_err(|e| ApiError::Internal(e.to_string()))?;
    let plain = open_cached(&state.data_keys, state.keyring.as_ref(), &context(ws, id), &sealed).await?;
    Ok(SecretString::from(String::from_utf8_lossy(plain.expose_secret()).into_owned()))
}
