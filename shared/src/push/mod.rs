//! Web Push: sites with their VAPID keys, subscribers, notifications with fan-out, the sender worker,
//! message encryption (RFC 8291) and VAPID (RFC 8292), and push-service answer handling.

pub mod ab;
pub mod crypto;
pub mod devices;
pub mod frequency;
pub mod import_rows;
pub mod imports;
pub mod lifecycle;
pub mod linked;
pub mod notifications;
pub mod outcome;
pub mod pacing;
pub mod progress;
mod routes;
mod segment_routes;
pub mod segment_rules;
pub mod segments;
pub mod sender;
pub mod sites;
pub mod subscriber_data;
pub mod subscriber_export;
pub mod subscribers;
pub mod types;
pub mod vapid_import;
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

/// How long a cached site may be used at all: a deleted site stops sending within this time.
const SITE_KEY_TTL: std::time::Duration = std::time::Duration::from_secs(60);

/// A site and its opened VAPID key, as of one version of the site record.
pub struct SiteKey {
    pub site: sites::Site,
    pub key: crypto::VapidKey,
    pub version: u64,
}

/// Sites with their opened VAPID keys, per process: every deliver job of a notification needs the same
/// one, and reading the site and opening its key per job was a request (and a key derivation) per job.
/// A fan-out reads the site afresh and stamps its version on the deliver jobs it makes; a job finds the
/// site in the cache only at that version, so a change to the site (quiet hours, rate, cap, an imported
/// VAPID key) reaches every job fanned out after it.
#[derive(Default)]
pub struct SiteKeys(Mutex<HashMap<String, (std::time::Instant, Arc<SiteKey>)>>);

impl SiteKeys {
    fn cached(&self, id: &str, version: u64) -> Option<Arc<SiteKey>> {
        let cache = self.0.lock().unwrap_or_else(|e| e.into_inner());
        cache.get(id).filter(|(at, hit)| hit.version == version && at.elapsed() < SITE_KEY_TTL).map(|(_, hit)| hit.clone())
    }

    /// The site as stored now (one read), with its key opened once per version.
    pub async fn fresh(&self, state: &crate::state::AppState, ws: &crate::auth::WorkspaceId, site: &sites::SiteId) -> Result<Arc<SiteKey>, crate::http::ApiError> {
        let id = format!("{ws}/{site}");
        let item = sites::load_item(state, ws, site).await?;
        if let Some(hit) = self.cached(&id, item.version) {
            return Ok(hit);
        }
        let (site, key) = sites::open_vapid_key(state, ws, site, &item).await?;
        let loaded = Arc::new(SiteKey { site, key, version: item.version });
        let mut cache = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if cache.len() >= 1024 {
            cache.clear();
        }
        cache.insert(id, (std::time::Instant::now(), loaded.clone()));
        Ok(loaded)
    }

    /// The site at `version` from the cache (no read), else as stored now.
    pub async fn at(&self, state: &crate::state::AppState, ws: &crate::auth::WorkspaceId, site: &sites::SiteId, version: Option<u64>) -> Result<Arc<SiteKey>, crate::http::ApiError> {
        if let Some(hit) = version.and_then(|v| self.cached(&format!("{ws}/{site}"), v)) {
            return Ok(hit);
        }
        self.fresh(state, ws, site).await
    }
}
