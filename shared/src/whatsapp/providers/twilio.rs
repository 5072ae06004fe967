//! Twilio Programmable Messaging for WhatsApp: form-encoded `Messages.json`, `whatsapp:` addressing,
//! templates by ContentSid, attachments as a `MediaUrl` Twilio fetches from this platform (providers.md section 2).

use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::{retry_after, Accepted, ErrorClass, ProviderError, Sender, TwilioAuth, Upload, WhatsAppProvider};
use crate::whatsapp::types::{Content, Provider, Recipient};

pub(super) struct Twilio<'a> {
    pub http: &'a reqwest::Client,
    pub base: &'a str,
    pub account_sid: &'a str,
    pub auth: &'a TwilioAuth,
}

#[derive(Deserialize)]
struct MessageResource {
    sid: String,
}

/// Twilio's error body: `{"code": 21211, "message": "…", "more_info": "…", "status": 400}`.
#[derive(Deserialize)]
struct RestException {
    code: Option<i64>,
    message: Option<String>,
}

/// Twilio error code → handling (providers.md 2.2).
pub fn classify(http_status: u16, code: Option<i64>) -> ErrorClass {
    match code {
        Some(20429 | 63017 | 63018) => ErrorClass::RateLimited { retry_after: None },
        Some(63016) => ErrorClass::OutsideWindow,
        Some(21211 | 21614 | 63003 | 63024) => ErrorClass::InvalidRecipient,
        Some(20003) => ErrorClass::AuthFailed,
        _ if http_status == 429 => ErrorClass::RateLimited { retry_after: None },
        _ if http_status >= 500 => ErrorClass::Transient { retry_after: None },
        _ if http_status == 401 => ErrorClass::AuthFailed,
        _ => ErrorClass::Permanent,
    }
}

fn form(from: &Sender<'_>, to: &Recipient, content: &Content) -> Vec<(&'static str, String)> {
    let mut f = vec![("To", format!("whatsapp:{}", to.as_str()))];
    if let Some(number) = from.number {
        f.push(("From", format!("whatsapp:{number}")));
    }
    match content {
        Content::Text { body, .. } => f.push(("Body", body.clone())),
        Content::Media { url, caption, .. } => {
            f.push(("MediaUrl", url.clone()));
            if let Some(c) = caption {
                f.push(("Body", c.clone()));
            }
        }
        Content::Template { content_sid, params: Some(params), .. } => {
            f.push(("ContentSid", content_sid.clone().unwrap_or_default()));
            if !params.content_variables.is_empty() {
                f.push(("ContentVariables", serde_json::to_string(&params.content_variables).unwrap_or_default()));
            }
        }
        Content::Template { content_sid, variables, .. } => {
            f.push(("ContentSid", content_sid.clone().unwrap_or_default()));
            if !variables.is_empty() {
                let vars: serde_json::Map<String, serde_json::Value> = variables.iter().enumerate().map(|(i, v)| ((i + 1).to_string(), v.clone().into())).collect();
                f.push(("ContentVariables", serde_json::Value::Object(vars).to_string()));
            }
        }
        // Refused before queueing (capability matrix); kept total for safety.
        Content::Interactive { body, .. } | Content::List { body, .. } => f.push(("Body", body.clone())),
        // Sent through `send_attachment` (with its MediaUrl); a stray one goes out as its caption.
        Content::Attachment { caption, .. } => f.push(("Body", caption.clone().unwrap_or_default())),
    }
    f
}

/// Twilio's REST error answer as a classified provider error.
pub(super) fn rest_error(status: u16, body: &[u8], after: Option<std::time::Duration>) -> ProviderError {
    let parsed: Option<RestException> = serde_json::from_slice(body).ok();
    let code = parsed.as_ref().and_then(|e| e.code);
    let mut class = classify(status, code);
    if let ErrorClass::RateLimited { retry_after } | ErrorClass::Transient { retry_after } = &mut class {
        *retry_after = after;
    }
    ProviderError {
        provider: "twilio",
        class,
        code: code.map_or_else(|| format!("http_{status}"), |c| c.to_string()),
        message: parsed.and_then(|e| e.message).unwrap_or_else(|| format!("HTTP {status}")),
        http_status: Some(status),
    }
}

/// HTTP Basic credentials for Twilio REST calls: the API key when there is one, else the account and token.
pub(super) fn basic<'a>(account_sid: &'a str, auth: &'a TwilioAuth) -> (&'a str, &'a SecretString) {
    match auth {
        TwilioAuth::AuthToken(token) => (account_sid, token),
        TwilioAuth::ApiKey { sid, secret } => (sid, secret),
    }
}

#[async_trait]
impl WhatsAppProvider for Twilio<'_> {
    fn provider(&self) -> Provider {
        Provider::Twilio
    }

    async fn send(&self, from: &Sender<'_>, to: &Recipient, content: &Content) -> Result<Accepted, ProviderError> {
        self.post(&form(from, to, content)).await
    }

    async fn send_attachment(&self, from: &Sender<'_>, to: &Recipient, file: &Upload<'_>) -> Result<Accepted, ProviderError> {
        let Some(link) = file.link else {
            return Err(ProviderError { provider: "twilio", class: ErrorClass::Permanent, code: "public_url_missing".into(), message: "Twilio fetches attachments from this platform; set WEBTRIGGER_PUBLIC_URL".into(), http_status: None });
        };
        self.post(&attachment_form(from, to, link, file.caption)).await
    }
}

/// `MediaUrl` (the signed link) with the caption as `Body`.
fn attachment_form(from: &Sender<'_>, to: &Recipient, link: &str, caption: Option<&str>) -> Vec<(&'static str, String)> {
    let mut f = form(from, to, &Content::Media { kind: crate::whatsapp::types::MediaKind::Image, url: link.to_owned(), caption: caption.map(str::to_owned), filename: None });
    f.retain(|(k, _)| *k != "Body" || caption.is_some());
    f
}

impl Twilio<'_> {
    async fn post(&self, form: &[(&'static str, String)]) -> Result<Accepted, ProviderError> {
        let url = format!("{}/2010-04-01/Accounts/{}/Messages.json", self.base.trim_end_matches('/'), self.account_sid);
        let (user, password) = basic(self.account_sid, self.auth);
        let response = self
            .http
            .post(url)
            .basic_auth(user, Some(password.expose_secret()))
            .form(form)
            .send()
            .await
            .map_err(|e| ProviderError::network(Provider::Twilio, &e))?;
        let status = response.status().as_u16();
        let after = retry_after(response.headers());
        let body = response.bytes().await.map_err(|e| ProviderError::network(Provider::Twilio, &e))?;
        if (200..300).contains(&status) {
            return serde_json::from_slice::<MessageResource>(&body).map(|m| Accepted { provider_message_id: m.sid }).map_err(|_| ProviderError {
                provider: "twilio",
                class: ErrorClass::Transient { retry_after: None },
                code: "invalid_response".into(),
                message: "Twilio accepted the request but its answer had no message sid".into(),
                http_status: Some(status),
            });
        }
        Err(rest_error(status, &body, after))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_not_statuses_decide() {
        assert_eq!(classify(400, Some(63018)), ErrorClass::RateLimited { retry_after: None });
        assert_eq!(classify(429, Some(20429)), ErrorClass::RateLimited { retry_after: None });
        assert_eq!(classify(400, Some(63016)), ErrorClass::OutsideWindow);
        assert_eq!(classify(400, Some(21211)), ErrorClass::InvalidRecipient);
        assert_eq!(classify(401, Some(20003)), ErrorClass::AuthFailed);
        assert_eq!(classify(503, None), ErrorClass::Transient { retry_after: None });
        assert_eq!(classify(400, Some(21602)), ErrorClass::Permanent);
    }

    #[test]
    fn template_variables_are_numbered() {
        let to = Recipient::parse("+14155552671").unwrap();
        let content = Content::Template { name: None, language: None, content_sid: Some(format!("HX{}", "a".repeat(32))), variables: vec!["Ada".into(), "12:00".into()], params: None };
        let f = form(&Sender { number: Some("+15005550006") }, &to, &content);
        assert!(f.contains(&("To", "whatsapp:+14155552671".into())) && f.contains(&("From", "whatsapp:+15005550006".into())));
        assert!(f.contains(&("ContentVariables", r#"{"1":"Ada","2":"12:00"}"#.into())));
    }
}
