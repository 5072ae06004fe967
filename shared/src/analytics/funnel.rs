//! A notification's funnel (targeted → accepted → shown → clicked → converted) from its counters, per A/B
//! variant, and by delivery hour from its hourly buckets (for a send at a local time, each hour is one band
//! of time zones); also as CSV.

use chrono::{DateTime, Timelike, Utc};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::report::{rate, read_range, Counts};
use super::rollup;
use crate::auth::Workspace;
use crate::http::ApiError;
use crate::push::notifications::{self, NotificationId};
use crate::push::sites::SiteId;
use crate::state::AppState;

/// Targeted → accepted → shown → clicked → converted.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct Funnel {
    pub targeted: i64,
    pub accepted: i64,
    pub shown: i64,
    pub clicked: i64,
    pub converted: i64,
    pub dismissed: i64,
    pub value: f64,
    /// clicked / accepted
    pub ctr: f64,
    /// converted / clicked
    pub conversion_rate: f64,
}

impl Funnel {
    fn of(count: impl Fn(&str) -> i64) -> Self {
        let (accepted, clicked, converted) = (count("accepted"), count("clicks"), count("conversions"));
        Self {
            targeted: count("targeted"),
            accepted,
            shown: count("impressions"),
            clicked,
            converted,
            dismissed: count("dismissals"),
            value: count("value_cents") as f64 / 100.0,
            ctr: rate(clicked, accepted),
            conversion_rate: rate(converted, clicked),
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct VariantFunnel {
    pub variant: u8,
    pub title: String,
    pub percent: u8,
    #[serde(flatten)]
    pub funnel: Funnel,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct HourRow {
    pub hour: String,
    /// For a send at a local time: the UTC offset whose subscribers that hour's deliveries reached.
    pub utc_offset: Option<String>,
    #[serde(flatten)]
    pub counts: Counts,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct NotificationAnalytics {
    pub notification_id: String,
    pub title: String,
    pub status: String,
    pub created_at: String,
    pub funnel: Funnel,
    /// Per A/B variant (empty without variants).
    pub variants: Vec<VariantFunnel>,
    /// Delivery and engagement by UTC hour; for a send at a local time, these are its time-zone bands.
    pub hours: Vec<HourRow>,
}

/// The UTC offset a delivery hour stands for when the send was at `local` (HH:MM) in each zone. Zones a
/// day apart (UTC-11 and UTC+13) get the same UTC hour; both are named.
fn offset_of(hour: DateTime<Utc>, local: chrono::NaiveTime) -> String {
    let local_minutes = i64::from(local.hour() * 60 + local.minute());
    let offset = (local_minutes - i64::from(hour.hour() * 60) + 12 * 60).rem_euclid(1440) - 12 * 60;
    let label = |o: i64| format!("UTC{}{:02}:{:02}", if o < 0 { '-' } else { '+' }, o.abs() / 60, o.abs() % 60);
    if offset + 1440 <= 14 * 60 { format!("{} or {}", label(offset), label(offset + 1440)) } else { label(offset) }
}

pub async fn report(state: &AppState, ws: &Workspace, site: &SiteId, id: &NotificationId) -> Result<NotificationAnalytics, ApiError> {
    let view = notifications::get(state, ws, site, id).await?;
    let stats = &view.stats;
    let count = |name: &str| stats.get(name).and_then(Value::as_i64).unwrap_or(0);
    let n = &view.notification;
    let variants = n
        .plan
        .variants
        .iter()
        .enumerate()
        .map(|(i, v)| VariantFunnel { variant: i as u8, title: v.title.clone(), percent: v.percent, funnel: Funnel::of(|c| count(&format!("v{i}_{c}"))) })
        .collect();
    let prefix = rollup::NOTIFICATION_HOUR_PREFIX;
    let rows = read_range(state, rollup::notification_partition(ws.id(), site, id), format!("{prefix}0"), format!("{prefix}9")).await?;
    let hours = rows
        .iter()
        .filter_map(|item| {
            let raw = item.key.sk.strip_prefix(prefix)?;
            let hour = chrono::NaiveDateTime::parse_from_str(&format!("{raw}0000"), "%Y%m%d%H%M%S").ok()?.and_utc();
            Some(HourRow { hour: hour.to_rfc3339(), utc_offset: n.plan.local_time.map(|t| offset_of(hour, t.0)), counts: Counts::from_attrs(&item.attrs) })
        })
        .collect();
    Ok(NotificationAnalytics {
        notification_id: n.id.to_string(),
        title: n.content.title.clone(),
        status: view.status.to_owned(),
        created_at: n.created_at.clone(),
        funnel: Funnel::of(count),
        variants,
        hours,
    })
}

/// The notification report as CSV: the funnel per variant (or `all`), then one row per hour.
pub fn csv(r: &NotificationAnalytics) -> String {
    let mut out = String::from("section,variant,targeted,accepted,shown,clicked,converted,dismissed,value,ctr\r\n");
    let funnel = |label: &str, f: &Funnel| format!("funnel,{label},{},{},{},{},{},{},{:.2},{:.4}\r\n", f.targeted, f.accepted, f.shown, f.clicked, f.converted, f.dismissed, f.value, f.ctr);
    out.push_str(&funnel("all", &r.funnel));
    for v in &r.variants {
        out.push_str(&funnel(&v.variant.to_string(), &v.funnel));
    }
    out.push_str(&format!("\r\nhour,utc_offset,{}\r\n", Counts::CSV_HEADER));
    for h in &r.hours {
        out.push_str(&format!("{},{},{}\r\n", h.hour, h.utc_offset.as_deref().unwrap_or(""), h.counts.csv()));
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
    fn delivery_hours_name_their_time_zone_band() {
        let nine = chrono::NaiveTime::from_hms_opt(9, 0, 0).unwrap();
        assert_eq!(offset_of(at("2026-12-03T14:00:00Z"), nine), "UTC-05:00");
        assert_eq!(offset_of(at("2026-12-03T00:00:00Z"), nine), "UTC+09:00");
        assert_eq!(offset_of(at("2026-12-02T20:00:00Z"), nine), "UTC-11:00 or UTC+13:00");
        assert_eq!(offset_of(at("2026-12-02T21:00:00Z"), nine), "UTC-12:00 or UTC+12:00");
        assert_eq!(offset_of(at("2026-12-03T09:00:00Z"), nine), "UTC+00:00");
    }
}
