//! The `hook-meta` Lambda: the Meta WhatsApp Cloud API webhook receiver.

fn main() -> Result<(), webtrigger::lambda::Error> {
    webtrigger::lambda::start(webtrigger::lambda::hook_meta())
}
