//! Web Push: message encryption and VAPID, parsed subscription types, and push-service answer handling.
//! Sites, subscribers and the sender worker build on these.

pub mod crypto;
pub mod outcome;
pub mod types;
