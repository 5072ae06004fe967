//! WhatsApp HTTP routes. `api-credentials`: credentials and channels under `/v1/workspaces/{ws}`;
//! `api-messages`: the send API and the message log.

use axum::extract::{Path, Query, State};
use axum::Router;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use crate::http::api_router::{routes, ApiRouter};

use super::channels::{self, Channel, ChannelUpdate, ChannelView, CreatedChannel, NewChannel, WebhookSecret};
use super::check::{self, TestRequest};
use super::credentials::{self, Credential, CredentialUpdate, NewCredential, TestOutcome};
use super::messages::{self, Message, MessageFilter, NewMessage};
use super::providers::LinkState;
use super::types::{ChannelId, CredentialId, MessageId};
use crate::auth::{Action, RequestMeta, Workspace};
use crate::http::idempotency::{self, Attempt, IdempotencyKey, Idempotent, Outcome};
use crate::http::{ApiJson, ApiOk, ApiResult};
use crate::openapi::{Envelope, ErrorEnvelope};
use crate::state::AppState;

pub fn credentials_api() -> ApiRouter<AppState> {
    ApiRouter::new()
        .routes(routes!(list_credentials, create_credential))
        .routes(routes!(get_credential, update_credential, delete_credential))
        .routes(routes!(test_credential))
        .routes(routes!(list_channels, create_channel))
        .routes(routes!(get_channel, update_channel, delete_channel))
        .routes(routes!(link_channel))
        .routes(routes!(rotate_channel_secret))
        .merge(super::templates_routes::api())
}

pub fn messages_api() -> ApiRouter<AppState> {
    ApiRouter::new().routes(routes!(list_messages, send_message)).routes(routes!(get_message))
}

/// The `api-credentials` route group.
pub fn credentials_routes() -> Router<AppState> {
    credentials_api().split_for_parts().0
}

/// The `api-messages` route group.
pub fn messages_routes() -> Router<AppState> {
    messages_api().split_for_parts().0
}

#[derive(Deserialize)]
struct CredPath {
    cred: String,
}

#[derive(Deserialize)]
struct ChanPath {
    chan: String,
}

#[derive(Deserialize)]
struct MsgPath {
    msg: String,
}

/// Provider credentials (secrets never included).
#[utoipa::path(get, path = "/v1/workspaces/{ws}/credentials", tag = "whatsapp", security(("bearer" = [])), params(("ws" = String, Path)), responses((status = 200, description = "OK", body = Envelope<Vec<Credential>>)))]
async fn list_credentials(State(state): State<AppState>, ws: Workspace) -> ApiResult<Vec<Credential>> {
    Ok(ApiOk::ok(credentials::list(&state, &ws).await?))
}

/// Stores a provider credential; its secrets are sealed and only a masked hint is returned.
#[utoipa::path(post, path = "/v1/workspaces/{ws}/credentials", tag = "whatsapp", security(("bearer" = [])), params(("ws" = String, Path)), request_body = NewCredential,
    responses((status = 201, description = "Created", body = Envelope<Credential>), (status = 422, description = "Invalid input", body = ErrorEnvelope)))]
async fn create_credential(State(state): State<AppState>, ws: Workspace, meta: RequestMeta, ApiJson(body): ApiJson<NewCredential>) -> ApiResult<Credential> {
    Ok(ApiOk::created(credentials::create(&state, &ws, &meta, body).await?))
}

/// One credential.
#[utoipa::path(get, path = "/v1/workspaces/{ws}/credentials/{cred}", tag = "whatsapp", security(("bearer" = [])), params(("ws" = String, Path), ("cred" = String, Path)),
    responses((status = 200, description = "OK", body = Envelope<Credential>), (status = 404, description = "Not found", body = ErrorEnvelope)))]
async fn get_credential(State(state): State<AppState>, ws: Workspace, Path(p): Path<CredPath>) -> ApiResult<Credential> {
    Ok(ApiOk::ok(credentials::get(&state, &ws, &CredentialId::parse(&p.cred)?).await?))
}

/// Renames a credential and/or replaces its secrets (rotation: sealed under a fresh data key).
#[utoipa::path(put, path = "/v1/workspaces/{ws}/credentials/{cred}", tag = "whatsapp", security(("bearer" = [])), params(("ws" = String, Path), ("cred" = String, Path)), request_body = CredentialUpdate,
    responses((status = 200, description = "OK", body = Envelope<Credential>), (status = 404, description = "Not found", body = ErrorEnvelope), (status = 422, description = "Invalid input", body = ErrorEnvelope)))]
async fn update_credential(State(state): State<AppState>, ws: Workspace, meta: RequestMeta, Path(p): Path<CredPath>, ApiJson(body): ApiJson<CredentialUpdate>) -> ApiResult<Credential> {
    Ok(ApiOk::ok(credentials::update(&state, &ws, &meta, &CredentialId::parse(&p.cred)?, body).await?))
}

/// Deletes a credential no channel uses.
#[utoipa::path(delete, path = "/v1/workspaces/{ws}/credentials/{cred}", tag = "whatsapp", security(("bearer" = [])), params(("ws" = String, Path), ("cred" = String, Path)),
    responses((status = 200, description = "Deleted"), (status = 404, description = "Not found", body = ErrorEnvelope), (status = 409, description = "In use by channels", body = ErrorEnvelope)))]
async fn delete_credential(State(state): State<AppState>, ws: Workspace, meta: RequestMeta, Path(p): Path<CredPath>) -> ApiResult<serde_json::Value> {
    credentials::delete(&state, &ws, &meta, &CredentialId::parse(&p.cred)?).await?;
    Ok(ApiOk::ok(json!({"deleted": p.cred})))
}

/// "Test WhatsApp": sends a test message through the credential now and explains the provider's answer.
#[utoipa::path(post, path = "/v1/workspaces/{ws}/credentials/{cred}/test", tag = "whatsapp", security(("bearer" = [])), params(("ws" = String, Path), ("cred" = String, Path)), request_body = TestRequest,
    responses((status = 200, description = "The provider's answer, explained (ok true or false)", body = Envelope<TestOutcome>), (status = 404, description = "Not found", body = ErrorEnvelope), (status = 422, description = "Invalid input", body = ErrorEnvelope)))]
async fn test_credential(State(state): State<AppState>, ws: Workspace, Path(p): Path<CredPath>, ApiJson(body): ApiJson<TestRequest>) -> ApiResult<TestOutcome> {
    Ok(ApiOk::ok(check::test(&state, &ws, &CredentialId::parse(&p.cred)?, body).await?))
}

/// WhatsApp channels (senders) with their status, webhook path and last received webhook.
#[utoipa::path(get, path = "/v1/workspaces/{ws}/channels", tag = "whatsapp", security(("bearer" = [])), params(("ws" = String, Path)), responses((status = 200, description = "OK", body = Envelope<Vec<ChannelView>>)))]
async fn list_channels(State(state): State<AppState>, ws: Workspace) -> ApiResult<Vec<ChannelView>> {
    Ok(ApiOk::ok(channels::list(&state, &ws).await?))
}

/// Creates a channel: a sender bound to a credential. The answer carries its webhook secret, shown once.
#[utoipa::path(post, path = "/v1/workspaces/{ws}/channels", tag = "whatsapp", security(("bearer" = [])), params(("ws" = String, Path)), request_body = NewChannel,
    responses((status = 201, description = "Created", body = Envelope<CreatedChannel>), (status = 409, description = "Sender already a channel", body = ErrorEnvelope), (status = 422, description = "Invalid input", body = ErrorEnvelope)))]
async fn create_channel(State(state): State<AppState>, ws: Workspace, meta: RequestMeta, ApiJson(body): ApiJson<NewChannel>) -> ApiResult<CreatedChannel> {
    Ok(ApiOk::created(channels::create(&state, &ws, &meta, body).await?))
}

/// One channel, with its webhook path and last received webhook.
#[utoipa::path(get, path = "/v1/workspaces/{ws}/channels/{chan}", tag = "whatsapp", security(("bearer" = [])), params(("ws" = String, Path), ("chan" = String, Path)),
    responses((status = 200, description = "OK", body = Envelope<ChannelView>), (status = 404, description = "Not found", body = ErrorEnvelope)))]
async fn get_channel(State(state): State<AppState>, ws: Workspace, Path(p): Path<ChanPath>) -> ApiResult<ChannelView> {
    Ok(ApiOk::ok(channels::get(&state, &ws, &ChannelId::parse(&p.chan)?).await?))
}

/// Issues a new webhook secret (Meta verify token, Whapi `X-Webhook-Secret`), shown once; the old one stops working.
#[utoipa::path(post, path = "/v1/workspaces/{ws}/channels/{chan}/rotate-secret", tag = "whatsapp", security(("bearer" = [])), params(("ws" = String, Path), ("chan" = String, Path)),
    responses((status = 200, description = "The new secret", body = Envelope<WebhookSecret>), (status = 404, description = "Not found", body = ErrorEnvelope)))]
async fn rotate_channel_secret(State(state): State<AppState>, ws: Workspace, meta: RequestMeta, Path(p): Path<ChanPath>) -> ApiResult<WebhookSecret> {
    Ok(ApiOk::ok(channels::rotate_secret(&state, &ws, &meta, &ChannelId::parse(&p.chan)?).await?))
}

/// Renames a channel, changes its throughput limit, pauses or resumes it.
#[utoipa::path(put, path = "/v1/workspaces/{ws}/channels/{chan}", tag = "whatsapp", security(("bearer" = [])), params(("ws" = String, Path), ("chan" = String, Path)), request_body = ChannelUpdate,
    responses((status = 200, description = "OK", body = Envelope<Channel>), (status = 404, description = "Not found", body = ErrorEnvelope), (status = 422, description = "Invalid input", body = ErrorEnvelope)))]
async fn update_channel(State(state): State<AppState>, ws: Workspace, meta: RequestMeta, Path(p): Path<ChanPath>, ApiJson(body): ApiJson<ChannelUpdate>) -> ApiResult<Channel> {
    Ok(ApiOk::ok(channels::update(&state, &ws, &meta, &ChannelId::parse(&p.chan)?, body).await?))
}

/// Deletes a channel.
#[utoipa::path(delete, path = "/v1/workspaces/{ws}/channels/{chan}", tag = "whatsapp", security(("bearer" = [])), params(("ws" = String, Path), ("chan" = String, Path)),
    responses((status = 200, description = "Deleted"), (status = 404, description = "Not found", body = ErrorEnvelope)))]
async fn delete_channel(State(state): State<AppState>, ws: Workspace, meta: RequestMeta, Path(p): Path<ChanPath>) -> ApiResult<serde_json::Value> {
    channels::delete(&state, &ws, &meta, &ChannelId::parse(&p.chan)?).await?;
    Ok(ApiOk::ok(json!({"deleted": p.chan})))
}

#[derive(Deserialize, ToSchema, Default)]
struct LinkRequest {
    /// Link by pairing code for this number instead of a QR code.
    phone: Option<String>,
}

/// Whapi: the channel's link state, with a QR code (or pairing code) to scan while unlinked.
#[utoipa::path(post, path = "/v1/workspaces/{ws}/channels/{chan}/link", tag = "whatsapp", security(("bearer" = [])), params(("ws" = String, Path), ("chan" = String, Path)), request_body = LinkRequest,
    responses((status = 200, description = "OK", body = Envelope<LinkState>), (status = 404, description = "Not found", body = ErrorEnvelope), (status = 422, description = "Not a Whapi channel, or Whapi refused", body = ErrorEnvelope)))]
async fn link_channel(State(state): State<AppState>, ws: Workspace, Path(p): Path<ChanPath>, ApiJson(body): ApiJson<LinkRequest>) -> ApiResult<LinkState> {
    Ok(ApiOk::ok(channels::link(&state, &ws, &ChannelId::parse(&p.chan)?, body.phone.as_deref()).await?))
}

#[derive(Serialize, ToSchema)]
struct MessagePage {
    messages: Vec<Message>,
    next_cursor: Option<String>,
}

/// The message log, newest first.
#[utoipa::path(get, path = "/v1/workspaces/{ws}/messages", tag = "whatsapp", security(("bearer" = [])), params(("ws" = String, Path), MessageFilter),
    responses((status = 200, description = "OK", body = Envelope<MessagePage>)))]
async fn list_messages(State(state): State<AppState>, ws: Workspace, Query(f): Query<MessageFilter>) -> ApiResult<MessagePage> {
    let (messages, next_cursor) = messages::list(&state, &ws, &f).await?;
    Ok(ApiOk::ok(MessagePage { messages, next_cursor }))
}

/// Sends a WhatsApp message: written `queued`, then sent by the worker. Repeating a
/// `client_message_id` or an `Idempotency-Key` answers 200 with the first message and sends nothing.
#[utoipa::path(post, path = "/v1/workspaces/{ws}/messages", tag = "whatsapp", security(("bearer" = [])), params(("ws" = String, Path), ("Idempotency-Key" = Option<String>, Header, description = "1–255 printable ASCII characters. A repeat within 24 hours answers 200 with the first result and sends nothing; the same key with a different request answers 422 `idempotency_key_reused`; 409 while the first is still in progress.")), request_body = NewMessage,
    responses((status = 202, description = "Queued", body = Envelope<Message>), (status = 200, description = "Duplicate client_message_id or idempotency key: the original message", body = Envelope<Message>),
        (status = 409, description = "The first request with this idempotency key is still in progress", body = ErrorEnvelope),
        (status = 422, description = "Invalid input, outside the 24-hour window, unsupported by the provider, or an idempotency key reused for a different request", body = ErrorEnvelope)))]
async fn send_message(State(state): State<AppState>, ws: Workspace, req: Idempotent<NewMessage>) -> ApiResult<Message> {
    ws.require(Action::MessagesSend)?;
    let attempt = IdempotencyKey::from_request(&req.headers, None)?.map(|k| Attempt::new("messages", k, &[&req.canonical]));
    let (st, w) = (&state, &ws);
    let outcome = idempotency::once(
        &state,
        ws.id(),
        attempt,
        |(m, _): &(Message, bool)| m.id.to_string(),
        || messages::send(&state, &ws, req.body),
        |id| async move { Ok((messages::get(st, w, &MessageId::parse(&id)?).await?, false)) },
    )
    .await?;
    let (message, created) = match outcome {
        Outcome::Created(sent) => sent,
        Outcome::Repeated((message, _)) => (message, false),
    };
    Ok(ApiOk(if created { axum::http::StatusCode::ACCEPTED } else { axum::http::StatusCode::OK }, message))
}

/// One message with its status history.
#[utoipa::path(get, path = "/v1/workspaces/{ws}/messages/{msg}", tag = "whatsapp", security(("bearer" = [])), params(("ws" = String, Path), ("msg" = String, Path)),
    responses((status = 200, description = "OK", body = Envelope<Message>), (status = 404, description = "Not found", body = ErrorEnvelope)))]
async fn get_message(State(state): State<AppState>, ws: Workspace, Path(p): Path<MsgPath>) -> ApiResult<Message> {
    Ok(ApiOk::ok(messages::get(&state, &ws, &MessageId::parse(&p.msg)?).await?))
}
