//! `api-messages`: the WhatsApp send API and message log.

#[tokio::main]
async fn main() -> Result<(), webtrigger::lambda::Error> {
    webtrigger::lambda::run_api(webtrigger::whatsapp::messages_routes()).await
}
