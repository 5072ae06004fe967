//! Web Push HTTP routes. Admin (`api-sites`): sites, subscribers, notifications under
//! `/v1/workspaces/{ws}/sites`. Public (`api-subscribers`): what the site SDK calls from customers' pages,
//! under `/v1/public/sites/{site}`, answered with CORS for the site's allowed origins only.

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};
use crate::http::api_router::{routes, ApiRouter};

use super::lifecycle;
use crate::analytics::events::{self, Event, EventKind, Recorded};
use super::notifications::{self, NewNotification, NotificationId, NotificationView};
use super::sites::{self, Site, SiteId, SiteSettings};
use super::subscribers::{self, SubscribeRequest, Subscriber};
use crate::auth::{Action, RequestMeta, Workspace};
use crate::http::idempotency::{self, Attempt, IdempotencyKey, Idempotent, Outcome};
use crate::http::{ApiError, ApiJson, ApiOk, ApiResult};
use crate::openapi::{Envelope, ErrorEnvelope};
use crate::state::AppState;

/// Admin routes with their documentation.
pub fn api() -> ApiRouter<AppState> {
    ApiRouter::new()
        .routes(routes!(list_sites, create_site))
        .routes(routes!(get_site, update_site, delete_site))
        .routes(routes!(list_subscribers))
        .routes(routes!(get_subscriber, delete_subscriber))
        .routes(routes!(list_notifications, send_notification))
        .routes(routes!(get_notification, patch_notification, cancel_notification))
        .routes(routes!(send_draft))
        .merge(super::segment_routes::api())
        .merge(crate::analytics::api())
}

/// Public routes for the site SDK, with their documentation.
pub fn public_api() -> ApiRouter<AppState> {
    ApiRouter::new().routes(routes!(site_config)).routes(routes!(subscribe, unsubscribe)).routes(routes!(update_tags)).routes(routes!(track_event)).merge(super::segment_routes::public_api())
}

/// The `api-sites` route group.
pub fn routes() -> Router<AppState> {
    api().split_for_parts().0
}

/// The `api-subscribers` route group (public, CORS).
pub fn public_routes() -> Router<AppState> {
    public_api().split_for_parts().0.layer(axum::middleware::from_fn(cors))
}

/// CORS for the public routes: preflights are answered for any origin (the real request is refused
/// unless the origin is allowed for the site); answers echo the origin so browsers can read them.
async fn cors(req: axum::extract::Request, next: Next) -> Response {
    let origin = req.headers().get(header::ORIGIN).cloned();
    let mut response = if req.method() == Method::OPTIONS {
        StatusCode::NO_CONTENT.into_response()
    } else {
        next.run(req).await
    };
    if let Some(origin) = origin {
        let h = response.headers_mut();
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        h.insert(header::ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static("GET, POST, PUT, DELETE, OPTIONS"));
        h.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, HeaderValue::from_static("content-type"));
        h.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("600"));
        h.insert(header::VARY, HeaderValue::from_static("Origin"));
    }
    response
}

fn site_id(raw: &str) -> Result<SiteId, ApiError> {
    SiteId::parse(raw).map_err(|_| ApiError::NotFound("no such site".into()))
}

#[derive(Deserialize)]
struct SitePath {
    site: String,
}

/// Sites of the workspace.
#[utoipa::path(get, path = "/v1/workspaces/{ws}/sites", tag = "push", security(("bearer" = [])), params(("ws" = String, Path)), responses((status = 200, description = "OK", body = Envelope<Vec<Site>>)))]
async fn list_sites(State(state): State<AppState>, ws: Workspace) -> ApiResult<Vec<Site>> {
    Ok(ApiOk::ok(sites::list(&state, &ws).await?))
}

/// Creates a site with a fresh VAPID key pair.
#[utoipa::path(post, path = "/v1/workspaces/{ws}/sites", tag = "push", security(("bearer" = [])), params(("ws" = String, Path)), request_body = SiteSettings,
    responses((status = 201, description = "Created", body = Envelope<Site>), (status = 422, description = "Invalid input", body = ErrorEnvelope)))]
async fn create_site(State(state): State<AppState>, ws: Workspace, meta: RequestMeta, ApiJson(body): ApiJson<SiteSettings>) -> ApiResult<Site> {
    Ok(ApiOk::created(sites::create(&state, &ws, &meta, &body).await?))
}

/// One site.
#[utoipa::path(get, path = "/v1/workspaces/{ws}/sites/{site}", tag = "push", security(("bearer" = [])), params(("ws" = String, Path), ("site" = String, Path)),
    responses((status = 200, description = "OK", body = Envelope<Site>), (status = 404, description = "Not found", body = ErrorEnvelope)))]
async fn get_site(State(state): State<AppState>, ws: Workspace, Path(p): Path<SitePath>) -> ApiResult<Site> {
    Ok(ApiOk::ok(sites::get(&state, &ws, &site_id(&p.site)?).await?))
}

/// Updates a site's settings (the VAPID key stays).
#[utoipa::path(put, path = "/v1/workspaces/{ws}/sites/{site}", tag = "push", security(("bearer" = [])), params(("ws" = String, Path), ("site" = String, Path)), request_body = SiteSettings,
    responses((status = 200, description = "OK", body = Envelope<Site>), (status = 404, description = "Not found", body = ErrorEnvelope), (status = 422, description = "Invalid input", body = ErrorEnvelope)))]
async fn update_site(State(state): State<AppState>, ws: Workspace, meta: RequestMeta, Path(p): Path<SitePath>, ApiJson(body): ApiJson<SiteSettings>) -> ApiResult<Site> {
    Ok(ApiOk::ok(sites::update(&state, &ws, &meta, &site_id(&p.site)?, &body).await?))
}

/// Deletes a site.
#[utoipa::path(delete, path = "/v1/workspaces/{ws}/sites/{site}", tag = "push", security(("bearer" = [])), params(("ws" = String, Path), ("site" = String, Path)),
    responses((status = 200, description = "Deleted"), (status = 404, description = "Not found", body = ErrorEnvelope)))]
async fn delete_site(State(state): State<AppState>, ws: Workspace, meta: RequestMeta, Path(p): Path<SitePath>) -> ApiResult<serde_json::Value> {
    sites::delete(&state, &ws, &meta, &site_id(&p.site)?).await?;
    Ok(ApiOk::ok(json!({"deleted": p.site})))
}

#[derive(Deserialize, IntoParams)]
struct SubscriberFilter {
    cursor: Option<String>,
    limit: Option<u32>,
    /// Only subscribers with this external user id (all of them, no paging).
    external_id: Option<String>,
    /// Only subscribers carrying this tag.
    tag: Option<String>,
}

#[derive(Serialize, ToSchema)]
struct SubscriberPage {
    subscribers: Vec<Subscriber>,
    total: i64,
    next_cursor: Option<String>,
}

/// Subscribers of a site, with the total count.
#[utoipa::path(get, path = "/v1/workspaces/{ws}/sites/{site}/subscribers", tag = "push", security(("bearer" = [])), params(("ws" = String, Path), ("site" = String, Path), SubscriberFilter),
    responses((status = 200, description = "OK", body = Envelope<SubscriberPage>), (status = 422, description = "Invalid filter or cursor", body = ErrorEnvelope)))]
async fn list_subscribers(State(state): State<AppState>, ws: Workspace, Path(p): Path<SitePath>, Query(q): Query<SubscriberFilter>) -> ApiResult<SubscriberPage> {
    let site = sites::get(&state, &ws, &site_id(&p.site)?).await?;
    let total = subscribers::count(&state, ws.id(), &site.id).await?;
    if let Some(external_id) = q.external_id.as_deref() {
        let subscribers = subscribers::by_external_id(&state, ws.id(), &site.id, external_id).await?;
        return Ok(ApiOk::ok(SubscriberPage { subscribers, total, next_cursor: None }));
    }
    let tag = q.tag.as_deref().map(|t| subscribers::parse_tags(&[t.to_owned()])).transpose()?.and_then(|mut t| t.pop());
    let (mut subscribers, next_cursor) = subscribers::list(&state, &ws, &site.id, q.cursor.as_deref(), q.limit.unwrap_or(50)).await?;
    if let Some(tag) = tag {
        // Tags are filtered per page: a page may hold fewer than `limit` while `next_cursor` goes on.
        subscribers.retain(|s| s.tags.contains(&tag));
    }
    Ok(ApiOk::ok(SubscriberPage { subscribers, total, next_cursor }))
}

#[derive(Deserialize)]
struct SubscriberPath {
    site: String,
    subscriber: String,
}

/// One subscriber: everything stored about them (GDPR export).
#[utoipa::path(get, path = "/v1/workspaces/{ws}/sites/{site}/subscribers/{subscriber}", tag = "push", security(("bearer" = [])), params(("ws" = String, Path), ("site" = String, Path), ("subscriber" = String, Path)),
    responses((status = 200, description = "OK", body = Envelope<Subscriber>), (status = 404, description = "Not found", body = ErrorEnvelope)))]
async fn get_subscriber(State(state): State<AppState>, ws: Workspace, Path(p): Path<SubscriberPath>) -> ApiResult<Subscriber> {
    let site = sites::get(&state, &ws, &site_id(&p.site)?).await?;
    Ok(ApiOk::ok(subscribers::get(&state, ws.id(), &site.id, &p.subscriber).await?))
}

/// Deletes a subscriber (GDPR erasure).
#[utoipa::path(delete, path = "/v1/workspaces/{ws}/sites/{site}/subscribers/{subscriber}", tag = "push", security(("bearer" = [])), params(("ws" = String, Path), ("site" = String, Path), ("subscriber" = String, Path)),
    responses((status = 200, description = "Deleted"), (status = 404, description = "Not found", body = ErrorEnvelope)))]
async fn delete_subscriber(State(state): State<AppState>, ws: Workspace, meta: RequestMeta, Path(p): Path<SubscriberPath>) -> ApiResult<serde_json::Value> {
    ws.require(Action::SubscribersManage)?;
    let site = sites::get(&state, &ws, &site_id(&p.site)?).await?;
    if !subscribers::remove(&state, ws.id(), &site.id, &p.subscriber).await? {
        return Err(ApiError::NotFound("no such subscriber".into()));
    }
    crate::analytics::rollup::unsubscribed(&state, ws.id(), &site.id).await;
    crate::workspaces::audit::record(&state, &ws, &meta, "subscriber.delete", &p.subscriber).await?;
    Ok(ApiOk::ok(json!({"deleted": p.subscriber})))
}

#[derive(Serialize, ToSchema)]
struct NotificationPage {
    notifications: Vec<NotificationView>,
    next_cursor: Option<String>,
}

#[derive(Deserialize, IntoParams)]
struct NotificationFilter {
    cursor: Option<String>,
    limit: Option<u32>,
    /// Only notifications in this status: `draft`, `scheduled`, `sending`, `completed` or `cancelled`.
    status: Option<String>,
}

/// Notifications of a site, newest first, with their counters.
#[utoipa::path(get, path = "/v1/workspaces/{ws}/sites/{site}/notifications", tag = "push", security(("bearer" = [])), params(("ws" = String, Path), ("site" = String, Path), NotificationFilter),
    responses((status = 200, description = "OK", body = Envelope<NotificationPage>), (status = 404, description = "Not found", body = ErrorEnvelope), (status = 422, description = "Unknown status or invalid cursor", body = ErrorEnvelope)))]
async fn list_notifications(State(state): State<AppState>, ws: Workspace, Path(p): Path<SitePath>, Query(q): Query<NotificationFilter>) -> ApiResult<NotificationPage> {
    // An unknown or foreign site is a 404, not an empty list.
    let site = sites::get(&state, &ws, &site_id(&p.site)?).await?.id;
    let (notifications, next_cursor) = notifications::list(&state, &ws, &site, q.status.as_deref(), q.cursor.as_deref(), q.limit.unwrap_or(20)).await?;
    Ok(ApiOk::ok(NotificationPage { notifications, next_cursor }))
}

/// A notification to send, optionally with its idempotency key in the body.
#[derive(Deserialize, ToSchema)]
struct SendNotification {
    #[serde(flatten)]
    notification: NewNotification,
    /// The same as an `Idempotency-Key` header (send either, or the same in both): a repeat within 24 hours
    /// answers 200 with the first notification and sends nothing.
    client_notification_id: Option<String>,
}

/// Sends a notification to all subscribers, a tag set, an external user id or one subscriber; or saves
/// it as a draft (`draft: true`), or schedules it (`send_at`, at most 30 days ahead).
#[utoipa::path(post, path = "/v1/workspaces/{ws}/sites/{site}/notifications", tag = "push", security(("bearer" = [])), params(("ws" = String, Path), ("site" = String, Path), ("Idempotency-Key" = Option<String>, Header, description = "1–255 printable ASCII characters. A repeat within 24 hours answers 200 with the first result and sends nothing; the same key with a different request answers 422 `idempotency_key_reused`; 409 while the first is still in progress.")), request_body = SendNotification,
    responses((status = 202, description = "Accepted: queued for delivery", body = Envelope<NotificationView>), (status = 200, description = "A repeat of an idempotency key: the first notification, nothing sent", body = Envelope<NotificationView>),
        (status = 404, description = "Not found", body = ErrorEnvelope), (status = 409, description = "The first request with this idempotency key is still in progress", body = ErrorEnvelope),
        (status = 422, description = "Invalid input or too large, or an idempotency key reused for a different request", body = ErrorEnvelope)))]
async fn send_notification(State(state): State<AppState>, ws: Workspace, meta: RequestMeta, Path(p): Path<SitePath>, req: Idempotent<SendNotification>) -> ApiResult<NotificationView> {
    ws.require(Action::NotificationsSend)?;
    let site = site_id(&p.site)?;
    let key = IdempotencyKey::from_request(&req.headers, req.body.client_notification_id.as_deref())?;
    let attempt = key.map(|k| Attempt::new("notifications", k, &[site.as_str().as_bytes(), &req.canonical]));
    let (st, w, s) = (&state, &ws, &site);
    let outcome = idempotency::once(
        &state,
        ws.id(),
        attempt,
        |v: &NotificationView| v.notification.id.to_string(),
        || notifications::send(&state, &ws, &meta, &site, req.body.notification),
        |id| async move { notifications::get(st, w, s, &NotificationId::parse(&id)?).await },
    )
    .await?;
    Ok(match outcome {
        Outcome::Created(view) => ApiOk(StatusCode::ACCEPTED, view),
        Outcome::Repeated(view) => ApiOk::ok(view),
    })
}

#[derive(Deserialize)]
struct NotificationPath {
    site: String,
    notification: String,
}

/// One notification with its delivery counters.
#[utoipa::path(get, path = "/v1/workspaces/{ws}/sites/{site}/notifications/{notification}", tag = "push", security(("bearer" = [])), params(("ws" = String, Path), ("site" = String, Path), ("notification" = String, Path)),
    responses((status = 200, description = "OK", body = Envelope<NotificationView>), (status = 404, description = "Not found", body = ErrorEnvelope)))]
async fn get_notification(State(state): State<AppState>, ws: Workspace, Path(p): Path<NotificationPath>) -> ApiResult<NotificationView> {
    let id = notification_id(&p.notification)?;
    Ok(ApiOk::ok(notifications::get(&state, &ws, &site_id(&p.site)?, &id).await?))
}

fn notification_id(raw: &str) -> Result<NotificationId, ApiError> {
    NotificationId::parse(raw).map_err(|_| ApiError::NotFound("no such notification".into()))
}

/// Edits a draft or scheduled notification: the fields given replace the stored ones. Pass the `version`
/// last read to refuse overwriting someone else's edit.
#[utoipa::path(patch, path = "/v1/workspaces/{ws}/sites/{site}/notifications/{notification}", tag = "push", security(("bearer" = [])), params(("ws" = String, Path), ("site" = String, Path), ("notification" = String, Path)), request_body = Object,
    responses((status = 200, description = "Updated", body = Envelope<NotificationView>), (status = 404, description = "Not found", body = ErrorEnvelope),
        (status = 409, description = "Not a draft or scheduled, or changed since the version given", body = ErrorEnvelope), (status = 422, description = "Invalid input", body = ErrorEnvelope)))]
async fn patch_notification(State(state): State<AppState>, ws: Workspace, meta: RequestMeta, Path(p): Path<NotificationPath>, ApiJson(body): ApiJson<serde_json::Value>) -> ApiResult<NotificationView> {
    Ok(ApiOk::ok(lifecycle::patch(&state, &ws, &meta, &site_id(&p.site)?, &notification_id(&p.notification)?, body).await?))
}

/// Cancels a draft or scheduled notification, or stops one that is sending (deliveries not yet made are
/// counted `cancelled`).
#[utoipa::path(delete, path = "/v1/workspaces/{ws}/sites/{site}/notifications/{notification}", tag = "push", security(("bearer" = [])), params(("ws" = String, Path), ("site" = String, Path), ("notification" = String, Path)),
    responses((status = 200, description = "Cancelled", body = Envelope<NotificationView>), (status = 404, description = "Not found", body = ErrorEnvelope), (status = 409, description = "Already completed or cancelled", body = ErrorEnvelope)))]
async fn cancel_notification(State(state): State<AppState>, ws: Workspace, meta: RequestMeta, Path(p): Path<NotificationPath>) -> ApiResult<NotificationView> {
    Ok(ApiOk::ok(lifecycle::cancel(&state, &ws, &meta, &site_id(&p.site)?, &notification_id(&p.notification)?).await?))
}

/// Sends a draft (scheduled instead when its `send_at` is still ahead), or a scheduled notification now.
#[utoipa::path(post, path = "/v1/workspaces/{ws}/sites/{site}/notifications/{notification}/send", tag = "push", security(("bearer" = [])), params(("ws" = String, Path), ("site" = String, Path), ("notification" = String, Path)),
    responses((status = 202, description = "Sending or scheduled", body = Envelope<NotificationView>), (status = 404, description = "Not found", body = ErrorEnvelope), (status = 409, description = "Already sent, cancelled, or sent by someone else meanwhile", body = ErrorEnvelope)))]
async fn send_draft(State(state): State<AppState>, ws: Workspace, meta: RequestMeta, Path(p): Path<NotificationPath>) -> ApiResult<NotificationView> {
    Ok(ApiOk(StatusCode::ACCEPTED, lifecycle::send_now(&state, &ws, &meta, &site_id(&p.site)?, &notification_id(&p.notification)?).await?))
}

#[derive(Serialize, ToSchema)]
struct PublicSiteConfig {
    vapid_public_key: String,
}

/// The VAPID public key the SDK subscribes with.
#[utoipa::path(get, path = "/v1/public/sites/{site}", tag = "push-public", params(("site" = String, Path)),
    responses((status = 200, description = "OK", body = Envelope<PublicSiteConfig>), (status = 404, description = "Not found", body = ErrorEnvelope)))]
async fn site_config(State(state): State<AppState>, Path(p): Path<SitePath>) -> ApiResult<PublicSiteConfig> {
    let (_, pointer) = sites::pointer_of(&state, &p.site).await?;
    Ok(ApiOk::ok(PublicSiteConfig { vapid_public_key: pointer.vapid_public_key }))
}

fn origin(headers: &HeaderMap) -> Option<&str> {
    headers.get(header::ORIGIN).and_then(|v| v.to_str().ok())
}

#[derive(Serialize, ToSchema)]
struct Subscribed {
    subscriber_id: String,
    created: bool,
}

/// Stores (or refreshes) a browser's subscription. The page's origin must be allowed for the site.
#[utoipa::path(post, path = "/v1/public/sites/{site}/subscriptions", tag = "push-public", params(("site" = String, Path)), request_body = SubscribeRequest,
    responses((status = 201, description = "Created", body = Envelope<Subscribed>), (status = 200, description = "Refreshed", body = Envelope<Subscribed>),
        (status = 403, description = "Origin not allowed", body = ErrorEnvelope), (status = 404, description = "Unknown site", body = ErrorEnvelope), (status = 422, description = "Malformed subscription", body = ErrorEnvelope)))]
async fn subscribe(State(state): State<AppState>, headers: HeaderMap, meta: RequestMeta, Path(p): Path<SitePath>, ApiJson(mut body): ApiJson<SubscribeRequest>) -> ApiResult<Subscribed> {
    let (site, pointer) = open_public(&state, &headers, &meta, &p.site).await?;
    body.hints = super::subscriber_data::RequestHints::from_headers(&headers);
    let (sub, created) = subscribers::subscribe(&state, &state.push.policy, &pointer.workspace, &site, &body).await?;
    // A failure here fails the call: the SDK posts again on a later page view, which enrols then.
    crate::drips::enrol::on_subscribe(&state, &pointer.workspace, &site, &sub, created).await?;
    Ok(ApiOk(if created { StatusCode::CREATED } else { StatusCode::OK }, Subscribed { subscriber_id: sub.id, created }))
}

/// The site behind a public write: it exists, the page's origin is allowed, and the caller is within limits.
pub(super) async fn open_public(state: &AppState, headers: &HeaderMap, meta: &RequestMeta, raw_site: &str) -> Result<(SiteId, sites::SitePointer), ApiError> {
    let (site, pointer) = sites::pointer_of(state, raw_site).await?;
    subscribers::check_origin(&pointer, origin(headers))?;
    public_limit(state, &site, meta).await?;
    Ok((site, pointer))
}

/// 60 public writes a minute per site and client IP.
async fn public_limit(state: &AppState, site: &SiteId, meta: &RequestMeta) -> Result<(), ApiError> {
    let limit = crate::auth::ratelimit::Limit::per_minute(60.0, 60.0);
    match state.buckets.take(&format!("public#{site}#{}", meta.ip), limit, state.clock.now().timestamp_millis()).await? {
        Ok(()) => Ok(()),
        Err(after) => Err(ApiError::RateLimited(after)),
    }
}

#[derive(Deserialize, ToSchema)]
struct EndpointBody {
    endpoint: String,
    #[serde(default)]
    tags: Vec<String>,
    /// On unsubscribe: the notification the visitor arrived from (the SDK reads it from `utm_campaign`),
    /// counted as that notification's unsubscribe.
    notification_id: Option<String>,
}

fn subscriber_id_of(endpoint: &str) -> String {
    crate::auth::tokens::token_hash(endpoint)[..32].to_owned()
}

/// Removes a browser's subscription (the SDK calls this on unsubscribe).
#[utoipa::path(delete, path = "/v1/public/sites/{site}/subscriptions", tag = "push-public", params(("site" = String, Path)), request_body = EndpointBody,
    responses((status = 200, description = "Removed (or already gone)"), (status = 403, description = "Origin not allowed", body = ErrorEnvelope)))]
async fn unsubscribe(State(state): State<AppState>, headers: HeaderMap, meta: RequestMeta, Path(p): Path<SitePath>, ApiJson(body): ApiJson<EndpointBody>) -> ApiResult<serde_json::Value> {
    let (site, pointer) = open_public(&state, &headers, &meta, &p.site).await?;
    let subscriber = subscriber_id_of(&body.endpoint);
    let removed = subscribers::remove(&state, &pointer.workspace, &site, &subscriber).await?;
    if removed {
        crate::analytics::rollup::unsubscribed(&state, &pointer.workspace, &site).await;
    }
    if let (true, Some(id)) = (removed, body.notification_id.as_deref().and_then(|n| NotificationId::parse(n).ok())) {
        // Attribution is best effort: a stale or foreign id must not turn a done unsubscribe into an error.
        let event = Event { kind: EventKind::Unsubscribe, variant: None, subscriber: Some(subscriber), action: None, value_cents: 0 };
        if let Err(e) = events::record(&state, &pointer.workspace, &site, &id, event).await {
            tracing::debug!(error = %e, "unsubscribe not attributed");
        }
    }
    Ok(ApiOk::ok(json!({"removed": removed})))
}

/// Replaces a subscription's tags.
#[utoipa::path(put, path = "/v1/public/sites/{site}/subscriptions/tags", tag = "push-public", params(("site" = String, Path)), request_body = EndpointBody,
    responses((status = 200, description = "OK"), (status = 403, description = "Origin not allowed", body = ErrorEnvelope), (status = 404, description = "Unknown subscription", body = ErrorEnvelope)))]
async fn update_tags(State(state): State<AppState>, headers: HeaderMap, meta: RequestMeta, Path(p): Path<SitePath>, ApiJson(body): ApiJson<EndpointBody>) -> ApiResult<serde_json::Value> {
    let (site, pointer) = open_public(&state, &headers, &meta, &p.site).await?;
    let sub = subscribers::set_tags(&state, &pointer.workspace, &site, &subscriber_id_of(&body.endpoint), &body.tags).await?;
    Ok(ApiOk::ok(json!({"tags": sub.tags})))
}

#[derive(Deserialize, ToSchema)]
struct TrackEvent {
    /// `impression`, `click`, `dismiss` (the notification was closed unclicked), `conversion` or `unsubscribe`.
    event: String,
    /// The A/B variant shown (from the payload's `data.variant`).
    variant: Option<u8>,
    /// The browser's subscription endpoint: each subscriber's event counts once per notification, and a
    /// click counts in that subscriber's clicks.
    endpoint: Option<String>,
    /// On a click: the action button pressed (its `action` id).
    action: Option<String>,
    /// On a conversion: its value in the site's currency.
    value: Option<f64>,
}

/// Engagement events from the service worker and the site SDK (`WebTrigger.trackConversion`). The
/// page's or worker's origin must be allowed for the site.
#[utoipa::path(post, path = "/v1/public/sites/{site}/notifications/{notification}/events", tag = "push-public", params(("site" = String, Path), ("notification" = String, Path)), request_body = TrackEvent,
    responses((status = 200, description = "Recorded (`counted` false for a repeat)"), (status = 403, description = "Origin not allowed", body = ErrorEnvelope), (status = 404, description = "Not found", body = ErrorEnvelope), (status = 422, description = "Unknown event or invalid value", body = ErrorEnvelope)))]
async fn track_event(State(state): State<AppState>, headers: HeaderMap, meta: RequestMeta, Path(p): Path<NotificationPath>, ApiJson(body): ApiJson<TrackEvent>) -> ApiResult<serde_json::Value> {
    let kind = EventKind::parse(&body.event)?;
    let value_cents = events::value_cents(body.value)?;
    let (site, pointer) = open_public(&state, &headers, &meta, &p.site).await?;
    let id = NotificationId::parse(&p.notification).map_err(|_| ApiError::NotFound("no such notification".into()))?;
    let subscriber = body.endpoint.as_deref().map(subscriber_id_of);
    let event = Event { kind, variant: body.variant, subscriber, action: body.action.clone(), value_cents };
    let recorded = events::record(&state, &pointer.workspace, &site, &id, event).await?;
    if let (Recorded::Counted, EventKind::Click, Some(endpoint)) = (recorded, kind, body.endpoint.as_deref()) {
        subscribers::count_click(&state, &pointer.workspace, &site, endpoint).await?;
    }
    Ok(ApiOk::ok(json!({"recorded": body.event, "counted": recorded == Recorded::Counted})))
}
