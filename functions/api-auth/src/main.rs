//! `api-auth`: sign-up, login, token refresh, logout, `/v1/me` and invite acceptance.

#[tokio::main]
async fn main() -> Result<(), webtrigger::lambda::Error> {
    webtrigger::lambda::run_api(webtrigger::auth::routes()).await
}
