//! Provider webhooks in and the shared inbox: signature checks, persist-first receivers, the processor
//! (messages, statuses, edits, revokes, channel health), conversations with team actions, and the
//! opt-out consent ledger, and attachments agents send.

pub mod actions;
mod attachment_routes;
pub mod attachments;
pub mod canned;
pub mod contact;
pub mod consent;
pub mod conversations;
pub mod hooks;
pub mod media_link;
pub mod parse;
pub mod process;
mod routes;
pub mod signatures;
mod team_routes;
pub mod teams;

pub use routes::{api, routes};
