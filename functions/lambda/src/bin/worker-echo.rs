//! The `worker-echo` Lambda: the queue heartbeat consumer.

fn main() -> Result<(), webtrigger::lambda::Error> {
    webtrigger::lambda::start(webtrigger::lambda::worker_echo())
}
