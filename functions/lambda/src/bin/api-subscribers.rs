//! The `api-subscribers` Lambda: the site SDK's public subscribe, unsubscribe and click routes.

fn main() -> Result<(), webtrigger::lambda::Error> {
    webtrigger::lambda::start(webtrigger::lambda::api_subscribers())
}
