//! `worker-events-out`: signs and delivers platform events to workspace endpoints, with retries.

#[tokio::main]
async fn main() -> Result<(), webtrigger::lambda::Error> {
    webtrigger::lambda::run_worker(webtrigger::queues::events_out(), webtrigger::events_out::EventsOutWorker).await
}
