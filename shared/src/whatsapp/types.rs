//! WhatsApp value types, each built only through its checked parser: phone numbers, recipients,
//! providers, message content and the forward-only message status.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::types::prefixed_id;
use crate::http::ApiError;

prefixed_id!(CredentialId, "cred_", "credential");
prefixed_id!(ChannelId, "chan_", "channel");
prefixed_id!(MessageId, "msg_", "message");

/// An E.164 number: `+`, a non-zero country digit, 8–15 digits in all. Spaces, dots, dashes and
/// parentheses in the input are ignored; anything else is refused.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(try_from = "String", into = "String")]
pub struct PhoneNumber(String);

impl PhoneNumber {
    pub fn parse(raw: &str) -> Result<Self, ApiError> {
        let compact: String = raw.trim().chars().filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')')).collect();
        let digits = compact.strip_prefix('+').unwrap_or_default();
        let valid = (8..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) && !digits.starts_with('0');
        if valid {
            Ok(Self(compact))
        } else {
            Err(ApiError::Validation(format!("`{}` is not an E.164 phone number (like +14155552671)", raw.chars().take(32).collect::<String>())))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The number without the leading `+` (Meta's `to`, Whapi's chat ids, WhatsApp ids).
    pub fn digits(&self) -> &str {
        &self.0[1..]
    }
}

impl TryFrom<String> for PhoneNumber {
    type Error = ApiError;
    fn try_from(s: String) -> Result<Self, ApiError> {
        Self::parse(&s)
    }
}

impl From<PhoneNumber> for String {
    fn from(p: PhoneNumber) -> String {
        p.0
    }
}

/// Who a message goes to: a person's number, or a group chat (`…@g.us`, providers with groups only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Recipient {
    Phone(PhoneNumber),
    Group(String),
}

impl utoipa::PartialSchema for Recipient {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        String::schema()
    }
}
impl ToSchema for Recipient {}

impl Recipient {
    pub fn parse(raw: &str) -> Result<Self, ApiError> {
        let raw = raw.trim();
        match raw.strip_suffix("@g.us") {
            Some(id) if (9..=40).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_digit() || b == b'-') => Ok(Self::Group(raw.to_owned())),
            Some(_) => Err(ApiError::Validation("a group id looks like 120363025246125486@g.us".into())),
            None => PhoneNumber::parse(raw).map(Self::Phone),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            Self::Phone(p) => p.as_str(),
            Self::Group(g) => g,
        }
    }
}

impl TryFrom<String> for Recipient {
    type Error = ApiError;
    fn try_from(s: String) -> Result<Self, ApiError> {
        Self::parse(&s)
    }
}

impl From<Recipient> for String {
    fn from(r: Recipient) -> String {
        r.as_str().to_owned()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    Twilio,
    Meta,
    Whapi,
}

impl Provider {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Twilio => "twilio",
            Self::Meta => "meta",
            Self::Whapi => "whapi",
        }
    }

    /// Messages per second a sender may send unless configured otherwise (providers.md 2.2, 3.5).
    pub fn default_throughput(self) -> u32 {
        match self {
            Self::Meta => 80,
            Self::Twilio => 10,
            // Whapi drives a linked phone; bursts risk a ban, so go slow by default.
            Self::Whapi => 5,
        }
    }

    /// Whether free-form messages need the contact to have written within 24 hours (official APIs only).
    pub fn enforces_service_window(self) -> bool {
        !matches!(self, Self::Whapi)
    }
}

/// What a provider can send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
pub struct Capabilities {
    pub text: bool,
    pub media: bool,
    pub template: bool,
    pub interactive: bool,
    /// Interactive list messages (a menu of up to 10 rows).
    pub lists: bool,
    pub read_receipts: bool,
    pub groups: bool,
    pub max_text_chars: usize,
    /// What the template library does on this provider.
    pub templates: crate::whatsapp::templates::TemplateSupport,
}

impl Provider {
    pub fn capabilities(self) -> Capabilities {
        match self {
            // Interactive messages on Twilio need a Content API template, i.e. the `template` kind.
            Self::Twilio => Capabilities { text: true, media: true, template: true, interactive: false, lists: false, read_receipts: false, groups: false, max_text_chars: 1600, templates: self.template_support() },
            Self::Meta => Capabilities { text: true, media: true, template: true, interactive: true, lists: true, read_receipts: true, groups: false, max_text_chars: 4096, templates: self.template_support() },
            Self::Whapi => Capabilities { text: true, media: true, template: false, interactive: true, lists: false, read_receipts: true, groups: true, max_text_chars: 4096, templates: self.template_support() },
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum MediaKind {
    Image,
    Video,
    Audio,
    Document,
}

impl MediaKind {
    fn document() -> Self {
        Self::Document
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Image => "image",
            Self::Video => "video",
            Self::Audio => "audio",
            Self::Document => "document",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Button {
    pub id: String,
    pub title: String,
}

/// One row of a list message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ListRow {
    pub id: String,
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// `body` followed by the options as `1. title` lines: how a choice goes out where the provider has no
/// buttons or lists (the flow engine takes the number or the title as the answer).
pub fn numbered(body: &str, titles: impl Iterator<Item = impl AsRef<str>>) -> String {
    let lines: Vec<String> = titles.enumerate().map(|(i, t)| format!("{}. {}", i + 1, t.as_ref())).collect();
    format!("{body}\n\n{}", lines.join("\n"))
}

/// A template's header parameter: text for a `{{1}}` in a text header, or the media to show.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum HeaderParam {
    Text { text: String },
    Media { kind: MediaKind, url: String },
}

/// One body parameter; `name` is set for templates with named (`{{first_name}}`) variables.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct BodyParam {
    pub name: Option<String>,
    pub text: String,
}

/// A button's parameter: the URL suffix of a dynamic URL button, or a copy-code button's code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ButtonParam {
    pub index: usize,
    /// `url` or `copy_code`.
    pub sub_type: String,
    pub value: String,
}

/// Checked template parameters, in the provider's terms: components for Meta, `ContentVariables` for Twilio.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
pub struct TemplateParams {
    pub header: Option<HeaderParam>,
    #[serde(default)]
    pub body: Vec<BodyParam>,
    #[serde(default)]
    pub buttons: Vec<ButtonParam>,
    /// Twilio's `ContentVariables`: every variable of the content, by its key.
    #[serde(default)]
    pub content_variables: std::collections::BTreeMap<String, String>,
}

/// One message model for every provider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Content {
    Text {
        body: String,
        #[serde(default)]
        preview_url: bool,
    },
    Media {
        kind: MediaKind,
        url: String,
        caption: Option<String>,
        filename: Option<String>,
    },
    /// A file uploaded to `…/attachments` (`attachment_id`); the send fills `kind`, `mime` and
    /// `filename` from the stored upload. Meta gets it through its media upload, Twilio through a
    /// signed link to this platform, Whapi inline.
    Attachment {
        attachment_id: String,
        #[serde(default)]
        caption: Option<String>,
        #[serde(default = "MediaKind::document")]
        kind: MediaKind,
        #[serde(default)]
        mime: String,
        #[serde(default)]
        filename: Option<String>,
    },
    /// A pre-approved template: Meta by `name` + `language`, Twilio by `content_sid` (HX…).
    /// `variables` fill {{1}}, {{2}}, … in order.
    Template {
        name: Option<String>,
        language: Option<String>,
        content_sid: Option<String>,
        #[serde(default)]
        variables: Vec<String>,
        /// Set when the template came from the channel's library: every parameter checked against its
        /// components (header media, named body variables, button parameters), replacing `variables`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        params: Option<TemplateParams>,
    },
    /// Reply buttons (at most 3).
    Interactive { body: String, buttons: Vec<Button> },
    /// A list message: `button` opens a menu of up to 10 rows (Meta only; see `fitted_for`).
    List { body: String, button: String, rows: Vec<ListRow> },
}

impl Content {
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Text { .. } => "text",
            Self::Media { .. } => "media",
            Self::Attachment { .. } => "attachment",
            Self::Template { .. } => "template",
            Self::Interactive { .. } => "interactive",
            Self::List { .. } => "list",
        }
    }

    /// The content as `provider` can send it: buttons and lists become numbered text where the provider
    /// has none (Twilio without a Content template, lists on Whapi), so a bot's choice still reaches the
    /// contact and is answered by number or title.
    pub fn fitted_for(self, provider: Provider) -> Self {
        let caps = provider.capabilities();
        match self {
            Self::Interactive { body, buttons } if !caps.interactive => Self::Text { body: numbered(&body, buttons.iter().map(|b| &b.title)), preview_url: false },
            Self::List { body, rows, .. } if !caps.lists => Self::Text { body: numbered(&body, rows.iter().map(|r| &r.title)), preview_url: false },
            other => other,
        }
    }

    /// Checks the content against what `provider` can send and its limits.
    pub fn check_for(&self, provider: Provider) -> Result<(), ApiError> {
        let caps = provider.capabilities();
        let unsupported = |what: &str| Err(ApiError::Refused { code: "unsupported_capability", message: format!("{} cannot send {what} messages", provider.as_str()) });
        let chars = |s: &str| s.chars().count();
        match self {
            Self::Text { body, .. } => {
                if body.trim().is_empty() || chars(body) > caps.max_text_chars {
                    return Err(ApiError::Validation(format!("text must be 1–{} characters for {}", caps.max_text_chars, provider.as_str())));
                }
            }
            Self::Media { url, caption, .. } => {
                if !caps.media {
                    return unsupported("media");
                }
                if !url.starts_with("https://") || url.len() > 2048 {
                    return Err(ApiError::Validation("media url must be an https URL".into()));
                }
                if caption.as_deref().is_some_and(|c| chars(c) > 1024) {
                    return Err(ApiError::Validation("caption must be at most 1024 characters".into()));
                }
            }
            Self::Attachment { caption, .. } => {
                if !caps.media {
                    return unsupported("media");
                }
                if caption.as_deref().is_some_and(|c| chars(c) > 1024) {
                    return Err(ApiError::Validation("caption must be at most 1024 characters".into()));
                }
            }
            Self::Template { name, language, content_sid, variables, .. } => {
                if !caps.template {
                    return unsupported("template");
                }
                match provider {
                    Provider::Twilio if !content_sid.as_deref().is_some_and(|s| s.len() == 34 && s.starts_with("HX") && s[2..].bytes().all(|b| b.is_ascii_hexdigit())) => {
                        return Err(ApiError::Validation("a Twilio template needs content_sid (HX followed by 32 hex digits)".into()));
                    }
                    Provider::Meta if name.as_deref().is_none_or(|n| n.is_empty() || n.len() > 512) || language.as_deref().is_none_or(str::is_empty) => {
                        return Err(ApiError::Validation("a Meta template needs name and language (e.g. en_US)".into()));
                    }
                    _ => {}
                }
                if variables.len() > 20 || variables.iter().any(|v| v.is_empty() || chars(v) > 1024) {
                    return Err(ApiError::Validation("at most 20 template variables, each 1–1024 characters".into()));
                }
            }
            Self::Interactive { body, buttons } => {
                if !caps.interactive {
                    return unsupported("interactive");
                }
                if body.trim().is_empty() || chars(body) > 1024 {
                    return Err(ApiError::Validation("interactive body must be 1–1024 characters".into()));
                }
                if buttons.is_empty() || buttons.len() > 3 || buttons.iter().any(|b| b.id.is_empty() || b.id.len() > 256 || b.title.is_empty() || chars(&b.title) > 20) {
                    return Err(ApiError::Validation("1–3 buttons, each with an id and a title of 1–20 characters".into()));
                }
            }
            Self::List { body, button, rows } => {
                if !caps.lists {
                    return unsupported("list");
                }
                // WhatsApp's limits: body ≤ 4096, button label ≤ 20, ≤ 10 rows with unique ids ≤ 200, titles ≤ 24, descriptions ≤ 72.
                if body.trim().is_empty() || chars(body) > 4096 || button.trim().is_empty() || chars(button) > 20 {
                    return Err(ApiError::Validation("a list needs a body of 1–4096 characters and a button label of 1–20".into()));
                }
                let mut ids = std::collections::HashSet::new();
                let bad_row = |r: &ListRow| r.id.is_empty() || r.id.len() > 200 || r.title.trim().is_empty() || chars(&r.title) > 24 || r.description.as_deref().is_some_and(|d| chars(d) > 72);
                if rows.is_empty() || rows.len() > 10 || rows.iter().any(|r| bad_row(r) || !ids.insert(r.id.as_str())) {
                    return Err(ApiError::Validation("1–10 list rows, each with a unique id (≤ 200), a title of 1–24 and a description of at most 72 characters".into()));
                }
            }
        }
        Ok(())
    }
}

/// Where a message is. It only moves forward: queued → sending → sent → delivered → read, or to failed
/// from any state before delivered. Delivered and read also follow failed: provider statuses arrive in
/// any order (SQS standard queues, provider retries), and evidence of delivery outranks a failure
/// report, so the end state does not depend on the order they are processed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum MessageStatus {
    Queued,
    Sending,
    Sent,
    Delivered,
    Read,
    Failed,
}

impl MessageStatus {
    pub fn can_become(self, next: MessageStatus) -> bool {
        match (self, next) {
            (Self::Failed, Self::Delivered | Self::Read) => true,
            (Self::Failed, _) => false,
            (Self::Queued | Self::Sending | Self::Sent, Self::Failed) => true,
            (_, Self::Failed) => false,
            (from, to) => to > from,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phone_numbers() {
        assert_eq!(PhoneNumber::parse(" +1 (415) 555-2671 ").unwrap().as_str(), "+14155552671");
        assert_eq!(PhoneNumber::parse("+447911123456").unwrap().digits(), "447911123456");
        for bad in ["14155552671", "+0123456789", "+1234567", "+1234567890123456", "+1415555267a", "", "whatsapp:+14155552671"] {
            assert!(PhoneNumber::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn recipients() {
        assert_eq!(Recipient::parse("120363025246125486@g.us").unwrap(), Recipient::Group("120363025246125486@g.us".into()));
        assert!(matches!(Recipient::parse("+14155552671").unwrap(), Recipient::Phone(_)));
        assert!(Recipient::parse("x@g.us").is_err());
    }

    #[test]
    fn status_moves_forward_only() {
        use MessageStatus::*;
        assert!(Queued.can_become(Sending) && Sent.can_become(Read) && Delivered.can_become(Read) && Sent.can_become(Failed));
        assert!(!Read.can_become(Delivered) && !Delivered.can_become(Failed) && !Failed.can_become(Sent) && !Sent.can_become(Sent));
        assert!(Failed.can_become(Delivered) && Failed.can_become(Read) && !Read.can_become(Failed));
    }

    #[test]
    fn the_end_state_does_not_depend_on_arrival_order() {
        use MessageStatus::*;
        fn permutations(items: &[MessageStatus]) -> Vec<Vec<MessageStatus>> {
            if items.len() <= 1 {
                return vec![items.to_vec()];
            }
            (0..items.len())
                .flat_map(|i| {
                    let mut rest = items.to_vec();
                    let first = rest.remove(i);
                    permutations(&rest).into_iter().map(move |mut p| {
                        p.insert(0, first);
                        p
                    })
                })
                .collect()
        }
        for (arrivals, expected) in [(vec![Sent, Delivered, Read, Failed], Read), (vec![Sent, Delivered, Failed], Delivered), (vec![Sent, Failed], Failed)] {
            for order in permutations(&arrivals) {
                let end = order.iter().fold(Sending, |at, &next| if at.can_become(next) { next } else { at });
                assert_eq!(end, expected, "{order:?}");
            }
        }
    }

    #[test]
    fn capability_checks() {
        let template = Content::Template { name: Some("hello_world".into()), language: Some("en_US".into()), content_sid: None, variables: vec![], params: None };
        assert!(template.check_for(Provider::Meta).is_ok());
        assert!(matches!(template.check_for(Provider::Whapi), Err(ApiError::Refused { code: "unsupported_capability", .. })));
        assert!(template.check_for(Provider::Twilio).is_err(), "Twilio needs a ContentSid");
        let long = Content::Text { body: "x".repeat(1601), preview_url: false };
        assert!(long.check_for(Provider::Twilio).is_err() && long.check_for(Provider::Meta).is_ok());
        let buttons = Content::Interactive { body: "Pick".into(), buttons: vec![Button { id: "a".into(), title: "A".into() }] };
        assert!(buttons.check_for(Provider::Twilio).is_err() && buttons.check_for(Provider::Meta).is_ok());
        assert_eq!(buttons.clone().fitted_for(Provider::Twilio), Content::Text { body: "Pick\n\n1. A".into(), preview_url: false });
        assert_eq!(buttons.clone().fitted_for(Provider::Whapi), buttons);
    }

    #[test]
    fn lists_on_meta_and_numbered_text_elsewhere() {
        let row = |id: &str, title: &str| ListRow { id: id.into(), title: title.into(), description: None };
        let list = Content::List { body: "Which day?".into(), button: "Days".into(), rows: vec![row("mon", "Monday"), row("tue", "Tuesday")] };
        assert!(list.check_for(Provider::Meta).is_ok());
        assert!(matches!(list.check_for(Provider::Whapi), Err(ApiError::Refused { code: "unsupported_capability", .. })));
        assert_eq!(list.clone().fitted_for(Provider::Meta), list);
        for p in [Provider::Twilio, Provider::Whapi] {
            let fitted = list.clone().fitted_for(p);
            assert_eq!(fitted, Content::Text { body: "Which day?\n\n1. Monday\n2. Tuesday".into(), preview_url: false });
            assert!(fitted.check_for(p).is_ok());
        }
        let dup = Content::List { body: "x".into(), button: "Open".into(), rows: vec![row("a", "A"), row("a", "B")] };
        let long_title = Content::List { body: "x".into(), button: "Open".into(), rows: vec![row("a", &"t".repeat(25))] };
        let eleven = Content::List { body: "x".into(), button: "Open".into(), rows: (0..11).map(|i| row(&i.to_string(), "T")).collect() };
        let no_label = Content::List { body: "x".into(), button: " ".into(), rows: vec![row("a", "A")] };
        for bad in [dup, long_title, eleven, no_label] {
            assert!(matches!(bad.check_for(Provider::Meta), Err(ApiError::Validation(_))), "{bad:?}");
        }
    }
}
