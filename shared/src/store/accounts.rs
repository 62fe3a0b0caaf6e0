//! Client accounts (the business or household a firm's contacts belong to) and the firm's
//! own client permission sets (SPEC §13). Which contacts an account holds is the contacts'
//! `account_id` (moving one is `ContactStore::update_contact`); which items are shared with
//! it is the items' `account_id`.

use std::collections::BTreeSet;

use async_trait::async_trait;
use serde::Serialize;
use sqlx::{Postgres, Sqlite};

use super::console::name_key;
use super::{SqlStore, StoreError, on_unique};
use crate::client_access::{Capability, SetBase, parse_off, store_off};
use crate::ids::{ClientAccountId, ContactId, FirmId, MemberId, PermissionSetId};
use crate::now_unix;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct ClientAccount {
    pub id: ClientAccountId,
    pub firm_id: FirmId,
    pub name: String,
    pub created_at: i64,
    pub updated_at: i64,
    /// How many contacts it holds.
    pub contact_count: i64,
}

/// A page of a firm's accounts by name, after the account `after` (a cursor).
#[derive(Debug, Default)]
pub struct AccountQuery {
    pub after: Option<ClientAccountId>,
    pub limit: i64,
    /// Only accounts holding a contact assigned to this member.
    pub assigned_to: Option<MemberId>,
}

/// One item shared with an account as a whole.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct SharedItem {
    /// `task`, `invoice`, `conversation` or `signing_request`.
    pub kind: String,
    pub id: String,
    /// The title, invoice number or subject.
    pub title: String,
    pub status: String,
    pub created_at: i64,
}

/// What a delete of something that may still be used found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Removal {
    Removed,
    NotFound,
    /// Contacts still belong to the account, or still hold the set.
    InUse,
}

/// A firm's custom permission set.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PermissionSet {
    pub id: PermissionSetId,
    pub name: String,
    pub base: SetBase,
    pub off: BTreeSet<Capability>,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(sqlx::FromRow)]
struct SetRow {
    id: PermissionSetId,
    name: String,
    base: SetBase,
    off: String,
    created_at: i64,
    updated_at: i64,
}

impl From<SetRow> for PermissionSet {
    fn from(row: SetRow) -> PermissionSet {
        PermissionSet {
            id: row.id,
            name: row.name,
            base: row.base,
            // The store writes only what `store_off` makes; anything else reads as nothing off
            // here, while the session's resolution treats it as the least access.
            off: parse_off(&row.off).unwrap_or_default(),
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

/// A permission set's content, as created or replaced.
#[derive(Clone, Debug)]
pub struct SetContent {
    pub name: String,
    pub base: SetBase,
    pub off: BTreeSet<Capability>,
}

/// Items of each kind an account page lists at most.
pub const SHARED_ITEMS_LIMIT: i64 = 100;

#[async_trait]
pub trait AccountStore {
    async fn create_account(
        &self,
        firm_id: &FirmId,
        name: &str,
    ) -> Result<ClientAccount, StoreError>;
    async fn account(
        &self,
        firm_id: &FirmId,
        id: &ClientAccountId,
    ) -> Result<Option<ClientAccount>, StoreError>;
    async fn rename_account(
        &self,
        firm_id: &FirmId,
        id: &ClientAccountId,
        name: &str,
    ) -> Result<Option<ClientAccount>, StoreError>;
    /// Refused (`InUse`) while contacts belong to it; items shared with it are unshared.
    async fn delete_account(
        &self,
        firm_id: &FirmId,
        id: &ClientAccountId,
    ) -> Result<Removal, StoreError>;
    async fn list_accounts(
        &self,
        firm_id: &FirmId,
        query: &AccountQuery,
    ) -> Result<Vec<ClientAccount>, StoreError>;
    /// The items shared with the account as a whole, newest first, up to
    /// [`SHARED_ITEMS_LIMIT`] of each kind, in one statement.
    async fn shared_items(
        &self,
        firm_id: &FirmId,
        id: &ClientAccountId,
    ) -> Result<Vec<SharedItem>, StoreError>;
    /// Whether the member looks after at least one contact of the account (the "assigned"
    /// scope of account-shared items).
    async fn account_in_scope(
        &self,
        firm_id: &FirmId,
        member: &MemberId,
        id: &ClientAccountId,
    ) -> Result<bool, StoreError>;
    /// The account's client managers (a custom set counts by its base), by id: who is told
    /// of what is shared with the account, as their access and settings allow.
    async fn account_managers(
        &self,
        firm_id: &FirmId,
        id: &ClientAccountId,
    ) -> Result<Vec<ContactId>, StoreError>;

    /// The firm's custom sets, by name.
    async fn permission_sets(&self, firm_id: &FirmId) -> Result<Vec<PermissionSet>, StoreError>;
    async fn permission_set(
        &self,
        firm_id: &FirmId,
        id: &PermissionSetId,
    ) -> Result<Option<PermissionSet>, StoreError>;
    /// `Conflict("name")` when the firm has a set of this name.
    async fn create_permission_set(
        &self,
        firm_id: &FirmId,
        content: &SetContent,
    ) -> Result<PermissionSet, StoreError>;
    /// Replaces the set's content; it applies on its holders' next request.
    async fn update_permission_set(
        &self,
        firm_id: &FirmId,
        id: &PermissionSetId,
        content: &SetContent,
    ) -> Result<Option<PermissionSet>, StoreError>;
    /// Refused (`InUse`) while a contact holds it.
    async fn delete_permission_set(
        &self,
        firm_id: &FirmId,
        id: &PermissionSetId,
    ) -> Result<Removal, StoreError>;
}

macro_rules! account_columns {
    () => {
        "a.id, a.firm_id, a.name, a.created_at, a.updated_at, \
         (SELECT COUNT(*) FROM contacts c WHERE c.firm_id = a.firm_id AND c.account_id = a.id) \
           AS contact_count"
    };
}

macro_rules! set_columns {
    () => {
        "id, name, base, off, created_at, updated_at"
    };
}

macro_rules! account_store {
    ($backend:ty) => {
        #[async_trait]
        impl AccountStore for SqlStore<$backend> {
            async fn create_account(
                &self,
                firm_id: &FirmId,
                name: &str,
            ) -> Result<ClientAccount, StoreError> {
                let now = now_unix();
                let id = ClientAccountId::new();
                sqlx::query(
                    "INSERT INTO client_accounts \
                     (id, firm_id, name, name_norm, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $5)",
                )
                .bind(&id)
                .bind(firm_id)
                .bind(name)
                .bind(name_key(name))
                .bind(now)
                .execute(&self.writer)
                .await?;
                Ok(ClientAccount {
                    id,
                    firm_id: firm_id.clone(),
                    name: name.to_string(),
                    created_at: now,
                    updated_at: now,
                    contact_count: 0,
                })
            }

            async fn account(
                &self,
                firm_id: &FirmId,
                id: &ClientAccountId,
            ) -> Result<Option<ClientAccount>, StoreError> {
                Ok(sqlx::query_as(concat!(
                    "SELECT ",
                    account_columns!(),
                    " FROM client_accounts a WHERE a.firm_id = $1 AND a.id = $2"
                ))
                .bind(firm_id)
                .bind(id)
                .fetch_optional(&self.pool)
                .await?)
            }

            async fn rename_account(
                &self,
                firm_id: &FirmId,
                id: &ClientAccountId,
                name: &str,
            ) -> Result<Option<ClientAccount>, StoreError> {
                let done = sqlx::query(
                    "UPDATE client_accounts SET name = $3, name_norm = $4, updated_at = $5 \
                     WHERE firm_id = $1 AND id = $2",
                )
                .bind(firm_id)
                .bind(id)
                .bind(name)
                .bind(name_key(name))
                .bind(now_unix())
                .execute(&self.writer)
                .await?;
                if done.rows_affected() == 0 {
                    return Ok(None);
                }
                Ok(sqlx::query_as(concat!(
                    "SELECT ",
                    account_columns!(),
                    " FROM client_accounts a WHERE a.firm_id = $1 AND a.id = $2"
                ))
                .bind(firm_id)
                .bind(id)
                .fetch_optional(&self.writer)
                .await?)
            }

            async fn delete_account(
                &self,
                firm_id: &FirmId,
                id: &ClientAccountId,
            ) -> Result<Removal, StoreError> {
                // The delete checks for contacts in its own statement: a contact moved in
                // meanwhile keeps the account (the foreign key would refuse it anyway).
                let done = sqlx::query(
                    "DELETE FROM client_accounts WHERE firm_id = $1 AND id = $2 \
                     AND NOT EXISTS (SELECT 1 FROM contacts c \
                         WHERE c.firm_id = $1 AND c.account_id = $2)",
                )
                .bind(firm_id)
                .bind(id)
                .execute(&self.writer)
                .await?;
                if done.rows_affected() > 0 {
                    return Ok(Removal::Removed);
                }
                Ok(match self.account(firm_id, id).await? {
                    Some(_) => Removal::InUse,
                    None => Removal::NotFound,
                })
            }

            async fn list_accounts(
                &self,
                firm_id: &FirmId,
                query: &AccountQuery,
            ) -> Result<Vec<ClientAccount>, StoreError> {
                // The cursor is the last account shown; its name key places the next page.
                Ok(sqlx::query_as(concat!(
                    "SELECT ",
                    account_columns!(),
                    " FROM client_accounts a WHERE a.firm_id = $1 \
                     AND ($2 IS NULL OR (a.name_norm, a.id) > \
                          ((SELECT p.name_norm FROM client_accounts p \
                            WHERE p.firm_id = $1 AND p.id = $2), $2)) \
                     AND ($4 IS NULL OR a.id IN ",
                    member_accounts!("$1", "$4"),
                    ") ORDER BY a.name_norm, a.id LIMIT $3"
                ))
                .bind(firm_id)
                .bind(query.after.as_ref())
                .bind(query.limit)
                .bind(query.assigned_to.as_ref())
                .fetch_all(&self.pool)
                .await?)
            }

            async fn shared_items(
                &self,
                firm_id: &FirmId,
                id: &ClientAccountId,
            ) -> Result<Vec<SharedItem>, StoreError> {
                Ok(sqlx::query_as(
                    "SELECT * FROM (SELECT 'task' AS kind, id, title, status, created_at \
                       FROM tasks WHERE firm_id = $1 AND account_id = $2 \
                       ORDER BY created_at DESC, id LIMIT $3) t \
                     UNION ALL SELECT * FROM (SELECT 'invoice' AS kind, id, number AS title, \
                       status, created_at FROM invoices WHERE firm_id = $1 AND account_id = $2 \
                       ORDER BY created_at DESC, id LIMIT $3) i \
                     UNION ALL SELECT * FROM (SELECT 'conversation' AS kind, id, subject AS title, \
                       status, created_at FROM conversations \
                       WHERE firm_id = $1 AND account_id = $2 \
                       ORDER BY created_at DESC, id LIMIT $3) c \
                     UNION ALL SELECT * FROM (SELECT 'signing_request' AS kind, id, title, \
                       status, created_at FROM signing_requests \
                       WHERE firm_id = $1 AND account_id = $2 \
                       ORDER BY created_at DESC, id LIMIT $3) s \
                     ORDER BY created_at DESC, id",
                )
                .bind(firm_id)
                .bind(id)
                .bind(SHARED_ITEMS_LIMIT)
                .fetch_all(&self.pool)
                .await?)
            }

            async fn account_in_scope(
                &self,
                firm_id: &FirmId,
                member: &MemberId,
                id: &ClientAccountId,
            ) -> Result<bool, StoreError> {
                let (found,): (bool,) = sqlx::query_as(concat!(
                    "SELECT ",
                    looks_after_account!("$1", "$2", "$3")
                ))
                .bind(firm_id)
                .bind(member)
                .bind(id)
                .fetch_one(&self.pool)
                .await?;
                Ok(found)
            }

            async fn account_managers(
                &self,
                firm_id: &FirmId,
                id: &ClientAccountId,
            ) -> Result<Vec<ContactId>, StoreError> {
                let rows: Vec<(ContactId,)> = sqlx::query_as(concat!(
                    "SELECT c.id FROM contacts c WHERE c.firm_id = $1 AND c.account_id = $2 AND ",
                    is_account_manager!("c"),
                    " ORDER BY c.id"
                ))
                .bind(firm_id)
                .bind(id)
                .fetch_all(&self.pool)
                .await?;
                Ok(rows.into_iter().map(|(id,)| id).collect())
            }

            async fn permission_sets(
                &self,
                firm_id: &FirmId,
            ) -> Result<Vec<PermissionSet>, StoreError> {
                let rows: Vec<SetRow> = sqlx::query_as(concat!(
                    "SELECT ",
                    set_columns!(),
                    " FROM permission_sets WHERE firm_id = $1 ORDER BY name, id"
                ))
                .bind(firm_id)
                .fetch_all(&self.pool)
                .await?;
                Ok(rows.into_iter().map(PermissionSet::from).collect())
            }

            async fn permission_set(
                &self,
                firm_id: &FirmId,
                id: &PermissionSetId,
            ) -> Result<Option<PermissionSet>, StoreError> {
                let row: Option<SetRow> = sqlx::query_as(concat!(
                    "SELECT ",
                    set_columns!(),
                    " FROM permission_sets WHERE firm_id = $1 AND id = $2"
                ))
                .bind(firm_id)
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
                Ok(row.map(PermissionSet::from))
            }

            async fn create_permission_set(
                &self,
                firm_id: &FirmId,
                content: &SetContent,
            ) -> Result<PermissionSet, StoreError> {
                let row: SetRow = sqlx::query_as(concat!(
                    "INSERT INTO permission_sets (id, firm_id, name, base, off, created_at, \
                     updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING ",
                    set_columns!()
                ))
                .bind(PermissionSetId::new())
                .bind(firm_id)
                .bind(&content.name)
                .bind(content.base)
                .bind(store_off(&content.off))
                .bind(now_unix())
                .fetch_one(&self.writer)
                .await
                .map_err(on_unique("name"))?;
                Ok(row.into())
            }

            async fn update_permission_set(
                &self,
                firm_id: &FirmId,
                id: &PermissionSetId,
                content: &SetContent,
            ) -> Result<Option<PermissionSet>, StoreError> {
                let row: Option<SetRow> = sqlx::query_as(concat!(
                    "UPDATE permission_sets SET name = $3, base = $4, off = $5, updated_at = $6 \
                     WHERE firm_id = $1 AND id = $2 RETURNING ",
                    set_columns!()
                ))
                .bind(firm_id)
                .bind(id)
                .bind(&content.name)
                .bind(content.base)
                .bind(store_off(&content.off))
                .bind(now_unix())
                .fetch_optional(&self.writer)
                .await
                .map_err(on_unique("name"))?;
                Ok(row.map(PermissionSet::from))
            }

            async fn delete_permission_set(
                &self,
                firm_id: &FirmId,
                id: &PermissionSetId,
            ) -> Result<Removal, StoreError> {
                let done = sqlx::query(
                    "DELETE FROM permission_sets WHERE firm_id = $1 AND id = $2 \
                     AND NOT EXISTS (SELECT 1 FROM contacts c \
                         WHERE c.firm_id = $1 AND c.permission_set = $2)",
                )
                .bind(firm_id)
                .bind(id)
                .execute(&self.writer)
                .await?;
                if done.rows_affected() > 0 {
                    return Ok(Removal::Removed);
                }
                Ok(match self.permission_set(firm_id, id).await? {
                    Some(_) => Removal::InUse,
                    None => Removal::NotFound,
                })
            }
        }
    };
}
account_store!(Sqlite);
account_store!(Postgres);
