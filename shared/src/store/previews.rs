//! Staff previews of a contact's portal (migration 0015): each is recorded with the member, the
//! contact, the reason given and the time. A record lets its member browse that contact's
//! portal read-only until it is older than the caller's window; the contact's console page
//! and the API list the records, newest first.

use async_trait::async_trait;
use serde::Serialize;
use sqlx::{Postgres, Sqlite};

use super::{SqlStore, StoreError};
use crate::ids::{ContactId, FirmId, MemberId, PreviewId};
use crate::now_unix;

/// One recorded preview.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct Preview {
    pub id: PreviewId,
    pub contact_id: ContactId,
    /// `None` once the member has left the team; `member_label` still says who it was.
    pub member_id: Option<MemberId>,
    /// The member's name (or email, when they have no name) when they previewed.
    pub member_label: String,
    pub reason: String,
    pub created_at: i64,
}

#[async_trait]
pub trait PreviewStore {
    /// Records that `member` previews `contact` for `reason` now.
    async fn record_preview(
        &self,
        firm_id: &FirmId,
        contact_id: &ContactId,
        member_id: &MemberId,
        member_label: &str,
        reason: &str,
    ) -> Result<Preview, StoreError>;
    /// The member's latest preview of the contact made at or after `since`, if any.
    async fn current_preview(
        &self,
        firm_id: &FirmId,
        contact_id: &ContactId,
        member_id: &MemberId,
        since: i64,
    ) -> Result<Option<Preview>, StoreError>;
    /// The contact's latest previews, newest first, at most `limit`.
    async fn contact_previews(
        &self,
        firm_id: &FirmId,
        contact_id: &ContactId,
        limit: i64,
    ) -> Result<Vec<Preview>, StoreError>;
}

macro_rules! preview_columns {
    () => {
        "id, contact_id, member_id, member_label, reason, created_at"
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
            ) -> Result<Preview, StoreError> {
                // The next number of the contact's previews, taken in the insert itself; two
                // previews of one contact at the same moment collide on the unique index, and
                // the later one takes the number after.
                let mut attempts = 0;
                loop {
                    let inserted = sqlx::query_as(concat!(
                        "INSERT INTO previews (id, firm_id, contact_id, member_id, member_label, \
                         reason, seq, created_at) VALUES ($1, $2, $3, $4, $5, $6, \
                         (SELECT COALESCE(MAX(seq), 0) + 1 FROM previews \
                          WHERE firm_id = $2 AND contact_id = $3), $7) RETURNING ",
                        preview_columns!()
                    ))
                    .bind(PreviewId::new())
                    .bind(firm_id)
                    .bind(contact_id)
                    .bind(member_id)
                    .bind(member_label)
                    .bind(reason)
                    .bind(now_unix())
                    .fetch_one(&self.writer)
                    .await;
                    attempts += 1;
                    match inserted {
                        Err(sqlx::Error::Database(e))
                            if e.is_unique_violation() && attempts < 5 =>
                        {
                            continue;
                        }
                        other => return Ok(other?),
                    }
                }
            }

            async fn current_preview(
                &self,
                firm_id: &FirmId,
                contact_id: &ContactId,
                member_id: &MemberId,
                since: i64,
            ) -> Result<Option<Preview>, StoreError> {
                Ok(sqlx::query_as(concat!(
                    "SELECT ",
                    preview_columns!(),
                    " FROM previews WHERE member_id = $1 AND contact_id = $2 AND firm_id = $3 \
                     AND created_at >= $4 ORDER BY created_at DESC, seq DESC LIMIT 1"
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
            ) -> Result<Vec<Preview>, StoreError> {
                Ok(sqlx::query_as(concat!(
                    "SELECT ",
                    preview_columns!(),
                    " FROM previews WHERE firm_id = $1 AND contact_id = $2 \
                     ORDER BY seq DESC LIMIT $3"
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
