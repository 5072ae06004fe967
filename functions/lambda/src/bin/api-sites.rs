//! The `api-sites` Lambda: push sites, notifications, drips, recurring notifications and feeds.

fn main() -> Result<(), webtrigger::lambda::Error> {
    webtrigger::lambda::start(webtrigger::lambda::api_sites())
}
