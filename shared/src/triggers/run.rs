//! A trigger firing: verify the caller, dedupe, log the invocation, filter, render and run each action,
//! and record the outcomes. Also the invocation log and replay.

use axum::http::HeaderMap;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value as Json};
use utoipa::ToSchema;

use super::actions;
use super::render::{self, RenderedAction};
use super::store;
use super::types::{AuthMode, InvocationId, Trigger, TriggerId};
use super::verify::{self, StandardHeaders, VerifyError};
use crate::auth::{Workspace, WorkspaceId};
use crate::push::notifications::NotificationId;
use crate::http::ApiError;
use crate::ports::{Condition, Item, Key, Query, TableError, TxWrite};
use crate::state::AppState;

/// Invocations are kept this long.
pub const INVOCATION_TTL_SECONDS: i64 = 30 * 86_400;
/// Payloads up to this size are stored with the invocation (and can be replayed).
const MAX_STORED_PAYLOAD: usize = 64 * 1024;
/// Calls per minute a single trigger accepts.
const PER_MINUTE: f64 = 600.0;

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum InvocationStatus {
    /// The caller failed verification; nothing ran.
    Rejected,
    Running,
    /// The filter said no.
    Filtered,
    /// Every action ran (each outcome says how it went).
    Fired,
    /// A template or an action failed; see `error` and the outcomes.
    Failed,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct ActionOutcome {
    pub index: usize,
    pub ok: bool,
    /// What was created: a notification id, message ids, or devices reached.
    pub detail: String,
    #[serde(default)]
    pub ids: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct Invocation {
    pub id: InvocationId,
    pub trigger_id: TriggerId,
    pub received_at: String,
    pub status: InvocationStatus,
    /// `ok`, `replay`, or why the caller was refused.
    pub verification: String,
    pub idempotency_key: Option<String>,
    pub error: Option<String>,
    #[schema(value_type = Vec<Object>)]
    pub rendered: Vec<Json>,
    pub outcomes: Vec<ActionOutcome>,
    /// The payload (absent when refused or larger than 64 KiB).
    #[schema(value_type = Object)]
    pub payload: Option<Json>,
    pub replay_of: Option<InvocationId>,
}

/// What the caller of `/t/{id}` gets back.
#[derive(Debug, Clone, Serialize, PartialEq, ToSchema)]
pub struct IngestAnswer {
    pub invocation_id: InvocationId,
    pub status: InvocationStatus,
    /// True when this `webhook-id` (or dedupe key) was seen within the window: nothing was sent again.
    pub duplicate: bool,
    pub error: Option<String>,
}

fn partition(ws: &WorkspaceId, trigger: &TriggerId) -> String {
    format!("WS#{ws}#TRG#{trigger}#INV")
}

pub fn invocation_key(ws: &WorkspaceId, trigger: &TriggerId, id: &InvocationId) -> Key {
    Key::new(partition(ws, trigger), id.to_string())
}

fn dedupe_key(ws: &WorkspaceId, trigger: &TriggerId, key: &str) -> Key {
    Key::new(format!("WS#{ws}#TRG#{trigger}#DEDUPE"), crate::inbox::signatures::sha256_hex(key.as_bytes()))
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Checks the caller by the trigger's auth mode. Returns the sender's idempotency key, if it sent one.
pub fn verify_caller(trigger: &Trigger, secrets: &[SecretString], headers: &HeaderMap, body: &[u8], now: i64) -> Result<Option<String>, VerifyError> {
    let secrets: Vec<&str> = secrets.iter().map(|s| s.expose_secret()).collect();
    match trigger.auth {
        AuthMode::StandardWebhooks => {
            let h = StandardHeaders { id: header(headers, "webhook-id"), timestamp: header(headers, "webhook-timestamp"), signature: header(headers, "webhook-signature") };
            verify::standard_verify(&secrets, &h, body, now).map(|id| Some(id.to_owned()))
        }
        AuthMode::Token => {
            let (name, value) = match header(headers, "authorization") {
                Some(v) => ("Authorization", Some(v)),
                None => ("X-Webhook-Token", header(headers, "x-webhook-token")),
            };
            verify::token_verify(&secrets, name, value).map(|()| header(headers, "idempotency-key").or(header(headers, "webhook-id")).map(str::to_owned))
        }
        AuthMode::Github => verify::github_verify(&secrets, header(headers, "x-hub-signature-256"), body).map(|()| header(headers, "x-github-delivery").map(str::to_owned)),
        AuthMode::Stripe => verify::stripe_verify(&secrets, header(headers, "stripe-signature"), body, now).map(|()| None),
        AuthMode::Shopify => verify::shopify_verify(&secrets, header(headers, "x-shopify-hmac-sha256"), body).map(|()| header(headers, "x-shopify-webhook-id").map(str::to_owned)),
        AuthMode::Hmac => {
            let h = trigger.hmac.as_ref().ok_or(VerifyError::MissingSignatureHeader)?;
            verify::hmac_verify(&secrets, h.algorithm, h.encoding, &h.prefix, header(headers, &h.header.to_ascii_lowercase()), body)
                .map(|()| header(headers, "idempotency-key").or(header(headers, "webhook-id")).map(str::to_owned))
        }
    }
}

/// The idempotency key: the configured payload path, else what the sender supplied, else (Stripe)
/// the event id.
fn idempotency_key(trigger: &Trigger, from_sender: Option<String>, payload: &Json) -> Option<String> {
    match &trigger.dedupe_path {
        Some(path) => render::path_value(payload, path),
        None if trigger.auth == AuthMode::Stripe => render::path_value(payload, "id"),
        None => from_sender,
    }
}

fn new_invocation(state: &AppState, trigger: &Trigger, status: InvocationStatus, verification: String) -> Invocation {
    Invocation {
        id: InvocationId::new(state.clock.new_id()),
        trigger_id: trigger.id.clone(),
        received_at: state.clock.now().to_rfc3339(),
        status,
        verification,
        idempotency_key: None,
        error: None,
        rendered: vec![],
        outcomes: vec![],
        payload: None,
        replay_of: None,
    }
}

fn invocation_item(state: &AppState, ws: &WorkspaceId, inv: &Invocation) -> Item {
    Item::of(invocation_key(ws, &inv.trigger_id, &inv.id), inv).with_expiry(state.clock.now().timestamp() + INVOCATION_TTL_SECONDS)
}

/// `POST /t/{trigger}`: everything between the raw request and the answer.
pub async fn ingest(state: &AppState, raw_trigger: &str, headers: &HeaderMap, body: &[u8]) -> Result<IngestAnswer, ApiError> {
    let (ws, trigger, secrets) = store::for_ingest(state, raw_trigger).await?;
    let limit = crate::auth::ratelimit::Limit::per_minute(PER_MINUTE, PER_MINUTE);
    if let Err(after) = state.buckets.take(&format!("trigger#{}", trigger.id), limit, state.clock.now().timestamp_millis()).await? {
        return Err(ApiError::RateLimited(after));
    }
    let now = state.clock.now().timestamp();
    let from_sender = match verify_caller(&trigger, &secrets, headers, body, now) {
        Ok(key) => key,
        Err(e) => {
            // Refusals are logged (without the unverified body) so a misconfigured sender can be diagnosed.
            let inv = new_invocation(state, &trigger, InvocationStatus::Rejected, e.to_string());
            state.table.put(invocation_item(state, &ws, &inv), Condition::NotExists).await?;
            return Err(ApiError::InvalidSignature(e.to_string()));
        }
    };
    if !trigger.enabled {
        return Err(ApiError::Refused { code: "trigger_disabled", message: "this trigger is disabled".into() });
    }
    let payload: Json = serde_json::from_slice(body).map_err(|e| ApiError::Validation(format!("the body must be JSON: {e}")))?;
    let mut inv = new_invocation(state, &trigger, InvocationStatus::Running, "ok".into());
    inv.idempotency_key = idempotency_key(&trigger, from_sender, &payload);
    inv.payload = (body.len() <= MAX_STORED_PAYLOAD).then(|| payload.clone());
    let claim = inv.idempotency_key.as_ref().map(|key| Item::new(dedupe_key(&ws, &trigger.id, key)).with_attr("invocation_id", inv.id.as_str()).with_expiry(now + i64::from(trigger.dedupe_window_seconds)));
    let key = inv.idempotency_key.clone().unwrap_or_default();
    match execute(state, &ws, &trigger, inv, &payload, claim).await? {
        Ran::Done(inv) => Ok(IngestAnswer { invocation_id: inv.id, status: inv.status, duplicate: false, error: inv.error }),
        Ran::Duplicate => duplicate(state, &ws, &trigger, &key).await,
    }
}

async fn duplicate(state: &AppState, ws: &WorkspaceId, trigger: &Trigger, key: &str) -> Result<IngestAnswer, ApiError> {
    let claim = state.table.get(&dedupe_key(ws, &trigger.id, key)).await?.ok_or_else(|| ApiError::Conflict("the same event is being processed; retry".into()))?;
    let original = claim.attrs.get("invocation_id").and_then(|v| v.as_str()).and_then(|s| InvocationId::parse(s).ok()).ok_or_else(|| ApiError::Internal("dedupe record without invocation".into()))?;
    let status = match state.table.get(&invocation_key(ws, &trigger.id, &original)).await? {
        Some(item) => item.parse::<Invocation>()?.status,
        None => InvocationStatus::Fired,
    };
    Ok(IngestAnswer { invocation_id: original, status, duplicate: true, error: None })
}

/// How a call ended: with its invocation, or as a repeat of one whose dedupe claim already exists.
enum Ran {
    Done(Box<Invocation>),
    Duplicate,
}

/// Filters, renders and runs the actions of an invocation not yet stored, and stores it with its outcome
/// and `claim` (the dedupe marker, which makes a repeat `Duplicate`). A lone push action's notification
/// is written in that same transaction, so such a call commits once and its notification, claim and log
/// exist together or not at all. Several actions commit one by one, so the claim and a `running` log are
/// stored before the first of them.
async fn execute(state: &AppState, ws: &WorkspaceId, trigger: &Trigger, mut inv: Invocation, payload: &Json, mut claim: Option<Item>) -> Result<Ran, ApiError> {
    let ctx = render::context(payload);
    let rendered = render::passes(trigger.filter.as_deref(), &ctx).and_then(|pass| if pass { render::render_all(&trigger.actions, &ctx).map(Some) } else { Ok(None) });
    let mut running = None;
    match rendered {
        Err(e) => {
            inv.status = InvocationStatus::Failed;
            inv.error = Some(format!("template error in {e}"));
        }
        Ok(None) => inv.status = InvocationStatus::Filtered,
        Ok(Some(mut actions)) => {
            inv.rendered = actions.iter().map(|a| serde_json::to_value(a).expect("rendered action serialises")).collect();
            let tws = crate::auth::principal::service_workspace(ws.clone(), trigger.id.as_str());
            if let [RenderedAction::Push { .. }] = actions.as_slice() {
                return push_at_once(state, ws, &tws, trigger, inv, claim, actions.remove(0)).await;
            }
            // The marker lets the minute tick end this log as failed if the process dies before it ends.
            let marker = super::interrupted::marker(state.clock.now().timestamp_millis(), ws, &inv);
            running = Some(marker.key.clone());
            if !store(state, ws, &inv, claim.take(), Some(marker)).await? {
                return Ok(Ran::Duplicate);
            }
            for (index, action) in actions.into_iter().enumerate() {
                inv.outcomes.push(actions::run(state, &tws, &inv.id, index, action).await);
            }
            settle(&mut inv);
        }
    }
    finish(state, ws, trigger, inv, claim, running).await
}

/// Sets the status from the outcomes of the actions.
fn settle(inv: &mut Invocation) {
    let failed = inv.outcomes.iter().filter(|o| !o.ok).count();
    inv.status = if failed == 0 { InvocationStatus::Fired } else { InvocationStatus::Failed };
    if failed > 0 {
        inv.error = Some(format!("{failed} of {} action(s) failed", inv.outcomes.len()));
    }
}

/// A lone push action: its notification, outbox entry and audit entry are written in one transaction
/// with the claim and the invocation as fired.
async fn push_at_once(state: &AppState, ws: &WorkspaceId, tws: &Workspace, trigger: &Trigger, mut inv: Invocation, claim: Option<Item>, action: RenderedAction) -> Result<Ran, ApiError> {
    let claim_key = claim.as_ref().map(|c| c.key.clone());
    let fired = |id: &NotificationId| {
        let mut fired = inv.clone();
        fired.outcomes.push(actions::queued(0, id));
        settle(&mut fired);
        fired
    };
    let logs = |id: &NotificationId| {
        let mut writes: Vec<TxWrite> = claim.iter().map(|c| TxWrite::Put { item: c.clone(), condition: Condition::NotExists }).collect();
        writes.push(TxWrite::Put { item: invocation_item(state, ws, &fired(id)), condition: Condition::NotExists });
        writes
    };
    let failure = match actions::push_with(state, tws, 0, action, logs).await {
        Ok(id) => return Ok(Ran::Done(Box::new(fired(&id)))),
        Err(failure) => failure,
    };
    // The transaction may have been refused by the claim: a call with the same key came first.
    if let Some(key) = &claim_key {
        if state.table.get(key).await?.is_some() {
            return Ok(Ran::Duplicate);
        }
    }
    inv.outcomes.push(failure);
    settle(&mut inv);
    finish(state, ws, trigger, inv, claim, None).await
}

/// Stores a new invocation with its claim (and its `running` marker) in one transaction; false when
/// the claim already exists.
async fn store(state: &AppState, ws: &WorkspaceId, inv: &Invocation, claim: Option<Item>, marker: Option<Item>) -> Result<bool, ApiError> {
    let claimed = claim.is_some();
    let mut writes: Vec<TxWrite> = claim.into_iter().chain(marker).map(|item| TxWrite::Put { item, condition: Condition::NotExists }).collect();
    writes.push(TxWrite::Put { item: invocation_item(state, ws, inv), condition: Condition::NotExists });
    match state.table.transact(writes).await {
        Ok(()) => Ok(true),
        Err(TableError::TransactionCancelled { index: 0 }) if claimed => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Stores the invocation as it ended (replacing its `running` log and removing that log's marker when
/// `running` names one) and reports a failure.
async fn finish(state: &AppState, ws: &WorkspaceId, trigger: &Trigger, inv: Invocation, claim: Option<Item>, running: Option<Key>) -> Result<Ran, ApiError> {
    if let Some(marker) = running {
        let ended = TxWrite::Put { item: invocation_item(state, ws, &inv), condition: Condition::None };
        state.table.transact(vec![ended, TxWrite::Delete { key: marker, condition: Condition::None }]).await?;
    } else if !store(state, ws, &inv, claim, None).await? {
        return Ok(Ran::Duplicate);
    }
    if inv.status == InvocationStatus::Failed {
        report_failure(state, ws, &trigger.id, &trigger.name, &inv).await;
    }
    Ok(Ran::Done(Box::new(inv)))
}

/// Logs a failed invocation and emits `trigger.failed` to the workspace's event webhooks.
pub(super) async fn report_failure(state: &AppState, ws: &WorkspaceId, trigger: &TriggerId, name: &str, inv: &Invocation) {
    tracing::warn!(%trigger, invocation = %inv.id, error = inv.error.as_deref().unwrap_or_default(), "trigger invocation failed");
    let data = json!({"trigger_id": trigger, "trigger_name": name, "invocation_id": inv.id, "error": inv.error});
    crate::events_out::emit(state, ws, crate::events_out::EventType::TriggerFailed, data).await;
}

/// The invocation of a call that has no dedupe claim (so cannot be a repeat).
fn done(ran: Ran) -> Result<Invocation, ApiError> {
    match ran {
        Ran::Done(inv) => Ok(*inv),
        Ran::Duplicate => Err(ApiError::Conflict("this call was already run".into())),
    }
}

/// Runs a logged invocation's payload again as a new invocation (no dedupe: a replay is deliberate).
pub async fn replay(state: &AppState, ws: &Workspace, trigger_id: &TriggerId, id: &InvocationId) -> Result<Invocation, ApiError> {
    ws.require(crate::auth::Action::TriggersManage)?;
    let trigger = store::get(state, ws, trigger_id).await?;
    let original = get(state, ws, trigger_id, id).await?;
    let payload = original.payload.ok_or_else(|| ApiError::Refused { code: "not_replayable", message: "this invocation has no stored payload (refused, or larger than 64 KiB)".into() })?;
    let mut inv = new_invocation(state, &trigger, InvocationStatus::Running, "replay".into());
    inv.replay_of = Some(original.id);
    inv.payload = Some(payload.clone());
    done(execute(state, ws.id(), &trigger, inv, &payload, None).await?)
}

/// Runs `payload` through `trigger` (its actions possibly an unsaved draft) as a new invocation whose
/// verification reads `test`: it really sends, once per call (message ids derive from the invocation).
pub async fn test_send(state: &AppState, ws: &Workspace, trigger: &Trigger, payload: &Json) -> Result<Invocation, ApiError> {
    ws.require(crate::auth::Action::TriggersManage)?;
    let mut inv = new_invocation(state, trigger, InvocationStatus::Running, "test".into());
    inv.payload = Some(payload.clone());
    done(execute(state, ws.id(), trigger, inv, payload, None).await?)
}

/// Renders a sample payload without sending: the filter result and every action as it would go out.
pub fn preview(trigger_filter: Option<&str>, actions: &[super::types::ActionSpec], payload: &Json) -> Json {
    let ctx = render::context(payload);
    let fires = match render::passes(trigger_filter, &ctx) {
        Ok(f) => f,
        Err(e) => return json!({"fires": false, "error": format!("template error in {e}")}),
    };
    match render::render_all(actions, &ctx) {
        Ok(rendered) => json!({"fires": fires, "actions": rendered}),
        Err(e) => json!({"fires": fires, "error": format!("template error in {e}")}),
    }
}

pub async fn get(state: &AppState, ws: &Workspace, trigger: &TriggerId, id: &InvocationId) -> Result<Invocation, ApiError> {
    ws.require(crate::auth::Action::WorkspaceRead)?;
    Ok(state.table.get(&invocation_key(ws.id(), trigger, id)).await?.ok_or_else(|| ApiError::NotFound("no such invocation (they are kept 30 days)".into()))?.parse()?)
}

/// Newest first, with a cursor.
pub async fn list(state: &AppState, ws: &Workspace, trigger: &TriggerId, limit: u32, cursor: Option<&str>) -> Result<(Vec<Invocation>, Option<String>), ApiError> {
    ws.require(crate::auth::Action::WorkspaceRead)?;
    let cursor = cursor.map(crate::ports::Cursor::parse).transpose().map_err(|_| ApiError::Validation("invalid cursor".into()))?;
    let page = state.table.query(Query::partition(partition(ws.id(), trigger)).reverse().limit(limit.clamp(1, 100)).after(cursor)).await?;
    let items = page.items.iter().map(|i| i.parse().map_err(ApiError::from)).collect::<Result<_, _>>()?;
    Ok((items, page.next.map(|c| c.as_str().to_owned())))
}
