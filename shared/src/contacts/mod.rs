//! WhatsApp contacts: every number the inbox has talked to or a CSV import brought in, with name, tags,
//! typed custom fields, time zone and consent; search, detail, export, GDPR delete; audiences (typed rule
//! trees evaluated by one `matches` function for the live count and the broadcast send).

pub mod audience;
pub mod audiences;
pub mod csv;
pub mod erase;
pub mod imports;
pub mod phone;
mod routes;
pub mod store;
pub mod types;

pub use routes::{api, routes};
