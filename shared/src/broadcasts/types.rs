//! Broadcast value types: status, template reference, variable mapping, send time, counters.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::types::prefixed_id;
use crate::contacts::audience::RuleSet;
use crate::contacts::types::Contact;
use crate::http::ApiError;
use crate::whatsapp::templates::{Slot, Template};
use crate::whatsapp::templates_render::{render_for_send, Variables};
use crate::whatsapp::types::{ChannelId, Content, MessageStatus};

prefixed_id!(BroadcastId, "bc_", "broadcast");

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum BroadcastStatus {
    Draft,
    Scheduled,
    Sending,
    /// Sending, while the channel waits out a provider rate limit (shown, never stored).
    Paused,
    Completed,
    Cancelled,
}

/// The template to send, from the channel's library (synced from the provider, or written for Whapi):
/// by `template_id`, by `name` + `language`, or on Twilio by Content SID. Only on Whapi (no approval
/// needed) may `text` with `{{1}}`, `{{2}}`… be sent instead.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TemplateRef {
    /// A library template (`tpl_…`); filled in when the broadcast is saved, whichever way it was named.
    #[serde(default)]
    pub template_id: Option<String>,
    pub name: Option<String>,
    pub language: Option<String>,
    pub content_sid: Option<String>,
    pub text: Option<String>,
}

/// Where one template variable comes from: `name`, `phone` or `fields.<name>`, else the default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct VariableMapping {
    /// The variable it fills, named as a 422 names it: `body.{{1}}`, `body.{{first_name}}`,
    /// `header.{{1}}`, `header.media`, `buttons[0].url`, `buttons[1].code`. Absent: body `{{n}}` for
    /// the n-th mapping.
    #[serde(default)]
    pub slot: Option<String>,
    pub source: Option<String>,
    pub default: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "mode", rename_all = "snake_case")]
pub enum SendAt {
    Now,
    /// At an RFC 3339 time.
    At { at: String },
    /// At `time` (HH:MM) on `date` (YYYY-MM-DD) in each contact's time zone; contacts without one use
    /// `default_offset` (an IANA name like `Europe/Berlin` or an offset like `+01:00`; UTC when absent).
    LocalTime { date: String, time: String, default_offset: Option<String> },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Broadcast {
    pub id: BroadcastId,
    pub name: String,
    pub channel_id: ChannelId,
    pub template: TemplateRef,
    #[serde(default)]
    pub variables: Vec<VariableMapping>,
    /// The saved audience the rules were copied from, if any.
    pub audience_id: Option<String>,
    pub rules: RuleSet,
    pub send_at: SendAt,
    pub status: BroadcastStatus,
    pub started_at: Option<String>,
    pub completed_at: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    pub created_by: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Counters {
    /// Contacts the audience selected.
    pub recipients: i64,
    /// Opted out: never sent.
    pub skipped: i64,
    /// Messages created for the send worker.
    pub queued: i64,
    pub sent: i64,
    pub delivered: i64,
    pub read: i64,
    /// Failed at the provider, or before sending (a variable without value or default).
    pub failed: i64,
    pub replied: i64,
}

pub const COUNTER_NAMES: [&str; 9] = ["recipients", "skipped", "queued", "sent", "delivered", "read", "failed", "failed_before_send", "replied"];

/// Counters a message status has reached: delivered implies sent, read implies delivered.
fn reached(s: MessageStatus) -> &'static [&'static str] {
    match s {
        MessageStatus::Queued | MessageStatus::Sending => &[],
        MessageStatus::Sent => &["sent"],
        MessageStatus::Delivered => &["sent", "delivered"],
        MessageStatus::Read => &["sent", "delivered", "read"],
        MessageStatus::Failed => &["failed"],
    }
}

/// Counter changes for a message moving from `from` to `to` (failed → delivered takes the failure back).
pub fn status_deltas(from: MessageStatus, to: MessageStatus) -> Vec<(String, i64)> {
    let (a, b) = (reached(from), reached(to));
    let mut out: Vec<(String, i64)> = b.iter().filter(|n| !a.contains(n)).map(|n| ((*n).to_owned(), 1)).collect();
    out.extend(a.iter().filter(|n| !b.contains(n)).map(|n| ((*n).to_owned(), -1)));
    out
}

fn variable(m: &VariableMapping, c: &Contact, slot: &Slot) -> Result<String, String> {
    let value = match m.source.as_deref() {
        Some("name") => c.name.clone(),
        Some("phone") => Some(c.phone.as_str().to_owned()),
        Some(f) if f.starts_with("fields.") => c.fields.get(&f[7..]).map(crate::contacts::types::FieldValue::display),
        _ => None,
    };
    value.filter(|v| !v.trim().is_empty()).or_else(|| m.default.clone().filter(|d| !d.is_empty())).ok_or_else(|| format!("variable {slot} has no value for this contact and no default"))
}

/// The slot each mapping fills (checked by `check_variables`).
fn slots(vars: &[VariableMapping]) -> impl Iterator<Item = (Slot, &VariableMapping)> {
    vars.iter().enumerate().map(|(i, m)| (m.slot.as_deref().and_then(Slot::parse).unwrap_or_else(|| Slot::Body((i + 1).to_string())), m))
}

fn insert(vars: &mut Variables, slot: Slot, value: String) {
    match slot {
        Slot::HeaderText(n) => _ = vars.header.insert(n, value),
        Slot::HeaderMedia => vars.header_media = Some(value),
        Slot::Body(n) => _ = vars.body.insert(n, value),
        Slot::ButtonUrl(i) | Slot::ButtonCode(i) => _ = vars.buttons.insert(i.to_string(), value),
    }
}

/// Whapi's free `text` as a library template of its own (body only, always approved), so it is checked
/// and filled exactly like one.
pub fn text_template(channel: &ChannelId, text: &str) -> Template {
    let components = crate::whatsapp::templates::Components { header: None, body: text.to_owned(), footer: None, buttons: vec![] };
    let spec = crate::whatsapp::templates::TemplateSpec { name: "text".into(), language: "und".into(), category: None, status: crate::whatsapp::templates::TemplateStatus::Approved, parameter_format: crate::whatsapp::templates::ParameterFormat::Positional, components, rejected_reason: None };
    Template::new(crate::whatsapp::templates::TemplateId::new(ulid::Ulid::nil()), channel.clone(), crate::whatsapp::types::Provider::Whapi, None, spec, "")
}

/// Why one contact gets no message: a variable without value, or the template refusing the values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotSendable {
    pub code: &'static str,
    pub message: String,
}

/// The variables for one contact, from the mapping.
pub fn variables_for(b: &Broadcast, c: &Contact) -> Result<Variables, NotSendable> {
    let mut vars = Variables::default();
    for (slot, m) in slots(&b.variables) {
        let value = variable(m, c, &slot).map_err(|message| NotSendable { code: "missing_variable", message })?;
        insert(&mut vars, slot, value);
    }
    Ok(vars)
}

/// Sample variables for checking a broadcast against its template before it is saved: each mapping's
/// default, or a stand-in value of the right shape.
pub fn sample_variables(vars: &[VariableMapping]) -> Variables {
    let mut out = Variables::default();
    for (slot, m) in slots(vars) {
        let stand_in = if slot == Slot::HeaderMedia { "https://example.com/sample.jpg" } else { "sample" };
        let value = m.default.clone().filter(|d| !d.is_empty()).unwrap_or_else(|| stand_in.to_owned());
        insert(&mut out, slot, value);
    }
    out
}

/// The message one contact gets: the template checked and rendered with the contact's variables by
/// `render_for_send`, as the messages API does.
pub fn content_for(b: &Broadcast, template: &Template, c: &Contact) -> Result<Content, NotSendable> {
    let vars = variables_for(b, c)?;
    render_for_send(template, &vars).map_err(|e| match ApiError::from(e) {
        ApiError::Refused { code, message } => NotSendable { code, message },
        e => NotSendable { code: "template_invalid", message: e.to_string() },
    })
}

pub fn check_variables(vars: &[VariableMapping]) -> Result<(), ApiError> {
    if vars.len() > 20 {
        return Err(ApiError::Validation("at most 20 template variables".into()));
    }
    for (i, v) in vars.iter().enumerate() {
        if v.slot.as_deref().is_some_and(|s| Slot::parse(s).is_none()) {
            return Err(ApiError::Validation(format!("variables[{i}]: slot must name a template variable like `body.{{{{1}}}}`, `header.media` or `buttons[0].url`")));
        }
        let ok_source = v.source.as_deref().is_none_or(|s| ["name", "phone"].contains(&s) || s.strip_prefix("fields.").is_some_and(|f| crate::contacts::types::parse_field_name(f).is_ok_and(|n| n == f)));
        if !ok_source {
            return Err(ApiError::Validation(format!("variables[{i}]: source must be `name`, `phone` or `fields.<name>`")));
        }
        if v.source.is_none() && v.default.as_deref().is_none_or(str::is_empty) {
            return Err(ApiError::Validation(format!("variables[{i}]: give a source or a default")));
        }
        if v.default.as_deref().is_some_and(|d| d.chars().count() > 1024) {
            return Err(ApiError::Validation(format!("variables[{i}]: the default holds at most 1024 characters")));
        }
    }
    let mut seen: Vec<Slot> = Vec::new();
    for (i, (slot, _)) in slots(vars).enumerate() {
        if seen.contains(&slot) {
            return Err(ApiError::Validation(format!("variables[{i}]: {slot} is mapped twice")));
        }
        seen.push(slot);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use MessageStatus::*;

    #[test]
    fn deltas_follow_the_status_order() {
        let d = |a, b| {
            let mut v = status_deltas(a, b);
            v.sort();
            v
        };
        assert_eq!(d(Sending, Sent), [("sent".to_owned(), 1)]);
        assert_eq!(d(Sent, Read), [("delivered".to_owned(), 1), ("read".to_owned(), 1)]);
        assert_eq!(d(Failed, Delivered), [("delivered".to_owned(), 1), ("failed".to_owned(), -1), ("sent".to_owned(), 1)]);
        assert_eq!(d(Sending, Failed), [("failed".to_owned(), 1)]);
        assert!(d(Queued, Sending).is_empty());
    }

    #[test]
    fn variables_fill_from_contact_fields_with_defaults() {
        let mut c = Contact::new(crate::whatsapp::types::PhoneNumber::parse("+14155552671").unwrap(), "t");
        c.fields.insert("city".into(), crate::contacts::types::FieldValue::Text("Berlin".into()));
        let b = Broadcast {
            id: BroadcastId::new(ulid::Ulid::new()), name: "n".into(), channel_id: ChannelId::new(ulid::Ulid::new()),
            template: TemplateRef { template_id: None, name: None, language: None, content_sid: None, text: Some("Hi {{1}}, news from {{2}}".into()) },
            variables: vec![VariableMapping { slot: None, source: Some("name".into()), default: Some("there".into()) }, VariableMapping { slot: Some("body.{{2}}".into()), source: Some("fields.city".into()), default: None }],
            audience_id: None, rules: RuleSet { join: "all".into(), rules: vec![] }, send_at: SendAt::Now, status: BroadcastStatus::Draft,
            started_at: None, completed_at: None, created_at: "t".into(), updated_at: "t".into(), created_by: "u".into(),
        };
        let text = text_template(&b.channel_id, b.template.text.as_deref().unwrap());
        assert_eq!(content_for(&b, &text, &c), Ok(Content::Text { body: "Hi there, news from Berlin".into(), preview_url: false }));
        c.fields.clear();
        let missing = content_for(&b, &text, &c).unwrap_err();
        assert_eq!(missing.code, "missing_variable");
        assert!(missing.message.contains("body.{{2}}"), "{missing:?}");
        c.fields.insert("city".into(), crate::contacts::types::FieldValue::Text("Paris".into()));
        let mut extra = b.clone();
        extra.variables.push(VariableMapping { slot: None, source: None, default: Some("x".into()) });
        assert_eq!(content_for(&extra, &text, &c).unwrap_err().code, "template_variable_unknown");
        assert_eq!(sample_variables(&b.variables).body, [("1".to_owned(), "there".to_owned()), ("2".to_owned(), "sample".to_owned())].into());
        let header = [VariableMapping { slot: Some("header.media".into()), source: None, default: None }];
        assert_eq!(sample_variables(&header).header_media.as_deref(), Some("https://example.com/sample.jpg"));
        assert!(check_variables(&[VariableMapping { slot: None, source: Some("fields.x y".into()), default: None }]).is_err());
        assert!(check_variables(&[VariableMapping { slot: None, source: None, default: None }]).is_err());
        assert!(check_variables(&[VariableMapping { slot: Some("footer".into()), source: Some("name".into()), default: None }]).is_err());
        let twice = [VariableMapping { slot: None, source: Some("name".into()), default: None }, VariableMapping { slot: Some("body.1".into()), source: Some("phone".into()), default: None }];
        assert!(check_variables(&twice).unwrap_err().to_string().contains("mapped twice"));
    }
}
