//! A role's "assigned clients only" scope, as facts: whether an item belongs to a contact
//! assigned to a member, which of some contacts are, and who looks after a page of contacts.
//! What the scope of an actor is, `policy::decide` says; this module only answers for a
//! member it is given. Lists take the same scope as a field of their query
//! (`assigned_to`), inside their one statement.

use async_trait::async_trait;
use sqlx::{Postgres, Sqlite};

use super::{SqlStore, StoreError};
use crate::ids::{ContactId, ConversationId, FirmId, MemberId, SigningRequestId, TaskId};

/// An item whose contacts decide whether a member's scope reaches it.
#[derive(Clone, Copy, Debug)]
pub enum Scoped<'a> {
    /// A contact: assigned to the member.
    Contact(&'a ContactId),
    /// A task: at least one of its assignees is assigned to the member.
    Task(&'a TaskId),
    /// A signing request: its contact is assigned to the member.
    SigningRequest(&'a SigningRequestId),
    /// A conversation: its contact is assigned to the member.
    Conversation(&'a ConversationId),
}

#[async_trait]
pub trait ScopeStore {
    /// Whether `item` of the firm is within `member`'s assigned clients (`false` also when
    /// there is no such item).
    async fn in_scope(
        &self,
        firm_id: &FirmId,
        member: &MemberId,
        item: Scoped<'_>,
    ) -> Result<bool, StoreError>;
    /// Those of `contacts` that are assigned to `member`, in one query.
    async fn assigned_among(
        &self,
        firm_id: &FirmId,
        member: &MemberId,
        contacts: &[ContactId],
    ) -> Result<Vec<ContactId>, StoreError>;
    /// The members looking after each of `contacts`, as `(contact, member)` pairs ordered by
    /// contact and member, in one query.
    async fn assigned_staff(
        &self,
        firm_id: &FirmId,
        contacts: &[ContactId],
    ) -> Result<Vec<(ContactId, MemberId)>, StoreError>;
}

/// Client accounts (SPEC §13): an item (`$table` row `$3` of firm `$1`) shared with an
/// account is also within member `$2`'s scope when they look after at least one contact of
/// that account.
macro_rules! account_rule {
    ($table:literal) => {
        concat!(
            " OR EXISTS (SELECT 1 FROM ",
            $table,
            " x JOIN contacts ac ON ac.firm_id = x.firm_id AND ac.account_id = x.account_id \
             JOIN contact_members acm ON acm.contact_id = ac.id \
             WHERE x.firm_id = $1 AND x.id = $3 AND acm.member_id = $2)"
        )
    };
}

macro_rules! scope_store {
    ($backend:ty) => {
        #[async_trait]
        impl ScopeStore for SqlStore<$backend> {
            async fn in_scope(
                &self,
                firm_id: &FirmId,
                member: &MemberId,
                item: Scoped<'_>,
            ) -> Result<bool, StoreError> {
                let (sql, id) = match item {
                    Scoped::Contact(id) => (
                        "SELECT EXISTS (SELECT 1 FROM contact_members cm \
                         WHERE cm.firm_id = $1 AND cm.member_id = $2 AND cm.contact_id = $3)",
                        id.as_str(),
                    ),
                    Scoped::Task(id) => (
                        concat!(
                            "SELECT EXISTS (SELECT 1 FROM task_assignees a \
                             JOIN contact_members cm ON cm.contact_id = a.contact_id \
                             WHERE a.firm_id = $1 AND a.task_id = $3 \
                             AND cm.firm_id = $1 AND cm.member_id = $2)",
                            account_rule!("tasks")
                        ),
                        id.as_str(),
                    ),
                    Scoped::SigningRequest(id) => (
                        concat!(
                            "SELECT EXISTS (SELECT 1 FROM signing_requests s \
                             JOIN contact_members cm ON cm.contact_id = s.contact_id \
                             WHERE s.firm_id = $1 AND s.id = $3 \
                             AND cm.firm_id = $1 AND cm.member_id = $2)",
                            account_rule!("signing_requests")
                        ),
                        id.as_str(),
                    ),
                    Scoped::Conversation(id) => (
                        concat!(
                            "SELECT EXISTS (SELECT 1 FROM conversations c \
                             JOIN contact_members cm ON cm.contact_id = c.contact_id \
                             WHERE c.firm_id = $1 AND c.id = $3 \
                             AND cm.firm_id = $1 AND cm.member_id = $2)",
                            account_rule!("conversations")
                        ),
                        id.as_str(),
                    ),
                };
                let (found,): (bool,) = sqlx::query_as(sql)
                    .bind(firm_id)
                    .bind(member)
                    .bind(id)
                    .fetch_one(&self.pool)
                    .await?;
                Ok(found)
            }

            async fn assigned_among(
                &self,
                firm_id: &FirmId,
                member: &MemberId,
                contacts: &[ContactId],
            ) -> Result<Vec<ContactId>, StoreError> {
                if contacts.is_empty() {
                    return Ok(Vec::new());
                }
                let mut query = sqlx::QueryBuilder::<$backend>::new(
                    "SELECT contact_id FROM contact_members WHERE firm_id = ",
                );
                query
                    .push_bind(firm_id.clone())
                    .push(" AND member_id = ")
                    .push_bind(member.clone())
                    .push(" AND contact_id IN (");
                let mut ids = query.separated(", ");
                for contact in contacts {
                    ids.push_bind(contact.clone());
                }
                query.push(") ORDER BY contact_id");
                let rows: Vec<(ContactId,)> =
                    query.build_query_as().fetch_all(&self.pool).await?;
                Ok(rows.into_iter().map(|(id,)| id).collect())
            }

            async fn assigned_staff(
                &self,
                firm_id: &FirmId,
                contacts: &[ContactId],
            ) -> Result<Vec<(ContactId, MemberId)>, StoreError> {
                if contacts.is_empty() {
                    return Ok(Vec::new());
                }
                let mut query = sqlx::QueryBuilder::<$backend>::new(
                    "SELECT contact_id, member_id FROM contact_members WHERE firm_id = ",
                );
                query.push_bind(firm_id.clone()).push(" AND contact_id IN (");
                let mut ids = query.separated(", ");
                for contact in contacts {
                    ids.push_bind(contact.clone());
                }
                query.push(") ORDER BY contact_id, member_id");
                Ok(query.build_query_as().fetch_all(&self.pool).await?)
            }
        }
    };
}
scope_store!(Sqlite);
scope_store!(Postgres);
