//! `worker-push-send`: Web Push fan-out and delivery from the push-send queue.

#[tokio::main]
async fn main() -> Result<(), webtrigger::lambda::Error> {
    webtrigger::lambda::run_worker(webtrigger::queues::push_send(), webtrigger::push::worker::PushWorker).await
}
