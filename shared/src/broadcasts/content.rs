//! Which template a broadcast sends: looked up in the channel's library and checked against the
//! variable mapping with sample values before the broadcast is saved or started, so a missing or
//! unapproved template or an unmapped variable is a 422 naming it, not a run of failed recipients.

use super::types::{sample_variables, text_template, TemplateRef, VariableMapping};
use crate::auth::WorkspaceId;
use crate::http::ApiError;
use crate::state::AppState;
use crate::whatsapp::channels::Channel;
use crate::whatsapp::templates::Template;
use crate::whatsapp::templates_render::render_for_send;
use crate::whatsapp::templates_store;

/// The template `r` names in the channel's library (Whapi's free text as an ad-hoc one).
pub async fn resolve(state: &AppState, ws: &WorkspaceId, channel: &Channel, r: &TemplateRef) -> Result<Template, ApiError> {
    let not_found = |what: String| ApiError::Refused { code: "template_not_found", message: format!("no template {what} in this channel's library; sync the channel's templates first") };
    if let Some(id) = r.template_id.as_deref() {
        return templates_store::find(state, ws, &channel.id, Some(id), None, None).await?.ok_or_else(|| not_found(format!("`{}`", id.chars().take(40).collect::<String>())));
    }
    match (r.template_id.as_deref(), r.name.as_deref(), r.content_sid.as_deref(), r.text.as_deref()) {
        (None, None, None, Some(text)) => {
            if channel.provider.template_support().approval_required {
                return Err(ApiError::Refused { code: "template_required", message: format!("{} broadcasts send an approved template: give template.template_id or name + language", channel.provider.as_str()) });
            }
            if text.trim().is_empty() || text.chars().count() > 4096 {
                return Err(ApiError::Validation("template.text must be 1–4096 characters".into()));
            }
            Ok(text_template(&channel.id, text))
        }
        (None, None, Some(sid), None) => {
            let mut found: Vec<Template> = templates_store::list_all(state, ws, &channel.id).await?.into_iter().filter(|t| t.provider_template_id.as_deref() == Some(sid)).collect();
            found.sort_by_key(|t| t.removed);
            found.into_iter().next().ok_or_else(|| not_found(format!("with Content SID `{}`", sid.chars().take(40).collect::<String>())))
        }
        (None, Some(name), None, None) => {
            let Some(language) = r.language.as_deref() else { return Err(ApiError::Validation("template.language is needed with template.name".into())) };
            let found = templates_store::find(state, ws, &channel.id, None, Some(name), Some(language)).await?;
            found.ok_or_else(|| not_found(format!("`{}` ({})", name.chars().take(60).collect::<String>(), language.chars().take(15).collect::<String>())))
        }
        _ => Err(ApiError::Validation("template: give one of template_id, name + language, content_sid (Twilio) or text (Whapi)".into())),
    }
}

/// Resolves and checks the template with the mapping's sample values (approved, every variable mapped,
/// none extra). Returns the reference as stored: by library id, with its name, language and SID.
pub async fn check(state: &AppState, ws: &WorkspaceId, channel: &Channel, r: &TemplateRef, vars: &[VariableMapping]) -> Result<TemplateRef, ApiError> {
    let t = resolve(state, ws, channel, r).await?;
    render_for_send(&t, &sample_variables(vars))?;
    if r.text.is_some() {
        return Ok(r.clone());
    }
    Ok(TemplateRef { template_id: Some(t.id.to_string()), name: Some(t.spec.name), language: Some(t.spec.language), content_sid: t.provider_template_id.filter(|_| t.provider == crate::whatsapp::types::Provider::Twilio), text: None })
}
