//! Web Push: sites with their VAPID keys, subscribers, notifications with fan-out, the sender worker,
//! message encryption (RFC 8291) and VAPID (RFC 8292), and push-service answer handling.

pub mod crypto;
pub mod devices;
pub mod notifications;
pub mod outcome;
mod routes;
pub mod sender;
pub mod sites;
pub mod subscribers;
pub mod types;
pub mod worker;

pub use routes::{api, public_api, public_routes, routes};

/// What sending needs for the life of the process: one HTTP client with its VAPID JWT cache, and the
/// endpoint policy subscriptions are checked against.
#[derive(Default)]
pub struct PushRuntime {
    pub sender: sender::PushSender,
    pub policy: types::EndpointPolicy,
}
