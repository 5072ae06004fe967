//! Inbox HTTP routes (`api-inbox`): conversations, their timeline, replies and team actions, the
//! consent ledger, and stored webhook events with replay.

use axum::extract::{Path, Query, State};
use axum::Router;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use crate::http::api_router::{routes, ApiRouter};

use super::actions::{self, Assign, Labels, Note, Reply, Snooze};
use super::consent::{self, ConsentChange};
use super::conversations::{self, Conversation, ConversationFilter, ConversationId, ConversationStatus, Entry};
use super::process::{self, RawEvent};
use crate::auth::{Action, Workspace};
use crate::http::{ApiJson, ApiOk, ApiResult};
use crate::openapi::{Envelope, ErrorEnvelope};
use crate::state::AppState;
use crate::whatsapp::types::PhoneNumber;

pub fn api() -> ApiRouter<AppState> {
    ApiRouter::new()
        .routes(routes!(list_conversations))
        .routes(routes!(get_conversation))
        .routes(routes!(timeline, reply))
        .routes(routes!(add_note))
        .routes(routes!(mark_read))
        .routes(routes!(assign))
        .routes(routes!(snooze))
        .routes(routes!(resolve))
        .routes(routes!(reopen))
        .routes(routes!(set_labels))
        .routes(routes!(consent_history, set_consent))
        .routes(routes!(list_events))
        .routes(routes!(replay_event))
        .merge(super::team_routes::api())
        .merge(super::attachment_routes::api())
        .merge(super::inbound_media::api())
}

/// The `api-inbox` route group.
pub fn routes() -> Router<AppState> {
    api().split_for_parts().0.merge(super::media_link::routes())
}

#[derive(Deserialize)]
struct ConvPath {
    conv: String,
}

#[derive(Serialize, ToSchema)]
struct ConversationPage {
    conversations: Vec<Conversation>,
    next_cursor: Option<String>,
}

#[derive(Serialize, ToSchema)]
struct TimelinePage {
    entries: Vec<Entry>,
    next_cursor: Option<String>,
}

#[derive(Deserialize, utoipa::IntoParams)]
struct Paging {
    cursor: Option<String>,
    limit: Option<u32>,
}

/// Conversations, most recent activity first. Poll with the same filters to follow new messages.
#[utoipa::path(get, path = "/v1/workspaces/{ws}/conversations", tag = "inbox", security(("bearer" = [])), params(("ws" = String, Path), ConversationFilter),
    responses((status = 200, description = "OK", body = Envelope<ConversationPage>)))]
async fn list_conversations(State(state): State<AppState>, ws: Workspace, Query(f): Query<ConversationFilter>) -> ApiResult<ConversationPage> {
    ws.require(Action::WorkspaceRead)?;
    let (conversations, next_cursor) = conversations::list(&state, ws.id(), &f).await?;
    Ok(ApiOk::ok(ConversationPage { conversations, next_cursor }))
}

/// One conversation.
#[utoipa::path(get, path = "/v1/workspaces/{ws}/conversations/{conv}", tag = "inbox", security(("bearer" = [])), params(("ws" = String, Path), ("conv" = String, Path)),
    responses((status = 200, description = "OK", body = Envelope<Conversation>), (status = 404, description = "Not found", body = ErrorEnvelope)))]
async fn get_conversation(State(state): State<AppState>, ws: Workspace, Path(p): Path<ConvPath>) -> ApiResult<Conversation> {
    Ok(ApiOk::ok(actions::get(&state, &ws, &ConversationId::parse(&p.conv)?).await?))
}

/// The timeline (messages, replies with their delivery status, notes), newest first.
#[utoipa::path(get, path = "/v1/workspaces/{ws}/conversations/{conv}/messages", tag = "inbox", security(("bearer" = [])), params(("ws" = String, Path), ("conv" = String, Path), Paging),
    responses((status = 200, description = "OK", body = Envelope<TimelinePage>), (status = 404, description = "Not found", body = ErrorEnvelope)))]
async fn timeline(State(state): State<AppState>, ws: Workspace, Path(p): Path<ConvPath>, Query(q): Query<Paging>) -> ApiResult<TimelinePage> {
    let id = ConversationId::parse(&p.conv)?;
    actions::get(&state, &ws, &id).await?;
    let (entries, next_cursor) = conversations::timeline(&state, ws.id(), &id, q.cursor.as_deref(), q.limit.unwrap_or(50)).await?;
    Ok(ApiOk::ok(TimelinePage { entries, next_cursor }))
}

/// Replies to the contact through the channel's provider.
#[utoipa::path(post, path = "/v1/workspaces/{ws}/conversations/{conv}/messages", tag = "inbox", security(("bearer" = [])), params(("ws" = String, Path), ("conv" = String, Path)), request_body = Reply,
    responses((status = 201, description = "Queued", body = Envelope<Entry>), (status = 404, description = "Not found", body = ErrorEnvelope), (status = 422, description = "Invalid, outside the 24-hour window, or opted out", body = ErrorEnvelope)))]
async fn reply(State(state): State<AppState>, ws: Workspace, Path(p): Path<ConvPath>, ApiJson(body): ApiJson<Reply>) -> ApiResult<Entry> {
    Ok(ApiOk::created(actions::reply(&state, &ws, &ConversationId::parse(&p.conv)?, body).await?))
}

/// A private note for the team (never sent).
#[utoipa::path(post, path = "/v1/workspaces/{ws}/conversations/{conv}/notes", tag = "inbox", security(("bearer" = [])), params(("ws" = String, Path), ("conv" = String, Path)), request_body = Note,
    responses((status = 201, description = "Added", body = Envelope<Entry>), (status = 404, description = "Not found", body = ErrorEnvelope)))]
async fn add_note(State(state): State<AppState>, ws: Workspace, Path(p): Path<ConvPath>, ApiJson(body): ApiJson<Note>) -> ApiResult<Entry> {
    Ok(ApiOk::created(actions::note(&state, &ws, &ConversationId::parse(&p.conv)?, body).await?))
}

/// Marks the conversation read.
#[utoipa::path(post, path = "/v1/workspaces/{ws}/conversations/{conv}/read", tag = "inbox", security(("bearer" = [])), params(("ws" = String, Path), ("conv" = String, Path)),
    responses((status = 200, description = "OK", body = Envelope<Conversation>), (status = 404, description = "Not found", body = ErrorEnvelope)))]
async fn mark_read(State(state): State<AppState>, ws: Workspace, Path(p): Path<ConvPath>) -> ApiResult<Conversation> {
    Ok(ApiOk::ok(actions::mark_read(&state, &ws, &ConversationId::parse(&p.conv)?).await?))
}

/// Assigns to a member, unassigns (null), or picks the next agent in turn (`round_robin`).
#[utoipa::path(post, path = "/v1/workspaces/{ws}/conversations/{conv}/assign", tag = "inbox", security(("bearer" = [])), params(("ws" = String, Path), ("conv" = String, Path)), request_body = Assign,
    responses((status = 200, description = "OK", body = Envelope<Conversation>), (status = 404, description = "Not found", body = ErrorEnvelope), (status = 422, description = "Not a member who can answer", body = ErrorEnvelope)))]
async fn assign(State(state): State<AppState>, ws: Workspace, Path(p): Path<ConvPath>, ApiJson(body): ApiJson<Assign>) -> ApiResult<Conversation> {
    Ok(ApiOk::ok(actions::assign(&state, &ws, &ConversationId::parse(&p.conv)?, body).await?))
}

/// Snoozes until a time; it counts as open again from then (or at the next inbound message).
#[utoipa::path(post, path = "/v1/workspaces/{ws}/conversations/{conv}/snooze", tag = "inbox", security(("bearer" = [])), params(("ws" = String, Path), ("conv" = String, Path)), request_body = Snooze,
    responses((status = 200, description = "OK", body = Envelope<Conversation>), (status = 422, description = "Bad time", body = ErrorEnvelope)))]
async fn snooze(State(state): State<AppState>, ws: Workspace, Path(p): Path<ConvPath>, ApiJson(body): ApiJson<Snooze>) -> ApiResult<Conversation> {
    Ok(ApiOk::ok(actions::set_status(&state, &ws, &ConversationId::parse(&p.conv)?, ConversationStatus::Snoozed, Some(&body.until)).await?))
}

/// Resolves the conversation (a new inbound message reopens it).
#[utoipa::path(post, path = "/v1/workspaces/{ws}/conversations/{conv}/resolve", tag = "inbox", security(("bearer" = [])), params(("ws" = String, Path), ("conv" = String, Path)),
    responses((status = 200, description = "OK", body = Envelope<Conversation>), (status = 404, description = "Not found", body = ErrorEnvelope)))]
async fn resolve(State(state): State<AppState>, ws: Workspace, Path(p): Path<ConvPath>) -> ApiResult<Conversation> {
    Ok(ApiOk::ok(actions::set_status(&state, &ws, &ConversationId::parse(&p.conv)?, ConversationStatus::Resolved, None).await?))
}

/// Reopens the conversation.
#[utoipa::path(post, path = "/v1/workspaces/{ws}/conversations/{conv}/reopen", tag = "inbox", security(("bearer" = [])), params(("ws" = String, Path), ("conv" = String, Path)),
    responses((status = 200, description = "OK", body = Envelope<Conversation>), (status = 404, description = "Not found", body = ErrorEnvelope)))]
async fn reopen(State(state): State<AppState>, ws: Workspace, Path(p): Path<ConvPath>) -> ApiResult<Conversation> {
    Ok(ApiOk::ok(actions::set_status(&state, &ws, &ConversationId::parse(&p.conv)?, ConversationStatus::Open, None).await?))
}

/// Replaces the conversation's labels.
#[utoipa::path(put, path = "/v1/workspaces/{ws}/conversations/{conv}/labels", tag = "inbox", security(("bearer" = [])), params(("ws" = String, Path), ("conv" = String, Path)), request_body = Labels,
    responses((status = 200, description = "OK", body = Envelope<Conversation>), (status = 422, description = "Too many or too long", body = ErrorEnvelope)))]
async fn set_labels(State(state): State<AppState>, ws: Workspace, Path(p): Path<ConvPath>, ApiJson(body): ApiJson<Labels>) -> ApiResult<Conversation> {
    Ok(ApiOk::ok(actions::set_labels(&state, &ws, &ConversationId::parse(&p.conv)?, body).await?))
}

#[derive(Deserialize)]
struct ContactPath {
    phone: String,
}

/// A contact's opt-out / opt-in history, newest first.
#[utoipa::path(get, path = "/v1/workspaces/{ws}/contacts/{phone}/consent", tag = "inbox", security(("bearer" = [])), params(("ws" = String, Path), ("phone" = String, Path)),
    responses((status = 200, description = "OK", body = Envelope<Vec<ConsentChange>>), (status = 422, description = "Not an E.164 number", body = ErrorEnvelope)))]
async fn consent_history(State(state): State<AppState>, ws: Workspace, Path(p): Path<ContactPath>) -> ApiResult<Vec<ConsentChange>> {
    ws.require(Action::WorkspaceRead)?;
    Ok(ApiOk::ok(consent::history(&state, ws.id(), &PhoneNumber::parse(&p.phone)?).await?))
}

#[derive(Deserialize, ToSchema)]
struct ConsentSet {
    /// true: never message this number (as a STOP would); false: opted in again.
    opted_out: bool,
}

/// Records an opt-out or opt-in made outside WhatsApp (by phone, in a shop), with who set it.
#[utoipa::path(post, path = "/v1/workspaces/{ws}/contacts/{phone}/consent", tag = "inbox", security(("bearer" = [])), params(("ws" = String, Path), ("phone" = String, Path)), request_body = ConsentSet,
    responses((status = 200, description = "The history, newest first", body = Envelope<Vec<ConsentChange>>), (status = 422, description = "Not an E.164 number", body = ErrorEnvelope)))]
async fn set_consent(State(state): State<AppState>, ws: Workspace, Path(p): Path<ContactPath>, ApiJson(body): ApiJson<ConsentSet>) -> ApiResult<Vec<ConsentChange>> {
    ws.require(Action::ContactsManage)?;
    let contact = PhoneNumber::parse(&p.phone)?;
    let change = ConsentChange { contact: contact.clone(), opted_out: body.opted_out, at: state.clock.now().to_rfc3339(), how: format!("set in the dashboard by {}", ws.principal().actor()) };
    consent::record(&state, ws.id(), &change).await?;
    Ok(ApiOk::ok(consent::history(&state, ws.id(), &contact).await?))
}

/// Provider webhooks as received (kept 14 days), newest first.
#[utoipa::path(get, path = "/v1/workspaces/{ws}/webhook-events", tag = "inbox", security(("bearer" = [])), params(("ws" = String, Path), Paging),
    responses((status = 200, description = "OK", body = Envelope<Vec<RawEvent>>)))]
async fn list_events(State(state): State<AppState>, ws: Workspace, Query(q): Query<Paging>) -> ApiResult<Vec<RawEvent>> {
    ws.require(Action::ChannelsManage)?;
    Ok(ApiOk::ok(process::list_raw(&state, ws.id(), q.limit.unwrap_or(50)).await?))
}

#[derive(Deserialize)]
struct EventPath {
    event: String,
}

/// Queues a stored webhook for processing again (by the webhook worker, with its retries and dead-letter
/// queue); processing is idempotent, so the result is the same as the first time.
#[utoipa::path(post, path = "/v1/workspaces/{ws}/webhook-events/{event}/replay", tag = "inbox", security(("bearer" = [])), params(("ws" = String, Path), ("event" = String, Path)),
    responses((status = 202, description = "Queued for processing", body = Envelope<Object>), (status = 404, description = "Expired or unknown", body = ErrorEnvelope)))]
async fn replay_event(State(state): State<AppState>, ws: Workspace, Path(p): Path<EventPath>) -> ApiResult<serde_json::Value> {
    ws.require(Action::ChannelsManage)?;
    process::requeue(&state, ws.id(), &p.event).await?;
    Ok(ApiOk(axum::http::StatusCode::ACCEPTED, json!({"replayed": p.event, "queued": true})))
}
