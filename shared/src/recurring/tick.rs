//! The recurring schedules' part of the minute tick: each active schedule whose next run has started is
//! run once. The run is a normal notification to the schedule's target, under an id derived from the
//! schedule and the run's date, written in one transaction with the schedule's move to its next run and
//! the run's record: an overlapping or replayed tick finds the schedule moved (or the notification there)
//! and sends nothing twice.

use chrono::{NaiveTime, TimeZone, Utc};

use super::store::{self, RunRecord, KIND};
use super::types::{Schedule, Status};
use crate::http::ApiError;
use crate::ports::{Condition, Item, TxWrite};
use crate::push::lifecycle::epoch_minute;
use crate::push::linked::{derived_id, start_linked, Source, Started};
use crate::schedule::due_index;
use crate::state::AppState;

const MAX_PER_TICK: usize = 500;

/// Runs the schedules due from `minute - look_back` to `minute`. Returns how many ran.
pub async fn run(state: &AppState, minute: i64, look_back: i64) -> Result<usize, ApiError> {
    let mut ran = 0;
    for entry in due_index::due(state, KIND, minute - look_back, minute, MAX_PER_TICK).await? {
        match run_one(state, &entry, minute).await {
            Ok(true) => ran += 1,
            Ok(false) => {}
            Err(e) => tracing::warn!(error = %e, schedule = %entry.key.sk, "recurring run not made; retried next tick"),
        }
    }
    Ok(ran)
}

async fn run_one(state: &AppState, entry: &Item, minute: i64) -> Result<bool, ApiError> {
    // The index may lag the record: act on the record.
    let Some(item) = state.table.get(&entry.key).await? else { return Ok(false) };
    let mut s: Schedule = item.parse()?;
    let Some(run) = s.next_run.clone().filter(|r| s.status == Status::Active && epoch_minute(r.starts_at) <= minute) else { return Ok(false) };
    let now = state.clock.now();
    let site = match crate::push::sites::by_id(state, &s.workspace, &s.site_id).await {
        Ok(site) => site,
        Err(ApiError::NotFound(_)) => {
            s.status = Status::Ended;
            s.last_error = Some("the site was deleted".into());
            return commit(state, &item, &s, Vec::new()).await;
        }
        Err(e) => return Err(e),
    };
    let date = run.date.to_string();
    s.last_run_date = Some(run.date);
    s.last_error = None;
    s.next_run = s.timing().next_runs(now, Some(run.date), 1).into_iter().next();
    if s.next_run.is_none() {
        s.status = Status::Ended;
    }
    let id = derived_id(Utc.from_utc_datetime(&run.date.and_time(NaiveTime::MIN)), &format!("recurring:{}:{date}", s.id));
    let record = RunRecord { date: date.clone(), notification_id: id.clone(), started_at: now.to_rfc3339() };
    let extra = vec![
        TxWrite::Put { item: store::item(&s, item.version + 1), condition: Condition::VersionIs(item.version) },
        TxWrite::Put { item: Item::of(store::run_key(&s.workspace, &s.site_id, s.id.as_str(), &date), &record), condition: Condition::NotExists },
        TxWrite::Add { key: store::stats_key(&s.workspace, &s.site_id, s.id.as_str()), deltas: vec![("runs".into(), 1)] },
    ];
    let source = Source::Recurring { schedule_id: s.id.to_string(), date };
    match start_linked(state, &s.workspace, &site, id, s.notification.request(s.target.clone(), s.plan()), source, extra).await {
        Ok(Started::Now) => Ok(true),
        // Made by an earlier run whose schedule write was lost: only move the schedule on.
        Ok(Started::Before) => commit(state, &item, &s, Vec::new()).await,
        Ok(Started::Conflict) => Ok(false),
        // The run cannot be made (its segment was deleted, say): recorded on the schedule, which goes on.
        Err(ApiError::NotFound(m) | ApiError::Validation(m)) => {
            s.last_error = Some(m);
            commit(state, &item, &s, Vec::new()).await
        }
        Err(e) => Err(e),
    }
}

async fn commit(state: &AppState, item: &Item, s: &Schedule, extra: Vec<TxWrite>) -> Result<bool, ApiError> {
    let mut writes = vec![TxWrite::Put { item: store::item(s, item.version + 1), condition: Condition::VersionIs(item.version) }];
    writes.extend(extra);
    match state.table.transact(writes).await {
        Ok(()) => Ok(false),
        Err(crate::ports::TableError::TransactionCancelled { index: 0 }) => Ok(false),
        Err(e) => Err(e.into()),
    }
}
