//! Saved audiences (`WS#<ws>#AUDIENCE` / id) and the count: the same `matches` over every contact as the
//! broadcast fan-out uses, paging through the contact partition.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::audience::{self, Audience, RuleSet};
use super::store;
use super::types::Contact;
use crate::auth::types::prefixed_id;
use crate::auth::{Action, Workspace, WorkspaceId};
use crate::http::ApiError;
use crate::ports::{Condition, Cursor, Item, Key, Query};
use crate::state::AppState;

prefixed_id!(AudienceId, "aud_", "audience");

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SavedAudience {
    pub id: AudienceId,
    pub name: String,
    pub rules: RuleSet,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewAudience {
    pub name: String,
    pub rules: RuleSet,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AudienceCount {
    /// Contacts the rules select.
    pub matching: u64,
    /// Of those, how many opted out (a broadcast skips them).
    pub opted_out: u64,
    /// Contacts in the workspace.
    pub total: u64,
}

fn key(ws: &WorkspaceId, id: &AudienceId) -> Key {
    Key::new(format!("WS#{ws}#AUDIENCE"), id.to_string())
}

fn check_name(raw: &str) -> Result<String, ApiError> {
    let n = raw.trim();
    (1..=100).contains(&n.chars().count()).then(|| n.to_owned()).ok_or_else(|| ApiError::Validation("name must be 1–100 characters".into()))
}

pub async fn create(state: &AppState, ws: &Workspace, req: NewAudience) -> Result<SavedAudience, ApiError> {
    ws.require(Action::ContactsManage)?;
    let name = check_name(&req.name)?;
    Audience::parse(&req.rules)?;
    let now = state.clock.now().to_rfc3339();
    let a = SavedAudience { id: AudienceId::new(state.clock.new_id()), name, rules: req.rules, created_at: now.clone(), updated_at: now };
    state.table.put(Item::of(key(ws.id(), &a.id), &a), Condition::NotExists).await?;
    Ok(a)
}

pub async fn update(state: &AppState, ws: &Workspace, id: &AudienceId, req: NewAudience) -> Result<SavedAudience, ApiError> {
    ws.require(Action::ContactsManage)?;
    let mut a = load(state, ws.id(), id).await?;
    Audience::parse(&req.rules)?;
    (a.name, a.rules, a.updated_at) = (check_name(&req.name)?, req.rules, state.clock.now().to_rfc3339());
    state.table.put(Item::of(key(ws.id(), id), &a), Condition::Exists).await?;
    Ok(a)
}

pub async fn load(state: &AppState, ws: &WorkspaceId, id: &AudienceId) -> Result<SavedAudience, ApiError> {
    state.table.get(&key(ws, id)).await?.ok_or_else(|| ApiError::NotFound(format!("no audience `{id}`")))?.parse().map_err(Into::into)
}

pub async fn list(state: &AppState, ws: &Workspace) -> Result<Vec<SavedAudience>, ApiError> {
    ws.require(Action::WorkspaceRead)?;
    let page = state.table.query(Query::partition(format!("WS#{}#AUDIENCE", ws.id())).reverse().limit(200)).await?;
    Ok(page.items.iter().map(Item::parse).collect::<Result<_, _>>()?)
}

pub async fn delete(state: &AppState, ws: &Workspace, id: &AudienceId) -> Result<(), ApiError> {
    ws.require(Action::ContactsManage)?;
    load(state, ws.id(), id).await?;
    state.table.delete(&key(ws.id(), id), Condition::None).await?;
    Ok(())
}

/// One page of contacts in number order with `opted_out` filled in, for counting and fan-out.
pub async fn contact_page(state: &AppState, ws: &WorkspaceId, after: Option<Cursor>, limit: u32, opted_out: &std::collections::HashSet<String>) -> Result<(Vec<Contact>, Option<Cursor>), ApiError> {
    let page = state.table.query(Query::partition(store::partition(ws)).limit(limit).after(after)).await?;
    let mut contacts = page.items.iter().map(Item::parse::<Contact>).collect::<Result<Vec<_>, _>>()?;
    for c in &mut contacts {
        c.opted_out = opted_out.contains(c.phone.as_str());
    }
    Ok((contacts, page.next))
}

/// How many contacts `rules` select now.
pub async fn count(state: &AppState, ws: &Workspace, rules: &RuleSet) -> Result<AudienceCount, ApiError> {
    ws.require(Action::WorkspaceRead)?;
    let a = Audience::parse(rules)?;
    let opted_out = store::opted_out_set(state, ws.id()).await?;
    let now = state.clock.now();
    let mut out = AudienceCount { matching: 0, opted_out: 0, total: 0 };
    let mut after = None;
    loop {
        let (contacts, next) = contact_page(state, ws.id(), after, 500, &opted_out).await?;
        for c in &contacts {
            out.total += 1;
            if audience::matches(&a, c, now) {
                out.matching += 1;
                out.opted_out += u64::from(c.opted_out);
            }
        }
        match next {
            Some(n) => after = Some(n),
            None => return Ok(out),
        }
    }
}
