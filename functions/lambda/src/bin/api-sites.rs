//! The `api-sites` Lambda: push sites, notifications, drips and recurring notifications.

fn main() -> Result<(), webtrigger::lambda::Error> {
    webtrigger::lambda::start(webtrigger::lambda::api_sites())
}
