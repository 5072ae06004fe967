//! Meta WhatsApp Cloud API: `POST /{phone-number-id}/messages` with a bearer token; text, media,
//! template and interactive bodies; attachments through `POST /{phone-number-id}/media` (multipart)
//! and then the media id; errors by Graph `error.code` (providers.md section 3).

use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{retry_after, Accepted, ErrorClass, ProviderError, Sender, Upload, WhatsAppProvider};
use crate::whatsapp::types::{Content, HeaderParam, MediaKind, Provider, Recipient, TemplateParams};

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
struct UploadResponse {
    id: String,
}

#[derive(Deserialize)]
pub(super) struct GraphErrorBody {
    pub error: GraphError,
}

#[derive(Deserialize)]
pub(super) struct GraphError {
    pub code: Option<i64>,
    pub error_subcode: Option<i64>,
    pub message: Option<String>,
    pub is_transient: Option<bool>,
    pub error_data: Option<Value>,
    /// Meant for people (template review errors explain the fix here).
    pub error_user_msg: Option<String>,
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

/// `template.components` from checked parameters (header media by link, named body parameters by
/// `parameter_name`, button parameters by `sub_type` and string `index`); empty components are left out.
fn template_components(p: &TemplateParams) -> Vec<Value> {
    let mut components = Vec::new();
    match &p.header {
        Some(HeaderParam::Text { text }) => components.push(json!({"type": "header", "parameters": [{"type": "text", "text": text}]})),
        Some(HeaderParam::Media { kind, url }) => components.push(json!({"type": "header", "parameters": [{"type": kind.as_str(), kind.as_str(): {"link": url}}]})),
        None => {}
    }
    if !p.body.is_empty() {
        let parameters: Vec<Value> = p
            .body
            .iter()
            .map(|b| match &b.name {
                Some(name) => json!({"type": "text", "parameter_name": name, "text": b.text}),
                None => json!({"type": "text", "text": b.text}),
            })
            .collect();
        components.push(json!({"type": "body", "parameters": parameters}));
    }
    for b in &p.buttons {
        let parameter = if b.sub_type == "copy_code" { json!({"type": "coupon_code", "coupon_code": b.value}) } else { json!({"type": "text", "text": b.value}) };
        components.push(json!({"type": "button", "sub_type": b.sub_type, "index": b.index.to_string(), "parameters": [parameter]}));
    }
    components
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
        // Sent through `send_attachment` (upload first); a stray one goes out as its caption.
        Content::Attachment { caption, .. } => ("text", json!({"body": caption.clone().unwrap_or_default(), "preview_url": false})),
        Content::Template { name, language, params: Some(params), .. } => ("template", json!({"name": name, "language": {"code": language}, "components": template_components(params)})),
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
        Content::List { body, button, rows } => {
            // ListRow leaves out an absent description, as Graph wants (a null is refused).
            let rows: Vec<Value> = rows.iter().map(|r| serde_json::to_value(r).unwrap_or_default()).collect();
            ("interactive", json!({"type": "list", "body": {"text": body}, "action": {"button": button, "sections": [{"rows": rows}]}}))
        }
    };
    b["type"] = kind.into();
    b[kind] = payload;
    b
}

/// The message body for an uploaded media id: `{"type":"image","image":{"id","caption"}}`, documents
/// with `filename` (captions are not allowed on audio).
pub(super) fn media_id_body(to: &Recipient, media_id: &str, file: &Upload<'_>) -> Value {
    let kind = file.kind.as_str();
    let mut media = json!({"id": media_id});
    if let Some(c) = file.caption.filter(|_| file.kind != MediaKind::Audio) {
        media["caption"] = c.into();
    }
    if file.kind == MediaKind::Document {
        media["filename"] = file.filename.into();
    }
    json!({"messaging_product": "whatsapp", "recipient_type": "individual", "to": to.as_str().trim_start_matches('+'), "type": kind, kind: media})
}

/// A Graph error answer as a classified provider error (`error.message` with `error_data.details`;
/// `error_user_msg`, meant for people, when Graph gives one).
pub(super) fn graph_error(status: u16, bytes: &[u8], after: Option<std::time::Duration>) -> ProviderError {
    let error = serde_json::from_slice::<GraphErrorBody>(bytes).ok().map(|b| b.error);
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
    ProviderError { provider: "meta", class, code: code.map_or_else(|| format!("http_{status}"), |c| c.to_string()), message, http_status: Some(status) }
}

#[async_trait]
impl WhatsAppProvider for Meta<'_> {
    fn provider(&self) -> Provider {
        Provider::Meta
    }

    async fn send(&self, _from: &Sender<'_>, to: &Recipient, content: &Content) -> Result<Accepted, ProviderError> {
        self.post_message(&body(to, content)).await
    }

    async fn send_attachment(&self, _from: &Sender<'_>, to: &Recipient, file: &Upload<'_>) -> Result<Accepted, ProviderError> {
        let media_id = self.upload(file).await?;
        self.post_message(&media_id_body(to, &media_id, file)).await
    }
}

impl Meta<'_> {
    /// `POST /{phone-number-id}/media`: multipart `messaging_product`, `type` (the MIME type) and
    /// `file`; answers `{"id"}`, usable in messages for 30 days.
    async fn upload(&self, file: &Upload<'_>) -> Result<String, ProviderError> {
        let url = format!("{}/{}/media", self.base.trim_end_matches('/'), self.phone_number_id);
        let part = reqwest::multipart::Part::bytes(file.bytes.to_vec()).file_name(file.filename.to_owned()).mime_str(file.mime).map_err(|_| ProviderError {
            provider: "meta",
            class: ErrorClass::Permanent,
            code: "invalid_type".into(),
            message: format!("`{}` is not a MIME type", file.mime),
            http_status: None,
        })?;
        let form = reqwest::multipart::Form::new().text("messaging_product", "whatsapp").text("type", file.mime.to_owned()).part("file", part);
        // Uploads take longer than a message send.
        let response = self.http.post(url).bearer_auth(self.access_token.expose_secret()).multipart(form).timeout(std::time::Duration::from_secs(60)).send().await.map_err(|e| ProviderError::network(Provider::Meta, &e))?;
        let status = response.status().as_u16();
        let after = retry_after(response.headers());
        let bytes = response.bytes().await.map_err(|e| ProviderError::network(Provider::Meta, &e))?;
        if (200..300).contains(&status) {
            return serde_json::from_slice::<UploadResponse>(&bytes).map(|r| r.id).map_err(|_| ProviderError {
                provider: "meta",
                class: ErrorClass::Transient { retry_after: None },
                code: "invalid_response".into(),
                message: "Meta accepted the upload but returned no media id".into(),
                http_status: Some(status),
            });
        }
        Err(graph_error(status, &bytes, after))
    }

    async fn post_message(&self, body: &Value) -> Result<Accepted, ProviderError> {
        let url = format!("{}/{}/messages", self.base.trim_end_matches('/'), self.phone_number_id);
        let response = self
            .http
            .post(url)
            .bearer_auth(self.access_token.expose_secret())
            .json(body)
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
        Err(graph_error(status, &bytes, after))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::whatsapp::types::{Button, ListRow};

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
        let t = body(&to, &Content::Template { name: Some("order".into()), language: Some("en_US".into()), content_sid: None, variables: vec!["42".into()], params: None });
        assert_eq!(t["template"], json!({"name":"order","language":{"code":"en_US"},"components":[{"type":"body","parameters":[{"type":"text","text":"42"}]}]}));
        let i = body(&to, &Content::Interactive { body: "Pick".into(), buttons: vec![Button { id: "y".into(), title: "Yes".into() }] });
        assert_eq!(i["interactive"]["action"]["buttons"][0], json!({"type":"reply","reply":{"id":"y","title":"Yes"}}));
        let rows = vec![ListRow { id: "mon".into(), title: "Monday".into(), description: Some("9–17".into()) }, ListRow { id: "tue".into(), title: "Tuesday".into(), description: None }];
        let l = body(&to, &Content::List { body: "Which day?".into(), button: "Days".into(), rows });
        assert_eq!(l["type"], "interactive");
        assert_eq!(l["interactive"], json!({"type":"list","body":{"text":"Which day?"},"action":{"button":"Days","sections":[{"rows":[{"id":"mon","title":"Monday","description":"9–17"},{"id":"tue","title":"Tuesday"}]}]}}));
    }
}
