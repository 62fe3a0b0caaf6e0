//! Signing requests: a PDF staff send to one contact, which that contact signs (typing their
//! name and consenting) or declines. Every step is appended to an audit trail with who, when,
//! from where, and the SHA-256 of the stored document as recomputed at that moment.
//! The portal reaches a request through its contact, or as a client manager through the
//! account (`visibility`: managers may read it, only its contact signs); the API through the
//! firm.

use async_trait::async_trait;
use serde::Serialize;
use sqlx::{Postgres, Sqlite};

use super::{ClientViewer, PageQuery, SqlStore, StoreError};
use crate::ids::{ClientAccountId, ContactId, FirmId, SigningRequestId};
use crate::now_unix;
use crate::status::SigningStatus;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct SigningRequest {
    pub id: SigningRequestId,
    pub firm_id: FirmId,
    pub contact_id: ContactId,
    pub title: String,
    pub document_name: String,
    pub document_size: i64,
    pub document_sha256: String,
    pub status: SigningStatus,
    pub signed_name: Option<String>,
    pub decline_reason: Option<String>,
    pub completed_at: Option<i64>,
    pub created_at: i64,
    /// The signer's client account when shared with it: its managers may read it; only
    /// `contact_id` signs.
    pub account_id: Option<ClientAccountId>,
}

/// A pending request as a client's home page lists it: with its signer's name, since a
/// client manager also sees the requests of the account's other contacts, which only their
/// signer signs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct PendingRequest {
    #[sqlx(flatten)]
    #[serde(flatten)]
    pub request: SigningRequest,
    pub signer_name: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct SigningEvent {
    pub seq: i64,
    /// `created`, `viewed`, `signed` or `declined`
    pub kind: String,
    pub contact_id: Option<ContactId>,
    pub typed_name: Option<String>,
    pub reason: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub document_sha256: String,
    pub created_at: i64,
}

#[derive(Debug)]
pub struct NewSigningRequest {
    pub contact_id: ContactId,
    pub title: String,
    pub document_name: String,
    pub document_size: i64,
    pub document_sha256: String,
    /// The signer's account, to share it with the account (`UnknownReference("account_id")`
    /// for any other).
    pub account_id: Option<ClientAccountId>,
}

/// Where an event came from, and the document hash recomputed for it.
#[derive(Clone, Debug)]
pub struct EventOrigin {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub document_sha256: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Signed { typed_name: String },
    Declined { reason: String },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Completion {
    Done(SigningRequest),
    /// No such request for this contact.
    NotFound,
    /// It was already signed or declined (the current request).
    AlreadyCompleted(SigningRequest),
    /// The document's hash at signing is not the one the request was made with.
    DocumentChanged,
}

#[async_trait]
pub trait SigningStore {
    /// `UnknownReference("contact_id", id)` when the contact is not in the firm.
    async fn create_signing_request(
        &self,
        firm_id: &FirmId,
        new: &NewSigningRequest,
        origin: &EventOrigin,
    ) -> Result<SigningRequest, StoreError>;
    /// One request; with a viewer, only if it is visible to them.
    async fn signing_request(
        &self,
        firm_id: &FirmId,
        viewer: Option<&ClientViewer>,
        id: &SigningRequestId,
    ) -> Result<Option<SigningRequest>, StoreError>;
    /// The audit trail of a request, in order.
    async fn signing_events(
        &self,
        request_id: &SigningRequestId,
    ) -> Result<Vec<SigningEvent>, StoreError>;
    async fn list_signing_requests(
        &self,
        firm_id: &FirmId,
        query: &PageQuery<SigningStatus>,
    ) -> Result<Vec<SigningRequest>, StoreError>;
    /// The pending requests the viewer sees, oldest first, with their signers' names.
    async fn pending_signing_requests(
        &self,
        firm_id: &FirmId,
        viewer: &ClientViewer,
        limit: i64,
    ) -> Result<Vec<PendingRequest>, StoreError>;
    /// Appends a `viewed` event; false when the request is not this contact's.
    async fn record_signing_view(
        &self,
        firm_id: &FirmId,
        contact_id: &ContactId,
        id: &SigningRequestId,
        origin: &EventOrigin,
    ) -> Result<bool, StoreError>;
    /// Signs or declines a pending request of this contact, with its event, atomically.
    async fn complete_signing(
        &self,
        firm_id: &FirmId,
        contact_id: &ContactId,
        id: &SigningRequestId,
        outcome: &Outcome,
        origin: &EventOrigin,
    ) -> Result<Completion, StoreError>;
}

macro_rules! request_columns {
    () => {
        "id, firm_id, contact_id, title, document_name, document_size, document_sha256, status, \
         signed_name, decline_reason, completed_at, created_at, account_id"
    };
}

macro_rules! signing_store {
    ($backend:ty) => {
        impl SqlStore<$backend> {
            /// Appends an event. The caller has updated the request row in `tx`, which locks
            /// it until commit, so the next sequence number cannot be taken twice.
            #[allow(clippy::too_many_arguments)]
            async fn append_event(
                tx: &mut sqlx::Transaction<'_, $backend>,
                request_id: &SigningRequestId,
                kind: &str,
                contact_id: Option<&ContactId>,
                typed_name: Option<&str>,
                reason: Option<&str>,
                origin: &EventOrigin,
                now: i64,
            ) -> Result<(), StoreError> {
                sqlx::query(
                    "INSERT INTO signing_events (request_id, seq, kind, contact_id, typed_name, \
                     reason, ip, user_agent, document_sha256, created_at) VALUES ($1, \
                     (SELECT COALESCE(MAX(seq), 0) + 1 FROM signing_events WHERE request_id = $1), \
                     $2, $3, $4, $5, $6, $7, $8, $9)",
                )
                .bind(request_id)
                .bind(kind)
                .bind(contact_id)
                .bind(typed_name)
                .bind(reason)
                .bind(&origin.ip)
                .bind(&origin.user_agent)
                .bind(&origin.document_sha256)
                .bind(now)
                .execute(&mut **tx)
                .await?;
                Ok(())
            }
        }

        #[async_trait]
        impl SigningStore for SqlStore<$backend> {
            async fn create_signing_request(
                &self,
                firm_id: &FirmId,
                new: &NewSigningRequest,
                origin: &EventOrigin,
            ) -> Result<SigningRequest, StoreError> {
                let now = now_unix();
                let mut tx = self.writer.begin().await?;
                // Only a contact of the same firm can be asked.
                let request: Option<SigningRequest> = sqlx::query_as(concat!(
                    "INSERT INTO signing_requests (id, firm_id, contact_id, title, document_name, \
                     document_size, document_sha256, created_at, account_id) \
                     SELECT $1, firm_id, id, $4, $5, $6, $7, $8, $9 FROM contacts \
                     WHERE firm_id = $2 AND id = $3 AND ($9 IS NULL OR account_id = $9) RETURNING ",
                    request_columns!()
                ))
                .bind(SigningRequestId::new())
                .bind(firm_id)
                .bind(&new.contact_id)
                .bind(&new.title)
                .bind(&new.document_name)
                .bind(new.document_size)
                .bind(&new.document_sha256)
                .bind(now)
                .bind(new.account_id.as_ref())
                .fetch_optional(&mut *tx)
                .await?;
                let request = request.ok_or_else(|| match &new.account_id {
                    // The contact exists but is not of that account, or neither exists: the
                    // account is what the caller can correct either way.
                    Some(account_id) => {
                        StoreError::UnknownReference("account_id", account_id.to_string())
                    }
                    None => StoreError::UnknownReference("contact_id", new.contact_id.to_string()),
                })?;
                Self::append_event(&mut tx, &request.id, "created", None, None, None, origin, now)
                    .await?;
                tx.commit().await?;
                Ok(request)
            }

            async fn signing_request(
                &self,
                firm_id: &FirmId,
                viewer: Option<&ClientViewer>,
                id: &SigningRequestId,
            ) -> Result<Option<SigningRequest>, StoreError> {
                Ok(sqlx::query_as(concat!(
                    "SELECT ",
                    request_columns!(),
                    " FROM signing_requests s WHERE s.firm_id = $1 AND s.id = $2 \
                     AND ($3 IS NULL OR ",
                    visible_by_contact!("s", "$1", "$3", "$4"),
                    ")"
                ))
                .bind(firm_id)
                .bind(id)
                .bind(viewer.map(|v| &v.contact_id))
                .bind(viewer.and_then(|v| v.account.as_ref()))
                .fetch_optional(&self.pool)
                .await?)
            }

            async fn signing_events(
                &self,
                request_id: &SigningRequestId,
            ) -> Result<Vec<SigningEvent>, StoreError> {
                Ok(sqlx::query_as(
                    "SELECT seq, kind, contact_id, typed_name, reason, ip, user_agent, \
                     document_sha256, created_at FROM signing_events WHERE request_id = $1 \
                     ORDER BY seq",
                )
                .bind(request_id)
                .fetch_all(&self.pool)
                .await?)
            }

            async fn list_signing_requests(
                &self,
                firm_id: &FirmId,
                query: &PageQuery<SigningStatus>,
            ) -> Result<Vec<SigningRequest>, StoreError> {
                Ok(fetch_page!(
                    &self.pool,
                    concat!("SELECT ", request_columns!(), " FROM signing_requests"),
                    "signing_requests",
                    firm_id,
                    query
                )?)
            }

            async fn pending_signing_requests(
                &self,
                firm_id: &FirmId,
                viewer: &ClientViewer,
                limit: i64,
            ) -> Result<Vec<PendingRequest>, StoreError> {
                Ok(sqlx::query_as(concat!(
                    "SELECT ",
                    request_columns!(),
                    ", (SELECT sc.name FROM contacts sc \
                       WHERE sc.firm_id = s.firm_id AND sc.id = s.contact_id) AS signer_name \
                     FROM ",
                    visible_ids!("signing_requests", "$1", "$2", "$3"),
                    " v CROSS JOIN signing_requests s WHERE s.id = v.visible_id AND s.firm_id = $1 \
                     AND s.status = 'pending' ORDER BY s.created_at, s.id LIMIT $4"
                ))
                .bind(firm_id)
                .bind(&viewer.contact_id)
                .bind(viewer.account.as_ref())
                .bind(limit)
                .fetch_all(&self.pool)
                .await?)
            }

            async fn record_signing_view(
                &self,
                firm_id: &FirmId,
                contact_id: &ContactId,
                id: &SigningRequestId,
                origin: &EventOrigin,
            ) -> Result<bool, StoreError> {
                let now = now_unix();
                let mut tx = self.writer.begin().await?;
                let found = sqlx::query(
                    "UPDATE signing_requests SET status = status \
                     WHERE firm_id = $1 AND contact_id = $2 AND id = $3",
                )
                .bind(firm_id)
                .bind(contact_id)
                .bind(id)
                .execute(&mut *tx)
                .await?;
                if found.rows_affected() == 0 {
                    return Ok(false);
                }
                Self::append_event(&mut tx, id, "viewed", Some(contact_id), None, None, origin, now)
                    .await?;
                tx.commit().await?;
                Ok(true)
            }

            async fn complete_signing(
                &self,
                firm_id: &FirmId,
                contact_id: &ContactId,
                id: &SigningRequestId,
                outcome: &Outcome,
                origin: &EventOrigin,
            ) -> Result<Completion, StoreError> {
                let now = now_unix();
                let (status, typed_name, reason) = match outcome {
                    Outcome::Signed { typed_name } => {
                        (SigningStatus::Signed, Some(typed_name.as_str()), None)
                    }
                    Outcome::Declined { reason } => {
                        (SigningStatus::Declined, None, Some(reason.as_str()))
                    }
                };
                let mut tx = self.writer.begin().await?;
                let done: Option<SigningRequest> = sqlx::query_as(concat!(
                    "UPDATE signing_requests SET status = $4, signed_name = $5, \
                     decline_reason = $6, completed_at = $7 \
                     WHERE firm_id = $1 AND contact_id = $2 AND id = $3 AND status = 'pending' \
                     AND ($4 = 'declined' OR document_sha256 = $8) RETURNING ",
                    request_columns!()
                ))
                .bind(firm_id)
                .bind(contact_id)
                .bind(id)
                .bind(status)
                .bind(typed_name)
                .bind(reason)
                .bind(now)
                .bind(&origin.document_sha256)
                .fetch_optional(&mut *tx)
                .await?;
                let Some(done) = done else {
                    drop(tx);
                    let signer = ClientViewer::own(contact_id.clone());
                    return Ok(match self.signing_request(firm_id, Some(&signer), id).await? {
                        None => Completion::NotFound,
                        Some(current) if current.status != SigningStatus::Pending => {
                            Completion::AlreadyCompleted(current)
                        }
                        Some(_) => Completion::DocumentChanged,
                    });
                };
                // The event is named as the status it reached.
                let kind = status.as_str();
                Self::append_event(&mut tx, id, kind, Some(contact_id), typed_name, reason, origin, now)
                    .await?;
                record_activity!(
                    &mut *tx,
                    firm_id,
                    contact_id,
                    kind,
                    id.as_str(),
                    &done.title,
                    now
                )?;
                tx.commit().await?;
                Ok(Completion::Done(done))
            }
        }
    };
}
signing_store!(Sqlite);
signing_store!(Postgres);
