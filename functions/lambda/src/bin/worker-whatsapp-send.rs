//! The `worker-whatsapp-send` Lambda: the WhatsApp sender.

fn main() -> Result<(), webtrigger::lambda::Error> {
    webtrigger::lambda::start(webtrigger::lambda::worker_whatsapp_send())
}
