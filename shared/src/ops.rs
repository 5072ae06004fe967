//! Operator tasks behind `webtrigger` subcommands, written against the ports so they work on either
//! backend: queue and dead-letter depths, and redriving dead letters back to their queue after a fix.

use std::time::Duration;

use crate::ports::{OutgoingMessage, Queue, QueueError, QueueSpec};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueDepth {
    pub queue: String,
    pub waiting: u64,
    pub dead: u64,
}

pub async fn depths(queue: &dyn Queue, specs: &[QueueSpec]) -> Result<Vec<QueueDepth>, QueueError> {
    let mut out = Vec::with_capacity(specs.len());
    for spec in specs {
        out.push(QueueDepth { queue: spec.name.clone(), waiting: queue.depth(&spec.name).await?, dead: queue.depth(&spec.dlq_name()).await? });
    }
    Ok(out)
}

/// Moves up to `max` messages from the dead-letter queue back to the queue. Each message is re-sent
/// before it is deleted from the DLQ, so a crash midway duplicates at worst, never loses.
pub async fn redrive(queue: &dyn Queue, spec: &QueueSpec, max: usize) -> Result<usize, QueueError> {
    let dlq = spec.dlq_name();
    let mut moved = 0;
    while moved < max {
        let batch = queue.receive(&dlq, (max - moved).min(crate::ports::queue::MAX_BATCH), Duration::ZERO).await?;
        if batch.is_empty() {
            break;
        }
        queue.send(&spec.name, batch.iter().map(|d| OutgoingMessage::new(d.body.clone())).collect()).await?;
        for d in &batch {
            queue.ack(&dlq, &d.receipt_handle).await?;
        }
        moved += batch.len();
    }
    Ok(moved)
}
