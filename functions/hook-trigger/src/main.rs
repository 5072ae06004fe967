//! `hook-trigger`: the public `POST /t/{trigger}` any system can call; verified, deduped, run.

#[tokio::main]
async fn main() -> Result<(), webtrigger::lambda::Error> {
    webtrigger::lambda::run_api(webtrigger::triggers::hook_routes()).await
}
