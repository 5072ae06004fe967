//! Recurring sends: per site, schedules that run daily, weekly or monthly at a time in the site's zone
//! or in each subscriber's, between a start and an optional end date. The minute tick runs each from a
//! per-minute due index; every run is a normal notification (its own stats) linked to its schedule.

mod routes;
pub mod rule;
pub mod store;
pub mod tick;
pub mod types;

pub use routes::api;

/// The recurring routes (served by `api-sites` with the other site routes).
pub fn routes() -> axum::Router<crate::state::AppState> {
    api().split_for_parts().0
}
