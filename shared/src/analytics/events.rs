//! Engagement events on a notification: impressions, clicks (with the action button), dismissals,
//! conversions with a value, and unsubscribes it caused. Each is counted once per (notification,
//! subscriber, event): a dedupe marker is put in the same transaction as the notification's counters
//! and the rollup buckets, so a service worker retrying a report, or a page converting twice, adds
//! nothing. Events that name no subscriber (older service workers) are counted without dedupe.

use super::rollup::{self, Scope};
use crate::auth::WorkspaceId;
use crate::http::ApiError;
use crate::ports::{Condition, Item, Key, TableError, TxWrite};
use crate::push::ab;
use crate::push::notifications::{notification_key, Notification, NotificationId};
use crate::push::sites::SiteId;
use crate::state::AppState;

/// Dedupe markers outlive any late click or a conversion days after the visit.
const DEDUPE_SECS: i64 = 35 * 86_400;
/// The largest conversion value taken (in the site's currency; kept in hundredths).
const MAX_VALUE: f64 = 1_000_000_000.0;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    Impression,
    Click,
    Dismiss,
    Conversion,
    Unsubscribe,
}

impl EventKind {
    pub fn parse(raw: &str) -> Result<Self, ApiError> {
        Ok(match raw {
            "impression" => Self::Impression,
            "click" => Self::Click,
            "dismiss" | "dismissed" => Self::Dismiss,
            "conversion" => Self::Conversion,
            "unsubscribe" => Self::Unsubscribe,
            other => return Err(ApiError::Validation(format!("unknown event `{}`: impression, click, dismiss, conversion or unsubscribe", other.chars().take(20).collect::<String>()))),
        })
    }

    /// The counter it adds to (on the notification and in its buckets).
    pub fn counter(self) -> &'static str {
        match self {
            Self::Impression => "impressions",
            Self::Click => "clicks",
            Self::Dismiss => "dismissals",
            Self::Conversion => "conversions",
            Self::Unsubscribe => "unsubscribes",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Impression => "impression",
            Self::Click => "click",
            Self::Dismiss => "dismiss",
            Self::Conversion => "conversion",
            Self::Unsubscribe => "unsubscribe",
        }
    }
}

/// A conversion value: finite, 0 to a billion, kept in hundredths.
pub fn value_cents(value: Option<f64>) -> Result<i64, ApiError> {
    match value {
        None => Ok(0),
        Some(v) if v.is_finite() && (0.0..=MAX_VALUE).contains(&v) => Ok((v * 100.0).round() as i64),
        Some(_) => Err(ApiError::Validation("value must be a number from 0 to 1000000000".into())),
    }
}

/// One reported event.
#[derive(Debug, Clone)]
pub struct Event {
    pub kind: EventKind,
    /// The A/B variant shown (from the payload).
    pub variant: Option<u8>,
    /// Who it is about, for dedupe: a subscriber id, or another stable identity (a conversion id).
    pub subscriber: Option<String>,
    /// On a click: the action button pressed.
    pub action: Option<String>,
    pub value_cents: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    Counted,
    /// This subscriber's event was counted before.
    Duplicate,
}

/// The counters one event adds: its own, the variant's, and the action button's (`action1_clicks` for
/// the first button: only buttons the notification has, so the counter set stays bounded).
fn deltas(n: &Notification, e: &Event) -> Vec<(String, i64)> {
    let mut out = vec![(e.kind.counter().to_owned(), 1)];
    if e.kind == EventKind::Conversion && e.value_cents > 0 {
        out.push(("value_cents".into(), e.value_cents));
    }
    if let Some(v) = e.variant.filter(|v| usize::from(*v) < n.plan.variants.len()) {
        out.push((ab::counter(v, e.kind.counter()), 1));
        if e.kind == EventKind::Conversion && e.value_cents > 0 {
            out.push((ab::counter(v, "value_cents"), e.value_cents));
        }
    }
    if let (EventKind::Click, Some(action)) = (e.kind, e.action.as_deref()) {
        if let Some(i) = n.content.actions.iter().position(|a| a.action == action) {
            out.push((format!("action{}_clicks", i + 1), 1));
        }
    }
    out
}

/// Counts one event on a notification of the site; 404 when there is no such notification.
pub async fn record(state: &AppState, ws: &WorkspaceId, site: &SiteId, id: &NotificationId, event: Event) -> Result<Recorded, ApiError> {
    let key = notification_key(ws, site, id);
    let n: Notification = state.table.get(&key).await?.ok_or_else(|| ApiError::NotFound("no such notification".into()))?.parse()?;
    let deltas = deltas(&n, &event);
    let now = state.clock.now();
    let mut writes = Vec::new();
    if let Some(who) = &event.subscriber {
        let marker = Key::new(rollup::notification_partition(ws, site, id), format!("EV#{}#{who}", event.kind.name()));
        writes.push(TxWrite::Put { item: Item::new(marker).with_expiry(now.timestamp() + DEDUPE_SECS), condition: Condition::NotExists });
    }
    let scope = Scope { workspace: ws.clone(), site: site.clone(), notification: id.clone() };
    // Buckets mirror the totals only, not the per-variant or per-button splits.
    let bucket: Vec<(String, i64)> = deltas.iter().filter(|(k, _)| k == event.kind.counter() || k == "value_cents").cloned().collect();
    writes.extend(rollup::writes(&scope, now, &bucket, &[]));
    if let Some(source) = &n.source {
        writes.push(TxWrite::Add { key: source.stats_key(ws, site), deltas: vec![(event.kind.counter().to_owned(), 1)] });
    }
    writes.push(TxWrite::Add { key, deltas });
    match state.table.transact(writes).await {
        Ok(()) => {}
        Err(TableError::TransactionCancelled { index: 0 }) if event.subscriber.is_some() => return Ok(Recorded::Duplicate),
        Err(e) => return Err(e.into()),
    }
    crate::live::notify(state, ws, "notification.stats", serde_json::json!({"site_id": site, "notification_id": id})).await;
    if event.kind == EventKind::Click {
        crate::events_out::emit(state, ws, crate::events_out::EventType::PushClicked, serde_json::json!({"site_id": site, "notification_id": id})).await;
    }
    Ok(Recorded::Counted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_checked_and_kept_in_hundredths() {
        assert_eq!(value_cents(Some(19.99)).unwrap(), 1999);
        assert_eq!(value_cents(None).unwrap(), 0);
        for bad in [-1.0, f64::NAN, f64::INFINITY, 2e9] {
            assert!(value_cents(Some(bad)).is_err(), "{bad} accepted");
        }
        assert!(EventKind::parse("hover").is_err());
        assert_eq!(EventKind::parse("dismissed").unwrap(), EventKind::Dismiss);
    }
}
