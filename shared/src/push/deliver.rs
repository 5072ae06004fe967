//! One deliver job: claim its progress record, send to every subscriber without a final answer yet
//! (concurrently, within the per-origin limit), and checkpoint the answers in groups as they come in —
//! each checkpoint carries the counter deltas of the answers it holds, added to the notification's
//! counters once, when the job finishes (see `progress.rs`), so a crash loses at most one group's answers
//! (those subscribers are sent again: at least once) and never counts one twice. Transient failures stay
//! open and the message is retried after Retry-After or the backoff; on the last attempt they are counted
//! `failed_transient` and parked in the dead-letter queue for `webtrigger dlq redrive`.

use std::collections::BTreeMap;
use std::time::Duration;

use futures_util::StreamExt;

use super::notifications::{payload, NotificationId, PushJob, Recipient, MAX_ATTEMPTS};
use super::outcome::Outcome;
use super::progress::{owner_id, Claim, Lost, Progress};
use super::sender::{Delivery, Destination};
use super::sites::SiteId;
use super::subscribers;
use super::worker::load_started_notification;
use crate::auth::WorkspaceId;
use crate::http::ApiError;
use crate::ports::OutgoingMessage;
use crate::state::AppState;
use crate::worker::{retry_delay, JobError};

/// Sends in flight at once within one deliver job.
const CONCURRENCY: usize = 16;
/// Answers are checkpointed in groups: after this many, or this long after the previous checkpoint,
/// whichever comes first. A crash re-sends at most the answers of one group; each checkpoint is one
/// conditional put of the job's progress record, billed by its size (the packed done set). The last
/// group is not checkpointed on its own: the finish (or release) that follows records it, so a full job
/// answered within a few seconds writes one checkpoint and one transaction.
const RECORD_AFTER_ANSWERS: usize = 250;
const RECORD_INTERVAL: Duration = Duration::from_secs(5);

pub struct DeliverJob {
    pub workspace: WorkspaceId,
    pub site: SiteId,
    pub notification: NotificationId,
    pub job: String,
    /// This attempt's number, counting earlier receives of the message.
    pub attempt: u32,
    pub redrive: bool,
    pub variant: Option<u8>,
    pub site_version: Option<u64>,
    pub subscribers: Vec<Recipient>,
    /// The queue message carrying this copy of the job: its lease owner.
    pub message_id: String,
}

fn transient(e: ApiError) -> JobError {
    match e {
        ApiError::NotFound(m) => JobError::Permanent(m),
        e => JobError::retry(e),
    }
}

fn lost(e: Lost) -> Result<(), JobError> {
    match e {
        // The execution that took the job over finishes it; this copy is done.
        Lost::Lease => {
            tracing::warn!("deliver job taken over by another execution; leaving it to that one");
            Ok(())
        }
        Lost::Table(e) => Err(JobError::retry(e)),
    }
}

/// What the answers of one commit add up to.
#[derive(Default)]
struct Tally {
    answered: Vec<String>,
    counts: BTreeMap<&'static str, i64>,
}

impl Tally {
    fn count(&mut self, subscriber: &str, counter: &'static str, redrive: bool) {
        self.answered.push(subscriber.to_owned());
        *self.counts.entry(counter).or_default() += 1;
        if redrive {
            // A redriven subscriber was counted failed_transient when it was dead-lettered.
            *self.counts.entry("failed_transient").or_default() -= 1;
        }
    }

    fn take(&mut self) -> (Vec<String>, Vec<(String, i64)>) {
        let deltas = std::mem::take(&mut self.counts).into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
        (std::mem::take(&mut self.answered), deltas)
    }
}

pub async fn deliver(state: &AppState, job: DeliverJob) -> Result<(), JobError> {
    let DeliverJob { workspace: ws, site: site_id, notification: id, .. } = &job;
    let n = load_started_notification(state, ws, site_id, id).await?;
    let mut progress = match Progress::claim(state, ws, site_id, id, &job.job, &owner_id(state, &job.message_id)).await? {
        Claim::Claimed(p) => p,
        Claim::Finished => return Ok(()),
        Claim::Held(secs) => return Err(JobError::Retry { reason: "deliver job held by another execution".into(), after: Some(Duration::from_secs(secs.max(1) as u64)) }),
    };
    progress.mirror_to(n.source.as_ref().map(|s| s.stats_key(ws, site_id)));
    let site_key = state.push.site_keys.at(state, ws, site_id, job.site_version).await.map_err(transient)?;
    let (site, key) = (&site_key.site, &site_key.key);
    let n = super::ab::with_variant(&n, super::ab::resolve(state, ws, &n, job.variant).await.map_err(JobError::retry)?);
    progress.set_variant(n.variant);
    let body = payload(site, &n);
    let delivery = Delivery { payload: &body, ttl_seconds: n.ttl_seconds, urgency: n.urgency, topic: n.topic.as_deref() };
    let now = state.clock.now();
    let last_attempt = job.attempt >= MAX_ATTEMPTS;
    let pending: Vec<Recipient> = job.subscribers.iter().filter(|s| !progress.is_done(&s.id)).cloned().collect();
    // Cancelled while queued, or over the site's frequency cap: counted, not sent.
    let (pending, held_back, counter) = super::frequency::gate(state, ws, site, &n, pending).await.map_err(JobError::retry)?;
    let mut tally = Tally::default();
    held_back.iter().for_each(|s| tally.count(&s.id, counter, job.redrive));
    let (delivery, contact) = (&delivery, site.contact.as_str());
    let total = pending.len();
    let mut answers = futures_util::stream::iter(pending)
        .map(|s: Recipient| {
            async move {
                let outcome = match Destination::of(&s.subscription) {
                    Err(unusable) => unusable,
                    Ok(destination) => {
                        let _permit = state.push.origin_limit(destination.origin()).acquire_owned().await.expect("origin semaphores are never closed");
                        state.push.sender.send_to(&s.subscription, destination, key, contact, delivery, now).await
                    }
                };
                (s, outcome)
            }
        })
        .buffer_unordered(CONCURRENCY)
        .ready_chunks(CONCURRENCY);

    let mut retry = Vec::new();
    let mut exhausted = Vec::new();
    let mut wait = None::<Duration>;
    let mut recorded_at = tokio::time::Instant::now();
    let mut seen = 0;
    while let Some(chunk) = answers.next().await {
        seen += chunk.len();
        for (s, outcome) in chunk {
            match &outcome {
                Outcome::RateLimited(_) | Outcome::Transient(_) if last_attempt => {
                    exhausted.push(s);
                    continue;
                }
                Outcome::RateLimited(after) => {
                    wait = wait.max(*after);
                    retry.push(s);
                    continue;
                }
                Outcome::Transient(_) => {
                    retry.push(s);
                    continue;
                }
                Outcome::Gone => {
                    subscribers::remove(state, ws, site_id, &s.id).await.map_err(JobError::retry)?;
                }
                Outcome::Rejected(reason) => tracing::warn!(subscriber = %s.id, %reason, "push rejected by the push service"),
                Outcome::Accepted | Outcome::TooLarge => {}
            }
            tally.count(&s.id, outcome.counter(), job.redrive);
        }
        let due = tally.answered.len() >= RECORD_AFTER_ANSWERS || (!tally.answered.is_empty() && recorded_at.elapsed() >= RECORD_INTERVAL);
        // Once every send is answered, the finish or release below writes the last group.
        if seen < total && (due || progress.lease_ageing(state)) {
            let (answered, deltas) = tally.take();
            if let Err(e) = progress.record(state, answered, deltas).await {
                return lost(e);
            }
            recorded_at = tokio::time::Instant::now();
        }
    }
    drop(answers);

    if !retry.is_empty() {
        let delay = wait.unwrap_or_else(|| retry_delay(job.attempt)).min(crate::ports::queue::MAX_DELAY);
        tracing::info!(count = retry.len(), attempt = job.attempt, delay_s = delay.as_secs(), "retrying transient push failures");
        let (answered, deltas) = tally.take();
        if let Err(e) = progress.release(state, answered, deltas).await {
            return lost(e);
        }
        return Err(JobError::Retry { reason: format!("{} transient push failures", retry.len()), after: Some(delay) });
    }
    if !exhausted.is_empty() {
        park_exhausted(state, &job, exhausted.clone()).await?;
        for s in &exhausted {
            tally.count(&s.id, "failed_transient", job.redrive);
        }
    }
    let (answered, mut deltas) = tally.take();
    if !job.redrive {
        deltas.push(("jobs_done".into(), 1));
    }
    progress.finish(state, answered, deltas).await.or_else(lost)
}

/// Out of attempts: parks the subscribers in the dead-letter queue as a job of their own (named after
/// this one, so a repeat of this step parks the same job), ready for `webtrigger dlq redrive push-send`.
async fn park_exhausted(state: &AppState, job: &DeliverJob, subscribers: Vec<Recipient>) -> Result<(), JobError> {
    tracing::error!(count = subscribers.len(), "push retries exhausted; dead-lettering");
    let parked = PushJob::Deliver {
        workspace: job.workspace.clone(),
        site: job.site.clone(),
        notification: job.notification.clone(),
        job: Some(format!("{}+r", job.job)),
        attempt: 1,
        redrive: true,
        variant: job.variant,
        site_version: job.site_version,
        subscribers,
    };
    let body = serde_json::to_string(&parked).expect("job serialises");
    state.queue.send(&crate::queues::push_send().dlq_name(), vec![OutgoingMessage::new(body)]).await.map_err(JobError::retry)?;
    Ok(())
}
