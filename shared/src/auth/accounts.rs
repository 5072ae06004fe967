//! Accounts and sessions. A session is a refresh-token family: each refresh marks the presented token
//! used and issues its successor; presenting a used token again revokes the whole session.
//!
//! Items: `USER#<id>`/`PROFILE`, pointer `EMAIL#<email>`/`EMAIL` (same transaction), `USER#<id>`/`SESSION#<sid>`,
//! `REFRESH#<sha256>`/`REFRESH`.

use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use super::password;
use super::ratelimit::{self, Limit};
use super::tokens::{opaque_token, token_hash, REFRESH_TOKEN_TTL};
use super::types::{Email, NewPassword, UserId, WorkspaceId};
use crate::http::ApiError;
use crate::ports::{Condition, Item, Key, Query, TableError, TxWrite};
use crate::state::AppState;

/// Failed logins allowed per email: 5 at once, then one every 3 minutes.
pub const LOGIN_LIMIT_PER_EMAIL: Limit = Limit::per_minute(5.0, 1.0 / 3.0);
/// Failed logins allowed per source IP: 20 at once, then 2 a minute.
pub const LOGIN_LIMIT_PER_IP: Limit = Limit::per_minute(20.0, 2.0);

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Profile {
    pub email: Email,
    pub password_hash: String,
    pub created_at: String,
    #[serde(default)]
    pub default_workspace: Option<WorkspaceId>,
}

/// What a successful sign-up, login or refresh hands the client.
#[derive(Debug, Clone)]
pub struct Session {
    pub user_id: UserId,
    pub session_id: String,
    pub access_token: String,
    pub refresh_token: String,
}

pub fn profile_key(user: &UserId) -> Key {
    Key::new(format!("USER#{user}"), "PROFILE")
}

fn email_key(email: &Email) -> Key {
    Key::new(format!("EMAIL#{email}"), "EMAIL")
}

fn session_key(user: &UserId, sid: &str) -> Key {
    Key::new(format!("USER#{user}"), format!("SESSION#{sid}"))
}

fn refresh_key(token: &str) -> Key {
    Key::new(format!("REFRESH#{}", token_hash(token)), "REFRESH")
}

fn unauthorized() -> ApiError {
    ApiError::Unauthorized
}

/// The account registered under an email, if any.
pub async fn user_by_email(state: &AppState, email: &Email) -> Result<Option<UserId>, ApiError> {
    let pointer = state.table.get(&email_key(email)).await?;
    Ok(pointer.and_then(|p| p.attrs.get("user_id")?.as_str().and_then(|u| UserId::parse(u).ok())))
}

pub async fn load_profile(state: &AppState, user: &UserId) -> Result<Profile, ApiError> {
    let item = state.table.get(&profile_key(user)).await?.ok_or_else(unauthorized)?;
    Ok(item.parse()?)
}

pub async fn save_profile(state: &AppState, user: &UserId, profile: &Profile) -> Result<(), ApiError> {
    state.table.put(Item::of(profile_key(user), profile), Condition::Exists).await?;
    Ok(())
}

pub async fn sign_up(state: &AppState, email: &str, password: &str, client: &str) -> Result<Session, ApiError> {
    let email = Email::parse(email)?;
    let password = NewPassword::parse(password, &email)?;
    let user = UserId::new(state.clock.new_id());
    let profile = Profile {
        email: email.clone(),
        password_hash: password::hash(password.secret()).await,
        created_at: state.clock.now().to_rfc3339(),
        default_workspace: None,
    };
    let writes = vec![
        TxWrite::Put { item: Item::new(email_key(&email)).with_attr("user_id", user.as_str()), condition: Condition::NotExists },
        TxWrite::Put { item: Item::of(profile_key(&user), &profile), condition: Condition::NotExists },
    ];
    match state.table.transact(writes).await {
        Ok(()) => {}
        Err(TableError::TransactionCancelled { index: 0 }) => return Err(ApiError::Conflict("an account with this email already exists".into())),
        Err(e) => return Err(e.into()),
    }
    start_session(state, &user, client).await
}

/// Logs in. Unknown email and wrong password answer the same error after the same work; failures drain
/// per-email and per-IP buckets, and an empty bucket answers 429 before any password check.
pub async fn log_in(state: &AppState, email: &str, password: &str, ip: &str, client: &str) -> Result<Session, ApiError> {
    let now_ms = state.clock.now().timestamp_millis();
    let email_bucket = format!("login-email#{}", email.trim().to_lowercase());
    let ip_bucket = format!("login-ip#{ip}");
    for (bucket, limit) in [(&email_bucket, LOGIN_LIMIT_PER_EMAIL), (&ip_bucket, LOGIN_LIMIT_PER_IP)] {
        if let Err(after) = ratelimit::check(state.table.as_ref(), bucket, limit, now_ms).await? {
            return Err(ApiError::RateLimited(after));
        }
    }
    let secret = SecretString::from(password.to_owned());
    let user = match Email::parse(email) {
        Ok(email) => user_by_email(state, &email).await?,
        Err(_) => None,
    };
    let verified = match user {
        Some(user) => {
            let profile = load_profile(state, &user).await?;
            password::verify(&secret, &profile.password_hash).await.then_some(user)
        }
        _ => {
            password::verify(&secret, password::decoy_hash()).await;
            None
        }
    };
    match verified {
        Some(user) => start_session(state, &user, client).await,
        None => {
            for (bucket, limit) in [(&email_bucket, LOGIN_LIMIT_PER_EMAIL), (&ip_bucket, LOGIN_LIMIT_PER_IP)] {
                let _ = ratelimit::take(state.table.as_ref(), bucket, limit, now_ms).await?;
            }
            tracing::info!(ip, "login failed");
            Err(ApiError::InvalidCredentials)
        }
    }
}

async fn start_session(state: &AppState, user: &UserId, client: &str) -> Result<Session, ApiError> {
    let sid = state.clock.new_id().to_string().to_lowercase();
    let expires = state.clock.epoch_seconds() + REFRESH_TOKEN_TTL.as_secs() as i64;
    let session = Item::new(session_key(user, &sid))
        .with_attr("created_at", state.clock.now().to_rfc3339())
        .with_attr("client", client.chars().take(200).collect::<String>())
        .with_attr("revoked", false)
        .with_expiry(expires);
    state.table.put(session, Condition::NotExists).await?;
    issue(state, user, &sid).await
}

async fn issue(state: &AppState, user: &UserId, sid: &str) -> Result<Session, ApiError> {
    let refresh_token = opaque_token("rt_");
    let expires = state.clock.epoch_seconds() + REFRESH_TOKEN_TTL.as_secs() as i64;
    let record = Item::new(refresh_key(&refresh_token))
        .with_attr("user_id", user.as_str())
        .with_attr("session_id", sid)
        .with_attr("used", false)
        .with_version(1)
        .with_expiry(expires);
    state.table.put(record, Condition::NotExists).await?;
    let access_token = state.tokens.issue(state.secrets.as_ref(), user, sid, state.clock.epoch_seconds()).await.map_err(|e| ApiError::Unavailable(e.to_string()))?;
    Ok(Session { user_id: user.clone(), session_id: sid.to_owned(), access_token, refresh_token })
}

async fn session_live(state: &AppState, user: &UserId, sid: &str) -> Result<bool, ApiError> {
    Ok(state.table.get(&session_key(user, sid)).await?.is_some_and(|s| s.attrs.get("revoked") == Some(&false.into())))
}

pub async fn revoke_session(state: &AppState, user: &UserId, sid: &str) -> Result<(), ApiError> {
    if let Some(mut session) = state.table.get(&session_key(user, sid)).await? {
        session.attrs.insert("revoked".into(), true.into());
        state.table.put(session, Condition::Exists).await?;
    }
    Ok(())
}

/// Rotates a refresh token. Reuse of an already-rotated token revokes its session (token theft).
pub async fn refresh(state: &AppState, refresh_token: &str) -> Result<Session, ApiError> {
    let stored = state.table.get(&refresh_key(refresh_token)).await?.ok_or_else(unauthorized)?;
    let user = stored.attrs.get("user_id").and_then(|v| v.as_str()).map(UserId::parse).ok_or_else(unauthorized)?.map_err(|_| unauthorized())?;
    let sid = stored.attrs.get("session_id").and_then(|v| v.as_str()).ok_or_else(unauthorized)?.to_owned();
    let reused = || async {
        tracing::warn!(user = %user, session = %sid, "refresh token reuse detected; revoking the session");
        revoke_session(state, &user, &sid).await?;
        Err::<Session, ApiError>(unauthorized())
    };
    if stored.attrs.get("used") != Some(&false.into()) {
        return reused().await;
    }
    if !session_live(state, &user, &sid).await? {
        return Err(unauthorized());
    }
    let mut used = stored.clone();
    used.attrs.insert("used".into(), true.into());
    used.version = stored.version + 1;
    match state.table.put(used, Condition::VersionIs(stored.version)).await {
        Ok(()) => issue(state, &user, &sid).await,
        Err(TableError::ConditionFailed) => reused().await,
        Err(e) => Err(e.into()),
    }
}

/// Ends the session a refresh token belongs to; an unknown token is not an error (already logged out).
pub async fn log_out(state: &AppState, refresh_token: &str) -> Result<(), ApiError> {
    let Some(stored) = state.table.get(&refresh_key(refresh_token)).await? else { return Ok(()) };
    let user = stored.attrs.get("user_id").and_then(|v| v.as_str()).and_then(|u| UserId::parse(u).ok());
    let sid = stored.attrs.get("session_id").and_then(|v| v.as_str());
    if let (Some(user), Some(sid)) = (user, sid) {
        revoke_session(state, &user, sid).await?;
    }
    Ok(())
}

/// Changes the password after checking the current one, and revokes every other session.
pub async fn change_password(state: &AppState, user: &UserId, current_sid: &str, current: &str, new: &str) -> Result<(), ApiError> {
    let mut profile = load_profile(state, user).await?;
    if !password::verify(&SecretString::from(current.to_owned()), &profile.password_hash).await {
        return Err(ApiError::InvalidCredentials);
    }
    let new = NewPassword::parse(new, &profile.email)?;
    profile.password_hash = password::hash(new.secret()).await;
    save_profile(state, user, &profile).await?;
    revoke_sessions(state, user, Some(current_sid)).await
}

/// Revokes every live session of a user except `keep` (the caller's own, when it stays signed in).
pub async fn revoke_sessions(state: &AppState, user: &UserId, keep: Option<&str>) -> Result<(), ApiError> {
    let mut cursor = None;
    loop {
        let page = state.table.query(Query::partition(format!("USER#{user}")).prefix("SESSION#").after(cursor)).await?;
        for session in page.items {
            let sid = session.key.sk.trim_start_matches("SESSION#");
            if Some(sid) != keep && session.attrs.get("revoked") == Some(&false.into()) {
                revoke_session(state, user, sid).await?;
            }
        }
        match page.next {
            Some(next) => cursor = Some(next),
            None => return Ok(()),
        }
    }
}
