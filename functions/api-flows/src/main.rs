//! `api-flows`: bot flow drafts, versions, publish/rollback, API start, simulator, answers and funnel.

#[tokio::main]
async fn main() -> Result<(), webtrigger::lambda::Error> {
    webtrigger::lambda::run_api(webtrigger::flows::routes()).await
}
