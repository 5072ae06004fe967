//! Feed rows under `WS#<ws>#SITE#<site>#FEEDS`/`FEED#<id>`, the seen-item markers under
//! `WS#<ws>#FEED#<id>#ITEMS`/`<item hash>` (time-ordered on `gsi1` for the recent-items list), and the
//! due index: one entry per active feed under `SYS#feeds#due`, sorted by its next poll time, written in
//! the same transaction as the row, so the tick reads only the feeds that are due.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::types::{parse_settings, Feed, FeedId, FeedSettings, FeedTarget, PollStatus};
use crate::auth::{Action, RequestMeta, Workspace, WorkspaceId};
use crate::http::ApiError;
use crate::ports::{Condition, Cursor, Item, Key, Query, TableError, TxWrite};
use crate::push::sites::{self, SiteId};
use crate::state::AppState;
use crate::workspaces::audit;

pub const MAX_FEEDS_PER_SITE: usize = 50;
pub const DUE_PARTITION: &str = "SYS#feeds#due";

pub fn feeds_partition(ws: &WorkspaceId, site: &SiteId) -> String {
    format!("WS#{ws}#SITE#{site}#FEEDS")
}

pub fn feed_key(ws: &WorkspaceId, site: &SiteId, id: &FeedId) -> Key {
    Key::new(feeds_partition(ws, site), format!("FEED#{id}"))
}

pub fn items_partition(ws: &WorkspaceId, feed: &FeedId) -> String {
    format!("WS#{ws}#FEED#{feed}#ITEMS")
}

pub fn items_log(ws: &WorkspaceId, feed: &FeedId) -> String {
    format!("WS#{ws}#FEED#{feed}#LOG")
}

/// A due entry names its feed; its sort key starts with the poll time in epoch ms.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DueEntry {
    pub workspace: WorkspaceId,
    pub site: SiteId,
    pub feed: FeedId,
}

pub fn due_key(ms: i64, ws: &WorkspaceId, site: &SiteId, feed: &FeedId) -> Key {
    Key::new(DUE_PARTITION, format!("{ms:013}#{ws}#{site}#{feed}"))
}

pub fn due_put(ms: i64, ws: &WorkspaceId, site: &SiteId, feed: &FeedId) -> TxWrite {
    let entry = DueEntry { workspace: ws.clone(), site: site.clone(), feed: feed.clone() };
    TxWrite::Put { item: Item::of(due_key(ms, ws, site, feed), &entry), condition: Condition::None }
}

fn due_delete(feed: &Feed, ws: &WorkspaceId) -> Option<TxWrite> {
    (feed.next_poll_ms > 0).then(|| TxWrite::Delete { key: due_key(feed.next_poll_ms, ws, &feed.site_id, &feed.id), condition: Condition::None })
}

/// What a seen item became.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ItemOutcome {
    /// Became the notification `notification_id`.
    Sent,
    /// Already in the feed on its first poll (or after a URL change): marked seen, not sent.
    Baseline,
    /// Not the newest new item of its poll (`newest_only`), or beyond the per-poll cap.
    Skipped,
    /// Could not become a notification (the template or the send refused it); not retried.
    Failed,
}

/// One seen item.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct FeedItem {
    pub item_id: String,
    pub title: Option<String>,
    pub link: Option<String>,
    pub published: Option<String>,
    pub seen_at: String,
    pub outcome: ItemOutcome,
    pub notification_id: Option<String>,
    pub error: Option<String>,
}

/// The marker key of an item: a hash of its id, so any id length or character fits a sort key.
pub fn item_hash(item_id: &str) -> String {
    crate::auth::tokens::token_hash(item_id)[..32].to_owned()
}

pub fn item_key(ws: &WorkspaceId, feed: &FeedId, hash: &str) -> Key {
    Key::new(items_partition(ws, feed), hash)
}

/// The marker for `item`, conditional on not existing yet (so of two polls only one records it).
pub fn item_put(state: &AppState, ws: &WorkspaceId, feed: &FeedId, hash: &str, item: &FeedItem) -> TxWrite {
    let at = state.clock.now().timestamp_millis();
    let record = Item::of(item_key(ws, feed, hash), item).with_gsi1(items_log(ws, feed), format!("{at:013}#{hash}"));
    TxWrite::Put { item: record, condition: Condition::NotExists }
}

async fn check_target(state: &AppState, ws: &Workspace, site: &SiteId, target: &FeedTarget) -> Result<(), ApiError> {
    if let FeedTarget::Segment { segment_id } = target {
        let id = crate::push::segments::SegmentId::parse(segment_id).map_err(|_| ApiError::Validation("target.segment_id: no such segment".into()))?;
        crate::push::segments::get(state, ws, site, &id).await.map_err(|_| ApiError::Validation(format!("target.segment_id: no segment `{segment_id}` on this site")))?;
    }
    Ok(())
}

/// Adds a feed; active feeds are polled from the next minute on.
pub async fn create(state: &AppState, ws: &Workspace, meta: &RequestMeta, site: &SiteId, settings: FeedSettings) -> Result<Feed, ApiError> {
    ws.require(Action::NotificationsSend)?;
    sites::get(state, ws, site).await?;
    let spec = parse_settings(settings, &state.events_out.policy)?;
    check_target(state, ws, site, &spec.target).await?;
    let existing = state.table.query(Query::partition(feeds_partition(ws.id(), site)).limit(MAX_FEEDS_PER_SITE as u32)).await?;
    if existing.items.len() >= MAX_FEEDS_PER_SITE {
        return Err(ApiError::Refused { code: "too_many_feeds", message: format!("a site has at most {MAX_FEEDS_PER_SITE} feeds") });
    }
    let now = state.clock.now();
    let id = FeedId::new(state.clock.new_id());
    let next_ms = if spec.active { now.timestamp_millis() } else { 0 };
    let feed = Feed {
        id: id.clone(),
        site_id: site.clone(),
        url: spec.url,
        name: spec.name,
        template: spec.template,
        target: spec.target,
        newest_only: spec.newest_only,
        send_existing: spec.send_existing,
        active: spec.active,
        created_at: now.to_rfc3339(),
        updated_at: now.to_rfc3339(),
        feed_title: None,
        baseline_pending: !spec.send_existing,
        last_status: PollStatus::Pending,
        last_polled_at: None,
        last_success_at: None,
        last_error: None,
        consecutive_failures: 0,
        items_sent: 0,
        next_poll_at: spec.active.then(|| now.to_rfc3339()),
        next_poll_ms: next_ms,
        etag: None,
        last_modified: None,
        recent: vec![],
    };
    let mut writes = vec![TxWrite::Put { item: Item::of(feed_key(ws.id(), site, &id), &feed), condition: Condition::NotExists }, audit::entry(state, ws, meta, "feed.create", id.as_str())];
    if spec.active {
        writes.push(due_put(next_ms, ws.id(), site, &id));
    }
    state.table.transact(writes).await?;
    Ok(feed)
}

/// A feed and its row version.
pub async fn load(state: &AppState, ws: &WorkspaceId, site: &SiteId, id: &FeedId) -> Result<(Feed, u64), ApiError> {
    let item = state.table.get(&feed_key(ws, site, id)).await?.ok_or_else(|| ApiError::NotFound("no such feed".into()))?;
    Ok((item.parse()?, item.version))
}

pub async fn get(state: &AppState, ws: &Workspace, site: &SiteId, id: &FeedId) -> Result<Feed, ApiError> {
    ws.require(Action::WorkspaceRead)?;
    Ok(load(state, ws.id(), site, id).await?.0)
}

pub async fn list(state: &AppState, ws: &Workspace, site: &SiteId, cursor: Option<&str>, limit: u32) -> Result<(Vec<Feed>, Option<String>), ApiError> {
    ws.require(Action::WorkspaceRead)?;
    sites::get(state, ws, site).await?;
    let after = cursor.map(Cursor::parse).transpose()?;
    let page = state.table.query(Query::partition(feeds_partition(ws.id(), site)).reverse().limit(limit.clamp(1, 100)).after(after)).await?;
    let feeds = page.items.iter().map(|i| i.parse::<Feed>()).collect::<Result<Vec<_>, _>>()?;
    Ok((feeds, page.next.map(|c| c.as_str().to_owned())))
}

/// Replaces a feed's settings. A new URL starts over: its current items are taken as seen (unless
/// `send_existing`) and the validators are dropped. Pausing removes the due entry; resuming polls at
/// the next minute. Items already seen are never sent again, whatever changes.
pub async fn update(state: &AppState, ws: &Workspace, meta: &RequestMeta, site: &SiteId, id: &FeedId, settings: FeedSettings) -> Result<Feed, ApiError> {
    ws.require(Action::NotificationsSend)?;
    let spec = parse_settings(settings, &state.events_out.policy)?;
    check_target(state, ws, site, &spec.target).await?;
    let (mut feed, version) = load(state, ws.id(), site, id).await?;
    let now = state.clock.now();
    let mut writes = Vec::new();
    if spec.url != feed.url {
        feed.baseline_pending = !spec.send_existing;
        feed.etag = None;
        feed.last_modified = None;
        feed.last_status = PollStatus::Pending;
        feed.last_error = None;
        feed.consecutive_failures = 0;
    }
    match (feed.active, spec.active) {
        (true, false) => {
            writes.extend(due_delete(&feed, ws.id()));
            feed.next_poll_ms = 0;
            feed.next_poll_at = None;
        }
        (false, true) => {
            feed.next_poll_ms = now.timestamp_millis();
            feed.next_poll_at = Some(now.to_rfc3339());
            writes.push(due_put(feed.next_poll_ms, ws.id(), site, id));
        }
        _ => {}
    }
    feed.url = spec.url;
    feed.name = spec.name;
    feed.template = spec.template;
    feed.target = spec.target;
    feed.newest_only = spec.newest_only;
    feed.send_existing = spec.send_existing;
    feed.active = spec.active;
    feed.updated_at = now.to_rfc3339();
    let item = Item::of(feed_key(ws.id(), site, id), &feed).with_version(version + 1);
    writes.insert(0, TxWrite::Put { item, condition: Condition::VersionIs(version) });
    writes.push(audit::entry(state, ws, meta, "feed.update", id.as_str()));
    state.table.transact(writes).await.map_err(|e| match e {
        TableError::TransactionCancelled { index: 0 } | TableError::ConditionFailed => ApiError::Conflict("the feed changed meanwhile (a poll or another edit); try again".into()),
        e => e.into(),
    })?;
    Ok(feed)
}

/// Deletes a feed, its due entry and its seen-item markers.
pub async fn delete(state: &AppState, ws: &Workspace, meta: &RequestMeta, site: &SiteId, id: &FeedId) -> Result<(), ApiError> {
    ws.require(Action::NotificationsSend)?;
    let (feed, _) = load(state, ws.id(), site, id).await?;
    let mut writes = vec![TxWrite::Delete { key: feed_key(ws.id(), site, id), condition: Condition::Exists }, audit::entry(state, ws, meta, "feed.delete", id.as_str())];
    writes.extend(due_delete(&feed, ws.id()));
    state.table.transact(writes).await?;
    loop {
        let page = state.table.query(Query::partition(items_partition(ws.id(), id)).limit(100)).await?;
        for item in &page.items {
            state.table.delete(&item.key, Condition::None).await?;
        }
        if page.next.is_none() {
            return Ok(());
        }
    }
}

/// Seen items, newest first.
pub async fn items(state: &AppState, ws: &Workspace, site: &SiteId, id: &FeedId, cursor: Option<&str>, limit: u32) -> Result<(Vec<FeedItem>, Option<String>), ApiError> {
    ws.require(Action::WorkspaceRead)?;
    load(state, ws.id(), site, id).await?;
    let after = cursor.map(Cursor::parse).transpose()?;
    let page = state.table.query(Query::gsi1(items_log(ws.id(), id)).reverse().limit(limit.clamp(1, 100)).after(after)).await?;
    let items = page.items.iter().map(|i| i.parse::<FeedItem>()).collect::<Result<Vec<_>, _>>()?;
    Ok((items, page.next.map(|c| c.as_str().to_owned())))
}
