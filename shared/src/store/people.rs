//! The people of a client account as its client manager sees them in the portal
//! (`GET /people`): who they are, with which set, and whether they have portal access. A
//! manager grants or revokes the access of the account's client staff only: never of a
//! manager, never their own, and never changes anyone's set. Every statement names the firm
//! *and* the account, so a contact of another account or firm is simply not found.

use async_trait::async_trait;
use sqlx::{Postgres, Sqlite};

use super::{SqlStore, StoreError};
use crate::client_access::SetBase;
use crate::ids::{ClientAccountId, ContactId, FirmId};
use crate::now_unix;

/// A contact of the account, as the People page lists them.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct Person {
    pub id: ContactId,
    pub name: String,
    pub email: String,
    pub portal_access: bool,
    pub last_login_at: Option<i64>,
    /// As stored: a built-in set's name or a custom set's id.
    pub permission_set: String,
    /// The custom set's name and base; `None` for a built-in set (or a dangling id).
    pub set_name: Option<String>,
    pub set_base: Option<String>,
}

impl Person {
    /// The base of the person's set; `None` when it cannot be read (then they count as
    /// neither, and nobody may change their access here).
    pub fn base(&self) -> Option<SetBase> {
        SetBase::parse(&self.permission_set)
            .or_else(|| self.set_base.as_deref().and_then(SetBase::parse))
    }
}

/// What became of a request to grant or revoke a colleague's access.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AccessChange {
    /// Done (or already so).
    Changed,
    /// The contact is not in this account of this firm.
    NotFound,
    /// In the account, but a manager, the one asking, or of an unreadable set.
    NotAllowed,
}

#[async_trait]
pub trait PeopleStore {
    /// The account's contacts by name, at most `limit`.
    async fn account_people(
        &self,
        firm_id: &FirmId,
        account_id: &ClientAccountId,
        limit: i64,
    ) -> Result<Vec<Person>, StoreError>;
    /// Grants (`on`) or revokes the portal access of a client staff contact of the account, on
    /// behalf of `manager`; revoking bumps the auth epoch, which ends their sessions and voids
    /// their links at once.
    async fn set_colleague_access(
        &self,
        firm_id: &FirmId,
        account_id: &ClientAccountId,
        manager: &ContactId,
        contact_id: &ContactId,
        on: bool,
    ) -> Result<AccessChange, StoreError>;
}

macro_rules! person_columns {
    () => {
        "c.id, c.name, c.email, c.portal_access, c.last_login_at, c.permission_set, \
         ps.name AS set_name, ps.base AS set_base \
         FROM contacts c LEFT JOIN permission_sets ps \
         ON ps.firm_id = c.firm_id AND ps.id = c.permission_set"
    };
}

macro_rules! people_store {
    ($backend:ty) => {
        #[async_trait]
        impl PeopleStore for SqlStore<$backend> {
            async fn account_people(
                &self,
                firm_id: &FirmId,
                account_id: &ClientAccountId,
                limit: i64,
            ) -> Result<Vec<Person>, StoreError> {
                Ok(sqlx::query_as(concat!(
                    "SELECT ",
                    person_columns!(),
                    " WHERE c.firm_id = $1 AND c.account_id = $2 \
                     ORDER BY c.name_norm, c.id LIMIT $3"
                ))
                .bind(firm_id)
                .bind(account_id)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?)
            }

            async fn set_colleague_access(
                &self,
                firm_id: &FirmId,
                account_id: &ClientAccountId,
                manager: &ContactId,
                contact_id: &ContactId,
                on: bool,
            ) -> Result<AccessChange, StoreError> {
                // Who may be changed is checked in the statement that changes them, so a set
                // changed meanwhile by staff cannot slip through.
                let changed = sqlx::query(
                    "UPDATE contacts SET \
                     auth_epoch = auth_epoch + CASE WHEN NOT $5 AND portal_access THEN 1 ELSE 0 END, \
                     portal_access = $5, updated_at = $6 \
                     WHERE firm_id = $1 AND account_id = $2 AND id = $4 AND id <> $3 \
                     AND (permission_set = 'client_staff' OR permission_set IN \
                          (SELECT ps.id FROM permission_sets ps \
                           WHERE ps.firm_id = $1 AND ps.base = 'client_staff'))",
                )
                .bind(firm_id)
                .bind(account_id)
                .bind(manager)
                .bind(contact_id)
                .bind(on)
                .bind(now_unix())
                .execute(&self.writer)
                .await?;
                if changed.rows_affected() > 0 {
                    return Ok(AccessChange::Changed);
                }
                let found: Option<(String,)> = sqlx::query_as(
                    "SELECT id FROM contacts WHERE firm_id = $1 AND account_id = $2 AND id = $3",
                )
                .bind(firm_id)
                .bind(account_id)
                .bind(contact_id)
                .fetch_optional(&self.pool)
                .await?;
                Ok(match found {
                    Some(_) => AccessChange::NotAllowed,
                    None => AccessChange::NotFound,
                })
            }
        }
    };
}
people_store!(Sqlite);
people_store!(Postgres);
