//! Opaque, unguessable identifiers: a short prefix naming the kind (`ct_` for a contact) and
//! 128 random bits, so an id says nothing about how many rows exist or which came first.
//!
//! Each kind of record the store hands out has its own id type ([`ContactId`], [`TaskId`], …),
//! so a task's id cannot be passed where a contact's is expected. An id is made fresh by
//! `new()` or read by `parse()`, which accepts only the shape `new()` makes; untrusted text
//! (a path, a form field, an API body) becomes an id only through `parse()`, which keeps junk
//! out of queries. Ids serialize as their bare text. How the store reads and writes them is in
//! `store/text.rs`, so these types need no database.

use std::fmt;

use serde::de::{self, Deserializer, Unexpected};
use serde::{Deserialize, Serialize, Serializer};

use crate::secret::random_string;

/// A fresh id of this kind (for kinds without their own type: mail jobs).
pub fn new_id(kind: &str) -> String {
    format!("{kind}_{}", random_string::<16>())
}

/// Whether `text` could be an id of this kind.
fn looks_like(kind: &str, text: &str) -> bool {
    text.strip_prefix(kind)
        .and_then(|rest| rest.strip_prefix('_'))
        .is_some_and(|rest| {
            rest.len() == 22
                && rest
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

/// Declares an id type per kind, with the prefix its ids carry.
macro_rules! ids {
    ($($(#[$doc:meta])* $name:ident => $prefix:literal,)+) => {$(
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(String);

        impl $name {
            /// The prefix that names this kind in its ids (before the `_`).
            pub const PREFIX: &'static str = $prefix;

            /// A fresh, random id.
            #[allow(clippy::new_without_default, reason = "a default id would be a random one")]
            pub fn new() -> $name {
                $name(new_id($prefix))
            }

            /// The id written as `text`, if it has the shape of this kind's ids.
            pub fn parse(text: &str) -> Option<$name> {
                looks_like($prefix, text).then(|| $name(text.to_owned()))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        /// As the bare text, like the `String` it once was.
        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(&self.0, f)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = String::deserialize(deserializer)?;
                if looks_like($prefix, &text) {
                    Ok($name(text))
                } else {
                    Err(de::Error::invalid_value(
                        Unexpected::Str(&text),
                        &concat!("an id starting with ", $prefix, "_"),
                    ))
                }
            }
        }
    )+};
}

ids! {
    /// A firm (a tenant: everything else belongs to one).
    FirmId => "fm",
    /// A contact: one of a firm's clients.
    ContactId => "ct",
    /// A task staff share with contacts.
    TaskId => "tk",
    /// An item of a task's checklist.
    ChecklistItemId => "ci",
    /// A document a client uploaded to a task.
    TaskFileId => "fl",
    /// A client's request to the firm (a conversation).
    ConversationId => "cv",
    /// A message in a conversation.
    MessageId => "ms",
    /// A document sent to a contact for signing.
    SigningRequestId => "sr",
    /// An invoice staff publish for a contact.
    InvoiceId => "iv",
    /// A member of a firm's staff (the prefix of the `staff` rows they migrated from).
    MemberId => "st",
    /// An invitation to join a firm's staff.
    TeamInvitationId => "ti",
    /// A firm's own role (built-in roles have fixed ids: see `policy::BuiltinRole`).
    CustomRoleId => "rl",
    /// A staff API key.
    ApiKeyId => "ak",
    /// A client account: the business or household a firm's contacts belong to.
    ClientAccountId => "ca",
    /// A firm's own client permission set (built-in sets have fixed names: see
    /// `client_access::SetBase`).
    PermissionSetId => "ps",
    /// A staff member's recorded preview of a contact's portal.
    PreviewId => "pv",
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_recognised() {
        let a = ContactId::new();
        let b = ContactId::new();
        assert_ne!(a, b);
        assert!(a.as_str().starts_with("ct_"));
        assert_eq!(ContactId::parse(a.as_str()), Some(a.clone()));
        assert_eq!(FirmId::parse(a.as_str()), None);
        assert_eq!(ContactId::parse("ct_1"), None);
        assert_eq!(ContactId::parse(&format!("{a}/")), None);
    }

    #[test]
    fn ids_serialize_as_their_text_and_deserialize_only_their_kind() {
        let id = TaskId::new();
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, format!("\"{id}\""));
        assert_eq!(serde_json::from_str::<TaskId>(&json).unwrap(), id);
        assert!(serde_json::from_str::<ContactId>(&json).is_err());
        assert_eq!(format!("{id:?}"), format!("{:?}", id.as_str()));
    }
}
