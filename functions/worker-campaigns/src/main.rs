//! `worker-campaigns`: contact-import chunks and broadcast fan-out pages from the campaigns queue.

#[tokio::main]
async fn main() -> Result<(), webtrigger::lambda::Error> {
    webtrigger::lambda::run_worker(webtrigger::queues::campaigns(), webtrigger::broadcasts::worker::CampaignWorker).await
}
