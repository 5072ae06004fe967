//! Flow routes (`api-flows`) under `/v1/workspaces/{ws}/flows`: drafts, publish / rollback, versions,
//! API start, the simulator, captured answers (JSON pages and CSV), the funnel, a save-free check for
//! the builder, and the bot switch on a conversation.

use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use utoipa::ToSchema;
use crate::http::api_router::{routes, ApiRouter};

use super::data::{self, StepStats};
use super::engine::Session;
use super::control::{self, BotControl};
use super::runtime::{self, Answer};
use super::simulator::{self, SimulateAnswer, SimulateRequest};
use super::store::{self, Flow, FlowVersion};
use super::check::check;
use super::types::{FlowDoc, FlowId, Problem};
use crate::auth::{Action, RequestMeta, Workspace};
use crate::http::{ApiError, ApiJson, ApiOk, ApiResult};
use crate::inbox::conversations::ConversationId;
use crate::openapi::{Envelope, ErrorEnvelope};
use crate::state::AppState;
use crate::whatsapp::types::{ChannelId, PhoneNumber};

pub fn api() -> ApiRouter<AppState> {
    ApiRouter::new()
        .routes(routes!(list_flows, create_flow))
        .routes(routes!(get_flow, save_draft, delete_flow))
        .routes(routes!(publish))
        .routes(routes!(unpublish))
        .routes(routes!(list_versions))
        .routes(routes!(start))
        .routes(routes!(simulate))
        .routes(routes!(list_answers))
        .routes(routes!(answers_csv))
        .routes(routes!(funnel))
        .routes(routes!(check_flow))
        .routes(routes!(bot_status, set_bot))
}

/// The `api-flows` route group.
pub fn routes() -> Router<AppState> {
    api().split_for_parts().0
}

#[derive(Deserialize)]
struct FlowPath {
    flow: String,
}

#[derive(Deserialize)]
struct ConvPath {
    conv: String,
}

/// The workspace's flows (drafts and what is live).
#[utoipa::path(get, path = "/v1/workspaces/{ws}/flows", tag = "flows", security(("bearer" = [])), params(("ws" = String, Path)), responses((status = 200, description = "OK", body = Envelope<Vec<Flow>>)))]
async fn list_flows(State(state): State<AppState>, ws: Workspace) -> ApiResult<Vec<Flow>> {
    Ok(ApiOk::ok(store::list(&state, &ws).await?))
}

/// Creates a flow from a draft document (validated: 422 names the step and field).
#[utoipa::path(post, path = "/v1/workspaces/{ws}/flows", tag = "flows", security(("bearer" = [])), params(("ws" = String, Path)), request_body = FlowDoc,
    responses((status = 201, description = "Created", body = Envelope<Flow>), (status = 422, description = "Invalid document", body = ErrorEnvelope)))]
async fn create_flow(State(state): State<AppState>, ws: Workspace, meta: RequestMeta, ApiJson(doc): ApiJson<FlowDoc>) -> ApiResult<Flow> {
    Ok(ApiOk::created(store::create(&state, &ws, &meta, doc).await?))
}

/// One flow: its draft, live version and the live document.
#[utoipa::path(get, path = "/v1/workspaces/{ws}/flows/{flow}", tag = "flows", security(("bearer" = [])), params(("ws" = String, Path), ("flow" = String, Path)),
    responses((status = 200, description = "OK", body = Envelope<Flow>), (status = 404, description = "Not found", body = ErrorEnvelope)))]
async fn get_flow(State(state): State<AppState>, ws: Workspace, Path(p): Path<FlowPath>) -> ApiResult<Flow> {
    Ok(ApiOk::ok(store::get(&state, &ws, &FlowId::parse(&p.flow)?).await?))
}

/// Replaces the draft; live versions and running conversations are untouched.
#[utoipa::path(put, path = "/v1/workspaces/{ws}/flows/{flow}", tag = "flows", security(("bearer" = [])), params(("ws" = String, Path), ("flow" = String, Path)), request_body = FlowDoc,
    responses((status = 200, description = "OK", body = Envelope<Flow>), (status = 404, description = "Not found", body = ErrorEnvelope), (status = 422, description = "Invalid document", body = ErrorEnvelope)))]
async fn save_draft(State(state): State<AppState>, ws: Workspace, meta: RequestMeta, Path(p): Path<FlowPath>, ApiJson(doc): ApiJson<FlowDoc>) -> ApiResult<Flow> {
    Ok(ApiOk::ok(store::save_draft(&state, &ws, &meta, &FlowId::parse(&p.flow)?, doc).await?))
}

/// Deletes a flow: nothing new starts it; running conversations finish on their pinned version.
#[utoipa::path(delete, path = "/v1/workspaces/{ws}/flows/{flow}", tag = "flows", security(("bearer" = [])), params(("ws" = String, Path), ("flow" = String, Path)),
    responses((status = 200, description = "Deleted"), (status = 404, description = "Not found", body = ErrorEnvelope)))]
async fn delete_flow(State(state): State<AppState>, ws: Workspace, meta: RequestMeta, Path(p): Path<FlowPath>) -> ApiResult<Value> {
    store::delete(&state, &ws, &meta, &FlowId::parse(&p.flow)?).await?;
    Ok(ApiOk::ok(json!({"deleted": p.flow})))
}

#[derive(Deserialize, ToSchema, Default)]
struct PublishRequest {
    /// Make this earlier version live again (rollback) instead of publishing the draft.
    version: Option<u32>,
}

/// Freezes the draft as a new immutable version and makes it live (or, with `version`, rolls back). Body `{}` publishes the draft.
#[utoipa::path(post, path = "/v1/workspaces/{ws}/flows/{flow}/publish", tag = "flows", security(("bearer" = [])), params(("ws" = String, Path), ("flow" = String, Path)), request_body = PublishRequest,
    responses((status = 200, description = "Published", body = Envelope<Flow>), (status = 404, description = "Not found", body = ErrorEnvelope), (status = 422, description = "Invalid draft", body = ErrorEnvelope)))]
async fn publish(State(state): State<AppState>, ws: Workspace, meta: RequestMeta, Path(p): Path<FlowPath>, ApiJson(body): ApiJson<PublishRequest>) -> ApiResult<Flow> {
    let version = body.version;
    Ok(ApiOk::ok(store::publish(&state, &ws, &meta, &FlowId::parse(&p.flow)?, version).await?))
}

/// No new conversations start the flow; running ones finish on their version.
#[utoipa::path(post, path = "/v1/workspaces/{ws}/flows/{flow}/unpublish", tag = "flows", security(("bearer" = [])), params(("ws" = String, Path), ("flow" = String, Path)),
    responses((status = 200, description = "Unpublished", body = Envelope<Flow>), (status = 404, description = "Not found", body = ErrorEnvelope)))]
async fn unpublish(State(state): State<AppState>, ws: Workspace, meta: RequestMeta, Path(p): Path<FlowPath>) -> ApiResult<Flow> {
    Ok(ApiOk::ok(store::unpublish(&state, &ws, &meta, &FlowId::parse(&p.flow)?).await?))
}

/// Published versions, newest first, with who published them and when.
#[utoipa::path(get, path = "/v1/workspaces/{ws}/flows/{flow}/versions", tag = "flows", security(("bearer" = [])), params(("ws" = String, Path), ("flow" = String, Path)),
    responses((status = 200, description = "OK", body = Envelope<Vec<FlowVersion>>), (status = 404, description = "Not found", body = ErrorEnvelope)))]
async fn list_versions(State(state): State<AppState>, ws: Workspace, Path(p): Path<FlowPath>) -> ApiResult<Vec<FlowVersion>> {
    Ok(ApiOk::ok(store::versions(&state, &ws, &FlowId::parse(&p.flow)?).await?))
}

#[derive(Deserialize, ToSchema)]
struct StartRequest {
    channel_id: String,
    /// The contact's E.164 number.
    contact: String,
    #[serde(default)]
    #[schema(value_type = Object)]
    variables: Map<String, Value>,
}

/// Starts the live version for a contact (from a webhook trigger, a CRM…). Outside the 24-hour window
/// only template steps get through.
#[utoipa::path(post, path = "/v1/workspaces/{ws}/flows/{flow}/start", tag = "flows", security(("bearer" = [])), params(("ws" = String, Path), ("flow" = String, Path)), request_body = StartRequest,
    responses((status = 200, description = "The session", body = Envelope<Session>), (status = 404, description = "Not found", body = ErrorEnvelope), (status = 422, description = "Not published, opted out, bad input", body = ErrorEnvelope)))]
async fn start(State(state): State<AppState>, ws: Workspace, Path(p): Path<FlowPath>, ApiJson(body): ApiJson<StartRequest>) -> ApiResult<Session> {
    let channel = ChannelId::parse(&body.channel_id).map_err(|_| ApiError::Validation(format!("no channel `{}`", body.channel_id.chars().take(40).collect::<String>())))?;
    let contact = PhoneNumber::parse(&body.contact)?;
    if body.variables.len() > 50 || serde_json::to_string(&body.variables).map_or(true, |s| s.len() > 16_384) {
        return Err(ApiError::Validation("variables: at most 50, 16 KiB in all".into()));
    }
    Ok(ApiOk::ok(runtime::start_for(&state, &ws, &FlowId::parse(&p.flow)?, &channel, &contact, body.variables).await?))
}

/// Runs the draft (or a given document) one turn on the real engine; returns the messages instead of sending.
#[utoipa::path(post, path = "/v1/workspaces/{ws}/flows/{flow}/simulate", tag = "flows", security(("bearer" = [])), params(("ws" = String, Path), ("flow" = String, Path)), request_body = SimulateRequest,
    responses((status = 200, description = "What the bot would do", body = Envelope<SimulateAnswer>), (status = 404, description = "Not found", body = ErrorEnvelope), (status = 422, description = "Invalid document or input", body = ErrorEnvelope)))]
async fn simulate(State(state): State<AppState>, ws: Workspace, Path(p): Path<FlowPath>, ApiJson(body): ApiJson<SimulateRequest>) -> ApiResult<SimulateAnswer> {
    Ok(ApiOk::ok(simulator::simulate(&state, &ws, &FlowId::parse(&p.flow)?, body).await?))
}

#[derive(Deserialize, utoipa::IntoParams)]
struct Paging {
    limit: Option<u32>,
    cursor: Option<String>,
}

#[derive(Serialize, ToSchema)]
struct AnswerPage {
    answers: Vec<Answer>,
    next_cursor: Option<String>,
}

/// Captured answers, newest first (purged after the flow's retention).
#[utoipa::path(get, path = "/v1/workspaces/{ws}/flows/{flow}/answers", tag = "flows", security(("bearer" = [])), params(("ws" = String, Path), ("flow" = String, Path), Paging),
    responses((status = 200, description = "OK", body = Envelope<AnswerPage>), (status = 404, description = "Not found", body = ErrorEnvelope)))]
async fn list_answers(State(state): State<AppState>, ws: Workspace, Path(p): Path<FlowPath>, Query(q): Query<Paging>) -> ApiResult<AnswerPage> {
    let (answers, next_cursor) = data::answers(&state, &ws, &FlowId::parse(&p.flow)?, q.cursor.as_deref(), q.limit.unwrap_or(50)).await?;
    Ok(ApiOk::ok(AnswerPage { answers, next_cursor }))
}

/// Every captured answer as CSV.
#[utoipa::path(get, path = "/v1/workspaces/{ws}/flows/{flow}/answers.csv", tag = "flows", security(("bearer" = [])), params(("ws" = String, Path), ("flow" = String, Path)),
    responses((status = 200, description = "text/csv", content_type = "text/csv", body = String), (status = 404, description = "Not found", body = ErrorEnvelope)))]
async fn answers_csv(State(state): State<AppState>, ws: Workspace, Path(p): Path<FlowPath>) -> Result<Response, ApiError> {
    let csv = data::answers_csv(&state, &ws, &FlowId::parse(&p.flow)?).await?;
    let disposition = format!("attachment; filename=\"{}-answers.csv\"", p.flow);
    Ok(([(header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()), (header::CONTENT_DISPOSITION, disposition)], csv).into_response())
}

/// Per version and step: how many conversations entered, completed and dropped.
#[utoipa::path(get, path = "/v1/workspaces/{ws}/flows/{flow}/funnel", tag = "flows", security(("bearer" = [])), params(("ws" = String, Path), ("flow" = String, Path)),
    responses((status = 200, description = "OK", body = Envelope<Vec<StepStats>>), (status = 404, description = "Not found", body = ErrorEnvelope)))]
async fn funnel(State(state): State<AppState>, ws: Workspace, Path(p): Path<FlowPath>) -> ApiResult<Vec<StepStats>> {
    Ok(ApiOk::ok(data::funnel(&state, &ws, &FlowId::parse(&p.flow)?).await?))
}

/// Checks a document without saving it: every problem with its step and field (the builder shows them on the step).
#[utoipa::path(post, path = "/v1/workspaces/{ws}/flow-check", tag = "flows", security(("bearer" = [])), params(("ws" = String, Path)), request_body = FlowDoc,
    responses((status = 200, description = "The problems (empty when valid)", body = Envelope<Vec<Problem>>)))]
async fn check_flow(ws: Workspace, ApiJson(doc): ApiJson<FlowDoc>) -> ApiResult<Vec<Problem>> {
    ws.require(Action::FlowsManage)?;
    Ok(ApiOk::ok(check(&doc)))
}

#[derive(Serialize, ToSchema)]
struct BotStatus {
    control: Option<BotControl>,
    session: Option<Session>,
}

/// Whether the bot runs on this conversation (paused, handed off) and where its session is.
#[utoipa::path(get, path = "/v1/workspaces/{ws}/conversations/{conv}/bot", tag = "flows", security(("bearer" = [])), params(("ws" = String, Path), ("conv" = String, Path)),
    responses((status = 200, description = "OK", body = Envelope<BotStatus>), (status = 404, description = "Not found", body = ErrorEnvelope)))]
async fn bot_status(State(state): State<AppState>, ws: Workspace, Path(p): Path<ConvPath>) -> ApiResult<BotStatus> {
    let (control, session) = control::bot_status(&state, &ws, &ConversationId::parse(&p.conv)?).await?;
    Ok(ApiOk::ok(BotStatus { control, session }))
}

#[derive(Deserialize, ToSchema)]
struct BotSwitch {
    /// true pauses the bot here; false resumes it (also hands a handed-off conversation back).
    paused: bool,
}

/// Pauses or resumes the bot on a conversation.
#[utoipa::path(post, path = "/v1/workspaces/{ws}/conversations/{conv}/bot", tag = "flows", security(("bearer" = [])), params(("ws" = String, Path), ("conv" = String, Path)), request_body = BotSwitch,
    responses((status = 200, description = "OK", body = Envelope<BotControl>), (status = 404, description = "Not found", body = ErrorEnvelope)))]
async fn set_bot(State(state): State<AppState>, ws: Workspace, Path(p): Path<ConvPath>, ApiJson(body): ApiJson<BotSwitch>) -> ApiResult<BotControl> {
    Ok(ApiOk::ok(control::set_paused(&state, &ws, &ConversationId::parse(&p.conv)?, body.paused).await?))
}
