//! The `api-triggers` Lambda: webhook trigger definitions, secrets, preview, log and replay, and event webhook endpoints.

fn main() -> Result<(), webtrigger::lambda::Error> {
    webtrigger::lambda::start(webtrigger::lambda::api_triggers())
}
