//! Channels: a WhatsApp sender (number) bound to a credential, with its status (active, degraded, paused
//! until, disconnected) and throughput limit. Pointer items map the provider's ids back to the channel
//! so inbound webhooks find their workspace.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::credentials::{self, Credential};
use super::providers::{self, LinkState};
use super::types::{ChannelId, CredentialId, PhoneNumber, Provider};
use super::webhook_health::{self, LastWebhook};
use crate::auth::{Action, RequestMeta, Workspace, WorkspaceId};
use crate::http::ApiError;
use crate::ports::{Condition, Item, Key, Query, TableError, TxWrite};
use crate::state::AppState;
use crate::workspaces::audit;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ChannelStatus {
    Active,
    /// Sending, but the provider recently pushed back (rate limit, refused credential).
    Degraded,
    /// Sends wait until `paused_until` (or until resumed, when that is empty).
    Paused,
    /// Not linked (Whapi) or the credential stopped working.
    Disconnected,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct Channel {
    pub id: ChannelId,
    pub name: String,
    pub provider: Provider,
    pub credential_id: CredentialId,
    /// The sender number (Twilio's `From`; informational for Meta and Whapi).
    pub number: Option<PhoneNumber>,
    pub status: ChannelStatus,
    pub paused_until: Option<String>,
    pub status_reason: Option<String>,
    pub throughput_per_second: u32,
    pub created_at: String,
    pub updated_at: String,
}

impl Channel {
    /// Seconds sends must still wait, if paused (a manual pause without an end waits a minute at a time).
    pub fn pause_remaining(&self, now: chrono::DateTime<chrono::Utc>) -> Option<std::time::Duration> {
        let manual = self.status == ChannelStatus::Paused && self.paused_until.is_none();
        let until = self.paused_until.as_deref().and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok());
        match until {
            Some(t) if t > now => Some((t.with_timezone(&chrono::Utc) - now).to_std().unwrap_or_default()),
            _ if manual => Some(std::time::Duration::from_secs(60)),
            _ => None,
        }
    }
}

/// A new channel with its webhook secret, shown this once.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CreatedChannel {
    #[serde(flatten)]
    pub channel: Channel,
    /// Meta: the verify token; Whapi: the value of the `X-Webhook-Secret` header to configure. Twilio
    /// webhooks are verified with the credential's auth token instead.
    pub webhook_secret: String,
    /// Where the provider should send this channel's webhooks (append to the platform's public URL).
    pub webhook_path: String,
}

/// A channel as the API shows it: where its webhooks go and the last one received.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ChannelView {
    #[serde(flatten)]
    pub channel: Channel,
    pub webhook_path: String,
    pub last_webhook: Option<LastWebhook>,
    /// What the channel's provider can send, templates included (the capability matrix).
    pub capabilities: super::types::Capabilities,
}

/// A channel's new webhook secret (rotation), shown this once.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WebhookSecret {
    pub webhook_secret: String,
    pub webhook_path: String,
}

#[derive(Deserialize, ToSchema)]
pub struct NewChannel {
    pub name: String,
    pub credential_id: String,
    pub number: Option<String>,
    pub throughput_per_second: Option<u32>,
}

#[derive(Deserialize, ToSchema)]
pub struct ChannelUpdate {
    pub name: Option<String>,
    pub throughput_per_second: Option<u32>,
    /// `paused` holds every send until set back to `active`.
    pub status: Option<ChannelStatus>,
}

pub fn channel_key(ws: &WorkspaceId, id: &ChannelId) -> Key {
    Key::new(format!("WS#{ws}#CHAN"), id.to_string())
}

/// Pointer from a provider-side id to the channel (for inbound webhooks).
pub fn pointer_key(provider: Provider, provider_id: &str) -> Key {
    Key::new(format!("CHANNEL#{}#{provider_id}", provider.as_str()), "CHANNEL")
}

fn provider_ids(cred: &Credential, number: Option<&PhoneNumber>) -> Vec<String> {
    match cred.provider {
        Provider::Meta => cred.phone_number_id.iter().cloned().collect(),
        Provider::Twilio => number.map(|n| format!("{}#{}", cred.account_sid.as_deref().unwrap_or_default(), n.as_str())).into_iter().collect(),
        Provider::Whapi => vec![],
    }
}

fn check_throughput(v: u32) -> Result<u32, ApiError> {
    (1..=1000).contains(&v).then_some(v).ok_or_else(|| ApiError::Validation("throughput_per_second must be 1–1000".into()))
}

/// Where the hash of a channel's webhook secret lives.
pub fn hook_secret_key(ws: &WorkspaceId, id: &ChannelId) -> Key {
    Key::new(format!("WS#{ws}#CHANHOOK"), id.to_string())
}

pub fn webhook_path(provider: Provider, ws: &WorkspaceId, id: &ChannelId) -> String {
    format!("/hooks/{}/{ws}/{id}", provider.as_str())
}

/// A fresh webhook secret and the item holding only its hash (the secret itself is never stored).
fn new_secret(ws: &WorkspaceId, id: &ChannelId) -> (String, Item) {
    let secret = format!("whsk_{}", base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, crate::crypto::random_bytes::<24>()));
    let hook = Item::new(hook_secret_key(ws, id)).with_attr("secret_sha256", crate::inbox::signatures::sha256_hex(secret.as_bytes()));
    (secret, hook)
}

fn view(channel: Channel, ws: &WorkspaceId, last_webhook: Option<LastWebhook>) -> ChannelView {
    ChannelView { webhook_path: webhook_path(channel.provider, ws, &channel.id), capabilities: channel.provider.capabilities(), channel, last_webhook }
}

pub async fn create(state: &AppState, ws: &Workspace, meta: &RequestMeta, req: NewChannel) -> Result<CreatedChannel, ApiError> {
    ws.require(Action::ChannelsManage)?;
    let name = req.name.trim().to_owned();
    if name.is_empty() || name.chars().count() > 80 {
        return Err(ApiError::Validation("name must be 1–80 characters".into()));
    }
    let cred_id = CredentialId::parse(&req.credential_id).map_err(|_| ApiError::Validation(format!("no credential `{}`", req.credential_id.chars().take(40).collect::<String>())))?;
    let cred = credentials::get(state, ws, &cred_id).await.map_err(|e| match e {
        ApiError::NotFound(m) => ApiError::Validation(m),
        e => e,
    })?;
    let number = req.number.as_deref().map(PhoneNumber::parse).transpose()?;
    if cred.provider == Provider::Twilio && number.is_none() {
        return Err(ApiError::Validation("a Twilio channel needs the sender number (E.164) it sends from".into()));
    }
    let now = state.clock.now().to_rfc3339();
    let status = if cred.provider == Provider::Whapi { ChannelStatus::Disconnected } else { ChannelStatus::Active };
    let channel = Channel {
        id: ChannelId::new(state.clock.new_id()),
        name,
        provider: cred.provider,
        credential_id: cred_id,
        number,
        status,
        paused_until: None,
        status_reason: (status == ChannelStatus::Disconnected).then(|| "link the phone with the QR code".to_owned()),
        throughput_per_second: check_throughput(req.throughput_per_second.unwrap_or(cred.provider.default_throughput()))?,
        created_at: now.clone(),
        updated_at: now,
    };
    let pointers: Vec<String> = provider_ids(&cred, channel.number.as_ref());
    let (secret, hook) = new_secret(ws.id(), &channel.id);
    let mut writes = vec![TxWrite::Put { item: Item::of(channel_key(ws.id(), &channel.id), &channel), condition: Condition::NotExists }, TxWrite::Put { item: hook, condition: Condition::None }];
    for pid in &pointers {
        let item = Item::new(pointer_key(channel.provider, pid)).with_attr("workspace", ws.id().as_str()).with_attr("channel", channel.id.as_str());
        writes.push(TxWrite::Put { item, condition: Condition::NotExists });
    }
    writes.push(audit::entry(state, ws, meta, "channel.create", channel.id.as_str()));
    state.table.transact(writes).await.map_err(|e| match e {
        TableError::TransactionCancelled { index } if index >= 2 => ApiError::Conflict("this sender is already a channel (in this or another workspace)".into()),
        e => e.into(),
    })?;
    let webhook_path = webhook_path(channel.provider, ws.id(), &channel.id);
    Ok(CreatedChannel { channel, webhook_secret: secret, webhook_path })
}

pub async fn list_all(state: &AppState, ws: &WorkspaceId) -> Result<Vec<Channel>, ApiError> {
    let page = state.table.query(Query::partition(format!("WS#{ws}#CHAN")).limit(200)).await?;
    Ok(page.items.iter().map(Item::parse).collect::<Result<_, _>>()?)
}

pub async fn list(state: &AppState, ws: &Workspace) -> Result<Vec<ChannelView>, ApiError> {
    ws.require(Action::WorkspaceRead)?;
    let mut seen = webhook_health::all(state, ws.id()).await?;
    Ok(list_all(state, ws.id()).await?.into_iter().map(|c| {
        let last = seen.remove(c.id.as_str());
        view(c, ws.id(), last)
    }).collect())
}

pub async fn load(state: &AppState, ws: &WorkspaceId, id: &ChannelId) -> Result<(Item, Channel), ApiError> {
    let item = state.table.get(&channel_key(ws, id)).await?.ok_or_else(|| ApiError::NotFound(format!("no channel `{id}`")))?;
    let channel = item.parse()?;
    Ok((item, channel))
}

pub async fn get(state: &AppState, ws: &Workspace, id: &ChannelId) -> Result<ChannelView, ApiError> {
    ws.require(Action::WorkspaceRead)?;
    let channel = load(state, ws.id(), id).await?.1;
    Ok(view(channel, ws.id(), webhook_health::get(state, ws.id(), id).await?))
}

/// Replaces the channel's webhook secret at once (the old one stops working: the provider's console
/// must get the new value), audit-logged; the new secret is shown this once.
pub async fn rotate_secret(state: &AppState, ws: &Workspace, meta: &RequestMeta, id: &ChannelId) -> Result<WebhookSecret, ApiError> {
    ws.require(Action::ChannelsManage)?;
    let (item, channel) = load(state, ws.id(), id).await?;
    let (secret, hook) = new_secret(ws.id(), id);
    // The channel must still exist when the new hash lands, or a deleted channel would leave a secret behind.
    let writes = vec![TxWrite::Check { key: item.key, condition: Condition::Exists }, TxWrite::Put { item: hook, condition: Condition::None }, audit::entry(state, ws, meta, "channel.rotate_secret", id.as_str())];
    state.table.transact(writes).await.map_err(|e| match e {
        TableError::TransactionCancelled { index: 0 } => ApiError::NotFound(format!("no channel `{id}`")),
        e => e.into(),
    })?;
    Ok(WebhookSecret { webhook_secret: secret, webhook_path: webhook_path(channel.provider, ws.id(), id) })
}

/// Applies `change` to the stored channel with an optimistic version check (retried on races).
pub async fn modify(state: &AppState, ws: &WorkspaceId, id: &ChannelId, change: impl Fn(&mut Channel)) -> Result<Channel, ApiError> {
    for _ in 0..5 {
        let (item, mut channel) = load(state, ws, id).await?;
        change(&mut channel);
        channel.updated_at = state.clock.now().to_rfc3339();
        match state.table.put(Item::of(item.key.clone(), &channel).with_version(item.version + 1), Condition::VersionIs(item.version)).await {
            Ok(()) => return Ok(channel),
            Err(TableError::ConditionFailed) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(ApiError::Conflict("the channel kept changing; retry".into()))
}

pub async fn update(state: &AppState, ws: &Workspace, meta: &RequestMeta, id: &ChannelId, req: ChannelUpdate) -> Result<Channel, ApiError> {
    ws.require(Action::ChannelsManage)?;
    let name = req.name.as_deref().map(str::trim).map(str::to_owned);
    if name.as_deref().is_some_and(|n| n.is_empty() || n.chars().count() > 80) {
        return Err(ApiError::Validation("name must be 1–80 characters".into()));
    }
    let throughput = req.throughput_per_second.map(check_throughput).transpose()?;
    if matches!(req.status, Some(ChannelStatus::Degraded | ChannelStatus::Disconnected)) {
        return Err(ApiError::Validation("status can be set to `active` or `paused`".into()));
    }
    let channel = modify(state, ws.id(), id, |c| {
        if let Some(n) = &name {
            c.name = n.clone();
        }
        if let Some(t) = throughput {
            c.throughput_per_second = t;
        }
        match req.status {
            Some(ChannelStatus::Paused) => (c.status, c.paused_until, c.status_reason) = (ChannelStatus::Paused, None, Some("paused by a member".into())),
            Some(ChannelStatus::Active) => (c.status, c.paused_until, c.status_reason) = (ChannelStatus::Active, None, None),
            _ => {}
        }
    })
    .await?;
    audit::record(state, ws, meta, "channel.update", id.as_str()).await?;
    Ok(channel)
}

pub async fn delete(state: &AppState, ws: &Workspace, meta: &RequestMeta, id: &ChannelId) -> Result<(), ApiError> {
    ws.require(Action::ChannelsManage)?;
    let (_, channel) = load(state, ws.id(), id).await?;
    let mut writes = vec![TxWrite::Delete { key: channel_key(ws.id(), id), condition: Condition::Exists }, TxWrite::Delete { key: hook_secret_key(ws.id(), id), condition: Condition::None },
        TxWrite::Delete { key: webhook_health::key(ws.id(), id), condition: Condition::None },
    ];
    if let Ok(cred) = credentials::get(state, ws, &channel.credential_id).await {
        for pid in provider_ids(&cred, channel.number.as_ref()) {
            writes.push(TxWrite::Delete { key: pointer_key(channel.provider, &pid), condition: Condition::None });
        }
    }
    writes.push(audit::entry(state, ws, meta, "channel.delete", id.as_str()));
    state.table.transact(writes).await?;
    Ok(())
}

/// Whapi linking: the channel's state with a QR code (or a pairing code for `phone`) while unlinked.
pub async fn link(state: &AppState, ws: &Workspace, id: &ChannelId, phone: Option<&str>) -> Result<LinkState, ApiError> {
    ws.require(Action::ChannelsManage)?;
    let (_, channel) = load(state, ws.id(), id).await?;
    if channel.provider != Provider::Whapi {
        return Err(ApiError::Refused { code: "unsupported_capability", message: format!("{} channels are linked in the provider's console, not by QR code", channel.provider.as_str()) });
    }
    let phone = phone.map(PhoneNumber::parse).transpose()?;
    let (_, secrets) = credentials::unseal(state, ws.id(), &channel.credential_id).await?;
    let providers::ProviderSecrets::Whapi { token } = secrets.as_ref() else { return Err(ApiError::Internal("Whapi channel on a non-Whapi credential".into())) };
    let link = providers::whapi_link(&state.whatsapp.http, &state.whatsapp.urls.whapi, token, phone.as_ref().map(PhoneNumber::digits))
        .await
        .map_err(|e| ApiError::Refused { code: "provider_error", message: format!("Whapi answered: {}", e.message) })?;
    let connected = link.connected;
    modify(state, ws.id(), id, |c| {
        if connected && c.status == ChannelStatus::Disconnected {
            (c.status, c.status_reason) = (ChannelStatus::Active, None);
        } else if !connected {
            (c.status, c.status_reason) = (ChannelStatus::Disconnected, Some(format!("Whapi status {}", link.status)));
        }
    })
    .await?;
    Ok(link)
}
