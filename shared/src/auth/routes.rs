//! `/v1/auth/*`, `/v1/me*` and `/v1/invites/accept`: the `api-auth` route group. The refresh token
//! travels only in an HttpOnly, SameSite=Strict cookie scoped to `/v1/auth`; the access token in the body.

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::Router;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::accounts::{self, Session};
use super::principal::{open_workspace, Principal, RequestMeta};
use super::tokens::{ACCESS_TOKEN_TTL, REFRESH_TOKEN_TTL};
use crate::http::{ApiError, ApiJson, ApiOk, ApiResult};
use crate::state::AppState;
use crate::workspaces::{invites, members};

const REFRESH_COOKIE: &str = "wt_refresh";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/auth/signup", post(sign_up))
        .route("/v1/auth/login", post(log_in))
        .route("/v1/auth/refresh", post(refresh))
        .route("/v1/auth/logout", post(log_out))
        .route("/v1/me", get(me))
        .route("/v1/me/password", post(change_password))
        .route("/v1/me/default-workspace", put(set_default_workspace))
        .route("/v1/invites/accept", post(accept_invite))
}

#[derive(Deserialize)]
struct Credentials {
    email: String,
    password: String,
}

#[derive(Serialize)]
struct TokenResponse {
    user_id: String,
    access_token: String,
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

async fn sign_up(State(state): State<AppState>, meta: RequestMeta, ApiJson(c): ApiJson<Credentials>) -> Result<Response, ApiError> {
    let session = accounts::sign_up(&state, &c.email, &c.password, &meta.user_agent).await?;
    Ok(session_response(&state, StatusCode::CREATED, session))
}

async fn log_in(State(state): State<AppState>, meta: RequestMeta, ApiJson(c): ApiJson<Credentials>) -> Result<Response, ApiError> {
    let session = accounts::log_in(&state, &c.email, &c.password, &meta.ip, &meta.user_agent).await?;
    Ok(session_response(&state, StatusCode::OK, session))
}

async fn refresh(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    let token = refresh_cookie(&headers).ok_or(ApiError::Unauthorized)?;
    let session = accounts::refresh(&state, &token).await?;
    Ok(session_response(&state, StatusCode::OK, session))
}

async fn log_out(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    if let Some(token) = refresh_cookie(&headers) {
        accounts::log_out(&state, &token).await?;
    }
    let mut response = ApiOk::ok(json!({"logged_out": true})).into_response();
    response.headers_mut().insert(header::SET_COOKIE, cookie(&state, "", 0));
    Ok(response)
}

async fn me(State(state): State<AppState>, principal: Principal) -> ApiResult<serde_json::Value> {
    let (user, _) = principal.user()?;
    let profile = accounts::load_profile(&state, user).await?;
    let workspaces = members::list_mine(&state, &principal).await?;
    Ok(ApiOk::ok(json!({
        "id": user, "email": profile.email, "created_at": profile.created_at,
        "default_workspace": profile.default_workspace, "workspaces": workspaces,
    })))
}

#[derive(Deserialize)]
struct PasswordChange {
    current_password: String,
    new_password: String,
}

async fn change_password(State(state): State<AppState>, principal: Principal, ApiJson(body): ApiJson<PasswordChange>) -> ApiResult<serde_json::Value> {
    let (user, sid) = principal.user()?;
    accounts::change_password(&state, user, sid, &body.current_password, &body.new_password).await?;
    Ok(ApiOk::ok(json!({"changed": true, "other_sessions_revoked": true})))
}

#[derive(Deserialize)]
struct DefaultWorkspace {
    workspace_id: String,
}

/// Switches the workspace the dashboard opens by default.
async fn set_default_workspace(State(state): State<AppState>, principal: Principal, ApiJson(body): ApiJson<DefaultWorkspace>) -> ApiResult<serde_json::Value> {
    let (user, _) = principal.user()?;
    let ws = open_workspace(&state, &principal, &body.workspace_id).await?;
    let mut profile = accounts::load_profile(&state, user).await?;
    profile.default_workspace = Some(ws.id().clone());
    accounts::save_profile(&state, user, &profile).await?;
    Ok(ApiOk::ok(json!({"default_workspace": ws.id()})))
}

#[derive(Deserialize)]
struct AcceptInvite {
    token: String,
}

async fn accept_invite(State(state): State<AppState>, principal: Principal, meta: RequestMeta, ApiJson(body): ApiJson<AcceptInvite>) -> ApiResult<members::Member> {
    Ok(ApiOk::created(invites::accept(&state, &principal, &meta, &body.token).await?))
}
