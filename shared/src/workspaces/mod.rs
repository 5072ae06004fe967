//! Workspaces (tenants): members and roles, invites, API keys and the audit log.

pub mod api_keys;
pub mod audit;
pub mod invites;
pub mod members;
mod routes;

pub use routes::{api, routes};
