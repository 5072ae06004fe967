//! The `api-auth` Lambda: accounts, sessions, tokens and password resets.

fn main() -> Result<(), webtrigger::lambda::Error> {
    webtrigger::lambda::start(webtrigger::lambda::api_auth())
}
