//! The `api-feeds` Lambda: a site's RSS/Atom feeds (settings, items, poll now).

fn main() -> Result<(), webtrigger::lambda::Error> {
    webtrigger::lambda::start(webtrigger::lambda::api_feeds())
}
