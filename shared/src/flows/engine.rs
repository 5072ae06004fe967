//! The step machine: given a flow document, a conversation's session and one input (a message, a
//! start, a timer), it moves through steps and returns what should happen (messages, labels, captured
//! answers, a hand-off) as plain effects. No storage and no sending here; `runtime` applies the
//! effects, and the simulator returns them. Only the webhook step reaches out, through `Env`.

use std::collections::{BTreeMap, BTreeSet};

use async_trait::async_trait;
use chrono::{DateTime, Timelike, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use utoipa::ToSchema;

use super::types::{AnswerKind, Choice, Cond, FlowDoc, FlowId, Step, StepKind};
use crate::whatsapp::types::{Button, Content, PhoneNumber};

/// Steps one input may run before the flow is stopped (a loop through zero-second waits, say).
pub const STEP_BUDGET: usize = 50;

#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Waiting {
    #[default]
    No,
    /// For the contact's next message (a question, buttons, a reply wait).
    Reply,
    /// For `resume_at` (a duration wait).
    Timer,
}

/// A conversation's place in a flow, pinned to the version it started on.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct Session {
    pub flow_id: FlowId,
    pub flow_version: u32,
    pub step: String,
    #[schema(value_type = Object)]
    pub vars: Map<String, Value>,
    pub retries: u8,
    pub waiting: Waiting,
    /// Epoch seconds a timer wait or a reply timeout fires.
    pub resume_at: Option<i64>,
    /// Epoch seconds after which the session lapses.
    pub expires_at: i64,
    pub started_at: String,
    pub done: bool,
}

/// The contact's bot-visible profile: custom fields and tags.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct ContactData {
    #[serde(default)]
    pub fields: BTreeMap<String, String>,
    #[serde(default)]
    pub tags: BTreeSet<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq, ToSchema)]
#[serde(tag = "effect", rename_all = "snake_case")]
pub enum Effect {
    Send { #[schema(value_type = Object)] content: Content },
    Label { label: String },
    Handoff { agent: Option<String>, note: String },
    Captured { step: String, into: String, value: String },
    Entered { step: String },
    Completed { step: String },
    Dropped { step: String },
    /// The step budget ran out: the flow was stopped.
    BudgetExhausted { step: String },
}

pub enum Input<'a> {
    Start,
    Message(&'a str),
    Timer,
}

/// What the engine needs from the outside world.
#[async_trait]
pub trait Env: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
    /// POSTs `body` as JSON; the parsed JSON answer, or a short reason.
    async fn webhook(&self, url: &str, body: &Value, timeout_seconds: u32) -> Result<Value, String>;
}

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

fn lookup(name: &str, vars: &Map<String, Value>, contact: &ContactData) -> Option<String> {
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

fn chosen<'a>(choices: &'a [Choice], answer: &str) -> Option<&'a Choice> {
    let a = answer.trim();
    let by_title = pick(choices.iter().map(|c| c.title.as_str()), a).and_then(|t| choices.iter().find(|c| c.title == t));
    by_title.or_else(|| choices.iter().find(|c| c.id.eq_ignore_ascii_case(a)))
}

pub fn holds(cond: &Cond, vars: &Map<String, Value>, contact: &ContactData, now: DateTime<Utc>) -> bool {
    let num = |var: &str| lookup(var, vars, contact).and_then(|v| v.trim().parse::<f64>().ok());
    match cond {
        Cond::Eq { var, value } => lookup(var, vars, contact).is_some_and(|v| v.trim().eq_ignore_ascii_case(value.trim())),
        Cond::Ne { var, value } => !lookup(var, vars, contact).is_some_and(|v| v.trim().eq_ignore_ascii_case(value.trim())),
        Cond::Contains { var, value } => lookup(var, vars, contact).is_some_and(|v| v.to_lowercase().contains(&value.to_lowercase())),
        Cond::Gt { var, value } => num(var).is_some_and(|n| n > *value),
        Cond::Lt { var, value } => num(var).is_some_and(|n| n < *value),
        Cond::Exists { var } => lookup(var, vars, contact).is_some_and(|v| !v.is_empty()),
        Cond::HasTag { tag } => contact.tags.contains(&tag.to_lowercase()),
        Cond::TimeBetween { from, to } => {
            let (Some(f), Some(t)) = (super::types::parse_hhmm(from), super::types::parse_hhmm(to)) else { return false };
            let m = now.hour() * 60 + now.minute();
            if f <= t { (f..t).contains(&m) } else { m >= f || m < t }
        }
    }
}

/// A dotted path (`a.b.0.c`) into a JSON value.
fn at_path<'a>(v: &'a Value, path: &str) -> Option<&'a Value> {
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

struct Run<'a> {
    doc: &'a FlowDoc,
    env: &'a dyn Env,
    effects: Vec<Effect>,
}

impl Run<'_> {
    fn step(&self, id: &str) -> Option<&Step> {
        self.doc.steps.iter().find(|s| s.id == id)
    }

    fn send(&mut self, content: Content) {
        self.effects.push(Effect::Send { content });
    }

    /// Leaves the current step for `next` (or ends the flow).
    fn goto(&mut self, s: &mut Session, next: Option<&str>) {
        self.effects.push(Effect::Completed { step: s.step.clone() });
        (s.retries, s.waiting, s.resume_at) = (0, Waiting::No, None);
        match next {
            Some(n) => s.step = n.to_owned(),
            None => s.done = true,
        }
    }

    fn capture(&mut self, s: &mut Session, c: &mut ContactData, into: &str, value: &str) {
        match into.strip_prefix("contact.") {
            Some(field) => {
                c.fields.insert(field.to_owned(), value.to_owned());
            }
            None => {
                s.vars.insert(into.to_owned(), Value::String(value.to_owned()));
            }
        }
        self.effects.push(Effect::Captured { step: s.step.clone(), into: into.to_owned(), value: value.to_owned() });
    }

    fn reprompt_or_give_up(&mut self, s: &mut Session, prompt: Content, max: u8, on_invalid: Option<&str>) {
        if s.retries < max {
            s.retries += 1;
            self.send(prompt);
        } else {
            self.effects.push(Effect::Dropped { step: s.step.clone() });
            (s.retries, s.waiting) = (0, Waiting::No);
            match on_invalid {
                Some(n) => s.step = n.to_owned(),
                None => s.done = true,
            }
        }
    }

    /// Applies a message to the step the session waits on. Returns whether the flow should run on.
    fn answer(&mut self, s: &mut Session, c: &mut ContactData, text: &str) -> bool {
        let Some(step) = self.step(&s.step).cloned() else { return false };
        match &step.kind {
            StepKind::Ask { text: q, into, kind, choices, retries, retry_text, next, on_invalid } => match validate_answer(*kind, choices, text) {
                Ok(v) => {
                    self.capture(s, c, into, &v);
                    self.goto(s, next.as_deref());
                }
                Err(_) => {
                    let prompt = render(retry_text.as_deref().unwrap_or(q), &s.vars, c);
                    self.reprompt_or_give_up(s, Content::Text { body: prompt, preview_url: false }, *retries, on_invalid.as_deref());
                }
            },
            StepKind::Buttons { buttons: options, into, next, .. } | StepKind::List { rows: options, into, next, .. } => match chosen(options, text) {
                Some(choice) => {
                    if let Some(into) = into {
                        self.capture(s, c, into, &choice.id);
                    }
                    let to = choice.next.clone().or(next.clone());
                    self.goto(s, to.as_deref());
                }
                None => {
                    let prompt = self.prompt(&step, s, c);
                    self.reprompt_or_give_up(s, prompt, 2, None);
                }
            },
            StepKind::Wait { for_reply: true, next, .. } => {
                s.vars.insert("last_reply".into(), Value::String(text.to_owned()));
                self.goto(s, next.as_deref());
            }
            _ => return false,
        }
        !s.done && s.waiting == Waiting::No
    }

    fn prompt(&self, step: &Step, s: &Session, c: &ContactData) -> Content {
        match &step.kind {
            StepKind::Buttons { text, buttons, .. } => Content::Interactive { body: render(text, &s.vars, c), buttons: buttons.iter().map(|b| Button { id: b.id.clone(), title: b.title.clone() }).collect() },
            // The send path has no list messages, so a list goes out as numbered text (answered by number or title).
            StepKind::List { text, rows, .. } => {
                let lines: Vec<String> = rows.iter().enumerate().map(|(i, r)| format!("{}. {}", i + 1, r.title)).collect();
                Content::Text { body: format!("{}\n\n{}", render(text, &s.vars, c), lines.join("\n")), preview_url: false }
            }
            StepKind::Ask { text, choices, .. } if !choices.is_empty() => {
                let lines: Vec<String> = choices.iter().enumerate().map(|(i, ch)| format!("{}. {ch}", i + 1)).collect();
                Content::Text { body: format!("{}\n\n{}", render(text, &s.vars, c), lines.join("\n")), preview_url: false }
            }
            StepKind::Ask { text, .. } => Content::Text { body: render(text, &s.vars, c), preview_url: false },
            _ => Content::Text { body: String::new(), preview_url: false },
        }
    }

    /// Runs steps from the current one until the flow waits or ends.
    async fn run(&mut self, s: &mut Session, c: &mut ContactData) {
        let mut budget = STEP_BUDGET;
        while !s.done && s.waiting == Waiting::No {
            if budget == 0 {
                self.effects.push(Effect::BudgetExhausted { step: s.step.clone() });
                s.done = true;
                return;
            }
            budget -= 1;
            let Some(step) = self.step(&s.step).cloned() else {
                s.done = true;
                return;
            };
            self.effects.push(Effect::Entered { step: step.id.clone() });
            self.exec(&step, s, c).await;
        }
    }

    async fn exec(&mut self, step: &Step, s: &mut Session, c: &mut ContactData) {
        let now = self.env.now().timestamp();
        match &step.kind {
            StepKind::SendText { text, next } => {
                self.send(Content::Text { body: render(text, &s.vars, c), preview_url: false });
                self.goto(s, next.as_deref());
            }
            StepKind::SendMedia { media, url, caption, next } => {
                self.send(Content::Media { kind: *media, url: render(url, &s.vars, c), caption: caption.as_deref().map(|t| render(t, &s.vars, c)), filename: None });
                self.goto(s, next.as_deref());
            }
            StepKind::SendTemplate { name, language, content_sid, variables, next } => {
                let variables = variables.iter().map(|v| render(v, &s.vars, c)).collect();
                self.send(Content::Template { name: name.clone(), language: language.clone(), content_sid: content_sid.clone(), variables });
                self.goto(s, next.as_deref());
            }
            StepKind::Buttons { .. } | StepKind::List { .. } | StepKind::Ask { .. } => {
                let prompt = self.prompt(step, s, c);
                self.send(prompt);
                s.waiting = Waiting::Reply;
            }
            StepKind::Branch { rules, default } => {
                let now = self.env.now();
                let to = rules.iter().find(|r| r.when.iter().all(|cond| holds(cond, &s.vars, c, now))).map_or(default, |r| &r.next).clone();
                self.goto(s, Some(&to));
            }
            StepKind::SetTag { tag, next } => {
                c.tags.insert(tag.trim().to_lowercase());
                self.goto(s, next.as_deref());
            }
            StepKind::SetField { field, value, next } => {
                c.fields.insert(field.clone(), render(value, &s.vars, c));
                self.goto(s, next.as_deref());
            }
            StepKind::SetLabel { label, next } => {
                self.effects.push(Effect::Label { label: label.trim().to_lowercase() });
                self.goto(s, next.as_deref());
            }
            StepKind::Wait { seconds, for_reply, next, .. } => {
                if *for_reply {
                    (s.waiting, s.resume_at) = (Waiting::Reply, Some(now + i64::from(*seconds)));
                } else if *seconds == 0 {
                    self.goto(s, next.as_deref());
                } else {
                    (s.waiting, s.resume_at) = (Waiting::Timer, Some(now + i64::from(*seconds)));
                }
            }
            StepKind::Webhook { url, timeout_seconds, map, next, on_error } => {
                let body = json!({"flow_id": s.flow_id, "version": s.flow_version, "step": step.id, "variables": s.vars, "contact": c});
                match self.env.webhook(url, &body, *timeout_seconds).await {
                    Ok(answer) => {
                        for (var, path) in map {
                            if let Some(v) = at_path(&answer, path) {
                                s.vars.insert(var.clone(), v.clone());
                            }
                        }
                        self.goto(s, next.as_deref());
                    }
                    Err(e) => {
                        s.vars.insert("webhook_error".into(), Value::String(e));
                        self.goto(s, on_error.as_deref());
                    }
                }
            }
            StepKind::Handoff { agent, note } => {
                let head = note.as_deref().map(|n| render(n, &s.vars, c)).unwrap_or_else(|| "Handed over by the bot.".into());
                let captured = summary(&s.vars, c);
                let note = if captured.is_empty() { head } else { format!("{head}\n{captured}") };
                self.effects.push(Effect::Handoff { agent: agent.clone(), note });
                self.goto(s, None);
            }
            StepKind::End => self.goto(s, None),
        }
    }
}

/// Moves a session forward on one input. Returns the effects in order.
pub async fn advance(doc: &FlowDoc, s: &mut Session, c: &mut ContactData, input: Input<'_>, env: &dyn Env) -> Vec<Effect> {
    let mut run = Run { doc, env, effects: Vec::new() };
    let go_on = match (s.waiting, input) {
        (_, _) if s.done => false,
        (Waiting::No, Input::Start) => true,
        (Waiting::Reply, Input::Message(text)) => run.answer(s, c, text),
        (Waiting::Reply | Waiting::Timer, Input::Timer) => {
            let next = match run.step(&s.step).map(|st| &st.kind) {
                Some(StepKind::Wait { for_reply: true, next, on_timeout, .. }) => on_timeout.clone().or(next.clone()),
                Some(StepKind::Wait { next, .. }) => next.clone(),
                _ => None,
            };
            if s.waiting == Waiting::Reply {
                run.effects.push(Effect::Dropped { step: s.step.clone() });
            }
            run.goto(s, next.as_deref());
            true
        }
        // A message during a timer wait, or a stray timer: nothing moves.
        _ => false,
    };
    if go_on {
        run.run(s, c).await;
    }
    run.effects
}

/// A fresh session at the flow's first step.
pub fn start(doc: &FlowDoc, flow_id: &FlowId, version: u32, vars: Map<String, Value>, now: DateTime<Utc>) -> Session {
    let hours = doc.expiry_hours.unwrap_or(super::types::DEFAULT_EXPIRY_HOURS);
    Session {
        flow_id: flow_id.clone(),
        flow_version: version,
        step: doc.steps.first().map(|s| s.id.clone()).unwrap_or_default(),
        vars,
        retries: 0,
        waiting: Waiting::No,
        resume_at: None,
        expires_at: now.timestamp() + i64::from(hours) * 3600,
        started_at: now.to_rfc3339(),
        done: false,
    }
}
