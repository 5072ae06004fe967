//! Feed HTTP routes under `/v1/workspaces/{ws}/sites/{site}/feeds` (served by `api-sites`): CRUD, poll
//! now, and the recent items with the notification each became.

use axum::extract::{Path, Query, State};
use axum::Router;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};
use crate::http::api_router::{routes, ApiRouter};

use super::poller::{self, PollReport};
use super::store::{self, FeedItem};
use super::types::{FeedId, FeedSettings, FeedView};
use crate::auth::{Action, RequestMeta, Workspace};
use crate::http::{ApiError, ApiJson, ApiOk, ApiResult};
use crate::openapi::{Envelope, ErrorEnvelope};
use crate::push::sites::{self, SiteId};
use crate::state::AppState;

pub fn api() -> ApiRouter<AppState> {
    ApiRouter::new()
        .routes(routes!(list_feeds, create_feed))
        .routes(routes!(get_feed, update_feed, delete_feed))
        .routes(routes!(poll_feed))
        .routes(routes!(list_feed_items))
}

pub fn routes() -> Router<AppState> {
    api().split_for_parts().0
}

#[derive(Deserialize)]
struct SitePath {
    site: String,
}

#[derive(Deserialize)]
struct FeedPath {
    site: String,
    feed: String,
}

fn ids(site: &str, feed: &str) -> Result<(SiteId, FeedId), ApiError> {
    let site = SiteId::parse(site).map_err(|_| ApiError::NotFound("no such site".into()))?;
    let feed = FeedId::parse(feed).map_err(|_| ApiError::NotFound("no such feed".into()))?;
    Ok((site, feed))
}

fn site_id(raw: &str) -> Result<SiteId, ApiError> {
    SiteId::parse(raw).map_err(|_| ApiError::NotFound("no such site".into()))
}

#[derive(Deserialize, IntoParams)]
struct Paging {
    cursor: Option<String>,
    /// 1–100 (default 20).
    limit: Option<u32>,
}

#[derive(Serialize, ToSchema)]
struct FeedPage {
    feeds: Vec<FeedView>,
    next_cursor: Option<String>,
}

#[derive(Serialize, ToSchema)]
struct FeedItemPage {
    items: Vec<FeedItem>,
    next_cursor: Option<String>,
}

/// Feeds of a site, newest first, with their poll status.
#[utoipa::path(get, path = "/v1/workspaces/{ws}/sites/{site}/feeds", tag = "feeds", security(("bearer" = [])), params(("ws" = String, Path), ("site" = String, Path), Paging),
    responses((status = 200, description = "OK", body = Envelope<FeedPage>), (status = 404, description = "No such site", body = ErrorEnvelope)))]
async fn list_feeds(State(state): State<AppState>, ws: Workspace, Path(p): Path<SitePath>, Query(q): Query<Paging>) -> ApiResult<FeedPage> {
    let (feeds, next_cursor) = store::list(&state, &ws, &site_id(&p.site)?, q.cursor.as_deref(), q.limit.unwrap_or(20)).await?;
    Ok(ApiOk::ok(FeedPage { feeds: feeds.into_iter().map(FeedView).collect(), next_cursor }))
}

/// Adds an RSS/Atom feed whose new items become notifications. Its first poll takes the items already
/// there as seen without sending them, unless `send_existing`.
#[utoipa::path(post, path = "/v1/workspaces/{ws}/sites/{site}/feeds", tag = "feeds", security(("bearer" = [])), params(("ws" = String, Path), ("site" = String, Path)), request_body = FeedSettings,
    responses((status = 201, description = "Created", body = Envelope<FeedView>), (status = 404, description = "No such site", body = ErrorEnvelope), (status = 422, description = "Invalid (the message names the field)", body = ErrorEnvelope)))]
async fn create_feed(State(state): State<AppState>, ws: Workspace, meta: RequestMeta, Path(p): Path<SitePath>, ApiJson(body): ApiJson<FeedSettings>) -> ApiResult<FeedView> {
    Ok(ApiOk::created(FeedView(store::create(&state, &ws, &meta, &site_id(&p.site)?, body).await?)))
}

/// One feed.
#[utoipa::path(get, path = "/v1/workspaces/{ws}/sites/{site}/feeds/{feed}", tag = "feeds", security(("bearer" = [])), params(("ws" = String, Path), ("site" = String, Path), ("feed" = String, Path)),
    responses((status = 200, description = "OK", body = Envelope<FeedView>), (status = 404, description = "Not found", body = ErrorEnvelope)))]
async fn get_feed(State(state): State<AppState>, ws: Workspace, Path(p): Path<FeedPath>) -> ApiResult<FeedView> {
    let (site, feed) = ids(&p.site, &p.feed)?;
    Ok(ApiOk::ok(FeedView(store::get(&state, &ws, &site, &feed).await?)))
}

/// Replaces a feed's settings (`active: false` pauses it). Items already seen are never sent again.
#[utoipa::path(put, path = "/v1/workspaces/{ws}/sites/{site}/feeds/{feed}", tag = "feeds", security(("bearer" = [])), params(("ws" = String, Path), ("site" = String, Path), ("feed" = String, Path)), request_body = FeedSettings,
    responses((status = 200, description = "OK", body = Envelope<FeedView>), (status = 404, description = "Not found", body = ErrorEnvelope), (status = 409, description = "Changed meanwhile", body = ErrorEnvelope), (status = 422, description = "Invalid", body = ErrorEnvelope)))]
async fn update_feed(State(state): State<AppState>, ws: Workspace, meta: RequestMeta, Path(p): Path<FeedPath>, ApiJson(body): ApiJson<FeedSettings>) -> ApiResult<FeedView> {
    let (site, feed) = ids(&p.site, &p.feed)?;
    Ok(ApiOk::ok(FeedView(store::update(&state, &ws, &meta, &site, &feed, body).await?)))
}

/// Deletes a feed and its seen-item records (notifications already sent stay).
#[utoipa::path(delete, path = "/v1/workspaces/{ws}/sites/{site}/feeds/{feed}", tag = "feeds", security(("bearer" = [])), params(("ws" = String, Path), ("site" = String, Path), ("feed" = String, Path)),
    responses((status = 200, description = "Deleted"), (status = 404, description = "Not found", body = ErrorEnvelope)))]
async fn delete_feed(State(state): State<AppState>, ws: Workspace, meta: RequestMeta, Path(p): Path<FeedPath>) -> ApiResult<serde_json::Value> {
    let (site, feed) = ids(&p.site, &p.feed)?;
    store::delete(&state, &ws, &meta, &site, &feed).await?;
    Ok(ApiOk::ok(json!({"deleted": feed})))
}

/// Polls the feed now (also when paused): new items become notifications as on a scheduled poll. A
/// feed that cannot be fetched or parsed answers 200 with `status: error` and the reason.
#[utoipa::path(post, path = "/v1/workspaces/{ws}/sites/{site}/feeds/{feed}/poll", tag = "feeds", security(("bearer" = [])), params(("ws" = String, Path), ("site" = String, Path), ("feed" = String, Path)),
    responses((status = 200, description = "Polled", body = Envelope<PollReport>), (status = 404, description = "Not found", body = ErrorEnvelope)))]
async fn poll_feed(State(state): State<AppState>, ws: Workspace, Path(p): Path<FeedPath>) -> ApiResult<PollReport> {
    ws.require(Action::NotificationsSend)?;
    let (site, feed) = ids(&p.site, &p.feed)?;
    sites::get(&state, &ws, &site).await?;
    Ok(ApiOk::ok(poller::poll(&state, ws.id(), &site, &feed).await?))
}

/// Items seen in the feed, newest first: sent (with the notification id), taken as already there on the
/// first poll, skipped (`newest_only`, per-poll cap) or failed (with the reason).
#[utoipa::path(get, path = "/v1/workspaces/{ws}/sites/{site}/feeds/{feed}/items", tag = "feeds", security(("bearer" = [])), params(("ws" = String, Path), ("site" = String, Path), ("feed" = String, Path), Paging),
    responses((status = 200, description = "OK", body = Envelope<FeedItemPage>), (status = 404, description = "Not found", body = ErrorEnvelope)))]
async fn list_feed_items(State(state): State<AppState>, ws: Workspace, Path(p): Path<FeedPath>, Query(q): Query<Paging>) -> ApiResult<FeedItemPage> {
    let (site, feed) = ids(&p.site, &p.feed)?;
    let (items, next_cursor) = store::items(&state, &ws, &site, &feed, q.cursor.as_deref(), q.limit.unwrap_or(20)).await?;
    Ok(ApiOk::ok(FeedItemPage { items, next_cursor }))
}
