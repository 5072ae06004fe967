//! Password reset by email. A request always answers the same way whether or not the email has an
//! account; the mail goes out from a spawned task so the reply's timing does not tell either. The token is
//! single-use, valid for an hour and stored only as its SHA-256; confirming it sets the password and
//! revokes every session of the account.
//!
//! Items: `PWRESET#<sha256>`/`PWRESET` (user id; TTL, which the confirmation checks itself).

use super::accounts;
use super::mailer::Mail;
use super::ratelimit::{self, Limit};
use super::tokens::{opaque_token, token_hash};
use super::types::{Email, NewPassword, UserId};
use crate::http::ApiError;
use crate::ports::{Condition, Item, Key, TableError};
use crate::state::AppState;

pub const RESET_TOKEN_TTL_SECS: i64 = 3600;
/// Reset requests per email address: 3 at once, then one every 10 minutes.
pub const RESET_LIMIT_PER_EMAIL: Limit = Limit::per_minute(3.0, 0.1);
/// Reset requests and confirmations per source IP: 10 at once, then 2 a minute.
pub const RESET_LIMIT_PER_IP: Limit = Limit::per_minute(10.0, 2.0);

fn reset_key(token: &str) -> Key {
    Key::new(format!("PWRESET#{}", token_hash(token)), "PWRESET")
}

/// The same for every address, so it reveals nothing: whether this server can send email at all.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct ResetRequested {
    pub accepted: bool,
    /// False when no mail relay is configured: no email will arrive, ask an administrator.
    pub email_delivery: bool,
}

async fn limit(state: &AppState, bucket: String, limit: Limit) -> Result<(), ApiError> {
    match ratelimit::take(state.table.as_ref(), &bucket, limit, state.clock.now().timestamp_millis()).await? {
        Ok(()) => Ok(()),
        Err(after) => Err(ApiError::RateLimited(after)),
    }
}

/// Starts a reset for `email` if it has an account and email is configured.
pub async fn request(state: &AppState, email: &str, ip: &str) -> Result<ResetRequested, ApiError> {
    limit(state, format!("reset-ip#{ip}"), RESET_LIMIT_PER_IP).await?;
    let answer = ResetRequested { accepted: true, email_delivery: state.mail.is_some() };
    let Ok(email) = Email::parse(email) else { return Ok(answer) };
    limit(state, format!("reset-email#{email}"), RESET_LIMIT_PER_EMAIL).await?;
    let (Some(mail), Some(user)) = (state.mail.clone(), accounts::user_by_email(state, &email).await?) else { return Ok(answer) };
    let token = opaque_token("pwr_");
    let record = Item::new(reset_key(&token))
        .with_attr("user_id", user.as_str())
        .with_expiry(state.clock.epoch_seconds() + RESET_TOKEN_TTL_SECS);
    state.table.put(record, Condition::NotExists).await?;
    let message = Mail {
        to: email,
        subject: "Reset your WebTrigger password".into(),
        text: format!(
            "Someone (hopefully you) asked to reset the password of this WebTrigger account.\n\nChoose a new password here within the next hour:\n{}\n\nIf you did not ask for this, ignore this email; your password stays as it is.\n",
            mail.link(&format!("/reset-password#token={token}"))
        ),
    };
    tokio::spawn(async move {
        if let Err(e) = mail.mailer.send(&message).await {
            tracing::warn!(error = %e, "password reset email not sent");
        }
    });
    Ok(answer)
}

/// Sets a new password with a reset token (once), and signs the account out everywhere.
pub async fn confirm(state: &AppState, token: &str, new_password: &str, ip: &str) -> Result<(), ApiError> {
    limit(state, format!("reset-ip#{ip}"), RESET_LIMIT_PER_IP).await?;
    let gone = || ApiError::NotFound("this reset link is invalid, expired or already used; ask for a new one".into());
    let key = reset_key(token.trim());
    let record = state.table.get(&key).await?.ok_or_else(gone)?;
    let expires_at = record.expires_at.unwrap_or(0);
    let user = record.attrs.get("user_id").and_then(|v| v.as_str()).and_then(|u| UserId::parse(u).ok()).ok_or_else(gone)?;
    if expires_at <= state.clock.epoch_seconds() {
        return Err(gone());
    }
    let mut profile = accounts::load_profile(state, &user).await.map_err(|_| gone())?;
    let password = NewPassword::parse(new_password, &profile.email)?;
    // Spend the token first: of two concurrent confirmations only one gets past this delete.
    match state.table.delete(&key, Condition::Exists).await {
        Ok(()) => {}
        Err(TableError::ConditionFailed) => return Err(gone()),
        Err(e) => return Err(e.into()),
    }
    profile.password_hash = super::password::hash(password.secret()).await;
    accounts::save_profile(state, &user, &profile).await?;
    accounts::revoke_sessions(state, &user, None).await
}
