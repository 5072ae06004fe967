//! `/v1/auth/*`, `/v1/me*` and `/v1/invites/accept`: the `api-auth` route group. The refresh token
//! travels only in an HttpOnly, SameSite=Strict cookie scoped to `/v1/auth`; the access token in the body.

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use crate::http::api_router::{routes, ApiRouter};

use super::accounts::{self, Session};
use super::principal::{open_workspace, Principal, RequestMeta};
use super::tokens::{ACCESS_TOKEN_TTL, REFRESH_TOKEN_TTL};
use crate::http::{ApiError, ApiJson, ApiOk, ApiResult};
use crate::openapi::{Envelope, ErrorEnvelope};
use crate::state::AppState;
use crate::workspaces::{invites, members};

const REFRESH_COOKIE: &str = "wt_refresh";

/// The auth route group with its documentation.
pub fn api() -> ApiRouter<AppState> {
    ApiRouter::new()
        .routes(routes!(sign_up))
        .routes(routes!(log_in))
        .routes(routes!(refresh))
        .routes(routes!(log_out))
        .routes(routes!(me))
        .routes(routes!(change_password))
        .routes(routes!(set_default_workspace))
        .routes(routes!(accept_invite))
        .routes(routes!(request_password_reset))
        .routes(routes!(confirm_password_reset))
        .merge(crate::push::devices::api())
}

/// The `api-auth` route group.
pub fn routes() -> Router<AppState> {
    api().split_for_parts().0
}

#[derive(Deserialize, ToSchema)]
struct Credentials {
    email: String,
    password: String,
}

#[derive(Serialize, ToSchema)]
struct TokenResponse {
    user_id: String,
    /// Short-lived (10 minutes); the refresh token is in the `wt_refresh` HttpOnly cookie.
    access_token: String,
    #[schema(value_type = String, example = "Bearer")]
    token_type: &'static str,
    expires_in: u64,
}

fn cookie(state: &AppState, value: &str, max_age: u64) -> HeaderValue {
    let secure = if state.cookie_secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!("{REFRESH_COOKIE}={value}; HttpOnly; SameSite=Strict; Path=/v1/auth; Max-Age={max_age}{secure}")).expect("cookie is ASCII")
}

fn session_response(state: &AppState, status: StatusCode, session: Session) -> Response {
    let body = TokenResponse { user_id: session.user_id.to_string(), access_token: session.access_token, token_type: "Bearer", expires_in: ACCESS_TOKEN_TTL.as_secs() };
    let mut response = ApiOk(status, body).into_response();
    response.headers_mut().insert(header::SET_COOKIE, cookie(state, &session.refresh_token, REFRESH_TOKEN_TTL.as_secs()));
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn refresh_cookie(headers: &HeaderMap) -> Option<String> {
    headers.get_all(header::COOKIE).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(';')).find_map(|pair| {
        let (name, value) = pair.trim().split_once('=')?;
        (name == REFRESH_COOKIE && !value.is_empty()).then(|| value.to_owned())
    })
}

/// Creates an account (argon2id) and starts a session.
#[utoipa::path(post, path = "/v1/auth/signup", tag = "auth", request_body = Credentials, responses(
    (status = 201, description = "Created", body = Envelope<TokenResponse>), (status = 409, description = "Email taken", body = ErrorEnvelope),
    (status = 422, description = "Malformed email or weak password", body = ErrorEnvelope)))]
async fn sign_up(State(state): State<AppState>, meta: RequestMeta, ApiJson(c): ApiJson<Credentials>) -> Result<Response, ApiError> {
    let session = accounts::sign_up(&state, &c.email, &c.password, &meta.user_agent).await?;
    Ok(session_response(&state, StatusCode::CREATED, session))
}

/// Starts a session. Unknown email and wrong password answer alike; failures are rate limited.
#[utoipa::path(post, path = "/v1/auth/login", tag = "auth", request_body = Credentials, responses(
    (status = 200, description = "OK", body = Envelope<TokenResponse>), (status = 401, description = "Not authenticated, or bad credentials", body = ErrorEnvelope), (status = 429, description = "Rate limited; see Retry-After", body = ErrorEnvelope)))]
async fn log_in(State(state): State<AppState>, meta: RequestMeta, ApiJson(c): ApiJson<Credentials>) -> Result<Response, ApiError> {
    let session = accounts::log_in(&state, &c.email, &c.password, &meta.ip, &meta.user_agent).await?;
    Ok(session_response(&state, StatusCode::OK, session))
}

/// Rotates the refresh cookie and issues a new access token; a reused refresh token ends the session.
#[utoipa::path(post, path = "/v1/auth/refresh", tag = "auth", responses((status = 200, description = "OK", body = Envelope<TokenResponse>), (status = 401, description = "Not authenticated, or bad credentials", body = ErrorEnvelope)))]
async fn refresh(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    let token = refresh_cookie(&headers).ok_or(ApiError::Unauthorized)?;
    let session = accounts::refresh(&state, &token).await?;
    Ok(session_response(&state, StatusCode::OK, session))
}

/// Ends the session of the refresh cookie and clears it.
#[utoipa::path(post, path = "/v1/auth/logout", tag = "auth", responses((status = 200, description = "Logged out")))]
async fn log_out(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    if let Some(token) = refresh_cookie(&headers) {
        accounts::log_out(&state, &token).await?;
    }
    let mut response = ApiOk::ok(json!({"logged_out": true})).into_response();
    response.headers_mut().insert(header::SET_COOKIE, cookie(&state, "", 0));
    Ok(response)
}

#[derive(Serialize, ToSchema)]
struct MeView {
    id: super::UserId,
    email: super::Email,
    created_at: String,
    default_workspace: Option<super::WorkspaceId>,
    workspaces: Vec<members::WorkspaceView>,
}

/// The signed-in user and their workspaces.
#[utoipa::path(get, path = "/v1/me", tag = "auth", security(("bearer" = [])), responses((status = 200, description = "OK", body = Envelope<MeView>), (status = 401, description = "Not authenticated, or bad credentials", body = ErrorEnvelope)))]
async fn me(State(state): State<AppState>, principal: Principal) -> ApiResult<MeView> {
    let (user, _) = principal.user()?;
    let profile = accounts::load_profile(&state, user).await?;
    let workspaces = members::list_mine(&state, &principal).await?;
    Ok(ApiOk::ok(MeView { id: user.clone(), email: profile.email, created_at: profile.created_at, default_workspace: profile.default_workspace, workspaces }))
}

#[derive(Deserialize, ToSchema)]
struct PasswordChange {
    current_password: String,
    new_password: String,
}

/// Changes the password and revokes every other session.
#[utoipa::path(post, path = "/v1/me/password", tag = "auth", security(("bearer" = [])), request_body = PasswordChange, responses(
    (status = 200, description = "Changed"), (status = 401, description = "Not authenticated, or bad credentials", body = ErrorEnvelope), (status = 422, description = "Invalid input", body = ErrorEnvelope)))]
async fn change_password(State(state): State<AppState>, principal: Principal, ApiJson(body): ApiJson<PasswordChange>) -> ApiResult<serde_json::Value> {
    let (user, sid) = principal.user()?;
    accounts::change_password(&state, user, sid, &body.current_password, &body.new_password).await?;
    Ok(ApiOk::ok(json!({"changed": true, "other_sessions_revoked": true})))
}

#[derive(Deserialize, ToSchema)]
struct DefaultWorkspace {
    workspace_id: String,
}

/// Switches the workspace the dashboard opens by default.
#[utoipa::path(put, path = "/v1/me/default-workspace", tag = "auth", security(("bearer" = [])), request_body = DefaultWorkspace, responses(
    (status = 200, description = "Switched"), (status = 404, description = "Not found (or not yours)", body = ErrorEnvelope)))]
async fn set_default_workspace(State(state): State<AppState>, principal: Principal, ApiJson(body): ApiJson<DefaultWorkspace>) -> ApiResult<serde_json::Value> {
    let (user, _) = principal.user()?;
    let ws = open_workspace(&state, &principal, &body.workspace_id).await?;
    let mut profile = accounts::load_profile(&state, user).await?;
    profile.default_workspace = Some(ws.id().clone());
    accounts::save_profile(&state, user, &profile).await?;
    Ok(ApiOk::ok(json!({"default_workspace": ws.id()})))
}

#[derive(Deserialize, ToSchema)]
struct AcceptInvite {
    token: String,
}

/// Joins a workspace with an invite token addressed to the signed-in user's email.
#[utoipa::path(post, path = "/v1/invites/accept", tag = "workspaces", security(("bearer" = [])), request_body = AcceptInvite, responses(
    (status = 201, description = "Created", body = Envelope<members::Member>), (status = 404, description = "Not found (or not yours)", body = ErrorEnvelope), (status = 409, description = "Conflict", body = ErrorEnvelope), (status = 422, description = "Invalid input", body = ErrorEnvelope)))]
async fn accept_invite(State(state): State<AppState>, principal: Principal, meta: RequestMeta, ApiJson(body): ApiJson<AcceptInvite>) -> ApiResult<members::Member> {
    Ok(ApiOk::created(invites::accept(&state, &principal, &meta, &body.token).await?))
}

#[derive(Deserialize, ToSchema)]
struct ResetRequest {
    email: String,
}

/// Emails a one-hour, single-use reset link if the address has an account. Always 202, whether or not it
/// does; `email_delivery` false means this server sends no email at all. Rate limited per email and IP.
#[utoipa::path(post, path = "/v1/auth/password-reset", tag = "auth", request_body = ResetRequest, responses(
    (status = 202, description = "Accepted", body = Envelope<super::reset::ResetRequested>), (status = 429, description = "Rate limited; see Retry-After", body = ErrorEnvelope)))]
async fn request_password_reset(State(state): State<AppState>, meta: RequestMeta, ApiJson(body): ApiJson<ResetRequest>) -> ApiResult<super::reset::ResetRequested> {
    Ok(ApiOk(StatusCode::ACCEPTED, super::reset::request(&state, &body.email, &meta.ip).await?))
}

#[derive(Deserialize, ToSchema)]
struct ResetConfirm {
    token: String,
    new_password: String,
}

/// Sets a new password with the emailed token (once) and ends every session of the account.
#[utoipa::path(post, path = "/v1/auth/password-reset/confirm", tag = "auth", request_body = ResetConfirm, responses(
    (status = 200, description = "Password changed"), (status = 404, description = "Invalid, expired or used token", body = ErrorEnvelope),
    (status = 422, description = "Weak password", body = ErrorEnvelope), (status = 429, description = "Rate limited; see Retry-After", body = ErrorEnvelope)))]
async fn confirm_password_reset(State(state): State<AppState>, meta: RequestMeta, ApiJson(body): ApiJson<ResetConfirm>) -> ApiResult<serde_json::Value> {
    super::reset::confirm(&state, &body.token, &body.new_password, &meta.ip).await?;
    Ok(ApiOk::ok(json!({"reset": true, "sessions_revoked": true})))
}
