//! `api-sites`: Web Push sites, subscribers (admin) and notifications.

#[tokio::main]
async fn main() -> Result<(), webtrigger::lambda::Error> {
    webtrigger::lambda::run_api(webtrigger::push::routes()).await
}
