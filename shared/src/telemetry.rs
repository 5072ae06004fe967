//! JSON logs via `tracing-subscriber`; fields of the enclosing span (the request id) on every line.

use tracing_subscriber::{fmt, EnvFilter};

/// Installs the global JSON subscriber (`RUST_LOG`, default `info`). Safe to call more than once.
pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(true)
        .with_span_list(false)
        .flatten_event(true)
        .with_target(false)
        .try_init();
}
