//! The echo worker: consumes tick heartbeats from the `echo` queue and records the latest one.

use async_trait::async_trait;
use aws_lambda_events::sqs::SqsMessage;
use serde::{Deserialize, Serialize};

use crate::ports::{Condition, Item, Key};
use crate::state::AppState;
use crate::worker::{JobError, JobHandler};

pub fn heartbeat_key() -> Key {
    Key::new("SYS#health", "HEARTBEAT")
}

/// Body of an echo-queue message, and (with `processed_at_ms`) the stored heartbeat record.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Heartbeat {
    /// Epoch minute of the tick that sent it.
    pub minute: i64,
    pub sent_at_ms: i64,
    #[serde(default)]
    pub processed_at_ms: i64,
}

pub struct EchoWorker;

#[async_trait]
impl JobHandler for EchoWorker {
    async fn handle(&self, state: &AppState, message: &SqsMessage) -> Result<(), JobError> {
        let body = message.body.as_deref().unwrap_or_default();
        let mut hb: Heartbeat = serde_json::from_str(body).map_err(|e| JobError::Permanent(format!("not a heartbeat: {e}")))?;
        hb.processed_at_ms = state.clock.now().timestamp_millis();
        let lag_ms = hb.processed_at_ms - hb.sent_at_ms;
        state.table.put(Item::of(heartbeat_key(), &hb), Condition::None).await.map_err(JobError::retry)?;
        tracing::info!(minute = hb.minute, lag_ms, "heartbeat processed");
        Ok(())
    }
}
