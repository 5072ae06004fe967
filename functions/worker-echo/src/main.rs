//! `worker-echo`: consumes tick heartbeats from the echo queue (SQS, partial batch failures).

#[tokio::main]
async fn main() -> Result<(), webtrigger::lambda::Error> {
    webtrigger::lambda::run_worker(webtrigger::queues::echo(), webtrigger::health::EchoWorker).await
}
