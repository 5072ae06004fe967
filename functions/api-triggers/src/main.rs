//! `api-triggers`: trigger definitions, secrets, preview, invocation log and replay; event endpoints.

#[tokio::main]
async fn main() -> Result<(), webtrigger::lambda::Error> {
    webtrigger::lambda::run_api(webtrigger::triggers::routes()).await
}
