//! A trigger's rendered actions, run: a push notification to a site's subscribers, a push to the
//! workspace's members' devices, WhatsApp messages. A push action's notification can carry writes of
//! the caller in its own transaction (`push_with`), which is how a lone push action commits once.

use serde_json::json;

use super::render::{RenderedAction, RenderedTarget};
use super::run::ActionOutcome;
use super::types::InvocationId;
use crate::auth::{RequestMeta, Workspace};
use crate::ports::TxWrite;
use crate::push::notifications::{self, Content, NewNotification, NotificationId, Plan, Target};
use crate::push::sites::SiteId;
use crate::state::AppState;

pub(super) fn failed(index: usize, e: impl std::fmt::Display) -> ActionOutcome {
    ActionOutcome { index, ok: false, detail: e.to_string(), ids: vec![] }
}

/// The outcome of a push action whose notification `id` was stored and queued.
pub(super) fn queued(index: usize, id: &NotificationId) -> ActionOutcome {
    ActionOutcome { index, ok: true, detail: "notification queued".into(), ids: vec![id.to_string()] }
}

fn meta(ws: &Workspace) -> RequestMeta {
    RequestMeta { ip: "trigger".into(), user_agent: format!("trigger {}", ws.principal().actor()) }
}

/// The notification a push action asks for (`None` for other actions), or why there can be none.
fn push_request(action: RenderedAction) -> Option<Result<(SiteId, NewNotification), String>> {
    let RenderedAction::Push { site_id, target, title, body, url, icon, image, transactional } = action else { return None };
    let target = match target {
        RenderedTarget::All => Target::All,
        RenderedTarget::Tags { tags } => Target::Tags { tags },
        RenderedTarget::ExternalId { external_id } => Target::ExternalId { external_id },
    };
    let req = NewNotification { content: Content { title, body, url, icon, image, badge: None, actions: vec![], require_interaction: false }, target, ttl_seconds: None, urgency: None, topic: None, draft: false, plan: Plan { transactional, ..Default::default() } };
    Some(SiteId::parse(&site_id).map(|site| (site, req)).map_err(|_| format!("no site `{site_id}`")))
}

/// Sends push action number `index`, with the writes `extra` makes for the notification's id in the
/// transaction that stores it: the notification exists exactly when they do. A refused transaction
/// (one of `extra`'s conditions failed) is a failed outcome like any other.
pub(super) async fn push_with(state: &AppState, ws: &Workspace, index: usize, action: RenderedAction, extra: impl FnOnce(&NotificationId) -> Vec<TxWrite>) -> Result<NotificationId, ActionOutcome> {
    let (site, req) = match push_request(action) {
        Some(Ok(request)) => request,
        Some(Err(e)) => return Err(failed(index, e)),
        None => return Err(failed(index, "not a push action")),
    };
    match notifications::send_with(state, ws, &meta(ws), &site, req, extra).await {
        Ok(view) => Ok(view.notification.id),
        Err(e) => Err(failed(index, e)),
    }
}

pub(super) async fn run(state: &AppState, ws: &Workspace, inv: &InvocationId, index: usize, action: RenderedAction) -> ActionOutcome {
    match action {
        RenderedAction::Members { title, body, url } => {
            let members = match crate::workspaces::members::list_members(state, ws).await {
                Ok(m) => m,
                Err(e) => return failed(index, e),
            };
            let payload = json!({"title": title, "body": body, "url": url.unwrap_or_else(|| "/triggers".into()), "tag": inv.to_string()});
            let (mut reached, mut failures) = (0, 0);
            for m in members {
                match crate::push::devices::notify_user(state, &m.user_id, &payload).await {
                    Ok((ok, bad)) => (reached, failures) = (reached + ok, failures + bad),
                    Err(_) => failures += 1,
                }
            }
            ActionOutcome { index, ok: true, detail: format!("{reached} device(s) reached, {failures} failed"), ids: vec![] }
        }
        RenderedAction::Whatsapp { channel_id, to, text, template_name, template_language, template_variables } => {
            use crate::whatsapp::types::Content;
            let content = match (text, template_name) {
                (Some(body), _) => Content::Text { body, preview_url: false },
                (None, name) => Content::Template { name, language: template_language, content_sid: None, variables: template_variables, params: None },
            };
            let (mut ids, mut errors) = (vec![], vec![]);
            for (r, number) in to.iter().enumerate() {
                let req = crate::whatsapp::messages::NewMessage { channel_id: channel_id.clone(), to: number.clone(), content: content.clone(), template_fallback: None, client_message_id: Some(format!("{inv}.{index}.{r}")), template_id: None, template_variables: None };
                match crate::whatsapp::messages::send(state, ws, req).await {
                    Ok((message, _)) => ids.push(message.id.to_string()),
                    Err(e) => errors.push(format!("{number}: {e}")),
                }
            }
            let detail = if errors.is_empty() { format!("{} message(s) queued", ids.len()) } else { format!("{} queued; {}", ids.len(), errors.join("; ")) };
            ActionOutcome { index, ok: errors.is_empty(), detail, ids }
        }
        push @ RenderedAction::Push { .. } => match push_with(state, ws, index, push, |_| Vec::new()).await {
            Ok(id) => queued(index, &id),
            Err(failure) => failure,
        },
    }
}
