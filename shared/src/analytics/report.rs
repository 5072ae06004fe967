//! Reports over the rollups: a site's delivery and engagement by hour or day with subscriber growth,
//! new subscribers by browser and OS and its top notifications, also as CSV. A notification's funnel is
//! in `funnel.rs`.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Months, NaiveDate, TimeZone, Timelike, Utc};
use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

use super::rollup::{self, BROWSERS, SYSTEMS};
use crate::auth::{Action, Workspace};
use crate::http::ApiError;
use crate::ports::{Item, Query};
use crate::push::notifications::{self, NotificationView};
use crate::push::sites::{self, SiteId};
use crate::state::AppState;

/// Hourly reports cover at most this many days (744 points a chart can still show).
const MAX_HOUR_DAYS: i64 = 31;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Granularity {
    Hour,
    Day,
}

impl Granularity {
    fn step(self) -> Duration {
        match self {
            Self::Hour => Duration::hours(1),
            Self::Day => Duration::days(1),
        }
    }

    fn floor(self, t: DateTime<Utc>) -> DateTime<Utc> {
        let hour = t.with_minute(0).and_then(|t| t.with_second(0)).and_then(|t| t.with_nanosecond(0)).unwrap_or(t);
        match self {
            Self::Hour => hour,
            Self::Day => hour.with_hour(0).unwrap_or(hour),
        }
    }

    fn sk(self, t: DateTime<Utc>) -> String {
        match self {
            Self::Hour => rollup::hour_sk(t),
            Self::Day => rollup::day_sk(t),
        }
    }
}

/// A checked report range: bucket-aligned `from`, exclusive `to`, at most 13 months apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub granularity: Granularity,
}

fn parse_time(raw: &str, name: &str) -> Result<DateTime<Utc>, ApiError> {
    if let Ok(t) = DateTime::parse_from_rfc3339(raw) {
        return Ok(t.with_timezone(&Utc));
    }
    NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|d| Utc.from_utc_datetime(&d))
        .ok_or_else(|| ApiError::Validation(format!("{name} must be an RFC 3339 time or a YYYY-MM-DD date")))
}

impl Range {
    /// `from`/`to` as RFC 3339 or dates (defaults: the last 30 days, or 24 hours by hour); `to` is
    /// exclusive and rounded up to a whole bucket. 422 unless from < to within 13 months (31 days by hour).
    pub fn parse(from: Option<&str>, to: Option<&str>, granularity: Option<&str>, now: DateTime<Utc>) -> Result<Self, ApiError> {
        let granularity = match granularity.unwrap_or("day") {
            "hour" => Granularity::Hour,
            "day" => Granularity::Day,
            _ => return Err(ApiError::Validation("granularity must be hour or day".into())),
        };
        let to = to.map(|t| parse_time(t, "to")).transpose()?.unwrap_or(now);
        let default_span = if granularity == Granularity::Hour { Duration::hours(24) } else { Duration::days(30) };
        let from = from.map(|f| parse_time(f, "from")).transpose()?.unwrap_or(to - default_span);
        if from >= to {
            return Err(ApiError::Validation("from must be before to".into()));
        }
        if from.checked_add_months(Months::new(13)).is_none_or(|limit| to > limit) {
            return Err(ApiError::Validation("the range is at most 13 months".into()));
        }
        if granularity == Granularity::Hour && to - from > Duration::days(MAX_HOUR_DAYS) {
            return Err(ApiError::Validation(format!("an hourly range is at most {MAX_HOUR_DAYS} days; use granularity=day")));
        }
        let floored_to = granularity.floor(to);
        let to = if floored_to == to { to } else { floored_to + granularity.step() };
        Ok(Self { from: granularity.floor(from), to, granularity })
    }

    fn starts(&self) -> impl Iterator<Item = DateTime<Utc>> + '_ {
        let step = self.granularity.step();
        std::iter::successors(Some(self.from), move |t| Some(*t + step)).take_while(|t| *t < self.to)
    }
}

/// Counters of one bucket (or a total).
#[derive(Debug, Clone, Default, PartialEq, Serialize, ToSchema)]
pub struct Counts {
    /// Pushes a push service answered (accepted or failed).
    pub sent: i64,
    pub accepted: i64,
    pub failed_gone: i64,
    pub failed_too_large: i64,
    pub failed_transient: i64,
    pub failed_rejected: i64,
    /// Held back by the site's frequency cap.
    pub capped: i64,
    pub cancelled: i64,
    pub impressions: i64,
    pub clicks: i64,
    pub dismissals: i64,
    pub conversions: i64,
    /// Conversion value in the site's currency.
    pub value: f64,
    pub unsubscribes: i64,
    /// Clicks per accepted push.
    pub ctr: f64,
}

pub(super) fn num(attrs: &Map<String, Value>, name: &str) -> i64 {
    attrs.get(name).and_then(Value::as_i64).unwrap_or(0)
}

pub(super) fn rate(part: i64, whole: i64) -> f64 {
    if whole <= 0 { 0.0 } else { (part as f64 / whole as f64 * 10_000.0).round() / 10_000.0 }
}

impl Counts {
    pub const CSV_HEADER: &'static str = "sent,accepted,failed_gone,failed_too_large,failed_transient,failed_rejected,capped,cancelled,impressions,clicks,dismissals,conversions,value,unsubscribes,ctr";

    pub fn from_attrs(a: &Map<String, Value>) -> Self {
        let mut c = Self {
            sent: num(a, "sent"),
            accepted: num(a, "accepted"),
            failed_gone: num(a, "failed_gone"),
            failed_too_large: num(a, "failed_too_large"),
            failed_transient: num(a, "failed_transient"),
            failed_rejected: num(a, "failed_rejected"),
            capped: num(a, "capped"),
            cancelled: num(a, "cancelled"),
            impressions: num(a, "impressions"),
            clicks: num(a, "clicks"),
            dismissals: num(a, "dismissals"),
            conversions: num(a, "conversions"),
            value: num(a, "value_cents") as f64 / 100.0,
            unsubscribes: num(a, "unsubscribes"),
            ctr: 0.0,
        };
        c.ctr = rate(c.clicks, c.accepted);
        c
    }

    fn add(&mut self, o: &Self) {
        self.sent += o.sent;
        self.accepted += o.accepted;
        self.failed_gone += o.failed_gone;
        self.failed_too_large += o.failed_too_large;
        self.failed_transient += o.failed_transient;
        self.failed_rejected += o.failed_rejected;
        self.capped += o.capped;
        self.cancelled += o.cancelled;
        self.impressions += o.impressions;
        self.clicks += o.clicks;
        self.dismissals += o.dismissals;
        self.conversions += o.conversions;
        self.value = ((self.value + o.value) * 100.0).round() / 100.0;
        self.unsubscribes += o.unsubscribes;
        self.ctr = rate(self.clicks, self.accepted);
    }

    pub(super) fn csv(&self) -> String {
        let n = [self.sent, self.accepted, self.failed_gone, self.failed_too_large, self.failed_transient, self.failed_rejected, self.capped, self.cancelled, self.impressions, self.clicks, self.dismissals, self.conversions];
        let mut cells: Vec<String> = n.iter().map(i64::to_string).collect();
        cells.push(format!("{:.2}", self.value));
        cells.push(self.unsubscribes.to_string());
        cells.push(format!("{:.4}", self.ctr));
        cells.join(",")
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Bucket {
    /// Start of the hour or day (UTC).
    pub start: String,
    #[serde(flatten)]
    pub counts: Counts,
}

/// Subscriber growth of one day.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct Growth {
    pub date: String,
    pub new: i64,
    pub unsubscribed: i64,
    /// Subscriptions the push service reported gone (404/410).
    pub expired: i64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TopNotification {
    pub id: String,
    pub title: String,
    pub created_at: String,
    pub status: String,
    pub accepted: i64,
    pub clicks: i64,
    pub conversions: i64,
    pub ctr: f64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SiteAnalytics {
    pub site_id: String,
    pub from: String,
    pub to: String,
    pub granularity: Granularity,
    /// Subscribers now.
    pub subscribers: i64,
    pub buckets: Vec<Bucket>,
    pub totals: Counts,
    /// One entry per day of the range.
    pub growth: Vec<Growth>,
    /// New subscribers in the range by browser and by OS.
    pub by_browser: BTreeMap<String, i64>,
    pub by_os: BTreeMap<String, i64>,
    /// The site's most clicked notifications created in the range (of its latest 100).
    pub top_notifications: Vec<TopNotification>,
}

/// Every item of a partition between two sort keys (inclusive).
pub(super) async fn read_range(state: &AppState, pk: String, from: String, to: String) -> Result<Vec<Item>, ApiError> {
    let mut items = Vec::new();
    let mut cursor = None;
    loop {
        let page = state.table.query(Query::partition(pk.clone()).between(from.clone(), to.clone()).limit(500).after(cursor)).await?;
        items.extend(page.items);
        match page.next {
            Some(next) => cursor = Some(next),
            None => return Ok(items),
        }
    }
}

fn by_sk(items: Vec<Item>) -> BTreeMap<String, Map<String, Value>> {
    items.into_iter().map(|i| (i.key.sk, i.attrs)).collect()
}

pub async fn site(state: &AppState, ws: &Workspace, site: &SiteId, range: Range) -> Result<SiteAnalytics, ApiError> {
    ws.require(Action::WorkspaceRead)?;
    let site = sites::get(state, ws, site).await?.id;
    let pk = rollup::site_partition(ws.id(), &site);
    let last = range.to - range.granularity.step();
    let rows = by_sk(read_range(state, pk.clone(), range.granularity.sk(range.from), range.granularity.sk(last)).await?);
    let days = match range.granularity {
        Granularity::Day => rows.clone(),
        Granularity::Hour => by_sk(read_range(state, pk, rollup::day_sk(range.from), rollup::day_sk(last)).await?),
    };
    let mut totals = Counts::default();
    let buckets: Vec<Bucket> = range
        .starts()
        .map(|start| {
            let counts = rows.get(&range.granularity.sk(start)).map(Counts::from_attrs).unwrap_or_default();
            totals.add(&counts);
            Bucket { start: start.to_rfc3339(), counts }
        })
        .collect();
    let day_range = Range { granularity: Granularity::Day, from: Granularity::Day.floor(range.from), to: range.to };
    let growth = day_range
        .starts()
        .map(|d| {
            let a = days.get(&rollup::day_sk(d));
            let n = |c: &str| a.map_or(0, |a| num(a, c));
            Growth { date: d.format("%Y-%m-%d").to_string(), new: n("subs_new"), unsubscribed: n("subs_unsubscribed"), expired: n("subs_expired") }
        })
        .collect();
    let split = |prefix: &str, names: &[&str]| -> BTreeMap<String, i64> {
        names.iter().map(|b| ((*b).to_owned(), days.values().map(|a| num(a, &rollup::label_counter(prefix, b))).sum::<i64>())).filter(|(_, n)| *n > 0).collect()
    };
    let (by_browser, by_os) = (split("new_browser", &BROWSERS), split("new_os", &SYSTEMS));
    let (recent, _) = notifications::list(state, ws, &site, None, None, 100).await?;
    let mut top: Vec<TopNotification> = recent.iter().filter(|v| created_within(v, &range)).map(top_entry).collect();
    top.sort_by(|a, b| b.clicks.cmp(&a.clicks).then(b.accepted.cmp(&a.accepted)));
    top.truncate(10);
    Ok(SiteAnalytics {
        site_id: site.to_string(),
        from: range.from.to_rfc3339(),
        to: range.to.to_rfc3339(),
        granularity: range.granularity,
        subscribers: crate::push::subscribers::count(state, ws.id(), &site).await?,
        buckets,
        totals,
        growth,
        by_browser,
        by_os,
        top_notifications: top,
    })
}

fn created_within(v: &NotificationView, range: &Range) -> bool {
    DateTime::parse_from_rfc3339(&v.notification.created_at).is_ok_and(|t| t >= range.from && t < range.to)
}

fn stat(v: &NotificationView, name: &str) -> i64 {
    v.stats.get(name).and_then(Value::as_i64).unwrap_or(0)
}

fn top_entry(v: &NotificationView) -> TopNotification {
    let (accepted, clicks) = (stat(v, "accepted"), stat(v, "clicks"));
    TopNotification {
        id: v.notification.id.to_string(),
        title: v.notification.content.title.clone(),
        created_at: v.notification.created_at.clone(),
        status: v.status.to_owned(),
        accepted,
        clicks,
        conversions: stat(v, "conversions"),
        ctr: rate(clicks, accepted),
    }
}

/// The site report as CSV: one row per bucket (with the day's growth when by day).
pub fn site_csv(r: &SiteAnalytics) -> String {
    let daily = r.granularity == Granularity::Day;
    let mut out = format!("start,{}{}\r\n", Counts::CSV_HEADER, if daily { ",subscribers_new,subscribers_unsubscribed,subscribers_expired" } else { "" });
    for (i, b) in r.buckets.iter().enumerate() {
        out.push_str(&format!("{},{}", b.start, b.counts.csv()));
        if let (true, Some(g)) = (daily, r.growth.get(i)) {
            out.push_str(&format!(",{},{},{}", g.new, g.unsubscribed, g.expired));
        }
        out.push_str("\r\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn ranges_are_validated_and_aligned() {
        let now = at("2026-12-03T05:30:00Z");
        let r = Range::parse(None, None, None, now).unwrap();
        assert_eq!((r.from, r.to, r.granularity), (at("2026-11-03T00:00:00Z"), at("2026-12-04T00:00:00Z"), Granularity::Day), "30 days to the end of today");
        assert_eq!(r.starts().count(), 31);
        let h = Range::parse(Some("2026-12-03T01:10:00Z"), Some("2026-12-03T04:00:00Z"), Some("hour"), now).unwrap();
        assert_eq!((h.from, h.to, h.starts().count()), (at("2026-12-03T01:00:00Z"), at("2026-12-03T04:00:00Z"), 3));
        assert!(Range::parse(Some("2025-11-03"), Some("2026-12-03"), None, now).is_ok(), "exactly 13 months");
        let refused = [
            (Some("2025-11-02"), Some("2026-12-03"), None, "more than 13 months"),
            (Some("2026-12-03"), Some("2026-12-01"), None, "from after to"),
            (Some("2026-12-03"), Some("2026-12-03"), None, "empty"),
            (Some("2026-10-01"), Some("2026-12-03"), Some("hour"), "hourly past 31 days"),
            (Some("yesterday"), None, None, "not a time"),
            (None, None, Some("week"), "unknown granularity"),
        ];
        for (from, to, g, why) in refused {
            assert!(matches!(Range::parse(from, to, g, now), Err(ApiError::Validation(_))), "{why} accepted");
        }
    }

    #[test]
    fn csv_rows_follow_the_header() {
        let mut a = Map::new();
        a.insert("accepted".into(), 4.into());
        a.insert("clicks".into(), 1.into());
        a.insert("value_cents".into(), 1999.into());
        let c = Counts::from_attrs(&a);
        assert_eq!(c.ctr, 0.25);
        assert_eq!(c.csv().split(',').count(), Counts::CSV_HEADER.split(',').count());
        assert!(c.csv().contains(",19.99,"), "{}", c.csv());
    }
}
