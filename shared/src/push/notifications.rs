//! Notifications: the record is written first (with its counters), then fan-out jobs are queued: one over
//! all subscriber shards for a small site, one per shard for a large one, none for a site without
//! subscribers. Each fan-out pages its shards, keeps the subscribers the target selects and queues deliver
//! jobs of up to 500 subscriptions of one push-service origin (their endpoint and keys carried in the job,
//! so delivery reads nothing per subscriber), with ids that a retried fan-out computes again; a deliver job encrypts and sends them concurrently and records each final answer with
//! its counters in its progress record (`progress.rs`), so nothing is sent or counted twice. Expired
//! subscriptions (404/410) are deleted; transient failures are retried with the push service's
//! Retry-After or backoff, up to `MAX_ATTEMPTS`. A notification is `completed` when every shard is fanned
//! out and every deliver job finished.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::crypto::MAX_PLAINTEXT;
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
pub const COUNTERS: [&str; 12] = ["targeted", "accepted", "failed_gone", "failed_too_large", "failed_transient", "failed_rejected", "impressions", "clicks", "unsubscribes", "shards_done", "jobs_total", "jobs_done"];
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
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct NewNotification {
    #[serde(flatten)]
    pub content: Content,
    pub target: Target,
    pub ttl_seconds: Option<u32>,
    pub urgency: Option<Urgency>,
    pub topic: Option<String>,
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
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct NotificationView {
    #[serde(flatten)]
    pub notification: Notification,
    /// `sending` until every shard is fanned out and every deliver job has finished.
    pub status: &'static str,
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
        "image": n.content.image, "badge": n.content.badge, "url": url, "tag": n.id, "actions": n.content.actions,
        "data": {"notification_id": n.id, "site_id": n.site_id, "events": format!("/v1/public/sites/{}/notifications/{}/events", n.site_id, n.id)},
    }))
    .expect("payload serialises")
}

fn validate(req: &NewNotification) -> Result<(), ApiError> {
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

/// Writes the notification, then queues its fan-out.
pub async fn send(state: &AppState, ws: &Workspace, meta: &RequestMeta, site_id: &SiteId, req: NewNotification) -> Result<NotificationView, ApiError> {
    ws.require(Action::NotificationsSend)?;
    validate(&req)?;
    let site = sites::get(state, ws, site_id).await?;
    let n = Notification {
        id: NotificationId::new(state.clock.new_id()),
        site_id: site_id.clone(),
        content: req.content,
        target: Target::All,
        ttl_seconds: req.ttl_seconds.unwrap_or(site.ttl_seconds),
        urgency: req.urgency.unwrap_or(site.urgency),
        topic: req.topic,
        created_at: state.clock.now().to_rfc3339(),
        created_by: ws.principal().actor(),
    };
    let n = Notification { target: req.target, ..n };
    let size = payload(&site, &n).len();
    if size > MAX_PLAINTEXT {
        return Err(ApiError::Validation(format!("the notification is {size} bytes as sent; Web Push allows {MAX_PLAINTEXT} (4096 encrypted)")));
    }
    let direct = direct_targets(state, ws.id(), site_id, &n.target).await?;
    let mut item = Item::of(notification_key(ws.id(), site_id, &n.id), &n);
    for c in COUNTERS {
        item.attrs.insert(c.into(), 0.into());
    }
    let span = fanout_span(state, ws.id(), site_id, &direct).await?;
    item.attrs.insert("fanout_span".into(), span.into());
    let jobs = jobs_for(ws.id(), site_id, &n.id, direct, span);
    if !jobs.iter().any(|j| matches!(j, PushJob::Fanout { .. })) {
        // Counted with the record itself, so a re-queue by the outbox sweep cannot count them twice.
        let targeted: usize = jobs.iter().map(|j| if let PushJob::Deliver { subscribers, .. } = j { subscribers.len() } else { 0 }).sum();
        item.attrs.insert("targeted".into(), (targeted as i64).into());
        item.attrs.insert("shards_done".into(), i64::from(SHARDS).into());
        item.attrs.insert("jobs_total".into(), (jobs.len() as i64).into());
    }
    // The answer is the record as written: reading it back would cost a request and show the same.
    let written = view(&item)?;
    let mut writes = vec![TxWrite::Put { item, condition: Condition::NotExists }, audit::entry(state, ws, meta, "notification.send", n.id.as_str())];
    if jobs.is_empty() {
        // Nothing to queue (a site without subscribers, a direct target that is gone): no outbox entry either.
        state.table.transact(writes).await?;
        return Ok(written);
    }
    let outbox = outbox_item(state.clock.now().timestamp_millis(), ws.id(), site_id, &n.id);
    let outbox_key = outbox.key.clone();
    writes.insert(1, TxWrite::Put { item: outbox, condition: Condition::NotExists });
    state.table.transact(writes).await?;
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
            let direct = direct_targets(state, &e.workspace, &e.site, &n.target).await?;
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
/// for targets that are fanned out shard by shard.
async fn direct_targets(state: &AppState, ws: &WorkspaceId, site: &SiteId, target: &Target) -> Result<Option<Vec<Subscriber>>, ApiError> {
    Ok(match target {
        Target::All | Target::Tags { .. } => None,
        Target::Subscriber { id } => Some(subscribers::get(state, ws, site, id).await.ok().into_iter().collect()),
        Target::ExternalId { external_id } => Some(subscribers::by_external_id(state, ws, site, external_id).await?),
    })
}

/// How many shards one fan-out job covers: all of them for a small site, one for a large one; 0 when the
/// site has no subscribers (nothing to fan out). Not used for direct targets.
async fn fanout_span(state: &AppState, ws: &WorkspaceId, site: &SiteId, direct: &Option<Vec<Subscriber>>) -> Result<u8, ApiError> {
    if direct.is_some() {
        return Ok(1);
    }
    Ok(match subscribers::count(state, ws, site).await? {
        0 => 0,
        n if n <= SINGLE_FANOUT_MAX => SHARDS,
        _ => 1,
    })
}

/// Deliver jobs for resolved subscribers, else fan-out jobs of `span` shards each (none for span 0: the
/// record is written with its shards done).
fn jobs_for(ws: &WorkspaceId, site: &SiteId, n: &NotificationId, direct: Option<Vec<Subscriber>>, span: u8) -> Vec<PushJob> {
    match direct {
        None if span == 0 => Vec::new(),
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

fn view(item: &Item) -> Result<NotificationView, crate::ports::TableError> {
    let notification: Notification = item.parse()?;
    let stats: serde_json::Map<String, serde_json::Value> = COUNTERS.iter().filter(|c| !INTERNAL_COUNTERS.contains(c)).map(|c| ((*c).to_owned(), item.attrs.get(*c).cloned().unwrap_or(0.into()))).collect();
    let n = |c: &str| item.attrs.get(c).and_then(|v| v.as_i64()).unwrap_or(0);
    let jobs_finished = if item.attrs.contains_key("jobs_total") {
        n("jobs_done") >= n("jobs_total")
    } else {
        // Records written before deliver jobs were counted.
        n("accepted") + n("failed_gone") + n("failed_too_large") + n("failed_transient") + n("failed_rejected") >= n("targeted")
    };
    let status = if n("shards_done") >= i64::from(SHARDS) && jobs_finished { "completed" } else { "sending" };
    Ok(NotificationView { notification, status, stats })
}

pub async fn list(state: &AppState, ws: &Workspace, site: &SiteId, cursor: Option<&str>, limit: u32) -> Result<(Vec<NotificationView>, Option<String>), ApiError> {
    ws.require(Action::WorkspaceRead)?;
    let after = cursor.map(Cursor::parse).transpose()?;
    let page = state.table.query(Query::partition(partition(ws.id(), site)).reverse().limit(limit.clamp(1, 100)).after(after)).await?;
    let views = page.items.iter().map(view).collect::<Result<Vec<_>, _>>()?;
    Ok((views, page.next.map(|c| c.as_str().to_owned())))
}

/// Public tracking from the service worker: impressions, clicks.
pub async fn track(state: &AppState, site: &SiteId, ws: &WorkspaceId, id: &NotificationId, event: &str) -> Result<(), ApiError> {
    let counter = match event {
        "impression" => "impressions",
        "click" => "clicks",
        "unsubscribe" => "unsubscribes",
        other => return Err(ApiError::Validation(format!("unknown event `{}`", other.chars().take(20).collect::<String>()))),
    };
    let key = notification_key(ws, site, id);
    state.table.get(&key).await?.ok_or_else(|| ApiError::NotFound("no such notification".into()))?;
    state.table.add(&key, &[(counter, 1)]).await?;
    if event == "click" {
        crate::events_out::emit(state, ws, crate::events_out::EventType::PushClicked, serde_json::json!({"site_id": site, "notification_id": id})).await;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::push::subscribers::ClientInfo;
    use crate::push::types::PushSubscription;

    fn subscriber(endpoint: &str) -> Subscriber {
        let sub = PushSubscription { endpoint: endpoint.into(), p256dh: "k".into(), auth: "a".into() };
        Subscriber { id: sub.id(), subscription: sub, client: ClientInfo::default(), tags: vec![], created_at: String::new(), last_seen: String::new() }
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
    fn small_sites_are_fanned_out_by_one_job_and_empty_ones_by_none() {
        let (ws, site, n) = (WorkspaceId::new(ulid::Ulid::nil()), SiteId::new(ulid::Ulid::nil()), NotificationId::new(ulid::Ulid::nil()));
        let spans = |span| jobs_for(&ws, &site, &n, None, span).into_iter().map(|j| match j {
            PushJob::Fanout { shard, shards, .. } => (shard, shards),
            PushJob::Deliver { .. } => panic!("no deliver job for a fan-out target"),
        }).collect::<Vec<_>>();
        assert_eq!(spans(SHARDS), vec![(0, SHARDS)]);
        assert_eq!(spans(1).len(), usize::from(SHARDS));
        assert!(spans(0).is_empty());
        let old: PushJob = serde_json::from_value(serde_json::json!({"kind": "fanout", "workspace": ws, "site": site, "notification": n, "shard": 3})).unwrap();
        assert!(matches!(old, PushJob::Fanout { shard: 3, shards: 1, .. }), "a job queued before spans existed covers its one shard");
    }
}
