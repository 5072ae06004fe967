//! Invocations cut off between their actions: a trigger with several actions logs its invocation as
//! `running` (with its dedupe claim) before the first, so a process that dies meanwhile would leave it
//! `running` for good, and the sender's retry would be answered as a duplicate. Each such log carries a
//! marker that ending the invocation removes; the minute tick ends the invocations whose marker outlived
//! [`INTERRUPTED_AFTER_MS`] as `failed`, saying so, so that every invocation's status reaches its end and
//! the workspace hears of it (`trigger.failed`). Which actions ran before the cut is unknown; a replay
//! runs them all again.

use serde::{Deserialize, Serialize};

use super::run::{invocation_key, report_failure, Invocation, InvocationStatus};
use super::types::{InvocationId, Trigger, TriggerId};
use crate::auth::WorkspaceId;
use crate::http::ApiError;
use crate::ports::{Condition, Item, Key, Query, TxWrite};
use crate::state::AppState;

/// Where the markers live, sorted by the time their invocation was logged.
pub const PARTITION: &str = "TRIGGERS#running";
/// A `running` invocation this old was cut off: its actions take seconds, not minutes.
pub const INTERRUPTED_AFTER_MS: i64 = 15 * 60_000;
/// Markers ended per sweep (the next minute takes the rest).
const PER_SWEEP: u32 = 100;
const INTERRUPTED: &str = "interrupted: the process stopped before the actions finished (some may have run); replay it to run them again";

#[derive(Serialize, Deserialize)]
struct Marker {
    workspace: WorkspaceId,
    trigger: TriggerId,
    invocation: InvocationId,
}

/// The marker stored with a `running` log at `now_ms`.
pub(super) fn marker(now_ms: i64, ws: &WorkspaceId, inv: &Invocation) -> Item {
    let m = Marker { workspace: ws.clone(), trigger: inv.trigger_id.clone(), invocation: inv.id.clone() };
    Item::of(Key::new(PARTITION, format!("{now_ms:013}#{}", inv.id)), &m)
}

/// Ends as `failed` the invocations whose marker is older than [`INTERRUPTED_AFTER_MS`] and removes
/// their markers; returns how many markers it removed. An invocation that ended meanwhile is left as it is.
pub async fn sweep(state: &AppState) -> Result<usize, ApiError> {
    let cutoff = format!("{:013}", state.clock.now().timestamp_millis() - INTERRUPTED_AFTER_MS);
    let page = state.table.query(Query::partition(PARTITION).between("0", format!("{cutoff}~")).limit(PER_SWEEP)).await?;
    for item in &page.items {
        let m: Marker = item.parse()?;
        let key = invocation_key(&m.workspace, &m.trigger, &m.invocation);
        let mut writes = vec![TxWrite::Delete { key: item.key.clone(), condition: Condition::None }];
        let mut ended = None;
        if let Some(stored) = state.table.get(&key).await? {
            let mut inv: Invocation = stored.parse()?;
            if inv.status == InvocationStatus::Running {
                inv.status = InvocationStatus::Failed;
                inv.error = Some(INTERRUPTED.into());
                let mut failed = Item::of(key, &inv).with_version(stored.version + 1);
                failed.expires_at = stored.expires_at;
                writes.push(TxWrite::Put { item: failed, condition: Condition::VersionIs(stored.version) });
                ended = Some(inv);
            }
        }
        state.table.transact(writes).await?;
        if let Some(inv) = ended {
            let name = super::store::load_item(state, &m.workspace, &m.trigger).await.ok().and_then(|t| t.parse::<Trigger>().ok()).map(|t| t.name).unwrap_or_default();
            report_failure(state, &m.workspace, &m.trigger, &name, &inv).await;
        }
    }
    Ok(page.items.len())
}

#[cfg(all(test, feature = "embedded"))]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::ports::{Clock, FixedClock};

    fn state(clock: Arc<FixedClock>) -> AppState {
        AppState::in_memory_for_tests(clock)
    }

    fn running(clock: &FixedClock) -> Invocation {
        Invocation {
            id: InvocationId::new(ulid::Ulid::new()),
            trigger_id: TriggerId::new(ulid::Ulid::new()),
            received_at: clock.now().to_rfc3339(),
            status: InvocationStatus::Running,
            verification: "ok".into(),
            idempotency_key: Some("msg_1".into()),
            error: None,
            rendered: vec![],
            outcomes: vec![],
            payload: None,
            replay_of: None,
        }
    }

    /// What a process that died between the actions left: the `running` log and its marker.
    async fn cut_off(state: &AppState, ws: &WorkspaceId, inv: &Invocation) {
        let log = Item::of(invocation_key(ws, &inv.trigger_id, &inv.id), inv).with_expiry(state.clock.now().timestamp() + 86_400);
        let marker = marker(state.clock.now().timestamp_millis(), ws, inv);
        state.table.transact(vec![TxWrite::Put { item: log, condition: Condition::NotExists }, TxWrite::Put { item: marker, condition: Condition::NotExists }]).await.unwrap();
    }

    async fn status(state: &AppState, ws: &WorkspaceId, inv: &Invocation) -> Invocation {
        state.table.get(&invocation_key(ws, &inv.trigger_id, &inv.id)).await.unwrap().unwrap().parse().unwrap()
    }

    #[tokio::test]
    async fn a_running_log_outliving_the_grace_is_ended_as_failed_once() {
        let clock = Arc::new(FixedClock::new(chrono::Utc::now()));
        let state = state(clock.clone());
        let ws = WorkspaceId::new(ulid::Ulid::new());
        let (cut, ended) = (running(&clock), running(&clock));
        cut_off(&state, &ws, &cut).await;
        cut_off(&state, &ws, &ended).await;
        // `ended` finished after all, as `finish` stores it, but (say) its marker delete was lost.
        let mut fired = ended.clone();
        fired.status = InvocationStatus::Fired;
        state.table.put(Item::of(invocation_key(&ws, &fired.trigger_id, &fired.id), &fired).with_version(2), Condition::None).await.unwrap();

        clock.advance(chrono::Duration::minutes(14));
        assert_eq!(sweep(&state).await.unwrap(), 0, "within the grace nothing is touched");
        assert_eq!(status(&state, &ws, &cut).await.status, InvocationStatus::Running);

        clock.advance(chrono::Duration::minutes(2));
        assert_eq!(sweep(&state).await.unwrap(), 2);
        let after = status(&state, &ws, &cut).await;
        assert_eq!(after.status, InvocationStatus::Failed);
        assert!(after.error.as_deref().unwrap().starts_with("interrupted"), "{:?}", after.error);
        assert_eq!(after.idempotency_key.as_deref(), Some("msg_1"), "the rest of the log is kept");
        assert_eq!(status(&state, &ws, &ended).await.status, InvocationStatus::Fired, "an ended invocation is left as it ended");
        assert_eq!(sweep(&state).await.unwrap(), 0, "markers are gone: nothing is ended twice");
        assert!(state.table.query(Query::partition(PARTITION)).await.unwrap().items.is_empty());
    }
}
