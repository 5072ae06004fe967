//! Notifications: the record is written first (with its counters), then fan-out jobs are queued: one over
//! all subscriber shards for a small site, one per shard for a large one. Each fan-out pages its shards, keeps the subscribers the target selects and queues deliver
//! jobs of up to 500 subscriptions of one push-service origin (their endpoint and keys carried in the job,
//! so delivery reads nothing per subscriber), with ids that a retried fan-out computes again; a deliver job encrypts and sends them concurrently and records each final answer with
//! its counters in its progress record (`progress.rs`), so nothing is sent or counted twice. Expired
//! subscriptions (404/410) are deleted; transient failures are retried with the push service's
//! Retry-After or backoff, up to `MAX_ATTEMPTS`. A notification is `completed` when every shard is fanned
//! out and every deliver job finished.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::crypto::MAX_PLAINTEXT;
use super::lifecycle;
use super::sites::{self, Site, SiteId};
use super::subscribers::{self, parse_tags, Subscriber, SHARDS};
use super::types::{parse_topic, PushSubscription, Urgency};
use crate::auth::types::prefixed_id;
use crate::auth::{Action, RequestMeta, Workspace, WorkspaceId};
use crate::http::ApiError;
use crate::ports::{Condition, Cursor, Item, Key, OutgoingMessage, Query, TxWrite};
use crate::state::AppState;
use crate::workspaces::audit;

prefixed_id!(NotificationId, "ntf_", "notification");

pub const MAX_ATTEMPTS: u32 = 5;
/// Most subscriptions one deliver job carries; fewer when their endpoints are long (see `JOB_BYTES`).
pub const DELIVER_BATCH: usize = 500;
/// A deliver job's body stays under this many bytes (one SQS message holds 256 KiB, and one
/// SendMessageBatch call 256 KiB in all).
const JOB_BYTES: usize = 200 * 1024;
/// Sites with at most this many subscribers are fanned out by one job over all shards (one job's reads
/// and one transaction instead of sixteen), larger ones by one job per shard, in parallel.
pub const SINGLE_FANOUT_MAX: i64 = 20_000;
pub const COUNTERS: [&str; 19] = ["targeted", "accepted", "failed_gone", "failed_too_large", "failed_transient", "failed_rejected", "impressions", "clicks", "unsubscribes", "shards_done", "jobs_total", "jobs_done", "cancelled", "capped", "dismissals", "conversions", "value_cents", "action1_clicks", "action2_clicks"];
/// Bookkeeping counters, not shown in `stats`.
const INTERNAL_COUNTERS: [&str; 3] = ["shards_done", "jobs_total", "jobs_done"];

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Target {
    All,
    Subscriber { id: String },
    ExternalId { external_id: String },
    /// Subscribers having any of the tags.
    Tags { tags: Vec<String> },
    /// Subscribers in a saved segment; its rules are snapshotted into the notification when sending.
    Segment {
        segment_id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schema(value_type = Option<Object>)]
        rules: Option<super::segment_rules::Rules>,
    },
    /// Subscribers the inline rules select (the segment rule format).
    Rules {
        #[schema(value_type = Object)]
        rules: super::segment_rules::Rules,
    },
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct NotificationAction {
    pub action: String,
    pub title: String,
    pub url: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct Content {
    pub title: String,
    pub body: Option<String>,
    pub url: Option<String>,
    pub icon: Option<String>,
    pub image: Option<String>,
    pub badge: Option<String>,
    #[serde(default)]
    pub actions: Vec<NotificationAction>,
    /// Stays on screen until the user acts on it (where the platform supports it).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub require_interaction: bool,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct NewNotification {
    #[serde(flatten)]
    pub content: Content,
    pub target: Target,
    pub ttl_seconds: Option<u32>,
    pub urgency: Option<Urgency>,
    pub topic: Option<String>,
    /// Saved as a draft: nothing is sent until `POST …/{id}/send`.
    #[serde(default)]
    pub draft: bool,
    #[serde(flatten)]
    pub plan: Plan,
}

/// When and how fast a notification goes out.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct Plan {
    /// RFC 3339 start time, in the future and at most 30 days ahead; absent: now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub send_at: Option<String>,
    /// `HH:MM`: each subscriber gets it at the next such wall-clock time in their own time zone after the
    /// start (so within 24 h of it); subscribers without a known zone get it at that time in UTC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local_time: Option<super::pacing::WallTime>,
    /// Spreads the send at about this many pushes a minute (overrides the site's rate).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pushes_per_minute: Option<u32>,
    /// Bypasses the site's frequency cap (order updates, security alerts; triggers marked transactional).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub transactional: bool,
    /// A/B test: 2–4 variants replacing title, body, icon, image and url, split by their percentages.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub variants: Vec<super::ab::Variant>,
    /// With variants: a test share first, the winner to the rest after the wait.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_first: Option<super::ab::TestFirst>,
}

/// The stored phase of a notification; `completed` is derived from its counters.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Lifecycle {
    Draft,
    Scheduled,
    /// Records written before the lifecycle existed were sent at once.
    #[default]
    Sending,
    Cancelled,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct Notification {
    pub id: NotificationId,
    pub site_id: SiteId,
    #[serde(flatten)]
    pub content: Content,
    pub target: Target,
    pub ttl_seconds: u32,
    pub urgency: Urgency,
    pub topic: Option<String>,
    pub created_at: String,
    pub created_by: String,
    #[serde(default)]
    pub lifecycle: Lifecycle,
    #[serde(flatten)]
    pub plan: Plan,
    /// When fan-out began: subscribers who subscribed later are not selected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<String>,
    /// A counter (so it never overwrites delivery counters) set by a cancel while sending.
    #[serde(default, skip_serializing)]
    #[schema(ignore)]
    pub cancel_requested: i64,
    /// The A/B variant this copy carries (set for sending, never stored).
    #[serde(skip)]
    pub variant: Option<u8>,
    /// The drip step or recurring schedule that made it (`linked.rs`); absent for notifications people send.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<super::linked::Source>,
}

impl Notification {
    /// True when its remaining deliveries must not be sent.
    pub fn is_cancelled(&self) -> bool {
        self.lifecycle == Lifecycle::Cancelled || self.cancel_requested > 0
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct NotificationView {
    #[serde(flatten)]
    pub notification: Notification,
    /// `draft`, `scheduled`, `sending` (until every shard is fanned out and every deliver job has
    /// finished), `completed` or `cancelled`.
    pub status: &'static str,
    /// Pass it back in `PATCH` to refuse an edit over someone else's.
    pub version: u64,
    #[schema(value_type = Object)]
    pub stats: serde_json::Map<String, serde_json::Value>,
}

/// What a deliver job needs of a subscriber, carried in the job so delivery reads nothing per subscriber
/// (a stored `Subscriber` parses as one: its other fields are ignored).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Recipient {
    pub id: String,
    pub subscription: PushSubscription,
}

impl From<Subscriber> for Recipient {
    fn from(s: Subscriber) -> Self {
        Self { id: s.id, subscription: s.subscription }
    }
}

impl Recipient {
    /// Roughly what it adds to a job's JSON body.
    fn job_bytes(&self) -> usize {
        self.id.len() + self.subscription.endpoint.len() + self.subscription.p256dh.len() + self.subscription.auth.len() + 64
    }
}

/// A queued push job.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PushJob {
    /// Fans out `shards` shard partitions from `shard` on (one, or all of them for a small site).
    Fanout {
        workspace: WorkspaceId,
        site: SiteId,
        notification: NotificationId,
        shard: u8,
        #[serde(default = "one_shard", skip_serializing_if = "is_one_shard")]
        shards: u8,
    },
    Deliver {
        workspace: WorkspaceId,
        site: SiteId,
        notification: NotificationId,
        /// Names the job's progress record; the same on every copy of the job.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        job: Option<String>,
        /// Attempts made before this message was first received (its receives count on top).
        #[serde(default = "first_attempt")]
        attempt: u32,
        /// A dead-lettered job sent back by `dlq redrive`: its subscribers were counted `failed_transient`.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        redrive: bool,
        /// The A/B variant its subscribers get (`ab::WINNER`: the test's winner).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        variant: Option<u8>,
        /// The site record's version its fan-out read: delivery uses the site cached at that version.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        site_version: Option<u64>,
        subscribers: Vec<Recipient>,
    },
}

fn first_attempt() -> u32 {
    1
}

fn one_shard() -> u8 {
    1
}

fn is_one_shard(n: &u8) -> bool {
    *n == 1
}

/// Deliver jobs for `subs`: grouped by push-service origin (so one slow service holds only its own jobs)
/// and cut into batches of at most `DELIVER_BATCH` subscriptions and `JOB_BYTES`, with ids
/// `<prefix>-<origin hash>-<n>` that the same input always yields.
pub fn deliver_jobs(ws: &WorkspaceId, site: &SiteId, n: &NotificationId, prefix: &str, subs: Vec<Subscriber>) -> Vec<PushJob> {
    let mut by_origin: std::collections::BTreeMap<String, Vec<Recipient>> = Default::default();
    for s in subs {
        by_origin.entry(s.subscription.origin()).or_default().push(s.into());
    }
    let mut jobs = Vec::new();
    for (origin, mut group) in by_origin {
        group.sort_by(|a, b| a.id.cmp(&b.id));
        let tag = &crate::auth::tokens::token_hash(&origin)[..8];
        for (i, batch) in batches(group).into_iter().enumerate() {
            jobs.push(PushJob::Deliver {
                workspace: ws.clone(),
                site: site.clone(),
                notification: n.clone(),
                job: Some(format!("{prefix}-{tag}-{i:04}")),
                attempt: 1,
                redrive: false,
                variant: None,
                site_version: None,
                subscribers: batch,
            });
        }
    }
    jobs
}

/// Cuts sorted recipients into consecutive batches within the count and size limits.
fn batches(group: Vec<Recipient>) -> Vec<Vec<Recipient>> {
    let mut out: Vec<Vec<Recipient>> = Vec::new();
    let mut bytes = 0;
    for r in group {
        let size = r.job_bytes();
        match out.last_mut() {
            Some(last) if last.len() < DELIVER_BATCH && bytes + size <= JOB_BYTES => last.push(r),
            _ => {
                bytes = 0;
                out.push(vec![r]);
            }
        }
        bytes += size;
    }
    out
}

fn partition(ws: &WorkspaceId, site: &SiteId) -> String {
    format!("WS#{ws}#SITE#{site}#NOTIF")
}

pub fn notification_key(ws: &WorkspaceId, site: &SiteId, id: &NotificationId) -> Key {
    Key::new(partition(ws, site), id.to_string())
}

fn check_link(v: &Option<String>, name: &str) -> Result<(), ApiError> {
    match v {
        Some(u) if !(u.starts_with("https://") || u.starts_with("http://") || u.starts_with('/')) || u.len() > 2048 => {
            Err(ApiError::Validation(format!("{name} must be an http(s) URL or a path")))
        }
        _ => Ok(()),
    }
}

/// Adds UTM parameters to a click URL unless it already has them.
pub fn with_utm(url: &str, site: &SiteId, notification: &NotificationId) -> String {
    if url.contains("utm_source=") {
        return url.to_owned();
    }
    let (base, fragment) = url.split_once('#').map_or((url, None), |(b, f)| (b, Some(f)));
    let sep = if base.contains('?') { '&' } else { '?' };
    let mut out = format!("{base}{sep}utm_source=webtrigger&utm_medium=push&utm_campaign={notification}&utm_content={site}");
    if let Some(f) = fragment {
        out.push('#');
        out.push_str(f);
    }
    out
}

/// The JSON the service worker receives (what is encrypted).
pub fn payload(site: &Site, n: &Notification) -> Vec<u8> {
    let url = n.content.url.as_deref().map(|u| with_utm(u, &n.site_id, &n.id));
    serde_json::to_vec(&serde_json::json!({
        "title": n.content.title, "body": n.content.body, "icon": n.content.icon.clone().or_else(|| site.default_icon.clone()),
        "image": n.content.image, "badge": n.content.badge, "url": url, "tag": n.id, "actions": n.content.actions, "require_interaction": n.content.require_interaction,
        "data": {"notification_id": n.id, "site_id": n.site_id, "variant": n.variant, "events": format!("/v1/public/sites/{}/notifications/{}/events", n.site_id, n.id)},
    }))
    .expect("payload serialises")
}

pub(crate) fn validate(req: &NewNotification) -> Result<(), ApiError> {
    let c = &req.content;
    if c.title.trim().is_empty() || c.title.chars().count() > 200 {
        return Err(ApiError::Validation("title must be 1–200 characters".into()));
    }
    if c.body.as_ref().is_some_and(|b| b.chars().count() > 1000) {
        return Err(ApiError::Validation("body must be at most 1000 characters".into()));
    }
    for (v, name) in [(&c.url, "url"), (&c.icon, "icon"), (&c.image, "image"), (&c.badge, "badge")] {
        check_link(v, name)?;
    }
    if c.actions.len() > 2 || c.actions.iter().any(|a| a.action.is_empty() || a.title.is_empty() || a.title.chars().count() > 60) {
        return Err(ApiError::Validation("at most 2 actions, each with an action id and a title of 1–60 characters".into()));
    }
    for a in &c.actions {
        check_link(&a.url, "actions[].url")?;
    }
    if let Target::Tags { tags } = &req.target {
        if parse_tags(tags)?.is_empty() {
            return Err(ApiError::Validation("target.tags needs at least one tag".into()));
        }
    }
    if req.ttl_seconds.is_some_and(|t| t > 2_419_200) {
        return Err(ApiError::Validation("ttl_seconds must be at most 2419200".into()));
    }
    req.topic.as_deref().map(parse_topic).transpose()?;
    super::ab::validate(&req.plan.variants, req.plan.test_first.as_ref())?;
    for v in &req.plan.variants {
        for (link, name) in [(&v.url, "variants[].url"), (&v.icon, "variants[].icon"), (&v.image, "variants[].image")] {
            check_link(link, name)?;
        }
    }
    if req.plan.pushes_per_minute.is_some_and(|r| r == 0 || r > 1_000_000) {
        return Err(ApiError::Validation("pushes_per_minute must be 1–1000000".into()));
    }
    Ok(())
}

fn jobs_to_messages(jobs: &[PushJob]) -> Vec<OutgoingMessage> {
    jobs.iter().map(|j| OutgoingMessage::new(serde_json::to_string(j).expect("job serialises"))).collect()
}

/// Sends the jobs in as few SendMessageBatch calls as the batch limits allow (10 messages, 256 KiB).
pub(crate) async fn enqueue(state: &AppState, jobs: Vec<PushJob>, delay: std::time::Duration) -> Result<(), ApiError> {
    const BATCH_BYTES: usize = 256 * 1024;
    let mut batch: Vec<OutgoingMessage> = Vec::new();
    let mut bytes = 0;
    for message in jobs_to_messages(&jobs) {
        if !batch.is_empty() && (batch.len() == crate::ports::queue::MAX_BATCH || bytes + message.body.len() > BATCH_BYTES) {
            state.queue.send(&crate::queues::push_send().name, std::mem::take(&mut batch)).await?;
            bytes = 0;
        }
        bytes += message.body.len();
        batch.push(message.delayed(delay));
    }
    if !batch.is_empty() {
        state.queue.send(&crate::queues::push_send().name, batch).await?;
    }
    Ok(())
}

/// Creates a notification: a draft, a scheduled one (indexed under its start minute), or one sent now.
pub async fn send(state: &AppState, ws: &Workspace, meta: &RequestMeta, site_id: &SiteId, req: NewNotification) -> Result<NotificationView, ApiError> {
    send_with(state, ws, meta, site_id, req, |_| Vec::new()).await
}

/// `send`, with the writes `extra` makes for the new notification's id in the same transaction as the
/// record (a program's dedupe marker naming it, so the notification exists exactly when the marker does).
pub async fn send_with(state: &AppState, ws: &Workspace, meta: &RequestMeta, site_id: &SiteId, req: NewNotification, extra: impl FnOnce(&NotificationId) -> Vec<TxWrite>) -> Result<NotificationView, ApiError> {
    ws.require(Action::NotificationsSend)?;
    validate(&req)?;
    let now = state.clock.now();
    let send_at = lifecycle::parse_send_at(req.plan.send_at.as_deref(), now)?;
    let site = sites::get(state, ws, site_id).await?;
    let req = NewNotification { target: super::segments::resolve_target(state, ws.id(), site_id, req.target).await?, ..req };
    let phase = match (req.draft, send_at) {
        (true, _) => Lifecycle::Draft,
        (false, Some(_)) => Lifecycle::Scheduled,
        (false, None) => Lifecycle::Sending,
    };
    let n = Notification {
        id: NotificationId::new(state.clock.new_id()),
        site_id: site_id.clone(),
        content: req.content,
        target: req.target,
        ttl_seconds: req.ttl_seconds.unwrap_or(site.ttl_seconds),
        urgency: req.urgency.unwrap_or(site.urgency),
        topic: req.topic,
        created_at: now.to_rfc3339(),
        created_by: ws.principal().actor(),
        lifecycle: phase,
        plan: req.plan,
        started_at: None,
        cancel_requested: 0,
        variant: None,
        source: None,
    };
    check_size(&site, &n)?;
    let action = match phase {
        Lifecycle::Draft => "notification.draft",
        Lifecycle::Scheduled => "notification.schedule",
        _ => "notification.send",
    };
    let mut writes = vec![audit::entry(state, ws, meta, action, n.id.as_str())];
    writes.extend(extra(&n.id));
    match (phase, send_at) {
        (Lifecycle::Sending, _) => start(state, ws.id(), n, None, writes).await,
        (_, at) => {
            lifecycle::save(state, ws.id(), &n, None, at.filter(|_| phase == Lifecycle::Scheduled), writes).await?;
            get(state, ws, site_id, &n.id).await
        }
    }
}

pub(crate) fn check_size(site: &Site, n: &Notification) -> Result<(), ApiError> {
    let copies = (0..n.plan.variants.len() as u8).map(|i| super::ab::with_variant(n, Some(i)));
    let size = std::iter::once(n.clone()).chain(copies).map(|c| payload(site, &c).len()).max().unwrap_or(0);
    if size > MAX_PLAINTEXT {
        return Err(ApiError::Validation(format!("the notification is {size} bytes as sent; Web Push allows {MAX_PLAINTEXT} (4096 encrypted)")));
    }
    Ok(())
}

/// Moves a notification to `sending` and queues its fan-out: the record (new, or replacing the version
/// `prior` read) is written with an outbox entry and `extra` in one transaction, so of two starts of the
/// same draft only one lands (409 for the other).
pub(crate) async fn start(state: &AppState, ws: &WorkspaceId, mut n: Notification, prior: Option<u64>, extra: Vec<TxWrite>) -> Result<NotificationView, ApiError> {
    n.lifecycle = Lifecycle::Sending;
    n.started_at = Some(state.clock.now().to_rfc3339());
    let site_id = n.site_id.clone();
    let direct = direct_targets(state, ws, &site_id, &n).await?;
    let mut item = Item::of(notification_key(ws, &site_id, &n.id), &n);
    for c in COUNTERS {
        item.attrs.insert(c.into(), 0.into());
    }
    let span = fanout_span(state, ws, &site_id, &direct).await?;
    item.attrs.insert("fanout_span".into(), span.into());
    let jobs = jobs_for(ws, &site_id, &n.id, direct, span);
    if !jobs.iter().any(|j| matches!(j, PushJob::Fanout { .. })) {
        // Counted with the record itself, so a re-queue by the outbox sweep cannot count them twice.
        let targeted: usize = jobs.iter().map(|j| if let PushJob::Deliver { subscribers, .. } = j { subscribers.len() } else { 0 }).sum();
        item.attrs.insert("targeted".into(), (targeted as i64).into());
        item.attrs.insert("shards_done".into(), i64::from(SHARDS).into());
        item.attrs.insert("jobs_total".into(), (jobs.len() as i64).into());
    }
    let condition = match prior {
        None => Condition::NotExists,
        Some(v) => {
            item = item.with_version(v + 1);
            Condition::VersionIs(v)
        }
    };
    // The answer is the record as written: reading it back would cost a request and show the same.
    let written = view(&item)?;
    let mut writes = vec![TxWrite::Put { item, condition }];
    writes.extend(extra);
    if jobs.is_empty() {
        // Nothing to queue (a direct target that is gone): no outbox entry either.
        state.table.transact(writes).await.map_err(lifecycle::moved)?;
        return Ok(written);
    }
    if let Some(store) = &state.transact_and_send {
        // One store holds the record and the queue: committed together, with no outbox entry to clear.
        store.transact_and_send(writes, &crate::queues::push_send().name, jobs_to_messages(&jobs)).await.map_err(lifecycle::moved)?;
        return Ok(written);
    }
    let outbox = outbox_item(state.clock.now().timestamp_millis(), ws, &site_id, &n.id);
    let outbox_key = outbox.key.clone();
    writes.insert(1, TxWrite::Put { item: outbox, condition: Condition::NotExists });
    state.table.transact(writes).await.map_err(lifecycle::moved)?;
    enqueue(state, jobs, std::time::Duration::ZERO).await?;
    if let Err(e) = state.table.delete(&outbox_key, Condition::None).await {
        tracing::warn!(error = %e, "outbox entry not cleared; the sweeper will re-queue (fan-out is idempotent per shard)");
    }
    Ok(written)
}

const OUTBOX: &str = "OUTBOX#push";
/// Outbox entries older than this are considered lost between record and enqueue.
pub const OUTBOX_GRACE_MS: i64 = 120_000;

#[derive(Serialize, Deserialize)]
struct OutboxEntry {
    workspace: WorkspaceId,
    site: SiteId,
    notification: NotificationId,
}

fn outbox_item(now_ms: i64, ws: &WorkspaceId, site: &SiteId, id: &NotificationId) -> Item {
    let entry = OutboxEntry { workspace: ws.clone(), site: site.clone(), notification: id.clone() };
    Item::of(Key::new(OUTBOX, format!("{now_ms:013}#{id}")), &entry)
}

/// Re-queues the fan-out of notifications whose outbox entry outlived the grace period (the process
/// died between writing the record and queueing). Shards already fanned out are skipped by their
/// markers, so a re-queue never sends twice what was sent; a direct target is delivered again (at least
/// once) and never counted again, its counters being part of the record. Returns how many were re-queued.
pub async fn sweep_outbox(state: &AppState) -> Result<usize, ApiError> {
    let cutoff = format!("{:013}", state.clock.now().timestamp_millis() - OUTBOX_GRACE_MS);
    let page = state.table.query(Query::partition(OUTBOX).between("0", format!("{cutoff}~")).limit(100)).await?;
    for item in &page.items {
        let e: OutboxEntry = item.parse()?;
        if let Some(record) = state.table.get(&notification_key(&e.workspace, &e.site, &e.notification)).await? {
            let n: Notification = record.parse()?;
            let direct = direct_targets(state, &e.workspace, &e.site, &n).await?;
            // The span the send chose, so the re-queued fan-out groups shards as the first one did.
            let span = record.attrs.get("fanout_span").and_then(|v| v.as_u64()).map_or(1, |v| v as u8);
            enqueue(state, jobs_for(&e.workspace, &e.site, &e.notification, direct, span), std::time::Duration::ZERO).await?;
        }
        state.table.delete(&item.key, Condition::None).await?;
        tracing::warn!(notification = %e.notification, "re-queued a notification lost before its fan-out");
    }
    Ok(page.items.len())
}

/// The subscribers of a direct target (one subscriber, an external id), resolved when sending; `None`
/// for targets that are fanned out shard by shard. A direct target with A/B variants, a local time or a
/// rate is fanned out too (the fan-out filter selects the same subscribers), so it is split, paced and
/// held like any campaign (the site's quiet hours included).
async fn direct_targets(state: &AppState, ws: &WorkspaceId, site: &SiteId, n: &Notification) -> Result<Option<Vec<Subscriber>>, ApiError> {
    let p = &n.plan;
    if !p.variants.is_empty() || p.local_time.is_some() || p.pushes_per_minute.is_some() {
        return Ok(None);
    }
    Ok(match &n.target {
        Target::All | Target::Tags { .. } | Target::Segment { .. } | Target::Rules { .. } => None,
        Target::Subscriber { id } => Some(subscribers::get(state, ws, site, id).await.ok().into_iter().collect()),
        Target::ExternalId { external_id } => Some(subscribers::by_external_id(state, ws, site, external_id).await?),
    })
}

/// How many shards one fan-out job covers: all of them for a small site (an empty one too: the count is
/// added after the subscriber is written, so a crash between the two can leave it short, and one job
/// reading sixteen empty shards costs little), one for a large one. Not used for direct targets.
async fn fanout_span(state: &AppState, ws: &WorkspaceId, site: &SiteId, direct: &Option<Vec<Subscriber>>) -> Result<u8, ApiError> {
    if direct.is_some() {
        return Ok(1);
    }
    Ok(if subscribers::count(state, ws, site).await? <= SINGLE_FANOUT_MAX { SHARDS } else { 1 })
}

/// Deliver jobs for resolved subscribers, else fan-out jobs of `span` shards each.
fn jobs_for(ws: &WorkspaceId, site: &SiteId, n: &NotificationId, direct: Option<Vec<Subscriber>>, span: u8) -> Vec<PushJob> {
    let span = span.clamp(1, SHARDS);
    match direct {
        None => (0..SHARDS)
            .step_by(usize::from(span))
            .map(|shard| PushJob::Fanout { workspace: ws.clone(), site: site.clone(), notification: n.clone(), shard, shards: span.min(SHARDS - shard) })
            .collect(),
        Some(found) => deliver_jobs(ws, site, n, "direct", found),
    }
}

pub async fn get(state: &AppState, ws: &Workspace, site: &SiteId, id: &NotificationId) -> Result<NotificationView, ApiError> {
    ws.require(Action::WorkspaceRead)?;
    let item = state.table.get(&notification_key(ws.id(), site, id)).await?.ok_or_else(|| ApiError::NotFound("no such notification".into()))?;
    Ok(view(&item)?)
}

pub(crate) fn view(item: &Item) -> Result<NotificationView, crate::ports::TableError> {
    let notification: Notification = item.parse()?;
    let mut stats: serde_json::Map<String, serde_json::Value> = COUNTERS.iter().filter(|c| !INTERNAL_COUNTERS.contains(c)).map(|c| ((*c).to_owned(), item.attrs.get(*c).cloned().unwrap_or(0.into()))).collect();
    // Per-variant counters of an A/B test: `v<i>_targeted`, `v<i>_clicks`.
    stats.extend(item.attrs.iter().filter(|(k, _)| k.len() > 3 && k.starts_with('v') && k.as_bytes()[1].is_ascii_digit() && k.as_bytes()[2] == b'_').map(|(k, v)| (k.clone(), v.clone())));
    let n = |c: &str| item.attrs.get(c).and_then(|v| v.as_i64()).unwrap_or(0);
    let jobs_finished = if item.attrs.contains_key("jobs_total") {
        n("jobs_done") >= n("jobs_total")
    } else {
        // Records written before deliver jobs were counted.
        n("accepted") + n("failed_gone") + n("failed_too_large") + n("failed_transient") + n("failed_rejected") >= n("targeted")
    };
    let status = match notification.lifecycle {
        Lifecycle::Draft => "draft",
        Lifecycle::Scheduled => "scheduled",
        Lifecycle::Cancelled => "cancelled",
        Lifecycle::Sending if notification.cancel_requested > 0 => "cancelled",
        Lifecycle::Sending if n("shards_done") >= i64::from(SHARDS) && jobs_finished => "completed",
        Lifecycle::Sending => "sending",
    };
    Ok(NotificationView { notification, status, version: item.version, stats })
}

/// Newest first. With `status`, pages are read until `limit` matches are found (or 10 pages were read:
/// the cursor then goes on from there).
pub async fn list(state: &AppState, ws: &Workspace, site: &SiteId, status: Option<&str>, cursor: Option<&str>, limit: u32) -> Result<(Vec<NotificationView>, Option<String>), ApiError> {
    ws.require(Action::WorkspaceRead)?;
    if let Some(s) = status.filter(|s| !STATUSES.contains(s)) {
        return Err(ApiError::Validation(format!("status must be one of {}; got `{}`", STATUSES.join(", "), s.chars().take(20).collect::<String>())));
    }
    let limit = limit.clamp(1, 100);
    let mut after = cursor.map(Cursor::parse).transpose()?;
    let mut views = Vec::new();
    for _ in 0..10 {
        let page = state.table.query(Query::partition(partition(ws.id(), site)).reverse().limit(limit - views.len() as u32).after(after.take())).await?;
        for item in &page.items {
            let v = view(item)?;
            if status.is_none_or(|s| s == v.status) {
                views.push(v);
            }
        }
        match page.next {
            Some(next) if views.len() < limit as usize => after = Some(next),
            next => return Ok((views, next.map(|c| c.as_str().to_owned()))),
        }
    }
    Ok((views, after.map(|c| c.as_str().to_owned())))
}

pub const STATUSES: [&str; 5] = ["draft", "scheduled", "sending", "completed", "cancelled"];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::push::subscribers::ClientInfo;
    use crate::push::types::PushSubscription;

    fn subscriber(endpoint: &str) -> Subscriber {
        let sub = PushSubscription { endpoint: endpoint.into(), p256dh: "k".into(), auth: "a".into() };
        Subscriber { id: sub.id(), subscription: sub, client: ClientInfo::default(), tags: vec![], created_at: String::new(), last_seen: String::new(), country: None, attributes: Default::default(), clicks: 0 }
    }

    fn ids(jobs: &[PushJob]) -> Vec<(String, Vec<String>)> {
        jobs.iter()
            .map(|j| match j {
                PushJob::Deliver { job, subscribers, .. } => (job.clone().unwrap(), subscribers.iter().map(|s| s.subscription.origin()).collect()),
                PushJob::Fanout { .. } => panic!("not a deliver job"),
            })
            .collect()
    }

    #[test]
    fn deliver_jobs_are_per_origin_batches_with_ids_that_do_not_depend_on_input_order() {
        let (ws, site, n) = (WorkspaceId::new(ulid::Ulid::nil()), SiteId::new(ulid::Ulid::nil()), NotificationId::new(ulid::Ulid::nil()));
        let mut subs: Vec<Subscriber> = (0..DELIVER_BATCH + 50).map(|i| subscriber(&format!("https://fcm.googleapis.com/fcm/send/{i}"))).collect();
        subs.extend((0..5).map(|i| subscriber(&format!("https://web.push.apple.com/x{i}"))));
        let jobs = ids(&deliver_jobs(&ws, &site, &n, "03", subs.clone()));
        assert_eq!(jobs.len(), 3, "{} FCM subscriptions make two batches of at most {DELIVER_BATCH}, Apple's five a third", DELIVER_BATCH + 50);
        assert!(jobs.iter().all(|(_, origins)| origins.iter().all(|o| *o == origins[0])), "one origin per job, so a slow service holds only its own");
        assert!(jobs.iter().all(|(id, _)| id.starts_with("03-")), "named after the shard");
        subs.reverse();
        assert_eq!(ids(&deliver_jobs(&ws, &site, &n, "03", subs)), jobs, "a retried fan-out reading the shard in another order makes the same jobs");
    }

    #[test]
    fn deliver_jobs_stay_within_one_sqs_message_and_carry_only_what_sending_needs() {
        let (ws, site, n) = (WorkspaceId::new(ulid::Ulid::nil()), SiteId::new(ulid::Ulid::nil()), NotificationId::new(ulid::Ulid::nil()));
        let long = "x".repeat(1500);
        let subs: Vec<Subscriber> = (0..400).map(|i| subscriber(&format!("https://fcm.googleapis.com/fcm/send/{i}-{long}"))).collect();
        let jobs = deliver_jobs(&ws, &site, &n, "00", subs);
        assert!(jobs.len() > 1, "400 subscriptions of 1.5 KB do not fit one job");
        for body in jobs_to_messages(&jobs).iter().map(|m| &m.body) {
            assert!(body.len() <= 256 * 1024, "a job of {} bytes would not fit an SQS message", body.len());
            assert!(!body.contains("last_seen"), "only id and subscription are carried");
        }
        let total: usize = jobs.iter().map(|j| if let PushJob::Deliver { subscribers, .. } = j { subscribers.len() } else { 0 }).sum();
        assert_eq!(total, 400, "nobody is dropped when cutting");
    }

    #[test]
    fn small_sites_are_fanned_out_by_one_job_and_large_ones_by_one_per_shard() {
        let (ws, site, n) = (WorkspaceId::new(ulid::Ulid::nil()), SiteId::new(ulid::Ulid::nil()), NotificationId::new(ulid::Ulid::nil()));
        let spans = |span| jobs_for(&ws, &site, &n, None, span).into_iter().map(|j| match j {
            PushJob::Fanout { shard, shards, .. } => (shard, shards),
            PushJob::Deliver { .. } => panic!("no deliver job for a fan-out target"),
        }).collect::<Vec<_>>();
        assert_eq!(spans(SHARDS), vec![(0, SHARDS)]);
        assert_eq!(spans(1).len(), usize::from(SHARDS));
        assert_eq!(spans(0).len(), usize::from(SHARDS), "a record without a span (queued before spans) is one job per shard");
        let old: PushJob = serde_json::from_value(serde_json::json!({"kind": "fanout", "workspace": ws, "site": site, "notification": n, "shard": 3})).unwrap();
        assert!(matches!(old, PushJob::Fanout { shard: 3, shards: 1, .. }), "a job queued before spans existed covers its one shard");
    }
}
