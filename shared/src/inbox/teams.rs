//! Teams of members and agent availability: conversations can be assigned to a team, and round-robin
//! picks the next available member of it (or of the workspace's agents) in turn.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::types::prefixed_id;
use crate::auth::{Action, Role, Workspace, WorkspaceId};
use crate::http::ApiError;
use crate::ports::{Condition, Item, Key, Query};
use crate::state::AppState;
use crate::workspaces::members::Member;

prefixed_id!(TeamId, "team_", "team");

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct Team {
    pub id: TeamId,
    pub name: String,
    /// Member user ids.
    pub members: Vec<String>,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct TeamInput {
    pub name: String,
    #[serde(default)]
    pub members: Vec<String>,
}

/// Whether a member takes new conversations from round-robin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, Default)]
#[serde(rename_all = "lowercase")]
pub enum Availability {
    /// The default: members who never set it take their turn.
    #[default]
    Online,
    Away,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct AvailabilityInput {
    pub availability: Availability,
}

/// A member as the inbox shows them: for the assignee picker and the team editor.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Agent {
    pub user_id: String,
    pub email: String,
    pub role: Role,
    pub availability: Availability,
    /// Can answer conversations (everyone but viewers).
    pub can_reply: bool,
}

fn team_key(ws: &WorkspaceId, id: &TeamId) -> Key {
    Key::new(format!("WS#{ws}#TEAM"), id.to_string())
}

fn availability_key(ws: &WorkspaceId, user: &str) -> Key {
    Key::new(format!("WS#{ws}#AVAIL"), user.to_owned())
}

fn turn_key(ws: &WorkspaceId, team: Option<&TeamId>) -> Key {
    Key::new(format!("WS#{ws}#ROUNDROBIN"), team.map_or("INBOX".to_owned(), |t| t.to_string()))
}

/// The `turn`-th (1-based, ever increasing) of the candidates, sorted so every caller agrees on the order.
pub fn pick_in_turn(mut candidates: Vec<String>, turn: i64) -> Option<String> {
    candidates.sort();
    candidates.dedup();
    let n = candidates.len();
    (n > 0).then(|| candidates.swap_remove(((turn - 1).max(0) as usize) % n))
}

/// A name of 1–60 characters and members who belong to the workspace and can answer conversations.
fn parse_input(input: TeamInput, members: &[Member]) -> Result<(String, Vec<String>), ApiError> {
    let name = input.name.trim();
    if name.is_empty() || name.chars().count() > 60 {
        return Err(ApiError::Validation("a team name is 1–60 characters".into()));
    }
    let mut ids = input.members;
    ids.sort();
    ids.dedup();
    if let Some(bad) = ids.iter().find(|u| !members.iter().any(|m| m.user_id.as_str() == u.as_str() && m.role != Role::Viewer)) {
        return Err(ApiError::Validation(format!("`{}` is not a member who can answer conversations", bad.chars().take(40).collect::<String>())));
    }
    Ok((name.to_owned(), ids))
}

pub async fn list(state: &AppState, ws: &Workspace) -> Result<Vec<Team>, ApiError> {
    ws.require(Action::WorkspaceRead)?;
    let page = state.table.query(Query::partition(format!("WS#{}#TEAM", ws.id())).limit(200)).await?;
    let mut teams = page.items.iter().map(Item::parse::<Team>).collect::<Result<Vec<_>, _>>()?;
    teams.sort_by_key(|t| t.name.to_lowercase());
    Ok(teams)
}

pub async fn load(state: &AppState, ws: &WorkspaceId, id: &TeamId) -> Result<Team, ApiError> {
    state.table.get(&team_key(ws, id)).await?.ok_or_else(|| ApiError::NotFound(format!("no team `{id}`")))?.parse().map_err(Into::into)
}

pub async fn create(state: &AppState, ws: &Workspace, input: TeamInput) -> Result<Team, ApiError> {
    ws.require(Action::MembersManage)?;
    let (name, members) = parse_input(input, &crate::workspaces::members::list_members(state, ws).await?)?;
    let now = state.clock.now().to_rfc3339();
    let team = Team { id: TeamId::new(state.clock.new_id()), name, members, created_at: now.clone(), updated_at: now };
    state.table.put(Item::of(team_key(ws.id(), &team.id), &team), Condition::NotExists).await?;
    Ok(team)
}

pub async fn update(state: &AppState, ws: &Workspace, id: &TeamId, input: TeamInput) -> Result<Team, ApiError> {
    ws.require(Action::MembersManage)?;
    let mut team = load(state, ws.id(), id).await?;
    (team.name, team.members) = parse_input(input, &crate::workspaces::members::list_members(state, ws).await?)?;
    team.updated_at = state.clock.now().to_rfc3339();
    state.table.put(Item::of(team_key(ws.id(), id), &team), Condition::Exists).await?;
    Ok(team)
}

pub async fn delete(state: &AppState, ws: &Workspace, id: &TeamId) -> Result<(), ApiError> {
    ws.require(Action::MembersManage)?;
    load(state, ws.id(), id).await?;
    state.table.delete(&team_key(ws.id(), id), Condition::None).await?;
    Ok(())
}

async fn availability_of(state: &AppState, ws: &WorkspaceId, user: &str) -> Result<Availability, ApiError> {
    Ok(match state.table.get(&availability_key(ws, user)).await? {
        Some(item) => item.attrs.get("availability").cloned().map(serde_json::from_value).transpose().map_err(|e| ApiError::Internal(e.to_string()))?.unwrap_or_default(),
        None => Availability::Online,
    })
}

/// Members with their availability, for the picker.
pub async fn agents(state: &AppState, ws: &Workspace) -> Result<Vec<Agent>, ApiError> {
    ws.require(Action::WorkspaceRead)?;
    let mut out = Vec::new();
    for m in crate::workspaces::members::list_members(state, ws).await? {
        let availability = availability_of(state, ws.id(), m.user_id.as_str()).await?;
        out.push(Agent { user_id: m.user_id.to_string(), email: m.email, role: m.role, availability, can_reply: m.role != Role::Viewer });
    }
    Ok(out)
}

/// Sets the caller's own availability.
pub async fn set_availability(state: &AppState, ws: &Workspace, availability: Availability) -> Result<Agent, ApiError> {
    ws.require(Action::InboxReply)?;
    let me = ws.principal().user()?.0.to_string();
    state.table.put(Item::new(availability_key(ws.id(), &me)).with_attr("availability", serde_json::to_value(availability).unwrap_or_default()), Condition::None).await?;
    agents(state, ws).await?.into_iter().find(|a| a.user_id == me).ok_or_else(|| ApiError::NotFound("not a member".into()))
}

/// The next available member in turn: of `team` if given, else of the workspace's agents (or, with no
/// agents, of everyone who can reply). `None` when nobody is available: the conversation waits unassigned.
pub async fn next_in_turn(state: &AppState, ws: &Workspace, team: Option<&TeamId>) -> Result<Option<String>, ApiError> {
    let members = crate::workspaces::members::list_members(state, ws).await?;
    let can_reply = |u: &str| members.iter().any(|m| m.user_id.as_str() == u && m.role != Role::Viewer);
    let pool: Vec<String> = match team {
        Some(t) => load(state, ws.id(), t).await?.members.into_iter().filter(|u| can_reply(u)).collect(),
        None => {
            let agents: Vec<String> = members.iter().filter(|m| m.role == Role::Agent).map(|m| m.user_id.to_string()).collect();
            if agents.is_empty() { members.iter().filter(|m| m.role != Role::Viewer).map(|m| m.user_id.to_string()).collect() } else { agents }
        }
    };
    let mut available = Vec::new();
    for u in pool {
        if availability_of(state, ws.id(), &u).await? == Availability::Online {
            available.push(u);
        }
    }
    if available.is_empty() {
        return Ok(None);
    }
    let turn = state.table.add(&turn_key(ws.id(), team), &[("turn", 1)]).await?.first().copied().unwrap_or(1);
    Ok(pick_in_turn(available, turn))
}

#[cfg(test)]
mod tests {
    use super::pick_in_turn;

    #[test]
    fn turns_go_round_in_a_stable_order() {
        let pool = || vec!["usr_b".to_owned(), "usr_a".to_owned(), "usr_c".to_owned()];
        let picks: Vec<_> = (1..=4).map(|t| pick_in_turn(pool(), t).unwrap()).collect();
        assert_eq!(picks, ["usr_a", "usr_b", "usr_c", "usr_a"]);
        assert_eq!(pick_in_turn(vec![], 3), None);
    }
}
