//! The `api-workspaces` Lambda: workspaces, members, invites, API keys and the audit log.

fn main() -> Result<(), webtrigger::lambda::Error> {
    webtrigger::lambda::start(webtrigger::lambda::api_workspaces())
}
