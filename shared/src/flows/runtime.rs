//! The flow runtime inside inbound processing: picks the flow a message starts (or the session it
//! continues), runs the engine, and commits the claim on the provider message id, the session, the
//! contact profile and captured answers in one transaction, so a redelivered webhook never advances a
//! conversation twice. Then it sends through the WhatsApp outbound path (window and opt-outs apply)
//! and applies labels and hand-offs. STOP always wins: an opted-out contact's session is dropped.

use async_trait::async_trait;
use aws_lc_rs::digest;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

use super::control::{bot_control, bot_key, BotControl};
use super::engine::{self, ContactData, Effect, Env, Input, Session, Waiting};
use super::store::{self, Flow};
use super::check::keyword_regex;
use super::types::{FlowDoc, FlowId, KeywordMode, TriggerSpec};
use crate::auth::principal::service_workspace;
use crate::auth::WorkspaceId;
use crate::http::ApiError;
use crate::inbox::conversations::{self, Conversation, ConversationId, Entry, LastMessage};
use crate::ports::{Condition, Item, Key, Query, TableError, TxWrite};
use crate::state::AppState;
use crate::whatsapp::messages::{self, NewMessage};
use crate::whatsapp::types::Content;

/// Captured answers are kept this long unless the flow sets `retention_days`.
pub const DEFAULT_RETENTION_DAYS: u32 = 365;
const DUE: &str = "FLOWDUE";

pub(super) fn session_key(ws: &WorkspaceId, conv: &ConversationId) -> Key {
    Key::new(format!("WS#{ws}#FLOWSESS"), conv.to_string())
}

fn claim_key(ws: &WorkspaceId, conv: &ConversationId, provider_message_id: &str) -> Key {
    Key::new(format!("WS#{ws}#FLOWCLAIM"), format!("{conv}#{provider_message_id}"))
}

pub fn contact_key(ws: &WorkspaceId, contact: &str) -> Key {
    Key::new(format!("WS#{ws}#FLOWCONTACT"), contact.to_owned())
}

fn due_key(ws: &WorkspaceId, conv: &ConversationId, at: i64) -> Key {
    Key::new(DUE, format!("{at:013}#{ws}#{conv}"))
}

pub fn answers_partition(ws: &WorkspaceId, flow: &FlowId) -> String {
    format!("WS#{ws}#FLOWANS#{flow}")
}

pub fn stats_partition(ws: &WorkspaceId, flow: &FlowId) -> String {
    format!("WS#{ws}#FLOWSTAT#{flow}")
}

/// One captured answer.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct Answer {
    pub flow_id: FlowId,
    pub flow_version: u32,
    pub conversation_id: ConversationId,
    pub contact: String,
    pub step: String,
    pub into: String,
    pub value: String,
    pub at: String,
}

/// The engine's window on the world: the platform clock, the workspace's time zone and the
/// SSRF-guarded client.
pub struct LiveEnv<'a> {
    state: &'a AppState,
    zone: chrono_tz::Tz,
}

impl<'a> LiveEnv<'a> {
    pub async fn new(state: &'a AppState, ws: &WorkspaceId) -> Result<Self, ApiError> {
        Ok(Self { state, zone: crate::workspaces::members::time_zone(state, ws).await? })
    }
}

/// One stored inbound message, as the flow runtime sees it.
#[derive(Debug, Clone, Copy, Default)]
pub struct Inbound<'a> {
    pub provider_message_id: &'a str,
    pub text: Option<&'a str>,
    /// The id of the reply button or list row it tapped.
    pub reply_id: Option<&'a str>,
    /// The broadcast this message is the first reply to.
    pub broadcast_reply: Option<&'a str>,
}

impl<'a> Inbound<'a> {
    fn input(&self) -> Input<'a> {
        let text = self.text.unwrap_or_default();
        match self.reply_id {
            Some(id) => Input::Tap { text, id },
            None => Input::Message(text),
        }
    }
}

#[async_trait]
impl Env for LiveEnv<'_> {
    fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.state.clock.now()
    }

    fn time_zone(&self) -> chrono_tz::Tz {
        self.zone
    }

    async fn webhook(&self, url: &str, body: &Value, timeout_seconds: u32) -> Result<Value, String> {
        let rt = &self.state.events_out;
        let url = crate::http::outbound::check_url(url, &rt.policy).map_err(|e| e.to_string())?;
        if !crate::http::outbound::literal_allowed(&url, &rt.policy) {
            return Err("the URL points at a private or internal address".into());
        }
        let send = rt.http.post(url).timeout(std::time::Duration::from_secs(timeout_seconds.into())).json(body).send();
        let resp = send.await.map_err(|e| if e.is_timeout() { "timed out".to_owned() } else { "could not connect".to_owned() })?;
        if !resp.status().is_success() {
            return Err(format!("HTTP {}", resp.status().as_u16()));
        }
        let bytes = resp.bytes().await.map_err(|_| "the response was cut off".to_owned())?;
        if bytes.len() > 64 * 1024 {
            return Err("the response is larger than 64 KiB".into());
        }
        if bytes.is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_slice(&bytes).map_err(|_| "the response is not JSON".to_owned())
    }
}

/// The flow (and version) an inbound message starts, highest priority first; at equal priority
/// keywords beat button replies, then broadcast replies, first-message and unassigned triggers.
pub fn pick_flow<'a>(flows: &'a [Flow], conv: &Conversation, is_new: bool, msg: &Inbound) -> Option<&'a Flow> {
    let text = msg.text.unwrap_or_default().trim();
    let rank = |t: &TriggerSpec| -> Option<u8> {
        let on = |c: &Option<String>| c.as_deref().is_none_or(|c| c == conv.channel_id.as_str());
        match t {
            TriggerSpec::Keyword { mode, value, channel_id } if on(channel_id) && !text.is_empty() => {
                let hit = match mode {
                    KeywordMode::Exact => text.eq_ignore_ascii_case(value.trim()),
                    KeywordMode::Contains => text.to_lowercase().contains(&value.trim().to_lowercase()),
                    KeywordMode::Regex => keyword_regex(value).is_ok_and(|r| r.is_match(text)),
                };
                hit.then_some(5)
            }
            TriggerSpec::ButtonReply { id } => msg.reply_id.map_or_else(|| text.eq_ignore_ascii_case(id.trim()), |r| r == id.trim()).then_some(4),
            TriggerSpec::BroadcastReply { broadcast_id } => msg.broadcast_reply.filter(|b| broadcast_id.as_deref().is_none_or(|want| want == *b)).map(|_| 3),
            TriggerSpec::FirstMessage { channel_id } => (is_new && on(channel_id)).then_some(2),
            TriggerSpec::Unassigned { channel_id } => (conv.assignee.is_none() && on(channel_id)).then_some(1),
            _ => None,
        }
    };
    let live = flows.iter().filter_map(|f| f.live.as_ref().map(|d| (f, d)));
    live.filter_map(|(f, d)| d.triggers.iter().filter_map(rank).max().map(|r| (d.priority, r, f))).max_by_key(|(p, r, _)| (*p, *r)).map(|(_, _, f)| f)
}

pub(super) async fn load_session(state: &AppState, ws: &WorkspaceId, conv: &ConversationId) -> Result<Option<(u64, Session)>, ApiError> {
    Ok(match state.table.get(&session_key(ws, conv)).await? {
        Some(item) => Some((item.version, item.parse()?)),
        None => None,
    })
}

pub(crate) async fn load_contact(state: &AppState, ws: &WorkspaceId, contact: &str) -> Result<ContactData, ApiError> {
    Ok(state.table.get(&contact_key(ws, contact)).await?.map(|i| i.parse()).transpose()?.unwrap_or_default())
}

/// Called once per stored inbound message. Flow problems (a refused send, a bad stored flow) are
/// logged; only storage failures fail the webhook job (it is retried, and the claim keeps it once).
pub async fn on_inbound(state: &AppState, ws: &WorkspaceId, conv: &Conversation, is_new: bool, msg: &Inbound<'_>) -> Result<(), ApiError> {
    match inbound(state, ws, conv, is_new, msg).await {
        Err(e @ (ApiError::Unavailable(_) | ApiError::Conflict(_))) => Err(e),
        Err(e) => {
            tracing::warn!(workspace = %ws, conversation = %conv.id, error = %e, "bot flow step failed");
            Ok(())
        }
        Ok(()) => Ok(()),
    }
}

async fn inbound(state: &AppState, ws: &WorkspaceId, conv: &Conversation, is_new: bool, msg: &Inbound<'_>) -> Result<(), ApiError> {
    let (provider_message_id, text) = (msg.provider_message_id, msg.text);
    let stop = text.and_then(crate::inbox::consent::keyword) == Some(true);
    if stop || crate::inbox::consent::is_opted_out(state, ws, &conv.contact).await? {
        // STOP wins over any flow: the session ends here and nothing more is sent.
        state.table.delete(&session_key(ws, &conv.id), Condition::None).await?;
        return Ok(());
    }
    if bot_control(state, ws, &conv.id).await?.is_some() {
        return Ok(());
    }
    let claim = claim_key(ws, &conv.id, provider_message_id);
    if state.table.get(&claim).await?.is_some() {
        return Ok(());
    }
    let now = state.clock.now();
    let existing = load_session(state, ws, &conv.id).await?.filter(|(_, s)| !s.done && s.expires_at > now.timestamp());
    let (version, mut session, doc, input) = match existing {
        Some((v, s)) => {
            let doc = store::load_version(state, ws, &s.flow_id, s.flow_version).await?.doc;
            (Some(v), s, doc, msg.input())
        }
        None => {
            let flows = store::live_flows_all(state, ws).await?;
            let Some(flow) = pick_flow(&flows, conv, is_new, msg) else { return Ok(()) };
            let (Some(doc), Some(live)) = (flow.live.clone(), flow.live_version) else { return Ok(()) };
            let mut vars = Map::new();
            vars.insert("trigger_text".into(), Value::String(text.unwrap_or_default().to_owned()));
            if let Some(id) = msg.reply_id {
                vars.insert(engine::REPLY_ID_VAR.into(), Value::String(id.to_owned()));
            }
            if let Some(b) = msg.broadcast_reply {
                vars.insert("broadcast_id".into(), Value::String(b.to_owned()));
            }
            let version = state.table.get(&session_key(ws, &conv.id)).await?.map(|i| i.version);
            (version, engine::start(&doc, &flow.id, live, vars, now), doc, Input::Start)
        }
    };
    let before = session.clone();
    let mut contact = load_contact(state, ws, conv.contact.as_str()).await?;
    let effects = engine::advance(&doc, &mut session, &mut contact, input, &LiveEnv::new(state, ws).await?).await;
    let committed = commit(state, ws, conv, &doc, (&before, version), &session, &contact, &effects, Some(claim)).await?;
    if committed {
        apply(state, ws, conv, &session, &effects, provider_message_id).await?;
    }
    Ok(())
}

/// Writes the session move all-or-nothing. `false` when another delivery of the same message (or a
/// concurrent tick) already moved it.
#[allow(clippy::too_many_arguments)]
async fn commit(state: &AppState, ws: &WorkspaceId, conv: &Conversation, doc: &FlowDoc, (before, version): (&Session, Option<u64>), after: &Session, contact: &ContactData, effects: &[Effect], claim: Option<Key>) -> Result<bool, ApiError> {
    let now = state.clock.now();
    let key = session_key(ws, &conv.id);
    let condition = version.map_or(Condition::NotExists, Condition::VersionIs);
    let mut writes = Vec::new();
    if let Some(claim) = claim {
        writes.push(TxWrite::Put { item: Item::new(claim).with_expiry(now.timestamp() + 30 * 86_400), condition: Condition::NotExists });
    }
    let session_item = Item::of(key.clone(), after).with_version(version.map_or(1, |v| v + 1)).with_expiry(after.expires_at);
    writes.push(TxWrite::Put { item: session_item, condition });
    if let Some(at) = before.resume_at.filter(|_| before.waiting != Waiting::No && before.flow_id == after.flow_id) {
        writes.push(TxWrite::Delete { key: due_key(ws, &conv.id, at), condition: Condition::None });
    }
    if let Some(at) = after.resume_at.filter(|_| after.waiting != Waiting::No && !after.done) {
        let due = due_key(ws, &conv.id, at);
        writes.retain(|w| !matches!(w, TxWrite::Delete { key, .. } if *key == due));
        writes.push(TxWrite::Put { item: Item::new(due), condition: Condition::None });
    }
    writes.push(TxWrite::Put { item: Item::of(contact_key(ws, conv.contact.as_str()), contact), condition: Condition::None });
    let retention = i64::from(doc.retention_days.unwrap_or(DEFAULT_RETENTION_DAYS)) * 86_400;
    for (n, e) in effects.iter().enumerate().filter(|(_, e)| matches!(e, Effect::Captured { .. })).take(15) {
        let Effect::Captured { step, into, value } = e else { continue };
        let answer = Answer { flow_id: after.flow_id.clone(), flow_version: after.flow_version, conversation_id: conv.id.clone(), contact: conv.contact.as_str().to_owned(), step: step.clone(), into: into.clone(), value: value.clone(), at: now.to_rfc3339() };
        let sk = format!("{}#{}#{n:02}", state.clock.new_id(), conv.id);
        writes.push(TxWrite::Put { item: Item::of(Key::new(answers_partition(ws, &after.flow_id), sk), &answer).with_expiry(now.timestamp() + retention), condition: Condition::NotExists });
    }
    // The funnel moves with the session: counted exactly once per committed move, never for a move
    // that lost the race, and not lost when the process dies before the effects are applied.
    writes.extend(super::data::funnel_writes(ws, after, effects));
    match state.table.transact(writes).await {
        Ok(()) => Ok(true),
        Err(TableError::TransactionCancelled { .. }) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

fn client_id(provider_message_id: &str, n: usize) -> String {
    let h = digest::digest(&digest::SHA256, provider_message_id.as_bytes());
    let hex: String = h.as_ref()[..12].iter().map(|b| format!("{b:02x}")).collect();
    format!("flow.{hex}.{n}")
}

/// Applies the effects of a committed move: messages out, labels, hand-off (the funnel was counted in the commit).
async fn apply(state: &AppState, ws: &WorkspaceId, conv: &Conversation, session: &Session, effects: &[Effect], cause: &str) -> Result<(), ApiError> {
    let bot = service_workspace(ws.clone(), &format!("flow:{}", session.flow_id));
    let mut sent = 0;
    for e in effects {
        match e {
            Effect::Send { content } => {
                sent += 1;
                if let Err(err) = send(state, &bot, conv, content.clone(), client_id(cause, sent)).await {
                    tracing::warn!(conversation = %conv.id, error = %err, "bot message not sent");
                }
            }
            Effect::Label { label } => {
                let label = label.clone();
                conversations::modify(state, ws, &conv.id, |c| {
                    if !c.labels.contains(&label) && c.labels.len() < 20 {
                        c.labels.push(label.clone());
                        c.labels.sort();
                    }
                })
                .await?;
            }
            Effect::Handoff { agent, team, note } => handoff(state, &bot, conv, agent.clone(), team.as_deref(), note).await?,
            _ => {}
        }
    }
    Ok(())
}

/// Sends one bot message (buttons and lists fitted to what the channel's provider can show) and shows
/// it in the inbox timeline.
async fn send(state: &AppState, bot: &crate::auth::Workspace, conv: &Conversation, content: Content, client_message_id: String) -> Result<(), ApiError> {
    let provider = crate::whatsapp::channels::load(state, bot.id(), &conv.channel_id).await?.1.provider;
    let content = content.fitted_for(provider);
    let req = NewMessage { channel_id: conv.channel_id.to_string(), to: conv.contact.as_str().to_owned(), content: content.clone(), template_fallback: None, client_message_id: Some(client_message_id), template_id: None, template_variables: None };
    let (message, _) = messages::send(state, bot, req).await?;
    let text = match &content {
        Content::Text { body, .. } | Content::Interactive { body, .. } | Content::List { body, .. } => Some(body.clone()),
        Content::Media { caption, .. } | Content::Attachment { caption, .. } => caption.clone(),
        Content::Template { name, content_sid, .. } => Some(format!("[template {}]", name.clone().or(content_sid.clone()).unwrap_or_default())),
    };
    let entry = Entry { id: message.id.to_string(), direction: "outbound".into(), kind: content.kind().into(), text: text.clone(), media: None, provider_message_id: None, message_id: Some(message.id.to_string()), status: Some(message.status), author: Some("bot".into()), edited: false, deleted: false, at: message.created_at.clone() };
    conversations::append(state, bot.id(), &conv.id, &entry).await?;
    let last = LastMessage { direction: "outbound".into(), preview: text.unwrap_or_default().chars().take(120).collect(), at: message.created_at };
    conversations::modify(state, bot.id(), &conv.id, |c| c.last_message = Some(last.clone())).await?;
    Ok(())
}

/// Assigns the conversation (and its team), leaves the summary note, and turns the bot off until it
/// is handed back. A team that was deleted since the flow was published falls back to the workspace's agents.
async fn handoff(state: &AppState, bot: &crate::auth::Workspace, conv: &Conversation, agent: Option<String>, team: Option<&str>, note: &str) -> Result<(), ApiError> {
    let team = match team.map(crate::inbox::teams::TeamId::parse) {
        Some(Ok(id)) => match crate::inbox::teams::load(state, bot.id(), &id).await {
            Ok(t) => Some(t.id),
            Err(e) => {
                tracing::warn!(conversation = %conv.id, error = %e, "hand-off team is gone; round-robin over the workspace");
                None
            }
        },
        _ => None,
    };
    let round_robin = agent.is_none();
    let assignee = match crate::inbox::actions::choose_assignee(state, bot, agent, round_robin, team.as_ref()).await {
        Ok(a) => a,
        Err(e) => {
            tracing::warn!(conversation = %conv.id, error = %e, "hand-off without an assignee");
            None
        }
    };
    let team = team.map(|t| t.to_string());
    conversations::modify(state, bot.id(), &conv.id, |c| (c.assignee, c.team_id) = (assignee.clone().or(c.assignee.clone()), team.clone().or(c.team_id.clone()))).await?;
    let at = state.clock.now().to_rfc3339();
    let entry = Entry { id: state.clock.new_id().to_string().to_lowercase(), direction: "note".into(), kind: "text".into(), text: Some(note.chars().take(4000).collect()), media: None, provider_message_id: None, message_id: None, status: None, author: Some("bot".into()), edited: false, deleted: false, at: at.clone() };
    conversations::append(state, bot.id(), &conv.id, &entry).await?;
    let control = BotControl { paused: true, reason: "handoff".into(), by: bot.principal().actor(), at };
    state.table.put(Item::of(bot_key(bot.id(), &conv.id), &control), Condition::None).await?;
    Ok(())
}

/// Starts a flow for a contact from the API (a webhook trigger action, a CRM). Replaces any running session.
pub async fn start_for(state: &AppState, ws: &crate::auth::Workspace, flow_id: &FlowId, channel: &crate::whatsapp::types::ChannelId, contact: &crate::whatsapp::types::PhoneNumber, vars: Map<String, Value>) -> Result<Session, ApiError> {
    ws.require(crate::auth::Action::FlowsStart)?;
    let flow = store::get(state, ws, flow_id).await?;
    let (Some(doc), Some(live)) = (flow.live.clone(), flow.live_version) else { return Err(ApiError::Refused { code: "not_published", message: "publish the flow before starting it".into() }) };
    crate::whatsapp::channels::load(state, ws.id(), channel).await.map_err(|_| ApiError::Validation(format!("no channel `{channel}` in this workspace")))?;
    if crate::inbox::consent::is_opted_out(state, ws.id(), contact).await? {
        return Err(ApiError::Refused { code: "opted_out", message: format!("{} opted out of messages", contact.as_str()) });
    }
    let (conv, _) = conversations::find_or_create(state, ws.id(), channel, contact, None).await?;
    if bot_control(state, ws.id(), &conv.id).await?.is_some() {
        return Err(ApiError::Refused { code: "bot_paused", message: "the bot is paused on this conversation".into() });
    }
    let version = state.table.get(&session_key(ws.id(), &conv.id)).await?.map(|i| i.version);
    let old = load_session(state, ws.id(), &conv.id).await?.map(|(_, s)| s);
    let mut session = engine::start(&doc, flow_id, live, vars, state.clock.now());
    let before = old.unwrap_or_else(|| session.clone());
    let mut data = load_contact(state, ws.id(), contact.as_str()).await?;
    let effects = engine::advance(&doc, &mut session, &mut data, Input::Start, &LiveEnv::new(state, ws.id()).await?).await;
    if !commit(state, ws.id(), &conv, &doc, (&before, version), &session, &data, &effects, None).await? {
        return Err(ApiError::Conflict("the conversation moved meanwhile; retry".into()));
    }
    apply(state, ws.id(), &conv, &session, &effects, &format!("start.{}", state.clock.new_id())).await?;
    Ok(session)
}

/// The minute tick's part: timer waits and reply timeouts that are due. Deleting the due item in the
/// commit makes each fire once even when ticks overlap. Returns how many fired.
pub async fn sweep_due(state: &AppState) -> Result<usize, ApiError> {
    let now = state.clock.now().timestamp();
    let page = state.table.query(Query::partition(DUE).between("0", format!("{now:013}~")).limit(100)).await?;
    let mut fired = 0;
    for item in &page.items {
        let mut parts = item.key.sk.splitn(3, '#');
        let (Some(at), Some(ws), Some(conv)) = (parts.next(), parts.next(), parts.next()) else { continue };
        let (Ok(at), Ok(ws), Ok(conv_id)) = (at.parse::<i64>(), WorkspaceId::parse(ws), ConversationId::parse(conv)) else { continue };
        let session = load_session(state, &ws, &conv_id).await?;
        let live = session.filter(|(_, s)| s.resume_at == Some(at) && s.waiting != Waiting::No && !s.done);
        let Some((version, mut session)) = live else {
            state.table.delete(&item.key, Condition::None).await?;
            continue;
        };
        let conv = conversations::load(state, &ws, &conv_id).await?;
        let doc = store::load_version(state, &ws, &session.flow_id, session.flow_version).await?.doc;
        let before = session.clone();
        let mut contact = load_contact(state, &ws, conv.contact.as_str()).await?;
        let effects = engine::advance(&doc, &mut session, &mut contact, Input::Timer, &LiveEnv::new(state, &ws).await?).await;
        if commit(state, &ws, &conv, &doc, (&before, Some(version)), &session, &contact, &effects, None).await? {
            apply(state, &ws, &conv, &session, &effects, &format!("timer.{}", item.key.sk)).await?;
            fired += 1;
        }
    }
    Ok(fired)
}
