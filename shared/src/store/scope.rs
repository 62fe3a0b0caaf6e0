//! A role's "assigned clients only" scope, as facts: whether an item is within a member's
//! clients, which of some contacts are theirs, and who looks after a page of contacts. What
//! the scope of an actor is, `policy::decide` says; this module only answers for a member it
//! is given. The rule for work items is written once, as SQL fragments ([`scoped_ids`],
//! [`member_accounts`]) that every list of the API and the console (`assigned_to` of their
//! queries) puts inside its one statement; the checks of one item or account read the same
//! rule from the item's end ([`in_scope_sql`], [`looks_after_account`]), so that neither a
//! list nor a check reads more than its own end of the rule reaches.

use async_trait::async_trait;
use sqlx::{Postgres, Sqlite};

use super::{SqlStore, StoreError};
use crate::ids::{ContactId, ConversationId, FirmId, MemberId, SigningRequestId, TaskId};

/// An item whose contacts decide whether a member's scope reaches it.
#[derive(Clone, Copy, Debug)]
pub enum Scoped<'a> {
    /// A contact: assigned to the member.
    Contact(&'a ContactId),
    /// A task: at least one of its assignees is assigned to the member, or it is shared with
    /// the account of a contact assigned to the member.
    Task(&'a TaskId),
    /// A signing request: its contact is assigned to the member, or it is shared with the
    /// account of one.
    SigningRequest(&'a SigningRequestId),
    /// A conversation: as a signing request.
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

/// The client accounts within member `$m`'s scope (firm `$f`): those of the contacts they look
/// after (SPEC §13: an item shared with an account is in scope when the member looks after a
/// contact of that account). A subquery of `account_id`, read from the member's own rows of
/// `contact_members`; each account once, however many of its contacts the member looks after.
/// This is the rule read from the member's end, for lists; [`looks_after_account`] is the same
/// rule read from the account's end, for checks of one item or account.
///
/// The firm is checked on `contact_members`, not on `contacts`: the contacts are reached by id
/// only, one primary-key read per assignment. Given `contacts.firm_id = $f` as well,
/// PostgreSQL's generic plan prices the firm's whole range of a contacts index as an average
/// firm's (a few dozen rows) and hash-joins it, which reads all of a big firm's contacts.
macro_rules! member_accounts {
    ($f:tt, $m:tt) => {
        concat!(
            "(SELECT DISTINCT mac.account_id FROM contact_members macm CROSS JOIN contacts mac \
             WHERE macm.member_id = ",
            $m,
            " AND macm.firm_id = ",
            $f,
            " AND mac.id = macm.contact_id)"
        )
    };
}

/// Whether member `$m` looks after a contact of account `$a` (firm `$f`; `$a` a column or a
/// placeholder, NULL matching nothing): [`member_accounts`] read from the account's end, as an
/// `EXISTS` condition. It reads the account's contacts (one index range) and one
/// `contact_members` entry each, so checking one item or account never reads the member's
/// whole scope.
macro_rules! looks_after_account {
    ($f:tt, $m:tt, $a:tt) => {
        concat!(
            "EXISTS (SELECT 1 FROM contacts lac CROSS JOIN contact_members lacm \
             WHERE lac.firm_id = ",
            $f,
            " AND lac.account_id = ",
            $a,
            " AND lacm.contact_id = lac.id AND lacm.member_id = ",
            $m,
            ")"
        )
    };
}

/// The ids (`scoped_id`) of the items of `$table` within member `$m`'s assigned clients (firm
/// `$f`): the one definition of the "assigned" scope of work items, for the API's lists and,
/// through [`scoped_list`], the console's lists and dashboard. An item is in scope when one of
/// its contacts (a task's assignees, the `contact_id` of the other kinds) is assigned to the
/// member, or when it is shared with an account of [`member_accounts`]. Each branch starts
/// from the member's rows of `contact_members` and reads one index range per contact or
/// account. (The check of one item, [`in_scope_sql`], reads the same rule from the item's end.)
///
/// Most accounts are personal, and most firms share few items with an account as a whole:
/// when the firm has no item of `$table` shared with any account, the account branch stops
/// after one entry of the `(firm_id, account_id, …)` index (an `EXISTS` of no outer column,
/// which both databases evaluate once, before the branch) instead of reading the account of
/// each of the member's contacts.
///
/// The branches are joined with `UNION ALL`, so an id may come more than once; `IN` and
/// `EXISTS` do not mind repeats, and [`scoped_list`] removes them.
macro_rules! scoped_ids {
    ($table:tt, $f:tt, $m:tt) => {
        concat!(
            "(",
            scoped_by_contact!($table, $f, $m),
            " UNION ALL SELECT sx.id FROM ",
            member_accounts!($f, $m),
            " sma CROSS JOIN ",
            $table,
            " sx WHERE sx.firm_id = ",
            $f,
            " AND sx.account_id = sma.account_id AND EXISTS (SELECT 1 FROM ",
            $table,
            " sg WHERE sg.firm_id = ",
            $f,
            " AND sg.account_id IS NOT NULL))"
        )
    };
}

/// [`scoped_ids`] without repeats, for a list to drive from (`FROM` this `CROSS JOIN` the
/// table, joined on `scoped_id`): it reads what the member looks after, never the firm's whole
/// table.
macro_rules! scoped_list {
    ($table:tt, $f:tt, $m:tt) => {
        concat!(
            "(SELECT DISTINCT sd.scoped_id FROM ",
            scoped_ids!($table, $f, $m),
            " sd)"
        )
    };
}

/// The first branch of [`scoped_ids`]: the items of the member's own contacts (a task's
/// assignees, the `contact_id` of the other kinds).
macro_rules! scoped_by_contact {
    ("tasks", $f:tt, $m:tt) => {
        concat!(
            "SELECT sa.task_id AS scoped_id FROM contact_members scm \
             CROSS JOIN task_assignees sa WHERE scm.member_id = ",
            $m,
            " AND sa.firm_id = ",
            $f,
            " AND sa.contact_id = scm.contact_id"
        )
    };
    ($table:tt, $f:tt, $m:tt) => {
        concat!(
            "SELECT sc.id AS scoped_id FROM contact_members scm CROSS JOIN ",
            $table,
            " sc WHERE scm.member_id = ",
            $m,
            " AND sc.firm_id = ",
            $f,
            " AND sc.contact_id = scm.contact_id"
        )
    };
}

/// Whether item `$3` of `$table` (firm `$1`) is within member `$2`'s scope: the rule of
/// [`scoped_ids`] read from the item's end. The item is read by id, then whether the member
/// looks after one of its contacts (a task's assignees, the `contact_id` of the other kinds;
/// one `contact_members` entry each) or, by [`looks_after_account`], a contact of its account:
/// a few index entries either way, in or out of scope.
macro_rules! in_scope_sql {
    ("tasks") => {
        concat!(
            "SELECT EXISTS (SELECT 1 FROM tasks ix WHERE ix.firm_id = $1 AND ix.id = $3 \
             AND (EXISTS (SELECT 1 FROM task_assignees ia CROSS JOIN contact_members icm \
             WHERE ia.task_id = ix.id AND icm.contact_id = ia.contact_id AND icm.member_id = $2) \
             OR ",
            looks_after_account!("$1", "$2", "ix.account_id"),
            "))"
        )
    };
    ($table:tt) => {
        concat!(
            "SELECT EXISTS (SELECT 1 FROM ",
            $table,
            " ix WHERE ix.firm_id = $1 AND ix.id = $3 \
             AND (EXISTS (SELECT 1 FROM contact_members icm \
             WHERE icm.contact_id = ix.contact_id AND icm.member_id = $2) OR ",
            looks_after_account!("$1", "$2", "ix.account_id"),
            "))"
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
                    Scoped::Task(id) => (in_scope_sql!("tasks"),
                        id.as_str(),
                    ),
                    Scoped::SigningRequest(id) => (in_scope_sql!("signing_requests"),
                        id.as_str(),
                    ),
                    Scoped::Conversation(id) => (in_scope_sql!("conversations"),
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
