//! Workspaces (tenants): members and roles, invites, API keys, branding and the audit log.

pub mod api_keys;
pub mod audit;
pub mod branding;
pub mod invites;
pub mod members;
mod routes;

pub use routes::{api, routes};
