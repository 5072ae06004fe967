//! `worker-whatsapp-send`: sends one queued message per job. Paused channels and a full per-channel
//! token bucket make the job wait (re-queued with a delay, no attempt used); provider errors are
//! classified: rate limits pause the channel and retry, transient errors retry at 1, 2, 4, 8, 15
//! minutes, permanent ones fail the message; after the last attempt it fails and is dead-lettered.

use std::time::Duration;

use async_trait::async_trait;
use aws_lambda_events::sqs::SqsMessage;

use super::channels::{self, ChannelStatus};
use super::credentials;
use super::messages::{self, advance, MessageError, SendJob};
use super::providers::{self, ErrorClass, ProviderError, Sender};
use super::types::MessageStatus;
use crate::http::ApiError;
use crate::ports::{Item, Key, OutgoingMessage};
use crate::state::AppState;
use crate::worker::{JobError, JobHandler};

/// Delay before attempt n+1 after attempt n failed transiently (n = 1..=5); SQS delays stop at 15 min.
pub const RETRY_SCHEDULE: [Duration; 5] = [Duration::from_secs(60), Duration::from_secs(120), Duration::from_secs(240), Duration::from_secs(480), Duration::from_secs(900)];
pub const MAX_ATTEMPTS: u32 = RETRY_SCHEDULE.len() as u32 + 1;
/// How long a 429 without Retry-After pauses the channel.
const DEFAULT_PAUSE: Duration = Duration::from_secs(60);

pub struct WhatsAppWorker;

fn infra(e: ApiError) -> JobError {
    match e {
        ApiError::NotFound(m) => JobError::Permanent(m),
        e => JobError::retry(e),
    }
}

#[async_trait]
impl JobHandler for WhatsAppWorker {
    async fn handle(&self, state: &AppState, message: &SqsMessage) -> Result<(), JobError> {
        let job: SendJob = serde_json::from_str(message.body.as_deref().unwrap_or_default()).map_err(|e| JobError::Permanent(format!("not a send job: {e}")))?;
        send(state, &job).await
    }
}

/// A message another job already moved to `sending` under a different claim (jobs without a claim are
/// the only producer of their message and never compete).
fn claimed_by_other(m: &messages::Message, job: &SendJob) -> bool {
    m.status == MessageStatus::Sending && job.claim.is_some() && m.claim != job.claim
}

/// Pointer from the provider's message id to ours (status webhooks find the message by it).
pub fn provider_message_key(provider: &str, provider_id: &str) -> Key {
    Key::new(format!("PMSG#{provider}#{provider_id}"), "MSG")
}

async fn send(state: &AppState, job: &SendJob) -> Result<(), JobError> {
    let ws = &job.workspace;
    let Some((_, msg)) = messages::load(state, ws, &job.message).await.map_err(infra)? else {
        return Err(JobError::Permanent(format!("message {} no longer exists", job.message)));
    };
    // Redelivered or swept after it was handled, or owned by a copy queued under another claim.
    if !matches!(msg.status, MessageStatus::Queued | MessageStatus::Sending) || claimed_by_other(&msg, job) {
        return Ok(());
    }
    if let Some(b) = msg.broadcast.as_deref().and_then(|b| crate::broadcasts::types::BroadcastId::parse(b).ok()) {
        if crate::broadcasts::store::is_cancelled(state, ws, &b).await.map_err(infra)? {
            let now = state.clock.now().to_rfc3339();
            let error = MessageError { class: "cancelled".into(), code: "broadcast_cancelled".into(), message: "the broadcast was cancelled before this message was sent".into() };
            messages::modify(state, ws, &msg.id, |m| advance(m, MessageStatus::Failed, &now) && { m.error = Some(error.clone()); true }).await.map_err(infra)?;
            return Ok(());
        }
    }
    let (_, channel) = channels::load(state, ws, &msg.channel_id).await.map_err(infra)?;
    if let Some(wait) = channel.pause_remaining(state.clock.now()) {
        tracing::info!(channel = %channel.id, wait_s = wait.as_secs(), "channel paused; the message waits");
        return messages::enqueue(state, job, wait.max(Duration::from_secs(1))).await.map_err(infra);
    }
    let rate = f64::from(channel.throughput_per_second);
    let bucket = crate::auth::ratelimit::Limit { capacity: rate, per_second: rate };
    if let Err(wait) = state.buckets.take(&format!("channel#{}", channel.id), bucket, state.clock.now().timestamp_millis()).await.map_err(JobError::retry)? {
        return messages::enqueue(state, job, wait.max(Duration::from_secs(1))).await.map_err(infra);
    }
    let now = state.clock.now().to_rfc3339();
    let claimed = messages::modify(state, ws, &msg.id, |m| {
        if claimed_by_other(m, job) || !matches!(m.status, MessageStatus::Queued | MessageStatus::Sending) {
            return false;
        }
        (m.attempts, m.claim) = (job.attempt, job.claim.clone());
        m.status == MessageStatus::Sending || advance(m, MessageStatus::Sending, &now)
    })
    .await
    .map_err(infra)?;
    // Written on the version read: a copy that lost the race to another claim sees it here.
    if claimed.is_none_or(|m| m.status != MessageStatus::Sending || m.claim != job.claim) {
        return Ok(());
    }

    let (_, secrets) = credentials::unseal(state, ws, &channel.credential_id).await.map_err(infra)?;
    let provider = providers::for_secrets(&state.whatsapp.http, &state.whatsapp.urls, &secrets);
    let sender = Sender { number: channel.number.as_ref().map(|n| n.as_str()) };
    let result = match &msg.content {
        super::types::Content::Attachment { attachment_id, caption, .. } => match attachment(state, ws, &msg.id, attachment_id).await? {
            Ok((a, bytes, link)) => {
                let file = providers::Upload { bytes: &bytes, mime: a.mime.as_deref().unwrap_or("application/octet-stream"), filename: &a.filename, kind: a.kind.unwrap_or(super::types::MediaKind::Document), caption: caption.as_deref(), link: link.as_deref() };
                provider.send_attachment(&sender, &msg.to, &file).await
            }
            Err(e) => Err(e),
        },
        content => provider.send(&sender, &msg.to, content).await,
    };
    let now = state.clock.now().to_rfc3339();
    match result {
        Ok(accepted) => {
            let pointer = Item::new(provider_message_key(channel.provider.as_str(), &accepted.provider_message_id)).with_attr("workspace", ws.as_str()).with_attr("message", msg.id.as_str());
            state.table.put(pointer, crate::ports::Condition::None).await.map_err(JobError::retry)?;
            let sent = messages::modify(state, ws, &msg.id, |m| {
                m.provider_message_id = Some(accepted.provider_message_id.clone());
                m.error = None;
                advance(m, MessageStatus::Sent, &now) || m.provider_message_id.is_some()
            })
            .await
            .map_err(infra)?;
            announce(state, ws, sent.as_ref()).await;
            if channel.status == ChannelStatus::Degraded {
                channels::modify(state, ws, &channel.id, |c| {
                    if c.status == ChannelStatus::Degraded {
                        (c.status, c.status_reason) = (ChannelStatus::Active, None);
                    }
                })
                .await
                .map_err(infra)?;
            }
            Ok(())
        }
        Err(e) => failed(state, job, &channel, e, &now).await,
    }
}

/// The attachment's bytes and, where the platform has a public URL, a signed link to them. An
/// attachment that expired since it was queued fails the message (never retried).
async fn attachment(state: &AppState, ws: &crate::auth::WorkspaceId, message: &super::types::MessageId, raw_id: &str) -> Result<Result<(crate::inbox::attachments::Attachment, Vec<u8>, Option<String>), ProviderError>, JobError> {
    use crate::inbox::attachments::{self, AttachmentId};
    let gone = |what: &str| ProviderError { provider: "webtrigger", class: ErrorClass::Permanent, code: "attachment_unavailable".into(), message: format!("the attachment {what}"), http_status: None };
    let Ok(id) = AttachmentId::parse(raw_id) else { return Ok(Err(gone("id is not valid"))) };
    let (a, bytes) = match attachments::read(state, ws, &id).await {
        Ok(found) => found,
        Err(ApiError::NotFound(_)) => return Ok(Err(gone("has expired or was never finished"))),
        Err(e) => return Err(JobError::retry(e)),
    };
    let link = match state.whatsapp.public_url.as_deref() {
        Some(base) => Some(crate::inbox::media_link::link(state, base, ws, message, &id).await.map_err(JobError::retry)?),
        None => None,
    };
    Ok(Ok((a, bytes, link)))
}

async fn failed(state: &AppState, job: &SendJob, channel: &channels::Channel, e: ProviderError, now: &str) -> Result<(), JobError> {
    let ws = &job.workspace;
    let error = MessageError { class: e.class.name().into(), code: e.code.clone(), message: e.message.clone() };
    tracing::warn!(message_id = %job.message, provider = e.provider, code = %e.code, class = e.class.name(), detail = %e.message, attempt = job.attempt, "provider refused the message");
    match e.class {
        ErrorClass::RateLimited { retry_after } => {
            let pause = retry_after.unwrap_or(DEFAULT_PAUSE);
            let until = (state.clock.now() + chrono::Duration::from_std(pause).unwrap_or_default()).to_rfc3339();
            let reason = format!("{} rate limit ({}): {}", e.provider, e.code, e.message);
            channels::modify(state, ws, &channel.id, |c| {
                if c.status != ChannelStatus::Paused || c.paused_until.is_some() {
                    (c.status, c.paused_until, c.status_reason) = (ChannelStatus::Degraded, Some(until.clone()), Some(reason.clone()));
                }
            })
            .await
            .map_err(infra)?;
        }
        ErrorClass::AuthFailed => {
            let reason = format!("{} refused the credential ({}): {}", e.provider, e.code, e.message);
            channels::modify(state, ws, &channel.id, |c| (c.status, c.status_reason) = (ChannelStatus::Degraded, Some(reason.clone()))).await.map_err(infra)?;
        }
        _ => {}
    }
    let retry_after = match e.class {
        ErrorClass::RateLimited { retry_after } | ErrorClass::Transient { retry_after } => Some(retry_after),
        _ => None,
    };
    match retry_after {
        Some(after) if job.attempt < MAX_ATTEMPTS => {
            let scheduled = RETRY_SCHEDULE[(job.attempt as usize - 1).min(RETRY_SCHEDULE.len() - 1)];
            let delay = after.map_or(scheduled, |a| a.max(scheduled)).min(crate::ports::queue::MAX_DELAY);
            messages::modify(state, ws, &job.message, |m| {
                m.error = Some(error.clone());
                true
            })
            .await
            .map_err(infra)?;
            messages::enqueue(state, &SendJob { attempt: job.attempt + 1, ..job.clone() }, delay).await.map_err(infra)
        }
        exhausted => {
            let error = if exhausted.is_some() { MessageError { message: format!("gave up after {} attempts: {}", job.attempt, error.message), ..error } } else { error };
            let failed = messages::modify(state, ws, &job.message, |m| {
                m.error = Some(error.clone());
                advance(m, MessageStatus::Failed, now)
            })
            .await
            .map_err(infra)?;
            announce(state, ws, failed.as_ref()).await;
            if exhausted.is_some() {
                // Kept for inspection (`webtrigger dlq stats`); the message itself is already `failed`.
                let body = serde_json::to_string(job).expect("job serialises");
                state.queue.send(&crate::queues::whatsapp_send().dlq_name(), vec![OutgoingMessage::new(body)]).await.map_err(JobError::retry)?;
            }
            Ok(())
        }
    }
}

/// Tells open dashboards (the inbox timeline) that a message was sent or failed, so they reload instead of
/// waiting for the provider's status webhook. A broadcast's messages are followed by its counters instead.
async fn announce(state: &AppState, ws: &crate::auth::WorkspaceId, msg: Option<&messages::Message>) {
    let Some(m) = msg.filter(|m| m.broadcast.is_none()) else { return };
    crate::live::publish(state, ws, "message.status", messages::status_event(m, &m.updated_at)).await;
}
