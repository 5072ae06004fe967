//! The `api-flows` Lambda: bot flows.

fn main() -> Result<(), webtrigger::lambda::Error> {
    webtrigger::lambda::start(webtrigger::lambda::api_flows())
}
