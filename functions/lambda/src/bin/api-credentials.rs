//! The `api-credentials` Lambda: WhatsApp provider credentials and channels.

fn main() -> Result<(), webtrigger::lambda::Error> {
    webtrigger::lambda::start(webtrigger::lambda::api_credentials())
}
