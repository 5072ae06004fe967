//! The `hook-whapi` Lambda: the Whapi.Cloud webhook receiver.

fn main() -> Result<(), webtrigger::lambda::Error> {
    webtrigger::lambda::start(webtrigger::lambda::hook_whapi())
}
