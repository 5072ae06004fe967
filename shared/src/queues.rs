//! Every platform queue in one place: name, visibility timeout and receives before the dead-letter queue.
//! The CDK app declares the same queues; the local binary creates them on start. Visibility timeouts are
//! at least 6× the consuming Lambda's timeout (60 s for these three), as AWS advises for SQS event sources.

use std::time::Duration;

use crate::ports::QueueSpec;

/// Heartbeats from the minute tick, consumed by the echo worker to prove the queue pipeline is alive.
pub fn echo() -> QueueSpec {
    QueueSpec::new("echo", Duration::from_secs(30), 5)
}

/// Web Push fan-out and delivery jobs; retries of individual subscribers are re-queued by the worker.
pub fn push_send() -> QueueSpec {
    QueueSpec::new("push-send", Duration::from_secs(120), 5)
}

/// WhatsApp sends, one message per job; provider retries are re-queued by the worker with their delay.
pub fn whatsapp_send() -> QueueSpec {
    QueueSpec::new("whatsapp-send", Duration::from_secs(360), 5)
}

/// Stored provider webhooks waiting to be turned into inbox changes.
pub fn webhook_process() -> QueueSpec {
    QueueSpec::new("webhook-process", Duration::from_secs(360), 5)
}

/// Outbound event webhook deliveries, one attempt per job; retries are re-queued (or parked in the table
/// for delays beyond the queue's 15 minutes) by the worker.
pub fn events_out() -> QueueSpec {
    QueueSpec::new("events-out", Duration::from_secs(360), 5)
}

/// Contact-import chunks and broadcast fan-out pages (the sends themselves go through `whatsapp-send`).
pub fn campaigns() -> QueueSpec {
    QueueSpec::new("campaigns", Duration::from_secs(360), 5)
}

/// All queues the local binary consumes.
pub fn all() -> Vec<QueueSpec> {
    vec![echo(), push_send(), whatsapp_send(), webhook_process(), events_out(), campaigns()]
}
