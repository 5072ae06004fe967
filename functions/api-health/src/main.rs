//! `api-health`: the `/v1/health` route group behind API Gateway.

#[tokio::main]
async fn main() -> Result<(), webtrigger::lambda::Error> {
    webtrigger::lambda::run_api(webtrigger::health::routes()).await
}
