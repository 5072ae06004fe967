//! Pacing of a fan-out: when each subscriber's push is released. A subscriber-local delivery time
//! ("09:00 in each subscriber's time zone", the next such time after the start, so within 24 h), the
//! site's quiet hours (held until they end, subscriber-local) and a pushes-per-minute rate. The release
//! minutes are computed from the notification's start time, never from the clock, so a re-run fan-out
//! makes the same deliver jobs with the same ids; jobs not due yet wait in the due index for the tick.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::ab;
use super::lifecycle::{epoch_minute, hold};
use super::notifications::{deliver_jobs, enqueue, Notification, PushJob};
use super::sites::Site;
use super::subscribers::{Subscriber, SHARDS};
use crate::auth::WorkspaceId;
use crate::http::ApiError;
use crate::state::AppState;

/// A wall-clock time of day, `HH:MM`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(try_from = "String", into = "String")]
#[schema(value_type = String, example = "09:00")]
pub struct WallTime(pub NaiveTime);

impl TryFrom<String> for WallTime {
    type Error = String;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        NaiveTime::parse_from_str(&s, "%H:%M").map(Self).map_err(|_| format!("`{}` is not a time of day like 09:00", s.chars().take(10).collect::<String>()))
    }
}

impl From<WallTime> for String {
    fn from(t: WallTime) -> String {
        t.0.format("%H:%M").to_string()
    }
}

/// No delivery from `start` to `end`, subscriber-local (e.g. 22:00–08:00 spans midnight).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct QuietHours {
    pub start: WallTime,
    pub end: WallTime,
}

impl QuietHours {
    pub fn holds(&self, local: NaiveTime) -> bool {
        let (s, e) = (self.start.0, self.end.0);
        if s <= e { s <= local && local < e } else { local >= s || local < e }
    }
}

/// A subscriber's zone from the IANA name the SDK reported; unknown or absent is UTC.
pub fn zone(name: Option<&str>) -> Tz {
    name.and_then(|n| n.parse::<Tz>().ok()).unwrap_or(Tz::UTC)
}

/// The first instant at or after `after` whose wall-clock time in `tz` is `t`. On a spring-forward day a
/// time inside the gap is taken one hour later; on a fall-back day the earlier of the two.
pub fn next_wall_time(after: DateTime<Utc>, tz: Tz, t: NaiveTime) -> DateTime<Utc> {
    let day = after.with_timezone(&tz).date_naive();
    (0..3)
        .filter_map(|d| {
            let naive = (day + Duration::days(d)).and_time(t);
            tz.from_local_datetime(&naive).earliest().or_else(|| tz.from_local_datetime(&(naive + Duration::hours(1))).earliest())
        })
        .map(|at| at.with_timezone(&Utc))
        .find(|at| *at >= after)
        .unwrap_or(after)
}

/// When one subscriber's push may go: at the local time asked for (else at the start), moved past the
/// site's quiet hours.
pub fn release_at(start: DateTime<Utc>, tz: Tz, local_time: Option<WallTime>, quiet: Option<&QuietHours>) -> DateTime<Utc> {
    let at = local_time.map_or(start, |t| next_wall_time(start, tz, t.0));
    match quiet {
        Some(q) if q.holds(at.with_timezone(&tz).time()) => next_wall_time(at, tz, q.end.0),
        _ => at,
    }
}

/// Release minute per subscriber of `shards` shards (one fan-out job's): `release_at`, then spread so that
/// each minute takes at most those shards' share of the rate (the 16 shards are filled evenly by endpoint
/// hash).
pub fn plan(start: DateTime<Utc>, local_time: Option<WallTime>, quiet: Option<&QuietHours>, per_minute: Option<u32>, shards: u8, mut subs: Vec<Subscriber>) -> BTreeMap<i64, Vec<Subscriber>> {
    subs.sort_by(|a, b| a.id.cmp(&b.id));
    let mut groups: BTreeMap<i64, Vec<Subscriber>> = BTreeMap::new();
    for s in subs {
        let at = release_at(start, zone(s.client.timezone.as_deref()), local_time, quiet);
        groups.entry(epoch_minute(at)).or_default().push(s);
    }
    let Some(rate) = per_minute.filter(|r| *r > 0) else { return groups };
    let share = (rate * u32::from(shards.clamp(1, SHARDS))).div_ceil(u32::from(SHARDS)).max(1) as usize;
    let mut spread: BTreeMap<i64, Vec<Subscriber>> = BTreeMap::new();
    for (minute, group) in groups {
        for (i, s) in group.into_iter().enumerate() {
            spread.entry(minute + (i / share) as i64).or_default().push(s);
        }
    }
    spread
}

/// Queues the deliver jobs of one fan-out's selected subscribers (of `shards` shards, job ids starting
/// with `prefix`), one set per A/B variant: those due now
/// at once, the others held in the due index until their minute (the rest of a test-first A/B test until
/// its wait is over). Returns how many jobs were made (held ones included) and the per-variant
/// `targeted` counters, for the fan-out to write with its marker.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn dispatch(state: &AppState, ws: &WorkspaceId, site: &Site, site_version: u64, n: &Notification, prefix: &str, shards: u8, subs: Vec<Subscriber>) -> Result<(usize, Vec<(String, i64)>), ApiError> {
    let start = n.started_at.as_deref().and_then(|s| DateTime::parse_from_rfc3339(s).ok()).map_or_else(|| state.clock.now(), |d| d.with_timezone(&Utc));
    let rate = n.plan.pushes_per_minute.or(site.pushes_per_minute);
    // Minutes as the tick counts them (rounded up): what starts now is due now, not at the next tick.
    let (base, now) = (epoch_minute(start), epoch_minute(state.clock.now()));
    let test = n.plan.test_first.as_ref();
    let decided_at = base + test.map_or(0, |t| i64::from(t.wait_minutes));
    let mut due = Vec::new();
    let mut total = 0;
    let mut targeted: BTreeMap<String, i64> = BTreeMap::new();
    for (minute, group) in plan(start, n.plan.local_time, site.quiet_hours.as_ref(), rate, shards, subs) {
        let mut by_variant: BTreeMap<Option<u8>, Vec<Subscriber>> = BTreeMap::new();
        for s in group {
            by_variant.entry(ab::assign(&n.id, &s.id, &n.plan.variants, test)).or_default().push(s);
        }
        for (variant, group) in by_variant {
            let minute = if variant == Some(ab::WINNER) { minute.max(decided_at) } else { minute };
            if let Some(v) = variant.filter(|v| *v != ab::WINNER) {
                *targeted.entry(ab::counter(v, "targeted")).or_default() += group.len() as i64;
            }
            // Unpaced jobs without variants keep the ids they always had.
            let prefix = match variant {
                None if minute == base => prefix.to_owned(),
                None => format!("{prefix}-{minute}"),
                Some(v) => format!("{prefix}-{minute}-v{v}"),
            };
            let mut jobs = deliver_jobs(ws, &n.site_id, &n.id, &prefix, group);
            for job in &mut jobs {
                if let PushJob::Deliver { variant: v, site_version: sv, .. } = job {
                    *v = variant;
                    *sv = Some(site_version);
                }
            }
            total += jobs.len();
            if minute <= now {
                due.extend(jobs);
                continue;
            }
            for job in &jobs {
                state.table.put(hold(minute, job), crate::ports::Condition::None).await?;
            }
        }
    }
    enqueue(state, due, std::time::Duration::ZERO).await?;
    Ok((total, targeted.into_iter().collect()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        Utc.from_utc_datetime(&NaiveDate::from_ymd_opt(y, mo, d).unwrap().and_hms_opt(h, mi, 0).unwrap())
    }

    fn wall(s: &str) -> WallTime {
        WallTime::try_from(s.to_owned()).unwrap()
    }

    /// 09:00 local in three zones, started on the day New York leaves daylight saving time (2026-11-01):
    /// each bucket is released at its own UTC minute, all within 24 h of the start.
    #[test]
    fn local_time_buckets_across_zones_and_a_dst_change() {
        let start = utc(2026, 11, 1, 5, 0);
        let cases = [
            ("Asia/Tokyo", utc(2026, 11, 2, 0, 0), "09:00 JST already passed on Nov 1 (00:00 UTC), so the next day's"),
            ("Europe/Berlin", utc(2026, 11, 1, 8, 0), "CET since Oct 25: UTC+1"),
            ("America/New_York", utc(2026, 11, 1, 14, 0), "EST from 02:00 that morning: UTC-5, not the UTC-4 of the day before"),
            ("Not/AZone", utc(2026, 11, 1, 9, 0), "an unknown zone is UTC"),
        ];
        for (tz, expected, why) in cases {
            let at = release_at(start, zone(Some(tz)), Some(wall("09:00")), None);
            assert_eq!(at, expected, "{tz}: {why}");
            assert!(at - start < Duration::hours(24), "{tz}: within 24 h of the start");
        }
        // The day before the change New York is still on EDT (UTC-4).
        assert_eq!(release_at(utc(2026, 10, 31, 5, 0), zone(Some("America/New_York")), Some(wall("09:00")), None), utc(2026, 10, 31, 13, 0));
    }

    #[test]
    fn a_time_in_the_spring_forward_gap_is_taken_an_hour_later() {
        // 2026-03-08 02:30 does not exist in New York; 03:30 EDT is 07:30 UTC.
        let at = release_at(utc(2026, 3, 8, 5, 0), zone(Some("America/New_York")), Some(wall("02:30")), None);
        assert_eq!(at, utc(2026, 3, 8, 7, 30));
    }

    #[test]
    fn quiet_hours_hold_until_they_end_locally() {
        let quiet = QuietHours { start: wall("22:00"), end: wall("08:00") };
        let berlin = zone(Some("Europe/Berlin"));
        // 23:30 in Berlin (22:30 UTC): held until 08:00 Berlin (07:00 UTC) the next morning.
        assert_eq!(release_at(utc(2026, 12, 2, 22, 30), berlin, None, Some(&quiet)), utc(2026, 12, 3, 7, 0));
        // 06:00 Berlin: held until 08:00 the same morning.
        assert_eq!(release_at(utc(2026, 12, 3, 5, 0), berlin, None, Some(&quiet)), utc(2026, 12, 3, 7, 0));
        // 12:00 Berlin: sent at once.
        assert_eq!(release_at(utc(2026, 12, 3, 11, 0), berlin, None, Some(&quiet)), utc(2026, 12, 3, 11, 0));
        // 08:00 exactly is no longer quiet; 22:00 exactly is.
        assert!(!quiet.holds(wall("08:00").0) && quiet.holds(wall("22:00").0));
        let day = QuietHours { start: wall("12:00"), end: wall("13:00") };
        assert!(day.holds(wall("12:30").0) && !day.holds(wall("13:00").0) && !day.holds(wall("11:59").0));
    }

    fn sub(i: usize, tz: Option<&str>) -> Subscriber {
        use crate::push::subscribers::ClientInfo;
        use crate::push::types::PushSubscription;
        let subscription = PushSubscription { endpoint: format!("https://fcm.googleapis.com/fcm/send/{i}"), p256dh: "k".into(), auth: "a".into() };
        Subscriber { id: subscription.id(), subscription, client: ClientInfo { timezone: tz.map(str::to_owned), ..Default::default() }, tags: vec![], created_at: String::new(), last_seen: String::new(), country: None, attributes: Default::default(), clicks: 0 }
    }

    #[test]
    fn a_rate_spreads_a_shard_over_minutes_the_same_way_every_time() {
        let start = utc(2026, 12, 2, 10, 0);
        let subs: Vec<Subscriber> = (0..100).map(|i| sub(i, None)).collect();
        // 320 a minute over 16 shards: 20 a minute from this shard.
        let planned = plan(start, None, None, Some(320), 1, subs.clone());
        let base = epoch_minute(start);
        assert_eq!(planned.keys().copied().collect::<Vec<_>>(), (base..base + 5).collect::<Vec<_>>());
        assert!(planned.values().all(|g| g.len() == 20));
        let mut reversed = subs;
        reversed.reverse();
        let again = plan(start, None, None, Some(320), 1, reversed);
        let ids = |p: &BTreeMap<i64, Vec<Subscriber>>| p.iter().map(|(m, g)| (*m, g.iter().map(|s| s.id.clone()).collect::<Vec<_>>())).collect::<Vec<_>>();
        assert_eq!(ids(&planned), ids(&again), "input order does not change the plan (a re-run fan-out makes the same jobs)");
        let unpaced = plan(start, None, None, None, 1, (0..100).map(|i| sub(i, None)).collect());
        assert_eq!(unpaced.len(), 1, "no rate, no local time: one group at the start minute");
        // One fan-out over all 16 shards takes the whole rate: 320 a minute, not a shard's 20.
        let whole = plan(start, None, None, Some(320), SHARDS, (0..1000).map(|i| sub(i, None)).collect());
        assert_eq!(whole.len(), 4, "1000 at 320 a minute: four minutes");
        assert!(whole.values().take(3).all(|g| g.len() == 320));
    }
}
