//! The `worker-feeds` Lambda: the RSS/Atom feed poller.

fn main() -> Result<(), webtrigger::lambda::Error> {
    webtrigger::lambda::start(webtrigger::lambda::worker_feeds())
}
