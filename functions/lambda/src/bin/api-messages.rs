//! The `api-messages` Lambda: WhatsApp messages and templates.

fn main() -> Result<(), webtrigger::lambda::Error> {
    webtrigger::lambda::start(webtrigger::lambda::api_messages())
}
