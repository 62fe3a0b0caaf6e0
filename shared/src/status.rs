//! The states a record moves through, one enum per kind. Each is stored, serialized and shown
//! to templates as the same lower-case text (`open`, `completed`, …), which the migrations'
//! `CHECK` constraints also name; so code matches on variants while every stored value, API
//! field and template comparison stays the text it always was. How the store reads and writes
//! them is in `store/text.rs`, so these types need no database.

use std::fmt;

use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize, Serializer};

/// Declares a status enum whose variants are written as the given text.
macro_rules! statuses {
    ($(
        $(#[$doc:meta])*
        $name:ident { $($(#[$vdoc:meta])* $variant:ident => $text:literal),+ $(,)? }
    )+) => {$(
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vdoc])* $variant),+
        }

        impl $name {
            /// Every value's text, in declaration order.
            pub const TEXTS: &'static [&'static str] = &[$($text),+];

            /// The value as stored and serialized.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }

            /// The value this text names; `None` for any other text.
            pub fn parse(text: &str) -> Option<$name> {
                match text {
                    $($text => Some($name::$variant),)+
                    _ => None,
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
                $name::parse(&text).ok_or_else(|| de::Error::unknown_variant(&text, $name::TEXTS))
            }
        }
    )+};
}

statuses! {
    /// A task: open until staff or an assigned client completes it (staff may reopen it).
    TaskStatus {
        Open => "open",
        Completed => "completed",
    }

    /// A client's request to the firm, open or closed; a new message opens it again.
    ConversationStatus {
        Open => "open",
        Closed => "closed",
    }

    /// A signing request: pending until its contact signs or declines it, which is final.
    SigningStatus {
        Pending => "pending",
        Signed => "signed",
        Declined => "declined",
    }

    /// An invoice as the firm's billing system reports it.
    InvoiceStatus {
        Open => "open",
        Paid => "paid",
        Void => "void",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_read_and_write_their_text() {
        for text in InvoiceStatus::TEXTS {
            let status = InvoiceStatus::parse(text).unwrap();
            assert_eq!(status.as_str(), *text);
            assert_eq!(status.to_string(), *text);
            assert_eq!(
                serde_json::to_string(&status).unwrap(),
                format!("\"{text}\"")
            );
        }
        assert_eq!(TaskStatus::parse("completed"), Some(TaskStatus::Completed));
        assert_eq!(TaskStatus::parse("Completed"), None);
        assert_eq!(SigningStatus::parse(""), None);
        assert_eq!(
            serde_json::from_str::<ConversationStatus>("\"closed\"").unwrap(),
            ConversationStatus::Closed
        );
        assert!(serde_json::from_str::<ConversationStatus>("\"done\"").is_err());
    }
}
