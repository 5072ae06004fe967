//! Meta WhatsApp Cloud API: `POST /{phone-number-id}/messages` with a bearer token; text, media,
//! template and interactive bodies; errors by Graph `error.code` (providers.md section 3).

use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{retry_after, Accepted, ErrorClass, ProviderError, Sender, WhatsAppProvider};
use crate::whatsapp::types::{Content, Provider, Recipient};

pub(super) struct Meta<'a> {
    pub http: &'a reqwest::Client,
    pub base: &'a str,
    pub access_token: &'a SecretString,
    pub phone_number_id: &'a str,
}

#[derive(Deserialize)]
struct SendResponse {
    messages: Vec<SentId>,
}

#[derive(Deserialize)]
struct SentId {
    id: String,
}

#[derive(Deserialize)]
struct GraphErrorBody {
    error: GraphError,
}

#[derive(Deserialize)]
struct GraphError {
    code: Option<i64>,
    message: Option<String>,
    is_transient: Option<bool>,
    error_data: Option<Value>,
}

/// Graph error code → handling (providers.md 3.2): rate limits at every level pause the channel;
/// 131047 is the 24-hour window; 131026 an undeliverable number; 190 a dead token.
pub fn classify(code: Option<i64>, is_transient: Option<bool>, http_status: u16) -> ErrorClass {
    match code {
        Some(130429 | 131056 | 80007 | 4 | 17 | 32 | 613) => ErrorClass::RateLimited { retry_after: None },
        Some(131047) => ErrorClass::OutsideWindow,
        Some(131026 | 131030) => ErrorClass::InvalidRecipient,
        Some(190 | 10 | 200) => ErrorClass::AuthFailed,
        Some(1 | 2 | 131000 | 131016) => ErrorClass::Transient { retry_after: None },
        _ if is_transient == Some(true) => ErrorClass::Transient { retry_after: None },
        None if http_status >= 500 => ErrorClass::Transient { retry_after: None },
        None if http_status == 429 => ErrorClass::RateLimited { retry_after: None },
        _ => ErrorClass::Permanent,
    }
}

/// The Graph request body for one message.
pub(super) fn body(to: &Recipient, content: &Content) -> Value {
    let mut b = json!({"messaging_product": "whatsapp", "recipient_type": "individual", "to": to.as_str().trim_start_matches('+')});
    let (kind, payload) = match content {
        Content::Text { body, preview_url } => ("text", json!({"body": body, "preview_url": preview_url})),
        Content::Media { kind, url, caption, filename } => {
            let mut m = json!({"link": url});
            if let Some(c) = caption.as_ref().filter(|_| !matches!(kind, crate::whatsapp::types::MediaKind::Audio)) {
                m["caption"] = c.clone().into();
            }
            if let Some(f) = filename.as_ref().filter(|_| matches!(kind, crate::whatsapp::types::MediaKind::Document)) {
                m["filename"] = f.clone().into();
            }
            (kind.as_str(), m)
        }
        Content::Template { name, language, variables, .. } => {
            let mut t = json!({"name": name, "language": {"code": language}});
            if !variables.is_empty() {
                let parameters: Vec<Value> = variables.iter().map(|v| json!({"type": "text", "text": v})).collect();
                t["components"] = json!([{"type": "body", "parameters": parameters}]);
            }
            ("template", t)
        }
        Content::Interactive { body, buttons } => {
            let buttons: Vec<Value> = buttons.iter().map(|x| json!({"type": "reply", "reply": {"id": x.id, "title": x.title}})).collect();
            ("interactive", json!({"type": "button", "body": {"text": body}, "action": {"buttons": buttons}}))
        }
    };
    b["type"] = kind.into();
    b[kind] = payload;
    b
}

#[async_trait]
impl WhatsAppProvider for Meta<'_> {
    fn provider(&self) -> Provider {
        Provider::Meta
    }

    async fn send(&self, _from: &Sender<'_>, to: &Recipient, content: &Content) -> Result<Accepted, ProviderError> {
        let url = format!("{}/{}/messages", self.base.trim_end_matches('/'), self.phone_number_id);
        let response = self
            .http
            .post(url)
            .bearer_auth(self.access_token.expose_secret())
            .json(&body(to, content))
            .send()
            .await
            .map_err(|e| ProviderError::network(Provider::Meta, &e))?;
        let status = response.status().as_u16();
        let after = retry_after(response.headers());
        let bytes = response.bytes().await.map_err(|e| ProviderError::network(Provider::Meta, &e))?;
        if (200..300).contains(&status) {
            let id = serde_json::from_slice::<SendResponse>(&bytes).ok().and_then(|r| r.messages.into_iter().next()).map(|m| m.id);
            return id.map(|provider_message_id| Accepted { provider_message_id }).ok_or(ProviderError {
                provider: "meta",
                class: ErrorClass::Transient { retry_after: None },
                code: "invalid_response".into(),
                message: "Meta accepted the request but returned no message id".into(),
                http_status: Some(status),
            });
        }
        let error = serde_json::from_slice::<GraphErrorBody>(&bytes).ok().map(|b| b.error);
        let code = error.as_ref().and_then(|e| e.code);
        let mut class = classify(code, error.as_ref().and_then(|e| e.is_transient), status);
        if let ErrorClass::RateLimited { retry_after } | ErrorClass::Transient { retry_after } = &mut class {
            *retry_after = after;
        }
        let details = error.as_ref().and_then(|e| e.error_data.as_ref()?.get("details")?.as_str().map(str::to_owned));
        let message = match (error.and_then(|e| e.message), details) {
            (Some(m), Some(d)) if !m.contains(&d) => format!("{m}: {d}"),
            (Some(m), _) => m,
            (None, d) => d.unwrap_or_else(|| format!("HTTP {status}")),
        };
        Err(ProviderError { provider: "meta", class, code: code.map_or_else(|| format!("http_{status}"), |c| c.to_string()), message, http_status: Some(status) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::whatsapp::types::Button;

    #[test]
    fn classification_by_code() {
        for code in [130429, 131056, 80007, 4] {
            assert_eq!(classify(Some(code), None, 400), ErrorClass::RateLimited { retry_after: None }, "{code}");
        }
        assert_eq!(classify(Some(131047), None, 400), ErrorClass::OutsideWindow);
        assert_eq!(classify(Some(131026), None, 400), ErrorClass::InvalidRecipient);
        assert_eq!(classify(Some(190), Some(false), 401), ErrorClass::AuthFailed);
        assert_eq!(classify(Some(100), None, 400), ErrorClass::Permanent);
        assert_eq!(classify(Some(999), Some(true), 400), ErrorClass::Transient { retry_after: None });
        assert_eq!(classify(None, None, 502), ErrorClass::Transient { retry_after: None });
    }

    #[test]
    fn bodies_match_the_documented_shapes() {
        let to = Recipient::parse("+16505551234").unwrap();
        assert_eq!(
            body(&to, &Content::Text { body: "hi".into(), preview_url: false }),
            json!({"messaging_product":"whatsapp","recipient_type":"individual","to":"16505551234","type":"text","text":{"body":"hi","preview_url":false}})
        );
        let t = body(&to, &Content::Template { name: Some("order".into()), language: Some("en_US".into()), content_sid: None, variables: vec!["42".into()] });
        assert_eq!(t["template"], json!({"name":"order","language":{"code":"en_US"},"components":[{"type":"body","parameters":[{"type":"text","text":"42"}]}]}));
        let i = body(&to, &Content::Interactive { body: "Pick".into(), buttons: vec![Button { id: "y".into(), title: "Yes".into() }] });
        assert_eq!(i["interactive"]["action"]["buttons"][0], json!({"type":"reply","reply":{"id":"y","title":"Yes"}}));
    }
}
