//! The progress record of one deliver job (`…#NOTIF#<id>`/`JOB#<job>`): which subscribers already got a
//! final answer, whether the job is finished, and who holds it. Every change to it is written in one
//! transaction with the counters it accounts for, conditional on the version read, so a redelivered or
//! duplicated job never re-sends to a subscriber with a final answer and never counts anything twice.
//! Answered subscribers are stored by the first `DONE_ID_CHARS` hex digits of their id (48 bits of a
//! SHA-256): a job's record is rewritten with every group of answers, and its size is what DynamoDB bills
//! each write by. Two subscribers of one job sharing a prefix (about 1 in 2·10⁹ for 500) would only matter
//! on a retry, where the second would be taken as answered.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::notifications::{notification_key, NotificationId};
use super::sites::SiteId;
use crate::auth::WorkspaceId;
use crate::ports::{Condition, Item, Key, TableError, TxWrite};
use crate::state::AppState;
use crate::worker::JobError;

/// How long a claim on a job holds without being renewed (the push-send queue's visibility timeout).
pub const LEASE_SECS: i64 = 120;
/// Progress records outlive any retry of their job.
const KEEP_SECS: i64 = 7 * 86_400;
/// Hex digits of a subscriber id kept in a job's done set.
pub const DONE_ID_CHARS: usize = 12;

fn done_id(subscriber: &str) -> String {
    subscriber.get(..DONE_ID_CHARS).unwrap_or(subscriber).to_owned()
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
struct Stored {
    done: BTreeSet<String>,
    finished: bool,
    owner: Option<String>,
    lease_until: i64,
}

/// A claimed job: the caller holds its lease until it commits `finish` or `release`s it.
#[derive(Debug)]
pub struct Progress {
    key: Key,
    counters: Key,
    /// A second record the same counters are added to (a drip step's or schedule's stats).
    mirror: Option<Box<Key>>,
    version: u64,
    stored: Stored,
    /// Workspace and ids for the live `notification.stats` event sent after counters move.
    live: Box<(WorkspaceId, serde_json::Value)>,
    /// Where the analytics buckets mirroring these counters go (added in the same transaction).
    rollup: Box<crate::analytics::rollup::Scope>,
    /// The A/B variant the job's subscribers got, for its `v<i>_accepted` counter.
    variant: Option<u8>,
}

/// Why a job cannot be worked on now.
#[derive(Debug)]
pub enum Claim {
    Claimed(Progress),
    /// Finished earlier (a redelivery or a duplicate of the job): nothing to do.
    Finished,
    /// Another execution holds the lease for this many more seconds.
    Held(i64),
}

/// Who runs this execution: `<process instance>/<queue message id>`. A retry of the same message (after a
/// failed write, say) holds the lease it left behind; another copy of the job is another message.
pub fn owner_id(state: &AppState, message_id: &str) -> String {
    format!("{}/{message_id}", state.push.instance)
}

fn instance_of(owner: &str) -> &str {
    owner.split_once('/').map_or(owner, |(i, _)| i)
}

impl Progress {
    /// Reads the job's record and takes its lease (creating the record on first run).
    pub async fn claim(state: &AppState, ws: &WorkspaceId, site: &SiteId, id: &NotificationId, job: &str, owner: &str) -> Result<Claim, JobError> {
        let key = Key::new(format!("WS#{ws}#SITE#{site}#NOTIF#{id}"), format!("JOB#{job}"));
        let now = state.clock.epoch_seconds();
        let live = Box::new((ws.clone(), serde_json::json!({"site_id": site, "notification_id": id})));
        let rollup = Box::new(crate::analytics::rollup::Scope { workspace: ws.clone(), site: site.clone(), notification: id.clone() });
        // Most jobs run once: create the record outright and read it only when it exists already.
        let stored = Stored { owner: Some(owner.to_owned()), lease_until: now + LEASE_SECS, ..Stored::default() };
        let mut progress = Progress { key: key.clone(), counters: notification_key(ws, site, id), mirror: None, version: 0, stored, live: live.clone(), rollup: rollup.clone(), variant: None };
        match progress.write(state, Condition::NotExists, Vec::new()).await {
            Ok(()) => return Ok(Claim::Claimed(progress)),
            Err(TableError::ConditionFailed | TableError::TransactionCancelled { .. }) => {}
            Err(e) => return Err(JobError::retry(e)),
        }
        let found = state.table.get(&key).await.map_err(JobError::retry)?;
        let (version, stored) = match &found {
            Some(item) => (item.version, item.parse::<Stored>().map_err(|e| JobError::Permanent(e.to_string()))?),
            None => (0, Stored::default()),
        };
        if stored.finished {
            return Ok(Claim::Finished);
        }
        if let Some(holder) = &stored.owner {
            // The local binary is the only process on its data dir: a lease of another instance belongs to
            // a process that died (kill -9), so it need not be waited out.
            let dead = state.push.sole_process && instance_of(holder) != state.push.instance.as_str();
            if stored.lease_until > now && !dead && holder != owner {
                return Ok(Claim::Held(stored.lease_until - now));
            }
        }
        let mut progress = Progress { key, counters: notification_key(ws, site, id), mirror: None, version, stored, live, rollup, variant: None };
        progress.stored.owner = Some(owner.to_owned());
        progress.stored.lease_until = now + LEASE_SECS;
        let condition = if found.is_some() { Condition::VersionIs(version) } else { Condition::NotExists };
        match progress.write(state, condition, Vec::new()).await {
            Ok(()) => Ok(Claim::Claimed(progress)),
            Err(TableError::ConditionFailed | TableError::TransactionCancelled { .. }) => Ok(Claim::Held(1)),
            Err(e) => Err(JobError::retry(e)),
        }
    }

    /// Adds every later commit's counters (bookkeeping aside) to `key` too.
    pub fn mirror_to(&mut self, key: Option<Key>) {
        self.mirror = key.map(Box::new);
    }

    /// Names the variant (resolved, never `ab::WINNER`) the job sends, so its accepted pushes count for it.
    pub fn set_variant(&mut self, variant: Option<u8>) {
        self.variant = variant.filter(|v| *v != super::ab::WINNER);
    }

    /// True when the subscriber has a final answer (records written before ids were shortened hold whole ids).
    pub fn is_done(&self, subscriber: &str) -> bool {
        self.stored.done.contains(&done_id(subscriber)) || self.stored.done.contains(subscriber)
    }

    /// True when the lease runs out within half its length (so a long job renews it).
    pub fn lease_ageing(&self, state: &AppState) -> bool {
        self.stored.lease_until - state.clock.epoch_seconds() < LEASE_SECS / 2
    }

    /// Records final answers and adds their counters, in one transaction; renews the lease.
    /// `Err(LeaseLost)` when another execution took the job over meanwhile.
    pub async fn record(&mut self, state: &AppState, answered: Vec<String>, deltas: Vec<(String, i64)>) -> Result<(), Lost> {
        self.stored.done.extend(answered.iter().map(|a| done_id(a)));
        self.stored.lease_until = state.clock.epoch_seconds() + LEASE_SECS;
        self.commit(state, deltas).await
    }

    /// Marks the job finished (with its last counters): every later copy of it does nothing.
    /// The done set is dropped: nothing reads it once the job is finished, and the write is billed by size.
    pub async fn finish(&mut self, state: &AppState, _answered: Vec<String>, deltas: Vec<(String, i64)>) -> Result<(), Lost> {
        self.stored.finished = true;
        self.stored.owner = None;
        self.stored.done.clear();
        self.commit(state, deltas).await
    }

    /// Records the last answers and gives the lease up (the job will be retried).
    pub async fn release(&mut self, state: &AppState, answered: Vec<String>, deltas: Vec<(String, i64)>) -> Result<(), Lost> {
        self.stored.owner = None;
        self.stored.lease_until = 0;
        self.stored.done.extend(answered.iter().map(|a| done_id(a)));
        self.commit(state, deltas).await
    }

    async fn commit(&mut self, state: &AppState, deltas: Vec<(String, i64)>) -> Result<(), Lost> {
        match self.write(state, Condition::VersionIs(self.version), deltas).await {
            Ok(()) => Ok(()),
            Err(TableError::ConditionFailed | TableError::TransactionCancelled { index: 0 }) => Err(Lost::Lease),
            Err(e) => Err(Lost::Table(e)),
        }
    }

    async fn write(&mut self, state: &AppState, condition: Condition, deltas: Vec<(String, i64)>) -> Result<(), TableError> {
        let next = self.version + 1;
        let item = Item::of(self.key.clone(), &self.stored).with_version(next).with_expiry(state.clock.epoch_seconds() + KEEP_SECS);
        let mut deltas: Vec<(String, i64)> = deltas.into_iter().filter(|(_, d)| *d != 0).collect();
        let moved = !deltas.is_empty();
        if moved {
            let mut writes = vec![TxWrite::Put { item, condition }];
            if let Some(mirror) = &self.mirror {
                let shown: Vec<(String, i64)> = deltas.iter().filter(|(k, _)| k != "jobs_done").cloned().collect();
                if !shown.is_empty() {
                    writes.push(TxWrite::Add { key: (**mirror).clone(), deltas: shown });
                }
            }
            // The rollups ride in this transaction, so they move exactly when the counters do.
            writes.extend(crate::analytics::rollup::delivery_writes(&self.rollup, state.clock.now(), &deltas));
            if let Some(v) = self.variant {
                let accepted = deltas.iter().filter(|(k, _)| k == "accepted").map(|(_, d)| d).sum::<i64>();
                if accepted != 0 {
                    deltas.push((super::ab::counter(v, "accepted"), accepted));
                }
            }
            writes.push(TxWrite::Add { key: self.counters.clone(), deltas });
            state.table.transact(writes).await?;
        } else {
            // A plain conditional put: half the write units of a one-item transaction.
            state.table.put(item, condition).await?;
        }
        self.version = next;
        if moved {
            crate::live::notify(state, &self.live.0, "notification.stats", self.live.1.clone()).await;
        }
        Ok(())
    }
}

/// A commit that did not land.
#[derive(Debug, thiserror::Error)]
pub enum Lost {
    /// Another execution holds the job now; it will finish it.
    #[error("the job's lease passed to another execution")]
    Lease,
    #[error(transparent)]
    Table(TableError),
}
