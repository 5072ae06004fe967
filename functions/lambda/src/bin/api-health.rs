//! The `api-health` Lambda: the health check and the OpenAPI document.

fn main() -> Result<(), webtrigger::lambda::Error> {
    webtrigger::lambda::start(webtrigger::lambda::api_health())
}
