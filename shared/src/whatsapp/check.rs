//! "Test WhatsApp": sends one message straight through a credential (no queue) and explains the
//! provider's answer in words a person can act on.

use serde::Deserialize;
use utoipa::ToSchema;

use super::channels;
use super::credentials::{self, TestOutcome};
use super::providers::{self, ErrorClass, Sender};
use super::types::{Content, CredentialId, PhoneNumber, Provider, Recipient};
use crate::auth::{Action, Workspace};
use crate::http::ApiError;
use crate::state::AppState;

#[derive(Deserialize, ToSchema)]
pub struct TestRequest {
    /// The number to send the test to (E.164).
    pub to: String,
    /// Free-form text (default: a short test line). Outside the 24-hour window use `template`.
    pub text: Option<String>,
    pub template: Option<Content>,
    /// Twilio's sender number; defaults to the first channel using this credential.
    pub from: Option<String>,
}

/// The human-readable meaning of a provider answer.
pub fn explain(class: ErrorClass, provider: &str, code: &str, message: &str) -> String {
    match class {
        ErrorClass::AuthFailed => format!("{provider} refused the credential ({code}: {message}). Check the token or secret and that it has WhatsApp messaging permission."),
        ErrorClass::InvalidRecipient => format!("The number is not reachable on WhatsApp ({code}: {message})."),
        ErrorClass::OutsideWindow => format!("The number has not written to this sender in the last 24 hours, so WhatsApp only allows a template ({code}). Test with a template, or message the sender first."),
        ErrorClass::RateLimited { .. } => format!("{provider} is rate limiting this sender ({code}); try again in a minute."),
        ErrorClass::Transient { .. } => format!("{provider} is not answering properly right now ({code}: {message}); try again shortly."),
        ErrorClass::Permanent => format!("{provider} refused the message ({code}: {message})."),
    }
}

pub async fn test(state: &AppState, ws: &Workspace, id: &CredentialId, req: TestRequest) -> Result<TestOutcome, ApiError> {
    ws.require(Action::ChannelsManage)?;
    let to = Recipient::Phone(PhoneNumber::parse(&req.to)?);
    let (cred, secrets) = credentials::unseal(state, ws.id(), id).await?;
    let content = match req.template {
        Some(t @ Content::Template { .. }) => t,
        Some(_) => return Err(ApiError::Validation("`template` must be a template (\"type\": \"template\")".into())),
        None => Content::Text { body: req.text.unwrap_or_else(|| "WebTrigger test message: your WhatsApp sender works.".into()), preview_url: false },
    };
    content.check_for(cred.provider)?;
    let from = match (&req.from, cred.provider) {
        (Some(f), _) => Some(PhoneNumber::parse(f)?),
        (None, Provider::Twilio) => {
            let channel = channels::list_all(state, ws.id()).await?.into_iter().find(|c| c.credential_id == *id && c.number.is_some());
            Some(channel.and_then(|c| c.number).ok_or_else(|| ApiError::Validation("give `from` (the Twilio sender number) or create a channel for this credential first".into()))?)
        }
        (None, _) => None,
    };
    let provider = providers::for_secrets(&state.whatsapp.http, &state.whatsapp.urls, &secrets);
    let result = provider.send(&Sender { number: from.as_ref().map(PhoneNumber::as_str) }, &to, &content).await;
    let at = state.clock.now().to_rfc3339();
    let outcome = match result {
        Ok(a) => TestOutcome { ok: true, summary: format!("Sent: {} accepted the message (id {}).", cred.provider.as_str(), a.provider_message_id), provider_code: None, at },
        Err(e) => TestOutcome { ok: false, summary: explain(e.class, e.provider, &e.code, &e.message), provider_code: Some(e.code), at },
    };
    credentials::record_test(state, ws.id(), id, &outcome).await?;
    Ok(outcome)
}
