//! `hook-meta`: Meta WhatsApp webhooks (GET verification, signed POSTs), stored and queued.

#[tokio::main]
async fn main() -> Result<(), webtrigger::lambda::Error> {
    webtrigger::lambda::run_api(webtrigger::inbox::hooks::meta_routes()).await
}
