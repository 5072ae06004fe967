//! `api-inbox`: conversations, replies and team actions, consent, webhook replay.

#[tokio::main]
async fn main() -> Result<(), webtrigger::lambda::Error> {
    webtrigger::lambda::run_api(webtrigger::inbox::routes()).await
}
