//! `api-campaigns`: contacts (search, detail, import, export, GDPR erase), audiences and WhatsApp broadcasts.

#[tokio::main]
async fn main() -> Result<(), webtrigger::lambda::Error> {
    webtrigger::lambda::run_api(webtrigger::contacts::routes().merge(webtrigger::broadcasts::routes())).await
}
