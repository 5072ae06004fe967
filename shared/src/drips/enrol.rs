//! Enrolments: one record per (drip, subscriber), written once with a not-exists condition when the
//! subscriber is new, so a repeated subscribe never enrols twice. The record is its own due-index entry
//! (`schedule/due_index.rs`): its `gsi1` key names the minute its next step is due, and every move along
//! the drip rewrites it conditional on its version. Records spread over 16 shard partitions like the
//! subscribers themselves.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::store::{self, drip_stats_key};
use super::types::{Status, StepId};
use crate::auth::WorkspaceId;
use crate::http::ApiError;
use crate::ports::{Condition, Item, Key, TxWrite};
use crate::push::lifecycle::epoch_minute;
use crate::push::sites::SiteId;
use crate::push::subscribers::{shard_of, Subscriber};
use crate::schedule::due_index;
use crate::state::AppState;

/// The due-index kind of enrolments.
pub const KIND: &str = "DRIPDUE";
/// A subscribe call this soon after the subscription still enrols: the SDK posts again on a later page
/// view when a first call failed.
const FRESH_HOURS: i64 = 24;
/// Finished enrolments are kept this long, so a subscriber is not enrolled again meanwhile.
const KEEP_DONE_SECS: i64 = 400 * 86_400;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Progress {
    Active,
    /// Every step was sent or skipped.
    Completed,
    /// The subscriber unsubscribed, or the drip was deleted.
    Stopped,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Enrolment {
    pub workspace: WorkspaceId,
    pub site: SiteId,
    pub drip_id: String,
    pub subscriber_id: String,
    /// When the subscriber subscribed: step delays count from here.
    pub anchor: String,
    /// The delay of the last step handled (-1 before the first).
    pub position: i64,
    /// The steps handled (sent or skipped), so an edited delay never brings one back.
    pub done: Vec<StepId>,
    /// The minute the next step is due, while there is one.
    pub next_minute: Option<i64>,
    pub progress: Progress,
}

impl Enrolment {
    pub fn anchor(&self) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(&self.anchor).map_or_else(|_| Utc::now(), |d| d.with_timezone(&Utc))
    }

    pub fn key(&self) -> Key {
        enrolment_key(&self.workspace, &self.site, &self.drip_id, &self.subscriber_id)
    }

    /// The record as stored: indexed under its next minute while it has one; kept a while once done.
    pub fn item(&self, version: u64, now: DateTime<Utc>) -> Item {
        let mut item = Item::of(self.key(), self).with_version(version);
        match self.next_minute {
            Some(m) => {
                let (pk, sk) = due_index::key(KIND, m, &format!("{}#{}", self.drip_id, self.subscriber_id));
                item = item.with_gsi1(pk, sk);
            }
            None => item = item.with_expiry(now.timestamp() + KEEP_DONE_SECS),
        }
        item
    }
}

pub fn enrolment_key(ws: &WorkspaceId, site: &SiteId, drip: &str, subscriber: &str) -> Key {
    Key::new(format!("WS#{ws}#SITE#{site}#DRIPENR#{:02}", shard_of(subscriber)), format!("{drip}#{subscriber}"))
}

/// Minute a step `delay` minutes after `anchor` is due (never before `not_before`).
pub fn due_minute(anchor: DateTime<Utc>, delay: u32, not_before: i64) -> i64 {
    epoch_minute(anchor + Duration::minutes(i64::from(delay))).max(not_before)
}

/// Enrols a subscriber that subscribed just now in every active drip of the site created before the
/// subscription. A refresh of an older subscription enrols nobody (it is not a new subscriber); an
/// existing enrolment is left as it is. Returns how many enrolments were made.
pub async fn on_subscribe(state: &AppState, ws: &WorkspaceId, site: &SiteId, subscriber: &Subscriber, is_new: bool) -> Result<usize, ApiError> {
    let now = state.clock.now();
    let anchor = DateTime::parse_from_rfc3339(&subscriber.created_at).map_or(now, |d| d.with_timezone(&Utc));
    if !is_new && now - anchor > Duration::hours(FRESH_HOURS) {
        return Ok(0);
    }
    let mut made = 0;
    let before = |d: &super::types::Drip| DateTime::parse_from_rfc3339(&d.created_at).is_ok_and(|c| c <= anchor);
    for drip in store::active_and_paused(state, ws, site).await?.into_iter().filter(|d| d.status == Status::Active && before(d)) {
        let Some(first) = drip.steps.first() else { continue };
        let enrolment = Enrolment {
            workspace: ws.clone(),
            site: site.clone(),
            drip_id: drip.id.to_string(),
            subscriber_id: subscriber.id.clone(),
            anchor: anchor.to_rfc3339(),
            position: -1,
            done: Vec::new(),
            next_minute: Some(due_minute(anchor, first.delay_minutes, epoch_minute(now))),
            progress: Progress::Active,
        };
        let writes = vec![
            TxWrite::Put { item: enrolment.item(0, now), condition: Condition::NotExists },
            TxWrite::Add { key: drip_stats_key(ws, site, drip.id.as_str()), deltas: vec![("enrolled".into(), 1)] },
        ];
        match state.table.transact(writes).await {
            Ok(()) => made += 1,
            Err(crate::ports::TableError::TransactionCancelled { index: 0 }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(made)
}
