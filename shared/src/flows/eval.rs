//! The engine's pure evaluations: template rendering over variables and contact fields, answer
//! validation, choice matching, branch conditions and JSON paths.

use chrono::{DateTime, Datelike, Timelike, Utc};
use serde_json::{Map, Value};

use super::engine::ContactData;
use super::types::{AnswerKind, Choice, Cond};
use crate::whatsapp::types::PhoneNumber;

/// `{{name}}` and `{{contact.field}}` from the session; unknown names render empty.
pub fn render(template: &str, vars: &Map<String, Value>, contact: &ContactData) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find("{{") {
        out.push_str(&rest[..open]);
        let Some(close) = rest[open..].find("}}") else {
            out.push_str(&rest[open..]);
            return out;
        };
        out.push_str(&lookup(rest[open + 2..open + close].trim(), vars, contact).unwrap_or_default());
        rest = &rest[open + close + 2..];
    }
    out.push_str(rest);
    out
}

pub(super) fn lookup(name: &str, vars: &Map<String, Value>, contact: &ContactData) -> Option<String> {
    match name.strip_prefix("contact.") {
        Some(f) => contact.fields.get(f).cloned(),
        None => vars.get(name).map(|v| match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        }),
    }
}

/// Checks and normalises an answer; `Err` is the reason shown in logs (the contact sees the re-prompt).
pub fn validate_answer(kind: AnswerKind, choices: &[String], raw: &str) -> Result<String, &'static str> {
    let t = raw.trim();
    if t.is_empty() {
        return Err("empty");
    }
    match kind {
        AnswerKind::Text => (t.chars().count() <= 1000).then(|| t.to_owned()).ok_or("too long"),
        AnswerKind::Number => t.replace(',', ".").parse::<f64>().ok().filter(|n| n.is_finite()).map(|n| n.to_string()).ok_or("not a number"),
        AnswerKind::Email => {
            let ok = t.len() <= 254 && !t.contains(char::is_whitespace) && t.split_once('@').is_some_and(|(l, d)| !l.is_empty() && d.contains('.') && !d.starts_with('.') && !d.ends_with('.') && !d.contains('@'));
            ok.then(|| t.to_lowercase()).ok_or("not an email")
        }
        AnswerKind::Phone => {
            let with_plus = if t.starts_with('+') { t.to_owned() } else { format!("+{t}") };
            PhoneNumber::parse(&with_plus).map(|p| p.as_str().to_owned()).map_err(|_| "not a phone number")
        }
        AnswerKind::Date => ["%Y-%m-%d", "%d/%m/%Y"].iter().find_map(|f| chrono::NaiveDate::parse_from_str(t, f).ok()).map(|d| d.to_string()).ok_or("not a date"),
        AnswerKind::Choice => pick(choices.iter().map(String::as_str), t).map(str::to_owned).ok_or("not one of the choices"),
    }
}

/// A choice by its text (case-insensitive) or 1-based position.
fn pick<'a>(options: impl Iterator<Item = &'a str> + Clone, answer: &str) -> Option<&'a str> {
    let by_number = answer.parse::<usize>().ok().and_then(|n| options.clone().nth(n.checked_sub(1)?));
    by_number.or_else(|| options.clone().find(|o| o.eq_ignore_ascii_case(answer)))
}

pub(super) fn chosen<'a>(choices: &'a [Choice], answer: &str) -> Option<&'a Choice> {
    let a = answer.trim();
    let by_title = pick(choices.iter().map(|c| c.title.as_str()), a).and_then(|t| choices.iter().find(|c| c.title == t));
    by_title.or_else(|| choices.iter().find(|c| c.id.eq_ignore_ascii_case(a)))
}

/// Whether `minute` (of the day) is in `[from, to)`, wrapping past midnight when `from > to`.
fn in_window(from: &str, to: &str, minute: u32) -> bool {
    let (Some(f), Some(t)) = (super::check::parse_hhmm(from), super::check::parse_hhmm(to)) else { return false };
    if f <= t { (f..t).contains(&minute) } else { minute >= f || minute < t }
}

/// `zone` is the workspace's time zone, used by business hours that name none.
pub fn holds(cond: &Cond, vars: &Map<String, Value>, contact: &ContactData, now: DateTime<Utc>, zone: chrono_tz::Tz) -> bool {
    let num = |var: &str| lookup(var, vars, contact).and_then(|v| v.trim().parse::<f64>().ok());
    match cond {
        Cond::Eq { var, value } => lookup(var, vars, contact).is_some_and(|v| v.trim().eq_ignore_ascii_case(value.trim())),
        Cond::Ne { var, value } => !lookup(var, vars, contact).is_some_and(|v| v.trim().eq_ignore_ascii_case(value.trim())),
        Cond::Contains { var, value } => lookup(var, vars, contact).is_some_and(|v| v.to_lowercase().contains(&value.to_lowercase())),
        Cond::Gt { var, value } => num(var).is_some_and(|n| n > *value),
        Cond::Lt { var, value } => num(var).is_some_and(|n| n < *value),
        Cond::Exists { var } => lookup(var, vars, contact).is_some_and(|v| !v.is_empty()),
        Cond::HasTag { tag } => contact.tags.contains(&tag.to_lowercase()),
        Cond::TimeBetween { from, to } => in_window(from, to, now.hour() * 60 + now.minute()),
        Cond::BusinessHours { days, from, to, time_zone } => {
            let zone = time_zone.as_deref().and_then(|t| t.parse::<chrono_tz::Tz>().ok()).unwrap_or(zone);
            let local = now.with_timezone(&zone);
            let on_day = days.is_empty() || days.iter().any(|d| super::check::weekday(d) == Some(local.weekday()));
            on_day && in_window(from, to, local.hour() * 60 + local.minute())
        }
    }
}

/// A dotted path (`a.b.0.c`) into a JSON value.
pub(super) fn at_path<'a>(v: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(v, |v, seg| match v {
        Value::Array(a) => a.get(seg.parse::<usize>().ok()?),
        other => other.get(seg),
    })
}

/// A summary of what the bot captured, for the hand-off note.
pub fn summary(vars: &Map<String, Value>, contact: &ContactData) -> String {
    let vars = vars.iter().filter(|(k, _)| !k.starts_with('_')).map(|(k, v)| format!("{k}: {}", v.as_str().map_or_else(|| v.to_string(), str::to_owned)));
    let fields = contact.fields.iter().map(|(k, v)| format!("contact.{k}: {v}"));
    vars.chain(fields).collect::<Vec<_>>().join("\n")
}
