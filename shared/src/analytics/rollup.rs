//! Rollup buckets: counter items per site by hour (`WS#…#SITE#<site>#ROLLUP`/`H#YYYYMMDDHH`) and by day
//! (`D#YYYYMMDD`, which also carries subscriber growth and new subscribers by browser and OS), and per
//! notification by hour (`…#NOTIF#<id>`/`ROLLUP#H#YYYYMMDDHH`). They are never written on their own per
//! push: a deliver job's progress commit and an event's dedupe marker carry the bucket adds in the same
//! transaction as the counters they mirror, so a redelivered job or a repeated event adds to neither.
//! Buckets expire 13 months after their first write.

use chrono::{DateTime, Utc};

use crate::auth::WorkspaceId;
use crate::ports::{Key, TxWrite};
use crate::push::notifications::NotificationId;
use crate::push::sites::SiteId;
use crate::push::subscribers::ClientInfo;
use crate::state::AppState;

/// How long a bucket is kept: 13 months (of 31 days, to be safe) after its first write.
pub const KEEP_SECS: i64 = 13 * 31 * 86_400;

/// Delivery counters a bucket mirrors from the notification's own (what push services answered).
pub const DELIVERY: [&str; 7] = ["accepted", "failed_gone", "failed_too_large", "failed_transient", "failed_rejected", "capped", "cancelled"];
/// Final answers of a push service: `sent` is their sum.
const ANSWERS: [&str; 5] = ["accepted", "failed_gone", "failed_too_large", "failed_transient", "failed_rejected"];

/// Browsers and operating systems counted separately (the names `subscriber_data::browser_os` gives);
/// anything else is `Other`, so a day bucket holds a bounded set of counters whatever clients claim.
pub const BROWSERS: [&str; 8] = ["Chrome", "Chromium", "Edge", "Firefox", "Opera", "Safari", "Samsung Internet", "Other"];
pub const SYSTEMS: [&str; 7] = ["Windows", "macOS", "Linux", "Android", "iOS", "ChromeOS", "Other"];

/// Where a notification's rollups go.
#[derive(Debug, Clone)]
pub struct Scope {
    pub workspace: WorkspaceId,
    pub site: SiteId,
    pub notification: NotificationId,
}

pub fn site_partition(ws: &WorkspaceId, site: &SiteId) -> String {
    format!("WS#{ws}#SITE#{site}#ROLLUP")
}

pub fn notification_partition(ws: &WorkspaceId, site: &SiteId, id: &NotificationId) -> String {
    format!("WS#{ws}#SITE#{site}#NOTIF#{id}")
}

pub const NOTIFICATION_HOUR_PREFIX: &str = "ROLLUP#H#";

pub fn hour_sk(at: DateTime<Utc>) -> String {
    format!("H#{}", at.format("%Y%m%d%H"))
}

pub fn day_sk(at: DateTime<Utc>) -> String {
    format!("D#{}", at.format("%Y%m%d"))
}

/// A counter-name-safe form of a browser or OS name from the fixed lists (`Samsung Internet` → `Samsung_Internet`).
pub fn label_counter(prefix: &str, name: &str) -> String {
    format!("{prefix}_{}", name.replace(' ', "_"))
}

fn bounded<'a>(value: Option<&str>, known: &[&'a str]) -> &'a str {
    value.and_then(|v| known.iter().find(|k| k.eq_ignore_ascii_case(v))).copied().unwrap_or("Other")
}

/// The bucket writes for `deltas` at `at`: the notification's hour, the site's hour and day; `day_only`
/// goes to the site's day bucket alone (growth). Zero deltas are dropped; nothing to add, no writes.
pub fn writes(scope: &Scope, at: DateTime<Utc>, deltas: &[(String, i64)], day_only: &[(String, i64)]) -> Vec<TxWrite> {
    let expires_at = at.timestamp() + KEEP_SECS;
    let deltas: Vec<(String, i64)> = deltas.iter().filter(|(_, d)| *d != 0).cloned().collect();
    let mut day: Vec<(String, i64)> = deltas.clone();
    day.extend(day_only.iter().filter(|(_, d)| *d != 0).cloned());
    let site = site_partition(&scope.workspace, &scope.site);
    let mut out = Vec::new();
    if !deltas.is_empty() {
        let notification = notification_partition(&scope.workspace, &scope.site, &scope.notification);
        out.push(TxWrite::AddExpiring { key: Key::new(notification, format!("ROLLUP#{}", hour_sk(at))), deltas: deltas.clone(), expires_at });
        out.push(TxWrite::AddExpiring { key: Key::new(site.clone(), hour_sk(at)), deltas, expires_at });
    }
    if !day.is_empty() {
        out.push(TxWrite::AddExpiring { key: Key::new(site, day_sk(at)), deltas: day, expires_at });
    }
    out
}

/// The rollup writes mirroring a deliver job's counter deltas: the delivery counters, `sent` (final
/// answers), and expired subscriptions (404/410) in the day's growth.
pub fn delivery_writes(scope: &Scope, at: DateTime<Utc>, deltas: &[(String, i64)]) -> Vec<TxWrite> {
    let mut bucket: Vec<(String, i64)> = deltas.iter().filter(|(k, _)| DELIVERY.contains(&k.as_str())).cloned().collect();
    let sent: i64 = deltas.iter().filter(|(k, _)| ANSWERS.contains(&k.as_str())).map(|(_, d)| d).sum();
    bucket.push(("sent".into(), sent));
    let expired: i64 = deltas.iter().filter(|(k, _)| k == "failed_gone").map(|(_, d)| d).sum();
    writes(scope, at, &bucket, &[("subs_expired".into(), expired)])
}

/// A new subscriber: the day's growth, and its browser and OS.
pub async fn subscribed(state: &AppState, ws: &WorkspaceId, site: &SiteId, client: &ClientInfo) {
    let deltas = vec![
        ("subs_new".to_owned(), 1),
        (label_counter("new_browser", bounded(client.browser.as_deref(), &BROWSERS)), 1),
        (label_counter("new_os", bounded(client.os.as_deref(), &SYSTEMS)), 1),
    ];
    growth(state, ws, site, deltas).await;
}

/// A subscription removed by its browser or an admin (expired ones are counted from delivery answers).
pub async fn unsubscribed(state: &AppState, ws: &WorkspaceId, site: &SiteId) {
    growth(state, ws, site, vec![("subs_unsubscribed".to_owned(), 1)]).await;
}

/// Growth is best effort: the subscribe or unsubscribe it describes has already happened.
async fn growth(state: &AppState, ws: &WorkspaceId, site: &SiteId, deltas: Vec<(String, i64)>) {
    let at = state.clock.now();
    let write = TxWrite::AddExpiring { key: Key::new(site_partition(ws, site), day_sk(at)), deltas, expires_at: at.timestamp() + KEEP_SECS };
    if let Err(e) = state.table.transact(vec![write]).await {
        tracing::warn!(error = %e, "subscriber growth not counted");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn delivery_deltas_become_bucket_adds() {
        let scope = Scope { workspace: WorkspaceId::new(ulid::Ulid::nil()), site: SiteId::new(ulid::Ulid::nil()), notification: NotificationId::new(ulid::Ulid::nil()) };
        let at = Utc.with_ymd_and_hms(2026, 12, 3, 5, 59, 0).unwrap();
        let deltas = vec![("accepted".to_owned(), 40), ("failed_gone".to_owned(), 2), ("capped".to_owned(), 3), ("jobs_done".to_owned(), 1)];
        let w = delivery_writes(&scope, at, &deltas);
        assert_eq!(w.len(), 3, "notification hour, site hour, site day");
        let TxWrite::AddExpiring { key, deltas, expires_at } = &w[1] else { panic!("an expiring add") };
        assert_eq!(key.sk, "H#2026120305");
        assert_eq!(*expires_at, at.timestamp() + KEEP_SECS);
        let get = |n: &str| deltas.iter().find(|(k, _)| k == n).map(|(_, d)| *d);
        assert_eq!((get("accepted"), get("sent"), get("capped"), get("jobs_done"), get("subs_expired")), (Some(40), Some(42), Some(3), None, None), "capped is not sent; bookkeeping stays out");
        let TxWrite::AddExpiring { key, deltas, .. } = &w[2] else { panic!("an expiring add") };
        assert_eq!(key.sk, "D#20261203");
        assert!(deltas.contains(&("subs_expired".to_owned(), 2)), "404/410 answers are expired subscriptions");
        assert!(writes(&scope, at, &[("sent".into(), 0)], &[]).is_empty(), "nothing to add, nothing written");
    }

    #[test]
    fn browser_counters_are_bounded() {
        assert_eq!(label_counter("new_browser", bounded(Some("Samsung Internet"), &BROWSERS)), "new_browser_Samsung_Internet");
        assert_eq!(bounded(Some("<script>"), &BROWSERS), "Other");
        assert_eq!(bounded(None, &SYSTEMS), "Other");
    }
}
