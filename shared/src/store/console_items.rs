//! What the staff console's work pages read beside the aggregates' own queries: newest-first
//! pages of tasks, signing requests and invoices with what a list row shows (the contact's
//! name, the checklist's counts), narrowed to a member's assigned clients when their role's
//! scope says so, and the contacts a form names (by email or id), within that scope.
//!
//! Each is one statement whatever the firm's size: keyset pages over
//! `(firm_id, created_at, id)` and `(firm_id, status, created_at, id)` indexes (migration
//! 0013), lookups bounded by the form's own list.

use async_trait::async_trait;
use serde::Serialize;
use sqlx::{Postgres, Sqlite};

use super::{SqlStore, StoreError};
use crate::ids::{
    ClientAccountId, ContactId, FirmId, InvoiceId, MemberId, SigningRequestId, TaskId,
};
use crate::status::{InvoiceStatus, SigningStatus, TaskStatus};

/// A page of a firm's records, newest first, before the `(created_at, id)` cursor, of one
/// status when given, and only those of the clients assigned to `assigned_to` when given.
#[derive(Debug)]
pub struct NewestPage<S> {
    pub before: Option<(i64, String)>,
    pub limit: i64,
    pub status: Option<S>,
    pub assigned_to: Option<MemberId>,
}

/// A task as the console's list shows it.
#[derive(Clone, Debug, Serialize, sqlx::FromRow)]
pub struct TaskRow {
    pub id: TaskId,
    pub title: String,
    pub due_date: Option<String>,
    pub status: TaskStatus,
    pub portal: bool,
    pub checklist_total: i64,
    pub checklist_done: i64,
    pub created_at: i64,
}

/// A signing request as the console's list shows it, with its contact.
#[derive(Clone, Debug, Serialize, sqlx::FromRow)]
pub struct SigningRow {
    pub id: SigningRequestId,
    pub title: String,
    pub status: SigningStatus,
    pub contact_id: ContactId,
    pub contact_name: String,
    pub contact_email: String,
    pub completed_at: Option<i64>,
    pub created_at: i64,
}

/// An invoice as the console's list shows it, with its contact.
#[derive(Clone, Debug, Serialize, sqlx::FromRow)]
pub struct InvoiceRow {
    pub id: InvoiceId,
    pub number: String,
    pub amount_minor: i64,
    pub currency: String,
    pub issued_date: String,
    pub due_date: String,
    pub status: InvoiceStatus,
    pub contact_id: ContactId,
    pub contact_name: String,
    pub contact_email: String,
    pub created_at: i64,
}

/// A contact as a form or a page names it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct ContactRef {
    pub id: ContactId,
    pub name: String,
    pub email: String,
    /// The address as compared (lower-cased).
    pub email_norm: String,
    /// The client account the contact belongs to (a form may share an item with it).
    pub account_id: ClientAccountId,
}

#[async_trait]
pub trait ConsoleItemStore {
    async fn task_rows(
        &self,
        firm_id: &FirmId,
        page: &NewestPage<TaskStatus>,
    ) -> Result<Vec<TaskRow>, StoreError>;
    async fn signing_rows(
        &self,
        firm_id: &FirmId,
        page: &NewestPage<SigningStatus>,
    ) -> Result<Vec<SigningRow>, StoreError>;
    async fn invoice_rows(
        &self,
        firm_id: &FirmId,
        page: &NewestPage<InvoiceStatus>,
    ) -> Result<Vec<InvoiceRow>, StoreError>;
    /// The firm's contacts with these normalized emails (within `assigned_to`'s clients when
    /// given), by email.
    async fn contacts_by_emails(
        &self,
        firm_id: &FirmId,
        emails_norm: &[String],
        assigned_to: Option<&MemberId>,
    ) -> Result<Vec<ContactRef>, StoreError>;
    /// The firm's contacts with these ids (within `assigned_to`'s clients when given), by
    /// email.
    async fn contacts_by_ids(
        &self,
        firm_id: &FirmId,
        ids: &[ContactId],
        assigned_to: Option<&MemberId>,
    ) -> Result<Vec<ContactRef>, StoreError>;
}

/// A newest-first page of `SELECT $columns FROM $from` (alias `x` for `$table`, the listed
/// table, whose rows have `firm_id`, `status`, `created_at`, `id`, `contact_id` and
/// `account_id`). Firm-wide, the status condition is written only when asked for, so that the
/// plan can use the `(firm_id, status, created_at, id)` and `(firm_id, created_at, id)`
/// indexes. Within a member's scope the page drives from the ids the scope reaches
/// (`scope::scoped_ids`, the one definition of that scope), so it reads what the member looks
/// after, not the firm.
macro_rules! newest_page {
    ($backend:ty, $pool:expr, $firm_id:expr, $page:expr, $columns:tt, $from:tt, $table:tt) => {{
        let page = $page;
        let (before_time, before_id) = page.before.clone().unwrap_or((i64::MAX, String::new()));
        match &page.assigned_to {
            Some(member) => {
                sqlx::query_as(concat!(
                    "SELECT ",
                    $columns,
                    " FROM ",
                    scoped_list!($table, "$1", "$2"),
                    " si CROSS JOIN ",
                    $from,
                    " WHERE x.id = si.scoped_id AND x.firm_id = $1 \
                     AND (x.created_at, x.id) < ($3, $4) AND ($5 IS NULL OR x.status = $5) \
                     ORDER BY x.created_at DESC, x.id DESC LIMIT $6"
                ))
                .bind($firm_id)
                .bind(member)
                .bind(before_time)
                .bind(before_id)
                .bind(page.status)
                .bind(page.limit)
                .fetch_all($pool)
                .await
            }
            None => {
                let mut query = sqlx::QueryBuilder::<$backend>::new(concat!(
                    "SELECT ", $columns, " FROM ", $from
                ));
                query
                    .push(" WHERE x.firm_id = ")
                    .push_bind($firm_id.clone());
                query
                    .push(" AND (x.created_at, x.id) < (")
                    .push_bind(before_time)
                    .push(", ")
                    .push_bind(before_id)
                    .push(")");
                if let Some(status) = page.status {
                    query.push(" AND x.status = ").push_bind(status);
                }
                query
                    .push(" ORDER BY x.created_at DESC, x.id DESC LIMIT ")
                    .push_bind(page.limit);
                query.build_query_as().fetch_all($pool).await
            }
        }
    }};
}

macro_rules! console_item_store {
    ($backend:ty) => {
        impl SqlStore<$backend> {
            async fn contacts_where(
                &self,
                firm_id: &FirmId,
                column: &str,
                values: &[String],
                assigned_to: Option<&MemberId>,
            ) -> Result<Vec<ContactRef>, StoreError> {
                if values.is_empty() {
                    return Ok(Vec::new());
                }
                let mut query = sqlx::QueryBuilder::<$backend>::new(
                    "SELECT c.id, c.name, c.email, c.email_norm, c.account_id FROM contacts c \
                     WHERE c.firm_id = ",
                );
                query.push_bind(firm_id.clone());
                query.push(format!(" AND c.{column} IN ("));
                let mut list = query.separated(", ");
                for value in values {
                    list.push_bind(value.clone());
                }
                query.push(")");
                if let Some(member) = assigned_to {
                    query.push(
                        " AND EXISTS (SELECT 1 FROM contact_members cm \
                         WHERE cm.contact_id = c.id AND cm.member_id = ",
                    );
                    query.push_bind(member.clone());
                    query.push(")");
                }
                query.push(" ORDER BY c.email_norm");
                Ok(query.build_query_as().fetch_all(&self.pool).await?)
            }
        }

        #[async_trait]
        impl ConsoleItemStore for SqlStore<$backend> {
            async fn task_rows(
                &self,
                firm_id: &FirmId,
                page: &NewestPage<TaskStatus>,
            ) -> Result<Vec<TaskRow>, StoreError> {
                Ok(newest_page!(
                    $backend,
                    &self.pool,
                    firm_id,
                    page,
                    "x.id, x.title, x.due_date, x.status, x.portal, x.checklist_total, \
                     x.checklist_done, x.created_at",
                    "tasks x",
                    "tasks"
                )?)
            }

            async fn signing_rows(
                &self,
                firm_id: &FirmId,
                page: &NewestPage<SigningStatus>,
            ) -> Result<Vec<SigningRow>, StoreError> {
                Ok(newest_page!(
                    $backend,
                    &self.pool,
                    firm_id,
                    page,
                    "x.id, x.title, x.status, x.contact_id, c.name AS contact_name, \
                     c.email AS contact_email, x.completed_at, x.created_at",
                    "signing_requests x JOIN contacts c ON c.id = x.contact_id",
                    "signing_requests"
                )?)
            }

            async fn invoice_rows(
                &self,
                firm_id: &FirmId,
                page: &NewestPage<InvoiceStatus>,
            ) -> Result<Vec<InvoiceRow>, StoreError> {
                Ok(newest_page!(
                    $backend,
                    &self.pool,
                    firm_id,
                    page,
                    "x.id, x.number, x.amount_minor, x.currency, x.issued_date, \
                     x.due_date, x.status, x.contact_id, c.name AS contact_name, \
                     c.email AS contact_email, x.created_at",
                    "invoices x JOIN contacts c ON c.id = x.contact_id",
                    "invoices"
                )?)
            }

            async fn contacts_by_emails(
                &self,
                firm_id: &FirmId,
                emails_norm: &[String],
                assigned_to: Option<&MemberId>,
            ) -> Result<Vec<ContactRef>, StoreError> {
                self.contacts_where(firm_id, "email_norm", emails_norm, assigned_to)
                    .await
            }

            async fn contacts_by_ids(
                &self,
                firm_id: &FirmId,
                ids: &[ContactId],
                assigned_to: Option<&MemberId>,
            ) -> Result<Vec<ContactRef>, StoreError> {
                let ids: Vec<String> = ids.iter().map(ToString::to_string).collect();
                self.contacts_where(firm_id, "id", &ids, assigned_to).await
            }
        }
    };
}
console_item_store!(Sqlite);
console_item_store!(Postgres);
