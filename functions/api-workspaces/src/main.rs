//! `api-workspaces`: workspaces, members, invites, API keys and the audit log.

#[tokio::main]
async fn main() -> Result<(), webtrigger::lambda::Error> {
    webtrigger::lambda::run_api(webtrigger::workspaces::routes()).await
}
