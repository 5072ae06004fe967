//! `worker-push-send`: runs fan-out and deliver jobs from the `push-send` queue.

use std::time::Duration;

use async_trait::async_trait;
use aws_lambda_events::sqs::SqsMessage;
use futures_util::StreamExt;

use super::notifications::{enqueue, notification_key, payload, Notification, NotificationId, PushJob, Target, DELIVER_BATCH, MAX_ATTEMPTS};
use super::outcome::Outcome;
use super::sender::Delivery;
use super::sites::{self, SiteId};
use super::subscribers::{self, shard_partition, Subscriber};
use crate::auth::WorkspaceId;
use crate::http::ApiError;
use crate::ports::{Condition, Item, Key, Query, TableError};
use crate::state::AppState;
use crate::worker::{retry_delay, JobError, JobHandler};

/// Sends in flight at once within one deliver job.
const CONCURRENCY: usize = 16;

pub struct PushWorker;

fn transient(e: ApiError) -> JobError {
    match e {
        ApiError::NotFound(m) => JobError::Permanent(m),
        e => JobError::retry(e),
    }
}

#[async_trait]
impl JobHandler for PushWorker {
    async fn handle(&self, state: &AppState, message: &SqsMessage) -> Result<(), JobError> {
        let job: PushJob = serde_json::from_str(message.body.as_deref().unwrap_or_default()).map_err(|e| JobError::Permanent(format!("not a push job: {e}")))?;
        match job {
            PushJob::Fanout { workspace, site, notification, shard } => fanout(state, &workspace, &site, &notification, shard).await,
            PushJob::Deliver { workspace, site, notification, attempt, subscribers } => deliver(state, &workspace, &site, &notification, attempt, subscribers).await,
        }
    }
}

async fn load_notification(state: &AppState, ws: &WorkspaceId, site: &SiteId, id: &NotificationId) -> Result<Notification, JobError> {
    let item = state.table.get(&notification_key(ws, site, id)).await.map_err(JobError::retry)?.ok_or_else(|| JobError::Permanent(format!("notification {id} no longer exists")))?;
    item.parse().map_err(|e| JobError::Permanent(e.to_string()))
}

fn selected(target: &Target, s: &Subscriber) -> bool {
    match target {
        Target::All => true,
        Target::Tags { tags } => s.tags.iter().any(|t| tags.iter().any(|w| w.eq_ignore_ascii_case(t))),
        Target::Subscriber { id } => s.id == *id,
        Target::ExternalId { external_id } => s.client.external_id.as_deref() == Some(external_id.as_str()),
    }
}

/// Pages one shard, queues deliver jobs for the selected subscribers, then records the shard as done.
/// A redelivered fan-out for a finished shard does nothing.
async fn fanout(state: &AppState, ws: &WorkspaceId, site: &SiteId, id: &NotificationId, shard: u8) -> Result<(), JobError> {
    let marker = Key::new(format!("WS#{ws}#SITE#{site}#NOTIF#{id}"), format!("FANOUT#{shard:02}"));
    if state.table.get(&marker).await.map_err(JobError::retry)?.is_some() {
        return Ok(());
    }
    let n = load_notification(state, ws, site, id).await?;
    let mut cursor = None;
    let mut matched = 0i64;
    loop {
        let page = state.table.query(Query::partition(shard_partition(ws, site, shard)).prefix("SUB#").limit(500).after(cursor)).await.map_err(JobError::retry)?;
        let subs: Vec<Subscriber> = page.items.iter().filter_map(|i| i.parse().ok()).filter(|s| selected(&n.target, s)).collect();
        matched += subs.len() as i64;
        let jobs = subs
            .chunks(DELIVER_BATCH)
            .map(|c| PushJob::Deliver { workspace: ws.clone(), site: site.clone(), notification: id.clone(), attempt: 1, subscribers: c.to_vec() })
            .collect();
        enqueue(state, jobs, Duration::ZERO).await.map_err(JobError::retry)?;
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    match state.table.put(Item::new(marker).with_expiry(state.clock.epoch_seconds() + 7 * 86_400), Condition::NotExists).await {
        Ok(()) => {
            state.table.add(&notification_key(ws, site, id), &[("targeted", matched), ("shards_done", 1)]).await.map_err(JobError::retry)?;
        }
        Err(TableError::ConditionFailed) => {}
        Err(e) => return Err(JobError::retry(e)),
    }
    Ok(())
}

async fn deliver(state: &AppState, ws: &WorkspaceId, site_id: &SiteId, id: &NotificationId, attempt: u32, subs: Vec<Subscriber>) -> Result<(), JobError> {
    let n = load_notification(state, ws, site_id, id).await?;
    let (site, key) = sites::vapid_key(state, ws, site_id).await.map_err(transient)?;
    let body = payload(&site, &n);
    let delivery = Delivery { payload: &body, ttl_seconds: n.ttl_seconds, urgency: n.urgency, topic: n.topic.as_deref() };
    let now = state.clock.now();
    let outcomes: Vec<(Subscriber, Outcome)> = futures_util::stream::iter(subs)
        .map(|s| {
            let (key, delivery, contact) = (&key, &delivery, site.contact.as_str());
            async move {
                let outcome = state.push.sender.send(&s.subscription, key, contact, delivery, now).await;
                (s, outcome)
            }
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;

    let mut counts: std::collections::BTreeMap<&'static str, i64> = Default::default();
    let mut retry = Vec::new();
    let mut exhausted = Vec::new();
    let mut wait = None::<Duration>;
    for (s, outcome) in outcomes {
        match &outcome {
            Outcome::Gone => {
                subscribers::remove(state, ws, site_id, &s.id).await.map_err(JobError::retry)?;
            }
            Outcome::RateLimited(after) if attempt < MAX_ATTEMPTS => {
                wait = wait.max(*after);
                retry.push(s);
                continue;
            }
            Outcome::Transient(_) if attempt < MAX_ATTEMPTS => {
                retry.push(s);
                continue;
            }
            Outcome::RateLimited(_) | Outcome::Transient(_) => exhausted.push(s.clone()),
            Outcome::Rejected(reason) => tracing::warn!(subscriber = %s.id, %reason, "push rejected by the push service"),
            _ => {}
        }
        *counts.entry(outcome.counter()).or_default() += 1;
    }
    if !retry.is_empty() {
        let delay = wait.unwrap_or_else(|| retry_delay(attempt)).min(crate::ports::queue::MAX_DELAY);
        tracing::info!(count = retry.len(), attempt, delay_s = delay.as_secs(), "re-queueing transient push failures");
        let job = PushJob::Deliver { workspace: ws.clone(), site: site_id.clone(), notification: id.clone(), attempt: attempt + 1, subscribers: retry };
        enqueue(state, vec![job], delay).await.map_err(JobError::retry)?;
    }
    if !exhausted.is_empty() {
        // Out of attempts: park them in the dead-letter queue with a fresh attempt count, so
        // `webtrigger dlq redrive push-send` retries them once the push service recovers.
        tracing::error!(count = exhausted.len(), "push retries exhausted; dead-lettering");
        let job = PushJob::Deliver { workspace: ws.clone(), site: site_id.clone(), notification: id.clone(), attempt: 1, subscribers: exhausted };
        let body = serde_json::to_string(&job).expect("job serialises");
        state.queue.send(&crate::queues::push_send().dlq_name(), vec![crate::ports::OutgoingMessage::new(body)]).await.map_err(JobError::retry)?;
    }
    let deltas: Vec<(&str, i64)> = counts.into_iter().collect();
    if !deltas.is_empty() {
        state.table.add(&notification_key(ws, site_id, id), &deltas).await.map_err(JobError::retry)?;
    }
    Ok(())
}
