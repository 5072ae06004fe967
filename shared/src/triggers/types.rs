//! Trigger definitions: how callers authenticate, what fires, and the actions with their templates.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub use super::verify::{DigestEncoding, HmacAlgorithm};
use crate::auth::types::prefixed_id;

prefixed_id!(TriggerId, "trg_", "trigger");
prefixed_id!(InvocationId, "inv_", "invocation");

/// How a trigger's caller proves it holds the secret.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AuthMode {
    /// `webhook-id` / `webhook-timestamp` / `webhook-signature` with a `whsec_` secret (recommended).
    StandardWebhooks,
    /// The secret as `Authorization: Bearer <secret>` or in `X-Webhook-Token`.
    Token,
    /// GitHub's `X-Hub-Signature-256` (set the trigger's secret as the GitHub webhook secret).
    Github,
    /// Stripe's `Stripe-Signature` (paste Stripe's endpoint signing secret as the trigger's secret).
    Stripe,
    /// Shopify's `X-Shopify-Hmac-Sha256` (paste the app's client secret as the trigger's secret).
    Shopify,
    /// An HMAC of the raw body in a header of the caller's choosing (`hmac` says which and how).
    Hmac,
}

/// The generic HMAC mode's settings: `header: prefix + encoding(HMAC-algorithm(secret, body))`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HmacSettings {
    /// The header carrying the signature, e.g. `X-Signature`.
    pub header: String,
    pub algorithm: HmacAlgorithm,
    pub encoding: DigestEncoding,
    /// Text before the digest, e.g. `sha256=`; empty when none.
    #[serde(default)]
    pub prefix: String,
}

impl HmacSettings {
    /// Checked at save: a header name HTTP allows (and not one the platform itself reads) and a short printable prefix.
    pub fn check(&self) -> Result<(), String> {
        let h = self.header.trim();
        if h.is_empty() || h.len() > 64 || !h.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
            return Err("the signature header must be a header name such as X-Signature (letters, digits and dashes)".into());
        }
        if ["host", "content-type", "content-length", "cookie"].contains(&h.to_ascii_lowercase().as_str()) {
            return Err(format!("{h} cannot carry a signature"));
        }
        if self.prefix.len() > 32 || self.prefix.chars().any(|c| c.is_control()) {
            return Err("the signature prefix must be at most 32 printable characters".into());
        }
        Ok(())
    }
}

/// Who a push action reaches; every string is a template over the payload.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum PushTargetSpec {
    All,
    /// Comma-separated tags (rendered), subscribers having any of them.
    Tags { tags: String },
    ExternalId { external_id: String },
}

/// One thing a trigger does when it fires. String fields are minijinja templates over the JSON payload
/// (`{{ order.id }}` or `{{ payload.order.id }}`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ActionSpec {
    /// A Web Push notification to a site's subscribers.
    Push {
        site_id: String,
        target: PushTargetSpec,
        title: String,
        body: Option<String>,
        url: Option<String>,
        icon: Option<String>,
        image: Option<String>,
        /// Order updates, security alerts: not held back by the site's frequency cap.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        transactional: bool,
    },
    /// A push to the workspace members' own devices (the dashboard's opt-in).
    Members { title: String, body: Option<String>, url: Option<String> },
    /// A WhatsApp text, or a template when `template_name` is set, to one or more numbers.
    Whatsapp {
        channel_id: String,
        /// Comma-separated numbers (rendered), at most 50.
        to: String,
        text: Option<String>,
        template_name: Option<String>,
        template_language: Option<String>,
        #[serde(default)]
        template_variables: Vec<String>,
    },
}

/// A stored trigger. The secret is sealed beside it and never part of this struct.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct Trigger {
    pub id: TriggerId,
    pub name: String,
    pub enabled: bool,
    pub auth: AuthMode,
    /// With `auth: hmac`: where and how the signature is sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hmac: Option<HmacSettings>,
    /// A minijinja expression; the trigger fires only when it is true (e.g. `status == "paid"`).
    pub filter: Option<String>,
    /// Where the idempotency key comes from: the `webhook-id` header when absent, else this dotted
    /// payload path (e.g. `event.id`).
    pub dedupe_path: Option<String>,
    pub dedupe_window_seconds: u32,
    pub actions: Vec<ActionSpec>,
    /// The last four characters of the current secret.
    pub secret_hint: String,
    /// Until when the previous secret is still accepted after a rotation.
    pub previous_secret_valid_until: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

/// What a caller sends to create or replace a trigger.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TriggerInput {
    pub name: String,
    #[serde(default = "default_auth")]
    pub auth: AuthMode,
    /// Required with `auth: hmac`, refused otherwise.
    pub hmac: Option<HmacSettings>,
    #[serde(default = "default_true")]
    pub enabled: bool,
    pub filter: Option<String>,
    pub dedupe_path: Option<String>,
    pub dedupe_window_seconds: Option<u32>,
    pub actions: Vec<ActionSpec>,
    /// For `github` / `hmac` (optional) and `stripe` / `shopify` (required): the sender's signing secret. Otherwise one is generated.
    pub secret: Option<String>,
}

fn default_auth() -> AuthMode {
    AuthMode::StandardWebhooks
}

fn default_true() -> bool {
    true
}

pub const DEFAULT_DEDUPE_WINDOW: u32 = 24 * 3600;
pub const MAX_DEDUPE_WINDOW: u32 = 7 * 24 * 3600;
pub const MAX_ACTIONS: usize = 5;
pub const MAX_RECIPIENTS: usize = 50;
