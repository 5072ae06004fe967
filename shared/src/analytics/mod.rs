//! Push analytics: engagement events from the service worker and the conversion API (`events.rs`),
//! hourly and daily counter rollups per notification and per site written with the counters they mirror
//! (`rollup.rs`), and the reports, CSV exports and routes built on them (`report.rs`, `funnel.rs`,
//! `routes.rs`).

pub mod events;
pub mod funnel;
pub mod report;
pub mod rollup;
mod routes;

pub use routes::api;
