//! WhatsApp outbound: provider credentials (sealed), channels (a sender bound to a credential, with
//! status and throughput), one provider abstraction over Twilio / Meta / Whapi, the send API with
//! idempotency and the 24-hour window, and the sender worker with classified retries.

pub mod channels;
pub mod check;
pub mod credentials;
pub mod messages;
pub mod providers;
pub mod templates;
pub mod templates_media;
pub mod templates_render;
mod templates_routes;
pub mod templates_store;
mod routes;
pub mod types;
pub mod webhook_health;
pub mod worker;

pub use routes::{credentials_api, credentials_routes, messages_api, messages_routes};

use providers::ProviderUrls;

/// What sending needs for the life of the process: one HTTP client and the provider base URLs.
pub struct WhatsAppRuntime {
    pub http: reqwest::Client,
    pub urls: ProviderUrls,
    /// The platform's public base URL (Twilio signs the exact URL it called); `None` derives it from
    /// the request's Host and X-Forwarded-Proto.
    pub public_url: Option<String>,
}

impl Default for WhatsAppRuntime {
    fn default() -> Self {
        Self::new(ProviderUrls::default())
    }
}

impl WhatsAppRuntime {
    pub fn new(urls: ProviderUrls) -> Self {
        Self { http: providers::http_client(), urls, public_url: None }
    }

    pub fn with_public_url(mut self, public_url: Option<String>) -> Self {
        self.public_url = public_url;
        self
    }
}
