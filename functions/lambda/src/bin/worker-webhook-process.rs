//! The `worker-webhook-process` Lambda: processing of stored provider webhooks (inbox, statuses, bot flows).

fn main() -> Result<(), webtrigger::lambda::Error> {
    webtrigger::lambda::start(webtrigger::lambda::worker_webhook_process())
}
