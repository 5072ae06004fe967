//! Analytics routes (served by `api-sites`): a site's report, a notification's funnel, both as JSON or
//! CSV (`?format=csv` or the `.csv` path), and the server-side conversion API (API keys with the
//! `notifications.send` scope may call it).

use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use utoipa::{IntoParams, ToSchema};
use crate::http::api_router::{routes, ApiRouter};

use super::events::{self, Event, EventKind, Recorded};
use super::funnel::{self, NotificationAnalytics};
use super::report::{self, Range, SiteAnalytics};
use crate::auth::{Action, Workspace};
use crate::http::{ApiError, ApiJson, ApiOk, ApiResult};
use crate::openapi::{Envelope, ErrorEnvelope};
use crate::push::notifications::NotificationId;
use crate::push::sites::{self, SiteId};
use crate::state::AppState;

pub fn api() -> ApiRouter<AppState> {
    ApiRouter::new()
        .routes(routes!(site_analytics))
        .routes(routes!(site_analytics_csv))
        .routes(routes!(notification_analytics))
        .routes(routes!(notification_analytics_csv))
        .routes(routes!(record_conversion))
}

fn site_id(raw: &str) -> Result<SiteId, ApiError> {
    SiteId::parse(raw).map_err(|_| ApiError::NotFound("no such site".into()))
}

fn notification_id(raw: &str) -> Result<NotificationId, ApiError> {
    NotificationId::parse(raw).map_err(|_| ApiError::NotFound("no such notification".into()))
}

#[derive(Deserialize)]
struct SitePath {
    site: String,
}

#[derive(Deserialize)]
struct NotificationPath {
    site: String,
    notification: String,
}

#[derive(Deserialize, IntoParams)]
struct RangeQuery {
    /// RFC 3339 time or YYYY-MM-DD (default: 30 days, or 24 hours by hour, before `to`).
    from: Option<String>,
    /// Exclusive end, RFC 3339 or YYYY-MM-DD (default: now).
    to: Option<String>,
    /// `hour` (ranges up to 31 days) or `day` (default; up to 13 months).
    granularity: Option<String>,
    /// `csv` for a CSV file instead of JSON.
    format: Option<String>,
}

#[derive(Deserialize, IntoParams)]
struct FormatQuery {
    /// `csv` for a CSV file instead of JSON.
    format: Option<String>,
}

fn wants_csv(format: Option<&str>) -> Result<bool, ApiError> {
    match format {
        None | Some("json") => Ok(false),
        Some("csv") => Ok(true),
        Some(_) => Err(ApiError::Validation("format must be json or csv".into())),
    }
}

fn csv(name: String, body: String) -> Response {
    let disposition = format!("attachment; filename=\"{name}.csv\"");
    ([(header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()), (header::CONTENT_DISPOSITION, disposition)], body).into_response()
}

async fn site_report(state: &AppState, ws: &Workspace, raw_site: &str, q: &RangeQuery) -> Result<SiteAnalytics, ApiError> {
    let range = Range::parse(q.from.as_deref(), q.to.as_deref(), q.granularity.as_deref(), state.clock.now())?;
    report::site(state, ws, &site_id(raw_site)?, range).await
}

/// A site's sends and engagement by hour or day, subscriber growth per day, new subscribers by browser
/// and OS, and its top notifications.
#[utoipa::path(get, path = "/v1/workspaces/{ws}/sites/{site}/analytics", tag = "analytics", security(("bearer" = [])), params(("ws" = String, Path), ("site" = String, Path), RangeQuery),
    responses((status = 200, description = "OK (text/csv with format=csv)", body = Envelope<SiteAnalytics>), (status = 404, description = "Not found", body = ErrorEnvelope), (status = 422, description = "Invalid range (from ≥ to, over 13 months, hourly over 31 days) or format", body = ErrorEnvelope)))]
async fn site_analytics(State(state): State<AppState>, ws: Workspace, Path(p): Path<SitePath>, Query(q): Query<RangeQuery>) -> Result<Response, ApiError> {
    let csv_wanted = wants_csv(q.format.as_deref())?;
    let r = site_report(&state, &ws, &p.site, &q).await?;
    Ok(if csv_wanted { csv(format!("analytics-{}", p.site), report::site_csv(&r)) } else { ApiOk::ok(r).into_response() })
}

/// The site report as CSV, one row per bucket.
#[utoipa::path(get, path = "/v1/workspaces/{ws}/sites/{site}/analytics.csv", tag = "analytics", security(("bearer" = [])), params(("ws" = String, Path), ("site" = String, Path), RangeQuery),
    responses((status = 200, description = "CSV", content_type = "text/csv", body = String), (status = 404, description = "Not found", body = ErrorEnvelope), (status = 422, description = "Invalid range", body = ErrorEnvelope)))]
async fn site_analytics_csv(State(state): State<AppState>, ws: Workspace, Path(p): Path<SitePath>, Query(q): Query<RangeQuery>) -> Result<Response, ApiError> {
    let r = site_report(&state, &ws, &p.site, &q).await?;
    Ok(csv(format!("analytics-{}", p.site), report::site_csv(&r)))
}

/// A notification's funnel (targeted → accepted → shown → clicked → converted), per A/B variant, and by
/// delivery hour (time-zone bands for a send at a local time).
#[utoipa::path(get, path = "/v1/workspaces/{ws}/sites/{site}/notifications/{notification}/analytics", tag = "analytics", security(("bearer" = [])), params(("ws" = String, Path), ("site" = String, Path), ("notification" = String, Path), FormatQuery),
    responses((status = 200, description = "OK (text/csv with format=csv)", body = Envelope<NotificationAnalytics>), (status = 404, description = "Not found", body = ErrorEnvelope), (status = 422, description = "Unknown format", body = ErrorEnvelope)))]
async fn notification_analytics(State(state): State<AppState>, ws: Workspace, Path(p): Path<NotificationPath>, Query(q): Query<FormatQuery>) -> Result<Response, ApiError> {
    let csv_wanted = wants_csv(q.format.as_deref())?;
    let r = funnel::report(&state, &ws, &site_id(&p.site)?, &notification_id(&p.notification)?).await?;
    Ok(if csv_wanted { csv(format!("analytics-{}", p.notification), funnel::csv(&r)) } else { ApiOk::ok(r).into_response() })
}

/// The notification report as CSV: funnel rows, then one row per hour.
#[utoipa::path(get, path = "/v1/workspaces/{ws}/sites/{site}/notifications/{notification}/analytics.csv", tag = "analytics", security(("bearer" = [])), params(("ws" = String, Path), ("site" = String, Path), ("notification" = String, Path)),
    responses((status = 200, description = "CSV", content_type = "text/csv", body = String), (status = 404, description = "Not found", body = ErrorEnvelope)))]
async fn notification_analytics_csv(State(state): State<AppState>, ws: Workspace, Path(p): Path<NotificationPath>) -> Result<Response, ApiError> {
    let r = funnel::report(&state, &ws, &site_id(&p.site)?, &notification_id(&p.notification)?).await?;
    Ok(csv(format!("analytics-{}", p.notification), funnel::csv(&r)))
}

/// A conversion reported by the customer's server.
#[derive(Deserialize, ToSchema)]
struct NewConversion {
    /// The notification the visit came from (`utm_campaign` on the landing URL).
    notification_id: String,
    /// Order value in the site's currency (0 to 1e9; kept to hundredths).
    value: Option<f64>,
    /// The subscriber who converted (or give `endpoint`): one conversion per subscriber and notification.
    subscriber_id: Option<String>,
    /// The converting browser's push endpoint, instead of `subscriber_id`.
    endpoint: Option<String>,
    /// Your order or conversion id: repeats of it count once.
    conversion_id: Option<String>,
}

/// The dedupe identity of a conversion: the subscriber, else the caller's conversion id.
fn conversion_identity(c: &NewConversion) -> Result<Option<String>, ApiError> {
    if let Some(id) = c.subscriber_id.as_deref() {
        if id.len() != 32 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(ApiError::Validation("subscriber_id must be a subscriber id (32 hex characters)".into()));
        }
        return Ok(Some(id.to_ascii_lowercase()));
    }
    if let Some(e) = c.endpoint.as_deref() {
        return Ok(Some(crate::auth::tokens::token_hash(e)[..32].to_owned()));
    }
    match c.conversion_id.as_deref() {
        Some(id) if id.is_empty() || id.len() > 200 => Err(ApiError::Validation("conversion_id must be 1–200 characters".into())),
        Some(id) => Ok(Some(format!("c{}", &crate::auth::tokens::token_hash(id)[..32]))),
        None => Ok(None),
    }
}

/// Attributes a conversion (and its value) to the notification the visit came from.
#[utoipa::path(post, path = "/v1/workspaces/{ws}/sites/{site}/conversions", tag = "analytics", security(("bearer" = [])), params(("ws" = String, Path), ("site" = String, Path)), request_body = NewConversion,
    responses((status = 200, description = "`counted` false when this conversion was counted before", body = Envelope<Object>), (status = 404, description = "No such site or notification", body = ErrorEnvelope), (status = 422, description = "Invalid value or ids", body = ErrorEnvelope)))]
async fn record_conversion(State(state): State<AppState>, ws: Workspace, Path(p): Path<SitePath>, ApiJson(body): ApiJson<NewConversion>) -> ApiResult<serde_json::Value> {
    ws.require(Action::NotificationsSend)?;
    let site = sites::get(&state, &ws, &site_id(&p.site)?).await?.id;
    let id = notification_id(&body.notification_id)?;
    let event = Event { kind: EventKind::Conversion, variant: None, subscriber: conversion_identity(&body)?, action: None, value_cents: events::value_cents(body.value)? };
    let recorded = events::record(&state, ws.id(), &site, &id, event).await?;
    Ok(ApiOk::ok(json!({"counted": recorded == Recorded::Counted})))
}
