//! The `cron-tick` Lambda: the minute tick (EventBridge schedule).

fn main() -> Result<(), webtrigger::lambda::Error> {
    webtrigger::lambda::start(webtrigger::lambda::cron_tick())
}
