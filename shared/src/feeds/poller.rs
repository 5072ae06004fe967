//! Polling: the tick claims due feeds from the due index (moving each entry to its next poll time in one
//! transaction with the row, so overlapping ticks claim a feed once) and queues one job per feed on the
//! `feeds` queue; the worker (or `POST …/poll`) fetches, parses and turns each new item into a
//! notification. An item's seen marker is written in the same transaction as its notification, under a
//! key derived from the feed and the item id: a replayed job, a restart or an edit never sends an item
//! twice, and a crash before the transaction sends it on the next poll. A broken feed is recorded on its
//! row (status, error, failures in a row) and never fails the tick or the job.

use async_trait::async_trait;
use aws_lambda_events::event::sqs::SqsMessage;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::fetch::{self, Fetched, Validators};
use super::parse::{self, Entry};
use super::store::{self, item_hash, item_key, item_put, DueEntry, FeedItem, ItemOutcome, DUE_PARTITION};
use super::types::{Feed, FeedId, FeedTarget, PollStatus};
use crate::auth::{RequestMeta, WorkspaceId};
use crate::http::ApiError;
use crate::ports::{Condition, Item, OutgoingMessage, Query, TableError, TxWrite};
use crate::push::notifications::{self, NewNotification, Plan, Target};
use crate::push::sites::SiteId;
use crate::state::AppState;
use crate::worker::{JobError, JobHandler};

/// New items one poll turns into notifications; more are marked skipped (a burst must not flood subscribers).
pub const MAX_SENDS_PER_POLL: usize = 10;
/// Item hashes kept on the row to skip marker reads for items seen before.
const RECENT_KEPT: usize = 300;
/// Feeds one tick claims at most (pages of 100).
const CLAIM_PAGES: usize = 10;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FeedJob {
    pub workspace: WorkspaceId,
    pub site: SiteId,
    pub feed: FeedId,
    /// When the tick claimed the feed (ms); a poll finished after it (a "Poll now") makes this job moot.
    #[serde(default)]
    pub claimed_at_ms: Option<i64>,
}

impl FeedJob {
    /// Whether `feed` was polled after this job's claim, so polling again would fetch the document twice
    /// and could take items the other poll is about to report.
    fn overtaken(&self, feed: &Feed) -> bool {
        let polled_ms = feed.last_polled_at.as_deref().and_then(|t| DateTime::parse_from_rfc3339(t).ok()).map(|t| t.timestamp_millis());
        matches!((self.claimed_at_ms, polled_ms), (Some(claimed), Some(polled)) if polled > claimed)
    }
}

/// What one poll did.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq)]
pub struct PollReport {
    pub status: PollStatus,
    /// Items in the document.
    pub items: usize,
    /// Items not seen before.
    pub new_items: usize,
    /// Notifications created.
    pub sent: usize,
    /// New items recorded as seen without sending (first poll, `newest_only`, the per-poll cap, refusals).
    pub not_sent: usize,
    pub error: Option<String>,
}

impl PollReport {
    fn failed(error: String) -> Self {
        Self { status: PollStatus::Error, items: 0, new_items: 0, sent: 0, not_sent: 0, error: Some(error) }
    }
}

/// Polls one feed now. `Err` only for platform failures (table, queue), which are worth a retry.
pub async fn poll(state: &AppState, ws: &WorkspaceId, site: &SiteId, id: &FeedId) -> Result<PollReport, ApiError> {
    let (feed, _) = store::load(state, ws, site, id).await?;
    poll_loaded(state, ws, site, id, feed).await
}

async fn poll_loaded(state: &AppState, ws: &WorkspaceId, site: &SiteId, id: &FeedId, feed: Feed) -> Result<PollReport, ApiError> {
    let known = Validators { etag: feed.etag.clone(), last_modified: feed.last_modified.clone() };
    let fetched = fetch::fetch(&state.events_out.http, &state.events_out.policy, &feed.url, &known).await;
    let (report, update) = match fetched {
        Err(e) => (PollReport::failed(e.to_string()), None),
        Ok(Fetched::NotModified) => (PollReport { status: PollStatus::NotModified, items: 0, new_items: 0, sent: 0, not_sent: 0, error: None }, None),
        Ok(Fetched::Body { bytes, validators }) => match parse::parse(&bytes) {
            Err(e) => (PollReport::failed(e), None),
            Ok(parsed) => {
                let (report, recent) = process(state, ws, &feed, &parsed).await?;
                (report, Some((validators, recent, parsed.title)))
            }
        },
    };
    record(state, ws, site, id, &report, update).await?;
    if let Some(e) = &report.error {
        tracing::info!(feed = %id, error = %e, "feed poll failed");
    }
    Ok(report)
}

/// Marks and sends the new items of a parsed document; returns the report and the hashes now seen.
async fn process(state: &AppState, ws: &WorkspaceId, feed: &Feed, parsed: &parse::Parsed) -> Result<(PollReport, Vec<String>), ApiError> {
    let mut hashes = Vec::new();
    let mut fresh: Vec<(usize, &Entry, String)> = Vec::new();
    for (i, entry) in parsed.entries.iter().enumerate() {
        let hash = item_hash(&entry.id);
        if hashes.contains(&hash) {
            continue;
        }
        hashes.push(hash.clone());
        if feed.recent.contains(&hash) || state.table.get(&item_key(ws, &feed.id, &hash)).await?.is_some() {
            continue;
        }
        fresh.push((i, entry, hash));
    }
    let mut report = PollReport { status: PollStatus::Ok, items: parsed.entries.len(), new_items: fresh.len(), sent: 0, not_sent: 0, error: None };
    // Newest first by date, document order among equals (feeds list newest first).
    fresh.sort_by(|a, b| b.1.published.as_deref().and_then(parse_time).cmp(&a.1.published.as_deref().and_then(parse_time)).then(a.0.cmp(&b.0)));
    let chosen = if feed.baseline_pending { 0 } else if feed.newest_only { 1 } else { MAX_SENDS_PER_POLL };
    let (send, rest) = fresh.split_at(chosen.min(fresh.len()));
    for (_, entry, hash) in rest {
        let outcome = if feed.baseline_pending { ItemOutcome::Baseline } else { ItemOutcome::Skipped };
        mark(state, ws, &feed.id, hash, seen(state, entry, outcome, None, None)).await?;
        report.not_sent += 1;
    }
    // Oldest first, so the newest item is the last notification shown.
    for (_, entry, hash) in send.iter().rev() {
        if send_item(state, ws, feed, parsed, entry, hash).await? {
            report.sent += 1;
        } else {
            report.not_sent += 1;
        }
    }
    hashes.truncate(RECENT_KEPT);
    Ok((report, hashes))
}

fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s).ok().map(|t| t.with_timezone(&Utc))
}

fn seen(state: &AppState, e: &Entry, outcome: ItemOutcome, notification_id: Option<String>, error: Option<String>) -> FeedItem {
    FeedItem { item_id: e.id.chars().take(500).collect(), title: e.title.clone(), link: e.link.clone(), published: e.published.clone(), seen_at: state.clock.now().to_rfc3339(), outcome, notification_id, error }
}

/// Writes a marker unless one exists (another poll got there first).
async fn mark(state: &AppState, ws: &WorkspaceId, feed: &FeedId, hash: &str, item: FeedItem) -> Result<(), ApiError> {
    let TxWrite::Put { item: record, condition } = item_put(state, ws, feed, hash, &item) else { unreachable!("item_put is a put") };
    match state.table.put(record, condition).await {
        Ok(()) | Err(TableError::ConditionFailed) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Sends one item as a notification with its marker in the same transaction. `Ok(false)` when it was
/// refused for good (recorded as failed) or another poll sent it first.
async fn send_item(state: &AppState, ws: &WorkspaceId, feed: &Feed, parsed: &parse::Parsed, entry: &Entry, hash: &str) -> Result<bool, ApiError> {
    let content = match super::render::content(&feed.template, entry, parsed.title.as_deref().or(feed.name.as_deref()), parsed.link.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            mark(state, ws, &feed.id, hash, seen(state, entry, ItemOutcome::Failed, None, Some(e))).await?;
            return Ok(false);
        }
    };
    let target = match &feed.target {
        FeedTarget::All => Target::All,
        FeedTarget::Segment { segment_id } => Target::Segment { segment_id: segment_id.clone(), rules: None },
    };
    let req = NewNotification { content, target, ttl_seconds: None, urgency: None, topic: None, draft: false, plan: Plan::default() };
    let service = crate::auth::principal::service_workspace(ws.clone(), &format!("feed {}", feed.id));
    let meta = RequestMeta { ip: "feed".into(), user_agent: format!("feed poller {}", feed.id) };
    let marker = |n: &notifications::NotificationId| vec![item_put(state, ws, &feed.id, hash, &seen(state, entry, ItemOutcome::Sent, Some(n.to_string()), None))];
    match notifications::send_with(state, &service, &meta, &feed.site_id, req, marker).await {
        Ok(_) => Ok(true),
        Err(e) => {
            if state.table.get(&item_key(ws, &feed.id, hash)).await?.is_some() {
                return Ok(false);
            }
            match e {
                ApiError::Validation(_) | ApiError::NotFound(_) | ApiError::Refused { .. } | ApiError::Forbidden => {
                    mark(state, ws, &feed.id, hash, seen(state, entry, ItemOutcome::Failed, None, Some(e.to_string()))).await?;
                    Ok(false)
                }
                e => Err(e),
            }
        }
    }
}

/// Writes a poll's outcome on the row, re-reading on a version conflict (an edit or another poll).
async fn record(state: &AppState, ws: &WorkspaceId, site: &SiteId, id: &FeedId, report: &PollReport, update: Option<(Validators, Vec<String>, Option<String>)>) -> Result<(), ApiError> {
    let now = state.clock.now().to_rfc3339();
    for _ in 0..5 {
        let Ok((mut feed, version)) = store::load(state, ws, site, id).await else { return Ok(()) };
        feed.last_status = report.status;
        feed.last_polled_at = Some(now.clone());
        feed.last_error = report.error.clone();
        if report.error.is_some() {
            feed.consecutive_failures += 1;
        } else {
            feed.consecutive_failures = 0;
            feed.last_success_at = Some(now.clone());
        }
        feed.items_sent += report.sent as u64;
        if let Some((validators, recent, title)) = &update {
            feed.etag = validators.etag.clone();
            feed.last_modified = validators.last_modified.clone();
            feed.recent = recent.clone();
            feed.feed_title = title.clone().or(feed.feed_title);
            feed.baseline_pending = false;
        }
        let item = Item::of(store::feed_key(ws, site, id), &feed).with_version(version + 1);
        match state.table.put(item, Condition::VersionIs(version)).await {
            Ok(()) => return Ok(()),
            Err(TableError::ConditionFailed) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(ApiError::Conflict("the feed kept changing while its poll was recorded".into()))
}

/// The tick's part: claims the feeds due by `now` and queues a poll job for each. Returns how many.
pub async fn claim_due(state: &AppState, now: DateTime<Utc>) -> Result<usize, ApiError> {
    let now_ms = now.timestamp_millis();
    let mut jobs = Vec::new();
    let mut after = None;
    for _ in 0..CLAIM_PAGES {
        let page = state.table.query(Query::partition(DUE_PARTITION).between("0", format!("{now_ms:013}~")).limit(100).after(after.take())).await?;
        for entry in &page.items {
            match claim(state, entry, now).await {
                Ok(Some(job)) => jobs.push(job),
                Ok(None) => {}
                Err(e) => tracing::warn!(error = %e, entry = %entry.key.sk, "feed due entry not claimed; retried next minute"),
            }
        }
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    for chunk in jobs.chunks(crate::ports::queue::MAX_BATCH) {
        let messages = chunk.iter().map(|j| OutgoingMessage::new(serde_json::to_string(j).expect("job serialises"))).collect();
        state.queue.send(&crate::queues::feeds().name, messages).await?;
    }
    Ok(jobs.len())
}

/// Moves one due entry to the feed's next poll time; `None` for a stale entry (removed) or a lost race.
async fn claim(state: &AppState, entry: &Item, now: DateTime<Utc>) -> Result<Option<FeedJob>, ApiError> {
    let e: DueEntry = entry.parse()?;
    let due_ms: i64 = entry.key.sk.split('#').next().and_then(|m| m.parse().ok()).unwrap_or(0);
    let (mut feed, version) = match store::load(state, &e.workspace, &e.site, &e.feed).await {
        Ok(found) => found,
        Err(ApiError::NotFound(_)) => {
            state.table.delete(&entry.key, Condition::None).await?;
            return Ok(None);
        }
        Err(err) => return Err(err),
    };
    if !feed.active || feed.next_poll_ms != due_ms {
        state.table.delete(&entry.key, Condition::None).await?;
        return Ok(None);
    }
    let next = now + chrono::Duration::minutes(Feed::interval_minutes(feed.consecutive_failures));
    feed.next_poll_ms = next.timestamp_millis();
    feed.next_poll_at = Some(next.to_rfc3339());
    let writes = vec![
        TxWrite::Put { item: Item::of(store::feed_key(&e.workspace, &e.site, &e.feed), &feed).with_version(version + 1), condition: Condition::VersionIs(version) },
        TxWrite::Delete { key: entry.key.clone(), condition: Condition::Exists },
        store::due_put(feed.next_poll_ms, &e.workspace, &e.site, &e.feed),
    ];
    match state.table.transact(writes).await {
        Ok(()) => Ok(Some(FeedJob { workspace: e.workspace, site: e.site, feed: e.feed, claimed_at_ms: Some(now.timestamp_millis()) })),
        Err(TableError::TransactionCancelled { .. } | TableError::ConditionFailed) => Ok(None),
        Err(err) => Err(err.into()),
    }
}

/// Consumes the `feeds` queue: one poll per job.
pub struct FeedWorker;

#[async_trait]
impl JobHandler for FeedWorker {
    async fn handle(&self, state: &AppState, message: &SqsMessage) -> Result<(), JobError> {
        let job: FeedJob = serde_json::from_str(message.body.as_deref().unwrap_or_default()).map_err(|e| JobError::Permanent(format!("not a feed job: {e}")))?;
        let feed = match store::load(state, &job.workspace, &job.site, &job.feed).await {
            Ok((feed, _)) => feed,
            Err(ApiError::NotFound(_)) => return Ok(()),
            Err(e) => return Err(JobError::retry(e)),
        };
        if job.overtaken(&feed) {
            return Ok(());
        }
        match poll_loaded(state, &job.workspace, &job.site, &job.feed, feed).await {
            Ok(_) | Err(ApiError::NotFound(_)) => Ok(()),
            Err(e) => Err(JobError::retry(e)),
        }
    }
}
