//! The flow document: typed triggers and steps with ids, parsed at save (`check` then lists its problems).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::types::prefixed_id;
use crate::whatsapp::types::MediaKind;

prefixed_id!(FlowId, "flow_", "flow");

pub const MAX_STEPS: usize = 200;
pub const MAX_BUTTONS: usize = 3;
pub const MAX_LIST_ROWS: usize = 10;
pub const DEFAULT_EXPIRY_HOURS: u32 = 24;

/// What starts a flow on an inbound message (or a call to the API).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum TriggerSpec {
    /// `match`: `exact`, `contains` or `regex`; always case-insensitive. `channel_id` limits it to one channel.
    Keyword { #[serde(rename = "match", default)] mode: KeywordMode, value: String, channel_id: Option<String> },
    /// The first message of a contact never seen on the channel.
    FirstMessage { channel_id: Option<String> },
    /// Any message while no member is assigned to the conversation.
    Unassigned { channel_id: Option<String> },
    /// A reply button or list row with this id was tapped (or the id typed as the message).
    ButtonReply { id: String },
    /// The contact's first reply to a broadcast (`broadcast_id`, or any broadcast when absent).
    BroadcastReply { broadcast_id: Option<String> },
    /// Only `POST …/flows/{id}/start`.
    Api,
}

#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum KeywordMode {
    #[default]
    Exact,
    Contains,
    Regex,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct Choice {
    pub id: String,
    pub title: String,
    /// Where a tap on this option goes (else the step's `next`).
    pub next: Option<String>,
}

/// How an answer is checked before it is captured.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AnswerKind {
    #[default]
    Text,
    Number,
    Email,
    Phone,
    /// `YYYY-MM-DD`.
    Date,
    /// One of the step's `choices` (by title, id or 1-based position).
    Choice,
}

/// One test of a branch. `var` names a variable, `contact.<field>` a contact field.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Cond {
    Eq { var: String, value: String },
    Ne { var: String, value: String },
    Contains { var: String, value: String },
    Gt { var: String, value: f64 },
    Lt { var: String, value: f64 },
    Exists { var: String },
    HasTag { tag: String },
    /// UTC time of day in `[from, to)`, `HH:MM`; wraps past midnight when `from > to`.
    TimeBetween { from: String, to: String },
    /// Local time in `[from, to)` on one of `days` (`mon`…`sun`; every day when empty), read in
    /// `time_zone` (an IANA name) or else the workspace's time zone.
    BusinessHours {
        #[serde(default)]
        days: Vec<String>,
        from: String,
        to: String,
        time_zone: Option<String>,
    },
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct Rule {
    /// All must hold.
    pub when: Vec<Cond>,
    pub next: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum StepKind {
    SendText { text: String, next: Option<String> },
    SendMedia { media: MediaKind, url: String, caption: Option<String>, next: Option<String> },
    /// Sent even outside the 24-hour window.
    SendTemplate { name: Option<String>, language: Option<String>, content_sid: Option<String>, #[serde(default)] variables: Vec<String>, next: Option<String> },
    /// Reply buttons (≤ 3); waits for a tap (or text matching a title).
    Buttons { text: String, buttons: Vec<Choice>, into: Option<String>, next: Option<String> },
    /// A list (≤ 10 rows) behind a `button` label (default "Choose"); waits for a choice. Goes out as
    /// numbered text on providers without list messages.
    List { text: String, #[serde(default)] button: Option<String>, rows: Vec<Choice>, into: Option<String>, next: Option<String> },
    /// Asks, waits, validates and captures into `into` (a variable, or `contact.<field>`).
    Ask {
        text: String,
        into: String,
        #[serde(default)]
        kind: AnswerKind,
        #[serde(default)]
        choices: Vec<String>,
        /// Re-prompts after an invalid answer before giving up.
        #[serde(default = "default_retries")]
        retries: u8,
        retry_text: Option<String>,
        next: Option<String>,
        /// Where to go once retries run out (else the flow ends).
        on_invalid: Option<String>,
    },
    Branch { rules: Vec<Rule>, default: String },
    SetTag { tag: String, next: Option<String> },
    SetField { field: String, value: String, next: Option<String> },
    /// A conversation label in the inbox.
    SetLabel { label: String, next: Option<String> },
    /// `seconds`: continue later (the minute tick); `for_reply`: continue on the next message or after `seconds`.
    Wait { seconds: u32, #[serde(default)] for_reply: bool, next: Option<String>, on_timeout: Option<String> },
    /// POSTs the variables as JSON; `map` copies response fields (dotted paths) into variables.
    Webhook { url: String, #[serde(default = "default_timeout")] timeout_seconds: u32, #[serde(default)] map: BTreeMap<String, String>, next: Option<String>, on_error: Option<String> },
    /// Assigns the conversation (to `agent`, else round-robin among `team`'s available members, else
    /// among the workspace's agents) with a note of the captured data; the bot stops.
    Handoff { agent: Option<String>, #[serde(default)] team: Option<String>, #[serde(default)] note: Option<String> },
    End,
}

fn default_retries() -> u8 {
    2
}

fn default_timeout() -> u32 {
    10
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct Step {
    pub id: String,
    #[serde(flatten)]
    pub kind: StepKind,
}

/// A flow as the builder saves it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct FlowDoc {
    pub name: String,
    #[serde(default)]
    pub triggers: Vec<TriggerSpec>,
    /// Higher wins when several flows match one message.
    #[serde(default)]
    pub priority: i32,
    pub steps: Vec<Step>,
    /// Conversation state lapses after this many hours without progress.
    pub expiry_hours: Option<u32>,
    /// Captured answers are purged after this many days (default: kept 365 days).
    pub retention_days: Option<u32>,
}

/// One problem found at save: the step (when there is one), the field, and what is wrong.
#[derive(Debug, Clone, Serialize, PartialEq, ToSchema)]
pub struct Problem {
    pub step: Option<String>,
    pub field: String,
    pub message: String,
}

impl Step {
    /// Every step this one can move to.
    pub fn targets<'a>(&'a self) -> Vec<(&'static str, &'a str)> {
        fn add<'a>(out: &mut Vec<(&'static str, &'a str)>, field: &'static str, t: &'a Option<String>) {
            if let Some(t) = t {
                out.push((field, t.as_str()));
            }
        }
        let mut out = Vec::new();
        let mut push = |field: &'static str, t: &'a Option<String>| add(&mut out, field, t);
        match &self.kind {
            StepKind::SendText { next, .. } | StepKind::SendMedia { next, .. } | StepKind::SendTemplate { next, .. } | StepKind::SetTag { next, .. } | StepKind::SetField { next, .. } | StepKind::SetLabel { next, .. } => push("next", next),
            StepKind::Buttons { buttons: c, next, .. } | StepKind::List { rows: c, next, .. } => {
                push("next", next);
                for choice in c {
                    push("choices.next", &choice.next);
                }
            }
            StepKind::Ask { next, on_invalid, .. } => {
                push("next", next);
                push("on_invalid", on_invalid);
            }
            StepKind::Branch { rules, default } => {
                for r in rules {
                    out.push(("rules.next", r.next.as_str()));
                }
                out.push(("default", default.as_str()));
            }
            StepKind::Wait { next, on_timeout, .. } => {
                push("next", next);
                push("on_timeout", on_timeout);
            }
            StepKind::Webhook { next, on_error, .. } => {
                push("next", next);
                push("on_error", on_error);
            }
            StepKind::Handoff { .. } | StepKind::End => {}
        }
        out
    }
}
