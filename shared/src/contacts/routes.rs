//! Contact and audience HTTP routes (`api-contacts`) under `/v1/workspaces/{ws}`: search, detail, patch,
//! GDPR erase, CSV export, CSV imports in parts with progress and errors, saved audiences and live counts.

use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use crate::http::api_router::{routes, ApiRouter};

use super::audience::RuleSet;
use super::audiences::{self, AudienceCount, AudienceId, NewAudience, SavedAudience};
use super::erase::{self, Erased};
use super::imports::{self, ImportId, ImportView, NewImport, Part, RowError};
use super::store::{self, ContactDetail, ContactFilter, ContactPatch, NewContact};
use super::types::Contact;
use crate::auth::{Action, Workspace};
use crate::http::{ApiError, ApiJson, ApiOk, ApiResult};
use crate::openapi::{Envelope, ErrorEnvelope};
use crate::state::AppState;
use crate::whatsapp::types::PhoneNumber;

pub fn api() -> ApiRouter<AppState> {
    ApiRouter::new()
        .routes(routes!(list_contacts, create_contact))
        .routes(routes!(export_contacts))
        .routes(routes!(get_contact, patch_contact, erase_contact))
        .routes(routes!(create_import))
        .routes(routes!(get_contact_import))
        .routes(routes!(add_part))
        .routes(routes!(import_errors))
        .routes(routes!(list_audiences, create_audience))
        .routes(routes!(count_rules))
        .routes(routes!(get_audience, update_audience, delete_audience))
        .routes(routes!(count_audience))
}

/// The `api-contacts` route group.
pub fn routes() -> Router<AppState> {
    api().split_for_parts().0
}

#[derive(Deserialize)]
struct PhonePath {
    phone: String,
}

#[derive(Deserialize)]
struct ImportPath {
    import: String,
}

#[derive(Deserialize)]
struct AudPath {
    aud: String,
}

#[derive(Serialize, ToSchema)]
struct ContactPage {
    contacts: Vec<Contact>,
    next_cursor: Option<String>,
}

#[derive(Serialize, ToSchema)]
struct ErrorPage {
    errors: Vec<RowError>,
    next_cursor: Option<String>,
}

#[derive(Deserialize, utoipa::IntoParams)]
struct Paging {
    cursor: Option<String>,
}

fn phone(raw: &str) -> Result<PhoneNumber, ApiError> {
    PhoneNumber::parse(raw).map_err(|_| ApiError::NotFound(format!("no contact `{}`", raw.chars().take(32).collect::<String>())))
}

/// Contacts in number order; `q` searches by number prefix (`+44`) or name prefix.
#[utoipa::path(get, path = "/v1/workspaces/{ws}/contacts", tag = "contacts", security(("bearer" = [])), params(("ws" = String, Path), ContactFilter),
    responses((status = 200, description = "OK", body = Envelope<ContactPage>), (status = 400, description = "Bad cursor", body = ErrorEnvelope)))]
async fn list_contacts(State(state): State<AppState>, ws: Workspace, Query(f): Query<ContactFilter>) -> ApiResult<ContactPage> {
    ws.require(Action::WorkspaceRead)?;
    let (contacts, next_cursor) = store::list(&state, ws.id(), &f).await?;
    Ok(ApiOk::ok(ContactPage { contacts, next_cursor }))
}

/// Adds a contact by hand (number in any common format, name, tags, fields, time zone).
#[utoipa::path(post, path = "/v1/workspaces/{ws}/contacts", tag = "contacts", security(("bearer" = [])), params(("ws" = String, Path)), request_body = NewContact,
    responses((status = 201, description = "Created", body = Envelope<Contact>), (status = 409, description = "Already a contact", body = ErrorEnvelope), (status = 422, description = "Invalid", body = ErrorEnvelope)))]
async fn create_contact(State(state): State<AppState>, ws: Workspace, ApiJson(body): ApiJson<NewContact>) -> ApiResult<Contact> {
    ws.require(Action::ContactsManage)?;
    Ok(ApiOk::created(store::create(&state, ws.id(), body).await?))
}

/// Every contact as CSV (phone, name, tags, time zone, opted out, consent, custom fields).
#[utoipa::path(get, path = "/v1/workspaces/{ws}/contacts/export", tag = "contacts", security(("bearer" = [])), params(("ws" = String, Path)),
    responses((status = 200, description = "CSV", body = String, content_type = "text/csv")))]
async fn export_contacts(State(state): State<AppState>, ws: Workspace) -> Result<Response, ApiError> {
    ws.require(Action::ContactsManage)?;
    let csv = store::export_csv(&state, ws.id()).await?;
    Ok(([(header::CONTENT_TYPE, "text/csv; charset=utf-8"), (header::CONTENT_DISPOSITION, "attachment; filename=\"contacts.csv\"")], csv).into_response())
}

/// A contact with its conversations and consent history.
#[utoipa::path(get, path = "/v1/workspaces/{ws}/contacts/{phone}", tag = "contacts", security(("bearer" = [])), params(("ws" = String, Path), ("phone" = String, Path, description = "E.164 number")),
    responses((status = 200, description = "OK", body = Envelope<ContactDetail>), (status = 404, description = "Not found", body = ErrorEnvelope)))]
async fn get_contact(State(state): State<AppState>, ws: Workspace, Path(p): Path<PhonePath>) -> ApiResult<ContactDetail> {
    ws.require(Action::WorkspaceRead)?;
    Ok(ApiOk::ok(store::detail(&state, ws.id(), &phone(&p.phone)?).await?))
}

/// Changes name, tags, custom fields (null removes one) or time zone.
#[utoipa::path(patch, path = "/v1/workspaces/{ws}/contacts/{phone}", tag = "contacts", security(("bearer" = [])), params(("ws" = String, Path), ("phone" = String, Path)), request_body = ContactPatch,
    responses((status = 200, description = "OK", body = Envelope<Contact>), (status = 404, description = "Not found", body = ErrorEnvelope), (status = 422, description = "Invalid", body = ErrorEnvelope)))]
async fn patch_contact(State(state): State<AppState>, ws: Workspace, Path(p): Path<PhonePath>, ApiJson(body): ApiJson<ContactPatch>) -> ApiResult<Contact> {
    ws.require(Action::ContactsManage)?;
    Ok(ApiOk::ok(store::patch(&state, ws.id(), &phone(&p.phone)?, body).await?))
}

/// Erases the contact everywhere (GDPR): record, conversations, messages, consent history; an opt-out stays as suppression.
#[utoipa::path(delete, path = "/v1/workspaces/{ws}/contacts/{phone}", tag = "contacts", security(("bearer" = [])), params(("ws" = String, Path), ("phone" = String, Path)),
    responses((status = 200, description = "Erased", body = Envelope<Erased>), (status = 404, description = "Not found", body = ErrorEnvelope)))]
async fn erase_contact(State(state): State<AppState>, ws: Workspace, Path(p): Path<PhonePath>) -> ApiResult<Erased> {
    ws.require(Action::ContactsManage)?;
    Ok(ApiOk::ok(erase::erase(&state, ws.id(), &phone(&p.phone)?).await?))
}

/// Starts a CSV import; then send the file in parts.
#[utoipa::path(post, path = "/v1/workspaces/{ws}/contacts/imports", tag = "contacts", security(("bearer" = [])), params(("ws" = String, Path)), request_body = NewImport,
    responses((status = 201, description = "Created", body = Envelope<ImportView>), (status = 422, description = "Unknown country", body = ErrorEnvelope)))]
async fn create_import(State(state): State<AppState>, ws: Workspace, ApiJson(body): ApiJson<NewImport>) -> ApiResult<ImportView> {
    Ok(ApiOk::created(imports::create(&state, &ws, body).await?))
}

/// Progress of an import.
#[utoipa::path(get, path = "/v1/workspaces/{ws}/contacts/imports/{import}", tag = "contacts", security(("bearer" = [])), params(("ws" = String, Path), ("import" = String, Path)),
    responses((status = 200, description = "OK", body = Envelope<ImportView>), (status = 404, description = "Not found", body = ErrorEnvelope)))]
async fn get_contact_import(State(state): State<AppState>, ws: Workspace, Path(p): Path<ImportPath>) -> ApiResult<ImportView> {
    Ok(ApiOk::ok(imports::get(&state, &ws, &ImportId::parse(&p.import)?).await?))
}

/// One part of the CSV (part 1 starts with the header); the rows are processed in the background.
#[utoipa::path(post, path = "/v1/workspaces/{ws}/contacts/imports/{import}/parts", tag = "contacts", security(("bearer" = [])), params(("ws" = String, Path), ("import" = String, Path)), request_body = Part,
    responses((status = 202, description = "Queued", body = Envelope<ImportView>), (status = 409, description = "Out of order", body = ErrorEnvelope), (status = 422, description = "Bad CSV or header", body = ErrorEnvelope)))]
async fn add_part(State(state): State<AppState>, ws: Workspace, Path(p): Path<ImportPath>, ApiJson(body): ApiJson<Part>) -> ApiResult<ImportView> {
    let view = imports::add_part(&state, &ws, &ImportId::parse(&p.import)?, body).await?;
    Ok(ApiOk(axum::http::StatusCode::ACCEPTED, view))
}

/// The rows that were not imported, with the reason.
#[utoipa::path(get, path = "/v1/workspaces/{ws}/contacts/imports/{import}/errors", tag = "contacts", security(("bearer" = [])), params(("ws" = String, Path), ("import" = String, Path), Paging),
    responses((status = 200, description = "OK", body = Envelope<ErrorPage>), (status = 404, description = "Not found", body = ErrorEnvelope)))]
async fn import_errors(State(state): State<AppState>, ws: Workspace, Path(p): Path<ImportPath>, Query(q): Query<Paging>) -> ApiResult<ErrorPage> {
    let (errors, next_cursor) = imports::errors(&state, &ws, &ImportId::parse(&p.import)?, q.cursor.as_deref()).await?;
    Ok(ApiOk::ok(ErrorPage { errors, next_cursor }))
}

/// Saved audiences, newest first.
#[utoipa::path(get, path = "/v1/workspaces/{ws}/audiences", tag = "contacts", security(("bearer" = [])), params(("ws" = String, Path)),
    responses((status = 200, description = "OK", body = Envelope<Vec<SavedAudience>>)))]
async fn list_audiences(State(state): State<AppState>, ws: Workspace) -> ApiResult<Vec<SavedAudience>> {
    Ok(ApiOk::ok(audiences::list(&state, &ws).await?))
}

/// Saves an audience; the rules are checked (a 422 names the rule).
#[utoipa::path(post, path = "/v1/workspaces/{ws}/audiences", tag = "contacts", security(("bearer" = [])), params(("ws" = String, Path)), request_body = NewAudience,
    responses((status = 201, description = "Created", body = Envelope<SavedAudience>), (status = 422, description = "Invalid rule", body = ErrorEnvelope)))]
async fn create_audience(State(state): State<AppState>, ws: Workspace, ApiJson(body): ApiJson<NewAudience>) -> ApiResult<SavedAudience> {
    Ok(ApiOk::created(audiences::create(&state, &ws, body).await?))
}

/// Counts the contacts unsaved rules select (for the live count while editing).
#[utoipa::path(post, path = "/v1/workspaces/{ws}/audiences/count", tag = "contacts", security(("bearer" = [])), params(("ws" = String, Path)), request_body = RuleSet,
    responses((status = 200, description = "OK", body = Envelope<AudienceCount>), (status = 422, description = "Invalid rule", body = ErrorEnvelope)))]
async fn count_rules(State(state): State<AppState>, ws: Workspace, ApiJson(body): ApiJson<RuleSet>) -> ApiResult<AudienceCount> {
    Ok(ApiOk::ok(audiences::count(&state, &ws, &body).await?))
}

/// One audience.
#[utoipa::path(get, path = "/v1/workspaces/{ws}/audiences/{aud}", tag = "contacts", security(("bearer" = [])), params(("ws" = String, Path), ("aud" = String, Path)),
    responses((status = 200, description = "OK", body = Envelope<SavedAudience>), (status = 404, description = "Not found", body = ErrorEnvelope)))]
async fn get_audience(State(state): State<AppState>, ws: Workspace, Path(p): Path<AudPath>) -> ApiResult<SavedAudience> {
    ws.require(Action::WorkspaceRead)?;
    Ok(ApiOk::ok(audiences::load(&state, ws.id(), &AudienceId::parse(&p.aud)?).await?))
}

/// Replaces an audience's name and rules.
#[utoipa::path(put, path = "/v1/workspaces/{ws}/audiences/{aud}", tag = "contacts", security(("bearer" = [])), params(("ws" = String, Path), ("aud" = String, Path)), request_body = NewAudience,
    responses((status = 200, description = "OK", body = Envelope<SavedAudience>), (status = 404, description = "Not found", body = ErrorEnvelope), (status = 422, description = "Invalid rule", body = ErrorEnvelope)))]
async fn update_audience(State(state): State<AppState>, ws: Workspace, Path(p): Path<AudPath>, ApiJson(body): ApiJson<NewAudience>) -> ApiResult<SavedAudience> {
    Ok(ApiOk::ok(audiences::update(&state, &ws, &AudienceId::parse(&p.aud)?, body).await?))
}

/// Deletes an audience (broadcasts keep their own copy of the rules).
#[utoipa::path(delete, path = "/v1/workspaces/{ws}/audiences/{aud}", tag = "contacts", security(("bearer" = [])), params(("ws" = String, Path), ("aud" = String, Path)),
    responses((status = 200, description = "Deleted", body = Envelope<Object>), (status = 404, description = "Not found", body = ErrorEnvelope)))]
async fn delete_audience(State(state): State<AppState>, ws: Workspace, Path(p): Path<AudPath>) -> ApiResult<serde_json::Value> {
    audiences::delete(&state, &ws, &AudienceId::parse(&p.aud)?).await?;
    Ok(ApiOk::ok(serde_json::json!({"deleted": p.aud})))
}

/// Counts the contacts a saved audience selects now.
#[utoipa::path(get, path = "/v1/workspaces/{ws}/audiences/{aud}/count", tag = "contacts", security(("bearer" = [])), params(("ws" = String, Path), ("aud" = String, Path)),
    responses((status = 200, description = "OK", body = Envelope<AudienceCount>), (status = 404, description = "Not found", body = ErrorEnvelope)))]
async fn count_audience(State(state): State<AppState>, ws: Workspace, Path(p): Path<AudPath>) -> ApiResult<AudienceCount> {
    let a = audiences::load(&state, ws.id(), &AudienceId::parse(&p.aud)?).await?;
    Ok(ApiOk::ok(audiences::count(&state, &ws, &a.rules).await?))
}
