//! Twilio Content API templates: `GET /v1/Content` paged by `meta.next_page_url`, the WhatsApp approval
//! of each (`GET /v1/Content/{sid}/ApprovalRequests`), and creation (`POST /v1/Content`, then
//! `POST /v1/Content/{sid}/ApprovalRequests/whatsapp`).

use secrecy::ExposeSecret;
use serde_json::{json, Map, Value};

use super::twilio::{basic, rest_error};
use super::{retry_after, ErrorClass, ProviderError, TwilioAuth};
use crate::whatsapp::templates::{placeholders, Category, Components, Draft, Header, HeaderFormat, ParameterFormat, RemoteTemplate, TemplateButton, TemplateSpec, TemplateStatus};
use crate::whatsapp::types::Provider;

const MAX_PAGES: usize = 100;

/// A Twilio account's Content API, authenticated like its Messages API.
pub struct ContentApi<'a> {
    pub http: &'a reqwest::Client,
    pub base: &'a str,
    pub account_sid: &'a str,
    pub auth: &'a TwilioAuth,
}

fn invalid(status: u16) -> ProviderError {
    ProviderError { provider: "twilio", class: ErrorClass::Transient { retry_after: None }, code: "invalid_response".into(), message: "Twilio's Content API answer was not the documented shape".into(), http_status: Some(status) }
}

impl ContentApi<'_> {
    async fn call(&self, method: reqwest::Method, path_and_query: &str, body: Option<&Value>) -> Result<Value, ProviderError> {
        let (user, password) = basic(self.account_sid, self.auth);
        let mut request = self.http.request(method, format!("{}{path_and_query}", self.base.trim_end_matches('/'))).basic_auth(user, Some(password.expose_secret()));
        if let Some(b) = body {
            request = request.json(b);
        }
        let response = request.send().await.map_err(|e| ProviderError::network(Provider::Twilio, &e))?;
        let status = response.status().as_u16();
        let after = retry_after(response.headers());
        let bytes = response.bytes().await.map_err(|e| ProviderError::network(Provider::Twilio, &e))?;
        if !(200..300).contains(&status) {
            return Err(rest_error(status, &bytes, after));
        }
        serde_json::from_slice(&bytes).map_err(|_| invalid(status))
    }

    /// Every content item with its WhatsApp approval, and how many were skipped (types without a body).
    /// Only the page token of `next_page_url` is used: the credential goes to the configured base only.
    pub async fn list(&self) -> Result<(Vec<RemoteTemplate>, usize), ProviderError> {
        let (mut templates, mut skipped, mut path) = (Vec::new(), 0, "/v1/Content?PageSize=50".to_owned());
        for _ in 0..MAX_PAGES {
            let page = self.call(reqwest::Method::GET, &path, None).await?;
            for item in page["contents"].as_array().ok_or_else(|| invalid(200))? {
                let Some(sid) = item["sid"].as_str().filter(|s| s.starts_with("HX")) else { continue };
                let approval = self.call(reqwest::Method::GET, &format!("/v1/Content/{sid}/ApprovalRequests"), None).await?;
                match parse(item, &approval["whatsapp"]) {
                    Some(t) => templates.push(t),
                    None => skipped += 1,
                }
            }
            let next = page.pointer("/meta/next_page_url").and_then(Value::as_str).and_then(|u| reqwest::Url::parse(u).ok());
            match next.and_then(|u| u.query().map(str::to_owned)) {
                Some(query) => path = format!("/v1/Content?{query}"),
                None => return Ok((templates, skipped)),
            }
        }
        Ok((templates, skipped))
    }

    /// Creates the content and submits it for WhatsApp approval; returns its ContentSid and status.
    pub async fn create(&self, d: &Draft) -> Result<(String, TemplateStatus), ProviderError> {
        let content = self.call(reqwest::Method::POST, "/v1/Content", Some(&create_body(d))).await?;
        let sid = content["sid"].as_str().ok_or_else(|| invalid(201))?.to_owned();
        let category = d.category.map(|c| format!("{c:?}").to_ascii_uppercase()).unwrap_or_else(|| "UTILITY".into());
        let approval = self.call(reqwest::Method::POST, &format!("/v1/Content/{sid}/ApprovalRequests/whatsapp"), Some(&json!({"name": d.name, "category": category}))).await?;
        Ok((sid, approval["status"].as_str().and_then(TemplateStatus::parse).unwrap_or(TemplateStatus::Pending)))
    }
}

fn text(v: &Value, field: &str) -> Option<String> {
    v.get(field).and_then(Value::as_str).map(str::to_owned)
}

fn actions(v: &Value) -> Option<Vec<TemplateButton>> {
    let Some(list) = v["actions"].as_array() else { return Some(vec![]) };
    list.iter()
        .map(|a| {
            Some(match a["type"].as_str().unwrap_or("QUICK_REPLY") {
                "QUICK_REPLY" => TemplateButton::QuickReply { text: text(a, "title")? },
                "URL" => TemplateButton::Url { text: text(a, "title")?, url: text(a, "url")? },
                "PHONE_NUMBER" => TemplateButton::PhoneNumber { text: text(a, "title")?, phone_number: text(a, "phone")? },
                "COPY_CODE" => TemplateButton::CopyCode { example: text(a, "code") },
                _ => return None,
            })
        })
        .collect()
}

/// One content item; the richest WhatsApp-capable type decides the components.
pub fn parse(item: &Value, approval: &Value) -> Option<RemoteTemplate> {
    let types = item["types"].as_object()?;
    let (kind, t) = ["twilio/card", "twilio/call-to-action", "twilio/quick-reply", "twilio/media", "twilio/text"].iter().find_map(|k| types.get(*k).map(|t| (*k, t)))?;
    let media = t.pointer("/media/0").and_then(Value::as_str).map(str::to_owned);
    let header = media.map(|url| {
        let lower = url.to_ascii_lowercase();
        let format = if lower.ends_with(".mp4") { HeaderFormat::Video } else if lower.ends_with(".pdf") { HeaderFormat::Document } else { HeaderFormat::Image };
        Header { format, text: None, media_url: Some(url), example: None }
    });
    let (body, footer) = if kind == "twilio/card" { (text(t, "title")?, text(t, "subtitle")) } else { (text(t, "body")?, None) };
    let components = Components { header, body, footer, buttons: actions(t)? };
    let named = components.slots().iter().any(|s| matches!(s, crate::whatsapp::templates::Slot::Body(n) if n.parse::<u32>().is_err()));
    let status = match approval["status"].as_str() {
        Some(s) if !s.is_empty() => TemplateStatus::parse(s)?,
        _ => TemplateStatus::Unsubmitted,
    };
    Some(RemoteTemplate {
        provider_template_id: text(item, "sid")?,
        spec: TemplateSpec {
            name: text(approval, "name").filter(|n| !n.is_empty()).or_else(|| text(item, "friendly_name"))?,
            language: text(item, "language").unwrap_or_else(|| "en".into()),
            category: approval["category"].as_str().and_then(Category::parse),
            status,
            parameter_format: if named { ParameterFormat::Named } else { ParameterFormat::Positional },
            components,
            rejected_reason: text(approval, "rejection_reason").filter(|r| !r.is_empty()),
        },
    })
}

/// The `POST /v1/Content` body: one WhatsApp type chosen from the components, and the examples as `variables`.
pub fn create_body(d: &Draft) -> Value {
    let c = &d.components;
    let actions: Vec<Value> = c
        .buttons
        .iter()
        .map(|b| match b {
            TemplateButton::QuickReply { text } => json!({"type": "QUICK_REPLY", "title": text, "id": text}),
            TemplateButton::Url { text, url } => json!({"type": "URL", "title": text, "url": url}),
            TemplateButton::PhoneNumber { text, phone_number } => json!({"type": "PHONE_NUMBER", "title": text, "phone": phone_number}),
            TemplateButton::CopyCode { example } => json!({"type": "COPY_CODE", "title": "Copy code", "code": example}),
        })
        .collect();
    let media: Vec<String> = c.header.iter().filter_map(|h| h.media_url.clone()).collect();
    let quick_replies_only = c.buttons.iter().all(|b| matches!(b, TemplateButton::QuickReply { .. }));
    let (kind, t) = match (media.is_empty(), actions.is_empty()) {
        (true, true) => ("twilio/text", json!({"body": c.body})),
        (false, true) => ("twilio/media", json!({"body": c.body, "media": media})),
        (false, false) => ("twilio/card", json!({"title": c.body, "subtitle": c.footer, "media": media, "actions": actions})),
        (true, false) if quick_replies_only => ("twilio/quick-reply", json!({"body": c.body, "actions": actions})),
        (true, false) => ("twilio/call-to-action", json!({"body": c.body, "actions": actions})),
    };
    let mut variables = Map::new();
    for (k, v) in d.examples.body.iter().chain(d.examples.header.iter()) {
        variables.insert(k.clone(), v.clone().into());
    }
    let keyed = c.header.iter().filter_map(|h| h.media_url.as_deref()).map(|u| (u, d.examples.header_media.clone()));
    let urls = c.buttons.iter().enumerate().filter_map(|(i, b)| match b {
        TemplateButton::Url { url, .. } => Some((url.as_str(), d.examples.buttons.get(&i.to_string()).cloned())),
        _ => None,
    });
    for (template, example) in keyed.chain(urls) {
        if let (Some(key), Some(example)) = (placeholders(template).into_iter().next(), example) {
            variables.insert(key, example.into());
        }
    }
    json!({"friendly_name": d.name, "language": d.language, "variables": variables, "types": {kind: t}})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_content_with_its_approval() {
        let item = json!({"sid": format!("HX{}", "c".repeat(32)), "friendly_name": "order_ready", "language": "en", "variables": {"1": "Ada"},
            "types": {"twilio/call-to-action": {"body": "Hi {{1}}", "actions": [{"type": "URL", "title": "Track", "url": "https://shop.example/t/{{2}}"}]}, "twilio/text": {"body": "Hi {{1}}"}}});
        let approval = json!({"type": "whatsapp", "name": "order_ready", "category": "UTILITY", "content_type": "twilio/call-to-action", "status": "approved", "rejection_reason": "", "allow_category_change": true});
        let t = parse(&item, &approval).unwrap();
        assert_eq!((t.spec.status, t.spec.category), (TemplateStatus::Approved, Some(Category::Utility)));
        assert_eq!(t.spec.components.buttons, vec![TemplateButton::Url { text: "Track".into(), url: "https://shop.example/t/{{2}}".into() }]);
        assert_eq!(parse(&item, &Value::Null).unwrap().spec.status, TemplateStatus::Unsubmitted);
    }
}
