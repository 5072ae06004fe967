//! Invitations: a member with `MembersManage` invites an email with a role; the one-time token travels in
//! the link, which is emailed when a mail relay is configured and always shown to the inviter. Accepting needs a logged-in user with
//! that email. Tokens are stored hashed and expire after 7 days.
//!
//! Items: `WS#<id>`/`INVITE#<invite>` and pointer `INVITETOKEN#<sha256>`/`INVITE`, both with TTL.

use serde::{Deserialize, Serialize};

use super::audit;
use super::members::{load_meta, member_item, Member};
use crate::auth::principal::trusted_workspace;
use crate::auth::tokens::{opaque_token, token_hash};
use crate::auth::{accounts, member_key, Action, Email, InviteId, Principal, RequestMeta, Role, Workspace, WorkspaceId};
use crate::http::ApiError;
use crate::ports::{Condition, Item, Key, Query, TableError, TxWrite};
use crate::state::AppState;

pub const INVITE_TTL_SECS: i64 = 7 * 24 * 3600;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct Invite {
    pub id: InviteId,
    pub email: Email,
    pub role: Role,
    pub invited_by: String,
    pub created_at: String,
    pub expires_at: i64,
    #[serde(skip_serializing, default)]
    #[schema(ignore)]
    token_hash: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CreatedInvite {
    #[serde(flatten)]
    pub invite: Invite,
    /// Path the invitee opens; the token is in the fragment so it never reaches server logs.
    pub accept_path: String,
    /// True when the link was emailed to the invitee; false: share `accept_path` by hand.
    pub emailed: bool,
}

fn invite_key(ws: &WorkspaceId, id: &InviteId) -> Key {
    Key::new(format!("WS#{ws}"), format!("INVITE#{id}"))
}

fn token_key(hash: &str) -> Key {
    Key::new(format!("INVITETOKEN#{hash}"), "INVITE")
}

fn stored(key: Key, invite: &Invite) -> Item {
    let mut item = Item::of(key, invite).with_expiry(invite.expires_at);
    item.attrs.insert("token_hash".into(), invite.token_hash.clone().into());
    item
}

pub async fn create(state: &AppState, ws: &Workspace, meta: &RequestMeta, email: &str, role: Role) -> Result<CreatedInvite, ApiError> {
    ws.require(Action::MembersManage)?;
    if role == Role::Owner && ws.role() != Some(Role::Owner) {
        return Err(ApiError::Forbidden);
    }
    let email = Email::parse(email)?;
    let token = opaque_token("inv_");
    let invite = Invite {
        id: InviteId::new(state.clock.new_id()),
        email,
        role,
        invited_by: ws.principal().actor(),
        created_at: state.clock.now().to_rfc3339(),
        expires_at: state.clock.epoch_seconds() + INVITE_TTL_SECS,
        token_hash: token_hash(&token),
    };
    let record = stored(invite_key(ws.id(), &invite.id), &invite);
    let pointer = Item::new(token_key(&invite.token_hash))
        .with_attr("workspace", ws.id().as_str())
        .with_attr("invite", invite.id.as_str())
        .with_expiry(invite.expires_at);
    state
        .table
        .transact(vec![
            TxWrite::Put { item: record, condition: Condition::NotExists },
            TxWrite::Put { item: pointer, condition: Condition::NotExists },
            audit::entry(state, ws, meta, "invite.create", invite.email.as_str()),
        ])
        .await?;
    let accept_path = format!("/accept-invite#token={token}");
    let emailed = email_invite(state, ws, &invite, &accept_path).await;
    Ok(CreatedInvite { accept_path, invite, emailed })
}

/// Emails the invite link; a relay failure is logged and leaves the link to be shared by hand.
async fn email_invite(state: &AppState, ws: &Workspace, invite: &Invite, accept_path: &str) -> bool {
    let Some(mail) = &state.mail else { return false };
    let workspace = load_meta(state, ws.id()).await.map(|(m, _)| m.name).unwrap_or_else(|_| "a workspace".into());
    let inviter = match ws.principal().user() {
        Ok((user, _)) => accounts::load_profile(state, user).await.map(|p| p.email.to_string()).unwrap_or_else(|_| "A teammate".into()),
        Err(_) => "A teammate".into(),
    };
    let role = serde_json::to_value(invite.role).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
    let message = crate::auth::mailer::Mail {
        to: invite.email.clone(),
        subject: format!("You're invited to {workspace} on WebTrigger"),
        text: format!(
            "{} invited you to join \"{workspace}\" on WebTrigger as {role}.\n\nAccept within 7 days (sign up or log in with this email address):\n{}\n",
            inviter, mail.link(accept_path)
        ),
    };
    match mail.mailer.send(&message).await {
        Ok(()) => true,
        Err(e) => {
            tracing::warn!(error = %e, "invite email not sent");
            false
        }
    }
}

pub async fn list(state: &AppState, ws: &Workspace) -> Result<Vec<Invite>, ApiError> {
    ws.require(Action::MembersManage)?;
    let page = state.table.query(Query::partition(ws.pk()).prefix("INVITE#").limit(500)).await?;
    page.items.iter().map(|i| i.parse().map_err(ApiError::from)).collect()
}

pub async fn revoke(state: &AppState, ws: &Workspace, meta: &RequestMeta, id: &InviteId) -> Result<(), ApiError> {
    ws.require(Action::MembersManage)?;
    let item = state.table.get(&invite_key(ws.id(), id)).await?.ok_or_else(|| ApiError::NotFound("no such invite".into()))?;
    let invite: Invite = item.parse()?;
    state
        .table
        .transact(vec![
            TxWrite::Delete { key: invite_key(ws.id(), id), condition: Condition::Exists },
            TxWrite::Delete { key: token_key(&invite.token_hash), condition: Condition::None },
            audit::entry(state, ws, meta, "invite.revoke", invite.email.as_str()),
        ])
        .await
        .map_err(ApiError::from)
}

/// Joins the invite's workspace as the logged-in user, if the invite was addressed to their email.
pub async fn accept(state: &AppState, principal: &Principal, meta: &RequestMeta, token: &str) -> Result<Member, ApiError> {
    let (user, _) = principal.user()?;
    let gone = || ApiError::NotFound("this invite is invalid, expired or already used".into());
    let pointer = state.table.get(&token_key(&token_hash(token.trim()))).await?.ok_or_else(gone)?;
    let ws_id = pointer.attrs.get("workspace").and_then(|v| v.as_str()).map(WorkspaceId::parse).ok_or_else(gone)??;
    let invite_id = pointer.attrs.get("invite").and_then(|v| v.as_str()).map(InviteId::parse).ok_or_else(gone)??;
    let invite: Invite = state.table.get(&invite_key(&ws_id, &invite_id)).await?.ok_or_else(gone)?.parse()?;
    let profile = accounts::load_profile(state, user).await?;
    if profile.email != invite.email {
        return Err(ApiError::Validation("this invite was sent to a different email address".into()));
    }
    let (mut ws_meta, version) = load_meta(state, &ws_id).await?;
    ws_meta.owners += i64::from(invite.role == Role::Owner);
    let member = Member { user_id: user.clone(), email: profile.email.to_string(), role: invite.role, joined_at: state.clock.now().to_rfc3339() };
    let ws = trusted_workspace(ws_id.clone(), principal.clone(), Some(invite.role));
    let writes = vec![
        TxWrite::Put { item: member_item(&ws_id, &member), condition: Condition::NotExists },
        TxWrite::Put { item: Item::of(super::members::meta_key(&ws_id), &ws_meta).with_version(version + 1), condition: Condition::VersionIs(version) },
        TxWrite::Delete { key: invite_key(&ws_id, &invite_id), condition: Condition::Exists },
        TxWrite::Delete { key: token_key(&invite.token_hash), condition: Condition::Exists },
        audit::entry(state, &ws, meta, "invite.accept", invite.email.as_str()),
    ];
    match state.table.transact(writes).await {
        Ok(()) => Ok(member),
        Err(TableError::TransactionCancelled { index: 0 }) => {
            if state.table.get(&member_key(&ws_id, user)).await?.is_some() {
                Err(ApiError::Conflict("you are already a member of this workspace".into()))
            } else {
                Err(ApiError::Conflict("the workspace changed meanwhile; retry".into()))
            }
        }
        Err(TableError::TransactionCancelled { .. }) => Err(gone()),
        Err(e) => Err(e.into()),
    }
}
