//! `/v1/workspaces*`: the `api-workspaces` route group. Every `{ws}` route extracts a `Workspace`
//! (authenticated, member-checked, rate-limited); each domain function checks its `Action`.

use axum::extract::{Path, Query, State};
use axum::Router;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};
use crate::http::api_router::{routes, ApiRouter};

use super::{api_keys, audit, invites, members};
use crate::auth::{ApiKeyId, InviteId, Principal, RequestMeta, Role, Scope, UserId, Workspace};
use crate::http::{ApiError, ApiJson, ApiOk, ApiResult};
use crate::openapi::{Envelope, ErrorEnvelope};
use crate::state::AppState;

/// The workspaces route group with its documentation.
pub fn api() -> ApiRouter<AppState> {
    ApiRouter::new()
        .routes(routes!(list_mine, create))
        .routes(routes!(get_one, rename))
        .routes(routes!(list_members))
        .routes(routes!(change_role, remove_member))
        .routes(routes!(list_invites, create_invite))
        .routes(routes!(revoke_invite))
        .routes(routes!(list_keys, create_key))
        .routes(routes!(revoke_key))
        .routes(routes!(list_audit))
}

/// The `api-workspaces` route group.
pub fn routes() -> Router<AppState> {
    api().split_for_parts().0
}

#[derive(Deserialize, ToSchema)]
struct Name {
    name: String,
}

/// Creates a workspace; the caller becomes its owner.
#[utoipa::path(post, path = "/v1/workspaces", tag = "workspaces", security(("bearer" = [])), request_body = Name, responses((status = 201, description = "Created", body = Envelope<members::WorkspaceView>), (status = 422, description = "Invalid input", body = ErrorEnvelope)))]
async fn create(State(state): State<AppState>, principal: Principal, meta: RequestMeta, ApiJson(body): ApiJson<Name>) -> ApiResult<members::WorkspaceView> {
    Ok(ApiOk::created(members::create(&state, &principal, &meta, &body.name).await?))
}

/// The caller's workspaces.
#[utoipa::path(get, path = "/v1/workspaces", tag = "workspaces", security(("bearer" = [])), responses((status = 200, description = "OK", body = Envelope<Vec<members::WorkspaceView>>), (status = 401, description = "Not authenticated, or bad credentials", body = ErrorEnvelope)))]
async fn list_mine(State(state): State<AppState>, principal: Principal) -> ApiResult<Vec<members::WorkspaceView>> {
    Ok(ApiOk::ok(members::list_mine(&state, &principal).await?))
}

/// One workspace.
#[utoipa::path(get, path = "/v1/workspaces/{ws}", tag = "workspaces", security(("bearer" = [])), params(("ws" = String, Path, description = "Workspace id")), responses((status = 200, description = "OK", body = Envelope<members::WorkspaceView>), (status = 404, description = "Not found (or not yours)", body = ErrorEnvelope)))]
async fn get_one(State(state): State<AppState>, ws: Workspace) -> ApiResult<members::WorkspaceView> {
    Ok(ApiOk::ok(members::get(&state, &ws).await?))
}

/// Renames a workspace, sets its time zone or its branding (owner, admin).
#[utoipa::path(patch, path = "/v1/workspaces/{ws}", tag = "workspaces", security(("bearer" = [])), params(("ws" = String, Path, description = "Workspace id")), request_body = members::WorkspacePatch, responses((status = 200, description = "OK", body = Envelope<members::WorkspaceView>), (status = 422, description = "Invalid input (the message names the field)", body = ErrorEnvelope), (status = 403, description = "Role or scopes do not allow this", body = ErrorEnvelope), (status = 404, description = "Not found (or not yours)", body = ErrorEnvelope)))]
async fn rename(State(state): State<AppState>, ws: Workspace, meta: RequestMeta, ApiJson(body): ApiJson<members::WorkspacePatch>) -> ApiResult<members::WorkspaceView> {
    Ok(ApiOk::ok(members::update(&state, &ws, &meta, &body).await?))
}

/// Members and their roles.
#[utoipa::path(get, path = "/v1/workspaces/{ws}/members", tag = "workspaces", security(("bearer" = [])), params(("ws" = String, Path, description = "Workspace id")), responses((status = 200, description = "OK", body = Envelope<Vec<members::Member>>), (status = 404, description = "Not found (or not yours)", body = ErrorEnvelope)))]
async fn list_members(State(state): State<AppState>, ws: Workspace) -> ApiResult<Vec<members::Member>> {
    Ok(ApiOk::ok(members::list_members(&state, &ws).await?))
}

#[derive(Deserialize)]
struct MemberPath {
    user: String,
}

#[derive(Deserialize, ToSchema)]
struct RoleChange {
    role: Role,
}

fn member_id(raw: &str) -> Result<UserId, ApiError> {
    UserId::parse(raw).map_err(|_| ApiError::NotFound("no such member".into()))
}

/// Changes a member's role; only owners grant or take the owner role, and the last owner stays.
#[utoipa::path(patch, path = "/v1/workspaces/{ws}/members/{user}", tag = "workspaces", security(("bearer" = [])), params(("ws" = String, Path, description = "Workspace id"), ("user" = String, Path)), request_body = RoleChange, responses((status = 200, description = "OK", body = Envelope<members::Member>), (status = 403, description = "Role or scopes do not allow this", body = ErrorEnvelope), (status = 404, description = "Not found (or not yours)", body = ErrorEnvelope), (status = 409, description = "Conflict", body = ErrorEnvelope)))]
async fn change_role(State(state): State<AppState>, ws: Workspace, meta: RequestMeta, Path(p): Path<MemberPath>, ApiJson(body): ApiJson<RoleChange>) -> ApiResult<members::Member> {
    Ok(ApiOk::ok(members::change_role(&state, &ws, &meta, &member_id(&p.user)?, body.role).await?))
}

/// Removes a member (or leaves); the last owner cannot be removed.
#[utoipa::path(delete, path = "/v1/workspaces/{ws}/members/{user}", tag = "workspaces", security(("bearer" = [])), params(("ws" = String, Path, description = "Workspace id"), ("user" = String, Path)), responses((status = 200, description = "Removed"), (status = 403, description = "Role or scopes do not allow this", body = ErrorEnvelope), (status = 404, description = "Not found (or not yours)", body = ErrorEnvelope), (status = 409, description = "Conflict", body = ErrorEnvelope)))]
async fn remove_member(State(state): State<AppState>, ws: Workspace, meta: RequestMeta, Path(p): Path<MemberPath>) -> ApiResult<serde_json::Value> {
    members::remove(&state, &ws, &meta, &member_id(&p.user)?).await?;
    Ok(ApiOk::ok(json!({"removed": p.user})))
}

#[derive(Deserialize, ToSchema)]
struct NewInvite {
    email: String,
    role: Role,
}

/// Invites an email with a role; the answer holds the one-time accept link.
#[utoipa::path(post, path = "/v1/workspaces/{ws}/invites", tag = "workspaces", security(("bearer" = [])), params(("ws" = String, Path, description = "Workspace id")), request_body = NewInvite, responses((status = 201, description = "Created", body = Envelope<invites::CreatedInvite>), (status = 403, description = "Role or scopes do not allow this", body = ErrorEnvelope), (status = 422, description = "Invalid input", body = ErrorEnvelope)))]
async fn create_invite(State(state): State<AppState>, ws: Workspace, meta: RequestMeta, ApiJson(body): ApiJson<NewInvite>) -> ApiResult<invites::CreatedInvite> {
    Ok(ApiOk::created(invites::create(&state, &ws, &meta, &body.email, body.role).await?))
}

/// Pending invites.
#[utoipa::path(get, path = "/v1/workspaces/{ws}/invites", tag = "workspaces", security(("bearer" = [])), params(("ws" = String, Path, description = "Workspace id")), responses((status = 200, description = "OK", body = Envelope<Vec<invites::Invite>>), (status = 403, description = "Role or scopes do not allow this", body = ErrorEnvelope)))]
async fn list_invites(State(state): State<AppState>, ws: Workspace) -> ApiResult<Vec<invites::Invite>> {
    Ok(ApiOk::ok(invites::list(&state, &ws).await?))
}

#[derive(Deserialize)]
struct InvitePath {
    invite: String,
}

/// Withdraws an invite.
#[utoipa::path(delete, path = "/v1/workspaces/{ws}/invites/{invite}", tag = "workspaces", security(("bearer" = [])), params(("ws" = String, Path, description = "Workspace id"), ("invite" = String, Path)), responses((status = 200, description = "Revoked"), (status = 404, description = "Not found (or not yours)", body = ErrorEnvelope)))]
async fn revoke_invite(State(state): State<AppState>, ws: Workspace, meta: RequestMeta, Path(p): Path<InvitePath>) -> ApiResult<serde_json::Value> {
    let id = InviteId::parse(&p.invite).map_err(|_| ApiError::NotFound("no such invite".into()))?;
    invites::revoke(&state, &ws, &meta, &id).await?;
    Ok(ApiOk::ok(json!({"revoked": id})))
}

#[derive(Deserialize, ToSchema)]
struct NewKey {
    name: String,
    scopes: Vec<Scope>,
}

/// Creates an API key; its secret is in this answer only.
#[utoipa::path(post, path = "/v1/workspaces/{ws}/api-keys", tag = "workspaces", security(("bearer" = [])), params(("ws" = String, Path, description = "Workspace id")), request_body = NewKey, responses((status = 201, description = "Created", body = Envelope<api_keys::CreatedApiKey>), (status = 403, description = "Role or scopes do not allow this", body = ErrorEnvelope), (status = 422, description = "Invalid input", body = ErrorEnvelope)))]
async fn create_key(State(state): State<AppState>, ws: Workspace, meta: RequestMeta, ApiJson(body): ApiJson<NewKey>) -> ApiResult<api_keys::CreatedApiKey> {
    Ok(ApiOk::created(api_keys::create(&state, &ws, &meta, &body.name, body.scopes).await?))
}

/// API keys (prefixes only).
#[utoipa::path(get, path = "/v1/workspaces/{ws}/api-keys", tag = "workspaces", security(("bearer" = [])), params(("ws" = String, Path, description = "Workspace id")), responses((status = 200, description = "OK", body = Envelope<Vec<api_keys::ApiKey>>), (status = 403, description = "Role or scopes do not allow this", body = ErrorEnvelope)))]
async fn list_keys(State(state): State<AppState>, ws: Workspace) -> ApiResult<Vec<api_keys::ApiKey>> {
    Ok(ApiOk::ok(api_keys::list(&state, &ws).await?))
}

#[derive(Deserialize)]
struct KeyPath {
    key: String,
}

/// Revokes an API key immediately.
#[utoipa::path(delete, path = "/v1/workspaces/{ws}/api-keys/{key}", tag = "workspaces", security(("bearer" = [])), params(("ws" = String, Path, description = "Workspace id"), ("key" = String, Path)), responses((status = 200, description = "OK", body = Envelope<api_keys::ApiKey>), (status = 404, description = "Not found (or not yours)", body = ErrorEnvelope)))]
async fn revoke_key(State(state): State<AppState>, ws: Workspace, meta: RequestMeta, Path(p): Path<KeyPath>) -> ApiResult<api_keys::ApiKey> {
    let id = ApiKeyId::parse(&p.key).map_err(|_| ApiError::NotFound("no such API key".into()))?;
    Ok(ApiOk::ok(api_keys::revoke(&state, &ws, &meta, &id).await?))
}

#[derive(Deserialize, IntoParams)]
struct Paging {
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
    /// 1–100, default 50.
    limit: Option<u32>,
}

#[derive(Serialize, ToSchema)]
struct AuditPage {
    entries: Vec<audit::AuditEntry>,
    /// Pass as `cursor` for the next (older) page; absent on the last page.
    next_cursor: Option<String>,
}

/// The audit log, newest first.
#[utoipa::path(get, path = "/v1/workspaces/{ws}/audit", tag = "workspaces", security(("bearer" = [])), params(("ws" = String, Path, description = "Workspace id"), Paging), responses((status = 200, description = "OK", body = Envelope<AuditPage>), (status = 403, description = "Role or scopes do not allow this", body = ErrorEnvelope), (status = 422, description = "Invalid input", body = ErrorEnvelope)))]
async fn list_audit(State(state): State<AppState>, ws: Workspace, Query(p): Query<Paging>) -> ApiResult<AuditPage> {
    ws.require(crate::auth::Action::AuditRead)?;
    let (entries, next_cursor) = audit::list(&state, &ws, p.cursor.as_deref(), p.limit.unwrap_or(50)).await?;
    Ok(ApiOk::ok(AuditPage { entries, next_cursor }))
}
