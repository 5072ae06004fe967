//! The `live-websocket` Lambda: the live-updates WebSocket API.

fn main() -> Result<(), webtrigger::lambda::Error> {
    webtrigger::lambda::start(webtrigger::lambda::live_websocket())
}
