//! Web Push: message encryption and VAPID today; sites, subscribers and the sender worker build on it.

pub mod crypto;
