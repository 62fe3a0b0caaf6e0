//! How the domain's own types are stored: ids (`crate::ids`) and statuses (`crate::status`)
//! as their text, in TEXT columns, the same on SQLite and PostgreSQL. This is the only place
//! that teaches sqlx about them; the types themselves need no database, so code that uses them
//! without one (the mailer) does not compile sqlx for them.

use sqlx::error::BoxDynError;
use sqlx::postgres::{PgArgumentBuffer, PgTypeInfo, PgValueRef};
use sqlx::sqlite::{SqliteArgumentValue, SqliteTypeInfo, SqliteValueRef};
use sqlx::{Decode, Encode, Postgres, Sqlite, Type, encode::IsNull};

use crate::client_access::SetBase;
use crate::ids::{
    ApiKeyId, ChecklistItemId, ClientAccountId, ContactId, ConversationId, CustomRoleId, FirmId,
    InvoiceId, MemberId, MessageId, PermissionSetId, PreviewId, SigningRequestId, TaskFileId,
    TaskId, TeamInvitationId,
};
use crate::status::{ConversationStatus, InvoiceStatus, SigningStatus, TaskStatus};

/// Stores each type, which has `as_str()` and `parse(&str) -> Option<Self>`, as its text. A
/// stored text that does not parse is a decoding error: the migrations' `CHECK` constraints
/// keep other statuses out, and every stored id was made by its type's `new()`.
macro_rules! stored_as_text {
    ($($ty:ty),+ $(,)?) => {$(
        impl Type<Sqlite> for $ty {
            fn type_info() -> SqliteTypeInfo {
                <str as Type<Sqlite>>::type_info()
            }

            fn compatible(ty: &SqliteTypeInfo) -> bool {
                <str as Type<Sqlite>>::compatible(ty)
            }
        }

        impl Type<Postgres> for $ty {
            fn type_info() -> PgTypeInfo {
                <str as Type<Postgres>>::type_info()
            }

            fn compatible(ty: &PgTypeInfo) -> bool {
                <str as Type<Postgres>>::compatible(ty)
            }
        }

        impl<'q> Encode<'q, Sqlite> for $ty {
            fn encode_by_ref(
                &self,
                args: &mut Vec<SqliteArgumentValue<'q>>,
            ) -> Result<IsNull, BoxDynError> {
                // SQLite keeps the arguments beyond this borrow of `self`: an owned copy.
                <String as Encode<'q, Sqlite>>::encode(self.as_str().to_owned(), args)
            }
        }

        impl Encode<'_, Postgres> for $ty {
            fn encode_by_ref(&self, buf: &mut PgArgumentBuffer) -> Result<IsNull, BoxDynError> {
                <&str as Encode<'_, Postgres>>::encode(self.as_str(), buf)
            }
        }

        impl<'r> Decode<'r, Sqlite> for $ty {
            fn decode(value: SqliteValueRef<'r>) -> Result<Self, BoxDynError> {
                let text = <&str as Decode<'r, Sqlite>>::decode(value)?;
                <$ty>::parse(text).ok_or_else(|| unreadable(stringify!($ty), text))
            }
        }

        impl<'r> Decode<'r, Postgres> for $ty {
            fn decode(value: PgValueRef<'r>) -> Result<Self, BoxDynError> {
                let text = <&str as Decode<'r, Postgres>>::decode(value)?;
                <$ty>::parse(text).ok_or_else(|| unreadable(stringify!($ty), text))
            }
        }
    )+};
}

fn unreadable(what: &str, text: &str) -> BoxDynError {
    format!("stored text {text:?} is not a {what}").into()
}

stored_as_text!(
    FirmId,
    ContactId,
    TaskId,
    ChecklistItemId,
    TaskFileId,
    ConversationId,
    MessageId,
    SigningRequestId,
    MemberId,
    TeamInvitationId,
    CustomRoleId,
    ApiKeyId,
    InvoiceId,
    ClientAccountId,
    PermissionSetId,
    SetBase,
    PreviewId,
    TaskStatus,
    ConversationStatus,
    SigningStatus,
    InvoiceStatus,
);

#[cfg(test)]
mod tests {
    use sqlx::sqlite::SqlitePoolOptions;

    use crate::ids::{ContactId, TaskId};
    use crate::status::{SigningStatus, TaskStatus};

    #[tokio::test]
    async fn ids_and_statuses_are_written_and_read_as_their_text() {
        let db = SqlitePoolOptions::new()
            .max_connections(1)
            .connect("sqlite::memory:")
            .await
            .unwrap();
        let (text, same): (String, TaskStatus) = sqlx::query_as("SELECT $1, $1")
            .bind(TaskStatus::Completed)
            .fetch_one(&db)
            .await
            .unwrap();
        assert_eq!((text.as_str(), same), ("completed", TaskStatus::Completed));
        let unknown = sqlx::query_scalar::<_, SigningStatus>("SELECT 'lost'")
            .fetch_one(&db)
            .await
            .unwrap_err();
        assert!(
            unknown
                .to_string()
                .contains("\"lost\" is not a SigningStatus")
        );

        let id = ContactId::new();
        let (text, same): (String, ContactId) = sqlx::query_as("SELECT $1, $1")
            .bind(&id)
            .fetch_one(&db)
            .await
            .unwrap();
        assert_eq!((text.as_str(), &same), (id.as_str(), &id));
        let other_kind = sqlx::query_scalar::<_, TaskId>("SELECT $1")
            .bind(&id)
            .fetch_one(&db)
            .await
            .unwrap_err();
        assert!(other_kind.to_string().contains("is not a TaskId"));
    }
}
