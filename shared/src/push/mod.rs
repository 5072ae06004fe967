//! Web Push: sites with their VAPID keys, subscribers, notifications with fan-out, the sender worker,
//! message encryption (RFC 8291) and VAPID (RFC 8292), and push-service answer handling.

pub mod crypto;
pub mod devices;
pub mod notifications;
pub mod outcome;
pub mod progress;
mod routes;
pub mod sender;
pub mod sites;
pub mod subscribers;
pub mod types;
pub mod worker;
mod deliver;

pub use routes::{api, public_api, public_routes, routes};

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::Semaphore;

/// Sends in flight at once to one push-service origin, across every job of the process, so one slow or
/// hanging push service cannot take every connection.
pub const PER_ORIGIN_CONCURRENCY: usize = 32;

/// What sending needs for the life of the process: one HTTP client with its VAPID JWT cache, the
/// endpoint policy subscriptions are checked against, and per-origin send limits.
pub struct PushRuntime {
    pub sender: sender::PushSender,
    pub policy: types::EndpointPolicy,
    /// This process, as named in the leases of the deliver jobs it runs.
    pub instance: String,
    /// Set by the local binary, the only process on its data dir: leases of other instances are dead.
    pub sole_process: bool,
    pub origins: OriginLimits,
    /// Sites with their opened VAPID keys, for deliver jobs.
    pub site_keys: SiteKeys,
}

/// One send semaphore per push-service origin.
#[derive(Default)]
pub struct OriginLimits(Mutex<HashMap<String, Arc<Semaphore>>>);

impl Default for PushRuntime {
    fn default() -> Self {
        Self {
            sender: Default::default(),
            policy: Default::default(),
            instance: ulid::Ulid::new().to_string(),
            sole_process: false,
            origins: Default::default(),
            site_keys: Default::default(),
        }
    }
}

impl PushRuntime {
    /// The send limit of one push-service origin.
    pub fn origin_limit(&self, origin: &str) -> Arc<Semaphore> {
        let mut origins = self.origins.0.lock().unwrap_or_else(|e| e.into_inner());
        origins.entry(origin.to_owned()).or_insert_with(|| Arc::new(Semaphore::new(PER_ORIGIN_CONCURRENCY))).clone()
    }
}

/// How long a deliver job may use a site (its contact, icon, VAPID key) read by an earlier job. A changed
/// site is used by new jobs within this time.
const SITE_KEY_TTL: std::time::Duration = std::time::Duration::from_secs(60);

/// A site and its opened VAPID key.
pub type SiteKey = Arc<(sites::Site, crypto::VapidKey)>;

/// Sites with their opened VAPID keys, kept a minute per process: every deliver job of a notification
/// needs the same one, and reading the site and opening its key per job was a request (and a key
/// derivation) per job.
#[derive(Default)]
pub struct SiteKeys(Mutex<HashMap<String, (std::time::Instant, SiteKey)>>);

impl SiteKeys {
    /// The site and its key, from the cache when it is fresh.
    pub async fn get(&self, state: &crate::state::AppState, ws: &crate::auth::WorkspaceId, site: &sites::SiteId) -> Result<SiteKey, crate::http::ApiError> {
        let id = format!("{ws}/{site}");
        if let Some((at, hit)) = self.0.lock().unwrap_or_else(|e| e.into_inner()).get(&id) {
            if at.elapsed() < SITE_KEY_TTL {
                return Ok(hit.clone());
            }
        }
        let loaded: SiteKey = Arc::new(sites::vapid_key(state, ws, site).await?);
        let mut cache = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if cache.len() >= 1024 {
            cache.clear();
        }
        cache.insert(id, (std::time::Instant::now(), loaded.clone()));
        Ok(loaded)
    }
}
