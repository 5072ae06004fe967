//! The `api-campaigns` Lambda: contacts and broadcasts.

fn main() -> Result<(), webtrigger::lambda::Error> {
    webtrigger::lambda::start(webtrigger::lambda::api_campaigns())
}
