//! The `worker-push-send` Lambda: the Web Push fan-out and sender.

fn main() -> Result<(), webtrigger::lambda::Error> {
    webtrigger::lambda::start(webtrigger::lambda::worker_push_send())
}
