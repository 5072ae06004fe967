//! A/B tests: 2–4 variants of title/body/icon/image/url with split percentages, sent to everyone at
//! once or to a test share first, the winner by click rate going to the rest after a wait. A
//! subscriber's variant and test membership come from a hash of (notification, subscriber), so a
//! redelivered or re-fanned job picks the same. The rest's deliver jobs are made at fan-out like any
//! other, marked `WINNER` and held in the due index until the wait is over; the winner is fixed once, by
//! a conditional put of its own record, when the first of them is released.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::notifications::{notification_key, Content, Notification, NotificationId};
use super::sites::SiteId;
use crate::auth::WorkspaceId;
use crate::http::ApiError;
use crate::ports::{Condition, Item, Key, TableError};
use crate::state::AppState;

/// The variant number of a deliver job for the rest of an A/B test: resolved to the winner on delivery.
pub const WINNER: u8 = u8::MAX;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct Variant {
    /// Share of the test in percent; the variants' shares add up to 100.
    pub percent: u8,
    pub title: String,
    pub body: Option<String>,
    pub icon: Option<String>,
    pub image: Option<String>,
    pub url: Option<String>,
}

/// Send to a test share first; the rest gets the variant with the best click rate after `wait_minutes`.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct TestFirst {
    /// 1–99 percent of the audience.
    pub test_percent: u8,
    /// 5 minutes to 7 days.
    pub wait_minutes: u32,
}

/// Refuses variant sets that cannot be split as asked.
pub fn validate(variants: &[Variant], test: Option<&TestFirst>) -> Result<(), ApiError> {
    let bad = |m: &str| Err(ApiError::Validation(m.to_owned()));
    if variants.is_empty() {
        return if test.is_some() { bad("test_first needs variants") } else { Ok(()) };
    }
    if !(2..=4).contains(&variants.len()) {
        return bad("give 2–4 variants");
    }
    if variants.iter().map(|v| u32::from(v.percent)).sum::<u32>() != 100 || variants.iter().any(|v| v.percent == 0) {
        return bad("variant percentages must each be above 0 and add up to 100");
    }
    if variants.iter().any(|v| v.title.trim().is_empty() || v.title.chars().count() > 200 || v.body.as_ref().is_some_and(|b| b.chars().count() > 1000)) {
        return bad("each variant needs a title of 1–200 characters and a body of at most 1000");
    }
    if test.is_some_and(|t| !(1..=99).contains(&t.test_percent) || !(5..=10_080).contains(&t.wait_minutes)) {
        return bad("test_first.test_percent must be 1–99 and wait_minutes 5–10080");
    }
    Ok(())
}

/// A number in 0..10000 from (notification, subscriber, purpose), stable across runs.
fn draw(n: &NotificationId, subscriber: &str, purpose: &str) -> u32 {
    let h = crate::auth::tokens::token_hash(&format!("{n}:{subscriber}:{purpose}"));
    u32::from_str_radix(&h[..8], 16).unwrap_or(0) % 10_000
}

/// The subscriber's variant by the split percentages.
pub fn variant_of(n: &NotificationId, subscriber: &str, variants: &[Variant]) -> u8 {
    let d = draw(n, subscriber, "variant");
    let mut edge = 0;
    for (i, v) in variants.iter().enumerate() {
        edge += u32::from(v.percent) * 100;
        if d < edge {
            return i as u8;
        }
    }
    (variants.len() - 1) as u8
}

/// The variant a subscriber gets now, or `WINNER` when they wait for the test's result.
pub fn assign(n: &NotificationId, subscriber: &str, variants: &[Variant], test: Option<&TestFirst>) -> Option<u8> {
    if variants.is_empty() {
        return None;
    }
    match test {
        Some(t) if draw(n, subscriber, "test") >= u32::from(t.test_percent) * 100 => Some(WINNER),
        _ => Some(variant_of(n, subscriber, variants)),
    }
}

/// The best click rate (clicks / pushes accepted); ties and no clicks at all go to the lower index.
pub fn pick_winner(results: &[(i64, i64)]) -> u8 {
    let rate = |(sent, clicks): (i64, i64)| if sent > 0 { clicks as f64 / sent as f64 } else { 0.0 };
    let mut best = 0;
    for (i, r) in results.iter().enumerate() {
        if rate(*r) > rate(results[best]) {
            best = i;
        }
    }
    best as u8
}

/// The notification with a variant's content in place of its own; what a variant leaves out is the
/// notification's.
pub fn with_variant(n: &Notification, variant: Option<u8>) -> Notification {
    let Some(v) = variant.and_then(|i| n.plan.variants.get(usize::from(i))) else { return n.clone() };
    let c = &n.content;
    let content = Content {
        title: v.title.clone(),
        body: v.body.clone().or(c.body.clone()),
        icon: v.icon.clone().or(c.icon.clone()),
        image: v.image.clone().or(c.image.clone()),
        url: v.url.clone().or(c.url.clone()),
        ..c.clone()
    };
    Notification { content, variant, ..n.clone() }
}

fn winner_key(ws: &WorkspaceId, site: &SiteId, id: &NotificationId) -> Key {
    Key::new(format!("WS#{ws}#SITE#{site}#NOTIF#{id}"), "WINNER")
}

#[derive(Serialize, Deserialize)]
struct Winner {
    variant: u8,
}

/// The variant a deliver job sends: its own, or the winner for the rest of a test.
pub async fn resolve(state: &AppState, ws: &WorkspaceId, n: &Notification, variant: Option<u8>) -> Result<Option<u8>, ApiError> {
    match variant {
        Some(WINNER) => Ok(Some(winner(state, ws, n).await?)),
        v => Ok(v),
    }
}

/// Per-variant counter names.
pub fn counter(variant: u8, what: &str) -> String {
    format!("v{variant}_{what}")
}

/// The test's winner: read, or decided now from the variants' counters and stored once (a concurrent
/// decision loses its put and reads the first one).
pub async fn winner(state: &AppState, ws: &WorkspaceId, n: &Notification) -> Result<u8, ApiError> {
    let key = winner_key(ws, &n.site_id, &n.id);
    if let Some(item) = state.table.get(&key).await? {
        return Ok(item.parse::<Winner>()?.variant);
    }
    let record = state.table.get(&notification_key(ws, &n.site_id, &n.id)).await?.ok_or_else(|| ApiError::NotFound("no such notification".into()))?;
    let count = |name: String| record.attrs.get(&name).and_then(|v| v.as_i64()).unwrap_or(0);
    let results: Vec<(i64, i64)> = (0..n.plan.variants.len() as u8).map(|i| (count(counter(i, "targeted")), count(counter(i, "clicks")))).collect();
    let variant = pick_winner(&results);
    match state.table.put(Item::of(key.clone(), &Winner { variant }), Condition::NotExists).await {
        Ok(()) => {
            tracing::info!(notification = %n.id, variant, ?results, "A/B test winner chosen");
            Ok(variant)
        }
        Err(TableError::ConditionFailed) => Ok(state.table.get(&key).await?.ok_or_else(|| ApiError::Internal("winner vanished".into()))?.parse::<Winner>()?.variant),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(percent: u8, title: &str) -> Variant {
        Variant { percent, title: title.into(), body: None, icon: None, image: None, url: None }
    }

    #[test]
    fn the_split_is_within_five_points_over_a_thousand_subscribers_and_stable() {
        let n = NotificationId::new(ulid::Ulid::from_parts(1_700_000_000_000, 42));
        let variants = [v(50, "A"), v(30, "B"), v(20, "C")];
        let subs: Vec<String> = (0..1000).map(|i| crate::auth::tokens::token_hash(&format!("https://fcm.googleapis.com/fcm/send/{i}"))[..32].to_owned()).collect();
        let mut counts = [0i32; 3];
        for s in &subs {
            counts[usize::from(variant_of(&n, s, &variants))] += 1;
        }
        for (got, want) in counts.iter().zip([500, 300, 200]) {
            assert!((got - want).abs() <= 50, "{counts:?}: each within ±5 % of 1000");
        }
        assert!(subs.iter().all(|s| variant_of(&n, s, &variants) == variant_of(&n, s, &variants)), "deterministic per subscriber");
        let test = TestFirst { test_percent: 20, wait_minutes: 60 };
        let in_test = subs.iter().filter(|s| assign(&n, s, &variants, Some(&test)) != Some(WINNER)).count() as i32;
        assert!((in_test - 200).abs() <= 50, "{in_test} in a 20 % test share");
    }

    #[test]
    fn the_winner_is_the_best_click_rate_not_the_most_clicks() {
        assert_eq!(pick_winner(&[(100, 10), (20, 5)]), 1, "25 % beats 10 %");
        assert_eq!(pick_winner(&[(100, 3), (100, 9), (100, 4)]), 1);
        assert_eq!(pick_winner(&[(50, 0), (50, 0)]), 0, "no clicks: the first variant");
        assert_eq!(pick_winner(&[(0, 0), (10, 1)]), 1, "a variant nobody got has no rate");
    }

    #[test]
    fn a_variant_replaces_the_content_and_is_named_in_the_payload() {
        let n: Notification = serde_json::from_value(serde_json::json!({
            "id": NotificationId::new(ulid::Ulid::nil()), "site_id": SiteId::new(ulid::Ulid::nil()), "title": "Base", "body": "base body",
            "url": "https://shop.example.com/base", "icon": "https://shop.example.com/i.png", "target": {"type": "all"}, "ttl_seconds": 60,
            "urgency": "normal", "topic": null, "created_at": "", "created_by": "",
            "variants": [{"percent": 50, "title": "A"}, {"percent": 50, "title": "B", "body": "b body", "url": "https://shop.example.com/b"}],
        }))
        .unwrap();
        let b = with_variant(&n, Some(1));
        assert_eq!((b.content.title.as_str(), b.content.body.as_deref(), b.content.url.as_deref()), ("B", Some("b body"), Some("https://shop.example.com/b")));
        assert_eq!(b.content.icon, n.content.icon, "a variant without an icon keeps the notification's");
        let a = with_variant(&n, Some(0));
        assert_eq!((a.content.title.as_str(), a.content.body, a.content.url), ("A", n.content.body.clone(), n.content.url.clone()), "nor a body or url: the notification's");
        assert_eq!(with_variant(&n, None).content, n.content, "no variant: unchanged");
        assert_eq!(with_variant(&n, Some(7)).content, n.content, "an out-of-range variant is ignored");
        let site: crate::push::sites::Site = serde_json::from_value(serde_json::json!({
            "id": SiteId::new(ulid::Ulid::nil()), "name": "Shop", "allowed_origins": [], "contact": "mailto:ops@example.com", "vapid_public_key": "k",
            "default_icon": null, "ttl_seconds": 60, "urgency": "normal", "created_at": "",
        }))
        .unwrap();
        let shown: serde_json::Value = serde_json::from_slice(&crate::push::notifications::payload(&site, &b)).unwrap();
        assert_eq!((shown["title"].as_str(), shown["data"]["variant"].as_u64()), (Some("B"), Some(1)), "the service worker reports clicks against it");
    }

    #[test]
    fn splits_are_checked() {
        assert!(validate(&[v(50, "A"), v(50, "B")], Some(&TestFirst { test_percent: 20, wait_minutes: 60 })).is_ok());
        assert!(validate(&[v(60, "A"), v(50, "B")], None).is_err(), "adds up to 110");
        assert!(validate(&[v(100, "A")], None).is_err(), "one variant is no test");
        assert!(validate(&[v(50, "A"), v(50, "")], None).is_err());
        assert!(validate(&[v(50, "A"), v(50, "B")], Some(&TestFirst { test_percent: 100, wait_minutes: 60 })).is_err());
        assert!(validate(&[], Some(&TestFirst { test_percent: 20, wait_minutes: 60 })).is_err());
    }
}
