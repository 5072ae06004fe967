//! `worker-whatsapp-send`: sends queued WhatsApp messages through their channel's provider.

#[tokio::main]
async fn main() -> Result<(), webtrigger::lambda::Error> {
    webtrigger::lambda::run_worker(webtrigger::queues::whatsapp_send(), webtrigger::whatsapp::worker::WhatsAppWorker).await
}
