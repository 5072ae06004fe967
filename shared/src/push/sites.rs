//! Sites: a website or PWA collecting push subscribers. Each gets its own VAPID key pair on creation; the
//! private scalar is sealed with the `Keyring` under {workspace, site, purpose: vapid}. A pointer item
//! `SITE#<id>`/`SITE` lets the public subscribe endpoint find the site's workspace, origins and key.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::crypto::VapidKey;
use super::pacing::QuietHours;
use super::types::{Contact, Urgency};
use crate::auth::types::prefixed_id;
use crate::auth::{Action, RequestMeta, Workspace, WorkspaceId};
use crate::http::ApiError;
use crate::ports::envelope::{open_cached, seal, Sealed};
use crate::ports::{Condition, EncryptionContext, Item, Key, Query, TxWrite};
use crate::state::AppState;
use crate::workspaces::audit;

prefixed_id!(SiteId, "site_", "site");

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct Site {
    pub id: SiteId,
    pub name: String,
    /// Origins allowed to subscribe, e.g. `https://shop.example.com`.
    pub allowed_origins: Vec<String>,
    /// VAPID `sub` claim: `mailto:` or `https:`.
    #[schema(value_type = String)]
    pub contact: Contact,
    /// The `applicationServerKey` browsers subscribe with.
    pub vapid_public_key: String,
    pub default_icon: Option<String>,
    pub ttl_seconds: u32,
    pub urgency: Urgency,
    pub created_at: String,
    /// No delivery in these hours, subscriber-local: held, then released when they end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quiet_hours: Option<QuietHours>,
    /// Default send rate of this site's notifications.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pushes_per_minute: Option<u32>,
    /// At most this many pushes per subscriber in any 24 h (transactional sends are not counted against it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frequency_cap: Option<u32>,
}

/// Settings a caller may set on create or update.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct SiteSettings {
    pub name: String,
    pub allowed_origins: Vec<String>,
    pub contact: String,
    pub default_icon: Option<String>,
    pub ttl_seconds: Option<u32>,
    pub urgency: Option<Urgency>,
    pub quiet_hours: Option<QuietHours>,
    pub pushes_per_minute: Option<u32>,
    pub frequency_cap: Option<u32>,
}

/// What the public endpoints need, readable without a workspace.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SitePointer {
    pub workspace: WorkspaceId,
    pub allowed_origins: Vec<String>,
    pub vapid_public_key: String,
}

pub fn site_key(ws: &WorkspaceId, id: &SiteId) -> Key {
    Key::new(format!("WS#{ws}"), format!("SITE#{id}"))
}

pub fn pointer_key(id: &SiteId) -> Key {
    Key::new(format!("SITE#{id}"), "SITE")
}

pub(super) fn vapid_context(ws: &WorkspaceId, site: &SiteId) -> EncryptionContext {
    EncryptionContext::new([("workspace", ws.as_str()), ("site", site.as_str()), ("purpose", "vapid")])
}

/// `scheme://host[:port]`, https only except for localhost development.
pub fn parse_origin(raw: &str) -> Result<String, ApiError> {
    let o = raw.trim().trim_end_matches('/').to_ascii_lowercase();
    let bad = || ApiError::Validation(format!("`{raw}` is not an origin like https://example.com"));
    let (scheme, authority) = o.split_once("://").ok_or_else(bad)?;
    let host = authority.rsplit_once(':').map_or(authority, |(h, p)| if p.chars().all(|c| c.is_ascii_digit()) { h } else { authority });
    let local = matches!(host, "localhost" | "127.0.0.1");
    let shape = !host.is_empty() && host.chars().all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-') && !authority.contains(['/', '?', '#', '@']);
    if !shape || !(scheme == "https" || (scheme == "http" && local)) {
        return Err(bad());
    }
    Ok(o)
}

fn validate(settings: &SiteSettings) -> Result<(String, Vec<String>, Contact, u32, Urgency), ApiError> {
    let name = settings.name.trim();
    if name.is_empty() || name.chars().count() > 80 {
        return Err(ApiError::Validation("site name must be 1–80 characters".into()));
    }
    if settings.allowed_origins.is_empty() || settings.allowed_origins.len() > 20 {
        return Err(ApiError::Validation("give 1–20 allowed origins".into()));
    }
    let origins = settings.allowed_origins.iter().map(|o| parse_origin(o)).collect::<Result<Vec<_>, _>>()?;
    let ttl = settings.ttl_seconds.unwrap_or(86_400);
    if ttl > 2_419_200 {
        return Err(ApiError::Validation("ttl_seconds must be at most 28 days (2419200)".into()));
    }
    if let Some(icon) = &settings.default_icon {
        if !icon.starts_with("https://") && !icon.starts_with('/') {
            return Err(ApiError::Validation("default_icon must be an https URL or a path".into()));
        }
    }
    if settings.pushes_per_minute.is_some_and(|r| r == 0 || r > 1_000_000) || settings.frequency_cap.is_some_and(|c| c == 0 || c > 1000) {
        return Err(ApiError::Validation("pushes_per_minute must be 1–1000000 and frequency_cap 1–1000".into()));
    }
    Ok((name.to_owned(), origins, Contact::parse(&settings.contact)?, ttl, settings.urgency.unwrap_or_default()))
}

/// The pacing settings (quiet hours, rate, frequency cap) as given.
fn with_pacing(site: Site, settings: &SiteSettings) -> Site {
    Site { quiet_hours: settings.quiet_hours, pushes_per_minute: settings.pushes_per_minute, frequency_cap: settings.frequency_cap, ..site }
}

pub(super) fn stored(key: Key, site: &Site, sealed: &Sealed) -> Item {
    let mut item = Item::of(key, site);
    item.attrs.insert("vapid_private".into(), serde_json::to_value(sealed).unwrap_or_default());
    item
}

pub(super) fn pointer(ws: &WorkspaceId, site: &Site) -> Item {
    let p = SitePointer { workspace: ws.clone(), allowed_origins: site.allowed_origins.clone(), vapid_public_key: site.vapid_public_key.clone() };
    Item::of(pointer_key(&site.id), &p)
}

pub async fn create(state: &AppState, ws: &Workspace, meta: &RequestMeta, settings: &SiteSettings) -> Result<Site, ApiError> {
    ws.require(Action::SitesManage)?;
    let (name, allowed_origins, contact, ttl_seconds, urgency) = validate(settings)?;
    let id = SiteId::new(state.clock.new_id());
    let (key, scalar) = VapidKey::generate().map_err(|e| ApiError::Internal(e.to_string()))?;
    let sealed = seal(state.keyring.as_ref(), &vapid_context(ws.id(), &id), &scalar).await?;
    let site = Site { id: id.clone(), name, allowed_origins, contact, vapid_public_key: key.public_key().to_owned(), default_icon: settings.default_icon.clone(), ttl_seconds, urgency, created_at: state.clock.now().to_rfc3339(), quiet_hours: None, pushes_per_minute: None, frequency_cap: None };
    let site = with_pacing(site, settings);
    let item = stored(site_key(ws.id(), &id), &site, &sealed);
    let registry = crate::keys::register(&item.key, "vapid_private", &vapid_context(ws.id(), &id));
    state
        .table
        .transact(vec![
            TxWrite::Put { item, condition: Condition::NotExists },
            registry,
            TxWrite::Put { item: pointer(ws.id(), &site), condition: Condition::NotExists },
            audit::entry(state, ws, meta, "site.create", id.as_str()),
        ])
        .await?;
    Ok(site)
}

pub(super) async fn load_item(state: &AppState, ws: &WorkspaceId, id: &SiteId) -> Result<Item, ApiError> {
    state.table.get(&site_key(ws, id)).await?.ok_or_else(|| ApiError::NotFound("no such site".into()))
}

pub async fn get(state: &AppState, ws: &Workspace, id: &SiteId) -> Result<Site, ApiError> {
    ws.require(Action::WorkspaceRead)?;
    Ok(load_item(state, ws.id(), id).await?.parse()?)
}

/// The site for workers, which act for no principal.
pub(crate) async fn by_id(state: &AppState, ws: &WorkspaceId, id: &SiteId) -> Result<Site, ApiError> {
    Ok(load_item(state, ws, id).await?.parse()?)
}

pub async fn list(state: &AppState, ws: &Workspace) -> Result<Vec<Site>, ApiError> {
    ws.require(Action::WorkspaceRead)?;
    let page = state.table.query(Query::partition(ws.pk()).prefix("SITE#").limit(500)).await?;
    page.items.iter().map(|i| i.parse().map_err(ApiError::from)).collect()
}

pub async fn update(state: &AppState, ws: &Workspace, meta: &RequestMeta, id: &SiteId, settings: &SiteSettings) -> Result<Site, ApiError> {
    ws.require(Action::SitesManage)?;
    let (name, allowed_origins, contact, ttl_seconds, urgency) = validate(settings)?;
    let mut item = load_item(state, ws.id(), id).await?;
    let mut site: Site = item.parse()?;
    site = with_pacing(Site { name, allowed_origins, contact, ttl_seconds, urgency, default_icon: settings.default_icon.clone(), ..site }, settings);
    let sealed = item.attrs.remove("vapid_private").ok_or_else(|| ApiError::Internal("site without VAPID key".into()))?;
    let mut updated = Item::of(site_key(ws.id(), id), &site).with_version(item.version + 1);
    updated.attrs.insert("vapid_private".into(), sealed);
    state
        .table
        .transact(vec![
            TxWrite::Put { item: updated, condition: Condition::VersionIs(item.version) },
            TxWrite::Put { item: pointer(ws.id(), &site), condition: Condition::Exists },
            audit::entry(state, ws, meta, "site.update", id.as_str()),
        ])
        .await?;
    Ok(site)
}

pub async fn delete(state: &AppState, ws: &Workspace, meta: &RequestMeta, id: &SiteId) -> Result<(), ApiError> {
    ws.require(Action::SitesManage)?;
    load_item(state, ws.id(), id).await?;
    state
        .table
        .transact(vec![
            TxWrite::Delete { key: site_key(ws.id(), id), condition: Condition::Exists },
            TxWrite::Delete { key: pointer_key(id), condition: Condition::None },
            crate::keys::unregister(&site_key(ws.id(), id), "vapid_private"),
            audit::entry(state, ws, meta, "site.delete", id.as_str()),
        ])
        .await?;
    Ok(())
}

/// The site's VAPID signing key, unsealed (workers call this once per batch).
pub async fn vapid_key(state: &AppState, ws: &WorkspaceId, id: &SiteId) -> Result<(Site, VapidKey), ApiError> {
    open_vapid_key(state, ws, id, &load_item(state, ws, id).await?).await
}

/// The site of a stored site record, with its VAPID key opened.
pub(super) async fn open_vapid_key(state: &AppState, ws: &WorkspaceId, id: &SiteId, item: &Item) -> Result<(Site, VapidKey), ApiError> {
    let site: Site = item.parse()?;
    let sealed: Sealed = serde_json::from_value(item.attrs.get("vapid_private").cloned().unwrap_or_default()).map_err(|e| ApiError::Internal(e.to_string()))?;
    // Through the data-key cache: a deliver job runs per batch, and a KMS Decrypt per job was most of the fan-out bill.
    let scalar = open_cached(&state.data_keys, state.keyring.as_ref(), &vapid_context(ws, id), &sealed).await?;
    let key = VapidKey::from_private(secrecy::ExposeSecret::expose_secret(&scalar)).map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok((site, key))
}

/// Public lookup for the subscribe endpoints.
pub async fn pointer_of(state: &AppState, raw_id: &str) -> Result<(SiteId, SitePointer), ApiError> {
    let not_found = || ApiError::NotFound("no such site".into());
    let id = SiteId::parse(raw_id).map_err(|_| not_found())?;
    let p = state.table.get(&pointer_key(&id)).await?.ok_or_else(not_found)?.parse()?;
    Ok((id, p))
}
