//! The local stand-in for Lambda's SQS event source: long-polls an embedded queue, hands the batch to
//! `process_batch` as an `SqsEvent`, and deletes the messages not reported as failures.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
use tokio::sync::watch;

use crate::ports::{Delivery, QueueSpec};
use crate::state::AppState;
use crate::worker::{process_batch, JobHandler};

/// Builds the event Lambda would deliver for these messages.
pub fn deliveries_to_event(queue: &QueueSpec, deliveries: &[Delivery]) -> SqsEvent {
    let records = deliveries
        .iter()
        .map(|d| SqsMessage {
            message_id: Some(d.message_id.clone()),
            receipt_handle: Some(d.receipt_handle.clone()),
            body: Some(d.body.clone()),
            attributes: HashMap::from([
                ("ApproximateReceiveCount".to_owned(), d.receive_count.to_string()),
                ("SentTimestamp".to_owned(), d.sent_at_ms.to_string()),
            ]),
            event_source: Some("webtrigger:local".into()),
            event_source_arn: Some(format!("local:queue:{}", queue.name)),
            ..Default::default()
        })
        .collect();
    SqsEvent { records }
}

/// Consumes `queue` until `stop` flips; the batch in hand is always finished first.
pub async fn consume(state: AppState, queue: QueueSpec, handler: Arc<dyn JobHandler>, mut stop: watch::Receiver<bool>) {
    while !*stop.borrow() {
        let polled = tokio::select! {
            r = poll_once(&state, &queue, handler.as_ref(), Duration::from_secs(1)) => r,
            _ = stop.changed() => break,
        };
        if let Err(e) = polled {
            tracing::warn!(queue = %queue.name, error = %e, "receive failed");
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
}

/// Receives one batch (waiting up to `wait`), runs it through `handler` and acks what succeeded.
/// Returns how many messages were received.
pub async fn poll_once(state: &AppState, queue: &QueueSpec, handler: &dyn JobHandler, wait: Duration) -> Result<usize, crate::ports::QueueError> {
    let deliveries = state.queue.receive(&queue.name, crate::ports::queue::MAX_BATCH, wait).await?;
    if deliveries.is_empty() {
        return Ok(0);
    }
    let response = process_batch(state, queue, handler, deliveries_to_event(queue, &deliveries)).await;
    for d in &deliveries {
        let failed = response.batch_item_failures.iter().any(|f| f.item_identifier == d.message_id);
        if !failed {
            if let Err(e) = state.queue.ack(&queue.name, &d.receipt_handle).await {
                tracing::warn!(queue = %queue.name, error = %e, "ack failed; message will be redelivered");
            }
        }
    }
    Ok(deliveries.len())
}

