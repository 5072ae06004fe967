//! The step machine: given a flow document, a conversation's session and one input (a message, a
//! start, a timer), it moves through steps and returns what should happen (messages, labels, captured
//! answers, a hand-off) as plain effects. No storage and no sending here; `runtime` applies the
//! effects, and the simulator returns them. Only the webhook step reaches out, through `Env`.

use std::collections::{BTreeMap, BTreeSet};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use utoipa::ToSchema;

use super::eval::{at_path, chosen, holds, render, summary, validate_answer};
use super::types::{FlowDoc, FlowId, Step, StepKind};
use crate::whatsapp::types::{Button, Content};

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
    /// Epoch seconds the current step was entered (for the funnel's time per step).
    #[serde(default)]
    pub step_since: i64,
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
    /// `seconds`: how long the conversation spent on the step (waiting for the contact included).
    Completed { step: String, seconds: i64 },
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
        let now = self.env.now().timestamp();
        self.effects.push(Effect::Completed { step: s.step.clone(), seconds: (now - s.step_since).max(0) });
        (s.retries, s.waiting, s.resume_at, s.step_since) = (0, Waiting::No, None, now);
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
                self.send(Content::Template { name: name.clone(), language: language.clone(), content_sid: content_sid.clone(), variables, params: None });
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
        step_since: now.timestamp(),
        done: false,
    }
}
