//! The `worker-campaigns` Lambda: the broadcast sender.

fn main() -> Result<(), webtrigger::lambda::Error> {
    webtrigger::lambda::start(webtrigger::lambda::worker_campaigns())
}
