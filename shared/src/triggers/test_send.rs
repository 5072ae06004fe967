//! Test-send: `POST …/triggers/{trg}/test` renders a trigger's actions (or the editor's unsaved draft)
//! against a sample body and reports, action by action, what would be sent or the template error naming
//! the missing variable path; with `send: true` it runs them once for real as an invocation marked `test`.

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;
use utoipa::ToSchema;
use crate::http::api_router::{routes, ApiRouter};

use super::render::{self, RenderedAction};
use super::run::{self, Invocation};
use super::store;
use super::types::{ActionSpec, TriggerId};
use crate::auth::Workspace;
use crate::http::idempotency::{self, Attempt, IdempotencyKey, Outcome};
use crate::http::{ApiJson, ApiOk, ApiResult};
use crate::openapi::{Envelope, ErrorEnvelope};
use crate::state::AppState;

pub fn api() -> ApiRouter<AppState> {
    ApiRouter::new().routes(routes!(test_trigger))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TestRequest {
    /// The sample body, as a caller would POST it.
    #[schema(value_type = Object)]
    pub payload: Json,
    /// Draft actions to use instead of the saved ones (the editor's unsaved state).
    pub actions: Option<Vec<ActionSpec>>,
    pub filter: Option<String>,
    /// Really send, once, as an invocation marked `test` (default: only render).
    #[serde(default)]
    pub send: bool,
}

/// One action's test result.
#[derive(Debug, Serialize, ToSchema, PartialEq)]
pub struct ActionReport {
    pub index: usize,
    /// `push`, `members` or `whatsapp`.
    #[serde(rename = "type")]
    pub kind: String,
    pub ok: bool,
    /// What would be sent (every template filled in).
    pub rendered: Option<RenderedAction>,
    /// Why it cannot be sent, e.g. `template error in actions[1].to: undefined value order.customer.phone (line 1)`.
    pub error: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TestReport {
    /// Whether the filter lets this body through (false as well when the filter itself fails).
    pub fires: bool,
    pub filter_error: Option<String>,
    pub actions: Vec<ActionReport>,
    /// With `send: true` and every action rendered: the test invocation (also in the log).
    pub invocation: Option<Invocation>,
}

fn kind(action: &ActionSpec) -> &'static str {
    match action {
        ActionSpec::Push { .. } => "push",
        ActionSpec::Members { .. } => "members",
        ActionSpec::Whatsapp { .. } => "whatsapp",
    }
}

/// Every action rendered on its own, so one bad template does not hide the others' results.
pub fn report(filter: Option<&str>, actions: &[ActionSpec], payload: &Json) -> TestReport {
    let ctx = render::context(payload);
    let (fires, filter_error) = match render::passes(filter, &ctx) {
        Ok(f) => (f, None),
        Err(e) => (false, Some(format!("template error in {e}"))),
    };
    let actions = actions
        .iter()
        .enumerate()
        .map(|(index, a)| {
            let (rendered, error) = match render::check(None, std::slice::from_ref(a)).and_then(|()| render::render_action(index, a, &ctx)) {
                Ok(r) => (Some(r), None),
                // `check` names the action as actions[0]; the render error already carries the real index.
                Err(e) => (None, Some(format!("template error in {}", e.to_string().replacen("actions[0]", &format!("actions[{index}]"), 1)))),
            };
            ActionReport { index, kind: kind(a).into(), ok: error.is_none(), rendered, error }
        })
        .collect();
    TestReport { fires, filter_error, actions, invocation: None }
}

#[derive(Deserialize)]
struct TrgPath {
    trg: String,
}

/// Renders the trigger's actions (or a draft) against a sample body and says per action what would be
/// sent or which variable is missing; `send: true` then runs them once as a test invocation (only when
/// the filter passes and every action renders).
#[utoipa::path(post, path = "/v1/workspaces/{ws}/triggers/{trg}/test", tag = "triggers", security(("bearer" = [])), params(("ws" = String, Path), ("trg" = String, Path), ("Idempotency-Key" = Option<String>, Header, description = "With `send: true`: a repeat within 24 hours answers the first result and sends nothing.")),
    request_body = TestRequest,
    responses((status = 200, description = "The per-action report, and the invocation when sent", body = Envelope<TestReport>), (status = 404, description = "Not found", body = ErrorEnvelope), (status = 422, description = "Invalid actions, or an idempotency key reused for a different request", body = ErrorEnvelope)))]
async fn test_trigger(State(state): State<AppState>, ws: Workspace, headers: HeaderMap, Path(p): Path<TrgPath>, ApiJson(body): ApiJson<TestRequest>) -> ApiResult<TestReport> {
    ws.require(crate::auth::Action::WorkspaceRead)?;
    let mut trigger = store::get(&state, &ws, &TriggerId::parse(&p.trg)?).await?;
    if let Some(actions) = body.actions {
        trigger.actions = actions;
    }
    if body.filter.is_some() {
        trigger.filter = body.filter.filter(|f| !f.trim().is_empty());
    }
    let mut report = report(trigger.filter.as_deref(), &trigger.actions, &body.payload);
    if body.send && report.fires && report.actions.iter().all(|a| a.ok) {
        let fingerprint = serde_json::to_vec(&(&body.payload, &trigger.actions, &trigger.filter)).unwrap_or_default();
        let attempt = IdempotencyKey::from_request(&headers, None)?.map(|k| Attempt::new("trigger-test", k, &[trigger.id.as_str().as_bytes(), fingerprint.as_slice()]));
        let (st, w, t) = (&state, &ws, &trigger.id);
        let outcome = idempotency::once(&state, ws.id(), attempt, |inv: &Invocation| inv.id.to_string(), || run::test_send(&state, &ws, &trigger, &body.payload), |id| async move {
            run::get(st, w, t, &super::types::InvocationId::parse(&id)?).await
        })
        .await?;
        report.invocation = Some(match outcome {
            Outcome::Created(inv) | Outcome::Repeated(inv) => inv,
        });
    }
    Ok(ApiOk::ok(report))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn each_action_reports_its_rendering_or_the_missing_variable() {
        let actions = vec![
            ActionSpec::Members { title: "Order {{ order.id }}".into(), body: None, url: None },
            ActionSpec::Whatsapp { channel_id: "chn_x".into(), to: "{{ order.customer.phone }}".into(), text: Some("Hi".into()), template_name: None, template_language: None, template_variables: vec![] },
            ActionSpec::Members { title: "Broken {{ order.id ".into(), body: None, url: None },
        ];
        let r = report(Some("status == 'paid'"), &actions, &json!({"order": {"id": "A-1"}, "status": "paid"}));
        assert!(r.fires && r.filter_error.is_none());
        assert_eq!(r.actions[0].rendered, Some(RenderedAction::Members { title: "Order A-1".into(), body: None, url: None }));
        assert_eq!(r.actions[1].error.as_deref(), Some("template error in actions[1].to: undefined value order.customer.phone (line 1)"));
        assert!(!r.actions[2].ok && r.actions[2].error.as_deref().unwrap().starts_with("template error in actions[2].title"), "{:?}", r.actions[2]);
        assert_eq!(r.actions.iter().map(|a| a.kind.as_str()).collect::<Vec<_>>(), ["members", "whatsapp", "members"]);
        let skipped = report(Some("missing.value"), &actions[..1], &json!({}));
        assert!(!skipped.fires && skipped.filter_error.as_deref().unwrap().contains("filter"), "{:?}", skipped.filter_error);
    }
}
