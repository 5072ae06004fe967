//! Save-time checks of a flow document: every problem names the step id and the field, so the builder
//! can show it on the step. Unknown targets, option limits, bad regexes and runaway loops are refused.

use std::collections::{HashMap, HashSet};

use super::types::{AnswerKind, Choice, Cond, FlowDoc, KeywordMode, Problem, Step, StepKind, TriggerSpec, MAX_BUTTONS, MAX_LIST_ROWS, MAX_STEPS};

pub(super) fn valid_name(s: &str) -> bool {
    !s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"_-".contains(&b))
}

/// A capture target: a variable name, or `contact.<field>`.
pub fn valid_target(s: &str) -> bool {
    valid_name(s.strip_prefix("contact.").unwrap_or(s))
}

/// `mon`…`sun` (or the full English name), case-insensitive.
pub fn weekday(s: &str) -> Option<chrono::Weekday> {
    s.trim().parse::<chrono::Weekday>().ok()
}

pub fn parse_hhmm(s: &str) -> Option<u32> {
    let (h, m) = s.split_once(':')?;
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    (h < 24 && m < 60 && s.len() == 5).then_some(h * 60 + m)
}

/// Compiles a keyword regex, case-insensitive, with a size cap so a pattern cannot be made expensive.
pub fn keyword_regex(pattern: &str) -> Result<regex_lite::Regex, String> {
    if pattern.len() > 200 {
        return Err("a pattern is at most 200 characters".into());
    }
    regex_lite::RegexBuilder::new(pattern).case_insensitive(true).size_limit(1 << 16).build().map_err(|e| e.to_string())
}

/// All problems of a document (empty when it can be saved).
pub fn check(doc: &FlowDoc) -> Vec<Problem> {
    let mut problems = Vec::new();
    let mut bad = |step: Option<&str>, field: &str, message: String| problems.push(Problem { step: step.map(str::to_owned), field: field.to_owned(), message });
    if doc.name.trim().is_empty() || doc.name.chars().count() > 100 {
        bad(None, "name", "name must be 1–100 characters".into());
    }
    if doc.steps.is_empty() || doc.steps.len() > MAX_STEPS {
        bad(None, "steps", format!("a flow has 1–{MAX_STEPS} steps"));
    }
    if doc.expiry_hours.is_some_and(|h| !(1..=720).contains(&h)) {
        bad(None, "expiry_hours", "expiry_hours must be 1–720".into());
    }
    if doc.retention_days.is_some_and(|d| !(1..=3650).contains(&d)) {
        bad(None, "retention_days", "retention_days must be 1–3650".into());
    }
    if doc.triggers.len() > 20 {
        bad(None, "triggers", "at most 20 triggers".into());
    }
    for (i, t) in doc.triggers.iter().enumerate() {
        let field = format!("triggers[{i}]");
        match t {
            TriggerSpec::Keyword { mode, value, .. } => {
                if value.trim().is_empty() || value.len() > 200 {
                    bad(None, &field, "a keyword is 1–200 characters".into());
                } else if *mode == KeywordMode::Regex {
                    if let Err(e) = keyword_regex(value) {
                        bad(None, &field, format!("bad regex: {e}"));
                    }
                }
            }
            TriggerSpec::ButtonReply { id } if id.trim().is_empty() => bad(None, &field, "a button reply id is required".into()),
            TriggerSpec::BroadcastReply { broadcast_id: Some(b) } if crate::broadcasts::types::BroadcastId::parse(b).is_err() => bad(None, &field, format!("`{}` is not a broadcast id", b.chars().take(40).collect::<String>())),
            _ => {}
        }
    }
    let mut ids = HashSet::new();
    for s in &doc.steps {
        if !valid_name(&s.id) {
            bad(Some(&s.id), "id", "a step id is 1–64 letters, digits, _ or -".into());
        } else if !ids.insert(s.id.as_str()) {
            bad(Some(&s.id), "id", format!("step id `{}` is used twice", s.id));
        }
    }
    for s in &doc.steps {
        let id = Some(s.id.as_str());
        for (field, target) in s.targets() {
            if !ids.contains(target) {
                bad(id, field, format!("no step `{target}`"));
            }
        }
        check_step(s, &mut bad);
    }
    if problems.is_empty() {
        if let Some(cycle) = loop_without_wait(doc) {
            problems.push(Problem { step: Some(cycle.clone()), field: "next".into(), message: format!("step `{cycle}` is on a loop without a `wait` step; loops must pass a wait") });
        }
    }
    problems
}

fn check_step(s: &Step, bad: &mut impl FnMut(Option<&str>, &str, String)) {
    let id = Some(s.id.as_str());
    let text = |bad: &mut dyn FnMut(Option<&str>, &str, String), field: &str, t: &str, max: usize| {
        if t.trim().is_empty() || t.chars().count() > max {
            bad(id, field, format!("{field} must be 1–{max} characters"));
        }
    };
    match &s.kind {
        StepKind::SendText { text: t, .. } => text(bad, "text", t, 4096),
        StepKind::SendMedia { url, .. } if !url.starts_with("https://") => bad(id, "url", "media url must be an https URL".into()),
        StepKind::SendTemplate { name, content_sid, .. } if name.is_none() && content_sid.is_none() => bad(id, "name", "a template needs `name` (Meta) or `content_sid` (Twilio)".into()),
        StepKind::Buttons { text: t, buttons: options, into, .. } | StepKind::List { text: t, rows: options, into, .. } => {
            // Reply buttons: ≤ 3, titles ≤ 20; list rows: ≤ 10, titles ≤ 24 (WhatsApp's limits).
            let (field, max, max_title) = if matches!(s.kind, StepKind::Buttons { .. }) { ("buttons", MAX_BUTTONS, 20) } else { ("rows", MAX_LIST_ROWS, 24) };
            text(bad, "text", t, 1024);
            if options.is_empty() || options.len() > max {
                bad(id, field, format!("{field}: 1–{max}, got {}", options.len()));
            }
            check_choices(id, field, options, max_title, bad);
            if let StepKind::List { button: Some(label), .. } = &s.kind {
                text(bad, "button", label, 20);
            }
            if into.as_deref().is_some_and(|v| !valid_target(v)) {
                bad(id, "into", "`into` is a variable name or contact.<field>".into());
            }
        }
        StepKind::Ask { text: t, into, kind, choices, retries, .. } => {
            text(bad, "text", t, 1024);
            if !valid_target(into) {
                bad(id, "into", "`into` is a variable name or contact.<field>".into());
            }
            if *kind == AnswerKind::Choice && choices.is_empty() {
                bad(id, "choices", "a choice question needs `choices`".into());
            }
            if *retries > 10 {
                bad(id, "retries", "at most 10 re-prompts".into());
            }
        }
        StepKind::Branch { rules, .. } => {
            if rules.is_empty() {
                bad(id, "rules", "a branch needs at least one rule (and `default`)".into());
            }
            for (i, r) in rules.iter().enumerate() {
                if r.when.is_empty() {
                    bad(id, &format!("rules[{i}].when"), "a rule needs at least one condition".into());
                }
                for c in &r.when {
                    let field = format!("rules[{i}].when");
                    match c {
                        Cond::TimeBetween { from, to } | Cond::BusinessHours { from, to, .. } if parse_hhmm(from).is_none() || parse_hhmm(to).is_none() => bad(id, &field, "times are HH:MM".into()),
                        Cond::BusinessHours { days, time_zone, .. } => {
                            if let Some(d) = days.iter().find(|d| weekday(d).is_none()) {
                                bad(id, &field, format!("`{}` is not a day; use mon, tue, wed, thu, fri, sat, sun", d.chars().take(20).collect::<String>()));
                            }
                            if time_zone.as_deref().is_some_and(|t| t.parse::<chrono_tz::Tz>().is_err()) {
                                bad(id, &field, "time_zone is an IANA name like Europe/Berlin".into());
                            }
                        }
                        _ => {}
                    }
                }
            }
        }
        StepKind::SetTag { tag, .. } | StepKind::SetLabel { label: tag, .. } => text(bad, "tag", tag, 40),
        StepKind::Handoff { team: Some(t), .. } if crate::inbox::teams::TeamId::parse(t).is_err() => bad(id, "team", format!("`{}` is not a team id", t.chars().take(40).collect::<String>())),
        StepKind::SetField { field, .. } if !valid_name(field) => bad(id, "field", "a field name is 1–64 letters, digits, _ or -".into()),
        StepKind::Wait { seconds, for_reply, .. } if *seconds > 7 * 86_400 || (*for_reply && *seconds == 0) => bad(id, "seconds", "wait 0–604800 seconds (a reply wait needs a timeout)".into()),
        StepKind::Webhook { url, timeout_seconds, map, .. } => {
            if !(url.starts_with("https://") || url.starts_with("http://")) || url.len() > 2048 {
                bad(id, "url", "the webhook url must be an http(s) URL".into());
            }
            if !(1..=30).contains(timeout_seconds) {
                bad(id, "timeout_seconds", "timeout_seconds must be 1–30".into());
            }
            if map.keys().any(|k| !valid_name(k)) {
                bad(id, "map", "map keys are variable names".into());
            }
        }
        _ => {}
    }
}

fn check_choices(id: Option<&str>, field: &str, choices: &[Choice], max_title: usize, bad: &mut impl FnMut(Option<&str>, &str, String)) {
    let mut seen = HashSet::new();
    for c in choices {
        if c.id.trim().is_empty() || c.id.len() > 200 || !seen.insert(c.id.as_str()) {
            bad(id, field, format!("option ids must be unique and 1–200 characters (`{}`)", c.id));
        }
        if c.title.trim().is_empty() || c.title.chars().count() > max_title {
            bad(id, field, format!("option titles are 1–{max_title} characters (`{}`)", c.title));
        }
    }
}

/// A step on a cycle that passes no `wait` step, if any (a runaway loop). Steps that wait for the
/// contact (questions, buttons, lists) also break a cycle: each turn needs a new message.
fn loop_without_wait(doc: &FlowDoc) -> Option<String> {
    let pauses = |s: &Step| matches!(s.kind, StepKind::Wait { .. } | StepKind::Ask { .. } | StepKind::Buttons { .. } | StepKind::List { .. });
    let by_id: HashMap<&str, &Step> = doc.steps.iter().map(|s| (s.id.as_str(), s)).collect();
    // Colours: 0 unvisited, 1 on the stack, 2 done. Only non-pausing steps are walked.
    let mut colour: HashMap<&str, u8> = HashMap::new();
    fn visit<'a>(id: &'a str, by_id: &HashMap<&'a str, &'a Step>, colour: &mut HashMap<&'a str, u8>, pauses: &dyn Fn(&Step) -> bool) -> Option<String> {
        match colour.get(id) {
            Some(1) => return Some(id.to_owned()),
            Some(2) => return None,
            _ => {}
        }
        let step = by_id.get(id)?;
        if pauses(step) {
            return None;
        }
        colour.insert(id, 1);
        for (_, t) in step.targets() {
            if let Some(c) = visit(t, by_id, colour, pauses) {
                return Some(c);
            }
        }
        colour.insert(id, 2);
        None
    }
    doc.steps.iter().find_map(|s| visit(s.id.as_str(), &by_id, &mut colour, &pauses))
}
