//! `hook-whapi`: Whapi.Cloud webhooks (per-channel secret header), stored and queued.

#[tokio::main]
async fn main() -> Result<(), webtrigger::lambda::Error> {
    webtrigger::lambda::run_api(webtrigger::inbox::hooks::whapi_routes()).await
}
