//! The drips' part of the minute tick: reads the enrolments due up to this minute from the due index and
//! moves each one step on. A step is sent as a normal notification to that one subscriber, under an id
//! derived from (drip, step, subscriber), written in one transaction with the enrolment's move and the
//! step's `sent` counter: a replayed or overlapping tick finds the enrolment moved (or the notification
//! there) and sends nothing twice. Steps are skipped (and counted) for a subscriber who is gone, who is
//! no longer in the drip's segment, or while the drip is paused; a step due in the subscriber's quiet
//! hours waits for their end.

use std::collections::BTreeMap;

use chrono::{DateTime, FixedOffset, Utc};
use futures_util::StreamExt;

use super::enrol::{due_minute, Enrolment, Progress, KIND};
use super::store::{self, drip_stats_key, step_stats_key};
use super::types::{Drip, Status, Step};
use crate::http::ApiError;
use crate::ports::{Condition, Item, TxWrite};
use crate::push::linked::{derived_id, start_linked, Source, Started};
use crate::push::notifications::{Plan, Target};
use crate::push::pacing::{release_at, zone};
use crate::push::sites::Site;
use crate::push::subscribers;
use crate::schedule::due_index;
use crate::state::AppState;

/// Enrolments one tick moves at most; the rest stay due for the next ticks.
const MAX_PER_TICK: usize = 2000;
/// Enrolments moved at once.
const CONCURRENCY: usize = 16;

/// What one drip needs for all its due enrolments, read once per tick.
struct Context {
    site: Option<Site>,
    drip: Option<Drip>,
    /// The segment target with its current rules, when the drip has a segment that still exists.
    segment: Option<Result<Target, ()>>,
}

/// Moves the enrolments due from `minute - look_back` to `minute`. Returns how many moved.
pub async fn run(state: &AppState, minute: i64, look_back: i64) -> Result<usize, ApiError> {
    let items = due_index::due(state, KIND, minute - look_back, minute, MAX_PER_TICK).await?;
    let mut by_drip: BTreeMap<(String, String, String), Vec<Item>> = BTreeMap::new();
    for item in items {
        let e: Enrolment = item.parse()?;
        by_drip.entry((e.workspace.to_string(), e.site.to_string(), e.drip_id.clone())).or_default().push(item);
    }
    let mut moved = 0;
    for items in by_drip.into_values() {
        let first: Enrolment = items[0].parse()?;
        let ctx = context(state, &first).await?;
        let results: Vec<Result<bool, ApiError>> = futures_util::stream::iter(items).map(|i| advance(state, &ctx, i.key, minute)).buffer_unordered(CONCURRENCY).collect().await;
        for r in results {
            match r {
                Ok(true) => moved += 1,
                Ok(false) => {}
                Err(e) => tracing::warn!(error = %e, "drip enrolment not moved; retried next tick"),
            }
        }
    }
    Ok(moved)
}

async fn context(state: &AppState, e: &Enrolment) -> Result<Context, ApiError> {
    let site = match crate::push::sites::by_id(state, &e.workspace, &e.site).await {
        Ok(s) => Some(s),
        Err(ApiError::NotFound(_)) => None,
        Err(e) => return Err(e),
    };
    let drip = store::by_id(state, &e.workspace, &e.site, &e.drip_id).await?;
    let segment = match drip.as_ref().and_then(|d| d.segment_id.clone()) {
        None => None,
        Some(segment_id) => match crate::push::segments::resolve_target(state, &e.workspace, &e.site, Target::Segment { segment_id, rules: None }).await {
            Ok(t) => Some(Ok(t)),
            // A deleted segment matches nobody, as a notification to it would reach nobody.
            Err(ApiError::NotFound(_)) => Some(Err(())),
            Err(e) => return Err(e),
        },
    };
    Ok(Context { site, drip, segment })
}

/// What happens to the step that is due.
enum Outcome {
    Send(Box<crate::push::subscribers::Subscriber>),
    Skip(&'static str),
    /// The subscriber is gone: this step is counted skipped and the enrolment ends.
    Stop,
    /// Not yet: the enrolment waits until this minute (a longer delay after an edit, quiet hours).
    Wait(i64),
}

/// Moves one enrolment, re-read from its record (the index may lag). `Ok(true)` when it moved.
async fn advance(state: &AppState, ctx: &Context, key: crate::ports::Key, minute: i64) -> Result<bool, ApiError> {
    let Some(item) = state.table.get(&key).await? else { return Ok(false) };
    let mut e: Enrolment = item.parse()?;
    if e.next_minute.is_none_or(|m| m > minute) {
        return Ok(false);
    }
    let now = state.clock.now();
    let (Some(site), Some(drip)) = (&ctx.site, &ctx.drip) else {
        // The site or the drip was deleted: the enrolment ends here.
        e.next_minute = None;
        e.progress = Progress::Stopped;
        return commit(state, &item, &e, Vec::new()).await;
    };
    let Some(step) = drip.next_step(e.position, &e.done).cloned() else {
        e.next_minute = None;
        e.progress = Progress::Completed;
        return commit(state, &item, &e, vec![count(&e, "completed")]).await;
    };
    let anchor = e.anchor();
    let outcome = decide(state, ctx, site, drip, &e, &step, minute, now).await?;
    if let Outcome::Wait(at) = outcome {
        e.next_minute = Some(at);
        return commit(state, &item, &e, Vec::new()).await;
    }
    e.position = i64::from(step.delay_minutes);
    e.done.push(step.id.clone());
    let following = drip.next_step(e.position, &e.done);
    e.next_minute = following.map(|s| due_minute(anchor, s.delay_minutes, minute + 1));
    let stats = step_stats_key(&e.workspace, &e.site, e.drip_id.as_str(), step.id.as_str());
    let mut extra = vec![];
    if matches!(outcome, Outcome::Stop) {
        e.next_minute = None;
        e.progress = Progress::Stopped;
        extra.push(count(&e, "stopped"));
    } else if following.is_none() {
        e.progress = Progress::Completed;
        extra.push(count(&e, "completed"));
    }
    match outcome {
        Outcome::Send(s) => {
            let req = step.message.request(Target::Subscriber { id: s.id.clone() }, Plan::default());
            let at = anchor + chrono::Duration::minutes(i64::from(step.delay_minutes));
            let id = derived_id(at, &format!("drip:{}:{}:{}", e.drip_id, step.id, e.subscriber_id));
            let source = Source::DripStep { drip_id: e.drip_id.clone(), step_id: step.id.to_string() };
            extra.push(TxWrite::Add { key: stats, deltas: vec![("sent".into(), 1)] });
            extra.insert(0, TxWrite::Put { item: e.item(item.version + 1, now), condition: Condition::VersionIs(item.version) });
            match start_linked(state, &e.workspace, site, id, req, source, extra).await? {
                Started::Now => Ok(true),
                // Sent by an earlier run whose record write was lost: only move the enrolment on.
                Started::Before => commit(state, &item, &e, Vec::new()).await,
                Started::Conflict => Ok(false),
            }
        }
        Outcome::Skip(counter) => {
            extra.push(TxWrite::Add { key: stats, deltas: vec![(counter.into(), 1)] });
            commit(state, &item, &e, extra).await
        }
        Outcome::Stop => {
            extra.push(TxWrite::Add { key: stats, deltas: vec![("skipped_unsubscribed".into(), 1)] });
            commit(state, &item, &e, extra).await
        }
        Outcome::Wait(_) => unreachable!("handled above"),
    }
}

#[allow(clippy::too_many_arguments)]
async fn decide(state: &AppState, ctx: &Context, site: &Site, drip: &Drip, e: &Enrolment, step: &Step, minute: i64, now: DateTime<Utc>) -> Result<Outcome, ApiError> {
    let due = due_minute(e.anchor(), step.delay_minutes, i64::MIN);
    if due > minute {
        return Ok(Outcome::Wait(due));
    }
    if drip.status == Status::Paused {
        return Ok(Outcome::Skip("skipped_paused"));
    }
    let subscriber = match subscribers::get(state, &e.workspace, &e.site, &e.subscriber_id).await {
        Ok(s) => s,
        Err(ApiError::NotFound(_)) => return Ok(Outcome::Stop),
        Err(err) => return Err(err),
    };
    let at: DateTime<FixedOffset> = now.into();
    match &ctx.segment {
        Some(Ok(target)) if !crate::push::segments::target_matches(target, &subscriber, Some(at)) => return Ok(Outcome::Skip("skipped_segment")),
        Some(Err(())) => return Ok(Outcome::Skip("skipped_segment")),
        _ => {}
    }
    let release = release_at(now, zone(subscriber.client.timezone.as_deref()), None, site.quiet_hours.as_ref());
    let release_minute = crate::push::lifecycle::epoch_minute(release);
    if release > now && release_minute > minute {
        return Ok(Outcome::Wait(release_minute));
    }
    Ok(Outcome::Send(Box::new(subscriber)))
}

fn count(e: &Enrolment, counter: &str) -> TxWrite {
    TxWrite::Add { key: drip_stats_key(&e.workspace, &e.site, &e.drip_id), deltas: vec![(counter.into(), 1)] }
}

/// Writes the enrolment's move (conditional on the version read) with `extra`. `Ok(false)` when another
/// tick moved it first.
async fn commit(state: &AppState, item: &Item, e: &Enrolment, extra: Vec<TxWrite>) -> Result<bool, ApiError> {
    let mut writes = vec![TxWrite::Put { item: e.item(item.version + 1, state.clock.now()), condition: Condition::VersionIs(item.version) }];
    writes.extend(extra);
    match state.table.transact(writes).await {
        Ok(()) => Ok(true),
        Err(crate::ports::TableError::TransactionCancelled { index: 0 }) => Ok(false),
        Err(e) => Err(e.into()),
    }
}
