//! The minute tick's cursor: catch-up after downtime, and overlapping ticks never running a minute twice.

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::{Duration, TimeZone, Utc};
use webtrigger::ports::FixedClock;
use webtrigger::schedule::{tick, MAX_CATCH_UP_MINUTES};
use webtrigger_tests::embedded_state_with_clock;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn overlapping_ticks_split_the_minutes_without_repeats() {
    let start = Utc.with_ymd_and_hms(2026, 11, 22, 9, 0, 30).unwrap();
    let clock = Arc::new(FixedClock::new(start));
    let (state, _d) = embedded_state_with_clock(clock.clone()).await;
    assert_eq!(tick(&state, start).await.unwrap().minutes_run.len(), 1);

    let later = start + Duration::minutes(20);
    clock.set(later);
    let runs = futures_util::future::join_all((0..4).map(|_| tick(&state, later))).await;
    let mut all = Vec::new();
    for r in runs {
        all.extend(r.unwrap().minutes_run);
    }
    let unique: BTreeSet<i64> = all.iter().copied().collect();
    assert_eq!(all.len(), unique.len(), "a minute ran twice: {all:?}");
    let first = start.timestamp() / 60 + 1;
    assert_eq!(unique, (first..first + 20).collect(), "every missed minute ran exactly once");
}

#[tokio::test]
async fn long_downtime_is_capped_to_the_catch_up_window() {
    let start = Utc.with_ymd_and_hms(2026, 11, 22, 9, 0, 0).unwrap();
    let clock = Arc::new(FixedClock::new(start));
    let (state, _d) = embedded_state_with_clock(clock.clone()).await;
    tick(&state, start).await.unwrap();
    let much_later = start + Duration::hours(5);
    let report = tick(&state, much_later).await.unwrap();
    assert_eq!(report.minutes_run.len() as i64, MAX_CATCH_UP_MINUTES);
    assert_eq!(report.minutes_skipped, 5 * 60 - MAX_CATCH_UP_MINUTES);
    assert_eq!(*report.minutes_run.last().unwrap(), much_later.timestamp() / 60);
}
