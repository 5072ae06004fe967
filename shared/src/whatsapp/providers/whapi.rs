//! Whapi.Cloud: `/messages/*` with the channel token; the channel is a linked phone, so linking by QR or
//! pairing code is part of the adapter; attachments go inline as a base64 data URL in `media`
//! (providers.md section 4).

use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use serde_json::{json, Value};
use utoipa::ToSchema;

use base64::Engine;

use super::{retry_after, Accepted, ErrorClass, ProviderError, Sender, Upload, WhatsAppProvider};
use crate::whatsapp::types::{Content, Provider, Recipient};

pub(super) struct Whapi<'a> {
    pub http: &'a reqwest::Client,
    pub base: &'a str,
    pub token: &'a SecretString,
}

/// Whapi answers with HTTP statuses (400, 401, 403, 404 "Channel not found", 429, 500).
pub fn classify(http_status: u16) -> ErrorClass {
    match http_status {
        429 => ErrorClass::RateLimited { retry_after: None },
        401 | 403 | 404 => ErrorClass::AuthFailed,
        s if s >= 500 => ErrorClass::Transient { retry_after: None },
        _ => ErrorClass::Permanent,
    }
}

/// Whapi's `to`: digits for a person, the chat id for a group.
fn chat(to: &Recipient) -> String {
    match to {
        Recipient::Phone(p) => p.digits().to_owned(),
        Recipient::Group(g) => g.clone(),
    }
}

pub(super) fn request(to: &Recipient, content: &Content) -> (String, Value) {
    let to = chat(to);
    match content {
        Content::Text { body, preview_url } => ("text".into(), json!({"to": to, "body": body, "no_link_preview": !preview_url})),
        Content::Media { kind, url, caption, filename } => {
            let mut b = json!({"to": to, "media": url});
            if let Some(c) = caption {
                b["caption"] = c.clone().into();
            }
            if let Some(f) = filename {
                b["filename"] = f.clone().into();
            }
            (kind.as_str().into(), b)
        }
        Content::Interactive { body, buttons } => {
            let buttons: Vec<Value> = buttons.iter().map(|x| json!({"type": "quick_reply", "title": x.title, "id": x.id})).collect();
            ("interactive".into(), json!({"to": to, "type": "button", "body": {"text": body}, "action": {"buttons": buttons}}))
        }
        // Refused before queueing (no templates or lists on Whapi); kept total for safety.
        Content::List { body, .. } => ("text".into(), json!({"to": to, "body": body})),
        Content::Template { .. } => ("text".into(), json!({"to": to, "body": ""})),
        // Sent through `send_attachment` (with the bytes); a stray one goes out as its caption.
        Content::Attachment { caption, .. } => ("text".into(), json!({"to": to, "body": caption.clone().unwrap_or_default()})),
    }
}

/// `POST /messages/image|document` with `media` as `data:<mime>;name=<file>;base64,<bytes>`.
pub(super) fn attachment_request(to: &Recipient, file: &Upload<'_>) -> (String, Value) {
    let name: String = file.filename.chars().map(|c| if c == ';' || c == ',' { '_' } else { c }).collect();
    let media = format!("data:{};name={};base64,{}", file.mime, name, base64::engine::general_purpose::STANDARD.encode(file.bytes));
    let mut b = json!({"to": chat(to), "media": media});
    if let Some(c) = file.caption {
        b["caption"] = c.into();
    }
    if file.kind == crate::whatsapp::types::MediaKind::Document {
        b["filename"] = file.filename.into();
    }
    (file.kind.as_str().into(), b)
}

fn error(status: u16, bytes: &[u8], after: Option<std::time::Duration>) -> ProviderError {
    let parsed: Option<Value> = serde_json::from_slice(bytes).ok();
    let message = parsed
        .as_ref()
        .and_then(|v| v.pointer("/error/message").or_else(|| v.get("message")))
        .and_then(Value::as_str)
        .map_or_else(|| format!("HTTP {status}"), str::to_owned);
    let mut class = classify(status);
    if let ErrorClass::RateLimited { retry_after } | ErrorClass::Transient { retry_after } = &mut class {
        *retry_after = after;
    }
    ProviderError { provider: "whapi", class, code: format!("http_{status}"), message, http_status: Some(status) }
}

impl Whapi<'_> {
    async fn call(&self, method: reqwest::Method, path: &str, body: Option<&Value>) -> Result<Value, ProviderError> {
        let mut request = self.http.request(method, format!("{}{path}", self.base.trim_end_matches('/'))).bearer_auth(self.token.expose_secret());
        if let Some(b) = body {
            request = request.json(b);
        }
        let response = request.send().await.map_err(|e| ProviderError::network(Provider::Whapi, &e))?;
        let status = response.status().as_u16();
        let after = retry_after(response.headers());
        let bytes = response.bytes().await.map_err(|e| ProviderError::network(Provider::Whapi, &e))?;
        if !(200..300).contains(&status) {
            return Err(error(status, &bytes, after));
        }
        serde_json::from_slice(&bytes).map_err(|_| ProviderError { provider: "whapi", class: ErrorClass::Transient { retry_after: None }, code: "invalid_response".into(), message: "Whapi answered with something other than JSON".into(), http_status: Some(status) })
    }
}

#[async_trait]
impl WhatsAppProvider for Whapi<'_> {
    fn provider(&self) -> Provider {
        Provider::Whapi
    }

    async fn send(&self, _from: &Sender<'_>, to: &Recipient, content: &Content) -> Result<Accepted, ProviderError> {
        let (kind, body) = request(to, content);
        self.post_message(&kind, &body).await
    }

    async fn send_attachment(&self, _from: &Sender<'_>, to: &Recipient, file: &Upload<'_>) -> Result<Accepted, ProviderError> {
        let (kind, body) = attachment_request(to, file);
        self.post_message(&kind, &body).await
    }
}

impl Whapi<'_> {
    async fn post_message(&self, kind: &str, body: &Value) -> Result<Accepted, ProviderError> {
        let answer = self.call(reqwest::Method::POST, &format!("/messages/{kind}"), Some(body)).await?;
        match (answer.get("sent").and_then(Value::as_bool), answer.pointer("/message/id").and_then(Value::as_str)) {
            (Some(true), Some(id)) => Ok(Accepted { provider_message_id: id.to_owned() }),
            _ => Err(ProviderError { provider: "whapi", class: ErrorClass::Permanent, code: "not_sent".into(), message: "Whapi did not send the message".into(), http_status: Some(200) }),
        }
    }
}

/// A Whapi channel's link state for the dashboard: connected, or a QR code / pairing code to link it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct LinkState {
    /// Whapi's health text: `AUTH` (linked), `QR` (waiting for a scan), `INIT`, `LAUNCH`, `ERROR`, …
    pub status: String,
    pub connected: bool,
    /// `data:image/png;base64,…` to show while `status` is `QR`.
    pub qr: Option<String>,
    pub pairing_code: Option<String>,
    /// Seconds until the QR expires.
    pub expires_in: Option<u64>,
}

/// Reads the channel's health and, when it is not linked, fetches a QR code (or a pairing code for
/// `phone` digits) to link it.
pub async fn link(http: &reqwest::Client, base: &str, token: &SecretString, phone: Option<&str>) -> Result<LinkState, ProviderError> {
    let whapi = Whapi { http, base, token };
    let health = whapi.call(reqwest::Method::GET, "/health?wakeup=true&channel_type=web", None).await?;
    let status = health.pointer("/status/text").and_then(Value::as_str).unwrap_or("UNKNOWN").to_owned();
    let mut state = LinkState { connected: status == "AUTH", status, qr: None, pairing_code: None, expires_in: None };
    if state.connected {
        return Ok(state);
    }
    let path = match phone {
        Some(digits) => format!("/users/login/{digits}"),
        None => "/users/login?wakeup=true".to_owned(),
    };
    let login = whapi.call(reqwest::Method::GET, &path, None).await?;
    state.qr = login.get("base64").and_then(Value::as_str).map(|b| if b.starts_with("data:") { b.to_owned() } else { format!("data:image/png;base64,{b}") });
    state.pairing_code = login.get("code").and_then(Value::as_str).map(str::to_owned);
    state.expires_in = login.get("expire").and_then(Value::as_u64);
    Ok(state)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests() {
        let to = Recipient::parse("+14155552671").unwrap();
        assert_eq!(request(&to, &Content::Text { body: "Hello!".into(), preview_url: false }), ("text".into(), json!({"to": "14155552671", "body": "Hello!", "no_link_preview": true})));
        let group = Recipient::parse("120363025246125486@g.us").unwrap();
        assert_eq!(request(&group, &Content::Text { body: "x".into(), preview_url: true }).1["to"], "120363025246125486@g.us");
        assert_eq!(classify(404), ErrorClass::AuthFailed);
        assert_eq!(classify(429), ErrorClass::RateLimited { retry_after: None });
    }
}
