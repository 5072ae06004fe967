//! `worker-webhook-process`: turns stored provider webhooks into inbox changes.

#[tokio::main]
async fn main() -> Result<(), webtrigger::lambda::Error> {
    webtrigger::lambda::run_worker(webtrigger::queues::webhook_process(), webtrigger::inbox::process::WebhookWorker).await
}
