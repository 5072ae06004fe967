//! The local stand-in for Lambda's SQS event source: long-polls an embedded queue and runs each message
//! as soon as it arrives, up to `IN_FLIGHT` at once per queue, deleting each one the moment its own job is
//! done — a slow job never holds back the acknowledgement or the retry of another.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::ports::queue::MAX_BATCH;
use crate::ports::{Delivery, QueueSpec};
use crate::state::AppState;
use crate::worker::{process_message, JobHandler};

/// Jobs of one queue running at once in the local binary.
pub const IN_FLIGHT: usize = 32;

fn to_message(queue: &QueueSpec, d: &Delivery) -> SqsMessage {
    SqsMessage {
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
    }
}

/// Builds the event Lambda would deliver for these messages.
pub fn deliveries_to_event(queue: &QueueSpec, deliveries: &[Delivery]) -> SqsEvent {
    SqsEvent { records: deliveries.iter().map(|d| to_message(queue, d)).collect() }
}

/// Runs one received message and deletes it unless it is to be retried.
async fn run_one(state: &AppState, queue: &QueueSpec, handler: &dyn JobHandler, delivery: Delivery) {
    if process_message(state, queue, handler, &to_message(queue, &delivery)).await.is_none() {
        if let Err(e) = state.queue.ack(&queue.name, &delivery.receipt_handle).await {
            tracing::warn!(queue = %queue.name, error = %e, "ack failed; message will be redelivered");
        }
    }
}

/// Consumes `queue` until `stop` flips; jobs already running are finished first.
pub async fn consume(state: AppState, queue: QueueSpec, handler: Arc<dyn JobHandler>, mut stop: watch::Receiver<bool>) {
    let mut running = JoinSet::new();
    while !*stop.borrow() {
        while running.try_join_next().is_some() {}
        let free = IN_FLIGHT - running.len();
        if free == 0 {
            tokio::select! {
                _ = running.join_next() => continue,
                _ = stop.changed() => break,
            }
        }
        let received = tokio::select! {
            r = state.queue.receive(&queue.name, free.min(MAX_BATCH), Duration::from_secs(1)) => r,
            _ = stop.changed() => break,
        };
        match received {
            Ok(deliveries) => {
                for d in deliveries {
                    let (state, queue, handler) = (state.clone(), queue.clone(), handler.clone());
                    running.spawn(async move { run_one(&state, &queue, handler.as_ref(), d).await });
                }
            }
            Err(e) => {
                tracing::warn!(queue = %queue.name, error = %e, "receive failed");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
    while running.join_next().await.is_some() {}
}

/// Receives one batch (waiting up to `wait`) and runs its messages concurrently, each acknowledged as
/// soon as it is done. Returns how many messages were received.
pub async fn poll_once(state: &AppState, queue: &QueueSpec, handler: &dyn JobHandler, wait: Duration) -> Result<usize, crate::ports::QueueError> {
    let deliveries = state.queue.receive(&queue.name, MAX_BATCH, wait).await?;
    let received = deliveries.len();
    futures_util::future::join_all(deliveries.into_iter().map(|d| run_one(state, queue, handler, d))).await;
    Ok(received)
}
