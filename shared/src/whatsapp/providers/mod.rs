//! One provider abstraction over Twilio, Meta WhatsApp Cloud API and Whapi.Cloud: a send call over the
//! one message model, answers and errors mapped to one classification (by provider code, not HTTP status).

mod meta;
pub mod meta_templates;
pub mod meta_upload;
mod twilio;
pub mod twilio_content;
mod whapi;

use std::time::Duration;

use async_trait::async_trait;
use secrecy::SecretString;
use serde::Serialize;
use utoipa::ToSchema;

pub use meta::classify as classify_meta;
pub use twilio::classify as classify_twilio;
pub use whapi::{classify as classify_whapi, link as whapi_link, LinkState};

use super::types::{Content, MediaKind, Provider, Recipient};

/// Where each provider's API lives; tests and self-hosters point them at fakes or proxies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderUrls {
    pub twilio: String,
    /// Including the pinned Graph version, e.g. `https://graph.facebook.com/v23.0`.
    pub meta: String,
    pub whapi: String,
    /// Twilio's Content API (templates), `https://content.twilio.com`.
    pub twilio_content: String,
}

impl Default for ProviderUrls {
    fn default() -> Self {
        Self { twilio: "https://api.twilio.com".into(), meta: "https://graph.facebook.com/v23.0".into(), whapi: "https://gate.whapi.cloud".into(), twilio_content: "https://content.twilio.com".into() }
    }
}

/// Decrypted provider secrets: held only while sending, never serialised or logged.
pub enum ProviderSecrets {
    /// `webhook_token` is the auth token Twilio signs webhooks with (absent when only an API key was given).
    Twilio { account_sid: String, auth: TwilioAuth, webhook_token: Option<SecretString> },
    /// `app_secret` signs Meta's webhooks.
    Meta { access_token: SecretString, phone_number_id: String, app_secret: SecretString },
    Whapi { token: SecretString },
}

/// Twilio REST auth: an API key (recommended) or the account's auth token.
pub enum TwilioAuth {
    AuthToken(SecretString),
    ApiKey { sid: String, secret: SecretString },
}

/// The sending side of a message: the channel's own address where the provider needs it.
pub struct Sender<'a> {
    /// Twilio's `From` (the sender number); unused by Meta (phone number id) and Whapi (the token's number).
    pub number: Option<&'a str>,
}

/// An uploaded attachment as the worker hands it to a provider: the bytes, their checked type, and a
/// signed link to them for providers that fetch media themselves.
pub struct Upload<'a> {
    pub bytes: &'a [u8],
    pub mime: &'a str,
    pub filename: &'a str,
    pub kind: MediaKind,
    pub caption: Option<&'a str>,
    /// `…/hooks/media/…` on this platform (Twilio's `MediaUrl`); None where the platform has no public URL.
    pub link: Option<&'a str>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    pub provider_message_id: String,
}

/// How a failed send should be handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case", tag = "class")]
pub enum ErrorClass {
    /// The sender or account is over its rate: pause the channel, retry later.
    RateLimited {
        #[serde(skip)]
        #[schema(ignore)]
        retry_after: Option<Duration>,
    },
    /// A temporary failure (5xx, timeout, transient flag): retry with backoff.
    Transient {
        #[serde(skip)]
        #[schema(ignore)]
        retry_after: Option<Duration>,
    },
    /// Free-form message outside the 24-hour customer service window: send a template instead.
    OutsideWindow,
    /// Not a WhatsApp number, or not a valid number at all.
    InvalidRecipient,
    /// The credential was refused (expired token, wrong secret): fix the credential.
    AuthFailed,
    /// Anything else the provider will never accept as sent.
    Permanent,
}

impl ErrorClass {
    pub fn is_retryable(self) -> bool {
        matches!(self, Self::RateLimited { .. } | Self::Transient { .. })
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::RateLimited { .. } => "rate_limited",
            Self::Transient { .. } => "transient",
            Self::OutsideWindow => "outside_window",
            Self::InvalidRecipient => "invalid_recipient",
            Self::AuthFailed => "auth_failed",
            Self::Permanent => "permanent",
        }
    }
}

/// A provider's refusal: its own code and message, and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{provider} error {code}: {message}")]
pub struct ProviderError {
    pub provider: &'static str,
    pub class: ErrorClass,
    pub code: String,
    pub message: String,
    pub http_status: Option<u16>,
}

impl ProviderError {
    fn network(provider: Provider, e: &reqwest::Error) -> Self {
        let what = if e.is_timeout() { "timed out" } else if e.is_connect() { "could not connect" } else { "request failed" };
        let source = std::error::Error::source(e).map(|s| format!(": {s}")).unwrap_or_default();
        Self { provider: provider.as_str(), class: ErrorClass::Transient { retry_after: None }, code: "network".into(), message: format!("{} API {what}{source}", provider.as_str()), http_status: None }
    }
}

/// One WhatsApp provider bound to a credential.
#[async_trait]
pub trait WhatsAppProvider: Send + Sync {
    fn provider(&self) -> Provider;

    /// Sends one message. `Ok` means the provider accepted it and gave its message id; every
    /// failure is classified so the caller can retry, pause the channel, or fail the message.
    async fn send(&self, from: &Sender<'_>, to: &Recipient, content: &Content) -> Result<Accepted, ProviderError>;

    /// Sends an uploaded attachment the way the provider takes files (Meta: its media upload, then the
    /// media id; Twilio: `MediaUrl` it fetches; Whapi: inline). Errors are classified as for `send`.
    async fn send_attachment(&self, from: &Sender<'_>, to: &Recipient, file: &Upload<'_>) -> Result<Accepted, ProviderError>;
}

/// The adapter for a credential's provider, sharing the process's HTTP client.
pub fn for_secrets<'a>(http: &'a reqwest::Client, urls: &'a ProviderUrls, secrets: &'a ProviderSecrets) -> Box<dyn WhatsAppProvider + 'a> {
    match secrets {
        ProviderSecrets::Twilio { account_sid, auth, .. } => Box::new(twilio::Twilio { http, base: &urls.twilio, account_sid, auth }),
        ProviderSecrets::Meta { access_token, phone_number_id, .. } => Box::new(meta::Meta { http, base: &urls.meta, access_token, phone_number_id }),
        ProviderSecrets::Whapi { token } => Box::new(whapi::Whapi { http, base: &urls.whapi, token }),
    }
}

/// Seconds from a `Retry-After` header (delta-seconds form), capped at an hour.
fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let secs: u64 = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?.trim().parse().ok()?;
    Some(Duration::from_secs(secs.min(3600)))
}

/// The process-wide HTTP client for provider APIs: timeouts, no redirects (a redirect to an unexpected
/// host must not receive the bearer token), pooled connections.
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(15))
        .redirect(reqwest::redirect::Policy::none())
        .pool_idle_timeout(Duration::from_secs(60))
        .user_agent(concat!("WebTrigger/", env!("CARGO_PKG_VERSION")))
        .build()
        .expect("HTTP client")
}
