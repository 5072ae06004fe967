//! The permission table: every workspace-scoped action and who may perform it, by member role and by
//! API key scope. Handlers name an `Action`; nothing else decides access.

use serde::Serialize;

use super::types::{Role, Scope};
use Role::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    WorkspaceRead,
    WorkspaceRename,
    MembersRead,
    MembersManage,
    ApiKeysManage,
    AuditRead,
    TriggersManage,
    SitesManage,
    SubscribersManage,
    NotificationsSend,
    MessagesSend,
    InboxReply,
    /// Provider credentials and WhatsApp channels.
    ChannelsManage,
    /// Bot flow drafts, the simulator.
    FlowsManage,
    /// Making a flow version live (or rolling back).
    FlowsPublish,
    /// Starting a flow for a contact through the API.
    FlowsStart,
    /// Captured answers and funnels (contact PII).
    FlowsData,
    /// Contacts (import, edit, GDPR erase) and audiences.
    ContactsManage,
    /// WhatsApp broadcasts: create, schedule, start, cancel.
    BroadcastsManage,
}

/// (action, roles allowed, API key scope allowed; `None` means API keys may not).
pub const PERMISSIONS: &[(Action, &[Role], Option<Scope>)] = &[
    (Action::WorkspaceRead, &[Owner, Admin, Editor, Agent, Viewer], Some(Scope::Read)),
    (Action::WorkspaceRename, &[Owner, Admin], None),
    (Action::MembersRead, &[Owner, Admin, Editor, Agent, Viewer], Some(Scope::Read)),
    (Action::MembersManage, &[Owner, Admin], None),
    (Action::ApiKeysManage, &[Owner, Admin], None),
    (Action::AuditRead, &[Owner, Admin], None),
    (Action::TriggersManage, &[Owner, Admin, Editor], Some(Scope::TriggersManage)),
    (Action::SitesManage, &[Owner, Admin, Editor], None),
    (Action::SubscribersManage, &[Owner, Admin, Editor], None),
    (Action::NotificationsSend, &[Owner, Admin, Editor], Some(Scope::NotificationsSend)),
    (Action::MessagesSend, &[Owner, Admin, Editor, Agent], Some(Scope::MessagesSend)),
    (Action::InboxReply, &[Owner, Admin, Editor, Agent], None),
    (Action::ChannelsManage, &[Owner, Admin], None),
    (Action::FlowsManage, &[Owner, Admin, Editor], None),
    (Action::FlowsPublish, &[Owner, Admin], None),
    (Action::FlowsStart, &[Owner, Admin, Editor], Some(Scope::MessagesSend)),
    (Action::FlowsData, &[Owner, Admin, Editor], None),
    (Action::ContactsManage, &[Owner, Admin, Editor], None),
    (Action::BroadcastsManage, &[Owner, Admin, Editor], None),
];

fn entry(action: Action) -> (&'static [Role], Option<Scope>) {
    PERMISSIONS.iter().find(|(a, _, _)| *a == action).map(|(_, r, s)| (*r, *s)).unwrap_or((&[], None))
}

pub fn role_may(role: Role, action: Action) -> bool {
    entry(action).0.contains(&role)
}

pub fn scopes_may(scopes: &[Scope], action: Action) -> bool {
    entry(action).1.is_some_and(|needed| scopes.contains(&needed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_consistent() {
        for (action, roles, _) in PERMISSIONS {
            assert!(roles.contains(&Owner), "{action:?}: owners can do everything");
            assert_eq!(PERMISSIONS.iter().filter(|(a, _, _)| a == action).count(), 1, "{action:?} listed twice");
        }
        assert!(!role_may(Viewer, Action::MembersManage));
        assert!(!role_may(Agent, Action::ApiKeysManage));
        assert!(role_may(Agent, Action::InboxReply));
        assert!(scopes_may(&[Scope::Read], Action::WorkspaceRead));
        assert!(!scopes_may(&[Scope::Read, Scope::NotificationsSend, Scope::MessagesSend, Scope::TriggersManage], Action::ApiKeysManage));
    }
}
