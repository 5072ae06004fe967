//! Drip types and their parser: a drip is a name, a status, an optional segment and 1–20 steps, each a
//! message sent a number of minutes after the subscription. Steps keep their ids across edits (a caller
//! passes back the ids it read), which is how an enrolment knows which steps it already had.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::types::prefixed_id;
use crate::http::ApiError;
use crate::push::linked::Message;
use crate::push::notifications::{Plan, Target};
use crate::push::sites::{Site, SiteId};

prefixed_id!(DripId, "drp_", "drip");
prefixed_id!(StepId, "stp_", "drip step");

pub const MAX_STEPS: usize = 20;
/// The longest delay after the subscription: a year.
pub const MAX_DELAY_MINUTES: u32 = 525_600;

#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// New subscribers are enrolled and due steps are sent.
    #[default]
    Active,
    /// Nobody is enrolled, and steps that come due meanwhile are skipped (counted `skipped_paused`).
    Paused,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct Step {
    pub id: StepId,
    /// Minutes after the subscription (0: at the next minute tick).
    pub delay_minutes: u32,
    #[serde(flatten)]
    pub message: Message,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct Drip {
    pub id: DripId,
    pub site_id: SiteId,
    pub name: String,
    pub status: Status,
    /// Only subscribers in this segment get a step (checked when each step is due).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segment_id: Option<String>,
    /// In order of their delays, which strictly increase.
    pub steps: Vec<Step>,
    pub created_at: String,
    pub updated_at: String,
}

impl Drip {
    /// The first step after `position` (the delay of the last step handled, -1 before the first) that
    /// the enrolment has not had: edits affect future steps only.
    pub fn next_step(&self, position: i64, done: &[StepId]) -> Option<&Step> {
        self.steps.iter().find(|s| i64::from(s.delay_minutes) > position && !done.contains(&s.id))
    }
}

/// A step as a caller writes it: `id` names a step the drip has (to keep it), else it is a new one.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct StepInput {
    pub id: Option<String>,
    pub delay_minutes: u32,
    #[serde(flatten)]
    pub message: Message,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct DripInput {
    pub name: String,
    /// `active` (the default) or `paused`; on update, absent keeps the status.
    pub status: Option<Status>,
    pub segment_id: Option<String>,
    pub steps: Vec<StepInput>,
    /// On update: the version last read, to refuse overwriting someone else's edit.
    pub version: Option<u64>,
}

/// Checks everything that needs no table: the name, the step count and order, each step's message as a
/// notification of this site would be checked. Returns the name and the steps, new ones with ids from
/// `new_id`; `kept` are the ids of the drip being edited (none on create).
pub fn parse(input: &DripInput, site: &Site, kept: &[StepId], mut new_id: impl FnMut() -> StepId) -> Result<(String, Vec<Step>), ApiError> {
    let invalid = |m: String| Err(ApiError::Validation(m));
    let name = input.name.trim();
    if name.is_empty() || name.chars().count() > 80 {
        return invalid("name: must be 1–80 characters".into());
    }
    if input.steps.is_empty() || input.steps.len() > MAX_STEPS {
        return invalid(format!("steps: a drip has 1–{MAX_STEPS} steps"));
    }
    let mut steps: Vec<Step> = Vec::with_capacity(input.steps.len());
    for (i, s) in input.steps.iter().enumerate() {
        if s.delay_minutes > MAX_DELAY_MINUTES {
            return invalid(format!("steps[{i}].delay_minutes: at most {MAX_DELAY_MINUTES} (365 days)"));
        }
        if let Some(before) = steps.last().filter(|b| b.delay_minutes >= s.delay_minutes) {
            return invalid(format!("steps[{i}].delay_minutes: must be greater than the step before's ({})", before.delay_minutes));
        }
        let id = match s.id.as_deref() {
            None => new_id(),
            Some(raw) => match StepId::parse(raw).ok().filter(|id| kept.contains(id)) {
                Some(id) if !steps.iter().any(|t| t.id == id) => id,
                Some(_) => return invalid(format!("steps[{i}].id: the same step twice")),
                None => return invalid(format!("steps[{i}].id: not a step of this drip (leave it out for a new step)")),
            },
        };
        s.message.check(site, Target::Subscriber { id: String::new() }, Plan::default(), &format!("steps[{i}]."))?;
        steps.push(Step { id, delay_minutes: s.delay_minutes, message: s.message.clone() });
    }
    Ok((name.to_owned(), steps))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site() -> Site {
        serde_json::from_value(serde_json::json!({
            "id": SiteId::new(ulid::Ulid::nil()), "name": "Shop", "allowed_origins": ["https://shop.example.com"], "contact": "mailto:ops@example.com",
            "vapid_public_key": "k", "default_icon": null, "ttl_seconds": 3600, "urgency": "normal", "created_at": "2026-01-01T00:00:00Z"
        }))
        .unwrap()
    }

    fn input(steps: serde_json::Value) -> DripInput {
        serde_json::from_value(serde_json::json!({"name": "Welcome", "steps": steps})).unwrap()
    }

    fn refused(steps: serde_json::Value, kept: &[StepId]) -> String {
        match parse(&input(steps), &site(), kept, || StepId::new(ulid::Ulid::new())) {
            Err(ApiError::Validation(m)) => m,
            other => panic!("accepted: {other:?}"),
        }
    }

    #[test]
    fn refusals_name_the_field() {
        // (steps, the start of the message, why)
        let kept = [StepId::new(ulid::Ulid::new())];
        let cases = [
            (serde_json::json!([]), "steps:", "a drip needs a step"),
            (serde_json::json!([{"delay_minutes": 0, "title": ""}]), "steps[0].title", "an empty title"),
            (serde_json::json!([{"delay_minutes": 60, "title": "a"}, {"delay_minutes": 60, "title": "b"}]), "steps[1].delay_minutes", "delays must increase"),
            (serde_json::json!([{"delay_minutes": 600000, "title": "a"}]), "steps[0].delay_minutes", "over a year"),
            (serde_json::json!([{"delay_minutes": 0, "title": "a", "url": "javascript:alert(1)"}]), "steps[0].url", "not an http(s) link"),
            (serde_json::json!([{"id": "stp_01jdxxxxxxxxxxxxxxxxxxxxxx", "delay_minutes": 0, "title": "a"}]), "steps[0].id", "an id that is no step of the drip"),
            (serde_json::json!([{"id": kept[0], "delay_minutes": 0, "title": "a"}, {"id": kept[0], "delay_minutes": 5, "title": "b"}]), "steps[1].id", "one step twice"),
        ];
        for (steps, start, why) in cases {
            let m = refused(steps, &kept);
            assert!(m.starts_with(start), "{why}: `{m}` does not start with `{start}`");
        }
        let long_name = DripInput { name: "x".repeat(81), ..input(serde_json::json!([{"delay_minutes": 0, "title": "a"}])) };
        assert!(matches!(parse(&long_name, &site(), &[], || StepId::new(ulid::Ulid::new())), Err(ApiError::Validation(m)) if m.starts_with("name:")));
    }

    #[test]
    fn kept_ids_stay_and_new_steps_get_one() {
        let kept = [StepId::new(ulid::Ulid::new())];
        let steps = serde_json::json!([{"delay_minutes": 0, "title": "New"}, {"id": kept[0], "delay_minutes": 1440, "title": "Kept"}]);
        let (name, parsed) = parse(&input(steps), &site(), &kept, || StepId::new(ulid::Ulid::new())).unwrap();
        assert_eq!(name, "Welcome");
        assert_ne!(parsed[0].id, kept[0]);
        assert_eq!(parsed[1].id, kept[0]);
        let drip = Drip { id: DripId::new(ulid::Ulid::new()), site_id: site().id, name, status: Status::Active, segment_id: None, steps: parsed.clone(), created_at: String::new(), updated_at: String::new() };
        assert_eq!(drip.next_step(-1, &[]).map(|s| &s.id), Some(&parsed[0].id));
        assert_eq!(drip.next_step(0, &[]).map(|s| &s.id), Some(&parsed[1].id));
        assert_eq!(drip.next_step(-1, &[parsed[0].id.clone()]).map(|s| &s.id), Some(&parsed[1].id), "a step already had is never had again");
        assert!(drip.next_step(1440, &[]).is_none());
    }
}
