//! Emitting and delivering events. `emit` stores the event once and queues one job per subscribed
//! endpoint; the worker signs and POSTs it, logs the attempt, and on failure schedules the next one:
//! short delays ride on the queue, long ones wait in the table until the minute tick re-queues them.

use std::time::Duration;

use async_trait::async_trait;
use aws_lambda_events::sqs::SqsMessage;
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use utoipa::ToSchema;

use super::endpoints::{self, Endpoint, EndpointId};
use super::EventType;
use crate::auth::{RequestMeta, WorkspaceId};
use crate::http::ApiError;
use crate::ports::{Condition, Item, Key, OutgoingMessage, Query};
use crate::state::AppState;
use crate::worker::{JobError, JobHandler};

/// Delay before attempt n+1 (n = 0 is the first attempt): immediately, 5 s, 5 min, 30 min, 2 h, 5 h,
/// 10 h, 10 h. Eight attempts over about 27.5 hours.
pub const RETRY_SCHEDULE_SECONDS: [u64; 8] = [0, 5, 300, 1800, 7200, 18000, 36000, 36000];
/// An endpoint failing without a single success for this long is disabled.
pub const DISABLE_AFTER_SECONDS: i64 = 5 * 86_400;
const RECORD_TTL_SECONDS: i64 = 30 * 86_400;
/// Delays up to SQS's maximum ride on the queue; longer ones wait in the table.
const MAX_QUEUE_DELAY: u64 = 900;
const DUE: &str = "EVOUT#DUE";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DeliveryJob {
    pub workspace: WorkspaceId,
    pub endpoint: EndpointId,
    pub event: String,
    /// 0-based attempt number.
    pub attempt: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct StoredEvent {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: EventType,
    #[schema(value_type = Object)]
    pub data: Value,
    pub created_at: String,
}

/// One delivery attempt, as the endpoint's log shows it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct Attempt {
    pub event_id: String,
    pub event_type: EventType,
    pub attempt: usize,
    pub at: String,
    pub ok: bool,
    pub status: Option<u16>,
    pub error: Option<String>,
    pub duration_ms: u64,
    /// When the next attempt is due, if there is one.
    pub next_attempt_at: Option<String>,
}

fn event_key(ws: &WorkspaceId, id: &str) -> Key {
    Key::new(format!("WS#{ws}#EVMSG"), id.to_owned())
}

fn attempts_partition(ws: &WorkspaceId, ep: &EndpointId) -> String {
    format!("WS#{ws}#EVEP#{ep}#ATT")
}

/// Records a platform event for the workspace's subscribed endpoints. Never fails the caller: an event
/// that cannot be stored or queued is logged.
pub async fn emit(state: &AppState, ws: &WorkspaceId, kind: EventType, data: Value) {
    if let Err(e) = try_emit(state, ws, kind, data).await {
        tracing::warn!(error = %e, event_type = kind.as_str(), "event webhook not queued");
    }
}

async fn try_emit(state: &AppState, ws: &WorkspaceId, kind: EventType, data: Value) -> Result<Option<String>, ApiError> {
    let targets: Vec<Endpoint> = endpoints::list_all(state, ws).await?.into_iter().filter(|e| e.wants(kind)).collect();
    if targets.is_empty() {
        return Ok(None);
    }
    let event = StoredEvent { id: format!("msg_{}", state.clock.new_id()), kind, data, created_at: state.clock.now().to_rfc3339() };
    state.table.put(Item::of(event_key(ws, &event.id), &event).with_expiry(state.clock.now().timestamp() + RECORD_TTL_SECONDS), Condition::NotExists).await?;
    let jobs: Vec<OutgoingMessage> = targets.iter().map(|e| job_message(&DeliveryJob { workspace: ws.clone(), endpoint: e.id.clone(), event: event.id.clone(), attempt: 0 })).collect();
    for chunk in jobs.chunks(crate::ports::queue::MAX_BATCH) {
        state.queue.send(&crate::queues::events_out().name, chunk.to_vec()).await?;
    }
    Ok(Some(event.id))
}

/// Sends a `webhook.test` event to one endpoint (whatever its subscriptions).
pub async fn send_test(state: &AppState, ws: &WorkspaceId, endpoint: &EndpointId) -> Result<String, ApiError> {
    let event = StoredEvent { id: format!("msg_{}", state.clock.new_id()), kind: EventType::Test, data: json!({"message": "This is a test event from WebTrigger."}), created_at: state.clock.now().to_rfc3339() };
    state.table.put(Item::of(event_key(ws, &event.id), &event).with_expiry(state.clock.now().timestamp() + RECORD_TTL_SECONDS), Condition::NotExists).await?;
    state.queue.send(&crate::queues::events_out().name, vec![job_message(&DeliveryJob { workspace: ws.clone(), endpoint: endpoint.clone(), event: event.id.clone(), attempt: 0 })]).await?;
    Ok(event.id)
}

fn job_message(job: &DeliveryJob) -> OutgoingMessage {
    OutgoingMessage::new(serde_json::to_string(job).expect("job serialises"))
}

async fn schedule(state: &AppState, job: DeliveryJob, delay_seconds: u64) -> Result<(), ApiError> {
    if delay_seconds <= MAX_QUEUE_DELAY {
        state.queue.send(&crate::queues::events_out().name, vec![job_message(&job).delayed(Duration::from_secs(delay_seconds))]).await?;
        return Ok(());
    }
    let due_ms = state.clock.now().timestamp_millis() + (delay_seconds * 1000) as i64;
    let key = Key::new(DUE, format!("{due_ms:013}#{}", state.clock.new_id()));
    state.table.put(Item::of(key, &job), Condition::NotExists).await?;
    Ok(())
}

/// Minute tick: queues the delivery attempts whose time has come. Returns how many.
pub async fn sweep_due(state: &AppState) -> Result<usize, ApiError> {
    let now = format!("{:013}", state.clock.now().timestamp_millis());
    let page = state.table.query(Query::partition(DUE).between("0", format!("{now}~")).limit(100)).await?;
    for item in &page.items {
        let job: DeliveryJob = item.parse()?;
        state.queue.send(&crate::queues::events_out().name, vec![job_message(&job)]).await?;
        state.table.delete(&item.key, Condition::None).await?;
    }
    Ok(page.items.len())
}

pub struct EventsOutWorker;

#[async_trait]
impl JobHandler for EventsOutWorker {
    async fn handle(&self, state: &AppState, message: &SqsMessage) -> Result<(), JobError> {
        let job: DeliveryJob = serde_json::from_str(message.body.as_deref().unwrap_or_default()).map_err(|e| JobError::Permanent(format!("not a delivery job: {e}")))?;
        deliver(state, job).await.map_err(JobError::retry)
    }
}

/// One attempt. Transport and HTTP failures are not errors here: they are logged and rescheduled.
pub async fn deliver(state: &AppState, job: DeliveryJob) -> Result<(), ApiError> {
    let Ok((item, endpoint)) = endpoints::load(state, &job.workspace, &job.endpoint).await else { return Ok(()) };
    if !endpoint.enabled {
        return Ok(());
    }
    let Some(event) = state.table.get(&event_key(&job.workspace, &job.event)).await? else { return Ok(()) };
    let event: StoredEvent = event.parse()?;
    let secret = endpoints::secret(state, &job.workspace, &endpoint.id, &item).await?;
    let body = serde_json::to_vec(&json!({"type": event.kind, "timestamp": event.created_at, "data": event.data})).expect("event serialises");
    let started = std::time::Instant::now();
    let (status, error) = post(state, &endpoint, &event.id, secret.expose_secret(), &body).await;
    let ok = status.is_some_and(|s| (200..300).contains(&s));
    let next_delay = (!ok && status != Some(410)).then(|| RETRY_SCHEDULE_SECONDS.get(job.attempt + 1).copied()).flatten();
    let now = state.clock.now();
    let attempt = Attempt {
        event_id: event.id.clone(),
        event_type: event.kind,
        attempt: job.attempt + 1,
        at: now.to_rfc3339(),
        ok,
        status,
        error,
        duration_ms: started.elapsed().as_millis() as u64,
        next_attempt_at: next_delay.map(|d| (now + chrono::Duration::seconds(d as i64)).to_rfc3339()),
    };
    let attempt_key = Key::new(attempts_partition(&job.workspace, &endpoint.id), format!("{}#{}#{:02}", state.clock.new_id(), event.id, job.attempt + 1));
    state.table.put(Item::of(attempt_key, &attempt).with_expiry(now.timestamp() + RECORD_TTL_SECONDS), Condition::None).await?;
    record_health(state, &job.workspace, &endpoint.id, ok, status).await?;
    if let Some(delay) = next_delay {
        schedule(state, DeliveryJob { attempt: job.attempt + 1, ..job }, delay).await?;
    }
    Ok(())
}

async fn post(state: &AppState, endpoint: &Endpoint, event_id: &str, secret: &str, body: &[u8]) -> (Option<u16>, Option<String>) {
    let Ok(url) = reqwest::Url::parse(&endpoint.url) else { return (None, Some("the stored URL does not parse".into())) };
    if !crate::http::outbound::literal_allowed(&url, &state.events_out.policy) {
        return (None, Some("refused: the URL points at a private or internal address".into()));
    }
    let timestamp = state.clock.now().timestamp();
    let signature = match crate::triggers::verify::standard_sign(secret, event_id, timestamp, body) {
        Ok(s) => s,
        Err(e) => return (None, Some(e.to_string())),
    };
    let request = state.events_out.http.post(url).header("content-type", "application/json").header("webhook-id", event_id).header("webhook-timestamp", timestamp.to_string()).header("webhook-signature", signature).body(body.to_vec());
    match request.send().await {
        Ok(r) if r.status().is_success() => (Some(r.status().as_u16()), None),
        Ok(r) => (Some(r.status().as_u16()), Some(format!("HTTP {}", r.status().as_u16()))),
        Err(e) => (None, Some(describe(&e))),
    }
}

fn describe(e: &reqwest::Error) -> String {
    use std::error::Error;
    let mut out = if e.is_timeout() { "timed out".to_owned() } else if e.is_connect() { "could not connect".to_owned() } else { "request failed".to_owned() };
    let mut source = e.source();
    while let Some(s) = source {
        out = format!("{out}: {s}");
        source = s.source();
    }
    out
}

/// Tracks the endpoint's failure streak; disables it on 410 Gone or after five days without a success,
/// with an audit entry saying why.
async fn record_health(state: &AppState, ws: &WorkspaceId, id: &EndpointId, ok: bool, status: Option<u16>) -> Result<(), ApiError> {
    for _ in 0..5 {
        let Ok((item, mut endpoint)) = endpoints::load(state, ws, id).await else { return Ok(()) };
        let now = state.clock.now();
        let mut disabled_now = None;
        if ok {
            if endpoint.failing_since.is_none() && endpoint.last_success_at.as_deref().is_some_and(|t| t.get(..16) == Some(&now.to_rfc3339()[..16])) {
                return Ok(()); // saves a write per success within the same minute
            }
            endpoint.failing_since = None;
            endpoint.last_success_at = Some(now.to_rfc3339());
        } else {
            let since = endpoint.failing_since.get_or_insert_with(|| now.to_rfc3339()).clone();
            let failing_for = chrono::DateTime::parse_from_rfc3339(&since).map(|t| now.timestamp() - t.timestamp()).unwrap_or(0);
            if status == Some(410) {
                disabled_now = Some("the endpoint answered 410 Gone".to_owned());
            } else if failing_for >= DISABLE_AFTER_SECONDS {
                disabled_now = Some(format!("every delivery failed for {} days", failing_for / 86_400));
            }
            if let Some(reason) = &disabled_now {
                endpoint.enabled = false;
                endpoint.disabled_reason = Some(reason.clone());
            }
        }
        let mut extra = vec![];
        if disabled_now.is_some() {
            let system = crate::auth::principal::service_workspace(ws.clone(), "events-out");
            let meta = RequestMeta { ip: "worker".into(), user_agent: "worker-events-out".into() };
            extra.push(crate::workspaces::audit::entry(state, &system, &meta, "event_endpoint.disable", id.as_str()));
        }
        match endpoints::save(state, ws, &item, &endpoint, extra).await {
            Ok(()) => {
                if let Some(reason) = disabled_now {
                    tracing::warn!(endpoint = %id, reason, "event endpoint disabled");
                }
                return Ok(());
            }
            Err(ApiError::Conflict(_)) => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// The endpoint's attempts, newest first.
pub async fn attempts(state: &AppState, ws: &WorkspaceId, ep: &EndpointId, limit: u32) -> Result<Vec<Attempt>, ApiError> {
    let page = state.table.query(Query::partition(attempts_partition(ws, ep)).reverse().limit(limit.clamp(1, 100))).await?;
    page.items.iter().map(|i| i.parse().map_err(ApiError::from)).collect()
}
