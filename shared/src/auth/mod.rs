//! Accounts, sessions and tokens, API-key authentication, the permission table, and the `Workspace`
//! capability through which every tenant-scoped operation must pass.

pub mod accounts;
pub mod mailer;
pub mod password;
pub mod permissions;
pub mod principal;
pub mod ratelimit;
pub mod reset;
mod routes;
pub mod tokens;
pub mod types;

pub use permissions::Action;
pub use principal::{member_key, open_workspace, Principal, RequestMeta, Workspace};
pub use routes::{api, routes};
pub use tokens::TokenKeys;
pub use types::{ApiKeyId, Email, InviteId, NewPassword, Role, Scope, UserId, WorkspaceId};
