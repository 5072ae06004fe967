//! Workspaces and their members. The workspace item's version serialises every membership change, and
//! it counts owners, so the last owner can never be removed or demoted, even by concurrent requests.
//!
//! Items: `WS#<id>`/`META` {name, owners}; `WS#<id>`/`MEMBER#<user>` {role, email} indexed on
//! gsi1 `USER#<user>#WS` so a user's workspaces are one query.

use serde::{Deserialize, Serialize};

use super::audit;
use super::branding::{Branding, BrandingPatch};
use crate::auth::{accounts, member_key, Action, Principal, RequestMeta, Role, UserId, Workspace, WorkspaceId};
use crate::http::ApiError;
use crate::ports::{Condition, Item, Key, Query, TableError, TxWrite};
use crate::state::AppState;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WorkspaceMeta {
    pub name: String,
    pub owners: i64,
    pub created_at: String,
    pub created_by: String,
    /// An IANA zone (`Europe/Berlin`): business hours in bot flows are read in it. UTC when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
    /// Accent colour and logo for the dashboard; default theme when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branding: Option<Branding>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct Member {
    pub user_id: UserId,
    pub email: String,
    pub role: Role,
    pub joined_at: String,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct WorkspaceView {
    pub id: WorkspaceId,
    pub name: String,
    pub role: Option<Role>,
    pub created_at: String,
    /// An IANA time zone name; absent means UTC.
    pub time_zone: Option<String>,
    /// The dashboard theme; empty (`{}`) means the product default.
    pub branding: Branding,
}

impl WorkspaceView {
    fn of(id: WorkspaceId, m: WorkspaceMeta, role: Option<Role>) -> Self {
        Self { id, name: m.name, role, created_at: m.created_at, time_zone: m.time_zone, branding: m.branding.unwrap_or_default() }
    }
}

/// An IANA time zone name, checked against the tz database (`Europe/Berlin`, `America/New_York`, `UTC`).
pub fn parse_time_zone(raw: &str) -> Result<chrono_tz::Tz, ApiError> {
    raw.trim().parse::<chrono_tz::Tz>().map_err(|_| ApiError::Validation(format!("`{}` is not a time zone; use a name like Europe/Berlin", raw.chars().take(60).collect::<String>())))
}

/// The workspace's time zone (UTC when unset or unreadable).
pub async fn time_zone(state: &AppState, ws: &WorkspaceId) -> Result<chrono_tz::Tz, ApiError> {
    let (m, _) = load_meta(state, ws).await?;
    Ok(m.time_zone.as_deref().and_then(|t| t.parse().ok()).unwrap_or(chrono_tz::Tz::UTC))
}

pub fn meta_key(id: &WorkspaceId) -> Key {
    Key::new(format!("WS#{id}"), "META")
}

pub fn parse_name(raw: &str) -> Result<String, ApiError> {
    let name = raw.trim();
    if name.is_empty() || name.chars().count() > 80 || name.chars().any(char::is_control) {
        return Err(ApiError::Validation("workspace name must be 1–80 printable characters".into()));
    }
    Ok(name.to_owned())
}

pub(crate) fn member_item(ws: &WorkspaceId, member: &Member) -> Item {
    Item::of(member_key(ws, &member.user_id), member).with_gsi1(format!("USER#{}#WS", member.user_id), ws.as_str()).with_version(1)
}

/// Reads the workspace item (with its version) behind an opened workspace.
pub async fn load_meta(state: &AppState, ws: &WorkspaceId) -> Result<(WorkspaceMeta, u64), ApiError> {
    let item = state.table.get(&meta_key(ws)).await?.ok_or_else(|| ApiError::NotFound("no such workspace".into()))?;
    Ok((item.parse()?, item.version))
}

fn meta_write(ws: &WorkspaceId, meta: &WorkspaceMeta, version: u64) -> TxWrite {
    TxWrite::Put { item: Item::of(meta_key(ws), meta).with_version(version + 1), condition: Condition::VersionIs(version) }
}

fn busy(e: TableError) -> ApiError {
    match e {
        TableError::TransactionCancelled { .. } => ApiError::Conflict("the workspace changed meanwhile; retry".into()),
        e => e.into(),
    }
}

pub async fn create(state: &AppState, principal: &Principal, meta: &RequestMeta, name: &str) -> Result<WorkspaceView, ApiError> {
    let (user, _) = principal.user()?;
    let name = parse_name(name)?;
    let profile = accounts::load_profile(state, user).await?;
    let id = WorkspaceId::new(state.clock.new_id());
    let now = state.clock.now().to_rfc3339();
    let ws_meta = WorkspaceMeta { name: name.clone(), owners: 1, created_at: now.clone(), created_by: user.to_string(), time_zone: None, branding: None };
    let owner = Member { user_id: user.clone(), email: profile.email.to_string(), role: Role::Owner, joined_at: now.clone() };
    let ws = crate::auth::principal::trusted_workspace(id.clone(), principal.clone(), Some(Role::Owner));
    state
        .table
        .transact(vec![
            TxWrite::Put { item: Item::of(meta_key(&id), &ws_meta).with_version(1), condition: Condition::NotExists },
            TxWrite::Put { item: member_item(&id, &owner), condition: Condition::NotExists },
            audit::entry(state, &ws, meta, "workspace.create", id.as_str()),
        ])
        .await?;
    Ok(WorkspaceView::of(id, ws_meta, Some(Role::Owner)))
}

/// What a workspace update may change; absent fields stay as they are.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct WorkspacePatch {
    pub name: Option<String>,
    /// An IANA time zone (`Europe/Berlin`); `""` resets it to UTC.
    pub time_zone: Option<String>,
    /// Accent colour and/or logo; a `""` field resets that part to the default.
    pub branding: Option<BrandingPatch>,
}

/// Renames the workspace, sets its time zone (an empty `time_zone` clears it back to UTC) and/or its branding.
pub async fn update(state: &AppState, ws: &Workspace, meta: &RequestMeta, patch: &WorkspacePatch) -> Result<WorkspaceView, ApiError> {
    ws.require(Action::WorkspaceRename)?;
    let name = patch.name.as_deref().map(parse_name).transpose()?;
    let time_zone = patch.time_zone.as_deref().map(|t| if t.trim().is_empty() { Ok(None) } else { parse_time_zone(t).map(|z| Some(z.name().to_owned())) }).transpose()?;
    let action = if time_zone.is_some() || patch.branding.is_some() { "workspace.update" } else { "workspace.rename" };
    let (mut ws_meta, version) = load_meta(state, ws.id()).await?;
    if let Some(b) = &patch.branding {
        ws_meta.branding = ws_meta.branding.take().unwrap_or_default().apply(b)?;
    }
    if let Some(name) = name {
        ws_meta.name = name;
    }
    if let Some(tz) = time_zone {
        ws_meta.time_zone = tz;
    }
    state.table.transact(vec![meta_write(ws.id(), &ws_meta, version), audit::entry(state, ws, meta, action, ws.id().as_str())]).await.map_err(busy)?;
    Ok(WorkspaceView::of(ws.id().clone(), ws_meta, ws.role()))
}

pub async fn get(state: &AppState, ws: &Workspace) -> Result<WorkspaceView, ApiError> {
    ws.require(Action::WorkspaceRead)?;
    let (m, _) = load_meta(state, ws.id()).await?;
    Ok(WorkspaceView::of(ws.id().clone(), m, ws.role()))
}

/// The caller's workspaces (at most 200), oldest first.
pub async fn list_mine(state: &AppState, principal: &Principal) -> Result<Vec<WorkspaceView>, ApiError> {
    let (user, _) = principal.user()?;
    let page = state.table.query(Query::gsi1(format!("USER#{user}#WS")).limit(200)).await?;
    let lookups = page.items.iter().map(|item| async move {
        let member: Member = item.parse()?;
        let id = WorkspaceId::parse(item.key.pk.trim_start_matches("WS#"))?;
        let (m, _) = load_meta(state, &id).await?;
        Ok::<_, ApiError>(WorkspaceView::of(id, m, Some(member.role)))
    });
    futures_util::future::join_all(lookups).await.into_iter().collect()
}

pub async fn list_members(state: &AppState, ws: &Workspace) -> Result<Vec<Member>, ApiError> {
    ws.require(Action::MembersRead)?;
    let page = state.table.query(Query::partition(ws.pk()).prefix("MEMBER#").limit(1000)).await?;
    page.items.iter().map(|i| i.parse().map_err(ApiError::from)).collect()
}

async fn load_member(state: &AppState, ws: &Workspace, user: &UserId) -> Result<(Member, u64), ApiError> {
    let item = state.table.get(&member_key(ws.id(), user)).await?.ok_or_else(|| ApiError::NotFound("no such member".into()))?;
    Ok((item.parse()?, item.version))
}

/// Only owners may grant, change or remove the owner role.
fn check_owner_rule(ws: &Workspace, touches_owner: bool) -> Result<(), ApiError> {
    if touches_owner && ws.role() != Some(Role::Owner) {
        return Err(ApiError::Forbidden);
    }
    Ok(())
}

pub async fn change_role(state: &AppState, ws: &Workspace, meta: &RequestMeta, user: &UserId, role: Role) -> Result<Member, ApiError> {
    ws.require(Action::MembersManage)?;
    let (mut member, member_version) = load_member(state, ws, user).await?;
    check_owner_rule(ws, member.role == Role::Owner || role == Role::Owner)?;
    if member.role == role {
        return Ok(member);
    }
    let (mut ws_meta, version) = load_meta(state, ws.id()).await?;
    ws_meta.owners += i64::from(role == Role::Owner) - i64::from(member.role == Role::Owner);
    if ws_meta.owners < 1 {
        return Err(ApiError::Conflict("a workspace needs at least one owner".into()));
    }
    member.role = role;
    let item = member_item(ws.id(), &member).with_version(member_version + 1);
    state
        .table
        .transact(vec![
            meta_write(ws.id(), &ws_meta, version),
            TxWrite::Put { item, condition: Condition::VersionIs(member_version) },
            audit::entry(state, ws, meta, &format!("member.role.{}", serde_json::to_value(role).unwrap_or_default().as_str().unwrap_or("?")), user.as_str()),
        ])
        .await
        .map_err(busy)?;
    Ok(member)
}

pub async fn remove(state: &AppState, ws: &Workspace, meta: &RequestMeta, user: &UserId) -> Result<(), ApiError> {
    let leaving_self = ws.principal().user().is_ok_and(|(me, _)| me == user);
    if !leaving_self {
        ws.require(Action::MembersManage)?;
    }
    let (member, member_version) = load_member(state, ws, user).await?;
    check_owner_rule(ws, member.role == Role::Owner && !leaving_self)?;
    let (mut ws_meta, version) = load_meta(state, ws.id()).await?;
    if member.role == Role::Owner {
        ws_meta.owners -= 1;
        if ws_meta.owners < 1 {
            return Err(ApiError::Conflict("the last owner cannot be removed; make someone else owner first".into()));
        }
    }
    state
        .table
        .transact(vec![
            meta_write(ws.id(), &ws_meta, version),
            TxWrite::Delete { key: member_key(ws.id(), user), condition: Condition::VersionIs(member_version) },
            audit::entry(state, ws, meta, "member.remove", user.as_str()),
        ])
        .await
        .map_err(busy)
}
