//! Inbox routes for working as a team: teams, members' availability, canned replies, the contact side
//! panel, search, and moving a conversation to pending.

use axum::extract::{Path, Query, State};
use serde::Deserialize;
use serde_json::{json, Value};
use crate::http::api_router::{routes, ApiRouter};

use super::actions;
use super::canned::{self, CannedId, CannedInput, CannedReply};
use super::contact::{self, ContactPanel, SearchQuery, SearchResults};
use super::conversations::{Conversation, ConversationId, ConversationStatus};
use super::teams::{self, Agent, AvailabilityInput, Team, TeamId, TeamInput};
use crate::auth::Workspace;
use crate::http::{ApiJson, ApiOk, ApiResult};
use crate::openapi::{Envelope, ErrorEnvelope};
use crate::state::AppState;

pub fn api() -> ApiRouter<AppState> {
    ApiRouter::new()
        .routes(routes!(list_teams, create_team))
        .routes(routes!(update_team, delete_team))
        .routes(routes!(list_agents))
        .routes(routes!(set_availability))
        .routes(routes!(list_canned, create_canned))
        .routes(routes!(update_canned, delete_canned))
        .routes(routes!(contact_panel))
        .routes(routes!(mark_pending))
        .routes(routes!(search))
}

#[derive(Deserialize)]
struct TeamPath {
    team: String,
}

#[derive(Deserialize)]
struct CannedPath {
    canned: String,
}

#[derive(Deserialize)]
struct ConvPath {
    conv: String,
}

/// The workspace's teams, by name.
#[utoipa::path(get, path = "/v1/workspaces/{ws}/teams", tag = "inbox", security(("bearer" = [])), params(("ws" = String, Path)),
    responses((status = 200, description = "OK", body = Envelope<Vec<Team>>)))]
async fn list_teams(State(state): State<AppState>, ws: Workspace) -> ApiResult<Vec<Team>> {
    Ok(ApiOk::ok(teams::list(&state, &ws).await?))
}

/// Creates a team of members who can answer conversations (owners and admins).
#[utoipa::path(post, path = "/v1/workspaces/{ws}/teams", tag = "inbox", security(("bearer" = [])), params(("ws" = String, Path)), request_body = TeamInput,
    responses((status = 201, description = "Created", body = Envelope<Team>), (status = 422, description = "Bad name or not a member", body = ErrorEnvelope)))]
async fn create_team(State(state): State<AppState>, ws: Workspace, ApiJson(body): ApiJson<TeamInput>) -> ApiResult<Team> {
    Ok(ApiOk::created(teams::create(&state, &ws, body).await?))
}

/// Renames a team or replaces its members.
#[utoipa::path(put, path = "/v1/workspaces/{ws}/teams/{team}", tag = "inbox", security(("bearer" = [])), params(("ws" = String, Path), ("team" = String, Path)), request_body = TeamInput,
    responses((status = 200, description = "OK", body = Envelope<Team>), (status = 404, description = "Not found", body = ErrorEnvelope)))]
async fn update_team(State(state): State<AppState>, ws: Workspace, Path(p): Path<TeamPath>, ApiJson(body): ApiJson<TeamInput>) -> ApiResult<Team> {
    Ok(ApiOk::ok(teams::update(&state, &ws, &TeamId::parse(&p.team)?, body).await?))
}

/// Deletes a team (its conversations keep their assignees).
#[utoipa::path(delete, path = "/v1/workspaces/{ws}/teams/{team}", tag = "inbox", security(("bearer" = [])), params(("ws" = String, Path), ("team" = String, Path)),
    responses((status = 200, description = "Deleted"), (status = 404, description = "Not found", body = ErrorEnvelope)))]
async fn delete_team(State(state): State<AppState>, ws: Workspace, Path(p): Path<TeamPath>) -> ApiResult<Value> {
    teams::delete(&state, &ws, &TeamId::parse(&p.team)?).await?;
    Ok(ApiOk::ok(json!({"deleted": p.team})))
}

/// Members with their availability: the assignee picker.
#[utoipa::path(get, path = "/v1/workspaces/{ws}/agents", tag = "inbox", security(("bearer" = [])), params(("ws" = String, Path)),
    responses((status = 200, description = "OK", body = Envelope<Vec<Agent>>)))]
async fn list_agents(State(state): State<AppState>, ws: Workspace) -> ApiResult<Vec<Agent>> {
    Ok(ApiOk::ok(teams::agents(&state, &ws).await?))
}

/// Sets your own availability: away members are skipped by round-robin.
#[utoipa::path(put, path = "/v1/workspaces/{ws}/agents/me/availability", tag = "inbox", security(("bearer" = [])), params(("ws" = String, Path)), request_body = AvailabilityInput,
    responses((status = 200, description = "OK", body = Envelope<Agent>), (status = 403, description = "Not a signed-in member who can reply", body = ErrorEnvelope)))]
async fn set_availability(State(state): State<AppState>, ws: Workspace, ApiJson(body): ApiJson<AvailabilityInput>) -> ApiResult<Agent> {
    Ok(ApiOk::ok(teams::set_availability(&state, &ws, body.availability).await?))
}

/// Canned replies, by short code.
#[utoipa::path(get, path = "/v1/workspaces/{ws}/canned-replies", tag = "inbox", security(("bearer" = [])), params(("ws" = String, Path)),
    responses((status = 200, description = "OK", body = Envelope<Vec<CannedReply>>)))]
async fn list_canned(State(state): State<AppState>, ws: Workspace) -> ApiResult<Vec<CannedReply>> {
    Ok(ApiOk::ok(canned::list(&state, &ws).await?))
}

/// Saves a canned reply; `/short_code` in the composer inserts it.
#[utoipa::path(post, path = "/v1/workspaces/{ws}/canned-replies", tag = "inbox", security(("bearer" = [])), params(("ws" = String, Path)), request_body = CannedInput,
    responses((status = 201, description = "Created", body = Envelope<CannedReply>), (status = 409, description = "Short code in use", body = ErrorEnvelope), (status = 422, description = "Invalid", body = ErrorEnvelope)))]
async fn create_canned(State(state): State<AppState>, ws: Workspace, ApiJson(body): ApiJson<CannedInput>) -> ApiResult<CannedReply> {
    Ok(ApiOk::created(canned::create(&state, &ws, body).await?))
}

/// Changes a canned reply's short code or content.
#[utoipa::path(put, path = "/v1/workspaces/{ws}/canned-replies/{canned}", tag = "inbox", security(("bearer" = [])), params(("ws" = String, Path), ("canned" = String, Path)), request_body = CannedInput,
    responses((status = 200, description = "OK", body = Envelope<CannedReply>), (status = 404, description = "Not found", body = ErrorEnvelope), (status = 409, description = "Short code in use", body = ErrorEnvelope)))]
async fn update_canned(State(state): State<AppState>, ws: Workspace, Path(p): Path<CannedPath>, ApiJson(body): ApiJson<CannedInput>) -> ApiResult<CannedReply> {
    Ok(ApiOk::ok(canned::update(&state, &ws, &CannedId::parse(&p.canned)?, body).await?))
}

/// Deletes a canned reply.
#[utoipa::path(delete, path = "/v1/workspaces/{ws}/canned-replies/{canned}", tag = "inbox", security(("bearer" = [])), params(("ws" = String, Path), ("canned" = String, Path)),
    responses((status = 200, description = "Deleted"), (status = 404, description = "Not found", body = ErrorEnvelope)))]
async fn delete_canned(State(state): State<AppState>, ws: Workspace, Path(p): Path<CannedPath>) -> ApiResult<Value> {
    canned::delete(&state, &ws, &CannedId::parse(&p.canned)?).await?;
    Ok(ApiOk::ok(json!({"deleted": p.canned})))
}

/// The contact beside a conversation: profile, tags and fields, consent, other conversations.
#[utoipa::path(get, path = "/v1/workspaces/{ws}/conversations/{conv}/contact", tag = "inbox", security(("bearer" = [])), params(("ws" = String, Path), ("conv" = String, Path)),
    responses((status = 200, description = "OK", body = Envelope<ContactPanel>), (status = 404, description = "Not found", body = ErrorEnvelope)))]
async fn contact_panel(State(state): State<AppState>, ws: Workspace, Path(p): Path<ConvPath>) -> ApiResult<ContactPanel> {
    Ok(ApiOk::ok(contact::panel(&state, &ws, &ConversationId::parse(&p.conv)?).await?))
}

/// Marks the conversation pending (waiting on the team, e.g. after a bot hand-off).
#[utoipa::path(post, path = "/v1/workspaces/{ws}/conversations/{conv}/pending", tag = "inbox", security(("bearer" = [])), params(("ws" = String, Path), ("conv" = String, Path)),
    responses((status = 200, description = "OK", body = Envelope<Conversation>), (status = 404, description = "Not found", body = ErrorEnvelope)))]
async fn mark_pending(State(state): State<AppState>, ws: Workspace, Path(p): Path<ConvPath>) -> ApiResult<Conversation> {
    Ok(ApiOk::ok(actions::set_status(&state, &ws, &ConversationId::parse(&p.conv)?, ConversationStatus::Pending, None).await?))
}

/// Searches recent conversations' contacts (name, phone, labels) and messages.
#[utoipa::path(get, path = "/v1/workspaces/{ws}/inbox/search", tag = "inbox", security(("bearer" = [])), params(("ws" = String, Path), SearchQuery),
    responses((status = 200, description = "OK", body = Envelope<SearchResults>), (status = 422, description = "Query too short or long", body = ErrorEnvelope)))]
async fn search(State(state): State<AppState>, ws: Workspace, Query(q): Query<SearchQuery>) -> ApiResult<SearchResults> {
    Ok(ApiOk::ok(contact::search(&state, &ws, &q.q).await?))
}
