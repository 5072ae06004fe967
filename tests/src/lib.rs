//! Helpers shared by the workspace-level integration tests.

use std::sync::Arc;

use webtrigger::adapters::{LocalKeyring, LocalSecrets, SqliteDb};
use webtrigger::ports::{Clock, SystemClock};
use webtrigger::AppState;

/// An embedded `AppState` on a private in-memory database with every platform queue created.
/// Keep the returned directory alive as long as the state (it holds the master key).
pub async fn embedded_state() -> (AppState, tempfile::TempDir) {
    embedded_state_with_clock(Arc::new(SystemClock)).await
}

pub async fn embedded_state_with_clock(clock: Arc<dyn Clock>) -> (AppState, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let keyring = LocalKeyring::open(&dir.path().join("keys")).expect("keyring");
    let state = AppState::embedded_parts(SqliteDb::in_memory().expect("sqlite"), Arc::new(keyring), Arc::new(LocalSecrets::from_env()), clock);
    state.ensure_queues().await.expect("queues");
    (state, dir)
}

/// Path of a file under the workspace root.
pub fn workspace_file(relative: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(relative)
}
