//! `api-inbox`: conversations, replies and team actions, consent, webhook replay; live-update tickets
//! and catch-up.

#[tokio::main]
async fn main() -> Result<(), webtrigger::lambda::Error> {
    webtrigger::lambda::run_api(webtrigger::inbox::routes().merge(webtrigger::live::routes())).await
}
