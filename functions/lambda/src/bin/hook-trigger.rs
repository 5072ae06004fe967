//! The `hook-trigger` Lambda: the public trigger URL, POST /t/{trigger}.

fn main() -> Result<(), webtrigger::lambda::Error> {
    webtrigger::lambda::start(webtrigger::lambda::hook_trigger())
}
