//! When a recurring schedule runs: a rule (daily, weekly on some days, monthly on a day of the month)
//! picks local dates between a start and an optional end date; each date's run starts at the time of
//! day in the schedule's zone, or — for "at 09:00 in each subscriber's time zone" — early enough that
//! the fan-out's subscriber-local delivery reaches every zone from UTC-10 to UTC+13 on that same date.
//! Pure functions, so every DST case is a unit test.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, TimeZone, Utc, Weekday};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Day {
    Mon,
    Tue,
    Wed,
    Thu,
    Fri,
    Sat,
    Sun,
}

impl Day {
    fn weekday(self) -> Weekday {
        match self {
            Self::Mon => Weekday::Mon,
            Self::Tue => Weekday::Tue,
            Self::Wed => Weekday::Wed,
            Self::Thu => Weekday::Thu,
            Self::Fri => Weekday::Fri,
            Self::Sat => Weekday::Sat,
            Self::Sun => Weekday::Sun,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Rule {
    Daily,
    Weekly {
        days: Vec<Day>,
    },
    /// On this day of each month; months without it (31 in April) run on their last day.
    Monthly {
        day: u32,
    },
}

impl Rule {
    /// 422 text naming the field, for a rule that can never run.
    pub fn check(&self) -> Result<(), String> {
        match self {
            Self::Weekly { days } if days.is_empty() => Err("rule.days: at least one day of the week".into()),
            Self::Monthly { day } if !(1..=31).contains(day) => Err("rule.day: a day of the month, 1–31".into()),
            _ => Ok(()),
        }
    }

    pub fn occurs_on(&self, d: NaiveDate) -> bool {
        match self {
            Self::Daily => true,
            Self::Weekly { days } => days.iter().any(|w| w.weekday() == d.weekday()),
            Self::Monthly { day } => d.day() == (*day).min(days_in_month(d)),
        }
    }
}

fn days_in_month(d: NaiveDate) -> u32 {
    let first_next = if d.month() == 12 { NaiveDate::from_ymd_opt(d.year() + 1, 1, 1) } else { NaiveDate::from_ymd_opt(d.year(), d.month() + 1, 1) };
    first_next.map_or(31, |n| (n - Duration::days(1)).day())
}

/// Whose clock the time of day is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Zone {
    /// One zone for the whole run (the site's).
    Fixed(Tz),
    /// Each subscriber's own.
    Subscriber,
}

/// A subscriber-local run starts this long before the time of day in UTC: the fan-out then gives each
/// subscriber the next such local time, which falls on the run's date for offsets from -10 h to +13 h
/// (Hawaii to New Zealand's summer). Further zones (Kiribati, American Samoa) get it a day off.
pub const SUBSCRIBER_LEAD_HOURS: i64 = 13;
/// How far ahead runs are looked for (a monthly rule on the 31st runs every month, so this is plenty).
const HORIZON_DAYS: i64 = 3660;

/// A schedule's timing, parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct Timing {
    pub rule: Rule,
    pub time: NaiveTime,
    pub zone: Zone,
    pub start: NaiveDate,
    pub end: Option<NaiveDate>,
}

/// One run: its local date and the instant it starts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Run {
    /// The local date (YYYY-MM-DD).
    #[schema(value_type = String)]
    pub date: NaiveDate,
    /// When the run starts (RFC 3339, UTC). Subscriber-local runs start 13 h before the time in UTC and
    /// reach each subscriber at the time on their own clock.
    #[schema(value_type = String)]
    pub starts_at: DateTime<Utc>,
}

impl Timing {
    /// When the run of date `d` starts. A time skipped by a spring-forward change is taken an hour
    /// later; a time that occurs twice (fall back) is taken the first time.
    pub fn starts_at(&self, d: NaiveDate) -> DateTime<Utc> {
        let naive = d.and_time(self.time);
        match self.zone {
            Zone::Subscriber => Utc.from_utc_datetime(&naive) - Duration::hours(SUBSCRIBER_LEAD_HOURS),
            Zone::Fixed(tz) => tz
                .from_local_datetime(&naive)
                .earliest()
                .or_else(|| tz.from_local_datetime(&(naive + Duration::hours(1))).earliest())
                .map_or_else(|| Utc.from_utc_datetime(&naive), |t| t.with_timezone(&Utc)),
        }
    }

    /// Up to `n` runs on dates after `last` (the latest date already run) starting at or after `after`.
    pub fn next_runs(&self, after: DateTime<Utc>, last: Option<NaiveDate>, n: usize) -> Vec<Run> {
        let around = after.date_naive() - Duration::days(2);
        let mut d = [Some(self.start), last.and_then(|l| l.succ_opt()), Some(around)].into_iter().flatten().max().unwrap_or(self.start);
        let stop = d + Duration::days(HORIZON_DAYS);
        let mut out = Vec::new();
        while out.len() < n && d <= stop && self.end.is_none_or(|e| d <= e) {
            if self.rule.occurs_on(d) {
                let starts_at = self.starts_at(d);
                if starts_at >= after {
                    out.push(Run { date: d, starts_at });
                }
            }
            let Some(next) = d.succ_opt() else { break };
            d = next;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn timing(rule: Rule, time: &str, zone: &str) -> Timing {
        let zone = if zone == "subscriber" { Zone::Subscriber } else { Zone::Fixed(zone.parse().unwrap()) };
        Timing { rule, time: NaiveTime::parse_from_str(time, "%H:%M").unwrap(), zone, start: NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(), end: None }
    }

    fn starts(t: &Timing, after: &str, n: usize) -> Vec<String> {
        t.next_runs(utc(after), None, n).iter().map(|r| r.starts_at.format("%Y-%m-%dT%H:%MZ").to_string()).collect()
    }

    /// Each rule kind around the spring-forward and fall-back days of Europe/Berlin (last Sundays of
    /// March and October 2026) and America/New_York (March 8 and November 1, 2026). Each case says why.
    #[test]
    fn next_runs_across_dst_changes() {
        let weekly = |days: &[Day]| Rule::Weekly { days: days.to_vec() };
        let cases: [(Timing, &str, &[&str], &str); 9] = [
            (timing(Rule::Daily, "09:00", "Europe/Berlin"), "2026-03-27T12:00:00Z", &["2026-03-28T08:00Z", "2026-03-29T07:00Z", "2026-03-30T07:00Z"], "daily: CET (UTC+1) until March 29, CEST (UTC+2) from that day"),
            (timing(Rule::Daily, "09:00", "Europe/Berlin"), "2026-10-24T12:00:00Z", &["2026-10-25T08:00Z", "2026-10-26T08:00Z"], "daily: back to CET on October 25, after today's 07:00Z run"),
            (timing(weekly(&[Day::Sun]), "02:30", "Europe/Berlin"), "2026-03-20T00:00:00Z", &["2026-03-22T01:30Z", "2026-03-29T01:30Z", "2026-04-05T00:30Z"], "weekly: 02:30 does not exist on March 29, taken at 03:30 CEST"),
            (timing(weekly(&[Day::Sun]), "02:30", "Europe/Berlin"), "2026-10-17T00:00:00Z", &["2026-10-18T00:30Z", "2026-10-25T00:30Z", "2026-11-01T01:30Z"], "weekly: 02:30 occurs twice on October 25, the first (CEST) one is taken"),
            (timing(weekly(&[Day::Mon, Day::Fri]), "09:00", "America/New_York"), "2026-03-05T00:00:00Z", &["2026-03-06T14:00Z", "2026-03-09T13:00Z", "2026-03-13T13:00Z"], "weekly on two days: EST (UTC-5) to EDT (UTC-4) over March 8"),
            (timing(Rule::Monthly { day: 8 }, "09:00", "America/New_York"), "2026-02-01T00:00:00Z", &["2026-02-08T14:00Z", "2026-03-08T13:00Z", "2026-04-08T13:00Z"], "monthly on the change day itself: EDT from 02:00 on March 8"),
            (timing(Rule::Monthly { day: 1 }, "01:30", "America/New_York"), "2026-09-15T00:00:00Z", &["2026-10-01T05:30Z", "2026-11-01T05:30Z", "2026-12-01T06:30Z"], "monthly: 01:30 occurs twice on November 1, the EDT one is taken"),
            (timing(Rule::Monthly { day: 31 }, "09:00", "Europe/Berlin"), "2026-03-01T00:00:00Z", &["2026-03-31T07:00Z", "2026-04-30T07:00Z", "2026-05-31T07:00Z"], "monthly on the 31st: April runs on its last day"),
            (timing(Rule::Daily, "09:00", "subscriber"), "2026-03-28T00:00:00Z", &["2026-03-28T20:00Z", "2026-03-29T20:00Z"], "subscriber-local: 13 h before 09:00 UTC whatever the DST, the fan-out places each zone"),
        ];
        for (t, after, expected, why) in cases {
            assert_eq!(starts(&t, after, expected.len()), expected, "{why}");
        }
    }

    /// A subscriber-local run reaches every zone from UTC-10 to UTC+13 on its own date, through the same
    /// `release_at` the fan-out uses, also across the Berlin change day.
    #[test]
    fn subscriber_local_runs_land_on_the_date_in_every_zone() {
        let t = timing(Rule::Daily, "09:00", "subscriber");
        let day = NaiveDate::from_ymd_opt(2026, 3, 29).unwrap();
        let start = t.starts_at(day);
        let nine = crate::push::pacing::WallTime(t.time);
        for z in ["Pacific/Honolulu", "America/New_York", "Europe/Berlin", "Asia/Tokyo", "Pacific/Auckland", "Pacific/Tongatapu"] {
            let tz: Tz = z.parse().unwrap();
            let at = crate::push::pacing::release_at(start, tz, Some(nine), None).with_timezone(&tz);
            assert_eq!((at.date_naive(), at.time()), (day, t.time), "{z}");
        }
    }

    #[test]
    fn start_end_and_already_run_dates_bound_the_runs() {
        let mut t = timing(Rule::Daily, "09:00", "UTC");
        t.start = NaiveDate::from_ymd_opt(2026, 5, 10).unwrap();
        t.end = Some(NaiveDate::from_ymd_opt(2026, 5, 12).unwrap());
        let dates = |runs: Vec<Run>| runs.into_iter().map(|r| r.date.to_string()).collect::<Vec<_>>();
        assert_eq!(dates(t.next_runs(utc("2026-05-01T00:00:00Z"), None, 10)), ["2026-05-10", "2026-05-11", "2026-05-12"], "from the start date to the end date, inclusive");
        assert_eq!(dates(t.next_runs(utc("2026-05-10T09:00:00Z"), None, 10)), ["2026-05-10", "2026-05-11", "2026-05-12"], "a run starting exactly now is still ahead");
        assert_eq!(dates(t.next_runs(utc("2026-05-10T09:01:00Z"), None, 10)), ["2026-05-11", "2026-05-12"], "today's passed");
        assert_eq!(dates(t.next_runs(utc("2026-05-10T08:00:00Z"), NaiveDate::from_ymd_opt(2026, 5, 10), 10)), ["2026-05-11", "2026-05-12"], "a date already run never runs again");
        assert!(t.next_runs(utc("2026-05-13T00:00:00Z"), None, 10).is_empty(), "ended");
        assert_eq!(Rule::Weekly { days: vec![] }.check().unwrap_err(), "rule.days: at least one day of the week");
        assert!(Rule::Monthly { day: 32 }.check().unwrap_err().starts_with("rule.day:"));
        assert!(Rule::Monthly { day: 0 }.check().is_err() && Rule::Monthly { day: 31 }.check().is_ok());
    }
}
