//! `cron-tick`: the minute tick, triggered by an EventBridge `rate(1 minute)` rule.

#[tokio::main]
async fn main() -> Result<(), webtrigger::lambda::Error> {
    webtrigger::lambda::run_schedule().await
}
