//! Contacts (a firm's clients), their portal access, and their invitations.

use async_trait::async_trait;
use serde::Serialize;
use sqlx::{Postgres, Sqlite};

use super::console::name_key;
use super::{SqlStore, StoreError, on_unique};
use crate::client_access::{ClientAccess, PermissionSetRef, SetBase};
use crate::email::Email;
use crate::ids::{ClientAccountId, ContactId, FirmId, MemberId, PermissionSetId};
use crate::now_unix;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct Contact {
    pub id: ContactId,
    pub firm_id: FirmId,
    pub name: String,
    pub email: String,
    pub portal_access: bool,
    /// Links and sessions carry the epoch they were made under; a bump voids them all.
    #[serde(skip)]
    pub auth_epoch: i64,
    pub last_login_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
    /// The portal language the client chose (`en`, `de`); `None` follows the browser.
    pub language: Option<String>,
    pub notify_task_shared: bool,
    pub notify_signature_requested: bool,
    pub notify_request_reply: bool,
    /// The client account the contact belongs to (every contact has one).
    pub account_id: ClientAccountId,
    /// The permission set, as stored: `client_manager`, `client_staff` or a custom set's id
    /// (`client_access::PermissionSetRef`).
    pub permission_set: String,
}

/// The emails a client can turn off in their settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Notification {
    TaskShared,
    SignatureRequested,
    RequestReply,
}

impl Contact {
    /// Whether this contact wants emails of this kind.
    pub fn wants(&self, kind: Notification) -> bool {
        match kind {
            Notification::TaskShared => self.notify_task_shared,
            Notification::SignatureRequested => self.notify_signature_requested,
            Notification::RequestReply => self.notify_request_reply,
        }
    }
}

/// What a client edits on their settings page, all at once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Preferences {
    pub name: String,
    pub language: String,
    pub notify_task_shared: bool,
    pub notify_signature_requested: bool,
    pub notify_request_reply: bool,
}

#[derive(Debug)]
pub struct NewContact {
    pub name: String,
    pub email: Email,
    pub portal_access: bool,
    /// The account to join; `None` makes a personal account named after the contact.
    pub account_id: Option<ClientAccountId>,
    /// `None`: `client_manager` of a new personal account, `client_staff` of an existing one.
    pub permission_set: Option<PermissionSetRef>,
}

/// A partial update: `None` leaves a field as it is.
#[derive(Debug, Default)]
pub struct ContactPatch {
    pub name: Option<String>,
    pub email: Option<Email>,
    pub portal_access: Option<bool>,
    /// Moves the contact to this account; without `permission_set` they join it as
    /// `client_staff` (joining never grants more than the least built-in set).
    pub account_id: Option<ClientAccountId>,
    pub permission_set: Option<PermissionSetRef>,
}

/// A page of a firm's contacts, oldest first, after the `(created_at, id)` cursor.
#[derive(Debug)]
pub struct ContactQuery {
    pub after: Option<(i64, String)>,
    pub limit: i64,
    pub email: Option<Email>,
    pub portal_access: Option<bool>,
    /// Only the contacts assigned to this member (a role's "assigned" scope).
    pub assigned_to: Option<MemberId>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct Invitation {
    pub contact_id: ContactId,
    pub sent_at: i64,
    pub expires_at: i64,
    pub send_count: i64,
    pub accepted_at: Option<i64>,
}

/// A contact as a signed-in page needs them: with whether the same email also has portal
/// access at another firm (the page header then offers a company switcher).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionContact {
    pub contact: Contact,
    pub other_companies: bool,
    /// The firm's portal version (migration 0010): it changes with every write to what the
    /// home page shows. `None` only if the firm has no version row, which disables caching.
    pub portal_version: Option<i64>,
    /// What the contact's permission set lets them do, resolved in the same statement.
    pub access: ClientAccess,
}

/// [`SessionContact`] as its statement reads it: the custom set's row, if the contact holds
/// one, joined beside the contact.
#[derive(sqlx::FromRow)]
struct SessionRow {
    #[sqlx(flatten)]
    contact: Contact,
    other_companies: bool,
    portal_version: Option<i64>,
    set_base: Option<String>,
    set_off: Option<String>,
}

impl From<SessionRow> for SessionContact {
    fn from(row: SessionRow) -> SessionContact {
        let access = ClientAccess::resolve(
            &row.contact.permission_set,
            row.set_base.as_deref(),
            row.set_off.as_deref(),
        );
        SessionContact {
            contact: row.contact,
            other_companies: row.other_companies,
            portal_version: row.portal_version,
            access,
        }
    }
}

/// A sign-in to note: the contact, and the auth epoch its link was issued under.
#[derive(Clone, Debug)]
pub struct SignIn {
    pub firm_id: FirmId,
    pub contact_id: ContactId,
    pub epoch: i64,
    pub via_invitation: bool,
}

#[async_trait]
pub trait ContactStore {
    /// `Conflict("email")` when the firm already has a contact with this address.
    async fn create_contact(
        &self,
        firm_id: &FirmId,
        new: &NewContact,
    ) -> Result<Contact, StoreError>;
    async fn contact(
        &self,
        firm_id: &FirmId,
        id: &ContactId,
    ) -> Result<Option<Contact>, StoreError>;
    /// The contact behind a session, in one query with [`SessionContact::other_companies`].
    async fn session_contact(
        &self,
        firm_id: &FirmId,
        id: &ContactId,
    ) -> Result<Option<SessionContact>, StoreError>;
    async fn contact_by_email(
        &self,
        firm_id: &FirmId,
        email: &Email,
    ) -> Result<Option<Contact>, StoreError>;
    async fn list_contacts(
        &self,
        firm_id: &FirmId,
        query: &ContactQuery,
    ) -> Result<Vec<Contact>, StoreError>;
    /// Applies the patch; revoking access or changing the email bumps the auth epoch, which
    /// ends the contact's sessions and voids their links.
    async fn update_contact(
        &self,
        firm_id: &FirmId,
        id: &ContactId,
        patch: &ContactPatch,
    ) -> Result<Option<Contact>, StoreError>;
    async fn delete_contact(&self, firm_id: &FirmId, id: &ContactId) -> Result<bool, StoreError>;
    /// A page of an account's contacts by name, after the contact `after`.
    async fn account_contacts(
        &self,
        firm_id: &FirmId,
        account_id: &ClientAccountId,
        after: Option<&ContactId>,
        limit: i64,
    ) -> Result<Vec<Contact>, StoreError>;
    /// Saves the client's own settings; `None` when there is no such contact.
    async fn update_preferences(
        &self,
        firm_id: &FirmId,
        id: &ContactId,
        prefs: &Preferences,
    ) -> Result<Option<Contact>, StoreError>;
    /// Notes each sign-in whose contact still has portal access under its `epoch` (the
    /// link's): the last-login time, and, for one through an invitation, the invitation as
    /// accepted. One statement notes them all (sign-ins arrive in bursts, and on SQLite every
    /// write waits for the one before). Per sign-in, in order: `false` when access was revoked
    /// or the epoch moved on: refuse that sign-in.
    async fn record_logins(&self, sign_ins: &[SignIn]) -> Result<Vec<bool>, StoreError>;
    /// Records that an invitation was (re)sent; a new one replaces the earlier.
    async fn record_invitation(
        &self,
        firm_id: &FirmId,
        contact_id: &ContactId,
        expires_at: i64,
    ) -> Result<Invitation, StoreError>;
    /// Every contact's stored address, in pages of `limit` ordered by contact id, after
    /// `after` (a contact id); for checking stored data, never on a request path.
    async fn stored_addresses(
        &self,
        after: &str,
        limit: i64,
    ) -> Result<Vec<StoredAddress>, StoreError>;
}

/// A contact's address as stored, with where it belongs: what `gateway contacts check`
/// reads.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StoredAddress {
    pub firm_slug: String,
    pub contact_id: String,
    pub email: String,
}

macro_rules! contact_columns {
    () => {
        "id, firm_id, name, email, portal_access, auth_epoch, last_login_at, created_at, updated_at, \
         language, notify_task_shared, notify_signature_requested, notify_request_reply, \
         account_id, permission_set"
    };
}

/// The same columns, of the contacts row aliased `c`.
macro_rules! contact_columns_of_c {
    () => {
        "c.id, c.firm_id, c.name, c.email, c.portal_access, c.auth_epoch, c.last_login_at, \
         c.created_at, c.updated_at, c.language, c.notify_task_shared, \
         c.notify_signature_requested, c.notify_request_reply, c.account_id, c.permission_set"
    };
}

macro_rules! contact_store {
    ($backend:ty) => {
        impl SqlStore<$backend> {
            /// `UnknownReference("account_id")` unless the firm has this account.
            pub(super) async fn check_account(
                tx: &mut sqlx::Transaction<'_, $backend>,
                firm_id: &FirmId,
                account_id: &ClientAccountId,
            ) -> Result<(), StoreError> {
                Self::check_reference(tx, "account_id", firm_id, account_id.as_str()).await
            }

            /// `UnknownReference("permission_set")` unless the firm has this custom set.
            pub(super) async fn check_permission_set(
                tx: &mut sqlx::Transaction<'_, $backend>,
                firm_id: &FirmId,
                set: &PermissionSetId,
            ) -> Result<(), StoreError> {
                Self::check_reference(tx, "permission_set", firm_id, set.as_str()).await
            }

            /// `UnknownReference(field)` unless the firm has the row `id` that `field` names.
            async fn check_reference(
                tx: &mut sqlx::Transaction<'_, $backend>,
                field: &'static str,
                firm_id: &FirmId,
                id: &str,
            ) -> Result<(), StoreError> {
                let sql = match field {
                    "account_id" => "SELECT id FROM client_accounts WHERE firm_id = $1 AND id = $2",
                    _ => "SELECT id FROM permission_sets WHERE firm_id = $1 AND id = $2",
                };
                let found: Option<String> = sqlx::query_scalar(sql)
                    .bind(firm_id)
                    .bind(id)
                    .fetch_optional(&mut **tx)
                    .await?;
                found
                    .map(|_| ())
                    .ok_or_else(|| StoreError::UnknownReference(field, id.to_string()))
            }
        }

        #[async_trait]
        impl ContactStore for SqlStore<$backend> {
            async fn create_contact(
                &self,
                firm_id: &FirmId,
                new: &NewContact,
            ) -> Result<Contact, StoreError> {
                let now = now_unix();
                let mut tx = self.writer.begin().await?;
                if let Some(PermissionSetRef::Custom(set)) = &new.permission_set {
                    Self::check_permission_set(&mut tx, firm_id, set).await?;
                }
                let (account_id, default_set) = match &new.account_id {
                    Some(account_id) => {
                        Self::check_account(&mut tx, firm_id, account_id).await?;
                        (account_id.clone(), SetBase::ClientStaff)
                    }
                    None => {
                        // A personal account of its own, named after the contact.
                        let account_id = ClientAccountId::new();
                        sqlx::query(
                            "INSERT INTO client_accounts \
                             (id, firm_id, name, name_norm, created_at, updated_at) \
                             VALUES ($1, $2, $3, $4, $5, $5)",
                        )
                        .bind(&account_id)
                        .bind(firm_id)
                        .bind(&new.name)
                        .bind(name_key(&new.name))
                        .bind(now)
                        .execute(&mut *tx)
                        .await?;
                        (account_id, SetBase::ClientManager)
                    }
                };
                let permission_set = new
                    .permission_set
                    .clone()
                    .unwrap_or(PermissionSetRef::Builtin(default_set));
                let contact = sqlx::query_as(concat!(
                    "INSERT INTO contacts (id, firm_id, name, email, email_norm, portal_access, \
                     created_at, updated_at, name_norm, account_id, permission_set) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $8, $9, $10) \
                     RETURNING ",
                    contact_columns!()
                ))
                .bind(ContactId::new())
                .bind(firm_id)
                .bind(&new.name)
                .bind(new.email.as_str())
                .bind(new.email.normalized())
                .bind(new.portal_access)
                .bind(now)
                .bind(name_key(&new.name))
                .bind(&account_id)
                .bind(permission_set.as_str())
                .fetch_one(&mut *tx)
                .await
                .map_err(on_unique("email"))?;
                tx.commit().await?;
                Ok(contact)
            }

            async fn contact(
                &self,
                firm_id: &FirmId,
                id: &ContactId,
            ) -> Result<Option<Contact>, StoreError> {
                Ok(sqlx::query_as(concat!(
                    "SELECT ",
                    contact_columns!(),
                    " FROM contacts WHERE firm_id = $1 AND id = $2"
                ))
                .bind(firm_id)
                .bind(id)
                .fetch_optional(&self.pool)
                .await?)
            }

            async fn session_contact(
                &self,
                firm_id: &FirmId,
                id: &ContactId,
            ) -> Result<Option<SessionContact>, StoreError> {
                let row: Option<SessionRow> = sqlx::query_as(concat!(
                    "SELECT ",
                    contact_columns_of_c!(),
                    ", EXISTS (SELECT 1 FROM contacts other WHERE other.email_norm = c.email_norm \
                       AND other.portal_access AND other.firm_id <> c.firm_id) AS other_companies, \
                     (SELECT version FROM portal_versions WHERE portal_versions.firm_id = c.firm_id) \
                       AS portal_version, \
                     ps.base AS set_base, ps.off AS set_off \
                     FROM contacts c LEFT JOIN permission_sets ps \
                       ON ps.firm_id = c.firm_id AND ps.id = c.permission_set \
                     WHERE c.firm_id = $1 AND c.id = $2"
                ))
                .bind(firm_id)
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
                Ok(row.map(SessionContact::from))
            }

            async fn contact_by_email(
                &self,
                firm_id: &FirmId,
                email: &Email,
            ) -> Result<Option<Contact>, StoreError> {
                Ok(sqlx::query_as(concat!(
                    "SELECT ",
                    contact_columns!(),
                    " FROM contacts WHERE firm_id = $1 AND email_norm = $2"
                ))
                .bind(firm_id)
                .bind(email.normalized())
                .fetch_optional(&self.pool)
                .await?)
            }

            async fn list_contacts(
                &self,
                firm_id: &FirmId,
                query: &ContactQuery,
            ) -> Result<Vec<Contact>, StoreError> {
                let (after_time, after_id) = query.after.clone().unwrap_or((i64::MIN, String::new()));
                Ok(sqlx::query_as(concat!(
                    "SELECT ",
                    contact_columns!(),
                    " FROM contacts WHERE firm_id = $1 AND (created_at, id) > ($2, $3) \
                     AND ($4 IS NULL OR email_norm = $4) \
                     AND ($5 IS NULL OR portal_access = $5) \
                     AND ($7 IS NULL OR id IN (SELECT cm.contact_id FROM contact_members cm \
                          WHERE cm.firm_id = $1 AND cm.member_id = $7)) \
                     ORDER BY created_at, id LIMIT $6"
                ))
                .bind(firm_id)
                .bind(after_time)
                .bind(after_id)
                .bind(query.email.as_ref().map(|e| e.normalized()))
                .bind(query.portal_access)
                .bind(query.limit)
                .bind(query.assigned_to.as_ref())
                .fetch_all(&self.pool)
                .await?)
            }

            async fn update_contact(
                &self,
                firm_id: &FirmId,
                id: &ContactId,
                patch: &ContactPatch,
            ) -> Result<Option<Contact>, StoreError> {
                let mut tx = self.writer.begin().await?;
                if let Some(account_id) = &patch.account_id {
                    Self::check_account(&mut tx, firm_id, account_id).await?;
                }
                if let Some(PermissionSetRef::Custom(set)) = &patch.permission_set {
                    Self::check_permission_set(&mut tx, firm_id, set).await?;
                }
                // Moving to another account without naming a set joins it as client staff.
                let permission_set = patch.permission_set.as_ref().map(|set| set.as_str());
                let joined_as = patch
                    .account_id
                    .as_ref()
                    .map(|_| SetBase::ClientStaff.as_str());
                let contact = sqlx::query_as(concat!(
                    "UPDATE contacts SET \
                     auth_epoch = auth_epoch + CASE \
                         WHEN $5 IS NOT NULL AND $5 <> email_norm THEN 1 \
                         WHEN $6 IS NOT NULL AND NOT $6 AND portal_access THEN 1 \
                         ELSE 0 END, \
                     name = COALESCE($3, name), \
                     name_norm = COALESCE($8, name_norm), \
                     email = COALESCE($4, email), \
                     email_norm = COALESCE($5, email_norm), \
                     portal_access = COALESCE($6, portal_access), \
                     permission_set = COALESCE($10, \
                         CASE WHEN $9 IS NOT NULL AND $9 <> account_id THEN $11 END, \
                         permission_set), \
                     account_id = COALESCE($9, account_id), \
                     updated_at = $7 \
                     WHERE firm_id = $1 AND id = $2 RETURNING ",
                    contact_columns!()
                ))
                .bind(firm_id)
                .bind(id)
                .bind(patch.name.as_deref())
                .bind(patch.email.as_ref().map(|e| e.as_str()))
                .bind(patch.email.as_ref().map(|e| e.normalized()))
                .bind(patch.portal_access)
                .bind(now_unix())
                .bind(patch.name.as_deref().map(name_key))
                .bind(patch.account_id.as_ref())
                .bind(permission_set)
                .bind(joined_as)
                .fetch_optional(&mut *tx)
                .await
                .map_err(on_unique("email"))?;
                tx.commit().await?;
                Ok(contact)
            }

            async fn delete_contact(
                &self,
                firm_id: &FirmId,
                id: &ContactId,
            ) -> Result<bool, StoreError> {
                let done = sqlx::query("DELETE FROM contacts WHERE firm_id = $1 AND id = $2")
                    .bind(firm_id)
                    .bind(id)
                    .execute(&self.writer)
                    .await?;
                Ok(done.rows_affected() > 0)
            }

            async fn account_contacts(
                &self,
                firm_id: &FirmId,
                account_id: &ClientAccountId,
                after: Option<&ContactId>,
                limit: i64,
            ) -> Result<Vec<Contact>, StoreError> {
                Ok(sqlx::query_as(concat!(
                    "SELECT ",
                    contact_columns!(),
                    " FROM contacts WHERE firm_id = $1 AND account_id = $2 \
                     AND ($3 IS NULL OR (name_norm, id) > \
                          ((SELECT p.name_norm FROM contacts p WHERE p.firm_id = $1 AND p.id = $3), $3)) \
                     ORDER BY name_norm, id LIMIT $4"
                ))
                .bind(firm_id)
                .bind(account_id)
                .bind(after)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?)
            }

            async fn update_preferences(
                &self,
                firm_id: &FirmId,
                id: &ContactId,
                prefs: &Preferences,
            ) -> Result<Option<Contact>, StoreError> {
                Ok(sqlx::query_as(concat!(
                    "UPDATE contacts SET name = $3, language = $4, notify_task_shared = $5, \
                     notify_signature_requested = $6, notify_request_reply = $7, updated_at = $8, \
                     name_norm = $9 \
                     WHERE firm_id = $1 AND id = $2 RETURNING ",
                    contact_columns!()
                ))
                .bind(firm_id)
                .bind(id)
                .bind(&prefs.name)
                .bind(&prefs.language)
                .bind(prefs.notify_task_shared)
                .bind(prefs.notify_signature_requested)
                .bind(prefs.notify_request_reply)
                .bind(now_unix())
                .bind(name_key(&prefs.name))
                .fetch_optional(&self.writer)
                .await?)
            }

            async fn record_logins(&self, sign_ins: &[SignIn]) -> Result<Vec<bool>, StoreError> {
                if sign_ins.is_empty() {
                    return Ok(Vec::new());
                }
                let now = now_unix();
                // One transaction: the sign-ins, their invitations and their activity rows
                // are noted together or not at all.
                let mut tx = self.writer.begin().await?;
                // The primary key finds the rows; the row values check firm and epoch.
                let mut update = sqlx::QueryBuilder::<$backend>::new(
                    "UPDATE contacts SET last_login_at = ",
                );
                update.push_bind(now).push(" WHERE portal_access AND id IN (");
                let mut ids = update.separated(", ");
                for sign_in in sign_ins {
                    ids.push_bind(&sign_in.contact_id);
                }
                update.push(") AND (firm_id, id, auth_epoch) IN (");
                update.push_values(sign_ins, |mut row, sign_in| {
                    row.push_bind(&sign_in.firm_id)
                        .push_bind(&sign_in.contact_id)
                        .push_bind(sign_in.epoch);
                });
                update.push(") RETURNING firm_id, id");
                let noted: Vec<(FirmId, ContactId)> =
                    update.build_query_as().fetch_all(&mut *tx).await?;
                let recorded: Vec<bool> = sign_ins
                    .iter()
                    .map(|s| noted.iter().any(|(f, c)| *f == s.firm_id && *c == s.contact_id))
                    .collect();
                for (sign_in, _) in sign_ins
                    .iter()
                    .zip(&recorded)
                    .filter(|(s, recorded)| **recorded && s.via_invitation)
                {
                    sqlx::query(
                        "UPDATE invitations SET accepted_at = $3 \
                         WHERE firm_id = $1 AND contact_id = $2 AND accepted_at IS NULL",
                    )
                    .bind(&sign_in.firm_id)
                    .bind(&sign_in.contact_id)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                    sqlx::query(
                        "UPDATE contacts SET invite_state = 'accepted' \
                         WHERE firm_id = $1 AND id = $2 AND invite_state = 'invited'",
                    )
                    .bind(&sign_in.firm_id)
                    .bind(&sign_in.contact_id)
                    .execute(&mut *tx)
                    .await?;
                }
                // Each sign-in noted is one row of the firm's activity, in one statement.
                let signed_in: Vec<&SignIn> = sign_ins
                    .iter()
                    .zip(&recorded)
                    .filter(|(_, recorded)| **recorded)
                    .map(|(s, _)| s)
                    .collect();
                if !signed_in.is_empty() {
                    let mut insert = sqlx::QueryBuilder::<$backend>::new(
                        "INSERT INTO activity (id, firm_id, contact_id, kind, created_at) ",
                    );
                    insert.push_values(signed_in, |mut row, sign_in| {
                        row.push_bind(crate::ids::new_id("ac"))
                            .push_bind(&sign_in.firm_id)
                            .push_bind(&sign_in.contact_id)
                            .push_bind("signed_in")
                            .push_bind(now);
                    });
                    insert.build().execute(&mut *tx).await?;
                }
                tx.commit().await?;
                Ok(recorded)
            }

            async fn stored_addresses(
                &self,
                after: &str,
                limit: i64,
            ) -> Result<Vec<StoredAddress>, StoreError> {
                Ok(sqlx::query_as(
                    "SELECT firms.slug AS firm_slug, contacts.id AS contact_id, contacts.email \
                     FROM contacts JOIN firms ON firms.id = contacts.firm_id \
                     WHERE contacts.id > $1 ORDER BY contacts.id LIMIT $2",
                )
                .bind(after)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?)
            }

            async fn record_invitation(
                &self,
                firm_id: &FirmId,
                contact_id: &ContactId,
                expires_at: i64,
            ) -> Result<Invitation, StoreError> {
                let mut tx = self.writer.begin().await?;
                sqlx::query(
                    "UPDATE contacts SET invite_state = 'invited' WHERE firm_id = $1 AND id = $2",
                )
                .bind(firm_id)
                .bind(contact_id)
                .execute(&mut *tx)
                .await?;
                let invitation = sqlx::query_as(
                    "INSERT INTO invitations (contact_id, firm_id, sent_at, expires_at) \
                     VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (contact_id) DO UPDATE SET sent_at = excluded.sent_at, \
                     expires_at = excluded.expires_at, accepted_at = NULL, \
                     send_count = invitations.send_count + 1 \
                     RETURNING contact_id, sent_at, expires_at, send_count, accepted_at",
                )
                .bind(contact_id)
                .bind(firm_id)
                .bind(now_unix())
                .bind(expires_at)
                .fetch_one(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(invitation)
            }
        }
    };
}
contact_store!(Sqlite);
contact_store!(Postgres);
