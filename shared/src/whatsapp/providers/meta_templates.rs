//! Meta message templates on the WhatsApp Business Account: `GET /{waba-id}/message_templates` paged by
//! `paging.cursors.after`, and `POST /{waba-id}/message_templates` to submit one for review.

use secrecy::{ExposeSecret, SecretString};
use serde_json::{json, Value};

use super::meta::{graph_error, GraphErrorBody};
use super::{retry_after, ProviderError};
use crate::whatsapp::templates::{placeholders, Category, Components, Draft, Header, HeaderFormat, ParameterFormat, RemoteTemplate, TemplateButton, TemplateSpec, TemplateStatus};
use crate::whatsapp::types::Provider;

/// Enough for any real account (Meta allows 250 templates per WABA by default) and a stop for a
/// provider whose `after` cursor never ends.
const MAX_PAGES: usize = 100;

async fn call(request: reqwest::RequestBuilder) -> Result<(u16, Vec<u8>), ProviderError> {
    let response = request.send().await.map_err(|e| ProviderError::network(Provider::Meta, &e))?;
    let status = response.status().as_u16();
    let after = retry_after(response.headers());
    let body = response.bytes().await.map_err(|e| ProviderError::network(Provider::Meta, &e))?;
    if (200..300).contains(&status) {
        Ok((status, body.to_vec()))
    } else {
        Err(graph_error(status, &body, after))
    }
}

/// Every template of the account, following the `after` cursor while Graph says there is a next
/// page. The `paging.next` URL itself is not fetched: the bearer token only goes to the configured base.
/// Returns the parsed templates and how many were skipped (components this platform cannot send).
pub async fn list(http: &reqwest::Client, base: &str, token: &SecretString, waba_id: &str) -> Result<(Vec<RemoteTemplate>, usize), ProviderError> {
    let url = format!("{}/{waba_id}/message_templates", base.trim_end_matches('/'));
    let (mut templates, mut skipped, mut after) = (Vec::new(), 0, None::<String>);
    for _ in 0..MAX_PAGES {
        let mut query = vec![("limit", "100".to_owned()), ("fields", "id,name,language,status,category,parameter_format,components,rejected_reason".to_owned())];
        query.extend(after.clone().map(|a| ("after", a)));
        let (status, body) = call(http.get(&url).bearer_auth(token.expose_secret()).query(&query)).await?;
        let page: Value = serde_json::from_slice(&body).map_err(|_| invalid(status))?;
        for item in page["data"].as_array().ok_or_else(|| invalid(status))? {
            match parse(item) {
                Some(t) => templates.push(t),
                None => skipped += 1,
            }
        }
        let next_cursor = page.pointer("/paging/cursors/after").and_then(Value::as_str);
        match (page.pointer("/paging/next").and_then(Value::as_str), next_cursor) {
            (Some(_), Some(cursor)) if after.as_deref() != Some(cursor) => after = Some(cursor.to_owned()),
            _ => return Ok((templates, skipped)),
        }
    }
    Ok((templates, skipped))
}

fn invalid(status: u16) -> ProviderError {
    ProviderError { provider: "meta", class: super::ErrorClass::Transient { retry_after: None }, code: "invalid_response".into(), message: "Meta's template listing was not the documented shape".into(), http_status: Some(status) }
}

fn text(v: &Value, field: &str) -> Option<String> {
    v.get(field).and_then(Value::as_str).map(str::to_owned)
}

/// One listed template; `None` for shapes the platform cannot send (location headers, OTP, flows, catalogs).
pub fn parse(v: &Value) -> Option<RemoteTemplate> {
    let mut components = Components { header: None, body: String::new(), footer: None, buttons: vec![] };
    for c in v["components"].as_array()? {
        match c["type"].as_str()? {
            "HEADER" => {
                let format = match c["format"].as_str().unwrap_or("TEXT") {
                    "TEXT" => HeaderFormat::Text,
                    "IMAGE" => HeaderFormat::Image,
                    "VIDEO" => HeaderFormat::Video,
                    "DOCUMENT" => HeaderFormat::Document,
                    _ => return None,
                };
                let example = c.pointer("/example/header_handle/0").or_else(|| c.pointer("/example/header_text/0")).and_then(Value::as_str).map(str::to_owned);
                components.header = Some(Header { format, text: text(c, "text"), media_url: None, example });
            }
            "BODY" => components.body = text(c, "text")?,
            "FOOTER" => components.footer = text(c, "text"),
            "BUTTONS" => {
                for b in c["buttons"].as_array()? {
                    components.buttons.push(match b["type"].as_str()? {
                        "QUICK_REPLY" => TemplateButton::QuickReply { text: text(b, "text")? },
                        "URL" => TemplateButton::Url { text: text(b, "text")?, url: text(b, "url")? },
                        "PHONE_NUMBER" => TemplateButton::PhoneNumber { text: text(b, "text")?, phone_number: text(b, "phone_number")? },
                        "COPY_CODE" => TemplateButton::CopyCode { example: b["example"].as_str().or_else(|| b.pointer("/example/0").and_then(Value::as_str)).map(str::to_owned) },
                        _ => return None,
                    });
                }
            }
            _ => return None,
        }
    }
    let parameter_format = match v["parameter_format"].as_str() {
        Some(f) if f.eq_ignore_ascii_case("named") => ParameterFormat::Named,
        _ => ParameterFormat::Positional,
    };
    Some(RemoteTemplate {
        provider_template_id: text(v, "id")?,
        spec: TemplateSpec {
            name: text(v, "name")?,
            language: text(v, "language")?,
            category: v["category"].as_str().and_then(Category::parse),
            status: v["status"].as_str().and_then(TemplateStatus::parse)?,
            parameter_format,
            components,
            rejected_reason: text(v, "rejected_reason").filter(|r| r != "NONE"),
        },
    })
}

/// Meta's example object for a text with variables: positional `[["Ada", "42"]]` or named params.
fn examples(field: &str, text: &str, format: ParameterFormat, value: impl Fn(&str) -> Option<String>) -> Option<Value> {
    let names = placeholders(text);
    if names.is_empty() {
        return None;
    }
    Some(match format {
        ParameterFormat::Positional if field == "body_text" => json!({field: [names.iter().map(|n| value(n)).collect::<Vec<_>>()]}),
        ParameterFormat::Positional => json!({field: names.iter().map(|n| value(n)).collect::<Vec<_>>()}),
        ParameterFormat::Named => json!({format!("{field}_named_params"): names.iter().map(|n| json!({"param_name": n, "example": value(n)})).collect::<Vec<_>>()}),
    })
}

/// The creation request for a checked draft (examples already present for every variable).
pub fn create_body(d: &Draft) -> Value {
    let c = &d.components;
    let mut components = Vec::new();
    if let Some(h) = &c.header {
        let mut header = json!({"type": "HEADER", "format": format!("{:?}", h.format).to_ascii_uppercase()});
        match h.format {
            HeaderFormat::Text => {
                header["text"] = h.text.clone().into();
                if let Some(e) = examples("header_text", h.text.as_deref().unwrap_or_default(), d.parameter_format, |n| d.examples.header.get(n).cloned()) {
                    header["example"] = e;
                }
            }
            _ => header["example"] = json!({"header_handle": [d.examples.header_media]}),
        }
        components.push(header);
    }
    let mut body = json!({"type": "BODY", "text": c.body});
    if let Some(e) = examples("body_text", &c.body, d.parameter_format, |n| d.examples.body.get(n).cloned()) {
        body["example"] = e;
    }
    components.push(body);
    if let Some(f) = &c.footer {
        components.push(json!({"type": "FOOTER", "text": f}));
    }
    if !c.buttons.is_empty() {
        let buttons: Vec<Value> = c
            .buttons
            .iter()
            .enumerate()
            .map(|(i, b)| match b {
                TemplateButton::QuickReply { text } => json!({"type": "QUICK_REPLY", "text": text}),
                TemplateButton::Url { text, url } if !placeholders(url).is_empty() => {
                    let suffix = d.examples.buttons.get(&i.to_string()).cloned().unwrap_or_default();
                    json!({"type": "URL", "text": text, "url": url, "example": [crate::whatsapp::templates::fill(url, |_| Some(suffix.clone()))]})
                }
                TemplateButton::Url { text, url } => json!({"type": "URL", "text": text, "url": url}),
                TemplateButton::PhoneNumber { text, phone_number } => json!({"type": "PHONE_NUMBER", "text": text, "phone_number": phone_number}),
                TemplateButton::CopyCode { example } => json!({"type": "COPY_CODE", "example": d.examples.buttons.get(&i.to_string()).or(example.as_ref())}),
            })
            .collect();
        components.push(json!({"type": "BUTTONS", "buttons": buttons}));
    }
    let category = d.category.map(|c| format!("{c:?}").to_ascii_uppercase());
    json!({"name": d.name, "language": d.language, "category": category, "parameter_format": format!("{:?}", d.parameter_format).to_ascii_lowercase(), "components": components})
}

/// Meta's refusal of a template, with its code, subcode and the message meant for people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub error: ProviderError,
    pub subcode: Option<i64>,
    pub user_message: Option<String>,
}

/// Submits the template for review; Meta answers with its id and status (usually PENDING).
pub async fn create(http: &reqwest::Client, base: &str, token: &SecretString, waba_id: &str, body: &Value) -> Result<(String, TemplateStatus), Refusal> {
    let url = format!("{}/{waba_id}/message_templates", base.trim_end_matches('/'));
    let response = http.post(url).bearer_auth(token.expose_secret()).json(body).send().await;
    let refusal = |error| Refusal { error, subcode: None, user_message: None };
    let response = response.map_err(|e| refusal(ProviderError::network(Provider::Meta, &e)))?;
    let status = response.status().as_u16();
    let after = retry_after(response.headers());
    let bytes = response.bytes().await.map_err(|e| refusal(ProviderError::network(Provider::Meta, &e)))?;
    if !(200..300).contains(&status) {
        let detail = serde_json::from_slice::<GraphErrorBody>(&bytes).ok().map(|b| b.error);
        return Err(Refusal { error: graph_error(status, &bytes, after), subcode: detail.as_ref().and_then(|e| e.error_subcode), user_message: detail.and_then(|e| e.error_user_msg) });
    }
    let answer: Value = serde_json::from_slice(&bytes).map_err(|_| refusal(invalid(status)))?;
    let id = text(&answer, "id").ok_or_else(|| refusal(invalid(status)))?;
    Ok((id, answer["status"].as_str().and_then(TemplateStatus::parse).unwrap_or(TemplateStatus::Pending)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_listed_template() {
        let listed = json!({"name": "order_ready", "parameter_format": "POSITIONAL", "language": "en_US", "status": "APPROVED", "category": "UTILITY", "id": "594425479261596",
            "components": [{"type": "HEADER", "format": "IMAGE", "example": {"header_handle": ["https://scontent.whatsapp.net/h"]}}, {"type": "BODY", "text": "Hi {{1}}", "example": {"body_text": [["Ada"]]}},
                {"type": "FOOTER", "text": "Shop"}, {"type": "BUTTONS", "buttons": [{"type": "URL", "text": "Track", "url": "https://shop.example/t/{{1}}", "example": ["https://shop.example/t/A1"]}, {"type": "COPY_CODE", "example": "SAVE10"}]}]});
        let t = parse(&listed).unwrap();
        assert_eq!((t.spec.status, t.spec.category, t.spec.components.header.unwrap().format), (TemplateStatus::Approved, Some(Category::Utility), HeaderFormat::Image));
        assert_eq!(t.spec.components.buttons[1], TemplateButton::CopyCode { example: Some("SAVE10".into()) });
        let location = json!({"name": "x", "language": "en", "status": "APPROVED", "id": "1", "components": [{"type": "HEADER", "format": "LOCATION"}, {"type": "BODY", "text": "x"}]});
        assert_eq!(parse(&location), None);
    }
}
