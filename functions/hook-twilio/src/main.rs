//! `hook-twilio`: Twilio WhatsApp webhooks (X-Twilio-Signature), stored and queued.

#[tokio::main]
async fn main() -> Result<(), webtrigger::lambda::Error> {
    webtrigger::lambda::run_api(webtrigger::inbox::hooks::twilio_routes()).await
}
