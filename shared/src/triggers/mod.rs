//! Webhook triggers: any system POSTs JSON to `/t/{id}`; the trigger verifies it, dedupes it, filters
//! and renders it through templates, and sends Web Push notifications and WhatsApp messages.

mod actions;
pub mod interrupted;
pub mod render;
mod routes;
pub mod run;
pub mod store;
pub mod test_send;
pub mod types;
pub mod verify;

pub use routes::{api, hook_routes, routes};
