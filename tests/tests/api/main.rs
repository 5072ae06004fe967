//! Accounts, workspaces, roles, API keys, audit and tenant isolation through the HTTP API, run against
//! the embedded backend and against the AWS adapters on moto.

mod accounts_cases;
mod client;
mod workspace_cases;

use std::sync::Arc;

use webtrigger::ports::{Clock, SystemClock};
use webtrigger::AppState;

pub struct Backend {
    pub state: AppState,
    _dir: Option<tempfile::TempDir>,
}

pub async fn sqlite(clock: Arc<dyn Clock>) -> Backend {
    let (state, dir) = webtrigger_tests::embedded_state_with_clock(clock).await;
    Backend { state, _dir: Some(dir) }
}

pub async fn aws(clock: Arc<dyn Clock>) -> Backend {
    Backend { state: webtrigger_tests::aws_state_with_clock(clock).await, _dir: None }
}

pub fn system_clock() -> Arc<dyn Clock> {
    Arc::new(SystemClock)
}

macro_rules! on_both_backends {
    ($($module:ident :: $case:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() { super::$module::$case(super::sqlite).await }) *
        }
        mod aws {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() { super::$module::$case(super::aws).await }) *
        }
    };
}

on_both_backends!(
    accounts_cases::sign_up_log_in_and_me,
    accounts_cases::refresh_rotation_and_reuse_revokes_the_session,
    accounts_cases::bad_tokens_are_refused,
    accounts_cases::login_failures_are_rate_limited,
    accounts_cases::change_password_revokes_other_sessions,
    workspace_cases::invite_flow_and_roles,
    workspace_cases::last_owner_is_protected,
    workspace_cases::api_keys_scopes_and_revocation,
    workspace_cases::audit_log_pages_newest_first,
    workspace_cases::tenant_isolation_on_every_workspace_route,
    workspace_cases::api_key_rate_limit,
    workspace_cases::branding_is_checked_and_shown,
);
