//! Broadcast value types: status, template reference, variable mapping, send time, counters.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::types::prefixed_id;
use crate::contacts::audience::RuleSet;
use crate::contacts::types::Contact;
use crate::http::ApiError;
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

/// The approved template to send: Meta by name + language, Twilio by Content SID; on Whapi (no templates)
/// free `text` with `{{1}}`, `{{2}}`… filled from the same variables.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TemplateRef {
    pub name: Option<String>,
    pub language: Option<String>,
    pub content_sid: Option<String>,
    pub text: Option<String>,
}

/// Where variable {{n}} comes from: `name`, `phone` or `fields.<name>`, else the default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct VariableMapping {
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
    /// `default_offset` (e.g. `+01:00`, UTC when absent).
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

fn variable(m: &VariableMapping, c: &Contact, i: usize) -> Result<String, String> {
    let value = match m.source.as_deref() {
        Some("name") => c.name.clone(),
        Some("phone") => Some(c.phone.as_str().to_owned()),
        Some(f) if f.starts_with("fields.") => c.fields.get(&f[7..]).map(crate::contacts::types::FieldValue::display),
        _ => None,
    };
    value.filter(|v| !v.trim().is_empty()).or_else(|| m.default.clone().filter(|d| !d.is_empty())).ok_or_else(|| format!("variable {{{{{}}}}} has no value for this contact and no default", i + 1))
}

/// The message one contact gets. The one place a broadcast becomes content, so validated templates
/// (the template library) can take over here.
pub fn content_for(b: &Broadcast, c: &Contact) -> Result<Content, String> {
    let variables = b.variables.iter().enumerate().map(|(i, m)| variable(m, c, i)).collect::<Result<Vec<_>, _>>()?;
    if let (Some(text), None, None) = (&b.template.text, &b.template.name, &b.template.content_sid) {
        let body = variables.iter().enumerate().fold(text.clone(), |t, (i, v)| t.replace(&format!("{{{{{}}}}}", i + 1), v));
        return Ok(Content::Text { body, preview_url: false });
    }
    Ok(Content::Template { name: b.template.name.clone(), language: b.template.language.clone(), content_sid: b.template.content_sid.clone(), params: None, variables })
}

pub fn check_variables(vars: &[VariableMapping]) -> Result<(), ApiError> {
    if vars.len() > 20 {
        return Err(ApiError::Validation("at most 20 template variables".into()));
    }
    for (i, v) in vars.iter().enumerate() {
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
            template: TemplateRef { name: Some("promo".into()), language: Some("en_US".into()), content_sid: None, text: None },
            variables: vec![VariableMapping { source: Some("name".into()), default: Some("there".into()) }, VariableMapping { source: Some("fields.city".into()), default: None }],
            audience_id: None, rules: RuleSet { join: "all".into(), rules: vec![] }, send_at: SendAt::Now, status: BroadcastStatus::Draft,
            started_at: None, completed_at: None, created_at: "t".into(), updated_at: "t".into(), created_by: "u".into(),
        };
        assert!(matches!(content_for(&b, &c), Ok(Content::Template { variables, .. }) if variables == ["there", "Berlin"]));
        c.fields.clear();
        assert!(content_for(&b, &c).unwrap_err().contains("{{2}}"));
        c.fields.insert("city".into(), crate::contacts::types::FieldValue::Text("Paris".into()));
        let text = Broadcast { template: TemplateRef { name: None, language: None, content_sid: None, text: Some("Hi {{1}}, news from {{2}}".into()) }, ..b.clone() };
        assert_eq!(content_for(&text, &c), Ok(Content::Text { body: "Hi there, news from Paris".into(), preview_url: false }));
        assert!(check_variables(&[VariableMapping { source: Some("fields.x y".into()), default: None }]).is_err());
        assert!(check_variables(&[VariableMapping { source: None, default: None }]).is_err());
    }
}
