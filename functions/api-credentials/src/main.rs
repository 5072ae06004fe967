//! `api-credentials`: WhatsApp provider credentials (sealed) and channels.

#[tokio::main]
async fn main() -> Result<(), webtrigger::lambda::Error> {
    webtrigger::lambda::run_api(webtrigger::whatsapp::credentials_routes()).await
}
