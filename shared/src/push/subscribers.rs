//! Subscribers of a site, spread over 16 shard partitions by endpoint hash so one site's fan-out is not
//! bound to one partition: `WS#<ws>#SITE#<site>#SUBS#<shard>`/`SUB#<id>`; an external user id is
//! indexed on gsi1. The site's subscriber count is an atomic counter updated on insert and delete.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::sites::{SiteId, SitePointer};
use super::subscriber_data::{self, Attributes, RequestHints};
use super::types::{EndpointPolicy, PushSubscription};
use crate::auth::{Action, Workspace, WorkspaceId};
use crate::http::ApiError;
use crate::ports::{Condition, Cursor, Item, Key, Query, TableError};
use crate::state::AppState;

pub const SHARDS: u8 = 16;
const MAX_TAGS: usize = 20;

/// What the SDK reports about the browser and page, stored with the subscription.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default, ToSchema)]
pub struct ClientInfo {
    pub browser: Option<String>,
    pub os: Option<String>,
    pub language: Option<String>,
    pub timezone: Option<String>,
    pub page_url: Option<String>,
    pub external_id: Option<String>,
}

impl ClientInfo {
    /// Checks sizes and derives what the request's headers say better: the browser and OS from the
    /// User-Agent, the language from `Accept-Language` when the SDK sent none; the time zone must be IANA's.
    /// Returns the country with it.
    fn parse(&self, hints: &RequestHints) -> Result<(Self, Option<String>), ApiError> {
        let zone = subscriber_data::parse_time_zone(short(&self.timezone, 64, "timezone")?.as_deref())?;
        let (browser, os) = match hints.user_agent.as_deref() {
            Some(ua) => {
                let (b, o) = subscriber_data::browser_os(ua);
                (Some(b), Some(o))
            }
            None => (short(&self.browser, 100, "browser")?, short(&self.os, 100, "os")?),
        };
        let language = subscriber_data::language(short(&self.language, 35, "language")?.as_deref(), hints.accept_language.as_deref());
        let country = subscriber_data::country(zone.as_ref(), language.as_deref());
        let info = Self {
            browser,
            os,
            language,
            timezone: zone.map(|z| z.name().to_owned()),
            page_url: short(&self.page_url, 2048, "page_url")?,
            external_id: short(&self.external_id, 200, "external_id")?,
        };
        Ok((info, country))
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct Subscriber {
    pub id: String,
    #[schema(value_type = Object)]
    pub subscription: PushSubscription,
    #[serde(flatten)]
    pub client: ClientInfo,
    pub tags: Vec<String>,
    /// When the browser subscribed (RFC 3339).
    pub created_at: String,
    /// The last subscribe refresh or tag/attribute update from the SDK.
    pub last_seen: String,
    /// ISO 3166 country derived at subscribe time from the time zone or the language region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    /// Custom attributes the SDK set (`WebTrigger.setAttributes`).
    #[serde(default, skip_serializing_if = "Attributes::is_empty")]
    #[schema(value_type = Object)]
    pub attributes: Attributes,
    /// Notification clicks reported by the service worker.
    #[serde(default)]
    pub clicks: u64,
}

/// What the site SDK posts.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct SubscribeRequest {
    #[schema(value_type = Object)]
    pub subscription: RawSubscription,
    #[serde(flatten)]
    pub client: ClientInfo,
    #[serde(default)]
    pub tags: Vec<String>,
    /// Replaces the stored attributes when given (`null` values are dropped); kept when absent.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub attributes: Option<serde_json::Map<String, serde_json::Value>>,
    /// Headers the data is derived from; set by the route, never read from the body.
    #[serde(skip)]
    pub hints: RequestHints,
}

#[derive(Debug, Clone, Deserialize)]
pub struct RawSubscription {
    pub endpoint: String,
    pub keys: RawKeys,
}

#[derive(Debug, Clone, Deserialize)]
pub struct RawKeys {
    pub p256dh: String,
    pub auth: String,
}

pub fn shard_of(id: &str) -> u8 {
    u8::from_str_radix(&id[..1], 16).unwrap_or(0) % SHARDS
}

pub fn shard_partition(ws: &WorkspaceId, site: &SiteId, shard: u8) -> String {
    format!("WS#{ws}#SITE#{site}#SUBS#{shard:02}")
}

fn sub_key(ws: &WorkspaceId, site: &SiteId, id: &str) -> Key {
    Key::new(shard_partition(ws, site, shard_of(id)), format!("SUB#{id}"))
}

pub fn stats_key(ws: &WorkspaceId, site: &SiteId) -> Key {
    Key::new(format!("WS#{ws}#SITE#{site}"), "STATS")
}

fn short(field: &Option<String>, max: usize, name: &str) -> Result<Option<String>, ApiError> {
    match field {
        Some(v) if v.chars().count() > max => Err(ApiError::Validation(format!("{name} is longer than {max} characters"))),
        Some(v) if v.trim().is_empty() => Ok(None),
        other => Ok(other.as_ref().map(|v| v.trim().to_owned())),
    }
}

pub fn parse_tags(tags: &[String]) -> Result<Vec<String>, ApiError> {
    if tags.len() > MAX_TAGS {
        return Err(ApiError::Validation(format!("at most {MAX_TAGS} tags")));
    }
    let mut out: Vec<String> = tags.iter().map(|t| t.trim().to_lowercase()).collect();
    if out.iter().any(|t| t.is_empty() || t.len() > 64 || !t.chars().all(|c| c.is_alphanumeric() || "-_:.".contains(c))) {
        return Err(ApiError::Validation("tags are 1–64 characters of letters, digits, - _ : .".into()));
    }
    out.sort();
    out.dedup();
    Ok(out)
}

/// 403 unless the request's `Origin` is one the site allows.
pub fn check_origin(pointer: &SitePointer, origin: Option<&str>) -> Result<String, ApiError> {
    let origin = origin.map(|o| o.trim_end_matches('/').to_ascii_lowercase()).ok_or(ApiError::Forbidden)?;
    if pointer.allowed_origins.contains(&origin) { Ok(origin) } else { Err(ApiError::Forbidden) }
}

/// Inserts or refreshes a subscription (upsert by endpoint). Returns the subscriber and whether it is new.
pub async fn subscribe(state: &AppState, policy: &EndpointPolicy, ws: &WorkspaceId, site: &SiteId, req: &SubscribeRequest) -> Result<(Subscriber, bool), ApiError> {
    let sub = PushSubscription::parse(&req.subscription.endpoint, &req.subscription.keys.p256dh, &req.subscription.keys.auth, policy)?;
    let id = sub.id();
    let now = state.clock.now().to_rfc3339();
    let key = sub_key(ws, site, &id);
    let existing: Option<Subscriber> = state.table.get(&key).await?.and_then(|i| i.parse().ok());
    let (client, country) = req.client.parse(&req.hints)?;
    let attributes = match &req.attributes {
        Some(given) => subscriber_data::merge_attributes(&Attributes::new(), given)?,
        None => existing.as_ref().map(|e| e.attributes.clone()).unwrap_or_default(),
    };
    let subscriber = Subscriber {
        id: id.clone(),
        subscription: sub,
        client,
        tags: parse_tags(&req.tags)?,
        created_at: existing.as_ref().map_or_else(|| now.clone(), |e| e.created_at.clone()),
        last_seen: now,
        country,
        attributes,
        clicks: existing.as_ref().map_or(0, |e| e.clicks),
    };
    let mut item = Item::of(key, &subscriber);
    if let Some(ext) = &subscriber.client.external_id {
        item = item.with_gsi1(format!("WS#{ws}#SITE#{site}#EXT#{ext}"), id.clone());
    }
    let is_new = match state.table.put(item.clone(), Condition::NotExists).await {
        Ok(()) => true,
        Err(TableError::ConditionFailed) => {
            state.table.put(item, Condition::None).await?;
            false
        }
        Err(e) => return Err(e.into()),
    };
    if is_new {
        state.table.add(&stats_key(ws, site), &[("subscribers", 1)]).await?;
    }
    Ok((subscriber, is_new))
}

/// Removes a subscription by id; `false` when it was already gone.
pub async fn remove(state: &AppState, ws: &WorkspaceId, site: &SiteId, id: &str) -> Result<bool, ApiError> {
    if id.len() != 32 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(false);
    }
    match state.table.delete(&sub_key(ws, site, id), Condition::Exists).await {
        Ok(()) => {
            state.table.add(&stats_key(ws, site), &[("subscribers", -1)]).await?;
            Ok(true)
        }
        Err(TableError::ConditionFailed) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

pub async fn set_tags(state: &AppState, ws: &WorkspaceId, site: &SiteId, id: &str, tags: &[String]) -> Result<Subscriber, ApiError> {
    let tags = parse_tags(tags)?;
    update(state, ws, site, id, |s| {
        s.tags = tags.clone();
        Ok(())
    })
    .await
}

/// Merges attributes into a subscription's (`null` removes a key); 422 names the offending key.
pub async fn set_attributes(state: &AppState, ws: &WorkspaceId, site: &SiteId, id: &str, changes: &serde_json::Map<String, serde_json::Value>) -> Result<Subscriber, ApiError> {
    update(state, ws, site, id, |s| {
        s.attributes = subscriber_data::merge_attributes(&s.attributes, changes)?;
        Ok(())
    })
    .await
}

/// Read, change, write back on the same version, so a concurrent click count or change is not lost.
async fn update(state: &AppState, ws: &WorkspaceId, site: &SiteId, id: &str, change: impl Fn(&mut Subscriber) -> Result<(), ApiError>) -> Result<Subscriber, ApiError> {
    let key = sub_key(ws, site, id);
    for _ in 0..5 {
        let item = state.table.get(&key).await?.ok_or_else(|| ApiError::NotFound("no such subscription".into()))?;
        let mut subscriber: Subscriber = item.parse()?;
        change(&mut subscriber)?;
        subscriber.last_seen = state.clock.now().to_rfc3339();
        let mut updated = Item::of(key.clone(), &subscriber).with_version(item.version + 1);
        updated.gsi1 = item.gsi1;
        match state.table.put(updated, Condition::VersionIs(item.version)).await {
            Ok(()) => return Ok(subscriber),
            Err(TableError::ConditionFailed) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(ApiError::Conflict("the subscription changed concurrently; try again".into()))
}

/// Counts a notification click on the subscriber whose endpoint the service worker reported (a click is
/// also a sign of life: `last_seen` moves); nothing when the subscription is gone.
pub async fn count_click(state: &AppState, ws: &WorkspaceId, site: &SiteId, endpoint: &str) -> Result<(), ApiError> {
    let id = crate::auth::tokens::token_hash(endpoint)[..32].to_owned();
    match update(state, ws, site, &id, |s| {
        s.clicks += 1;
        Ok(())
    })
    .await
    {
        Ok(_) | Err(ApiError::NotFound(_)) => Ok(()),
        Err(e) => Err(e),
    }
}

/// One page across the shards. The cursor is `<shard>.<cursor within the shard>`.
pub async fn list(state: &AppState, ws: &Workspace, site: &SiteId, cursor: Option<&str>, limit: u32) -> Result<(Vec<Subscriber>, Option<String>), ApiError> {
    ws.require(Action::WorkspaceRead)?;
    let (mut shard, mut inner) = match cursor {
        None => (0u8, None),
        Some(c) => {
            let (s, rest) = c.split_once('.').ok_or_else(|| ApiError::Validation("invalid cursor".into()))?;
            let shard = s.parse::<u8>().ok().filter(|s| *s < SHARDS).ok_or_else(|| ApiError::Validation("invalid cursor".into()))?;
            (shard, (!rest.is_empty()).then(|| Cursor::parse(rest)).transpose()?)
        }
    };
    let limit = limit.clamp(1, 200);
    let mut out = Vec::new();
    while shard < SHARDS {
        let page = state.table.query(Query::partition(shard_partition(ws.id(), site, shard)).prefix("SUB#").limit(limit - out.len() as u32).after(inner.take())).await?;
        for item in &page.items {
            out.push(item.parse()?);
        }
        match page.next {
            Some(next) if out.len() as u32 >= limit => return Ok((out, Some(format!("{shard}.{}", next.as_str())))),
            Some(next) => inner = Some(next),
            None => {
                shard += 1;
                if out.len() as u32 >= limit && shard < SHARDS {
                    return Ok((out, Some(format!("{shard}."))));
                }
            }
        }
    }
    Ok((out, None))
}

pub async fn count(state: &AppState, ws: &WorkspaceId, site: &SiteId) -> Result<i64, ApiError> {
    Ok(state.table.get(&stats_key(ws, site)).await?.and_then(|i| i.attrs.get("subscribers")?.as_i64()).unwrap_or(0))
}

pub async fn get(state: &AppState, ws: &WorkspaceId, site: &SiteId, id: &str) -> Result<Subscriber, ApiError> {
    if id.len() != 32 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ApiError::NotFound("no such subscriber".into()));
    }
    Ok(state.table.get(&sub_key(ws, site, id)).await?.ok_or_else(|| ApiError::NotFound("no such subscriber".into()))?.parse()?)
}

/// Subscribers with this external user id.
pub async fn by_external_id(state: &AppState, ws: &WorkspaceId, site: &SiteId, external_id: &str) -> Result<Vec<Subscriber>, ApiError> {
    let page = state.table.query(Query::gsi1(format!("WS#{ws}#SITE#{site}#EXT#{external_id}")).limit(100)).await?;
    page.items.iter().map(|i| i.parse().map_err(ApiError::from)).collect()
}
