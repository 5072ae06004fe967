//! Provider webhook receivers (`hook-meta`, `hook-twilio`, `hook-whapi`): the signature is checked on
//! the raw request first; a valid event is stored (with a TTL) and queued for processing, and the
//! receiver answers at once. A forged or unsigned request stores nothing.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use secrecy::ExposeSecret;

use super::process::{self, RawEvent, RAW_EVENT_TTL_SECONDS};
use super::signatures;
use crate::auth::WorkspaceId;
use crate::http::ApiError;
use crate::ports::{Condition, Item};
use crate::state::AppState;
use crate::whatsapp::channels::{self, Channel};
use crate::whatsapp::credentials;
use crate::whatsapp::providers::ProviderSecrets;
use crate::whatsapp::types::{ChannelId, Provider};
use crate::whatsapp::webhook_health::{self, WebhookOutcome};

/// The header Whapi webhooks must carry (configured on the Whapi webhook with the channel's secret).
pub const WHAPI_SECRET_HEADER: &str = "x-webhook-secret";

pub fn meta_routes() -> Router<AppState> {
    Router::new().route("/hooks/meta/{ws}/{channel}", get(meta_verify).post(meta_event))
}

pub fn twilio_routes() -> Router<AppState> {
    Router::new().route("/hooks/twilio/{ws}/{channel}", post(twilio_event))
}

pub fn whapi_routes() -> Router<AppState> {
    Router::new().route("/hooks/whapi/{ws}/{channel}", post(whapi_event))
}

pub fn routes() -> Router<AppState> {
    meta_routes().merge(twilio_routes()).merge(whapi_routes())
}

/// The channel the URL names, if it exists and is on `provider`; anything else is a 404 (no hint of why).
async fn channel(state: &AppState, ws: &str, id: &str, provider: Provider) -> Result<(WorkspaceId, Channel), ApiError> {
    let not_found = || ApiError::NotFound("no such webhook".into());
    let ws = WorkspaceId::parse(ws).map_err(|_| not_found())?;
    let id = ChannelId::parse(id).map_err(|_| not_found())?;
    let (_, ch) = channels::load(state, &ws, &id).await.map_err(|_| not_found())?;
    if ch.provider != provider {
        return Err(not_found());
    }
    Ok((ws, ch))
}

/// The receiver's verdict on a call: recorded as the channel's last webhook (its health row), logged
/// when refused, and returned as `refused` so the handler can `?` it.
async fn admit(state: &AppState, ws: &WorkspaceId, ch: &Channel, valid: bool, accepted: &str, refused: ApiError, why: &str) -> Result<(), ApiError> {
    if !valid {
        return Err(refuse(state, ws, ch, refused, why).await);
    }
    webhook_health::record(state, ws, &ch.id, WebhookOutcome::Accepted, accepted).await;
    Ok(())
}

/// A refusal, recorded on the channel's health row and logged (without the request).
async fn refuse(state: &AppState, ws: &WorkspaceId, ch: &Channel, refused: ApiError, why: &str) -> ApiError {
    webhook_health::record(state, ws, &ch.id, WebhookOutcome::Rejected, why).await;
    tracing::warn!(channel = %ch.id, provider = ch.provider.as_str(), "webhook refused: {why}");
    refused
}

async fn secret_matches(state: &AppState, ws: &WorkspaceId, ch: &Channel, given: Option<&str>) -> Result<bool, ApiError> {
    let Some(given) = given else { return Ok(false) };
    let stored = state.table.get(&channels::hook_secret_key(ws, &ch.id)).await?;
    let expected = stored.as_ref().and_then(|i| i.attrs.get("secret_sha256")).and_then(|v| v.as_str()).unwrap_or_default();
    Ok(signatures::equal(signatures::sha256_hex(given.as_bytes()).as_bytes(), expected.as_bytes()))
}

async fn store(state: &AppState, ws: &WorkspaceId, ch: &Channel, content_type: &str, body: &[u8]) -> Result<String, ApiError> {
    let id = state.clock.new_id().to_string().to_lowercase();
    let raw = RawEvent { id: id.clone(), provider: ch.provider, channel_id: ch.id.clone(), content_type: content_type.to_owned(), body: String::from_utf8_lossy(body).into_owned(), received_at: state.clock.now().to_rfc3339() };
    state.table.put(Item::of(process::raw_event_key(ws, &id), &raw).with_expiry(state.clock.epoch_seconds() + RAW_EVENT_TTL_SECONDS), Condition::NotExists).await?;
    process::enqueue(state, ws, &id).await?;
    Ok(id)
}

fn content_type(headers: &HeaderMap) -> String {
    headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned()
}

fn query_param(raw: Option<&str>, name: &str) -> Option<String> {
    form_urlencoded::parse(raw.unwrap_or_default().as_bytes()).find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

/// Meta's subscription handshake: echo `hub.challenge` when `hub.verify_token` is the channel's secret.
async fn meta_verify(State(state): State<AppState>, Path((ws, id)): Path<(String, String)>, RawQuery(q): RawQuery) -> Result<Response, ApiError> {
    let (ws, ch) = channel(&state, &ws, &id, Provider::Meta).await?;
    let mode = query_param(q.as_deref(), "hub.mode");
    let challenge = query_param(q.as_deref(), "hub.challenge").unwrap_or_default();
    let valid = mode.as_deref() == Some("subscribe") && secret_matches(&state, &ws, &ch, query_param(q.as_deref(), "hub.verify_token").as_deref()).await?;
    admit(&state, &ws, &ch, valid, "verification handshake answered", ApiError::Forbidden, "verification handshake refused: the verify token does not match").await?;
    Ok(([(header::CONTENT_TYPE, "text/plain")], challenge.chars().take(200).collect::<String>()).into_response())
}

async fn meta_event(State(state): State<AppState>, Path((ws, id)): Path<(String, String)>, headers: HeaderMap, body: Bytes) -> Result<Response, ApiError> {
    let (ws, ch) = channel(&state, &ws, &id, Provider::Meta).await?;
    let (_, secrets) = credentials::unseal(&state, &ws, &ch.credential_id).await?;
    let ProviderSecrets::Meta { app_secret, .. } = secrets.as_ref() else { return Err(ApiError::Internal("Meta channel on another provider's credential".into())) };
    let signature = headers.get("x-hub-signature-256").and_then(|v| v.to_str().ok());
    let valid = signatures::meta_valid(app_secret.expose_secret(), &body, signature);
    admit(&state, &ws, &ch, valid, "event accepted", ApiError::Unauthorized, "bad or missing X-Hub-Signature-256 (check the app secret)").await?;
    store(&state, &ws, &ch, &content_type(&headers), &body).await?;
    Ok(StatusCode::OK.into_response())
}

/// The URL Twilio requested: the configured public base, or the request's host and forwarded scheme.
fn requested_url(state: &AppState, headers: &HeaderMap, path: &str, query: Option<&str>) -> String {
    let base = state.whatsapp.public_url.clone().unwrap_or_else(|| {
        let host = headers.get("x-forwarded-host").or_else(|| headers.get(header::HOST)).and_then(|v| v.to_str().ok()).unwrap_or("localhost");
        let scheme = headers.get("x-forwarded-proto").and_then(|v| v.to_str().ok()).unwrap_or("http");
        format!("{scheme}://{host}")
    });
    match query {
        Some(q) if !q.is_empty() => format!("{base}{path}?{q}"),
        _ => format!("{base}{path}"),
    }
}

async fn twilio_event(State(state): State<AppState>, Path((ws, id)): Path<(String, String)>, RawQuery(q): RawQuery, headers: HeaderMap, body: Bytes) -> Result<Response, ApiError> {
    let (ws_id, ch) = channel(&state, &ws, &id, Provider::Twilio).await?;
    let (_, secrets) = credentials::unseal(&state, &ws_id, &ch.credential_id).await?;
    let ProviderSecrets::Twilio { webhook_token: Some(token), .. } = secrets.as_ref() else {
        let why = "this Twilio credential has no auth token, which Twilio signs webhooks with";
        return Err(refuse(&state, &ws_id, &ch, ApiError::Refused { code: "webhook_not_configured", message: why.into() }, why).await);
    };
    let url = requested_url(&state, &headers, &format!("/hooks/twilio/{ws}/{id}"), q.as_deref());
    let signature = headers.get("x-twilio-signature").and_then(|v| v.to_str().ok());
    let ct = content_type(&headers);
    let valid = if ct.starts_with("application/json") {
        signatures::twilio_json_valid(token.expose_secret(), &url, &body, signature)
    } else {
        let params: Vec<(String, String)> = form_urlencoded::parse(&body).into_owned().collect();
        signatures::twilio_form_valid(token.expose_secret(), &url, &params, signature)
    };
    admit(&state, &ws_id, &ch, valid, "event accepted", ApiError::Forbidden, "bad or missing X-Twilio-Signature (check the auth token and the URL Twilio calls)").await?;
    store(&state, &ws_id, &ch, &ct, &body).await?;
    Ok(([(header::CONTENT_TYPE, "text/xml")], "<Response/>").into_response())
}

async fn whapi_event(State(state): State<AppState>, Path((ws, id)): Path<(String, String)>, headers: HeaderMap, body: Bytes) -> Result<Response, ApiError> {
    let (ws, ch) = channel(&state, &ws, &id, Provider::Whapi).await?;
    let valid = secret_matches(&state, &ws, &ch, headers.get(WHAPI_SECRET_HEADER).and_then(|v| v.to_str().ok())).await?;
    admit(&state, &ws, &ch, valid, "event accepted", ApiError::Unauthorized, "missing or wrong X-Webhook-Secret header").await?;
    store(&state, &ws, &ch, &content_type(&headers), &body).await?;
    Ok(StatusCode::OK.into_response())
}
