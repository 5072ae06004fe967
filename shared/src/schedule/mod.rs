//! The minute tick (EventBridge rule in AWS, a timer locally). A cursor item records the last minute
//! handled; each tick claims the minutes since then one by one (conditional on the cursor's version, so
//! two overlapping ticks never run a minute twice) and runs the minute jobs for each.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub mod due_index;

use crate::health::Heartbeat;
use crate::ports::{Condition, Item, Key, OutgoingMessage, TableError};
use crate::state::AppState;

/// At most this many missed minutes are caught up; older ones are skipped (and counted).
pub const MAX_CATCH_UP_MINUTES: i64 = 60;

pub fn cursor_key() -> Key {
    Key::new("SYS#schedule", "CURSOR")
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TickReport {
    /// Epoch minutes run by this tick, oldest first.
    pub minutes_run: Vec<i64>,
    /// Missed minutes beyond the catch-up window that were not run.
    pub minutes_skipped: i64,
    /// True when another tick advanced the cursor first and this one stopped.
    pub lost_race: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum TickError {
    #[error("schedule cursor: {0}")]
    Cursor(#[from] TableError),
}

#[derive(Serialize, Deserialize)]
struct CursorAttrs {
    minute: i64,
}

/// The minutes a tick at `now` must run given the last minute handled: (minutes, skipped count).
pub fn due_minutes(last_done: Option<i64>, now: DateTime<Utc>) -> (Vec<i64>, i64) {
    let current = now.timestamp().div_euclid(60);
    let Some(last) = last_done else { return (vec![current], 0) };
    if last >= current {
        return (Vec::new(), 0);
    }
    let first = (last + 1).max(current - MAX_CATCH_UP_MINUTES + 1);
    ((first..=current).collect(), first - (last + 1))
}

/// Runs the tick for an EventBridge scheduled event (its `time`, else now).
pub async fn handle_scheduled_event(state: &AppState, event: aws_lambda_events::event::eventbridge::EventBridgeEvent) -> Result<TickReport, TickError> {
    tick(state, event.time.unwrap_or_else(|| state.clock.now())).await
}

pub async fn tick(state: &AppState, now: DateTime<Utc>) -> Result<TickReport, TickError> {
    let stored = state.table.get(&cursor_key()).await?;
    let (mut version, last) = match &stored {
        Some(item) => (item.version, Some(item.parse::<CursorAttrs>()?.minute)),
        None => (0, None),
    };
    let (due, minutes_skipped) = due_minutes(last, now);
    let mut report = TickReport { minutes_run: Vec::new(), minutes_skipped, lost_race: false };
    let newest = due.last().copied();
    for minute in due {
        let claim = Item::new(cursor_key()).with_attr("minute", minute).with_version(version + 1);
        let condition = if version == 0 { Condition::NotExists } else { Condition::VersionIs(version) };
        match state.table.put(claim, condition).await {
            Ok(()) => version += 1,
            Err(TableError::ConditionFailed) => {
                report.lost_race = true;
                break;
            }
            Err(e) => return Err(e.into()),
        }
        run_minute(state, minute, Some(minute) != newest).await;
        report.minutes_run.push(minute);
    }
    if let (Some(first), true) = (report.minutes_run.first(), report.minutes_skipped > 0) {
        // Scheduled sends and held pushes of the skipped minutes still go out, late.
        if let Err(e) = crate::push::lifecycle::run_skipped(state, first - report.minutes_skipped, first - 1).await {
            tracing::warn!(error = %e, "due push entries of skipped minutes not run");
        }
    }
    if let (Some(last), true) = (report.minutes_run.last(), report.minutes_skipped > 0) {
        // Drip steps and recurring runs of the skipped minutes (up to a day back) still go out, late.
        run_programs(state, *last, (report.minutes_skipped + MAX_CATCH_UP_MINUTES).min(1440)).await;
    }
    if report.minutes_skipped > 0 {
        tracing::warn!(skipped = report.minutes_skipped, "tick fell behind; skipped minutes beyond the catch-up window");
    }
    Ok(report)
}

/// The jobs of one minute. A failing job is logged and does not stop the others or later minutes.
async fn run_minute(state: &AppState, minute: i64, catching_up: bool) {
    if !catching_up {
        let hb = Heartbeat { minute, sent_at_ms: state.clock.now().timestamp_millis(), processed_at_ms: 0 };
        let body = serde_json::to_string(&hb).expect("heartbeat serialises");
        if let Err(e) = state.queue.send(&crate::queues::echo().name, vec![OutgoingMessage::new(body)]).await {
            tracing::warn!(error = %e, minute, "heartbeat not sent");
        }
        match crate::push::notifications::sweep_outbox(state).await {
            Ok(n) if n > 0 => tracing::warn!(requeued = n, "push outbox swept"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "push outbox sweep failed"),
        }
        match crate::whatsapp::messages::sweep_outbox(state).await {
            Ok(n) if n > 0 => tracing::warn!(requeued = n, "WhatsApp outbox swept"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "WhatsApp outbox sweep failed"),
        }
        match crate::triggers::interrupted::sweep(state).await {
            Ok(n) if n > 0 => tracing::warn!(ended = n, "trigger invocations cut off between their actions ended as failed"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "interrupted trigger invocation sweep failed"),
        }
        match crate::flows::runtime::sweep_due(state).await {
            Ok(n) if n > 0 => tracing::info!(fired = n, "bot flow waits resumed"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "bot flow wait sweep failed"),
        }
        match crate::events_out::sweep_due(state).await {
            Ok(n) if n > 0 => tracing::info!(queued = n, "event webhook retries due"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "event webhook retry sweep failed"),
        }
        match crate::broadcasts::store::start_due(state).await {
            Ok(n) if n > 0 => tracing::info!(started = n, "scheduled broadcasts started"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "scheduled broadcast sweep failed"),
        }
        match crate::broadcasts::fanout::release_parked(state).await {
            Ok(n) if n > 0 => tracing::info!(queued = n, "local-time broadcast messages queued"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "parked broadcast message sweep failed"),
        }
        run_programs(state, minute, due_index::LOOK_BACK_MINUTES).await;
        // Feeds due by the end of this minute (the minute's own time, so a replayed or test tick is exact).
        let minute_end = DateTime::from_timestamp_millis(minute * 60_000 + 59_999).unwrap_or_else(|| state.clock.now());
        match crate::feeds::poller::claim_due(state, minute_end).await {
            Ok(n) if n > 0 => tracing::info!(queued = n, "feed polls queued"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "feed due sweep failed"),
        }
        #[cfg(feature = "embedded")]
        if let Some(sqlite) = &state.sqlite {
            match sqlite.purge_expired().await {
                Ok(n) if n > 0 => tracing::info!(purged = n, "expired items purged"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "TTL purge failed"),
            }
        }
    }
    match crate::push::lifecycle::run_due(state, minute).await {
        Ok(n) if n > 0 => tracing::info!(due = n, minute, "scheduled pushes started or released"),
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, minute, "scheduled push sweep failed"),
    }
    tracing::info!(minute, catching_up, "minute handled");
}

/// Welcome drip steps and recurring runs due up to `minute`, read from their due index `look_back`
/// minutes back (entries stay until handled, so a failed minute is read again by the next tick).
async fn run_programs(state: &AppState, minute: i64, look_back: i64) {
    match crate::drips::tick::run(state, minute, look_back).await {
        Ok(n) if n > 0 => tracing::info!(moved = n, minute, "drip enrolments moved"),
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, minute, "drip sweep failed"),
    }
    match crate::recurring::tick::run(state, minute, look_back).await {
        Ok(n) if n > 0 => tracing::info!(runs = n, minute, "recurring runs started"),
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, minute, "recurring sweep failed"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at_minute(m: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(m * 60 + 17, 0).unwrap()
    }

    #[test]
    fn first_tick_runs_only_the_current_minute() {
        assert_eq!(due_minutes(None, at_minute(1000)), (vec![1000], 0));
    }

    #[test]
    fn catches_up_missed_minutes_in_order() {
        assert_eq!(due_minutes(Some(995), at_minute(1000)), (vec![996, 997, 998, 999, 1000], 0));
        assert_eq!(due_minutes(Some(1000), at_minute(1000)), (vec![], 0));
    }

    #[test]
    fn skips_beyond_the_window() {
        let (due, skipped) = due_minutes(Some(0), at_minute(1000));
        assert_eq!(due.len() as i64, MAX_CATCH_UP_MINUTES);
        assert_eq!(due.first(), Some(&(1000 - MAX_CATCH_UP_MINUTES + 1)));
        assert_eq!(skipped, 1000 - MAX_CATCH_UP_MINUTES);
    }
}
