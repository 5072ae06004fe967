//! JSON logs via `tracing-subscriber`; fields of the enclosing span (the request id) on every line.

use tracing_subscriber::{fmt, EnvFilter};

/// Installs the global JSON subscriber (`RUST_LOG`, default `info`). Safe to call more than once.
pub fn init() {
    let _ = tracing::subscriber::set_global_default(subscriber(std::io::stdout));
}

/// The platform's log format writing to `writer` (tests capture logs with it).
pub fn subscriber<W>(writer: W) -> impl tracing::Subscriber + Send + Sync
where
    W: for<'a> fmt::MakeWriter<'a> + Send + Sync + 'static,
{
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(true)
        .with_span_list(false)
        .flatten_event(true)
        .with_target(false)
        .with_writer(writer)
        .finish()
}
