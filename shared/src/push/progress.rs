//! The progress record of one deliver job (`…#NOTIF#<id>`/`JOB#<job>`): which subscribers already got a
//! final answer, the counters those answers add up to, whether the job is finished, and who holds it.
//! Answers are checkpointed in groups by a plain conditional put of this one item (done set and the
//! answers' counter deltas together, conditional on the version read); the deltas are added to the
//! notification's counters, rollups and mirror only by a publishing commit — the finish, a release, or a
//! checkpoint of a long job — in one transaction with the record that clears them. So a redelivered or
//! duplicated job never re-sends to a subscriber with a final answer and never counts anything twice,
//! and a job costs one transaction, not one per group.
//! Answered subscribers are stored by the first 48 bits of their id (a SHA-256), packed (6 bytes each,
//! base64url) because each checkpoint is billed by the record's size. Two subscribers of one job sharing
//! a prefix (about 1 in 2·10⁹ for 500) would only matter on a retry, where the second would be taken as
//! answered.

use std::collections::{BTreeMap, BTreeSet};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
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
/// Bytes of a subscriber id's prefix kept in a job's done set (12 hex digits).
const DONE_BYTES: usize = 6;
/// A checkpoint also publishes its counters when the last publish is this old, so the stats of a long
/// job (a slow push service) still move while it runs.
const PUBLISH_INTERVAL: std::time::Duration = std::time::Duration::from_secs(30);

/// The done-set key of a subscriber id: its first 48 bits (ids are hex SHA-256 digests; anything else is
/// hashed first).
fn done_key(subscriber: &str) -> u64 {
    let hex = match subscriber.get(..2 * DONE_BYTES) {
        Some(h) if h.bytes().all(|b| b.is_ascii_hexdigit()) => h.to_owned(),
        _ => crate::auth::tokens::token_hash(subscriber)[..2 * DONE_BYTES].to_owned(),
    };
    u64::from_str_radix(&hex, 16).unwrap_or_default()
}

fn pack(done: &BTreeSet<u64>) -> String {
    let bytes: Vec<u8> = done.iter().flat_map(|k| k.to_be_bytes()[8 - DONE_BYTES..].to_vec()).collect();
    URL_SAFE_NO_PAD.encode(bytes)
}

fn unpack(packed: &str) -> Result<BTreeSet<u64>, String> {
    let bytes = URL_SAFE_NO_PAD.decode(packed).map_err(|e| format!("done set: {e}"))?;
    if bytes.len() % DONE_BYTES != 0 {
        return Err("done set: not whole entries".into());
    }
    Ok(bytes.chunks(DONE_BYTES).map(|c| c.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b))).collect())
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
struct Stored {
    /// Answered subscribers, packed (see `pack`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    answered: String,
    /// Answered subscribers as hex id prefixes (or whole ids): records written before packing.
    #[serde(default, skip_serializing)]
    done: BTreeSet<String>,
    finished: bool,
    owner: Option<String>,
    lease_until: i64,
    /// Counter deltas of checkpointed answers not yet added to the notification's counters.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    unpublished: BTreeMap<String, i64>,
}

/// The answered subscribers a progress item records, as 12-hex-digit id prefixes (for tests and tools
/// that read the data dir).
pub fn answered_prefixes(item: &Item) -> Result<Vec<String>, TableError> {
    let stored: Stored = item.parse()?;
    let mut keys = unpack(&stored.answered).map_err(TableError::Corrupt)?;
    keys.extend(stored.done.iter().map(|d| done_key(d)));
    Ok(keys.iter().map(|k| format!("{k:0width$x}", width = 2 * DONE_BYTES)).collect())
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
    /// The done set, unpacked.
    done: BTreeSet<u64>,
    /// When counters were last published (or the job claimed).
    published_at: tokio::time::Instant,
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
    Claimed(Box<Progress>),
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
    fn new(key: Key, counters: Key, version: u64, stored: Stored, done: BTreeSet<u64>, live: Box<(WorkspaceId, serde_json::Value)>, rollup: Box<crate::analytics::rollup::Scope>) -> Self {
        Progress { key, counters, mirror: None, version, stored, done, published_at: tokio::time::Instant::now(), live, rollup, variant: None }
    }

    /// Reads the job's record and takes its lease (creating the record on first run).
    pub async fn claim(state: &AppState, ws: &WorkspaceId, site: &SiteId, id: &NotificationId, job: &str, owner: &str) -> Result<Claim, JobError> {
        let key = Key::new(format!("WS#{ws}#SITE#{site}#NOTIF#{id}"), format!("JOB#{job}"));
        let now = state.clock.epoch_seconds();
        let live = Box::new((ws.clone(), serde_json::json!({"site_id": site, "notification_id": id})));
        let rollup = Box::new(crate::analytics::rollup::Scope { workspace: ws.clone(), site: site.clone(), notification: id.clone() });
        // Most jobs run once: create the record outright and read it only when it exists already.
        let stored = Stored { owner: Some(owner.to_owned()), lease_until: now + LEASE_SECS, ..Stored::default() };
        let mut progress = Progress::new(key.clone(), notification_key(ws, site, id), 0, stored, BTreeSet::new(), live.clone(), rollup.clone());
        match progress.commit_raw(state, Condition::NotExists, false).await {
            Ok(()) => return Ok(Claim::Claimed(Box::new(progress))),
            Err(TableError::ConditionFailed | TableError::TransactionCancelled { .. }) => {}
            Err(e) => return Err(JobError::retry(e)),
        }
        // Strongly consistent: the version read is the condition of the next write.
        let found = state.table.get(&key).await.map_err(JobError::retry)?;
        let (version, mut stored) = match &found {
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
        let mut done = unpack(&stored.answered).map_err(JobError::Permanent)?;
        done.extend(std::mem::take(&mut stored.done).iter().map(|d| done_key(d)));
        let mut progress = Progress::new(key, notification_key(ws, site, id), version, stored, done, live, rollup);
        progress.stored.owner = Some(owner.to_owned());
        progress.stored.lease_until = now + LEASE_SECS;
        let condition = if found.is_some() { Condition::VersionIs(version) } else { Condition::NotExists };
        match progress.commit_raw(state, condition, false).await {
            Ok(()) => Ok(Claim::Claimed(Box::new(progress))),
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

    /// True when the subscriber has a final answer.
    pub fn is_done(&self, subscriber: &str) -> bool {
        self.done.contains(&done_key(subscriber))
    }

    /// True when the lease runs out within half its length (so a long job renews it).
    pub fn lease_ageing(&self, state: &AppState) -> bool {
        self.stored.lease_until - state.clock.epoch_seconds() < LEASE_SECS / 2
    }

    fn take(&mut self, answered: &[String], deltas: Vec<(String, i64)>) {
        self.done.extend(answered.iter().map(|a| done_key(a)));
        for (k, d) in deltas {
            *self.stored.unpublished.entry(k).or_default() += d;
        }
    }

    /// Checkpoints final answers and their counters (a plain put of this record; the counters are
    /// published when the last publish is `PUBLISH_INTERVAL` old); renews the lease.
    /// `Err(LeaseLost)` when another execution took the job over meanwhile.
    pub async fn record(&mut self, state: &AppState, answered: Vec<String>, deltas: Vec<(String, i64)>) -> Result<(), Lost> {
        self.take(&answered, deltas);
        self.stored.lease_until = state.clock.epoch_seconds() + LEASE_SECS;
        let publish = self.published_at.elapsed() >= PUBLISH_INTERVAL;
        self.commit(state, publish).await
    }

    /// Marks the job finished and publishes every counter it holds: every later copy of it does nothing.
    /// The done set is dropped: nothing reads it once the job is finished, and the write is billed by size.
    pub async fn finish(&mut self, state: &AppState, answered: Vec<String>, deltas: Vec<(String, i64)>) -> Result<(), Lost> {
        self.take(&answered, deltas);
        self.stored.finished = true;
        self.stored.owner = None;
        self.done.clear();
        self.commit(state, true).await
    }

    /// Records the last answers, publishes the counters and gives the lease up (the job will be retried).
    pub async fn release(&mut self, state: &AppState, answered: Vec<String>, deltas: Vec<(String, i64)>) -> Result<(), Lost> {
        self.take(&answered, deltas);
        self.stored.owner = None;
        self.stored.lease_until = 0;
        self.commit(state, true).await
    }

    async fn commit(&mut self, state: &AppState, publish: bool) -> Result<(), Lost> {
        match self.commit_raw(state, Condition::VersionIs(self.version), publish).await {
            Ok(()) => Ok(()),
            Err(TableError::ConditionFailed | TableError::TransactionCancelled { index: 0 }) => Err(Lost::Lease),
            Err(e) => Err(Lost::Table(e)),
        }
    }

    /// Writes the record; with `publish`, adds its unpublished counters in the same transaction and
    /// clears them. Without counters to add it is a plain conditional put (half the write units of a
    /// one-item transaction).
    async fn commit_raw(&mut self, state: &AppState, condition: Condition, publish: bool) -> Result<(), TableError> {
        let next = self.version + 1;
        let mut stored = self.stored.clone();
        stored.answered = pack(&self.done);
        let mut deltas: Vec<(String, i64)> = Vec::new();
        if publish {
            deltas = std::mem::take(&mut stored.unpublished).into_iter().filter(|(_, d)| *d != 0).collect();
        }
        let item = Item::of(self.key.clone(), &stored).with_version(next).with_expiry(state.clock.epoch_seconds() + KEEP_SECS);
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
            state.table.put(item, condition).await?;
        }
        self.version = next;
        self.stored = stored;
        if publish {
            self.published_at = tokio::time::Instant::now();
        }
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

#[cfg(all(test, feature = "embedded"))]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::ports::FixedClock;

    fn state(clock: Arc<FixedClock>) -> AppState {
        AppState::in_memory_for_tests(clock)
    }

    struct Job {
        state: AppState,
        clock: Arc<FixedClock>,
        ids: (WorkspaceId, SiteId, NotificationId),
        subs: Vec<String>,
    }

    impl Job {
        fn new() -> Self {
            let clock = Arc::new(FixedClock::new(chrono::Utc::now()));
            let ids = (WorkspaceId::new(ulid::Ulid::new()), SiteId::new(ulid::Ulid::new()), NotificationId::new(ulid::Ulid::new()));
            let subs = (0..4).map(|i| crate::auth::tokens::token_hash(&format!("sub-{i}"))).collect();
            Job { state: state(clock.clone()), clock, ids, subs }
        }

        async fn claim(&self, message: &str) -> Claim {
            let (ws, site, id) = &self.ids;
            Progress::claim(&self.state, ws, site, id, "00-0", &owner_id(&self.state, message)).await.unwrap()
        }

        async fn claimed(&self, message: &str) -> Box<Progress> {
            match self.claim(message).await {
                Claim::Claimed(p) => p,
                other => panic!("not claimed: {other:?}"),
            }
        }

        async fn accepted(&self) -> i64 {
            let (ws, site, id) = &self.ids;
            let item = self.state.table.get(&notification_key(ws, site, id)).await.unwrap();
            item.and_then(|i| i.attrs.get("accepted").and_then(|v| v.as_i64())).unwrap_or(0)
        }

        fn answers(&self, range: std::ops::Range<usize>) -> (Vec<String>, Vec<(String, i64)>) {
            (self.subs[range.clone()].to_vec(), vec![("accepted".to_owned(), range.len() as i64)])
        }
    }

    #[tokio::test]
    async fn a_checkpoint_then_a_crash_then_a_resume_counts_each_answer_once() {
        let job = Job::new();
        let mut first = job.claimed("msg-a").await;
        let (answered, deltas) = job.answers(0..2);
        first.record(&job.state, answered, deltas).await.unwrap();
        assert_eq!(job.accepted().await, 0, "a checkpoint carries its counter deltas, it does not publish them");

        // The first execution dies here (kill -9). Its lease is waited out, then another copy resumes.
        assert!(matches!(job.claim("msg-b").await, Claim::Held(_)), "a live lease is not taken over");
        job.clock.advance(chrono::Duration::seconds(LEASE_SECS + 1));
        let mut second = job.claimed("msg-b").await;
        assert!(job.subs[..2].iter().all(|s| second.is_done(s)), "the checkpointed answers are not sent again");
        assert!(job.subs[2..].iter().all(|s| !second.is_done(s)), "the rest still are");

        // Had the first execution survived, its commit would no longer land (nor count).
        let (answered, deltas) = job.answers(0..4);
        assert!(matches!(first.finish(&job.state, answered, deltas).await, Err(Lost::Lease)));
        assert_eq!(job.accepted().await, 0);

        let (answered, deltas) = job.answers(2..4);
        second.finish(&job.state, answered, deltas).await.unwrap();
        assert_eq!(job.accepted().await, 4, "the checkpoint's deltas are published with the finish, once");
        assert!(matches!(job.claim("msg-c").await, Claim::Finished), "a redelivery of the finished job does nothing");
        assert_eq!(job.accepted().await, 4);
    }

    #[tokio::test]
    async fn a_release_publishes_its_counters_and_the_retry_adds_only_its_own() {
        let job = Job::new();
        let mut first = job.claimed("msg-a").await;
        let (answered, deltas) = job.answers(0..1);
        first.record(&job.state, answered, deltas).await.unwrap();
        let (answered, deltas) = job.answers(1..3);
        first.release(&job.state, answered, deltas).await.unwrap();
        assert_eq!(job.accepted().await, 3, "a release publishes the checkpoint's deltas and its own");

        let mut retry = job.claimed("msg-a").await;
        assert!(job.subs[..3].iter().all(|s| retry.is_done(s)) && !retry.is_done(&job.subs[3]));
        let (answered, deltas) = job.answers(3..4);
        retry.finish(&job.state, answered, deltas).await.unwrap();
        assert_eq!(job.accepted().await, 4, "published deltas are cleared from the record, so the finish adds only its own");
    }

    #[test]
    fn done_sets_pack_six_bytes_per_subscriber() {
        let keys: BTreeSet<u64> = ["ab12cd34ef56", "000000000001", "ffffffffffff"].iter().map(|h| done_key(h)).collect();
        let packed = pack(&keys);
        assert_eq!(URL_SAFE_NO_PAD.decode(&packed).unwrap().len(), 3 * DONE_BYTES);
        assert_eq!(unpack(&packed).unwrap(), keys);
        assert_eq!(done_key("ab12cd34ef56789"), 0xab12cd34ef56, "a hex id is kept by its first 48 bits");
        assert_ne!(done_key("not-hex-at-all"), done_key("not-hex-at-all!"), "other ids are hashed first");
        assert!(unpack("AAAA").is_err(), "a partial entry is corrupt, not silently dropped");
    }
}
