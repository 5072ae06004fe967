//! The template library's storage and use cases: sync from the provider (upsert, mark removed), create
//! and submit, list with cursor paging and a status filter, and look-up for sending.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::channels::{self, Channel};
use super::credentials;
use super::providers::{meta_templates, twilio_content::ContentApi, ProviderError, ProviderSecrets};
use super::templates::{Category, Components, Draft, ParameterFormat, Template, TemplateId, TemplateSpec, TemplateStatus};
use super::templates_render::Variables;
use super::types::{ChannelId, Content, Provider};
use crate::auth::{Action, RequestMeta, Workspace, WorkspaceId};
use crate::http::ApiError;
use crate::ports::{Condition, Cursor, Item, Key, Query};
use crate::state::AppState;
use crate::workspaces::audit;

fn partition(ws: &WorkspaceId, chan: &ChannelId) -> String {
    format!("WS#{ws}#CHAN#{chan}#TPL")
}

fn key(ws: &WorkspaceId, chan: &ChannelId, id: &TemplateId) -> Key {
    Key::new(partition(ws, chan), id.to_string())
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SyncReport {
    pub added: usize,
    pub updated: usize,
    pub removed: usize,
    /// Listed templates with components the platform cannot send (location headers, OTP, flows).
    pub skipped: usize,
    pub total: usize,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct TemplateFilter {
    pub status: Option<TemplateStatus>,
    /// Removed templates are left out unless this is true.
    pub include_removed: Option<bool>,
    pub cursor: Option<String>,
    pub limit: Option<u32>,
}

/// A template to create on the channel's provider (or, on Whapi, in the library only).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTemplate {
    /// Lowercase letters, digits and underscores (Meta's rule), 1–512 characters.
    pub name: String,
    pub language: String,
    pub category: Option<Category>,
    pub components: Components,
    /// An example for every variable, in the same shape as a send's `variables` (Meta reviews them).
    #[serde(default)]
    pub examples: Variables,
}

/// Every template of the channel, removed ones included.
pub async fn list_all(state: &AppState, ws: &WorkspaceId, chan: &ChannelId) -> Result<Vec<Template>, ApiError> {
    let (mut all, mut after) = (Vec::new(), None);
    loop {
        let page = state.table.query(Query::partition(partition(ws, chan)).limit(200).after(after)).await?;
        all.extend(page.items.iter().map(Item::parse::<Template>).collect::<Result<Vec<_>, _>>()?);
        match page.next {
            Some(next) => after = Some(next),
            None => return Ok(all),
        }
    }
}

/// One page of the library (oldest first); with a filter a page may hold fewer than `limit`.
pub async fn list(state: &AppState, ws: &Workspace, chan: &ChannelId, f: &TemplateFilter) -> Result<(Vec<Template>, Option<String>), ApiError> {
    ws.require(Action::WorkspaceRead)?;
    channels::load(state, ws.id(), chan).await?;
    let after = f.cursor.as_deref().map(Cursor::parse).transpose()?;
    let page = state.table.query(Query::partition(partition(ws.id(), chan)).limit(f.limit.unwrap_or(50).clamp(1, 100)).after(after)).await?;
    let templates = page.items.iter().map(Item::parse::<Template>).collect::<Result<Vec<_>, _>>()?;
    let keep = |t: &Template| f.status.is_none_or(|s| t.spec.status == s) && (f.include_removed == Some(true) || !t.removed);
    Ok((templates.into_iter().filter(keep).collect(), page.next.map(|c| c.as_str().to_owned())))
}

pub async fn load(state: &AppState, ws: &WorkspaceId, chan: &ChannelId, id: &TemplateId) -> Result<Template, ApiError> {
    let item = state.table.get(&key(ws, chan, id)).await?.ok_or_else(|| ApiError::NotFound(format!("no template `{id}` on this channel")))?;
    Ok(item.parse()?)
}

pub async fn get(state: &AppState, ws: &Workspace, chan: &ChannelId, id: &TemplateId) -> Result<Template, ApiError> {
    ws.require(Action::WorkspaceRead)?;
    load(state, ws.id(), chan, id).await
}

/// The library template a send refers to: by id, or by name and language (a removed one only when
/// nothing current has that name).
pub async fn find(state: &AppState, ws: &WorkspaceId, chan: &ChannelId, id: Option<&str>, name: Option<&str>, language: Option<&str>) -> Result<Option<Template>, ApiError> {
    if let Some(id) = id {
        let id = TemplateId::parse(id).map_err(|_| ApiError::Validation(format!("no template `{}`", id.chars().take(40).collect::<String>())))?;
        return load(state, ws, chan, &id).await.map(Some).map_err(|e| match e {
            ApiError::NotFound(m) => ApiError::Validation(m),
            e => e,
        });
    }
    let (Some(name), Some(language)) = (name, language) else { return Ok(None) };
    let mut matching: Vec<Template> = list_all(state, ws, chan).await?.into_iter().filter(|t| t.spec.name == name && t.spec.language == language).collect();
    matching.sort_by_key(|t| t.removed);
    Ok(matching.into_iter().next())
}

fn provider_refused(e: &ProviderError) -> ApiError {
    match e.class {
        super::providers::ErrorClass::AuthFailed => ApiError::Refused { code: "provider_auth_failed", message: format!("{} refused the credential ({}: {})", e.provider, e.code, e.message) },
        super::providers::ErrorClass::RateLimited { .. } | super::providers::ErrorClass::Transient { .. } => ApiError::Unavailable(format!("{} template API: {e}", e.provider)),
        _ => ApiError::Refused { code: "provider_error", message: format!("{} answered {}: {}", e.provider, e.code, e.message) },
    }
}

async fn channel_and_secrets(state: &AppState, ws: &Workspace, chan: &ChannelId) -> Result<(Channel, credentials::Credential, std::sync::Arc<ProviderSecrets>), ApiError> {
    let (_, channel) = channels::load(state, ws.id(), chan).await?;
    let (cred, secrets) = credentials::unseal(state, ws.id(), &channel.credential_id).await?;
    Ok((channel, cred, secrets))
}

/// Reads the provider's templates into the library: new ones added, changed ones updated (same id),
/// ones the provider no longer lists marked removed.
pub async fn sync(state: &AppState, ws: &Workspace, meta: &RequestMeta, chan: &ChannelId) -> Result<SyncReport, ApiError> {
    ws.require(Action::ChannelsManage)?;
    let (channel, cred, secrets) = channel_and_secrets(state, ws, chan).await?;
    let rt = &state.whatsapp;
    let (remote, skipped) = match secrets.as_ref() {
        ProviderSecrets::Meta { access_token, .. } => {
            let waba = cred.waba_id.as_deref().ok_or_else(|| ApiError::Validation("the Meta credential has no waba_id".into()))?;
            meta_templates::list(&rt.http, &rt.urls.meta, access_token, waba).await
        }
        ProviderSecrets::Twilio { account_sid, auth, .. } => ContentApi { http: &rt.http, base: &rt.urls.twilio_content, account_sid, auth }.list().await,
        ProviderSecrets::Whapi { .. } => {
            return Err(ApiError::Refused { code: "unsupported_capability", message: "Whapi has no provider templates to sync: create templates in the library and they are sent as text".into() })
        }
    }
    .map_err(|e| provider_refused(&e))?;
    let now = state.clock.now().to_rfc3339();
    let mut existing: HashMap<String, Template> = list_all(state, ws.id(), chan).await?.into_iter().filter_map(|t| Some((t.provider_template_id.clone()?, t))).collect();
    let mut report = SyncReport { added: 0, updated: 0, removed: 0, skipped, total: remote.len() };
    for r in remote {
        let template = match existing.remove(&r.provider_template_id) {
            Some(old) => {
                let new = Template { removed: false, synced_at: Some(now.clone()), updated_at: now.clone(), spec: r.spec, ..old.clone() };
                if (Template { synced_at: old.synced_at.clone(), updated_at: old.updated_at.clone(), ..new.clone() }) == old {
                    continue;
                }
                report.updated += 1;
                new
            }
            None => {
                report.added += 1;
                Template { synced_at: Some(now.clone()), ..Template::new(TemplateId::new(state.clock.new_id()), channel.id.clone(), channel.provider, Some(r.provider_template_id), r.spec, &now) }
            }
        };
        state.table.put(Item::of(key(ws.id(), chan, &template.id), &template), Condition::None).await?;
    }
    for gone in existing.into_values().filter(|t| !t.removed) {
        report.removed += 1;
        let t = Template { removed: true, synced_at: Some(now.clone()), updated_at: now.clone(), ..gone };
        state.table.put(Item::of(key(ws.id(), chan, &t.id), &t), Condition::None).await?;
    }
    audit::record(state, ws, meta, "templates.sync", chan.as_str()).await?;
    Ok(report)
}

/// Checks a draft: name and language formats, a body, and an example for every variable. On Meta the
/// example of a media header is the handle of an uploaded sample (`POST …/templates/media`), not a URL.
fn draft(req: NewTemplate, provider: Provider) -> Result<Draft, ApiError> {
    let name_ok = (1..=512).contains(&req.name.len()) && req.name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if !name_ok {
        return Err(ApiError::Validation("name must be 1–512 lowercase letters, digits and underscores (like order_ready)".into()));
    }
    let lang_ok = (2..=15).contains(&req.language.len()) && req.language.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if !lang_ok {
        return Err(ApiError::Validation("language must be a locale code like en_US or en".into()));
    }
    if req.components.body.trim().is_empty() || req.components.body.chars().count() > 1024 {
        return Err(ApiError::Validation("components.body must be 1–1024 characters".into()));
    }
    if req.components.buttons.len() > 10 {
        return Err(ApiError::Validation("at most 10 buttons".into()));
    }
    let slots = req.components.slots();
    let named = slots.iter().any(|s| matches!(s, super::templates::Slot::Body(n) if n.parse::<u32>().is_err()));
    let positional = slots.iter().any(|s| matches!(s, super::templates::Slot::Body(n) if n.parse::<u32>().is_ok()));
    if named && positional {
        return Err(ApiError::Validation("components.body mixes {{1}} and {{name}} variables; use one kind".into()));
    }
    let parameter_format = if named { ParameterFormat::Named } else { ParameterFormat::Positional };
    // The examples must fill the template exactly as a send would.
    let spec = TemplateSpec { name: req.name, language: req.language, category: req.category, status: TemplateStatus::Approved, parameter_format, components: req.components, rejected_reason: None };
    let probe = Template::new(TemplateId::new(ulid::Ulid::nil()), ChannelId::new(ulid::Ulid::nil()), Provider::Whapi, None, spec, "");
    let mut probe_examples = req.examples.clone();
    let media_header = probe.spec.components.header.as_ref().is_some_and(|h| h.format.media_kind().is_some());
    if provider == Provider::Meta && media_header {
        match req.examples.header_media.as_deref() {
            Some(h) if super::templates_media::is_handle(h) => probe_examples.header_media = Some("https://uploaded.sample.invalid/".into()),
            _ => {
                return Err(ApiError::Refused {
                    code: "template_example_missing",
                    message: "examples: header.media must be the handle of an uploaded sample: upload the file with POST …/templates/media and pass its handle".into(),
                })
            }
        }
    }
    super::templates_render::check(&probe, &probe_examples).map_err(|e| ApiError::Refused { code: "template_example_missing", message: format!("examples: {e}") })?;
    let TemplateSpec { name, language, category, components, .. } = probe.spec;
    Ok(Draft { name, language, category, parameter_format, components, examples: req.examples })
}

/// Meta's template refusals as clear 422s (code 100 with its subcode; the message meant for people).
fn meta_refusal(r: meta_templates::Refusal) -> ApiError {
    let detail = r.user_message.clone().unwrap_or_else(|| r.error.message.clone());
    let code = match (r.error.code.as_str(), r.subcode) {
        (_, Some(2_388_024)) => "template_exists",
        (_, Some(2_388_023)) => "template_language_being_deleted",
        ("100", _) | ("192", _) => "template_invalid",
        _ => return provider_refused(&r.error),
    };
    ApiError::Refused { code, message: format!("Meta refused the template ({}{}): {detail}", r.error.code, r.subcode.map(|s| format!("/{s}")).unwrap_or_default()) }
}

/// Creates a template: submitted for review on Meta and Twilio (stored PENDING), stored APPROVED on
/// Whapi where the library template is only filled in and sent as text.
pub async fn create(state: &AppState, ws: &Workspace, meta: &RequestMeta, chan: &ChannelId, req: NewTemplate) -> Result<Template, ApiError> {
    ws.require(Action::ChannelsManage)?;
    let (channel, cred, secrets) = channel_and_secrets(state, ws, chan).await?;
    let d = draft(req, channel.provider)?;
    if list_all(state, ws.id(), chan).await?.iter().any(|t| !t.removed && t.spec.name == d.name && t.spec.language == d.language) {
        return Err(ApiError::Refused { code: "template_exists", message: format!("the channel already has `{}` in {}", d.name, d.language) });
    }
    let rt = &state.whatsapp;
    let (provider_id, status) = match secrets.as_ref() {
        ProviderSecrets::Meta { access_token, .. } => {
            let waba = cred.waba_id.as_deref().ok_or_else(|| ApiError::Validation("the Meta credential has no waba_id".into()))?;
            let (id, status) = meta_templates::create(&rt.http, &rt.urls.meta, access_token, waba, &meta_templates::create_body(&d)).await.map_err(meta_refusal)?;
            (Some(id), status)
        }
        ProviderSecrets::Twilio { account_sid, auth, .. } => {
            let (sid, status) = ContentApi { http: &rt.http, base: &rt.urls.twilio_content, account_sid, auth }.create(&d).await.map_err(|e| provider_refused(&e))?;
            (Some(sid), status)
        }
        ProviderSecrets::Whapi { .. } => (None, TemplateStatus::Approved),
    };
    let spec = TemplateSpec { name: d.name, language: d.language, category: d.category, status, parameter_format: d.parameter_format, components: d.components, rejected_reason: None };
    let template = Template::new(TemplateId::new(state.clock.new_id()), chan.clone(), channel.provider, provider_id, spec, &state.clock.now().to_rfc3339());
    state.table.put(Item::of(key(ws.id(), chan, &template.id), &template), Condition::NotExists).await?;
    audit::record(state, ws, meta, "template.create", template.id.as_str()).await?;
    Ok(template)
}

/// What a send's content becomes: a template found in the library (by `template_id`, or by name and
/// language) is checked and rendered with the variables; anything else is sent as given.
pub async fn content_for_send(state: &AppState, ws: &WorkspaceId, channel: &Channel, content: &Content, template_id: Option<&str>, vars: Option<&Variables>) -> Result<Content, ApiError> {
    let Content::Template { name, language, variables, .. } = content else {
        return match (template_id, vars) {
            (None, None) => Ok(content.clone()),
            _ => Err(ApiError::Validation("template_id and template_variables need \"type\": \"template\"".into())),
        };
    };
    match find(state, ws, &channel.id, template_id, name.as_deref(), language.as_deref()).await? {
        Some(t) => {
            let vars = vars.cloned().unwrap_or_else(|| Variables::positional(variables));
            Ok(super::templates_render::render_for_send(&t, &vars)?)
        }
        None if vars.is_some() => Err(ApiError::Validation(format!(
            "no template `{}` ({}) in this channel's library; sync the channel's templates first",
            name.as_deref().unwrap_or_default(),
            language.as_deref().unwrap_or_default()
        ))),
        None => Ok(content.clone()),
    }
}
