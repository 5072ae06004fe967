//! SQS workers: one `JobHandler` per queue, driven by `process_batch` with the Lambda SQS event in and
//! an `SqsBatchResponse` (partial batch failures) out — in Lambda and in the local poller alike.

mod backoff;

use std::time::Duration;

use async_trait::async_trait;
use tracing::Instrument;
use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};

pub use backoff::retry_delay;

use crate::ports::{OutgoingMessage, QueueSpec};
use crate::state::AppState;

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum JobError {
    /// Transient: the message is retried after `after` (or the backoff schedule), then dead-lettered.
    #[error("retryable: {reason}")]
    Retry { reason: String, after: Option<Duration> },
    /// Will never succeed: the message goes straight to the dead-letter queue for inspection.
    #[error("permanent: {0}")]
    Permanent(String),
}

impl JobError {
    pub fn retry(e: impl std::fmt::Display) -> Self {
        Self::Retry { reason: e.to_string(), after: None }
    }
}

#[async_trait]
pub trait JobHandler: Send + Sync {
    /// Processes one message. Must be idempotent: SQS delivers at least once.
    async fn handle(&self, state: &AppState, message: &SqsMessage) -> Result<(), JobError>;
}

/// How many times the message has been received (1 on first delivery).
pub fn receive_count(message: &SqsMessage) -> u32 {
    message.attributes.get("ApproximateReceiveCount").and_then(|v| v.parse().ok()).unwrap_or(1)
}

/// Runs every message of the batch concurrently. Retryable failures get their visibility changed to the
/// backoff delay and are reported as batch item failures; permanent ones are copied to the DLQ and acked.
pub async fn process_batch(state: &AppState, queue: &QueueSpec, handler: &dyn JobHandler, event: SqsEvent) -> SqsBatchResponse {
    let outcomes = futures_util::future::join_all(event.records.iter().map(|m| process_message(state, queue, handler, m))).await;
    let batch_item_failures = outcomes
        .into_iter()
        .flatten()
        .map(|id| BatchItemFailure { item_identifier: id })
        .collect();
    SqsBatchResponse { batch_item_failures }
}

/// Runs one message: `None` when it is done with (succeeded, or dead-lettered) and may be deleted, else
/// its id, with its visibility already set to the retry delay.
pub async fn process_message(state: &AppState, queue: &QueueSpec, handler: &dyn JobHandler, message: &SqsMessage) -> Option<String> {
    let id = message.message_id.clone().unwrap_or_default();
    let attempt = receive_count(message);
    let span = tracing::info_span!("job", queue = %queue.name, message_id = %id, attempt);
    // `instrument`, not `span.enter()`: an entered guard held across an await leaks the span into whatever
    // task the thread polls next, and the registry panics once the span is closed under it.
    handle_outcome(state, queue, handler, message, id, attempt).instrument(span).await
}

async fn handle_outcome(state: &AppState, queue: &QueueSpec, handler: &dyn JobHandler, message: &SqsMessage, id: String, attempt: u32) -> Option<String> {
    let failed = match handler.handle(state, message).await {
        Ok(()) => return None,
        Err(e) => e,
    };
    match failed {
        JobError::Permanent(reason) => {
            tracing::error!(%reason, "permanent failure; moving message to the dead-letter queue");
            let body = message.body.clone().unwrap_or_default();
            match state.queue.send(&queue.dlq_name(), vec![OutgoingMessage::new(body)]).await {
                Ok(_) => None,
                // Keep it on the main queue: redrive will dead-letter it after max receives.
                Err(e) => {
                    tracing::error!(error = %e, "could not dead-letter message");
                    Some(id)
                }
            }
        }
        JobError::Retry { reason, after } => {
            let delay = after.unwrap_or_else(|| retry_delay(attempt));
            tracing::warn!(%reason, retry_in_s = delay.as_secs(), "retryable failure");
            if let Some(receipt) = &message.receipt_handle {
                if let Err(e) = state.queue.retry_after(&queue.name, receipt, delay).await {
                    tracing::warn!(error = %e, "could not set backoff; visibility timeout applies");
                }
            }
            Some(id)
        }
    }
}
