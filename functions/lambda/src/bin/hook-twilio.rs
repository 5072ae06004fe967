//! The `hook-twilio` Lambda: the Twilio webhook receiver.

fn main() -> Result<(), webtrigger::lambda::Error> {
    webtrigger::lambda::start(webtrigger::lambda::hook_twilio())
}
