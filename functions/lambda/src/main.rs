//! `webtrigger-lambda`: the bootstrap of every WebTrigger Lambda; `WEBTRIGGER_FUNCTION` names the handler
//! (`api-health`, `worker-push-send`, … — see `webtrigger::lambda::Function`).

use webtrigger::lambda::Function;

#[tokio::main]
async fn main() -> Result<(), webtrigger::lambda::Error> {
    let function = Function::from_env().unwrap_or_else(|e| {
        eprintln!("{e}");
        std::process::exit(2)
    });
    function.run().await
}
