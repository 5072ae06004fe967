//! WhatsApp message templates: a library per channel (synced from Meta or Twilio's Content API, or
//! written locally for Whapi), parsed into typed components, with the variables each one needs.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::types::{ChannelId, MediaKind, Provider};
use crate::auth::types::prefixed_id;

prefixed_id!(TemplateId, "tpl_", "template");

/// Review state. Only `APPROVED` templates are sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TemplateStatus {
    Approved,
    Pending,
    Rejected,
    Paused,
    Disabled,
    /// Twilio content that was never submitted for WhatsApp approval.
    Unsubmitted,
}

impl TemplateStatus {
    pub fn parse(raw: &str) -> Option<Self> {
        Some(match raw.to_ascii_uppercase().as_str() {
            "APPROVED" => Self::Approved,
            // Meta: PENDING, IN_APPEAL; Twilio: received, pending.
            "PENDING" | "IN_APPEAL" | "RECEIVED" => Self::Pending,
            "REJECTED" => Self::Rejected,
            "PAUSED" => Self::Paused,
            "DISABLED" | "DELETED" | "LIMIT_EXCEEDED" => Self::Disabled,
            "UNSUBMITTED" => Self::Unsubmitted,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Approved => "APPROVED",
            Self::Pending => "PENDING",
            Self::Rejected => "REJECTED",
            Self::Paused => "PAUSED",
            Self::Disabled => "DISABLED",
            Self::Unsubmitted => "UNSUBMITTED",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Category {
    Marketing,
    Utility,
    Authentication,
}

impl Category {
    pub fn parse(raw: &str) -> Option<Self> {
        Some(match raw.to_ascii_uppercase().as_str() {
            "MARKETING" => Self::Marketing,
            "UTILITY" => Self::Utility,
            "AUTHENTICATION" => Self::Authentication,
            _ => return None,
        })
    }
}

/// How the body's variables are written: `{{1}}`, `{{2}}` or `{{first_name}}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ParameterFormat {
    Positional,
    Named,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum HeaderFormat {
    Text,
    Image,
    Video,
    Document,
}

impl HeaderFormat {
    pub fn media_kind(self) -> Option<MediaKind> {
        match self {
            Self::Text => None,
            Self::Image => Some(MediaKind::Image),
            Self::Video => Some(MediaKind::Video),
            Self::Document => Some(MediaKind::Document),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Header {
    pub format: HeaderFormat,
    /// The text of a text header (may hold one variable).
    pub text: Option<String>,
    /// Twilio's media URL, fixed or ending in one variable (`https://cdn.example/{{3}}`); `None` when
    /// the whole URL is given per message (Meta).
    pub media_url: Option<String>,
    /// An example for previews: Meta's example media or header text.
    pub example: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum TemplateButton {
    QuickReply { text: String },
    /// `url` may end in one variable (`https://shop.example/track/{{1}}`), filled per message.
    Url { text: String, url: String },
    PhoneNumber { text: String, phone_number: String },
    /// The code is given per message.
    CopyCode { example: Option<String> },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Components {
    pub header: Option<Header>,
    pub body: String,
    pub footer: Option<String>,
    #[serde(default)]
    pub buttons: Vec<TemplateButton>,
}

/// What a template says, as the provider reviews it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TemplateSpec {
    pub name: String,
    pub language: String,
    pub category: Option<Category>,
    pub status: TemplateStatus,
    pub parameter_format: ParameterFormat,
    pub components: Components,
    pub rejected_reason: Option<String>,
}

/// A template as a provider lists it, before it joins the library.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteTemplate {
    /// Meta's template id or Twilio's ContentSid (HX…).
    pub provider_template_id: String,
    pub spec: TemplateSpec,
}

/// A template to create: the components with an example for every variable (Meta reviews them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Draft {
    pub name: String,
    pub language: String,
    pub category: Option<Category>,
    pub parameter_format: ParameterFormat,
    pub components: Components,
    pub examples: super::templates_render::Variables,
}

/// A template in a channel's library.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Template {
    pub id: TemplateId,
    pub channel_id: ChannelId,
    pub provider: Provider,
    pub provider_template_id: Option<String>,
    #[serde(flatten)]
    pub spec: TemplateSpec,
    /// No longer listed by the provider at the last sync (kept so old messages still resolve).
    #[serde(default)]
    pub removed: bool,
    pub synced_at: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

impl Template {
    /// A template the library has not stored yet (created now, not synced).
    pub fn new(id: TemplateId, channel_id: ChannelId, provider: Provider, provider_template_id: Option<String>, spec: TemplateSpec, now: &str) -> Self {
        Self { id, channel_id, provider, provider_template_id, spec, removed: false, synced_at: None, created_at: now.to_owned(), updated_at: now.to_owned() }
    }
}

/// Where a variable sits, named the way a 422 names it: `header.{{1}}`, `body.{{first_name}}`,
/// `header.media`, `buttons[0].url`, `buttons[1].code`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Slot {
    HeaderText(String),
    HeaderMedia,
    Body(String),
    ButtonUrl(usize),
    ButtonCode(usize),
}

impl std::fmt::Display for Slot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::HeaderText(v) => write!(f, "header.{{{{{v}}}}}"),
            Self::HeaderMedia => f.write_str("header.media"),
            Self::Body(v) => write!(f, "body.{{{{{v}}}}}"),
            Self::ButtonUrl(i) => write!(f, "buttons[{i}].url"),
            Self::ButtonCode(i) => write!(f, "buttons[{i}].code"),
        }
    }
}

/// The variable names in `text`, in order of first appearance: `{{1}}` gives `1`, `{{first_name}}`
/// gives `first_name`. Braces around anything else are text.
pub fn placeholders(text: &str) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else { break };
        let name = after[..end].trim();
        let valid = !name.is_empty() && name.len() <= 64 && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if valid && !names.iter().any(|n| n == name) {
            names.push(name.to_owned());
        }
        rest = if valid { &after[end + 2..] } else { after };
    }
    names
}

/// `text` with each `{{name}}` replaced by `value(name)` (unknown names are left as written).
pub fn fill(text: &str, value: impl Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else { break };
        out.push_str(&rest[..start]);
        match value(after[..end].trim()) {
            Some(v) => out.push_str(&v),
            None => out.push_str(&rest[start..start + end + 4]),
        }
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    out
}

impl Components {
    /// Every variable the components need, in send order (header, body, buttons).
    pub fn slots(&self) -> Vec<Slot> {
        let mut slots = Vec::new();
        if let Some(h) = &self.header {
            match (h.format.media_kind(), &h.media_url) {
                (Some(_), None) => slots.push(Slot::HeaderMedia),
                (Some(_), Some(url)) if !placeholders(url).is_empty() => slots.push(Slot::HeaderMedia),
                (Some(_), Some(_)) => {}
                (None, _) => slots.extend(placeholders(h.text.as_deref().unwrap_or_default()).into_iter().map(Slot::HeaderText)),
            }
        }
        slots.extend(placeholders(&self.body).into_iter().map(Slot::Body));
        for (i, b) in self.buttons.iter().enumerate() {
            match b {
                TemplateButton::Url { url, .. } if !placeholders(url).is_empty() => slots.push(Slot::ButtonUrl(i)),
                TemplateButton::CopyCode { .. } => slots.push(Slot::ButtonCode(i)),
                _ => {}
            }
        }
        slots
    }
}

/// What each provider offers for templates (the capability matrix's template column, in detail).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
pub struct TemplateSupport {
    /// Templates are listed by the provider and synced into the library.
    pub sync: bool,
    /// Templates can be created and submitted for review from the dashboard.
    pub create: bool,
    /// Sending outside the 24-hour window needs an approved template.
    pub approval_required: bool,
    /// How a template is addressed when sending: `name_language` (Meta), `content_sid` (Twilio) or
    /// `rendered_text` (Whapi: the library template is filled in and sent as a normal message).
    pub addressed_by: &'static str,
}

impl Provider {
    pub fn template_support(self) -> TemplateSupport {
        match self {
            Self::Meta => TemplateSupport { sync: true, create: true, approval_required: true, addressed_by: "name_language" },
            Self::Twilio => TemplateSupport { sync: true, create: true, approval_required: true, addressed_by: "content_sid" },
            Self::Whapi => TemplateSupport { sync: false, create: true, approval_required: false, addressed_by: "rendered_text" },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_positional_and_named() {
        assert_eq!(placeholders("Hi {{1}}, order {{2}} ships {{1}}"), vec!["1", "2"]);
        assert_eq!(placeholders("Hi {{first_name}} {{ order_id }}"), vec!["first_name", "order_id"]);
        assert_eq!(placeholders("{{Not Valid}} {x} {{}} {{2"), Vec::<String>::new());
        assert_eq!(fill("Hi {{1}}, {{2}}{{3}}", |n| (n != "3").then(|| format!("<{n}>"))), "Hi <1>, <2>{{3}}");
    }

    #[test]
    fn slots_name_every_variable() {
        let c = Components {
            header: Some(Header { format: HeaderFormat::Image, text: None, media_url: None, example: None }),
            body: "Hi {{1}}, your order {{2}} is ready".into(),
            footer: Some("Reply STOP to opt out".into()),
            buttons: vec![
                TemplateButton::QuickReply { text: "Thanks".into() },
                TemplateButton::Url { text: "Track".into(), url: "https://shop.example/t/{{1}}".into() },
                TemplateButton::Url { text: "Shop".into(), url: "https://shop.example".into() },
                TemplateButton::CopyCode { example: Some("SAVE10".into()) },
            ],
        };
        let named: Vec<String> = c.slots().iter().map(ToString::to_string).collect();
        assert_eq!(named, ["header.media", "body.{{1}}", "body.{{2}}", "buttons[1].url", "buttons[3].code"]);
    }

    #[test]
    fn statuses_from_both_providers() {
        assert_eq!(TemplateStatus::parse("APPROVED"), Some(TemplateStatus::Approved));
        assert_eq!(TemplateStatus::parse("received"), Some(TemplateStatus::Pending));
        assert_eq!(TemplateStatus::parse("unsubmitted"), Some(TemplateStatus::Unsubmitted));
        assert_eq!(TemplateStatus::parse("nonsense"), None);
    }
}
