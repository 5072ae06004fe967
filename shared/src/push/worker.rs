//! `worker-push-send`: runs fan-out and deliver jobs from the `push-send` queue. A fan-out queues the
//! deliver jobs of its shard, then writes its marker together with its counters; a retry after a crash
//! computes the same jobs with the same ids, and their progress records make the repeats harmless.

use async_trait::async_trait;
use aws_lambda_events::sqs::SqsMessage;

use super::deliver::{deliver, DeliverJob};
use super::notifications::{notification_key, Notification, NotificationId, PushJob, Recipient, Target};
use super::sites::SiteId;
use super::subscribers::{shard_partition, Subscriber, SHARDS};
use crate::auth::WorkspaceId;
use crate::ports::{Condition, Item, Key, Query, TableError, TxWrite};
use crate::state::AppState;
use crate::worker::{JobError, JobHandler};

pub struct PushWorker;

#[async_trait]
impl JobHandler for PushWorker {
    async fn handle(&self, state: &AppState, message: &SqsMessage) -> Result<(), JobError> {
        if let Some(import) = super::imports::ImportMessage::from_body(message.body.as_deref().unwrap_or_default()) {
            return super::imports::run_chunk(state, import).await;
        }
        let job: PushJob = serde_json::from_str(message.body.as_deref().unwrap_or_default()).map_err(|e| JobError::Permanent(format!("not a push job: {e}")))?;
        let receives = crate::worker::receive_count(message);
        match job {
            PushJob::Fanout { workspace, site, notification, shard, shards } => fanout(state, &workspace, &site, &notification, shard, shards.max(1)).await,
            PushJob::Deliver { workspace, site, notification, job, attempt, redrive, variant, site_version, subscribers } => {
                let job = job.unwrap_or_else(|| adhoc_job_id(&subscribers));
                let message_id = message.message_id.clone().unwrap_or_default();
                deliver(state, DeliverJob { workspace, site, notification, job, attempt: attempt + receives.saturating_sub(1), redrive, variant, site_version, subscribers, message_id }).await
            }
        }
    }
}

/// A job queued without an id (by hand, or before ids existed) is named by its subscribers.
fn adhoc_job_id(subs: &[Recipient]) -> String {
    let mut ids: Vec<&str> = subs.iter().map(|s| s.id.as_str()).collect();
    ids.sort_unstable();
    format!("adhoc-{}", &crate::auth::tokens::token_hash(&ids.join(","))[..16])
}

/// The notification a deliver job sends, read eventually consistent (half the read units on DynamoDB).
/// Safe because a started notification's content, target and plan never change again (only drafts and
/// scheduled ones are edited); what can change later is its counters, which delivery does not read, and
/// a cancel, which a read a second stale sees one second late (as if the cancel had come a second later).
/// A read that misses the record or finds it not yet started (the start's write not replicated yet) is
/// repeated strongly consistent.
pub(super) async fn load_started_notification(state: &AppState, ws: &WorkspaceId, site: &SiteId, id: &NotificationId) -> Result<Notification, JobError> {
    if let Some(item) = state.table.get_eventually(&notification_key(ws, site, id)).await.map_err(JobError::retry)? {
        let n: Notification = item.parse().map_err(|e| JobError::Permanent(e.to_string()))?;
        if n.started_at.is_some() {
            return Ok(n);
        }
    }
    load_notification(state, ws, site, id).await
}

pub(super) async fn load_notification(state: &AppState, ws: &WorkspaceId, site: &SiteId, id: &NotificationId) -> Result<Notification, JobError> {
    let item = state.table.get(&notification_key(ws, site, id)).await.map_err(JobError::retry)?.ok_or_else(|| JobError::Permanent(format!("notification {id} no longer exists")))?;
    item.parse().map_err(|e| JobError::Permanent(e.to_string()))
}

fn selected(target: &Target, s: &Subscriber, at: Option<chrono::DateTime<chrono::FixedOffset>>) -> bool {
    match target {
        Target::Segment { .. } | Target::Rules { .. } => super::segments::target_matches(target, s, at),
        Target::All => true,
        Target::Tags { tags } => s.tags.iter().any(|t| tags.iter().any(|w| w.eq_ignore_ascii_case(t))),
        Target::Subscriber { id } => s.id == *id,
        Target::ExternalId { external_id } => s.client.external_id.as_deref() == Some(external_id.as_str()),
    }
}

/// True when the subscriber existed when the notification started (or was created, for older records): a retried fan-out must select
/// the same subscribers as the first run, whoever subscribed in between.
fn existed_at(s: &Subscriber, created_at: Option<chrono::DateTime<chrono::FixedOffset>>) -> bool {
    match (created_at, chrono::DateTime::parse_from_rfc3339(&s.created_at)) {
        (Some(created), Ok(subscribed)) => subscribed <= created,
        _ => true,
    }
}

/// Pages `span` shards from `first` on, queues deliver jobs for the selected subscribers, then writes the
/// job's marker (named after its first shard) and its counters in one transaction. A redelivered fan-out
/// of finished shards does nothing. One marker per job is enough: every fan-out of a notification covers
/// the span its record names (the outbox sweep re-queues with that span), so no other job starts at one
/// of these shards.
async fn fanout(state: &AppState, ws: &WorkspaceId, site: &SiteId, id: &NotificationId, first: u8, span: u8) -> Result<(), JobError> {
    let marker = |shard: u8| Key::new(format!("WS#{ws}#SITE#{site}#NOTIF#{id}"), format!("FANOUT#{shard:02}"));
    let shards = first..first.saturating_add(span).min(SHARDS);
    if state.table.get(&marker(first)).await.map_err(JobError::retry)?.is_some() {
        return Ok(());
    }
    let n = load_notification(state, ws, site, id).await?;
    let created_at = chrono::DateTime::parse_from_rfc3339(n.started_at.as_deref().unwrap_or(&n.created_at)).ok();
    let mut matched = Vec::new();
    for shard in shards.clone() {
        let mut cursor = None;
        loop {
            let page = state.table.query(Query::partition(shard_partition(ws, site, shard)).prefix("SUB#").limit(1000).after(cursor)).await.map_err(JobError::retry)?;
            matched.extend(page.items.iter().filter_map(|i| i.parse::<Subscriber>().ok()).filter(|s| selected(&n.target, s, created_at) && existed_at(s, created_at)));
            match page.next {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
    }
    let targeted = matched.len() as i64;
    // Read afresh (pacing settings may have changed); the deliver jobs find it cached at this version.
    let site_key = match state.push.site_keys.fresh(state, ws, site).await {
        Ok(s) => s,
        Err(crate::http::ApiError::NotFound(m)) => return Err(JobError::Permanent(m)),
        Err(e) => return Err(JobError::retry(e)),
    };
    let prefix = if span == 1 { format!("{first:02}") } else { format!("{first:02}x{span:02}") };
    let covered = shards.end - shards.start;
    let (job_count, variant_deltas) = super::pacing::dispatch(state, ws, &site_key.site, site_key.version, &n, &prefix, covered, matched).await.map_err(JobError::retry)?;
    let mut deltas = vec![("targeted".to_owned(), targeted), ("shards_done".to_owned(), i64::from(covered)), ("jobs_total".to_owned(), job_count as i64)];
    deltas.extend(variant_deltas);
    let expiry = state.clock.epoch_seconds() + 7 * 86_400;
    let writes = vec![TxWrite::Put { item: Item::new(marker(first)).with_expiry(expiry), condition: Condition::NotExists }, TxWrite::Add { key: notification_key(ws, site, id), deltas }];
    match state.table.transact(writes).await {
        // Another run of this fan-out got there first; the jobs just queued repeat its ids and do nothing.
        Ok(()) | Err(TableError::TransactionCancelled { .. }) => Ok(()),
        Err(e) => Err(JobError::retry(e)),
    }
}
