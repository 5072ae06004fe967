//! The per-site frequency cap: at most N pushes per subscriber in any rolling 24 h, checked at deliver
//! time. Each subscriber has a small record of the notifications it was sent in the last day
//! (`…#FREQ#<subscriber>`), updated conditional on its version; a redelivered job finds its own
//! notification already there and is let through, so a retry is never capped by its own first try.
//! Transactional notifications neither check nor count.

use futures_util::StreamExt;
use serde::{Deserialize, Serialize};

use super::notifications::{Notification, Recipient};
use super::sites::{Site, SiteId};
use crate::auth::WorkspaceId;
use crate::http::ApiError;
use crate::ports::{Condition, Item, Key, TableError};
use crate::state::AppState;

const WINDOW_SECS: i64 = 86_400;
/// Conflicting writes to one subscriber's record (two deliver jobs at once) before giving up for a retry.
const TRIES: usize = 5;

#[derive(Debug, Default, Serialize, Deserialize)]
struct Recent {
    /// (notification id, epoch seconds sent), oldest first.
    sent: Vec<(String, i64)>,
}

fn key(ws: &WorkspaceId, site: &SiteId, subscriber: &str) -> Key {
    Key::new(format!("WS#{ws}#SITE#{site}#FREQ#{subscriber}"), "FREQ")
}

/// What a deliver job must not send: everything when the notification was cancelled (counted
/// `cancelled`), else the subscribers over the cap (`capped`). Returns (to send, held back, counter).
pub(crate) async fn gate(state: &AppState, ws: &WorkspaceId, site: &Site, n: &Notification, subs: Vec<Recipient>) -> Result<(Vec<Recipient>, Vec<Recipient>, &'static str), ApiError> {
    if n.is_cancelled() {
        return Ok((Vec::new(), subs, "cancelled"));
    }
    let (admitted, capped) = admit(state, ws, site, n, subs).await?;
    Ok((admitted, capped, "capped"))
}

/// Splits `subs` into those who may get `n` now (counted against their cap) and those capped.
pub(crate) async fn admit(state: &AppState, ws: &WorkspaceId, site: &Site, n: &Notification, subs: Vec<Recipient>) -> Result<(Vec<Recipient>, Vec<Recipient>), ApiError> {
    let Some(cap) = site.frequency_cap.filter(|_| !n.plan.transactional) else { return Ok((subs, Vec::new())) };
    let id = n.id.to_string();
    let answers: Vec<(Recipient, Result<bool, ApiError>)> = futures_util::stream::iter(subs)
        .map(|s| {
            let id = id.as_str();
            async move {
                let ok = admit_one(state, &key(ws, &site.id, &s.id), id, cap as usize).await;
                (s, ok)
            }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    let (mut admitted, mut capped) = (Vec::new(), Vec::new());
    for (s, ok) in answers {
        if ok? { admitted.push(s) } else { capped.push(s) }
    }
    Ok((admitted, capped))
}

async fn admit_one(state: &AppState, key: &Key, notification: &str, cap: usize) -> Result<bool, ApiError> {
    for _ in 0..TRIES {
        let now = state.clock.epoch_seconds();
        let found = state.table.get(key).await?;
        let (version, mut recent) = match &found {
            Some(item) => (Some(item.version), item.parse::<Recent>()?),
            None => (None, Recent::default()),
        };
        recent.sent.retain(|(_, at)| *at > now - WINDOW_SECS);
        if recent.sent.iter().any(|(n, _)| n == notification) {
            return Ok(true);
        }
        if recent.sent.len() >= cap {
            return Ok(false);
        }
        recent.sent.push((notification.to_owned(), now));
        let item = Item::of(key.clone(), &recent).with_expiry(now + WINDOW_SECS).with_version(version.map_or(1, |v| v + 1));
        let condition = version.map_or(Condition::NotExists, Condition::VersionIs);
        match state.table.put(item, condition).await {
            Ok(()) => return Ok(true),
            Err(TableError::ConditionFailed) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(ApiError::Unavailable("frequency cap record kept changing".into()))
}
