//! Recurring schedule types and their parser: a name, a rule, a time of day in a zone (the site's, or each
//! subscriber's), start and optional end dates, a target and the notification each run sends.

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::rule::{Rule, Run, Timing, Zone};
use crate::auth::types::prefixed_id;
use crate::auth::WorkspaceId;
use crate::http::ApiError;
use crate::push::linked::Message;
use crate::push::notifications::{Plan, Target};
use crate::push::pacing::WallTime;
use crate::push::sites::{Site, SiteId};

prefixed_id!(ScheduleId, "rec_", "recurring schedule");

#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    #[default]
    Active,
    Paused,
    /// Past its end date: no run is ahead.
    Ended,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct Schedule {
    pub id: ScheduleId,
    #[schema(value_type = String)]
    pub workspace: WorkspaceId,
    pub site_id: SiteId,
    pub name: String,
    pub status: Status,
    pub rule: Rule,
    /// `HH:MM`, on the clock of `timezone` or, with `subscriber_local`, of each subscriber.
    pub time: WallTime,
    /// IANA zone of the time of day (the site's), e.g. `Europe/Berlin`.
    pub timezone: String,
    /// Each subscriber gets it at `time` in their own zone (subscribers without one: UTC).
    pub subscriber_local: bool,
    #[schema(value_type = String)]
    pub start_date: NaiveDate,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub end_date: Option<NaiveDate>,
    pub target: Target,
    pub notification: Message,
    /// The run waiting for the tick (when active), or the one that would come (when paused).
    pub next_run: Option<Run>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub last_run_date: Option<NaiveDate>,
    /// Why the last run could not be sent (its segment was deleted, say), when it could not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

impl Schedule {
    pub fn timing(&self) -> Timing {
        let zone = if self.subscriber_local { Zone::Subscriber } else { Zone::Fixed(self.timezone.parse().unwrap_or(Tz::UTC)) };
        Timing { rule: self.rule.clone(), time: self.time.0, zone, start: self.start_date, end: self.end_date }
    }

    /// What each run asks the notification path for: the target, and subscriber-local delivery.
    pub fn plan(&self) -> Plan {
        Plan { local_time: self.subscriber_local.then_some(self.time), ..Plan::default() }
    }
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct ScheduleInput {
    pub name: String,
    /// `active` (the default) or `paused`; on update, absent keeps the status.
    pub status: Option<Status>,
    pub rule: Rule,
    pub time: WallTime,
    /// IANA zone of the time of day (default UTC); ignored with `subscriber_local`.
    pub timezone: Option<String>,
    #[serde(default)]
    pub subscriber_local: bool,
    /// First date that may run (YYYY-MM-DD, default today in the zone).
    pub start_date: Option<String>,
    /// Last date that may run, inclusive.
    pub end_date: Option<String>,
    /// `all`, `tags`, `segment` or `rules` (as for notifications).
    pub target: Target,
    pub notification: Message,
    /// On update: the version last read.
    pub version: Option<u64>,
}

/// The parsed fields of an input (all but the segment's existence, which needs the table).
pub struct Parsed {
    pub name: String,
    pub rule: Rule,
    pub time: WallTime,
    pub timezone: String,
    pub subscriber_local: bool,
    pub start_date: NaiveDate,
    pub end_date: Option<NaiveDate>,
}

fn date(raw: &str, field: &str) -> Result<NaiveDate, ApiError> {
    NaiveDate::parse_from_str(raw.trim(), "%Y-%m-%d").map_err(|_| ApiError::Validation(format!("{field}: must be a date like 2026-12-24")))
}

pub fn parse(input: &ScheduleInput, site: &Site, now: DateTime<Utc>) -> Result<Parsed, ApiError> {
    let invalid = |m: String| ApiError::Validation(m);
    let name = input.name.trim();
    if name.is_empty() || name.chars().count() > 80 {
        return Err(invalid("name: must be 1–80 characters".into()));
    }
    input.rule.check().map_err(invalid)?;
    let tz_name = input.timezone.as_deref().map(str::trim).filter(|t| !t.is_empty()).unwrap_or("UTC");
    let tz: Tz = tz_name.parse().map_err(|_| invalid(format!("timezone: `{}` is not an IANA time zone such as Europe/Berlin", tz_name.chars().take(40).collect::<String>())))?;
    let today = now.with_timezone(&tz).date_naive();
    let start_date = input.start_date.as_deref().filter(|s| !s.trim().is_empty()).map(|s| date(s, "start_date")).transpose()?.unwrap_or(today);
    let end_date = input.end_date.as_deref().filter(|s| !s.trim().is_empty()).map(|s| date(s, "end_date")).transpose()?;
    if end_date.is_some_and(|e| e < start_date) {
        return Err(invalid("end_date: is before start_date".into()));
    }
    if matches!(input.target, Target::Subscriber { .. } | Target::ExternalId { .. }) {
        return Err(invalid("target.type: a recurring schedule goes to `all`, `tags`, a `segment` or `rules`".into()));
    }
    input.notification.check(site, input.target.clone(), Plan::default(), "notification.")?;
    Ok(Parsed { name: name.to_owned(), rule: input.rule.clone(), time: input.time, timezone: tz.name().to_owned(), subscriber_local: input.subscriber_local, start_date, end_date })
}
