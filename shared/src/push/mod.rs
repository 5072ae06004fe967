//! Web Push: sites with their VAPID keys, subscribers, notifications with fan-out, the sender worker,
//! message encryption (RFC 8291) and VAPID (RFC 8292), and push-service answer handling.

pub mod ab;
pub mod crypto;
pub mod devices;
pub mod frequency;
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
