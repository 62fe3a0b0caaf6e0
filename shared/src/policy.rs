//! Who among a firm's staff may do what: roles, their permissions, and [`decide`], the one
//! function every staff surface (console pages, console forms, the JSON API) asks before it
//! acts. Nothing else in the system compares roles or permissions.
//!
//! A role grants per [`Area`] any of the [`Action`]s; for the areas that hold clients' work
//! ([`Area::scoped`]) it also sets a [`Scope`]: every client of the firm, or only the clients
//! assigned to the member. Three roles are built in ([`BuiltinRole`]); firms add their own.
//! An API key acts for the member who made it, with the key's own role, and never beyond the
//! member's current role ([`Actor::new`] takes the overlap of both).

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::ids::MemberId;

/// A part of the firm's work or settings that a role grants actions on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Area {
    Contacts,
    Accounts,
    Tasks,
    Signing,
    Conversations,
    Invoices,
    PortalSettings,
    ClientPermissions,
    Team,
    Roles,
    ApiKeys,
}

impl Area {
    pub const ALL: [Area; 11] = [
        Area::Contacts,
        Area::Accounts,
        Area::Tasks,
        Area::Signing,
        Area::Conversations,
        Area::Invoices,
        Area::PortalSettings,
        Area::ClientPermissions,
        Area::Team,
        Area::Roles,
        Area::ApiKeys,
    ];

    /// Areas whose grants carry a [`Scope`]: they hold work done for particular clients.
    pub fn scoped(self) -> bool {
        matches!(
            self,
            Area::Contacts | Area::Tasks | Area::Signing | Area::Conversations
        )
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Area::Contacts => "contacts",
            Area::Accounts => "accounts",
            Area::Tasks => "tasks",
            Area::Signing => "signing",
            Area::Conversations => "conversations",
            Area::Invoices => "invoices",
            Area::PortalSettings => "portal_settings",
            Area::ClientPermissions => "client_permissions",
            Area::Team => "team",
            Area::Roles => "roles",
            Area::ApiKeys => "api_keys",
        }
    }

    pub fn parse(text: &str) -> Option<Area> {
        Area::ALL.into_iter().find(|a| a.as_str() == text)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    View,
    Create,
    Edit,
    Delete,
}

impl Action {
    pub const ALL: [Action; 4] = [Action::View, Action::Create, Action::Edit, Action::Delete];

    pub fn as_str(self) -> &'static str {
        match self {
            Action::View => "view",
            Action::Create => "create",
            Action::Edit => "edit",
            Action::Delete => "delete",
        }
    }

    pub fn parse(text: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|a| a.as_str() == text)
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

/// Whose clients a grant reaches.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    #[default]
    All,
    /// Only the clients assigned to the member.
    Assigned,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::All => "all",
            Scope::Assigned => "assigned",
        }
    }

    /// Whether this scope reaches at least as far as `other`.
    fn covers(self, other: Scope) -> bool {
        self == Scope::All || other == Scope::Assigned
    }
}

/// What a role grants in one area.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Grant {
    pub actions: Vec<Action>,
    #[serde(default)]
    pub scope: Scope,
}

/// What a role grants, per area; an area left out grants nothing. Kept as a set of action
/// bits and a scope per area, whatever order or repetition the input had.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Permissions {
    grants: BTreeMap<Area, (u8, Scope)>,
}

/// Why a set of permissions cannot be a role's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PermissionsError {
    #[error("{0}: only contacts, tasks, signing and conversations take a scope")]
    ScopeNotAllowed(&'static str),
}

impl Permissions {
    /// Everything, everywhere: the Owner's and the Co-owner's.
    pub fn everything() -> Permissions {
        let mut p = Permissions::default();
        for area in Area::ALL {
            p.grants.insert(area, (0b1111, Scope::All));
        }
        p
    }

    /// Builds permissions from grants as the API and the console send them; a scope of
    /// `assigned` on an area without clients is refused, an empty action list grants nothing.
    pub fn from_grants(grants: BTreeMap<Area, Grant>) -> Result<Permissions, PermissionsError> {
        let mut p = Permissions::default();
        for (area, grant) in grants {
            if grant.scope == Scope::Assigned && !area.scoped() {
                return Err(PermissionsError::ScopeNotAllowed(area.as_str()));
            }
            let bits = grant.actions.iter().fold(0, |bits, a| bits | a.bit());
            if bits != 0 {
                p.grants.insert(area, (bits, grant.scope));
            }
        }
        Ok(p)
    }

    /// The grants, in the shape the API and the database use.
    pub fn to_grants(&self) -> BTreeMap<Area, Grant> {
        self.grants
            .iter()
            .map(|(&area, &(bits, scope))| {
                let actions = Action::ALL
                    .into_iter()
                    .filter(|a| bits & a.bit() != 0)
                    .collect();
                (area, Grant { actions, scope })
            })
            .collect()
    }

    /// Adds `actions` on `area` with `scope`.
    pub fn with(mut self, area: Area, actions: &[Action], scope: Scope) -> Permissions {
        let bits = actions.iter().fold(0, |bits, a| bits | a.bit());
        let scope = if area.scoped() { scope } else { Scope::All };
        self.grants.insert(area, (bits, scope));
        self
    }

    /// The scope of `action` on `area`, if granted.
    pub fn reach(&self, area: Area, action: Action) -> Option<Scope> {
        self.grants
            .get(&area)
            .filter(|(bits, _)| bits & action.bit() != 0)
            .map(|&(_, scope)| scope)
    }

    /// Whether everything these permissions grant, `other` grants too, as far.
    pub fn within(&self, other: &Permissions) -> bool {
        self.grants.iter().all(|(area, &(bits, scope))| {
            other
                .grants
                .get(area)
                .is_some_and(|&(held, held_scope)| bits & !held == 0 && held_scope.covers(scope))
        })
    }

    /// What both grant: per area the shared actions, with the narrower scope.
    pub fn overlap(&self, other: &Permissions) -> Permissions {
        let grants = self
            .grants
            .iter()
            .filter_map(|(area, &(bits, scope))| {
                let &(other_bits, other_scope) = other.grants.get(area)?;
                let both = bits & other_bits;
                let narrower = if scope == Scope::All {
                    other_scope
                } else {
                    scope
                };
                (both != 0).then_some((*area, (both, narrower)))
            })
            .collect();
        Permissions { grants }
    }

    /// As stored in the database: the JSON of [`to_grants`](Self::to_grants).
    pub fn to_json(&self) -> String {
        serde_json::to_string(&self.to_grants()).expect("grants serialize")
    }

    /// Reads what [`to_json`](Self::to_json) wrote. Unreadable text grants nothing: a role
    /// the code cannot understand must not open anything.
    pub fn from_json(text: &str) -> Permissions {
        serde_json::from_str(text)
            .ok()
            .and_then(|grants| Permissions::from_grants(grants).ok())
            .unwrap_or_default()
    }
}

impl fmt::Debug for Permissions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_json())
    }
}

/// The roles every firm has; they cannot be edited or deleted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BuiltinRole {
    /// Exactly one per firm; the only one who may transfer ownership.
    Owner,
    /// Everything the Owner may do, except transferring ownership.
    CoOwner,
    /// Day-to-day work for the clients assigned to them.
    Team,
}

impl BuiltinRole {
    pub const ALL: [BuiltinRole; 3] = [BuiltinRole::Owner, BuiltinRole::CoOwner, BuiltinRole::Team];

    /// The role's id, the same in every firm.
    pub fn id(self) -> &'static str {
        match self {
            BuiltinRole::Owner => "owner",
            BuiltinRole::CoOwner => "co_owner",
            BuiltinRole::Team => "team",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            BuiltinRole::Owner => "Owner",
            BuiltinRole::CoOwner => "Co-owner",
            BuiltinRole::Team => "Team member",
        }
    }

    pub fn parse(id: &str) -> Option<BuiltinRole> {
        BuiltinRole::ALL.into_iter().find(|r| r.id() == id)
    }

    pub fn permissions(self) -> Permissions {
        match self {
            BuiltinRole::Owner | BuiltinRole::CoOwner => Permissions::everything(),
            BuiltinRole::Team => {
                let work = [Action::View, Action::Create, Action::Edit];
                Permissions::default()
                    .with(Area::Contacts, &work, Scope::Assigned)
                    .with(Area::Tasks, &work, Scope::Assigned)
                    .with(Area::Signing, &work, Scope::Assigned)
                    .with(Area::Conversations, &work, Scope::Assigned)
                    .with(Area::Invoices, &[Action::View], Scope::All)
            }
        }
    }

    pub fn role(self) -> Role {
        Role {
            id: self.id().to_string(),
            name: self.name().to_string(),
            builtin: true,
            permissions: self.permissions(),
        }
    }
}

/// A role as members, invitations and API keys hold it: built in, or one of the firm's own.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Role {
    /// `owner`, `co_owner`, `team`, or a custom role's id (`rl_…`).
    pub id: String,
    pub name: String,
    pub builtin: bool,
    pub permissions: Permissions,
}

impl Role {
    pub fn is_owner(&self) -> bool {
        self.builtin && self.id == BuiltinRole::Owner.id()
    }
}

/// Who is acting: a signed-in member, or an API key acting for the member who made it.
#[derive(Clone, Debug)]
pub struct Actor {
    /// The member acted for: "assigned" means assigned to them.
    pub member_id: MemberId,
    /// What the actor may do now: the member's role, narrowed to the key's role for a key.
    pub permissions: Permissions,
    /// Whether the actor speaks for the firm's Owner with the Owner's role (a key made by the
    /// Owner with the Owner role does; a narrower key does not).
    pub owner: bool,
}

impl Actor {
    /// A member acting with their role, or, given `key_role`, an API key of theirs.
    pub fn new(member_id: MemberId, member_role: &Role, key_role: Option<&Role>) -> Actor {
        match key_role {
            None => Actor {
                member_id,
                permissions: member_role.permissions.clone(),
                owner: member_role.is_owner(),
            },
            Some(key_role) => Actor {
                member_id,
                permissions: key_role.permissions.overlap(&member_role.permissions),
                owner: member_role.is_owner() && key_role.is_owner(),
            },
        }
    }
}

/// What an actor asks to do.
#[derive(Clone, Copy, Debug)]
pub enum Intent<'a> {
    /// An action on an area: list or read, create, change, delete.
    Act(Area, Action),
    /// Create or change a role, or give a role to an invitation, a member or an API key
    /// (`Act(area, action)` names which): allowed only if `grants` is within what the
    /// actor holds, so nobody hands out more than they have.
    Grant {
        area: Area,
        action: Action,
        grants: &'a Permissions,
    },
    /// Make another member the Owner.
    TransferOwnership,
}

/// The answer to an [`Intent`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Allowed, over every client of the firm (or the area has no clients).
    All,
    /// Allowed, over the clients assigned to this member only: other clients' items are
    /// answered as if they did not exist.
    Assigned(MemberId),
    /// Not allowed (403), for the reason given, which can be shown to the actor.
    Denied(&'static str),
}

impl Decision {
    pub fn allowed(&self) -> bool {
        !matches!(self, Decision::Denied(_))
    }
}

/// The one decision: may `actor` do `intent`?
pub fn decide(actor: &Actor, intent: Intent<'_>) -> Decision {
    let act = |area: Area, action: Action| match actor.permissions.reach(area, action) {
        None => Decision::Denied("your role does not allow this"),
        Some(Scope::Assigned) if area.scoped() => Decision::Assigned(actor.member_id.clone()),
        Some(_) => Decision::All,
    };
    match intent {
        Intent::Act(area, action) => act(area, action),
        Intent::Grant {
            area,
            action,
            grants,
        } => match act(area, action) {
            Decision::Denied(reason) => Decision::Denied(reason),
            _ if !grants.within(&actor.permissions) => {
                Decision::Denied("this grants more than your own role does")
            }
            allowed => allowed,
        },
        Intent::TransferOwnership if actor.owner => Decision::All,
        Intent::TransferOwnership => Decision::Denied("only the Owner can transfer ownership"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(role: BuiltinRole) -> Actor {
        Actor::new(MemberId::new(), &role.role(), None)
    }

    #[test]
    fn team_members_work_on_their_assigned_clients_and_see_invoices() {
        let actor = member(BuiltinRole::Team);
        let id = actor.member_id.clone();
        assert_eq!(
            decide(&actor, Intent::Act(Area::Tasks, Action::Edit)),
            Decision::Assigned(id)
        );
        assert!(!decide(&actor, Intent::Act(Area::Tasks, Action::Delete)).allowed());
        assert_eq!(
            decide(&actor, Intent::Act(Area::Invoices, Action::View)),
            Decision::All
        );
        assert!(!decide(&actor, Intent::Act(Area::Invoices, Action::Create)).allowed());
        assert!(!decide(&actor, Intent::Act(Area::Team, Action::View)).allowed());
    }

    #[test]
    fn only_the_owner_transfers_ownership() {
        assert!(decide(&member(BuiltinRole::Owner), Intent::TransferOwnership).allowed());
        assert!(!decide(&member(BuiltinRole::CoOwner), Intent::TransferOwnership).allowed());
        // A key the Owner made with a narrower role does not speak for the Owner.
        let owner = BuiltinRole::Owner.role();
        let key = Actor::new(MemberId::new(), &owner, Some(&BuiltinRole::CoOwner.role()));
        assert!(!decide(&key, Intent::TransferOwnership).allowed());
    }

    #[test]
    fn nobody_grants_more_than_they_hold() {
        let roles_only = Role {
            id: "rl_x".into(),
            name: "Role admin".into(),
            builtin: false,
            permissions: Permissions::default()
                .with(Area::Roles, &Action::ALL, Scope::All)
                .with(Area::Tasks, &[Action::View], Scope::Assigned),
        };
        let actor = Actor::new(MemberId::new(), &roles_only, None);
        let same = roles_only.permissions.clone();
        let wider = Permissions::default().with(Area::Tasks, &[Action::View], Scope::All);
        let more = Permissions::default().with(Area::Tasks, &[Action::Delete], Scope::Assigned);
        let grant = |grants| Intent::Grant {
            area: Area::Roles,
            action: Action::Create,
            grants,
        };
        assert!(decide(&actor, grant(&same)).allowed());
        assert!(!decide(&actor, grant(&wider)).allowed());
        assert!(!decide(&actor, grant(&more)).allowed());
    }

    #[test]
    fn a_key_never_does_more_than_its_member() {
        let team = BuiltinRole::Team.role();
        let key = Actor::new(MemberId::new(), &team, Some(&BuiltinRole::Owner.role()));
        assert_eq!(key.permissions, team.permissions);
    }

    #[test]
    fn permissions_round_trip_and_refuse_scopes_where_there_are_no_clients() {
        let team = BuiltinRole::Team.permissions();
        assert_eq!(Permissions::from_json(&team.to_json()), team);
        let bad: BTreeMap<Area, Grant> =
            serde_json::from_str(r#"{"invoices": {"actions": ["view"], "scope": "assigned"}}"#)
                .unwrap();
        assert!(Permissions::from_grants(bad).is_err());
        assert_eq!(Permissions::from_json("not json"), Permissions::default());
    }
}
