//! The `api-inbox` Lambda: the shared inbox and the live-updates stream.

fn main() -> Result<(), webtrigger::lambda::Error> {
    webtrigger::lambda::start(webtrigger::lambda::api_inbox())
}
