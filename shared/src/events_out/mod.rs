//! Outbound event webhooks: platform events (message status changes, inbound messages, push clicks,
//! trigger failures) delivered to each workspace's endpoints, signed per Standard Webhooks and retried
//! on the published schedule by `worker-events-out`.

pub mod deliver;
pub mod endpoints;
mod routes;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub use deliver::{emit, sweep_due, EventsOutWorker, RETRY_SCHEDULE_SECONDS};
pub use routes::{api, routes};

use crate::http::outbound::{guarded_client, OutboundPolicy};

/// The event types an endpoint can subscribe to.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash, ToSchema)]
pub enum EventType {
    /// A WhatsApp message moved to sent, delivered, read or failed.
    #[serde(rename = "message.status")]
    MessageStatus,
    /// A contact wrote to a WhatsApp channel.
    #[serde(rename = "message.inbound")]
    MessageInbound,
    /// A push notification was clicked.
    #[serde(rename = "push.clicked")]
    PushClicked,
    /// A trigger invocation failed (template error or a failed action).
    #[serde(rename = "trigger.failed")]
    TriggerFailed,
    /// Sent by "Send test event".
    #[serde(rename = "webhook.test")]
    Test,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::MessageStatus => "message.status",
            Self::MessageInbound => "message.inbound",
            Self::PushClicked => "push.clicked",
            Self::TriggerFailed => "trigger.failed",
            Self::Test => "webhook.test",
        }
    }
}

/// Built once per process: the SSRF policy and the client that honours it.
pub struct EventsRuntime {
    pub policy: OutboundPolicy,
    pub http: reqwest::Client,
}

impl EventsRuntime {
    pub fn new(policy: OutboundPolicy) -> Self {
        Self { http: guarded_client(&policy), policy }
    }
}

impl Default for EventsRuntime {
    fn default() -> Self {
        Self::new(OutboundPolicy::default())
    }
}
