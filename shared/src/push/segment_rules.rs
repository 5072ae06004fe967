//! Segment rules: the JSON a caller saves, parsed into a typed AST (errors name the offending rule by
//! its JSON path), and the one evaluation function the estimate and the fan-out both use.
//!
//! Shape: `{"match": "all"|"any", "groups": [{"match": "all"|"any", "conditions": [{"field", "op",
//! "value", "key"?}]}]}` — groups combine with the outer `match`, conditions within a group with its own.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{json, Map, Value};

use super::subscriber_data::{normalise_language, AttrValue};
use super::subscribers::{parse_tags, Subscriber};

pub const MAX_GROUPS: usize = 10;
pub const MAX_CONDITIONS: usize = 20;
const MAX_VALUES: usize = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Combine {
    All,
    Any,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Rules {
    pub combine: Combine,
    pub groups: Vec<Group>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    pub combine: Combine,
    pub conditions: Vec<Rule>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TagOp {
    Any,
    All,
    None,
}

/// The text fields a rule may test for membership in a list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextField {
    Browser,
    Os,
    Language,
    Country,
    TimeZone,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    Subscribed,
    LastSeen,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum TimeTest {
    Before(DateTime<Utc>),
    After(DateTime<Utc>),
    WithinDays(u32),
    NotWithinDays(u32),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compare {
    Gte,
    Lte,
    Eq,
}

#[derive(Debug, Clone, PartialEq)]
pub enum AttrTest {
    Eq(AttrValue),
    Neq(AttrValue),
    Gt(f64),
    Lt(f64),
    Exists,
    NotExists,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Rule {
    Tags(TagOp, Vec<String>),
    ExternalId { present: bool },
    /// Values are stored lower-cased; languages match the whole tag or its primary subtag.
    Text { field: TextField, negate: bool, values: Vec<String> },
    Time(When, TimeTest),
    Clicks(Compare, u64),
    Attribute { key: String, test: AttrTest },
}

/// A rule the parser refused: where (JSON path) and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct RuleError {
    pub path: String,
    pub message: String,
}

fn err<T>(path: &str, message: impl Into<String>) -> Result<T, RuleError> {
    Err(RuleError { path: path.to_owned(), message: message.into() })
}

fn combine_of(obj: &Map<String, Value>, path: &str) -> Result<Combine, RuleError> {
    match obj.get("match").and_then(Value::as_str) {
        None | Some("all") => Ok(Combine::All),
        Some("any") => Ok(Combine::Any),
        Some(other) => err(&format!("{path}.match"), format!("`{}` is not `all` or `any`", clip(other))),
    }
}

fn clip(s: &str) -> String {
    s.chars().take(40).collect()
}

fn array<'a>(v: Option<&'a Value>, path: &str, max: usize) -> Result<&'a Vec<Value>, RuleError> {
    match v.and_then(Value::as_array) {
        Some(a) if a.is_empty() => err(path, "must not be empty"),
        Some(a) if a.len() > max => err(path, format!("at most {max} entries")),
        Some(a) => Ok(a),
        None => err(path, "must be an array"),
    }
}

impl Rules {
    /// Parses rules from JSON; `base` is the path of `v` in the request (`rules`).
    pub fn parse(v: &Value, base: &str) -> Result<Self, RuleError> {
        let obj = v.as_object().ok_or_else(|| RuleError { path: base.into(), message: "must be an object".into() })?;
        let combine = combine_of(obj, base)?;
        let groups = array(obj.get("groups"), &format!("{base}.groups"), MAX_GROUPS)?;
        let groups = groups.iter().enumerate().map(|(i, g)| Group::parse(g, &format!("{base}.groups[{i}]"))).collect::<Result<_, _>>()?;
        Ok(Self { combine, groups })
    }

    /// The canonical JSON form, which `parse` reads back to the same rules.
    pub fn to_json(&self) -> Value {
        json!({"match": combine_name(self.combine), "groups": self.groups.iter().map(|g| json!({
            "match": combine_name(g.combine), "conditions": g.conditions.iter().map(Rule::to_json).collect::<Vec<_>>(),
        })).collect::<Vec<_>>()})
    }
}

fn combine_name(c: Combine) -> &'static str {
    match c {
        Combine::All => "all",
        Combine::Any => "any",
    }
}

impl Group {
    fn parse(v: &Value, path: &str) -> Result<Self, RuleError> {
        let obj = v.as_object().ok_or_else(|| RuleError { path: path.into(), message: "must be an object".into() })?;
        let combine = combine_of(obj, path)?;
        let conditions = array(obj.get("conditions"), &format!("{path}.conditions"), MAX_CONDITIONS)?;
        let conditions = conditions.iter().enumerate().map(|(i, c)| Rule::parse(c, &format!("{path}.conditions[{i}]"))).collect::<Result<_, _>>()?;
        Ok(Self { combine, conditions })
    }
}

fn strings(v: Option<&Value>, path: &str) -> Result<Vec<String>, RuleError> {
    let items = array(v, path, MAX_VALUES)?;
    items
        .iter()
        .enumerate()
        .map(|(i, s)| match s.as_str().map(str::trim) {
            Some(t) if !t.is_empty() && t.len() <= 64 => Ok(t.to_lowercase()),
            _ => err(&format!("{path}[{i}]"), "must be a string of 1–64 characters"),
        })
        .collect()
}

fn days(v: Option<&Value>, path: &str) -> Result<u32, RuleError> {
    match v.and_then(Value::as_u64) {
        Some(n) if (1..=3650).contains(&n) => Ok(n as u32),
        _ => err(path, "must be a whole number of days, 1–3650"),
    }
}

fn instant(v: Option<&Value>, path: &str) -> Result<DateTime<Utc>, RuleError> {
    let s = v.and_then(Value::as_str).unwrap_or_default();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    match NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        Ok(d) => Ok(d.and_hms_opt(0, 0, 0).expect("midnight exists").and_utc()),
        Err(_) => err(path, "must be a date (2026-01-31) or an RFC 3339 time"),
    }
}

fn unknown_op<T>(path: &str, op: &str, field: &str, ops: &str) -> Result<T, RuleError> {
    err(&format!("{path}.op"), format!("`{}` is not an op of `{field}` ({ops})", clip(op)))
}

impl Rule {
    fn parse(v: &Value, path: &str) -> Result<Self, RuleError> {
        let obj = v.as_object().ok_or_else(|| RuleError { path: path.into(), message: "must be an object".into() })?;
        let field = obj.get("field").and_then(Value::as_str).ok_or_else(|| RuleError { path: format!("{path}.field"), message: "is required".into() })?;
        let op = obj.get("op").and_then(Value::as_str).ok_or_else(|| RuleError { path: format!("{path}.op"), message: "is required".into() })?;
        let value = obj.get("value");
        let vpath = format!("{path}.value");
        let text = |field: TextField, ops: &str| -> Result<Rule, RuleError> {
            let negate = match op {
                "in" => false,
                "not_in" => true,
                _ => return unknown_op(path, op, field_name(field), ops),
            };
            Ok(Rule::Text { field, negate, values: strings(value, &vpath)? })
        };
        Ok(match field {
            "tags" => {
                let op = match op {
                    "any" => TagOp::Any,
                    "all" => TagOp::All,
                    "none" => TagOp::None,
                    _ => return unknown_op(path, op, field, "any, all, none"),
                };
                let tags = parse_tags(&strings(value, &vpath)?).map_err(|e| RuleError { path: vpath.clone(), message: e.to_string() })?;
                Rule::Tags(op, tags)
            }
            "external_id" => match op {
                "exists" => Rule::ExternalId { present: true },
                "not_exists" => Rule::ExternalId { present: false },
                _ => return unknown_op(path, op, field, "exists, not_exists"),
            },
            "browser" => text(TextField::Browser, "in, not_in")?,
            "os" => text(TextField::Os, "in, not_in")?,
            "language" => text(TextField::Language, "in, not_in")?,
            "country" => text(TextField::Country, "in, not_in")?,
            "time_zone" => text(TextField::TimeZone, "in, not_in")?,
            "subscribed" | "last_seen" => {
                let when = if field == "subscribed" { When::Subscribed } else { When::LastSeen };
                let test = match op {
                    "before" => TimeTest::Before(instant(value, &vpath)?),
                    "after" => TimeTest::After(instant(value, &vpath)?),
                    "within_days" => TimeTest::WithinDays(days(value, &vpath)?),
                    "not_within_days" => TimeTest::NotWithinDays(days(value, &vpath)?),
                    _ => return unknown_op(path, op, field, "before, after, within_days, not_within_days"),
                };
                Rule::Time(when, test)
            }
            "clicks" => {
                let cmp = match op {
                    "gte" => Compare::Gte,
                    "lte" => Compare::Lte,
                    "eq" => Compare::Eq,
                    _ => return unknown_op(path, op, field, "gte, lte, eq"),
                };
                Rule::Clicks(cmp, value.and_then(Value::as_u64).ok_or_else(|| RuleError { path: vpath.clone(), message: "must be a whole number ≥ 0".into() })?)
            }
            "attribute" => {
                let key = obj.get("key").and_then(Value::as_str).filter(|k| !k.is_empty() && k.len() <= 64).ok_or_else(|| RuleError { path: format!("{path}.key"), message: "must name the attribute (1–64 characters)".into() })?;
                let scalar = || -> Result<AttrValue, RuleError> {
                    match value {
                        Some(Value::String(s)) if s.chars().count() <= 256 => Ok(AttrValue::String(s.clone())),
                        Some(Value::Bool(b)) => Ok(AttrValue::Bool(*b)),
                        Some(Value::Number(n)) if n.as_f64().is_some() => Ok(AttrValue::Number(n.as_f64().unwrap_or_default())),
                        _ => err(&vpath, "must be a string (≤ 256 characters), number or bool"),
                    }
                };
                let number = || value.and_then(Value::as_f64).ok_or_else(|| RuleError { path: vpath.clone(), message: "must be a number".into() });
                let test = match op {
                    "eq" => AttrTest::Eq(scalar()?),
                    "neq" => AttrTest::Neq(scalar()?),
                    "gt" => AttrTest::Gt(number()?),
                    "lt" => AttrTest::Lt(number()?),
                    "exists" => AttrTest::Exists,
                    "not_exists" => AttrTest::NotExists,
                    _ => return unknown_op(path, op, field, "eq, neq, gt, lt, exists, not_exists"),
                };
                Rule::Attribute { key: key.to_owned(), test }
            }
            other => {
                return err(
                    &format!("{path}.field"),
                    format!("`{}` is not a field (tags, external_id, browser, os, language, country, time_zone, subscribed, last_seen, clicks, attribute)", clip(other)),
                )
            }
        })
    }

    fn to_json(&self) -> Value {
        match self {
            Rule::Tags(op, tags) => json!({"field": "tags", "op": match op { TagOp::Any => "any", TagOp::All => "all", TagOp::None => "none" }, "value": tags}),
            Rule::ExternalId { present } => json!({"field": "external_id", "op": if *present { "exists" } else { "not_exists" }}),
            Rule::Text { field, negate, values } => json!({"field": field_name(*field), "op": if *negate { "not_in" } else { "in" }, "value": values}),
            Rule::Time(when, test) => {
                let field = match when {
                    When::Subscribed => "subscribed",
                    When::LastSeen => "last_seen",
                };
                let (op, value) = match test {
                    TimeTest::Before(t) => ("before", json!(t.to_rfc3339())),
                    TimeTest::After(t) => ("after", json!(t.to_rfc3339())),
                    TimeTest::WithinDays(d) => ("within_days", json!(d)),
                    TimeTest::NotWithinDays(d) => ("not_within_days", json!(d)),
                };
                json!({"field": field, "op": op, "value": value})
            }
            Rule::Clicks(cmp, n) => json!({"field": "clicks", "op": match cmp { Compare::Gte => "gte", Compare::Lte => "lte", Compare::Eq => "eq" }, "value": n}),
            Rule::Attribute { key, test } => {
                let (op, value) = match test {
                    AttrTest::Eq(v) => ("eq", json!(v)),
                    AttrTest::Neq(v) => ("neq", json!(v)),
                    AttrTest::Gt(n) => ("gt", json!(n)),
                    AttrTest::Lt(n) => ("lt", json!(n)),
                    AttrTest::Exists => ("exists", Value::Null),
                    AttrTest::NotExists => ("not_exists", Value::Null),
                };
                json!({"field": "attribute", "key": key, "op": op, "value": value})
            }
        }
    }
}

fn field_name(f: TextField) -> &'static str {
    match f {
        TextField::Browser => "browser",
        TextField::Os => "os",
        TextField::Language => "language",
        TextField::Country => "country",
        TextField::TimeZone => "time_zone",
    }
}

impl Serialize for Rules {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_json().serialize(s)
    }
}

impl<'de> Deserialize<'de> for Rules {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Rules::parse(&Value::deserialize(d)?, "rules").map_err(serde::de::Error::custom)
    }
}

fn time_of(raw: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(raw).ok().map(|t| t.with_timezone(&Utc))
}

fn text_of(s: &Subscriber, field: TextField) -> Option<&str> {
    match field {
        TextField::Browser => s.client.browser.as_deref(),
        TextField::Os => s.client.os.as_deref(),
        TextField::Language => s.client.language.as_deref(),
        TextField::Country => s.country.as_deref(),
        TextField::TimeZone => s.client.timezone.as_deref(),
    }
}

fn text_matches(field: TextField, actual: Option<&str>, values: &[String]) -> bool {
    let Some(actual) = actual.map(str::to_lowercase) else { return false };
    values.iter().any(|v| {
        *v == actual || (field == TextField::Language && normalise_language(v).is_some() && actual.split('-').next() == Some(v.as_str()))
    })
}

fn rule_matches(rule: &Rule, s: &Subscriber, now: DateTime<Utc>) -> bool {
    match rule {
        Rule::Tags(op, tags) => match op {
            TagOp::Any => tags.iter().any(|t| s.tags.contains(t)),
            TagOp::All => tags.iter().all(|t| s.tags.contains(t)),
            TagOp::None => !tags.iter().any(|t| s.tags.contains(t)),
        },
        Rule::ExternalId { present } => s.client.external_id.is_some() == *present,
        // `not_in` matches a subscriber without the field: they are not in the list.
        Rule::Text { field, negate, values } => text_matches(*field, text_of(s, *field), values) != *negate,
        Rule::Time(when, test) => {
            let raw = match when {
                When::Subscribed => &s.created_at,
                When::LastSeen => &s.last_seen,
            };
            let Some(t) = time_of(raw) else { return false };
            match test {
                TimeTest::Before(x) => t < *x,
                TimeTest::After(x) => t > *x,
                TimeTest::WithinDays(d) => t >= now - Duration::days(i64::from(*d)),
                TimeTest::NotWithinDays(d) => t < now - Duration::days(i64::from(*d)),
            }
        }
        Rule::Clicks(cmp, n) => match cmp {
            Compare::Gte => s.clicks >= *n,
            Compare::Lte => s.clicks <= *n,
            Compare::Eq => s.clicks == *n,
        },
        Rule::Attribute { key, test } => {
            let actual = s.attributes.get(key);
            match (test, actual) {
                (AttrTest::Exists, a) => a.is_some(),
                (AttrTest::NotExists, a) => a.is_none(),
                (AttrTest::Eq(v), Some(a)) => a == v,
                // A subscriber without the attribute does not have the value.
                (AttrTest::Neq(v), a) => a != Some(v),
                (AttrTest::Gt(x), Some(AttrValue::Number(a))) => a > x,
                (AttrTest::Lt(x), Some(AttrValue::Number(a))) => a < x,
                _ => false,
            }
        }
    }
}

fn combined<T>(combine: Combine, items: &[T], test: impl Fn(&T) -> bool) -> bool {
    match combine {
        Combine::All => items.iter().all(test),
        Combine::Any => items.iter().any(test),
    }
}

/// Whether the subscriber is in the segment the rules describe, `now` being the moment relative day
/// rules count back from (the notification's creation in a fan-out, so a retried fan-out selects the same).
pub fn matches(rules: &Rules, s: &Subscriber, now: DateTime<Utc>) -> bool {
    combined(rules.combine, &rules.groups, |g| combined(g.combine, &g.conditions, |r| rule_matches(r, s, now)))
}

#[cfg(test)]
#[path = "segment_rules_tests.rs"]
mod tests;
