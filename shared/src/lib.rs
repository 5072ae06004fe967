//! WebTrigger core: ports and their adapters, the shared HTTP layer, workers and the minute tick.
//! Lambda binaries in `functions/` and the local binary only wire state and hand over to this crate.

pub mod adapters;
pub mod analytics;
pub mod auth;
pub mod broadcasts;
pub mod config;
pub mod contacts;
pub mod crypto;
pub mod drips;
pub mod events_out;
pub mod feeds;
pub mod flows;
pub mod health;
pub mod http;
pub mod inbox;
pub mod keys;
pub mod lambda;
pub mod live;
#[cfg(feature = "embedded")]
pub mod local;
pub mod openapi;
pub mod ops;
pub mod ports;
pub mod push;
pub mod queues;
pub mod recurring;
pub mod schedule;
pub mod state;
pub mod telemetry;
pub mod triggers;
pub mod worker;
pub mod whatsapp;
pub mod workspaces;

pub use state::AppState;
