//! `api-subscribers`: the public endpoints the site SDK calls (subscribe, unsubscribe, tags, tracking).

#[tokio::main]
async fn main() -> Result<(), webtrigger::lambda::Error> {
    webtrigger::lambda::run_api(webtrigger::push::public_routes()).await
}
