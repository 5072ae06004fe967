//! `/v1/workspaces*`: the `api-workspaces` route group. Every `{ws}` route extracts a `Workspace`
//! (authenticated, member-checked, rate-limited); each domain function checks its `Action`.

use axum::extract::{Path, Query, State};
use axum::routing::{delete, get, patch};
use axum::Router;
use serde::Deserialize;
use serde_json::json;

use super::{api_keys, audit, invites, members};
use crate::auth::{ApiKeyId, InviteId, Principal, RequestMeta, Role, Scope, UserId, Workspace};
use crate::http::{ApiError, ApiJson, ApiOk, ApiResult};
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/workspaces", get(list_mine).post(create))
        .route("/v1/workspaces/{ws}", get(get_one).patch(rename))
        .route("/v1/workspaces/{ws}/members", get(list_members))
        .route("/v1/workspaces/{ws}/members/{user}", patch(change_role).delete(remove_member))
        .route("/v1/workspaces/{ws}/invites", get(list_invites).post(create_invite))
        .route("/v1/workspaces/{ws}/invites/{invite}", delete(revoke_invite))
        .route("/v1/workspaces/{ws}/api-keys", get(list_keys).post(create_key))
        .route("/v1/workspaces/{ws}/api-keys/{key}", delete(revoke_key))
        .route("/v1/workspaces/{ws}/audit", get(list_audit))
}

#[derive(Deserialize)]
struct Name {
    name: String,
}

async fn create(State(state): State<AppState>, principal: Principal, meta: RequestMeta, ApiJson(body): ApiJson<Name>) -> ApiResult<members::WorkspaceView> {
    Ok(ApiOk::created(members::create(&state, &principal, &meta, &body.name).await?))
}

async fn list_mine(State(state): State<AppState>, principal: Principal) -> ApiResult<Vec<members::WorkspaceView>> {
    Ok(ApiOk::ok(members::list_mine(&state, &principal).await?))
}

async fn get_one(State(state): State<AppState>, ws: Workspace) -> ApiResult<members::WorkspaceView> {
    Ok(ApiOk::ok(members::get(&state, &ws).await?))
}

async fn rename(State(state): State<AppState>, ws: Workspace, meta: RequestMeta, ApiJson(body): ApiJson<Name>) -> ApiResult<members::WorkspaceView> {
    Ok(ApiOk::ok(members::rename(&state, &ws, &meta, &body.name).await?))
}

async fn list_members(State(state): State<AppState>, ws: Workspace) -> ApiResult<Vec<members::Member>> {
    Ok(ApiOk::ok(members::list_members(&state, &ws).await?))
}

#[derive(Deserialize)]
struct MemberPath {
    user: String,
}

#[derive(Deserialize)]
struct RoleChange {
    role: Role,
}

fn member_id(raw: &str) -> Result<UserId, ApiError> {
    UserId::parse(raw).map_err(|_| ApiError::NotFound("no such member".into()))
}

async fn change_role(State(state): State<AppState>, ws: Workspace, meta: RequestMeta, Path(p): Path<MemberPath>, ApiJson(body): ApiJson<RoleChange>) -> ApiResult<members::Member> {
    Ok(ApiOk::ok(members::change_role(&state, &ws, &meta, &member_id(&p.user)?, body.role).await?))
}

async fn remove_member(State(state): State<AppState>, ws: Workspace, meta: RequestMeta, Path(p): Path<MemberPath>) -> ApiResult<serde_json::Value> {
    members::remove(&state, &ws, &meta, &member_id(&p.user)?).await?;
    Ok(ApiOk::ok(json!({"removed": p.user})))
}

#[derive(Deserialize)]
struct NewInvite {
    email: String,
    role: Role,
}

async fn create_invite(State(state): State<AppState>, ws: Workspace, meta: RequestMeta, ApiJson(body): ApiJson<NewInvite>) -> ApiResult<invites::CreatedInvite> {
    Ok(ApiOk::created(invites::create(&state, &ws, &meta, &body.email, body.role).await?))
}

async fn list_invites(State(state): State<AppState>, ws: Workspace) -> ApiResult<Vec<invites::Invite>> {
    Ok(ApiOk::ok(invites::list(&state, &ws).await?))
}

#[derive(Deserialize)]
struct InvitePath {
    invite: String,
}

async fn revoke_invite(State(state): State<AppState>, ws: Workspace, meta: RequestMeta, Path(p): Path<InvitePath>) -> ApiResult<serde_json::Value> {
    let id = InviteId::parse(&p.invite).map_err(|_| ApiError::NotFound("no such invite".into()))?;
    invites::revoke(&state, &ws, &meta, &id).await?;
    Ok(ApiOk::ok(json!({"revoked": id})))
}

#[derive(Deserialize)]
struct NewKey {
    name: String,
    scopes: Vec<Scope>,
}

async fn create_key(State(state): State<AppState>, ws: Workspace, meta: RequestMeta, ApiJson(body): ApiJson<NewKey>) -> ApiResult<api_keys::CreatedApiKey> {
    Ok(ApiOk::created(api_keys::create(&state, &ws, &meta, &body.name, body.scopes).await?))
}

async fn list_keys(State(state): State<AppState>, ws: Workspace) -> ApiResult<Vec<api_keys::ApiKey>> {
    Ok(ApiOk::ok(api_keys::list(&state, &ws).await?))
}

#[derive(Deserialize)]
struct KeyPath {
    key: String,
}

async fn revoke_key(State(state): State<AppState>, ws: Workspace, meta: RequestMeta, Path(p): Path<KeyPath>) -> ApiResult<api_keys::ApiKey> {
    let id = ApiKeyId::parse(&p.key).map_err(|_| ApiError::NotFound("no such API key".into()))?;
    Ok(ApiOk::ok(api_keys::revoke(&state, &ws, &meta, &id).await?))
}

#[derive(Deserialize)]
struct Paging {
    cursor: Option<String>,
    limit: Option<u32>,
}

async fn list_audit(State(state): State<AppState>, ws: Workspace, Query(p): Query<Paging>) -> ApiResult<serde_json::Value> {
    ws.require(crate::auth::Action::AuditRead)?;
    let (entries, next) = audit::list(&state, &ws, p.cursor.as_deref(), p.limit.unwrap_or(50)).await?;
    Ok(ApiOk::ok(json!({"entries": entries, "next_cursor": next})))
}
