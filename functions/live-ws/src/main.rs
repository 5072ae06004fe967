//! `live-ws`: the live-updates WebSocket API: `$connect` (stream ticket), `$disconnect`, `$default`.

#[tokio::main]
async fn main() -> Result<(), webtrigger::lambda::Error> {
    webtrigger::lambda::run_live_websocket().await
}
