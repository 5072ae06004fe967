//! Audience rules: conditions over a contact's tags, custom fields, last inbound time (inside or outside
//! the 24-hour window), channel and opt-in state, joined by `all` / `any`, with groups one level deep.
//! The JSON is parsed into a typed tree at save (a 422 names the offending rule, e.g. `rules[1].rules[0]`),
//! and one `matches` function answers for the live count and for the broadcast send alike.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::types::{parse_field_name, parse_tag, Contact, FieldValue};
use crate::http::ApiError;
use crate::whatsapp::messages::SERVICE_WINDOW_SECONDS;
use crate::whatsapp::types::ChannelId;

pub const MAX_RULES: usize = 50;

/// The rules as clients send and read them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RuleSet {
    /// `all` or `any`.
    #[serde(rename = "match")]
    pub join: String,
    /// Each a condition `{"field", "op", "value"}` or a group `{"match", "rules"}` of conditions.
    #[schema(value_type = Vec<Object>)]
    pub rules: Vec<Value>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Join {
    All,
    Any,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Compare {
    Eq(FieldValue),
    Ne(FieldValue),
    Contains(String),
    Gt(f64),
    Lt(f64),
    Exists,
    Missing,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    HasTag(String),
    LacksTag(String),
    Field(String, Compare),
    /// Wrote within the last 24 hours (free-form messages allowed).
    InWindow,
    OutsideWindow,
    /// Wrote within the last n days.
    InboundWithinDays(u32),
    Channel(ChannelId),
    OptedIn,
    OptedOut,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    Rule(Condition),
    Group(Join, Vec<Condition>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Audience {
    pub join: Join,
    pub nodes: Vec<Node>,
}

fn join(raw: &str, at: &str) -> Result<Join, ApiError> {
    match raw {
        "all" => Ok(Join::All),
        "any" => Ok(Join::Any),
        other => Err(ApiError::Validation(format!("{at}: `match` must be `all` or `any`, not `{}`", other.chars().take(20).collect::<String>()))),
    }
}

fn condition(v: &Value, at: &str) -> Result<Condition, ApiError> {
    let bad = |why: String| ApiError::Validation(format!("{at}: {why}"));
    let field = v.get("field").and_then(Value::as_str).ok_or_else(|| bad("needs a `field`".into()))?;
    let op = v.get("op").and_then(Value::as_str).ok_or_else(|| bad("needs an `op`".into()))?;
    let value = v.get("value");
    let text = || value.and_then(Value::as_str).ok_or_else(|| bad(format!("`{op}` needs a text `value`")));
    let unknown_op = || bad(format!("`{}` is not an operator for `{field}`", op.chars().take(20).collect::<String>()));
    Ok(match (field, op) {
        ("tag", "has") => Condition::HasTag(parse_tag(text()?).map_err(|e| bad(e.to_string()))?),
        ("tag", "not_has") => Condition::LacksTag(parse_tag(text()?).map_err(|e| bad(e.to_string()))?),
        ("tag", _) => return Err(unknown_op()),
        ("last_inbound", "within_window") => Condition::InWindow,
        ("last_inbound", "outside_window") => Condition::OutsideWindow,
        ("last_inbound", "within_days") => Condition::InboundWithinDays(value.and_then(Value::as_u64).filter(|d| (1..=3650).contains(d)).ok_or_else(|| bad("`within_days` needs a number of days 1–3650".into()))? as u32),
        ("last_inbound", _) => return Err(unknown_op()),
        ("channel", "eq") => Condition::Channel(ChannelId::parse(text()?).map_err(|e| bad(e.to_string()))?),
        ("channel", _) => return Err(unknown_op()),
        ("consent", "eq") => match text()? {
            "opted_in" => Condition::OptedIn,
            "opted_out" => Condition::OptedOut,
            _ => return Err(bad("consent is `opted_in` or `opted_out`".into())),
        },
        ("consent", _) => return Err(unknown_op()),
        (f, op) if f.starts_with("fields.") => {
            let name = parse_field_name(&f[7..]).map_err(|e| bad(e.to_string()))?;
            let scalar = || -> Result<FieldValue, ApiError> {
                serde_json::from_value::<FieldValue>(value.cloned().unwrap_or(Value::Null)).map_err(|_| bad(format!("`{op}` needs a text, number or true/false `value`")))?.check().map_err(|e| bad(e.to_string()))
            };
            let number = || value.and_then(Value::as_f64).ok_or_else(|| bad(format!("`{op}` needs a number `value`")));
            let cmp = match op {
                "eq" => Compare::Eq(scalar()?),
                "ne" => Compare::Ne(scalar()?),
                "contains" => Compare::Contains(text()?.to_lowercase()),
                "gt" => Compare::Gt(number()?),
                "lt" => Compare::Lt(number()?),
                "exists" => Compare::Exists,
                "missing" => Compare::Missing,
                _ => return Err(unknown_op()),
            };
            Condition::Field(name, cmp)
        }
        (f, _) => return Err(bad(format!("unknown field `{}` (tag, fields.<name>, last_inbound, channel, consent)", f.chars().take(40).collect::<String>()))),
    })
}

impl Audience {
    /// Parses and checks the rules; an empty rule list selects every contact.
    pub fn parse(set: &RuleSet) -> Result<Self, ApiError> {
        let top = join(&set.join, "match")?;
        let mut count = 0;
        let mut nodes = Vec::new();
        for (i, r) in set.rules.iter().enumerate() {
            let at = format!("rules[{i}]");
            if let Some(inner) = r.get("rules") {
                let g = join(r.get("match").and_then(Value::as_str).unwrap_or_default(), &at)?;
                let list = inner.as_array().filter(|l| !l.is_empty()).ok_or_else(|| ApiError::Validation(format!("{at}: a group needs a non-empty `rules` list")))?;
                let mut conds = Vec::new();
                for (j, c) in list.iter().enumerate() {
                    if c.get("rules").is_some() {
                        return Err(ApiError::Validation(format!("{at}.rules[{j}]: groups nest one level deep only")));
                    }
                    conds.push(condition(c, &format!("{at}.rules[{j}]"))?);
                }
                count += conds.len();
                nodes.push(Node::Group(g, conds));
            } else {
                count += 1;
                nodes.push(Node::Rule(condition(r, &at)?));
            }
        }
        if count > MAX_RULES {
            return Err(ApiError::Validation(format!("at most {MAX_RULES} conditions")));
        }
        Ok(Self { join: top, nodes })
    }
}

fn field_matches(v: Option<&FieldValue>, cmp: &Compare) -> bool {
    let eq = |a: &FieldValue, b: &FieldValue| match (a, b) {
        (FieldValue::Text(x), FieldValue::Text(y)) => x.eq_ignore_ascii_case(y),
        (a, b) => a == b,
    };
    let num = |v: Option<&FieldValue>| match v {
        Some(FieldValue::Number(n)) => Some(*n),
        _ => None,
    };
    match cmp {
        Compare::Eq(x) => v.is_some_and(|v| eq(v, x)),
        Compare::Ne(x) => v.is_none_or(|v| !eq(v, x)),
        Compare::Contains(s) => matches!(v, Some(FieldValue::Text(t)) if t.to_lowercase().contains(s.as_str())),
        Compare::Gt(n) => num(v).is_some_and(|x| x > *n),
        Compare::Lt(n) => num(v).is_some_and(|x| x < *n),
        Compare::Exists => v.is_some(),
        Compare::Missing => v.is_none(),
    }
}

fn holds(c: &Condition, contact: &Contact, now: chrono::DateTime<chrono::Utc>) -> bool {
    let since = contact.last_inbound_at.as_deref().and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok()).map(|t| (now - t.with_timezone(&chrono::Utc)).num_seconds());
    match c {
        Condition::HasTag(t) => contact.tags.contains(t),
        Condition::LacksTag(t) => !contact.tags.contains(t),
        Condition::Field(name, cmp) => field_matches(contact.fields.get(name), cmp),
        Condition::InWindow => since.is_some_and(|s| s < SERVICE_WINDOW_SECONDS),
        Condition::OutsideWindow => since.is_none_or(|s| s >= SERVICE_WINDOW_SECONDS),
        Condition::InboundWithinDays(d) => since.is_some_and(|s| s < i64::from(*d) * 86_400),
        Condition::Channel(ch) => contact.channels.contains(ch),
        Condition::OptedIn => !contact.opted_out,
        Condition::OptedOut => contact.opted_out,
    }
}

fn combine<T>(join: Join, items: &[T], f: impl Fn(&T) -> bool) -> bool {
    match join {
        Join::All => items.iter().all(f),
        Join::Any => items.is_empty() || items.iter().any(f),
    }
}

/// Whether `contact` (with `opted_out` filled from the consent ledger) is in the audience at `now`.
pub fn matches(a: &Audience, contact: &Contact, now: chrono::DateTime<chrono::Utc>) -> bool {
    combine(a.join, &a.nodes, |n| match n {
        Node::Rule(c) => holds(c, contact, now),
        Node::Group(j, cs) => combine(*j, cs, |c| holds(c, contact, now)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn contact() -> Contact {
        let mut c = Contact::new(crate::whatsapp::types::PhoneNumber::parse("+14155552671").unwrap(), "2026-01-01T00:00:00Z");
        c.tags = vec!["vip".into(), "berlin".into()];
        c.fields.insert("orders".into(), FieldValue::Number(3.0));
        c.fields.insert("city".into(), FieldValue::Text("Berlin".into()));
        c.fields.insert("member".into(), FieldValue::Bool(true));
        c.last_inbound_at = Some("2026-01-10T00:00:00Z".into());
        c.channels = vec![ChannelId::parse("chan_01j9z8x7w6v5t4s3r2q1p0n9m8").unwrap()];
        c
    }

    fn set(join: &str, rules: Value) -> RuleSet {
        RuleSet { join: join.into(), rules: rules.as_array().unwrap().clone() }
    }

    #[test]
    fn matching_table() {
        let now = chrono::DateTime::parse_from_rfc3339("2026-01-10T12:00:00Z").unwrap().with_timezone(&chrono::Utc);
        let later = chrono::DateTime::parse_from_rfc3339("2026-01-12T12:00:00Z").unwrap().with_timezone(&chrono::Utc);
        let cases: Vec<(&str, Value, chrono::DateTime<chrono::Utc>, bool)> = vec![
            ("all", json!([]), now, true),
            ("all", json!([{"field": "tag", "op": "has", "value": "VIP"}]), now, true),
            ("all", json!([{"field": "tag", "op": "not_has", "value": "vip"}]), now, false),
            ("all", json!([{"field": "fields.orders", "op": "gt", "value": 2}, {"field": "fields.orders", "op": "lt", "value": 4}]), now, true),
            ("all", json!([{"field": "fields.orders", "op": "gt", "value": 3}]), now, false),
            ("all", json!([{"field": "fields.city", "op": "eq", "value": "berlin"}]), now, true),
            ("all", json!([{"field": "fields.city", "op": "contains", "value": "ERL"}]), now, true),
            ("all", json!([{"field": "fields.member", "op": "eq", "value": true}]), now, true),
            ("all", json!([{"field": "fields.zip", "op": "missing"}, {"field": "fields.city", "op": "exists"}]), now, true),
            ("all", json!([{"field": "fields.zip", "op": "ne", "value": "x"}]), now, true),
            ("all", json!([{"field": "last_inbound", "op": "within_window"}]), now, true),
            ("all", json!([{"field": "last_inbound", "op": "within_window"}]), later, false),
            ("all", json!([{"field": "last_inbound", "op": "outside_window"}]), later, true),
            ("all", json!([{"field": "last_inbound", "op": "within_days", "value": 7}]), later, true),
            ("all", json!([{"field": "channel", "op": "eq", "value": "chan_01j9z8x7w6v5t4s3r2q1p0n9m8"}]), now, true),
            ("all", json!([{"field": "consent", "op": "eq", "value": "opted_in"}]), now, true),
            ("all", json!([{"field": "consent", "op": "eq", "value": "opted_out"}]), now, false),
            ("any", json!([{"field": "tag", "op": "has", "value": "paris"}, {"field": "tag", "op": "has", "value": "berlin"}]), now, true),
            ("all", json!([{"field": "tag", "op": "has", "value": "vip"}, {"match": "any", "rules": [{"field": "tag", "op": "has", "value": "paris"}, {"field": "fields.orders", "op": "gt", "value": 1}]}]), now, true),
            ("all", json!([{"field": "tag", "op": "has", "value": "vip"}, {"match": "all", "rules": [{"field": "tag", "op": "has", "value": "paris"}, {"field": "fields.orders", "op": "gt", "value": 1}]}]), now, false),
        ];
        let c = contact();
        for (join, rules, at, want) in cases {
            let a = Audience::parse(&set(join, rules.clone())).unwrap_or_else(|e| panic!("{rules}: {e}"));
            assert_eq!(matches(&a, &c, at), want, "{join} {rules}");
        }
        let mut out = contact();
        out.opted_out = true;
        let a = Audience::parse(&set("all", json!([{"field": "consent", "op": "eq", "value": "opted_out"}]))).unwrap();
        assert!(matches(&a, &out, now));
    }

    #[test]
    fn errors_name_the_rule() {
        let cases: Vec<(&str, Value, &str)> = vec![
            ("some", json!([]), "match"),
            ("all", json!([{"field": "tag", "op": "is", "value": "x"}]), "rules[0]: `is` is not an operator"),
            ("all", json!([{"field": "tag", "op": "has", "value": "vip"}, {"field": "colour", "op": "eq", "value": 1}]), "rules[1]: unknown field"),
            ("all", json!([{"match": "any", "rules": [{"field": "tag", "op": "has", "value": "a"}, {"field": "fields.n", "op": "gt", "value": "x"}]}]), "rules[0].rules[1]: `gt` needs a number"),
            ("all", json!([{"match": "any", "rules": [{"match": "all", "rules": []}]}]), "rules[0].rules[0]: groups nest one level"),
            ("all", json!([{"match": "any", "rules": []}]), "rules[0]: a group needs"),
            ("all", json!([{"field": "channel", "op": "eq", "value": "nope"}]), "rules[0]:"),
            ("all", json!([{"op": "has"}]), "rules[0]: needs a `field`"),
        ];
        for (join, rules, want) in cases {
            let e = Audience::parse(&set(join, rules.clone())).unwrap_err().to_string();
            assert!(e.contains(want), "{rules}: {e}");
        }
    }
}
