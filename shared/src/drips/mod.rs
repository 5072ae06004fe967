//! Welcome drips: per site, a sequence of steps sent each a delay after a new subscriber subscribed,
//! optionally only to a segment. Subscribing enrols (once); the minute tick moves enrolments along from a
//! per-minute due index (never a scan of subscribers), and each step becomes a normal notification to
//! that one subscriber, so stats, quiet hours and the frequency cap apply.

pub mod enrol;
mod routes;
pub mod store;
pub mod tick;
pub mod types;

pub use routes::api;

/// The drip routes (served by `api-sites` with the other site routes).
pub fn routes() -> axum::Router<crate::state::AppState> {
    api().split_for_parts().0
}
