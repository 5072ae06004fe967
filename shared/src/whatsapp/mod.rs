//! WhatsApp outbound: provider credentials (sealed), channels (a sender bound to a credential, with
//! status and throughput), one provider abstraction over Twilio / Meta / Whapi, the send API with
//! idempotency and the 24-hour window, and the sender worker with classified retries.

pub mod channels;
pub mod check;
pub mod credentials;
pub mod messages;
pub mod providers;
mod routes;
pub mod types;
pub mod worker;

use std::sync::Arc;

pub use routes::{credentials_api, credentials_routes, messages_api, messages_routes};

use credentials::SecretCache;
use providers::{ProviderSecrets, ProviderUrls};
use types::CredentialId;

/// What sending needs for the life of the process: one HTTP client, the provider base URLs, and a
/// short-lived cache of unsealed credentials.
pub struct WhatsAppRuntime {
    pub http: reqwest::Client,
    pub urls: ProviderUrls,
    /// The platform's public base URL (Twilio signs the exact URL it called); `None` derives it from
    /// the request's Host and X-Forwarded-Proto.
    pub public_url: Option<String>,
    secrets: SecretCache,
}

impl Default for WhatsAppRuntime {
    fn default() -> Self {
        Self::new(ProviderUrls::default())
    }
}

impl WhatsAppRuntime {
    pub fn new(urls: ProviderUrls) -> Self {
        Self { http: providers::http_client(), urls, public_url: None, secrets: SecretCache::default() }
    }

    pub fn with_public_url(mut self, public_url: Option<String>) -> Self {
        self.public_url = public_url;
        self
    }

    fn cached(&self, id: &CredentialId, version: &str) -> Option<Arc<ProviderSecrets>> {
        self.secrets.get(id, version)
    }

    fn remember(&self, id: &CredentialId, version: &str, secrets: Arc<ProviderSecrets>) {
        self.secrets.put(id, version, secrets);
    }

    fn forget(&self, id: &CredentialId) {
        self.secrets.remove(id);
    }
}
