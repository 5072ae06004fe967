//! Contact value types, each built through its checked parser: tags, custom field names and values
//! (typed, capped), time zones, and the contact record itself.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::http::ApiError;
use crate::whatsapp::types::{ChannelId, PhoneNumber};

pub const MAX_TAGS: usize = 30;
pub const MAX_FIELDS: usize = 30;
pub const MAX_FIELD_TEXT: usize = 500;
pub const MAX_NAME: usize = 120;

/// A tag: 1–40 characters of letters, digits, space and `_ - : .`, stored lower-case so `VIP` and `vip` are one tag.
pub fn parse_tag(raw: &str) -> Result<String, ApiError> {
    let t = raw.trim().to_lowercase();
    let ok = (1..=40).contains(&t.chars().count()) && t.chars().all(|c| c.is_alphanumeric() || " _-:.".contains(c));
    ok.then_some(t).ok_or_else(|| ApiError::Validation(format!("tag `{}` must be 1–40 letters, digits, spaces or _ - : .", raw.chars().take(40).collect::<String>())))
}

pub fn parse_tags<'a>(raw: impl IntoIterator<Item = &'a str>) -> Result<Vec<String>, ApiError> {
    let mut tags: Vec<String> = Vec::new();
    for t in raw {
        let t = parse_tag(t)?;
        if !tags.contains(&t) {
            tags.push(t);
        }
    }
    if tags.len() > MAX_TAGS {
        return Err(ApiError::Validation(format!("at most {MAX_TAGS} tags per contact")));
    }
    Ok(tags)
}

/// A custom field name: `[a-z][a-z0-9_]{0,39}`.
pub fn parse_field_name(raw: &str) -> Result<String, ApiError> {
    let n = raw.trim().to_lowercase().replace([' ', '-'], "_");
    let ok = (1..=40).contains(&n.len()) && n.starts_with(|c: char| c.is_ascii_lowercase()) && n.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    ok.then_some(n).ok_or_else(|| ApiError::Validation(format!("field name `{}` must start with a letter and hold 1–40 letters, digits or _", raw.chars().take(40).collect::<String>())))
}

/// A custom field value: text, number or yes/no.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum FieldValue {
    Bool(bool),
    Number(f64),
    Text(String),
}

impl FieldValue {
    pub fn check(self) -> Result<Self, ApiError> {
        match &self {
            Self::Text(t) if t.chars().count() > MAX_FIELD_TEXT => Err(ApiError::Validation(format!("a text field holds at most {MAX_FIELD_TEXT} characters"))),
            Self::Number(n) if !n.is_finite() => Err(ApiError::Validation("a number field must be finite".into())),
            _ => Ok(self),
        }
    }

    /// A CSV cell as the most specific type: `true`/`false`, a number, else text.
    pub fn infer(cell: &str) -> Result<Self, ApiError> {
        let c = cell.trim();
        match c.to_lowercase().as_str() {
            "true" | "yes" => return Ok(Self::Bool(true)),
            "false" | "no" => return Ok(Self::Bool(false)),
            _ => {}
        }
        // Keep number-looking text with a leading zero or plus (ids, postcodes) as text.
        match c.parse::<f64>() {
            Ok(n) if n.is_finite() && !c.starts_with('+') && !(c.len() > 1 && c.starts_with('0') && !c.starts_with("0.")) => Ok(Self::Number(n)),
            _ => Self::Text(c.to_owned()).check(),
        }
    }

    /// How the value fills a template variable.
    pub fn display(&self) -> String {
        match self {
            Self::Bool(b) => if *b { "yes" } else { "no" }.to_owned(),
            Self::Number(n) if n.fract() == 0.0 && n.abs() < 1e15 => format!("{}", *n as i64),
            Self::Number(n) => n.to_string(),
            Self::Text(t) => t.clone(),
        }
    }
}

pub fn check_fields(fields: BTreeMap<String, FieldValue>) -> Result<BTreeMap<String, FieldValue>, ApiError> {
    if fields.len() > MAX_FIELDS {
        return Err(ApiError::Validation(format!("at most {MAX_FIELDS} custom fields per contact")));
    }
    fields.into_iter().map(|(k, v)| Ok((parse_field_name(&k)?, v.check()?))).collect()
}

/// A time zone as a fixed UTC offset (`+05:30`, `-08:00`, `UTC`), in minutes east of UTC. Named zones
/// would need the tz database; imports give offsets.
pub fn parse_time_zone(raw: &str) -> Result<String, ApiError> {
    offset_minutes(raw).map(|_| raw.trim().to_uppercase()).ok_or_else(|| ApiError::Validation(format!("time zone `{}` must be UTC or an offset like +05:30", raw.chars().take(40).collect::<String>())))
}

pub fn offset_minutes(tz: &str) -> Option<i32> {
    let tz = tz.trim();
    if tz.eq_ignore_ascii_case("utc") || tz.eq_ignore_ascii_case("z") {
        return Some(0);
    }
    let sign = match tz.as_bytes().first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let (h, m) = tz[1..].split_once(':')?;
    let (h, m): (i32, i32) = (h.parse().ok()?, m.parse().ok()?);
    (h <= 14 && m < 60 && h.to_string().len() <= 2).then_some(sign * (h * 60 + m))
}

pub fn check_name(raw: &str) -> Result<String, ApiError> {
    let n = raw.trim();
    if n.chars().count() > MAX_NAME || n.chars().any(char::is_control) {
        return Err(ApiError::Validation(format!("name must be at most {MAX_NAME} characters without control characters")));
    }
    Ok(n.to_owned())
}

/// Where a contact's consent to be messaged came from (an import's `consent_source` column, a form…).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ConsentSource {
    pub source: String,
    pub at: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Contact {
    pub phone: PhoneNumber,
    pub name: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub fields: BTreeMap<String, FieldValue>,
    pub time_zone: Option<String>,
    /// Channels the contact wrote to or was sent to.
    #[serde(default)]
    pub channels: Vec<ChannelId>,
    pub last_inbound_at: Option<String>,
    pub consent: Option<ConsentSource>,
    /// From the consent ledger at read time (STOP / START), never stored here.
    #[serde(default)]
    pub opted_out: bool,
    pub created_at: String,
    pub updated_at: String,
}

impl Contact {
    pub fn new(phone: PhoneNumber, now: &str) -> Self {
        Self { phone, name: None, tags: vec![], fields: BTreeMap::new(), time_zone: None, channels: vec![], last_inbound_at: None, consent: None, opted_out: false, created_at: now.to_owned(), updated_at: now.to_owned() }
    }

    /// Adds tags (dedupes, keeps the cap).
    pub fn add_tags(&mut self, tags: &[String]) -> Result<(), ApiError> {
        for t in tags {
            if !self.tags.contains(t) {
                self.tags.push(t.clone());
            }
        }
        if self.tags.len() > MAX_TAGS {
            return Err(ApiError::Validation(format!("at most {MAX_TAGS} tags per contact")));
        }
        Ok(())
    }

    pub fn set_fields(&mut self, fields: BTreeMap<String, FieldValue>) -> Result<(), ApiError> {
        self.fields.extend(fields);
        if self.fields.len() > MAX_FIELDS {
            return Err(ApiError::Validation(format!("at most {MAX_FIELDS} custom fields per contact")));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_fields_and_offsets() {
        assert_eq!(parse_tags(["VIP", " vip ", "Berlin"]).unwrap(), ["vip", "berlin"]);
        assert!(parse_tag("").is_err() && parse_tag(&"x".repeat(41)).is_err() && parse_tag("a/b").is_err());
        assert_eq!(parse_field_name("First Name").unwrap(), "first_name");
        assert!(parse_field_name("1st").is_err() && parse_field_name("pk$").is_err());
        assert_eq!(FieldValue::infer("42").unwrap(), FieldValue::Number(42.0));
        assert_eq!(FieldValue::infer("0042").unwrap(), FieldValue::Text("0042".into()));
        assert_eq!(FieldValue::infer("Yes").unwrap(), FieldValue::Bool(true));
        assert!(FieldValue::infer(&"x".repeat(501)).is_err());
        assert_eq!(FieldValue::Number(3.0).display(), "3");
        assert_eq!((offset_minutes("+05:30"), offset_minutes("-08:00"), offset_minutes("UTC")), (Some(330), Some(-480), Some(0)));
        assert!(offset_minutes("Europe/Berlin").is_none() && offset_minutes("+25:00").is_none());
    }
}
