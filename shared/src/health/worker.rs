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
        if state.backend == crate::state::BackendKind::Aws {
            // CloudWatch turns this stdout line into the metric the heartbeat alarm watches (no SDK call).
            println!("{}", heartbeat_metric_line(lag_ms, hb.processed_at_ms));
        }
        Ok(())
    }
}

/// CloudWatch namespace and metric of the heartbeat alarm (the CDK stack names the same).
pub const METRIC_NAMESPACE: &str = "WebTrigger";
pub const HEARTBEAT_LAG_METRIC: &str = "HeartbeatLagSeconds";

/// An Embedded Metric Format record: seconds from the tick sending a heartbeat to the echo worker
/// processing it. Its absence for minutes is the alarm ("missing data = breaching").
pub fn heartbeat_metric_line(lag_ms: i64, now_ms: i64) -> String {
    serde_json::json!({
        "_aws": {
            "Timestamp": now_ms,
            "CloudWatchMetrics": [{
                "Namespace": METRIC_NAMESPACE,
                "Dimensions": [[]],
                "Metrics": [{ "Name": HEARTBEAT_LAG_METRIC, "Unit": "Seconds" }],
            }],
        },
        HEARTBEAT_LAG_METRIC: lag_ms.max(0) as f64 / 1000.0,
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heartbeat_metric_is_embedded_metric_format() {
        let line: serde_json::Value = serde_json::from_str(&heartbeat_metric_line(1500, 1_700_000_000_000)).unwrap();
        assert_eq!(line["_aws"]["Timestamp"], 1_700_000_000_000i64);
        let directive = &line["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], "WebTrigger");
        assert_eq!(directive["Metrics"][0]["Name"], "HeartbeatLagSeconds");
        assert_eq!(line["HeartbeatLagSeconds"], 1.5);
        // A clock step backwards never reports a negative lag.
        assert_eq!(serde_json::from_str::<serde_json::Value>(&heartbeat_metric_line(-20, 0)).unwrap()["HeartbeatLagSeconds"], 0.0);
    }
}
