//! `Queue` port: SQS semantics — delayed sends, visibility timeouts, receive counts, redrive to a
//! dead-letter queue after `max_receives`. SQS in AWS, SQLite tables locally.

use std::time::Duration;

use async_trait::async_trait;

/// Longest delay SQS accepts on a message (15 minutes).
pub const MAX_DELAY: Duration = Duration::from_secs(900);
/// Most messages one send or receive call handles (SQS batch limit).
pub const MAX_BATCH: usize = 10;

/// A logical queue with its dead-letter queue. Names are `[a-z0-9-]+`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueSpec {
    pub name: String,
    pub visibility_timeout: Duration,
    pub max_receives: u32,
}

impl QueueSpec {
    pub fn new(name: &str, visibility_timeout: Duration, max_receives: u32) -> Self {
        Self { name: name.to_owned(), visibility_timeout, max_receives }
    }

    pub fn dlq_name(&self) -> String {
        format!("{}-dlq", self.name)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingMessage {
    pub body: String,
    pub delay: Duration,
}

impl OutgoingMessage {
    pub fn new(body: impl Into<String>) -> Self {
        Self { body: body.into(), delay: Duration::ZERO }
    }

    pub fn delayed(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }
}

/// A received message, invisible to other consumers until its visibility timeout passes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub message_id: String,
    pub receipt_handle: String,
    pub body: String,
    /// 1 on first delivery.
    pub receive_count: u32,
    pub sent_at_ms: i64,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum QueueError {
    #[error("unknown queue `{0}`")]
    UnknownQueue(String),
    #[error("invalid request: {0}")]
    Invalid(String),
    #[error("receipt handle is stale or unknown")]
    StaleReceipt,
    #[error("queue backend unavailable: {0}")]
    Unavailable(String),
}

#[async_trait]
pub trait Queue: Send + Sync {
    /// Creates the queue and its dead-letter queue if missing (idempotent).
    async fn ensure(&self, spec: &QueueSpec) -> Result<(), QueueError>;

    /// Sends up to [`MAX_BATCH`] messages; each becomes visible after its delay (at most [`MAX_DELAY`]).
    /// Returns the message ids in order.
    async fn send(&self, queue: &str, messages: Vec<OutgoingMessage>) -> Result<Vec<String>, QueueError>;

    /// Receives up to `max` visible messages, waiting up to `wait` for the first one. A message received
    /// more than `max_receives` times moves to the dead-letter queue instead of being returned.
    async fn receive(&self, queue: &str, max: usize, wait: Duration) -> Result<Vec<Delivery>, QueueError>;

    /// Deletes a received message (the consumer is done with it).
    async fn ack(&self, queue: &str, receipt_handle: &str) -> Result<(), QueueError>;

    /// Makes a received message visible again after `delay` (backoff); `Duration::ZERO` releases it at once.
    async fn retry_after(&self, queue: &str, receipt_handle: &str, delay: Duration) -> Result<(), QueueError>;

    /// Number of messages waiting (visible or delayed or in flight) — for health and the DLQ alarm locally.
    async fn depth(&self, queue: &str) -> Result<u64, QueueError>;
}

pub(crate) fn check_send(messages: &[OutgoingMessage]) -> Result<(), QueueError> {
    if messages.is_empty() || messages.len() > MAX_BATCH {
        return Err(QueueError::Invalid(format!("send takes 1..={MAX_BATCH} messages, got {}", messages.len())));
    }
    if let Some(m) = messages.iter().find(|m| m.delay > MAX_DELAY) {
        return Err(QueueError::Invalid(format!("delay {:?} exceeds the 15 minute maximum", m.delay)));
    }
    if messages.iter().any(|m| m.body.len() > 256 * 1024) {
        return Err(QueueError::Invalid("message body exceeds 256 KiB".into()));
    }
    Ok(())
}

/// A table transaction and queue sends committed together, where one store holds both (the embedded
/// backend). The AWS backend has none (DynamoDB and SQS are two services), so callers keep an outbox there.
#[async_trait]
pub trait TransactAndSend: Send + Sync {
    /// Applies `writes` with `Table::transact`'s checks, conditions and errors and, in the same commit,
    /// sends `messages` (any number, each as `Queue::send` takes them) to `queue`: both happen or neither.
    async fn transact_and_send(&self, writes: Vec<crate::ports::TxWrite>, queue: &str, messages: Vec<OutgoingMessage>) -> Result<(), crate::ports::TableError>;
}
