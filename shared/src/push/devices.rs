//! Members' own devices: the dashboard subscribes a member's browser with the platform's VAPID key so
//! the platform can notify them (new inbox messages, failures). The key is derived from the platform
//! secret `dashboard-vapid-key`; devices live under `USER#<id>`/`DEVICE#<subscription id>`.

use axum::extract::{Path, State};
use axum::Router;
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use crate::http::api_router::{routes, ApiRouter};

use super::crypto::VapidKey;
use super::outcome::Outcome;
use super::sender::Delivery;
use super::types::{PushSubscription, Urgency};
use crate::auth::{Principal, UserId};
use crate::http::{ApiError, ApiJson, ApiOk, ApiResult};
use crate::openapi::{Envelope, ErrorEnvelope};
use crate::ports::{Condition, Item, Key, Query};
use crate::state::AppState;

const CONTACT: &str = "https://github.com/webtrigger/webtrigger";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct Device {
    pub id: String,
    pub label: String,
    #[schema(value_type = Object)]
    pub subscription: PushSubscription,
    pub created_at: String,
}

#[derive(Deserialize, ToSchema)]
pub struct NewDevice {
    #[schema(value_type = Object)]
    pub subscription: super::subscribers::RawSubscription,
    pub label: Option<String>,
}

/// The platform's dashboard VAPID key: a P-256 scalar derived from the `dashboard-vapid-key` secret.
pub async fn platform_key(state: &AppState) -> Result<VapidKey, ApiError> {
    let secret = state.secrets.get("dashboard-vapid-key").await?;
    for counter in 0u8..8 {
        let tag = aws_lc_rs::hmac::sign(&aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, secret.expose_secret().as_bytes()), &[b'v', b'a', b'p', b'i', b'd', counter]);
        // A 32-byte value is a valid scalar unless it is zero or ≥ the group order (p ≈ 2^-32 each).
        if let Ok(key) = VapidKey::from_private(tag.as_ref()) {
            return Ok(key);
        }
    }
    Err(ApiError::Internal("cannot derive the dashboard VAPID key".into()))
}

fn device_key(user: &UserId, id: &str) -> Key {
    Key::new(format!("USER#{user}"), format!("DEVICE#{id}"))
}

pub async fn devices_of(state: &AppState, user: &UserId) -> Result<Vec<Device>, ApiError> {
    let page = state.table.query(Query::partition(format!("USER#{user}")).prefix("DEVICE#").limit(50)).await?;
    page.items.iter().map(|i| i.parse().map_err(ApiError::from)).collect()
}

/// Sends `payload` to every device of `user`; devices the push service reports gone are removed.
/// Returns (accepted, failed).
pub async fn notify_user(state: &AppState, user: &UserId, payload: &serde_json::Value) -> Result<(usize, usize), ApiError> {
    let key = platform_key(state).await?;
    let body = payload.to_string();
    let delivery = Delivery { payload: body.as_bytes(), ttl_seconds: 3600, urgency: Urgency::High, topic: None };
    let (mut accepted, mut failed) = (0, 0);
    for device in devices_of(state, user).await? {
        match state.push.sender.send(&device.subscription, &key, CONTACT, &delivery, state.clock.now()).await {
            Outcome::Accepted => accepted += 1,
            Outcome::Gone => {
                state.table.delete(&device_key(user, &device.id), Condition::None).await?;
                failed += 1;
            }
            other => {
                tracing::warn!(device = %device.id, outcome = ?other, "member device not reached");
                failed += 1;
            }
        }
    }
    Ok((accepted, failed))
}

/// Member-device routes (served by the `api-auth` group, under `/v1/me`).
pub fn api() -> ApiRouter<AppState> {
    ApiRouter::new().routes(routes!(push_key)).routes(routes!(list_devices, add_device)).routes(routes!(remove_device)).routes(routes!(test_devices))
}

pub fn routes() -> Router<AppState> {
    api().split_for_parts().0
}

#[derive(Serialize, ToSchema)]
struct PushKey {
    vapid_public_key: String,
}

/// The key the dashboard subscribes members' browsers with.
#[utoipa::path(get, path = "/v1/me/push-key", tag = "push", security(("bearer" = [])), responses((status = 200, description = "OK", body = Envelope<PushKey>), (status = 401, description = "Not authenticated", body = ErrorEnvelope)))]
async fn push_key(State(state): State<AppState>, principal: Principal) -> ApiResult<PushKey> {
    principal.user()?;
    Ok(ApiOk::ok(PushKey { vapid_public_key: platform_key(&state).await?.public_key().to_owned() }))
}

/// The signed-in member's devices.
#[utoipa::path(get, path = "/v1/me/devices", tag = "push", security(("bearer" = [])), responses((status = 200, description = "OK", body = Envelope<Vec<Device>>), (status = 401, description = "Not authenticated", body = ErrorEnvelope)))]
async fn list_devices(State(state): State<AppState>, principal: Principal) -> ApiResult<Vec<Device>> {
    let (user, _) = principal.user()?;
    Ok(ApiOk::ok(devices_of(&state, user).await?))
}

/// Registers this browser for the member's notifications (upsert by endpoint).
#[utoipa::path(post, path = "/v1/me/devices", tag = "push", security(("bearer" = [])), request_body = NewDevice,
    responses((status = 201, description = "Registered", body = Envelope<Device>), (status = 422, description = "Malformed subscription", body = ErrorEnvelope)))]
async fn add_device(State(state): State<AppState>, principal: Principal, ApiJson(body): ApiJson<NewDevice>) -> ApiResult<Device> {
    let (user, _) = principal.user()?;
    let sub = PushSubscription::parse(&body.subscription.endpoint, &body.subscription.keys.p256dh, &body.subscription.keys.auth, &state.push.policy)?;
    let label = body.label.as_deref().map(str::trim).filter(|l| !l.is_empty()).unwrap_or("This browser").chars().take(80).collect();
    let device = Device { id: sub.id(), label, subscription: sub, created_at: state.clock.now().to_rfc3339() };
    state.table.put(Item::of(device_key(user, &device.id), &device), Condition::None).await?;
    Ok(ApiOk::created(device))
}

/// Forgets a device.
#[utoipa::path(delete, path = "/v1/me/devices/{device}", tag = "push", security(("bearer" = [])), params(("device" = String, Path)),
    responses((status = 200, description = "Removed"), (status = 404, description = "Not found", body = ErrorEnvelope)))]
async fn remove_device(State(state): State<AppState>, principal: Principal, Path(device): Path<String>) -> ApiResult<serde_json::Value> {
    let (user, _) = principal.user()?;
    match state.table.delete(&device_key(user, &device), Condition::Exists).await {
        Ok(()) => Ok(ApiOk::ok(json!({"removed": device}))),
        Err(crate::ports::TableError::ConditionFailed) => Err(ApiError::NotFound("no such device".into())),
        Err(e) => Err(e.into()),
    }
}

#[derive(Serialize, ToSchema)]
struct TestResult {
    accepted: usize,
    failed: usize,
}

/// What a test shows: the compose screen sends the notification being written ("send test to my
/// devices"); the devices page sends none of it and gets the default.
#[derive(Deserialize, ToSchema)]
struct TestContent {
    title: Option<String>,
    body: Option<String>,
    url: Option<String>,
    icon: Option<String>,
    image: Option<String>,
}

/// Sends a test notification to all of the member's devices.
#[utoipa::path(post, path = "/v1/me/devices/test", tag = "push", security(("bearer" = [])), request_body = TestContent, responses((status = 200, description = "Sent", body = Envelope<TestResult>), (status = 422, description = "Invalid content", body = ErrorEnvelope)))]
async fn test_devices(State(state): State<AppState>, principal: Principal, ApiJson(c): ApiJson<TestContent>) -> ApiResult<TestResult> {
    let (user, _) = principal.user()?;
    let links_ok = [&c.url, &c.icon, &c.image].iter().all(|l| l.as_deref().is_none_or(|u| (u.starts_with("https://") || u.starts_with("http://") || u.starts_with('/')) && u.len() <= 2048));
    if c.title.as_ref().is_some_and(|t| t.chars().count() > 200) || c.body.as_ref().is_some_and(|b| b.chars().count() > 1000) || !links_ok {
        return Err(ApiError::Validation("title ≤ 200 and body ≤ 1000 characters; links http(s) URLs or paths".into()));
    }
    let title = c.title.filter(|t| !t.trim().is_empty()).unwrap_or_else(|| "WebTrigger".into());
    let body = c.body.unwrap_or_else(|| "Notifications are on for this device.".into());
    let payload = json!({"title": title, "body": body, "url": c.url.unwrap_or_else(|| "/".into()), "icon": c.icon, "image": c.image, "tag": "webtrigger-test"});
    let (accepted, failed) = notify_user(&state, user, &payload).await?;
    Ok(ApiOk::ok(TestResult { accepted, failed }))
}
