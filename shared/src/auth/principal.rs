//! Who is calling (`Principal`, from a bearer access token or API key) and the `Workspace` capability:
//! the only value workspace-scoped repository functions accept, built solely by `open_workspace` after
//! membership (or key ownership) and the per-workspace and per-key rate limits are checked.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap};
use lambda_http::request::RequestContext;
use lambda_http::RequestExt;
use serde::Deserialize;

use super::permissions::{role_may, scopes_may, Action};
use super::ratelimit::Limit;
use super::tokens::{same, token_hash};
use super::types::{ApiKeyId, Role, Scope, UserId, WorkspaceId};
use crate::http::ApiError;
use crate::ports::Key;
use crate::state::AppState;


#[derive(Debug, Clone, PartialEq)]
pub enum Principal {
    User { user_id: UserId, session_id: String },
    ApiKey { key_id: ApiKeyId, workspace: WorkspaceId, scopes: Vec<Scope> },
    /// The platform acting on a workspace (a webhook trigger, the event-webhook sender): it may read the
    /// workspace and send notifications and messages, nothing else. `actor` names it in the audit log.
    Service { actor: String },
}

impl Principal {
    /// How the audit log names this caller.
    pub fn actor(&self) -> String {
        match self {
            Self::User { user_id, .. } => user_id.to_string(),
            Self::ApiKey { key_id, .. } => key_id.to_string(),
            Self::Service { actor } => actor.clone(),
        }
    }

    pub fn user(&self) -> Result<(&UserId, &str), ApiError> {
        match self {
            Self::User { user_id, session_id } => Ok((user_id, session_id)),
            Self::ApiKey { .. } | Self::Service { .. } => Err(ApiError::Forbidden),
        }
    }
}

pub fn api_key_pointer(key: &ApiKeyId) -> Key {
    Key::new(format!("APIKEY#{key}"), "APIKEY")
}

#[derive(Deserialize)]
struct KeyPointer {
    workspace: WorkspaceId,
    secret_hash: String,
    scopes: Vec<Scope>,
    revoked: bool,
}

/// `wt_<26-char key ulid>_<secret>` → the key id.
fn api_key_id(token: &str) -> Option<ApiKeyId> {
    let rest = token.strip_prefix("wt_")?;
    let (ulid, secret) = rest.split_at_checked(26)?;
    secret.strip_prefix('_').filter(|s| !s.is_empty())?;
    ApiKeyId::parse(&format!("key_{ulid}")).ok()
}

pub async fn authenticate(state: &AppState, headers: &HeaderMap) -> Result<Principal, ApiError> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(str::trim)
        .ok_or(ApiError::Unauthorized)?;
    if token.starts_with("wt_") {
        let key_id = api_key_id(token).ok_or(ApiError::Unauthorized)?;
        let pointer: KeyPointer = state.table.get(&api_key_pointer(&key_id)).await?.ok_or(ApiError::Unauthorized)?.parse()?;
        if !same(&pointer.secret_hash, &token_hash(token)) {
            return Err(ApiError::Unauthorized);
        }
        if pointer.revoked {
            return Err(ApiError::RevokedKey);
        }
        return Ok(Principal::ApiKey { key_id, workspace: pointer.workspace, scopes: pointer.scopes });
    }
    let claims = state.tokens.verify(state.secrets.as_ref(), token).await.map_err(|_| ApiError::Unauthorized)?;
    let user_id = UserId::parse(&claims.sub).map_err(|_| ApiError::Unauthorized)?;
    Ok(Principal::User { user_id, session_id: claims.sid })
}

impl FromRequestParts<AppState> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        authenticate(state, &parts.headers).await
    }
}

/// Where a request came from, for the audit log and per-IP limits.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestMeta {
    pub ip: String,
    pub user_agent: String,
}

impl FromRequestParts<AppState> for RequestMeta {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        // The peer is API Gateway's sourceIp on Lambda (the address that opened the connection to the
        // gateway: CloudFront's edge when it is in front) and the socket peer locally. Forwarded headers
        // count only through proxies listed in WEBTRIGGER_TRUSTED_PROXIES (see `http::client_ip`).
        let gateway_ip = match parts.request_context_ref() {
            Some(RequestContext::ApiGatewayV2(ctx)) => ctx.http.source_ip.as_deref().and_then(|ip| ip.parse().ok()),
            _ => None,
        };
        let peer = gateway_ip.or_else(|| parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip()));
        let ip = state.trusted_proxies.client(&parts.headers, peer).map_or_else(|| "unknown".to_owned(), |ip| ip.to_string());
        let user_agent = parts.headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()).unwrap_or("").chars().take(200).collect();
        Ok(Self { ip, user_agent })
    }
}

/// Access to one workspace, proven. Fields are private: only `open_workspace` builds it.
#[derive(Debug, Clone)]
pub struct Workspace {
    id: WorkspaceId,
    principal: Principal,
    role: Option<Role>,
}

impl Workspace {
    pub fn id(&self) -> &WorkspaceId {
        &self.id
    }

    pub fn principal(&self) -> &Principal {
        &self.principal
    }

    /// The caller's member role; `None` for API keys.
    pub fn role(&self) -> Option<Role> {
        self.role
    }

    /// Partition key prefix of everything this workspace owns.
    pub fn pk(&self) -> String {
        format!("WS#{}", self.id)
    }

    /// 403 unless the permission table lets this caller perform `action`.
    pub fn require(&self, action: Action) -> Result<(), ApiError> {
        let allowed = match (&self.principal, self.role) {
            (Principal::User { .. }, Some(role)) => role_may(role, action),
            (Principal::ApiKey { scopes, .. }, _) => scopes_may(scopes, action),
            (Principal::User { .. }, None) => false,
            (Principal::Service { .. }, _) => matches!(action, Action::NotificationsSend | Action::MessagesSend | Action::WorkspaceRead | Action::MembersRead),
        };
        if allowed { Ok(()) } else { Err(ApiError::Forbidden) }
    }
}

pub fn member_key(workspace: &WorkspaceId, user: &UserId) -> Key {
    Key::new(format!("WS#{workspace}"), format!("MEMBER#{user}"))
}

/// Opens a workspace for a caller. Anything the caller may not see — malformed id, unknown workspace,
/// another tenant's workspace — is the same 404.
pub async fn open_workspace(state: &AppState, principal: &Principal, raw_id: &str) -> Result<Workspace, ApiError> {
    let not_found = || ApiError::NotFound("no such workspace".into());
    let id = WorkspaceId::parse(raw_id).map_err(|_| not_found())?;
    let now_ms = state.clock.now().timestamp_millis();
    let role = match principal {
        Principal::User { user_id, .. } => {
            let member = state.table.get(&member_key(&id, user_id)).await?.ok_or_else(not_found)?;
            let role = member.attrs.get("role").cloned().map(serde_json::from_value::<Role>).transpose().map_err(|e| ApiError::Internal(e.to_string()))?;
            Some(role.ok_or_else(|| ApiError::Internal("member without role".into()))?)
        }
        Principal::ApiKey { workspace, key_id, .. } => {
            if *workspace != id {
                return Err(not_found());
            }
            let limit = Limit::per_minute(state.limits.api_key_per_minute.into(), state.limits.api_key_per_minute.into());
            if let Err(after) = state.buckets.take(&format!("key#{key_id}"), limit, now_ms).await? {
                return Err(ApiError::RateLimited(after));
            }
            None
        }
        // Services never authenticate through bearer tokens; their capability comes from `service_workspace`.
        Principal::Service { .. } => return Err(not_found()),
    };
    let limit = Limit::per_minute(state.limits.workspace_per_minute.into(), state.limits.workspace_per_minute.into());
    if let Err(after) = state.buckets.take(&format!("ws#{id}"), limit, now_ms).await? {
        return Err(ApiError::RateLimited(after));
    }
    Ok(Workspace { id, principal: principal.clone(), role })
}

#[derive(Deserialize)]
struct WorkspacePath {
    ws: String,
}

impl FromRequestParts<AppState> for Workspace {
    type Rejection = ApiError;

    /// For routes under `/v1/workspaces/{ws}/...`.
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let principal = authenticate(state, &parts.headers).await?;
        let axum::extract::Path(path) = axum::extract::Path::<WorkspacePath>::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::NotFound("no such workspace".into()))?;
        open_workspace(state, &principal, &path.ws).await
    }
}

/// The capability the platform acts with on a workspace: a trigger running its actions (its URL and
/// signature were checked by the caller), or a worker writing an audit entry.
pub(crate) fn service_workspace(id: WorkspaceId, actor: &str) -> Workspace {
    Workspace { id, principal: Principal::Service { actor: actor.to_owned() }, role: None }
}

/// A workspace capability for a caller whose access was established another way (the creator of a new
/// workspace, a user accepting an invite). Crate-private so handlers cannot mint one.
pub(crate) fn trusted_workspace(id: WorkspaceId, principal: Principal, role: Option<Role>) -> Workspace {
    Workspace { id, principal, role }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_key_token_shape() {
        let id = ApiKeyId::new(ulid::Ulid::new());
        let ulid_part = id.as_str().trim_start_matches("key_").to_owned();
        assert_eq!(api_key_id(&format!("wt_{ulid_part}_secret")), Some(id));
        assert_eq!(api_key_id(&format!("wt_{ulid_part}_")), None);
        assert_eq!(api_key_id("wt_short_secret"), None);
        assert_eq!(api_key_id("wt_ü"), None);
    }
}
