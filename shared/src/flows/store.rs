//! The flow repository: a flow's draft (edited freely) and its published versions (immutable, one
//! item each, audit-logged). The flow item also carries a copy of the live version's document so the
//! inbound runtime reads every live flow of a workspace with one query.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::check::check;
use super::types::{FlowDoc, FlowId};
use crate::auth::{Action, RequestMeta, Workspace, WorkspaceId};
use crate::http::ApiError;
use crate::ports::{Condition, Item, Key, Query, TableError, TxWrite};
use crate::state::AppState;
use crate::workspaces::audit;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct Flow {
    pub id: FlowId,
    pub draft: FlowDoc,
    /// The version conversations start on; `None` until the first publish.
    pub live_version: Option<u32>,
    /// Highest version number published so far.
    pub versions: u32,
    /// The live version's document (the runtime reads this).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub live: Option<FlowDoc>,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct FlowVersion {
    pub flow_id: FlowId,
    pub number: u32,
    pub doc: FlowDoc,
    pub published_by: String,
    pub published_at: String,
}

pub fn flows_partition(ws: &WorkspaceId) -> String {
    format!("WS#{ws}#FLOW")
}

fn flow_key(ws: &WorkspaceId, id: &FlowId) -> Key {
    Key::new(flows_partition(ws), id.to_string())
}

fn version_key(ws: &WorkspaceId, id: &FlowId, version: u32) -> Key {
    Key::new(format!("WS#{ws}#FLOW#{id}#V"), format!("{version:06}"))
}

/// 422 naming every problem's step and field.
pub fn validate(doc: &FlowDoc) -> Result<(), ApiError> {
    let problems = check(doc);
    if problems.is_empty() {
        return Ok(());
    }
    let text = problems.iter().map(|p| match &p.step {
        Some(s) => format!("step `{s}` field `{}`: {}", p.field, p.message),
        None => format!("field `{}`: {}", p.field, p.message),
    });
    Err(ApiError::Validation(text.collect::<Vec<_>>().join("; ")))
}

pub async fn create(state: &AppState, ws: &Workspace, meta: &RequestMeta, doc: FlowDoc) -> Result<Flow, ApiError> {
    ws.require(Action::FlowsManage)?;
    validate(&doc)?;
    let now = state.clock.now().to_rfc3339();
    let flow = Flow { id: FlowId::new(state.clock.new_id()), draft: doc, live_version: None, versions: 0, live: None, created_at: now.clone(), updated_at: now };
    state.table.transact(vec![TxWrite::Put { item: Item::of(flow_key(ws.id(), &flow.id), &flow), condition: Condition::NotExists }, audit::entry(state, ws, meta, "flow.create", flow.id.as_str())]).await?;
    Ok(flow)
}

async fn load_item(state: &AppState, ws: &WorkspaceId, id: &FlowId) -> Result<(Item, Flow), ApiError> {
    let item = state.table.get(&flow_key(ws, id)).await?.ok_or_else(|| ApiError::NotFound("no such flow".into()))?;
    let flow = item.parse()?;
    Ok((item, flow))
}

pub async fn get(state: &AppState, ws: &Workspace, id: &FlowId) -> Result<Flow, ApiError> {
    ws.require(Action::WorkspaceRead)?;
    Ok(load_item(state, ws.id(), id).await?.1)
}

pub async fn list(state: &AppState, ws: &Workspace) -> Result<Vec<Flow>, ApiError> {
    ws.require(Action::WorkspaceRead)?;
    live_flows_all(state, ws.id()).await
}

/// Every flow of a workspace (the runtime filters the live ones).
pub async fn live_flows_all(state: &AppState, ws: &WorkspaceId) -> Result<Vec<Flow>, ApiError> {
    let page = state.table.query(Query::partition(flows_partition(ws)).limit(500)).await?;
    page.items.iter().map(|i| i.parse().map_err(ApiError::from)).collect()
}

/// Rewrites the flow with `change` under an optimistic version check.
async fn modify(state: &AppState, ws: &Workspace, id: &FlowId, extra: impl Fn(&Flow) -> Vec<TxWrite>, change: impl Fn(&mut Flow) -> Result<(), ApiError>) -> Result<Flow, ApiError> {
    for _ in 0..5 {
        let (item, mut flow) = load_item(state, ws.id(), id).await?;
        change(&mut flow)?;
        flow.updated_at = state.clock.now().to_rfc3339();
        let mut writes = vec![TxWrite::Put { item: Item::of(item.key.clone(), &flow).with_version(item.version + 1), condition: Condition::VersionIs(item.version) }];
        writes.extend(extra(&flow));
        match state.table.transact(writes).await {
            Ok(()) => return Ok(flow),
            Err(TableError::TransactionCancelled { index: 0 }) => continue,
            Err(TableError::TransactionCancelled { .. }) => return Err(ApiError::Conflict("that version was just published; reload".into())),
            Err(e) => return Err(e.into()),
        }
    }
    Err(ApiError::Conflict("the flow kept changing; retry".into()))
}

/// Replaces the draft; published versions are untouched.
pub async fn save_draft(state: &AppState, ws: &Workspace, meta: &RequestMeta, id: &FlowId, doc: FlowDoc) -> Result<Flow, ApiError> {
    ws.require(Action::FlowsManage)?;
    validate(&doc)?;
    modify(state, ws, id, |_| vec![audit::entry(state, ws, meta, "flow.update", id.as_str())], |f| {
        f.draft = doc.clone();
        Ok(())
    })
    .await
}

/// Publishes the draft as a new immutable version, or (`version`) makes an earlier version live again.
pub async fn publish(state: &AppState, ws: &Workspace, meta: &RequestMeta, id: &FlowId, version: Option<u32>) -> Result<Flow, ApiError> {
    ws.require(Action::FlowsPublish)?;
    let by = ws.principal().actor();
    let at = state.clock.now().to_rfc3339();
    match version {
        None => {
            let flow = modify(state, ws, id, |f| {
                let v = FlowVersion { flow_id: f.id.clone(), number: f.versions, doc: f.draft.clone(), published_by: by.clone(), published_at: at.clone() };
                vec![
                    TxWrite::Put { item: Item::of(version_key(ws.id(), id, f.versions), &v), condition: Condition::NotExists },
                    audit::entry(state, ws, meta, "flow.publish", &format!("{id}@v{}", f.versions)),
                ]
            }, |f| {
                validate(&f.draft)?;
                f.versions += 1;
                f.live_version = Some(f.versions);
                f.live = Some(f.draft.clone());
                Ok(())
            })
            .await?;
            Ok(flow)
        }
        Some(n) => {
            let old = load_version(state, ws.id(), id, n).await?;
            modify(state, ws, id, |_| vec![audit::entry(state, ws, meta, "flow.rollback", &format!("{id}@v{n}"))], |f| {
                f.live_version = Some(n);
                f.live = Some(old.doc.clone());
                Ok(())
            })
            .await
        }
    }
}

/// Stops new conversations from starting the flow; running ones finish on their version.
pub async fn unpublish(state: &AppState, ws: &Workspace, meta: &RequestMeta, id: &FlowId) -> Result<Flow, ApiError> {
    ws.require(Action::FlowsPublish)?;
    modify(state, ws, id, |_| vec![audit::entry(state, ws, meta, "flow.unpublish", id.as_str())], |f| {
        (f.live_version, f.live) = (None, None);
        Ok(())
    })
    .await
}

pub async fn delete(state: &AppState, ws: &Workspace, meta: &RequestMeta, id: &FlowId) -> Result<(), ApiError> {
    ws.require(Action::FlowsManage)?;
    load_item(state, ws.id(), id).await?;
    state.table.transact(vec![TxWrite::Delete { key: flow_key(ws.id(), id), condition: Condition::Exists }, audit::entry(state, ws, meta, "flow.delete", id.as_str())]).await?;
    Ok(())
}

pub async fn load_version(state: &AppState, ws: &WorkspaceId, id: &FlowId, version: u32) -> Result<FlowVersion, ApiError> {
    let item = state.table.get(&version_key(ws, id, version)).await?.ok_or_else(|| ApiError::NotFound(format!("flow {id} has no version {version}")))?;
    Ok(item.parse()?)
}

/// Published versions, newest first.
pub async fn versions(state: &AppState, ws: &Workspace, id: &FlowId) -> Result<Vec<FlowVersion>, ApiError> {
    ws.require(Action::WorkspaceRead)?;
    load_item(state, ws.id(), id).await?;
    let page = state.table.query(Query::partition(format!("WS#{}#FLOW#{id}#V", ws.id())).reverse().limit(200)).await?;
    page.items.iter().map(|i| i.parse().map_err(ApiError::from)).collect()
}
