//! Sending a library template: the caller's variables are checked against the template's components
//! (every missing or extra one named), then turned into the provider's message: Meta components,
//! Twilio `ContentVariables`, or for Whapi the filled-in text (a media message when the header is media).

use std::collections::BTreeMap;

use serde::Deserialize;
use utoipa::ToSchema;

use super::templates::{fill, HeaderFormat, Slot, Template, TemplateButton, TemplateStatus};
use super::types::{BodyParam, ButtonParam, Content, HeaderParam, Provider, TemplateParams};
use crate::http::ApiError;

/// Values for a template's variables, by component.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Variables {
    /// A text header's variable, by name (`{"1": "Spring sale"}`).
    #[serde(default)]
    pub header: BTreeMap<String, String>,
    /// The https URL of an image, video or document header.
    pub header_media: Option<String>,
    /// Body variables by name: `{"1": "Ada"}` or `{"first_name": "Ada"}`.
    #[serde(default)]
    pub body: BTreeMap<String, String>,
    /// Button parameters by button index: a dynamic URL's suffix or a copy-code button's code.
    #[serde(default)]
    pub buttons: BTreeMap<String, String>,
}

impl Variables {
    /// Legacy positional variables (`["Ada", "42"]`) as body `{{1}}`, `{{2}}`.
    pub fn positional(values: &[String]) -> Self {
        Self { body: values.iter().enumerate().map(|(i, v)| ((i + 1).to_string(), v.clone())).collect(), ..Self::default() }
    }

    fn get(&self, slot: &Slot) -> Option<&String> {
        match slot {
            Slot::HeaderText(n) => self.header.get(n),
            Slot::HeaderMedia => self.header_media.as_ref(),
            Slot::Body(n) => self.body.get(n),
            Slot::ButtonUrl(i) | Slot::ButtonCode(i) => self.buttons.get(&i.to_string()),
        }
    }

    /// Every slot a value was given for.
    fn given(&self) -> Vec<Slot> {
        let mut given: Vec<Slot> = self.header.keys().map(|k| Slot::HeaderText(k.clone())).collect();
        given.extend(self.header_media.iter().map(|_| Slot::HeaderMedia));
        given.extend(self.body.keys().map(|k| Slot::Body(k.clone())));
        given
    }

    /// Button keys that are not an index of a button with a parameter.
    fn extra_button(&self, slots: &[Slot]) -> Option<String> {
        let takes = |i: usize| slots.iter().any(|s| matches!(s, Slot::ButtonUrl(j) | Slot::ButtonCode(j) if *j == i));
        self.buttons.keys().find(|k| !k.parse::<usize>().is_ok_and(takes)).map(|k| format!("buttons[{k}]"))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("template variable {0} is missing")]
    Missing(String),
    #[error("template variable {0} is not in the template")]
    Extra(String),
    #[error("template variable {slot} {reason}")]
    Invalid { slot: String, reason: &'static str },
    #[error("template `{name}` is {status}; only APPROVED templates can be sent")]
    NotApproved { name: String, status: &'static str },
    #[error("template `{0}` was removed from the provider")]
    Removed(String),
}

impl From<TemplateError> for ApiError {
    fn from(e: TemplateError) -> Self {
        let code = match e {
            TemplateError::Missing(_) => "template_variable_missing",
            TemplateError::Extra(_) => "template_variable_unknown",
            TemplateError::Invalid { .. } => "template_variable_invalid",
            TemplateError::NotApproved { .. } | TemplateError::Removed(_) => "template_not_approved",
        };
        ApiError::Refused { code, message: e.to_string() }
    }
}

/// Checks `vars` against the template: every slot filled, nothing extra, each value usable.
pub fn check(t: &Template, vars: &Variables) -> Result<(), TemplateError> {
    if t.removed {
        return Err(TemplateError::Removed(t.spec.name.clone()));
    }
    if t.spec.status != TemplateStatus::Approved {
        return Err(TemplateError::NotApproved { name: t.spec.name.clone(), status: t.spec.status.as_str() });
    }
    let slots = t.spec.components.slots();
    for slot in &slots {
        let value = vars.get(slot).ok_or_else(|| TemplateError::Missing(slot.to_string()))?;
        let invalid = |reason| TemplateError::Invalid { slot: slot.to_string(), reason };
        if value.trim().is_empty() || value.chars().count() > 1024 {
            return Err(invalid("must be 1–1024 characters"));
        }
        let whole_url = t.spec.components.header.as_ref().is_some_and(|h| h.media_url.is_none());
        if *slot == Slot::HeaderMedia && whole_url && (!value.starts_with("https://") || value.len() > 2048) {
            return Err(invalid("must be an https URL"));
        }
        // Meta refuses body parameters with newlines, tabs or runs of more than four spaces.
        if matches!(slot, Slot::Body(_) | Slot::HeaderText(_)) && t.provider == Provider::Meta && (value.contains(['\n', '\t']) || value.contains("     ")) {
            return Err(invalid("must not contain newlines, tabs or more than four spaces in a row"));
        }
    }
    if let Some(extra) = vars.given().into_iter().find(|g| !slots.contains(g)) {
        return Err(TemplateError::Extra(extra.to_string()));
    }
    vars.extra_button(&slots).map_or(Ok(()), |b| Err(TemplateError::Extra(b)))
}

/// The message to send for `t` with `vars`: validated, then in the provider's terms. The one entry
/// point for anything that sends a library template (the messages API, broadcasts).
pub fn render_for_send(t: &Template, vars: &Variables) -> Result<Content, TemplateError> {
    check(t, vars)?;
    let slots = t.spec.components.slots();
    let value = |slot: &Slot| vars.get(slot).cloned().unwrap_or_default();
    Ok(match t.provider {
        Provider::Meta => {
            let header = t.spec.components.header.as_ref().and_then(|h| match h.format.media_kind() {
                Some(kind) => Some(HeaderParam::Media { kind, url: value(&Slot::HeaderMedia) }),
                None => slots.iter().find(|s| matches!(s, Slot::HeaderText(_))).map(|s| HeaderParam::Text { text: value(s) }),
            });
            let named = t.spec.parameter_format == super::templates::ParameterFormat::Named;
            let body = slots.iter().filter_map(|s| match s {
                Slot::Body(n) => Some(BodyParam { name: named.then(|| n.clone()), text: value(s) }),
                _ => None,
            });
            let buttons = slots.iter().filter_map(|s| match s {
                Slot::ButtonUrl(i) => Some(ButtonParam { index: *i, sub_type: "url".into(), value: value(s) }),
                Slot::ButtonCode(i) => Some(ButtonParam { index: *i, sub_type: "copy_code".into(), value: value(s) }),
                _ => None,
            });
            let params = TemplateParams { header, body: body.collect(), buttons: buttons.collect(), content_variables: BTreeMap::new() };
            Content::Template { name: Some(t.spec.name.clone()), language: Some(t.spec.language.clone()), content_sid: None, variables: vec![], params: Some(params) }
        }
        Provider::Twilio => {
            // Twilio numbers variables across the whole content (body, media URL, button URL) by key.
            let mut content_variables: BTreeMap<String, String> = vars.body.clone();
            content_variables.extend(vars.header.clone());
            for (slot, key) in twilio_keyed_slots(t) {
                content_variables.insert(key, value(&slot));
            }
            let params = TemplateParams { content_variables, ..TemplateParams::default() };
            Content::Template { name: Some(t.spec.name.clone()), language: Some(t.spec.language.clone()), content_sid: t.provider_template_id.clone(), variables: vec![], params: Some(params) }
        }
        Provider::Whapi => whapi_content(t, vars),
    })
}

/// Twilio media and URL variables are plain content variables: the key written in the media URL or
/// button URL (`https://x/{{3}}` → `3`) receives the value given for that slot.
fn twilio_keyed_slots(t: &Template) -> Vec<(Slot, String)> {
    let mut keyed = Vec::new();
    let first_key = |text: &str| super::templates::placeholders(text).into_iter().next();
    if let Some(key) = t.spec.components.header.as_ref().and_then(|h| h.media_url.as_deref().and_then(first_key)) {
        keyed.push((Slot::HeaderMedia, key));
    }
    for (i, b) in t.spec.components.buttons.iter().enumerate() {
        if let TemplateButton::Url { url, .. } = b {
            if let Some(key) = first_key(url) {
                keyed.push((Slot::ButtonUrl(i), key));
            }
        }
    }
    keyed
}

/// Whapi has no templates: the filled-in text, with a media header sent as the media's caption.
fn whapi_content(t: &Template, vars: &Variables) -> Content {
    let c = &t.spec.components;
    let mut lines: Vec<String> = Vec::new();
    if let Some(text) = c.header.as_ref().filter(|h| h.format == HeaderFormat::Text).and_then(|h| h.text.as_deref()) {
        lines.push(format!("*{}*", fill(text, |n| vars.header.get(n).cloned())));
    }
    lines.push(fill(&c.body, |n| vars.body.get(n).cloned()));
    if let Some(footer) = &c.footer {
        lines.push(format!("_{footer}_"));
    }
    for (i, b) in c.buttons.iter().enumerate() {
        let given = vars.buttons.get(&i.to_string()).cloned();
        match b {
            TemplateButton::Url { text, url } => lines.push(format!("{text}: {}", fill(url, |_| given.clone()))),
            TemplateButton::PhoneNumber { text, phone_number } => lines.push(format!("{text}: {phone_number}")),
            TemplateButton::CopyCode { .. } => lines.push(format!("Code: {}", given.unwrap_or_default())),
            TemplateButton::QuickReply { .. } => {}
        }
    }
    let text = lines.join("\n\n");
    match (c.header.as_ref().and_then(|h| h.format.media_kind()), &vars.header_media) {
        (Some(kind), Some(url)) => Content::Media { kind, url: url.clone(), caption: Some(text), filename: None },
        _ => Content::Text { body: text, preview_url: false },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::whatsapp::templates::{Components, Header, ParameterFormat, TemplateId, TemplateSpec};
    use crate::whatsapp::types::{ChannelId, MediaKind};

    fn template(provider: Provider, format: ParameterFormat, body: &str) -> Template {
        let components = Components {
            header: Some(Header { format: HeaderFormat::Image, text: None, media_url: None, example: None }),
            body: body.into(),
            footer: Some("Shop".into()),
            buttons: vec![TemplateButton::Url { text: "Track".into(), url: "https://shop.example/t/{{4}}".into() }, TemplateButton::CopyCode { example: None }],
        };
        let spec = TemplateSpec { name: "order_ready".into(), language: "en_US".into(), category: None, status: TemplateStatus::Approved, parameter_format: format, components, rejected_reason: None };
        Template::new(TemplateId::new(ulid::Ulid::nil()), ChannelId::new(ulid::Ulid::nil()), provider, Some(format!("HX{}", "b".repeat(32))), spec, "")
    }

    fn vars(body: &[(&str, &str)]) -> Variables {
        Variables {
            header_media: Some("https://cdn.example/p.jpg".into()),
            body: body.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect(),
            buttons: [("0".to_owned(), "A1".to_owned()), ("1".to_owned(), "SAVE10".to_owned())].into(),
            ..Variables::default()
        }
    }

    #[test]
    fn missing_and_extra_variables_are_named() {
        let t = template(Provider::Meta, ParameterFormat::Positional, "Hi {{1}}, order {{2}}");
        assert_eq!(check(&t, &vars(&[("1", "Ada")])), Err(TemplateError::Missing("body.{{2}}".into())));
        assert_eq!(check(&t, &vars(&[("1", "Ada"), ("2", "42"), ("3", "x")])), Err(TemplateError::Extra("body.{{3}}".into())));
        let mut no_url = vars(&[("1", "Ada"), ("2", "42")]);
        no_url.buttons.remove("0");
        assert_eq!(check(&t, &no_url), Err(TemplateError::Missing("buttons[0].url".into())));
        let mut bad_media = vars(&[("1", "Ada"), ("2", "42")]);
        bad_media.header_media = Some("http://cdn.example/p.jpg".into());
        assert!(matches!(check(&t, &bad_media), Err(TemplateError::Invalid { .. })));
        let mut extra_button = vars(&[("1", "Ada"), ("2", "42")]);
        extra_button.buttons.insert("5".into(), "x".into());
        assert_eq!(check(&t, &extra_button), Err(TemplateError::Extra("buttons[5]".into())));
        let mut pending = t;
        pending.spec.status = TemplateStatus::Pending;
        assert!(matches!(check(&pending, &vars(&[("1", "Ada"), ("2", "42")])), Err(TemplateError::NotApproved { .. })));
    }

    #[test]
    fn meta_params_carry_names_media_and_buttons() {
        let t = template(Provider::Meta, ParameterFormat::Named, "Hi {{first_name}}");
        let Content::Template { params: Some(p), name, .. } = render_for_send(&t, &vars(&[("first_name", "Ada")])).unwrap() else { panic!("template") };
        assert_eq!(name.as_deref(), Some("order_ready"));
        assert_eq!(p.header, Some(HeaderParam::Media { kind: MediaKind::Image, url: "https://cdn.example/p.jpg".into() }));
        assert_eq!(p.body, vec![BodyParam { name: Some("first_name".into()), text: "Ada".into() }]);
        assert_eq!(p.buttons[1], ButtonParam { index: 1, sub_type: "copy_code".into(), value: "SAVE10".into() });
    }

    #[test]
    fn video_and_document_headers_keep_their_kind() {
        for (format, kind) in [(HeaderFormat::Video, MediaKind::Video), (HeaderFormat::Document, MediaKind::Document)] {
            let mut t = template(Provider::Meta, ParameterFormat::Positional, "Hi {{1}}");
            t.spec.components.header = Some(Header { format, text: None, media_url: None, example: None });
            let Content::Template { params: Some(p), .. } = render_for_send(&t, &vars(&[("1", "Ada")])).unwrap() else { panic!("template") };
            assert_eq!(p.header, Some(HeaderParam::Media { kind, url: "https://cdn.example/p.jpg".into() }));
            t.provider = Provider::Whapi;
            assert!(matches!(render_for_send(&t, &vars(&[("1", "Ada")])).unwrap(), Content::Media { kind: k, .. } if k == kind));
        }
    }

    #[test]
    fn twilio_variables_are_keyed_across_the_content() {
        let mut t = template(Provider::Twilio, ParameterFormat::Positional, "Hi {{1}}, order {{2}}");
        t.spec.components.buttons.pop();
        t.spec.components.header = Some(Header { format: HeaderFormat::Image, text: None, media_url: Some("https://cdn.example/{{3}}".into()), example: None });
        let mut v = vars(&[("1", "Ada"), ("2", "42")]);
        v.buttons.remove("1");
        v.header_media = Some("p.jpg".into());
        let Content::Template { params: Some(p), content_sid, .. } = render_for_send(&t, &v).unwrap() else { panic!("template") };
        assert_eq!(content_sid, t.provider_template_id);
        let expected: BTreeMap<String, String> = [("1", "Ada"), ("2", "42"), ("3", "p.jpg"), ("4", "A1")].iter().map(|(k, v)| ((*k).into(), (*v).into())).collect();
        assert_eq!(p.content_variables, expected);
    }

    #[test]
    fn whapi_gets_filled_in_text() {
        let t = template(Provider::Whapi, ParameterFormat::Positional, "Hi {{1}}, order {{2}}");
        let content = render_for_send(&t, &vars(&[("1", "Ada"), ("2", "42")])).unwrap();
        assert_eq!(content, Content::Media { kind: MediaKind::Image, url: "https://cdn.example/p.jpg".into(), caption: Some("Hi Ada, order 42\n\n_Shop_\n\nTrack: https://shop.example/t/A1\n\nCode: SAVE10".into()), filename: None });
    }
}
