//! Staff previews of a contact's portal (migration 0015): each is recorded with the member, the
//! contact, the reason given, the time, and the permission set tried out, if any ("Try it
//! out": the contact shown as if they held it). A record lets its member browse that
//! contact's portal read-only until it is older than the caller's window; the contact's
//! console page and the API list the records, newest first.

use async_trait::async_trait;
use serde::Serialize;
use sqlx::{Postgres, Sqlite};

use super::{SqlStore, StoreError};
use crate::client_access::{ClientAccess, PermissionSetRef, SetBase};
use crate::ids::{ContactId, FirmId, MemberId, PreviewId};
use crate::now_unix;

/// One recorded preview.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct PreviewRecord {
    pub id: PreviewId,
    pub contact_id: ContactId,
    /// `None` once the member has left the team; `member_label` still says who it was.
    pub member_id: Option<MemberId>,
    /// The member's name (or email, when they have no name) when they previewed.
    pub member_label: String,
    pub reason: String,
    /// The permission set tried out (as `contacts.permission_set` names one); `None`: the
    /// contact's own.
    pub as_set: Option<String>,
    pub created_at: i64,
    /// The custom set's name, base and capabilities off, read beside the record.
    #[serde(skip)]
    set_name: Option<String>,
    #[serde(skip)]
    set_base: Option<String>,
    #[serde(skip)]
    set_off: Option<String>,
}

impl PreviewRecord {
    /// The set tried out, as people call it: a built-in set's label, a custom set's name.
    pub fn as_set_name(&self) -> Option<String> {
        let set = self.as_set.as_deref()?;
        Some(match PermissionSetRef::parse(set) {
            Some(PermissionSetRef::Builtin(base)) => base.label().to_string(),
            _ => self.set_name.clone().unwrap_or_else(|| set.to_string()),
        })
    }

    /// What the set tried out lets the contact do; `None` when the preview shows their own.
    pub fn as_set_access(&self) -> Option<ClientAccess> {
        let set = self.as_set.as_deref()?;
        Some(ClientAccess::resolve(
            set,
            self.set_base.as_deref(),
            self.set_off.as_deref(),
        ))
    }
}

#[async_trait]
pub trait PreviewStore {
    /// Records that `member` previews `contact` for `reason` now, as if they held `as_set`
    /// when given: `UnknownReference("as_set")` when it names no set of the firm.
    async fn record_preview(
        &self,
        firm_id: &FirmId,
        contact_id: &ContactId,
        member_id: &MemberId,
        member_label: &str,
        reason: &str,
        as_set: Option<&PermissionSetRef>,
    ) -> Result<PreviewRecord, StoreError>;
    /// The member's latest preview of the contact made at or after `since`, if any.
    async fn current_preview(
        &self,
        firm_id: &FirmId,
        contact_id: &ContactId,
        member_id: &MemberId,
        since: i64,
    ) -> Result<Option<PreviewRecord>, StoreError>;
    /// The contact's latest previews, newest first, at most `limit`.
    async fn contact_previews(
        &self,
        firm_id: &FirmId,
        contact_id: &ContactId,
        limit: i64,
    ) -> Result<Vec<PreviewRecord>, StoreError>;
}

/// The record's columns (table `p`) with its custom set's, joined as `ps`.
macro_rules! preview_select {
    () => {
        "SELECT p.id, p.contact_id, p.member_id, p.member_label, p.reason, p.as_set, \
         p.created_at, ps.name AS set_name, ps.base AS set_base, ps.off AS set_off \
         FROM previews p LEFT JOIN permission_sets ps ON ps.firm_id = p.firm_id AND ps.id = p.as_set"
    };
}

macro_rules! preview_store {
    ($backend:ty) => {
        #[async_trait]
        impl PreviewStore for SqlStore<$backend> {
            async fn record_preview(
                &self,
                firm_id: &FirmId,
                contact_id: &ContactId,
                member_id: &MemberId,
                member_label: &str,
                reason: &str,
                as_set: Option<&PermissionSetRef>,
            ) -> Result<PreviewRecord, StoreError> {
                let as_set = as_set.map(PermissionSetRef::as_str);
                // The next number of the contact's previews is taken in the insert itself; two
                // previews of one contact at the same moment collide on the unique index, and
                // the later one takes the number after. A custom set must be the firm's.
                let mut attempts = 0;
                let id = loop {
                    let inserted: Result<Option<PreviewId>, sqlx::Error> = sqlx::query_scalar(
                        "INSERT INTO previews (id, firm_id, contact_id, member_id, member_label, \
                         reason, as_set, seq, created_at) \
                         SELECT $1, $2, $3, $4, $5, $6, $7, \
                         (SELECT COALESCE(MAX(seq), 0) + 1 FROM previews \
                          WHERE firm_id = $2 AND contact_id = $3), $8 \
                         WHERE $7 IS NULL OR $7 IN ($9, $10) OR EXISTS \
                         (SELECT 1 FROM permission_sets WHERE firm_id = $2 AND id = $7) \
                         RETURNING id",
                    )
                    .bind(PreviewId::new())
                    .bind(firm_id)
                    .bind(contact_id)
                    .bind(member_id)
                    .bind(member_label)
                    .bind(reason)
                    .bind(as_set)
                    .bind(now_unix())
                    .bind(SetBase::ClientManager.as_str())
                    .bind(SetBase::ClientStaff.as_str())
                    .fetch_optional(&self.writer)
                    .await;
                    attempts += 1;
                    match inserted {
                        Err(sqlx::Error::Database(e))
                            if e.is_unique_violation() && attempts < 5 =>
                        {
                            continue;
                        }
                        Ok(None) => {
                            return Err(StoreError::UnknownReference(
                                "as_set",
                                as_set.unwrap_or_default().to_string(),
                            ));
                        }
                        other => break other?.expect("a row was inserted"),
                    }
                };
                Ok(
                    sqlx::query_as(concat!(preview_select!(), " WHERE p.id = $1"))
                        .bind(id)
                        .fetch_one(&self.writer)
                        .await?,
                )
            }

            async fn current_preview(
                &self,
                firm_id: &FirmId,
                contact_id: &ContactId,
                member_id: &MemberId,
                since: i64,
            ) -> Result<Option<PreviewRecord>, StoreError> {
                Ok(sqlx::query_as(concat!(
                    preview_select!(),
                    " WHERE p.member_id = $1 AND p.contact_id = $2 AND p.firm_id = $3 \
                     AND p.created_at >= $4 ORDER BY p.created_at DESC, p.seq DESC LIMIT 1"
                ))
                .bind(member_id)
                .bind(contact_id)
                .bind(firm_id)
                .bind(since)
                .fetch_optional(&self.pool)
                .await?)
            }

            async fn contact_previews(
                &self,
                firm_id: &FirmId,
                contact_id: &ContactId,
                limit: i64,
            ) -> Result<Vec<PreviewRecord>, StoreError> {
                Ok(sqlx::query_as(concat!(
                    preview_select!(),
                    " WHERE p.firm_id = $1 AND p.contact_id = $2 ORDER BY p.seq DESC LIMIT $3"
                ))
                .bind(firm_id)
                .bind(contact_id)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?)
            }
        }
    };
}
preview_store!(Sqlite);
preview_store!(Postgres);
