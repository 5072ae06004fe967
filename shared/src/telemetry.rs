//! JSON logs via `tracing-subscriber`; fields of the enclosing span (the request id) on every line.

use tracing_subscriber::filter::Targets;
use tracing_subscriber::fmt;
use tracing_subscriber::layer::SubscriberExt;

/// Installs the global JSON subscriber (`RUST_LOG`, default `info`). Safe to call more than once.
/// `RUST_LOG` takes `level` and `target=level` directives, comma-separated (a `Targets` filter: unlike
/// `EnvFilter` it needs no regex engine, which every Lambda bootstrap would otherwise link).
pub fn init() {
    let _ = tracing::subscriber::set_global_default(subscriber(std::io::stdout));
}

/// The platform's log format writing to `writer` (tests capture logs with it).
pub fn subscriber<W>(writer: W) -> impl tracing::Subscriber + Send + Sync
where
    W: for<'a> fmt::MakeWriter<'a> + Send + Sync + 'static,
{
    let filter = filter_from(std::env::var("RUST_LOG").ok().as_deref());
    fmt()
        .json()
        .with_max_level(tracing::Level::TRACE)
        .with_current_span(true)
        .with_span_list(false)
        .flatten_event(true)
        .with_target(false)
        .with_writer(writer)
        .finish()
        .with(filter)
}

/// The filter `RUST_LOG` names; `info` when it is unset or does not parse.
fn filter_from(directives: Option<&str>) -> Targets {
    directives.and_then(|d| d.parse::<Targets>().ok()).unwrap_or_else(|| Targets::new().with_default(tracing::Level::INFO))
}

#[cfg(test)]
mod tests {
    use super::filter_from;
    use tracing::Level;

    #[test]
    fn rust_log_directives_pick_levels_per_target() {
        let default = filter_from(None);
        assert!(default.would_enable("webtrigger::push", &Level::INFO) && !default.would_enable("webtrigger::push", &Level::DEBUG));
        let per_target = filter_from(Some("webtrigger::push=debug,warn"));
        assert!(per_target.would_enable("webtrigger::push::worker", &Level::DEBUG));
        assert!(!per_target.would_enable("hyper", &Level::INFO) && per_target.would_enable("hyper", &Level::WARN));
        let unparsable = filter_from(Some("webtrigger=loud"));
        assert!(unparsable.would_enable("webtrigger", &Level::INFO) && !unparsable.would_enable("webtrigger", &Level::DEBUG));
    }
}
