//! RSS/Atom feeds that become Web Push notifications: per site, a feed URL polled every 15 minutes by
//! the minute tick through the SSRF-guarded client (conditional GET, size cap), parsed with `feed-rs`;
//! each new item becomes exactly one notification from the feed's template, to all subscribers or a
//! segment, through the normal notification path (so quiet hours, pacing and the frequency cap apply).

pub mod fetch;
pub mod parse;
pub mod poller;
pub mod render;
mod routes;
pub mod store;
pub mod types;

pub use routes::{api, routes};
