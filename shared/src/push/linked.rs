//! Notifications the platform creates on its own schedule — a drip step for one subscriber, a run of a
//! recurring schedule — through the same validation, size check and start as `POST …/notifications`, so
//! stats, pacing, quiet hours and the frequency cap apply to them as to any other. Each has an id derived
//! from what it is (its step and subscriber, its schedule and date): a replayed tick finds the one it made
//! and sends nothing. Each is linked to its source, whose stats record adds up the counters of every
//! notification from it (per drip step, per schedule).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::notifications::{check_size, notification_key, start, validate, Content, Lifecycle, NewNotification, Notification, NotificationId, Plan, Target};
use super::sites::{Site, SiteId};
use super::types::Urgency;
use crate::auth::WorkspaceId;
use crate::http::ApiError;
use crate::ports::{Key, TxWrite};
use crate::state::AppState;

/// What made a notification, when the platform made it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Source {
    /// One step of a welcome drip, for one subscriber.
    DripStep { drip_id: String, step_id: String },
    /// The run of a recurring schedule for one (local) date.
    Recurring { schedule_id: String, date: String },
}

impl Source {
    /// The record summing the counters of every notification from the same drip step or schedule.
    pub fn stats_key(&self, ws: &WorkspaceId, site: &SiteId) -> Key {
        match self {
            Self::DripStep { drip_id, step_id } => crate::drips::store::step_stats_key(ws, site, drip_id, step_id),
            Self::Recurring { schedule_id, .. } => crate::recurring::store::stats_key(ws, site, schedule_id),
        }
    }

    fn actor(&self) -> String {
        match self {
            Self::DripStep { drip_id, .. } => format!("drip:{drip_id}"),
            Self::Recurring { schedule_id, .. } => format!("recurring:{schedule_id}"),
        }
    }
}

/// A notification id that `seed` always yields: time-ordered by `at`, the rest from the seed's hash.
pub fn derived_id(at: DateTime<Utc>, seed: &str) -> NotificationId {
    let hash = crate::auth::tokens::token_hash(seed);
    let random = u128::from_str_radix(&hash[..20], 16).expect("hex digest");
    NotificationId::new(ulid::Ulid::from_parts(at.timestamp_millis().max(0) as u64, random))
}

/// The content and delivery options a drip step or a schedule stores (what a notification request
/// carries besides its target and plan).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct Message {
    #[serde(flatten)]
    pub content: Content,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_seconds: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub urgency: Option<Urgency>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
}

impl Message {
    pub fn request(&self, target: Target, plan: Plan) -> NewNotification {
        NewNotification { content: self.content.clone(), target, ttl_seconds: self.ttl_seconds, urgency: self.urgency, topic: self.topic.clone(), draft: false, plan }
    }

    /// The checks `POST …/notifications` makes (fields, links, the encrypted size for this site), with
    /// `field` before each message so a 422 names where in the caller's body the fault is.
    pub fn check(&self, site: &Site, target: Target, plan: Plan, field: &str) -> Result<(), ApiError> {
        let named = |e: ApiError| match e {
            ApiError::Validation(m) => ApiError::Validation(format!("{field}{m}")),
            e => e,
        };
        let req = self.request(target, plan);
        validate(&req).map_err(named)?;
        let n = notification(site, NotificationId::new(ulid::Ulid::nil()), req, None, Utc::now());
        check_size(site, &n).map_err(named)
    }
}

fn notification(site: &Site, id: NotificationId, req: NewNotification, source: Option<Source>, now: DateTime<Utc>) -> Notification {
    Notification {
        id,
        site_id: site.id.clone(),
        content: req.content,
        target: req.target,
        ttl_seconds: req.ttl_seconds.unwrap_or(site.ttl_seconds),
        urgency: req.urgency.unwrap_or(site.urgency),
        topic: req.topic,
        created_at: now.to_rfc3339(),
        created_by: source.as_ref().map_or_else(|| "system".to_owned(), Source::actor),
        lifecycle: Lifecycle::Sending,
        plan: req.plan,
        started_at: None,
        cancel_requested: 0,
        variant: None,
        source,
    }
}

/// How a linked start ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Started {
    /// Created and queued now, with the extra writes.
    Now,
    /// A notification with this id exists: made by an earlier run of the same tick work.
    Before,
    /// One of the extra writes' conditions failed (its record changed meanwhile): nothing was written.
    Conflict,
}

/// Creates notification `id` from `req` and starts it, writing `extra` in the same transaction (the
/// source's progress, its counters), so the notification exists exactly when its source moved on.
pub(crate) async fn start_linked(state: &AppState, ws: &WorkspaceId, site: &Site, id: NotificationId, req: NewNotification, source: Source, extra: Vec<TxWrite>) -> Result<Started, ApiError> {
    if state.table.get(&notification_key(ws, &site.id, &id)).await?.is_some() {
        return Ok(Started::Before);
    }
    validate(&req)?;
    let req = NewNotification { target: super::segments::resolve_target(state, ws, &site.id, req.target).await?, ..req };
    let n = notification(site, id.clone(), req, Some(source), state.clock.now());
    check_size(site, &n)?;
    match start(state, ws, n, None, extra).await {
        Ok(_) => Ok(Started::Now),
        Err(ApiError::Conflict(_)) if state.table.get(&notification_key(ws, &site.id, &id)).await?.is_some() => Ok(Started::Before),
        Err(ApiError::Conflict(_)) => Ok(Started::Conflict),
        Err(e) => Err(e),
    }
}
