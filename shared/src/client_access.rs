//! What a client may do in the portal (SPEC §13): each contact holds a permission set, a
//! built-in one (`client_manager`, `client_staff`) or a firm's custom set made from either
//! base by switching capabilities off. A contact's `permission_set` column holds the set's
//! name or id ([`PermissionSetRef`]); the store resolves it into a [`ClientAccess`] in the
//! statement that loads the signed-in contact, so asking costs no query.

use std::collections::BTreeSet;
use std::fmt;

use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize, Serializer};

use crate::ids::PermissionSetId;

/// Something a client may be allowed to do; a custom set switches single ones off.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Capability {
    /// See the firm's invoices.
    Invoices,
    /// Upload documents to tasks.
    Upload,
    /// Complete tasks and tick their checklists.
    CompleteTasks,
    /// Sign (or decline) documents.
    Sign,
    /// Start requests (conversations) with the firm.
    StartRequests,
    /// See completed items, not only open ones.
    SeeCompleted,
    /// Invite colleagues into the account and grant or revoke their access (managers only).
    ManagePeople,
}

impl Capability {
    /// Every capability, in the order forms and documents list them.
    pub const ALL: [Capability; 7] = [
        Capability::Invoices,
        Capability::Upload,
        Capability::CompleteTasks,
        Capability::Sign,
        Capability::StartRequests,
        Capability::SeeCompleted,
        Capability::ManagePeople,
    ];

    /// The capability's name, as stored, serialized and posted by forms.
    pub fn as_str(self) -> &'static str {
        match self {
            Capability::Invoices => "invoices",
            Capability::Upload => "upload",
            Capability::CompleteTasks => "complete_tasks",
            Capability::Sign => "sign",
            Capability::StartRequests => "start_requests",
            Capability::SeeCompleted => "see_completed",
            Capability::ManagePeople => "manage_people",
        }
    }

    /// The capability this name names; `None` for any other text.
    pub fn parse(text: &str) -> Option<Capability> {
        Capability::ALL.into_iter().find(|c| c.as_str() == text)
    }

    /// What staff read beside its checkbox.
    pub fn label(self) -> &'static str {
        match self {
            Capability::Invoices => "See invoices",
            Capability::Upload => "Upload documents",
            Capability::CompleteTasks => "Complete tasks and tick checklists",
            Capability::Sign => "Sign documents",
            Capability::StartRequests => "Start requests",
            Capability::SeeCompleted => "See completed items",
            Capability::ManagePeople => "Manage people (client managers only)",
        }
    }
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The built-in set a set starts from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SetBase {
    /// Sees every item shared with the account or assigned to any of its contacts, and
    /// manages the account's client staff.
    ClientManager,
    /// Sees only the items assigned to them personally.
    ClientStaff,
}

impl SetBase {
    pub const TEXTS: &'static [&'static str] = &["client_manager", "client_staff"];

    pub fn as_str(self) -> &'static str {
        match self {
            SetBase::ClientManager => "client_manager",
            SetBase::ClientStaff => "client_staff",
        }
    }

    pub fn parse(text: &str) -> Option<SetBase> {
        match text {
            "client_manager" => Some(SetBase::ClientManager),
            "client_staff" => Some(SetBase::ClientStaff),
            _ => None,
        }
    }

    /// What staff read for the built-in set of this base.
    pub fn label(self) -> &'static str {
        match self {
            SetBase::ClientManager => "Client manager",
            SetBase::ClientStaff => "Client staff",
        }
    }
}

impl fmt::Display for SetBase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for SetBase {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for SetBase {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        SetBase::parse(&text).ok_or_else(|| de::Error::unknown_variant(&text, SetBase::TEXTS))
    }
}

/// What a contact's `permission_set` names: a built-in set, or a custom set by its id.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum PermissionSetRef {
    Builtin(SetBase),
    Custom(PermissionSetId),
}

impl PermissionSetRef {
    /// The value as stored in `contacts.permission_set` and shown by the API.
    pub fn as_str(&self) -> &str {
        match self {
            PermissionSetRef::Builtin(base) => base.as_str(),
            PermissionSetRef::Custom(id) => id.as_str(),
        }
    }

    /// A built-in set's name or a custom set's id; `None` for other text.
    pub fn parse(text: &str) -> Option<PermissionSetRef> {
        SetBase::parse(text)
            .map(PermissionSetRef::Builtin)
            .or_else(|| PermissionSetId::parse(text).map(PermissionSetRef::Custom))
    }
}

impl fmt::Display for PermissionSetRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a contact may do in the portal: their set's base and the capabilities it switches off.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ClientAccess {
    pub base: SetBase,
    pub off: BTreeSet<Capability>,
}

impl ClientAccess {
    /// The built-in Client manager set.
    pub fn manager() -> ClientAccess {
        ClientAccess {
            base: SetBase::ClientManager,
            off: BTreeSet::new(),
        }
    }

    /// The built-in Client staff set.
    pub fn staff() -> ClientAccess {
        ClientAccess {
            base: SetBase::ClientStaff,
            off: BTreeSet::new(),
        }
    }

    /// Client staff with every capability off: what a contact whose set cannot be read gets,
    /// so a dangling or damaged value never grants more than the least set.
    pub fn least() -> ClientAccess {
        ClientAccess {
            base: SetBase::ClientStaff,
            off: Capability::ALL.into_iter().collect(),
        }
    }

    /// Whether the contact may do this. Client staff never manage people, whatever the set.
    pub fn allows(&self, capability: Capability) -> bool {
        if capability == Capability::ManagePeople && self.base == SetBase::ClientStaff {
            return false;
        }
        !self.off.contains(&capability)
    }

    /// Whether the contact sees the account's items beyond those assigned to them.
    pub fn sees_account(&self) -> bool {
        self.base == SetBase::ClientManager
    }

    /// The access a stored `permission_set` value grants: a built-in set by its name, or the
    /// custom set whose row (`base`, `off` as stored) the same statement joined.
    pub fn resolve(permission_set: &str, base: Option<&str>, off: Option<&str>) -> ClientAccess {
        match PermissionSetRef::parse(permission_set) {
            Some(PermissionSetRef::Builtin(SetBase::ClientManager)) => ClientAccess::manager(),
            Some(PermissionSetRef::Builtin(SetBase::ClientStaff)) => ClientAccess::staff(),
            Some(PermissionSetRef::Custom(_)) => {
                match (base.and_then(SetBase::parse), off.and_then(parse_off)) {
                    (Some(base), Some(off)) => ClientAccess { base, off },
                    _ => ClientAccess::least(),
                }
            }
            None => ClientAccess::least(),
        }
    }
}

/// A stored `off` list (a JSON array of capability names); `None` when it is not one.
pub fn parse_off(text: &str) -> Option<BTreeSet<Capability>> {
    serde_json::from_str(text).ok()
}

/// The `off` list as stored: a JSON array of names, in [`Capability::ALL`] order.
pub fn store_off(off: &BTreeSet<Capability>) -> String {
    serde_json::to_string(off).expect("a set of enum names serializes")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for capability in Capability::ALL {
            assert_eq!(Capability::parse(capability.as_str()), Some(capability));
            let json = serde_json::to_string(&capability).unwrap();
            assert_eq!(json, format!("\"{capability}\""));
        }
        assert_eq!(Capability::parse("everything"), None);
        assert_eq!(
            PermissionSetRef::parse("client_staff"),
            Some(PermissionSetRef::Builtin(SetBase::ClientStaff))
        );
        let id = PermissionSetId::new();
        assert_eq!(
            PermissionSetRef::parse(id.as_str()),
            Some(PermissionSetRef::Custom(id))
        );
        assert_eq!(PermissionSetRef::parse("owner"), None);
    }

    #[test]
    fn staff_never_manage_people_and_off_means_off() {
        assert!(ClientAccess::manager().allows(Capability::ManagePeople));
        assert!(ClientAccess::manager().sees_account());
        assert!(!ClientAccess::staff().allows(Capability::ManagePeople));
        assert!(!ClientAccess::staff().sees_account());
        assert!(ClientAccess::staff().allows(Capability::Sign));
        let custom = ClientAccess::resolve(
            PermissionSetId::new().as_str(),
            Some("client_manager"),
            Some(r#"["invoices","sign"]"#),
        );
        assert!(custom.sees_account());
        assert!(!custom.allows(Capability::Invoices));
        assert!(!custom.allows(Capability::Sign));
        assert!(custom.allows(Capability::Upload));
        assert_eq!(store_off(&custom.off), r#"["invoices","sign"]"#);
    }

    #[test]
    fn an_unreadable_set_grants_the_least() {
        let id = PermissionSetId::new();
        for (base, off) in [
            (None, None),
            (Some("client_manager"), Some("not json")),
            (Some("owner"), Some("[]")),
            (Some("client_manager"), Some(r#"["fly"]"#)),
        ] {
            assert_eq!(
                ClientAccess::resolve(id.as_str(), base, off),
                ClientAccess::least()
            );
        }
        assert_eq!(
            ClientAccess::resolve("admin", None, None),
            ClientAccess::least()
        );
    }
}
