//! What the staff console reads beside each aggregate's own queries: the contact list (a prefix
//! search of name or email, filtered by access and invitation status, in keyset pages), a
//! contact's related lists, the dashboard (requests waiting, signatures pending, tasks overdue,
//! recent client activity), the conversation inbox, and staff replies signed by their member.
//!
//! Every query reads a bounded part of an index (migration 0012), never the firm's whole
//! table: a page costs the same in a firm of ten contacts and of a hundred thousand. With the
//! scope "assigned clients only" (`assigned_to`), a query starts from the member's rows of
//! `contact_members`, so it reads what the member looks after, not the firm.

use async_trait::async_trait;
use serde::Serialize;
use sqlx::{Postgres, Sqlite};

use super::{Invitation, SqlStore, StoreError};
use crate::ids::{
    ClientAccountId, ContactId, ConversationId, FirmId, MemberId, MessageId, SigningRequestId,
    TaskId,
};
use crate::status::{ConversationStatus, SigningStatus, TaskStatus};

/// A contact's name as the list sorts and searches it (`contacts.name_norm`).
pub fn name_key(name: &str) -> String {
    name.trim().to_lowercase()
}

/// The exclusive end of the range of texts that start with `prefix`, in code-point order
/// (SQLite's binary collation; `COLLATE "C"` on PostgreSQL).
fn prefix_end(prefix: &str) -> String {
    format!("{prefix}\u{10FFFF}")
}

/// Where a contact's invitation stands (`contacts.invite_state`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum InviteState {
    /// Never invited.
    None,
    /// Invited; the invitation has not been used to sign in.
    Invited,
    /// Signed in through the invitation.
    Accepted,
}

impl InviteState {
    pub const ALL: [InviteState; 3] = [
        InviteState::None,
        InviteState::Invited,
        InviteState::Accepted,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            InviteState::None => "none",
            InviteState::Invited => "invited",
            InviteState::Accepted => "accepted",
        }
    }

    pub fn parse(text: &str) -> Option<InviteState> {
        InviteState::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

/// A page of the contact list, ordered by name (or, for a contact found by its email, by the
/// email), after the `(sort_key, id)` of the previous page's last row.
#[derive(Clone, Debug, Default)]
pub struct ContactListQuery {
    /// A prefix of the name or of the email address, as typed.
    pub search: Option<String>,
    pub portal_access: Option<bool>,
    pub invite_state: Option<InviteState>,
    /// Only the contacts assigned to this member.
    pub assigned_to: Option<MemberId>,
    pub after: Option<(String, String)>,
    pub limit: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct ContactListRow {
    pub id: ContactId,
    pub name: String,
    pub email: String,
    pub portal_access: bool,
    /// `none`, `invited` or `accepted`.
    pub invite_state: String,
    pub last_login_at: Option<i64>,
    /// What the row is ordered by: the lower-cased name, or the email when only it matched.
    pub sort_key: String,
}

/// A page of the conversation inbox, most recently active first, before the
/// `(last_message_at, id)` of the previous page's last row.
#[derive(Clone, Debug, Default)]
pub struct InboxQuery {
    pub assigned_to: Option<MemberId>,
    /// Only conversations whose last message is the client's.
    pub waiting_only: bool,
    pub before: Option<(i64, String)>,
    pub limit: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct InboxRow {
    pub id: ConversationId,
    pub contact_id: ContactId,
    pub contact_name: String,
    pub subject: String,
    pub status: ConversationStatus,
    /// The last message is the client's: the firm owes an answer.
    pub awaiting_reply: bool,
    pub created_at: i64,
    pub last_message_at: i64,
    /// The client's account when the conversation is shared with it as a whole.
    pub account_id: Option<ClientAccountId>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct PendingSignature {
    pub id: SigningRequestId,
    pub title: String,
    pub contact_id: ContactId,
    pub contact_name: String,
    pub status: SigningStatus,
    pub created_at: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct OverdueTask {
    pub id: TaskId,
    pub title: String,
    /// `YYYY-MM-DD`
    pub due_date: Option<String>,
    pub status: TaskStatus,
    pub portal: bool,
    pub created_at: i64,
}

/// One thing a client did (migration 0011's `activity`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct ActivityRow {
    /// `signed_in`, `task_completed`, `document_uploaded`, `signed`, `declined`, `request_sent`
    pub kind: String,
    pub contact_id: ContactId,
    pub contact_name: String,
    pub subject_id: Option<String>,
    pub subject: String,
    pub created_at: i64,
}

/// A message as staff read it: a staff reply names the member who wrote it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct StaffMessage {
    pub id: MessageId,
    /// `client` or `staff`
    pub author: String,
    pub body: String,
    pub created_at: i64,
    /// The member's name (or email) for a staff reply written by a member still in the team.
    pub member_name: Option<String>,
}

#[async_trait]
pub trait ConsoleStore {
    /// One page of the contact list (up to `limit` rows).
    async fn contact_list(
        &self,
        firm_id: &FirmId,
        query: &ContactListQuery,
    ) -> Result<Vec<ContactListRow>, StoreError>;
    /// Whether a contact of the firm is assigned to the member.
    async fn is_assigned(
        &self,
        firm_id: &FirmId,
        contact_id: &ContactId,
        member_id: &MemberId,
    ) -> Result<bool, StoreError>;
    /// The contact's latest invitation, if one was ever sent.
    async fn contact_invitation(
        &self,
        firm_id: &FirmId,
        contact_id: &ContactId,
    ) -> Result<Option<Invitation>, StoreError>;
    /// The tasks assigned to a contact, newest first (ids and titles for the contact page).
    async fn contact_tasks(
        &self,
        firm_id: &FirmId,
        contact_id: &ContactId,
        limit: i64,
    ) -> Result<Vec<OverdueTask>, StoreError>;
    /// The signing requests of a contact, newest first.
    async fn contact_signing_requests(
        &self,
        firm_id: &FirmId,
        contact_id: &ContactId,
        limit: i64,
    ) -> Result<Vec<PendingSignature>, StoreError>;
    /// Conversations waiting for the firm's answer, longest waiting first.
    async fn waiting_conversations(
        &self,
        firm_id: &FirmId,
        assigned_to: Option<&MemberId>,
        limit: i64,
    ) -> Result<Vec<InboxRow>, StoreError>;
    /// Signing requests not yet signed or declined, oldest first.
    async fn pending_signatures(
        &self,
        firm_id: &FirmId,
        assigned_to: Option<&MemberId>,
        limit: i64,
    ) -> Result<Vec<PendingSignature>, StoreError>;
    /// Open tasks due before `today` (`YYYY-MM-DD`), most overdue first; with `assigned_to`,
    /// those with an assignee the member looks after.
    async fn overdue_tasks(
        &self,
        firm_id: &FirmId,
        assigned_to: Option<&MemberId>,
        today: &str,
        limit: i64,
    ) -> Result<Vec<OverdueTask>, StoreError>;
    /// What clients did since `since` (Unix seconds), newest first.
    async fn recent_activity(
        &self,
        firm_id: &FirmId,
        assigned_to: Option<&MemberId>,
        since: i64,
        limit: i64,
    ) -> Result<Vec<ActivityRow>, StoreError>;
    /// One page of the conversation inbox.
    async fn inbox(
        &self,
        firm_id: &FirmId,
        query: &InboxQuery,
    ) -> Result<Vec<InboxRow>, StoreError>;
    /// One conversation as the inbox shows it.
    async fn inbox_conversation(
        &self,
        firm_id: &FirmId,
        id: &ConversationId,
    ) -> Result<Option<InboxRow>, StoreError>;
    /// A conversation's messages, oldest first, with the names of the members who replied.
    async fn staff_messages(
        &self,
        conversation_id: &ConversationId,
    ) -> Result<Vec<StaffMessage>, StoreError>;
}

macro_rules! list_columns {
    ($t:literal) => {
        concat!(
            $t,
            ".id, ",
            $t,
            ".name, ",
            $t,
            ".email, ",
            $t,
            ".portal_access, ",
            $t,
            ".invite_state, ",
            $t,
            ".last_login_at"
        )
    };
}

macro_rules! inbox_columns {
    () => {
        "cv.id, cv.contact_id, c.name AS contact_name, cv.subject, cv.status, cv.awaiting_reply, \
         cv.created_at, cv.last_message_at, cv.account_id"
    };
}

macro_rules! signature_columns {
    () => {
        "s.id, s.title, s.contact_id, c.name AS contact_name, s.status, s.created_at"
    };
}

macro_rules! task_row_columns {
    () => {
        "t.id, t.title, t.due_date, t.status, t.portal, t.created_at"
    };
}

macro_rules! console_store {
    ($backend:ty) => {
        impl SqlStore<$backend> {
            /// The contact list over the whole firm: one branch per combination of the two
            /// filters and per key searched, each an exact range of an index read in order and
            /// cut at `limit`, merged and cut again. At most 3 × 2 × 2 branches of `limit` rows.
            async fn firm_contact_list(
                &self,
                firm_id: &FirmId,
                query: &ContactListQuery,
                prefix: Option<&str>,
            ) -> Result<Vec<ContactListRow>, StoreError> {
                let accesses: Vec<bool> = match query.portal_access {
                    Some(access) => vec![access],
                    None => vec![true, false],
                };
                let states: Vec<InviteState> = match query.invite_state {
                    Some(state) => vec![state],
                    None => InviteState::ALL.to_vec(),
                };
                let keys: &[&str] = if prefix.is_some() {
                    &["name_norm", "email_norm"]
                } else {
                    &["name_norm"]
                };
                let mut sql = sqlx::QueryBuilder::<$backend>::new(
                    "SELECT id, name, email, portal_access, invite_state, last_login_at, sort_key \
                     FROM (",
                );
                let mut branch = 0;
                for access in &accesses {
                    for state in &states {
                        for key in keys {
                            if branch > 0 {
                                sql.push(" UNION ALL ");
                            }
                            sql.push("SELECT * FROM (SELECT ")
                                .push(list_columns!("c"))
                                .push(format_args!(", c.{key} AS sort_key FROM contacts c WHERE c.firm_id = "))
                                .push_bind(firm_id)
                                .push(" AND c.portal_access = ")
                                .push_bind(*access)
                                .push(" AND c.invite_state = ")
                                .push_bind(state.as_str());
                            if let Some(prefix) = prefix {
                                sql.push(format_args!(" AND c.{key} >= "))
                                    .push_bind(prefix.to_string())
                                    .push(format_args!(" AND c.{key} < "))
                                    .push_bind(prefix_end(prefix));
                                if *key == "email_norm" {
                                    // Found by its name already: listed once, by the name.
                                    sql.push(" AND NOT (c.name_norm >= ")
                                        .push_bind(prefix.to_string())
                                        .push(" AND c.name_norm < ")
                                        .push_bind(prefix_end(prefix))
                                        .push(")");
                                }
                            }
                            if let Some((after_key, after_id)) = &query.after {
                                sql.push(format_args!(" AND (c.{key}, c.id) > ("))
                                    .push_bind(after_key.clone())
                                    .push(", ")
                                    .push_bind(after_id.clone())
                                    .push(")");
                            }
                            sql.push(format_args!(" ORDER BY c.{key}, c.id LIMIT "))
                                .push_bind(query.limit)
                                .push(format_args!(") AS b{branch}"));
                            branch += 1;
                        }
                    }
                }
                sql.push(") AS page ORDER BY sort_key, id LIMIT ")
                    .push_bind(query.limit);
                Ok(sql.build_query_as().fetch_all(&self.pool).await?)
            }

            /// The inbox of one member's scope: driven from the ids the scope reaches, so it
            /// costs what they look after, not what the firm has.
            async fn member_inbox(
                &self,
                firm_id: &FirmId,
                member: &MemberId,
                query: &InboxQuery,
            ) -> Result<Vec<InboxRow>, StoreError> {
                let (before_time, before_id) =
                    query.before.clone().unwrap_or((i64::MAX, String::new()));
                Ok(sqlx::query_as(concat!(
                    "SELECT ",
                    inbox_columns!(),
                    " FROM ",
                    scoped_list!("conversations", "$1", "$2"),
                    " si CROSS JOIN conversations cv JOIN contacts c ON c.id = cv.contact_id \
                     WHERE cv.id = si.scoped_id AND cv.firm_id = $1 \
                     AND (cv.awaiting_reply = TRUE OR $3 = FALSE) \
                     AND (cv.last_message_at, cv.id) < ($4, $5) \
                     ORDER BY cv.last_message_at DESC, cv.id DESC LIMIT $6"
                ))
                .bind(firm_id)
                .bind(member)
                .bind(query.waiting_only)
                .bind(before_time)
                .bind(before_id)
                .bind(query.limit)
                .fetch_all(&self.pool)
                .await?)
            }

            /// The contact list of one member's contacts: read from their assignments, so it
            /// costs what they look after, not what the firm has.
            async fn member_contact_list(
                &self,
                firm_id: &FirmId,
                member_id: &MemberId,
                query: &ContactListQuery,
                prefix: Option<&str>,
            ) -> Result<Vec<ContactListRow>, StoreError> {
                let mut sql = sqlx::QueryBuilder::<$backend>::new(
                    "SELECT id, name, email, portal_access, invite_state, last_login_at, sort_key \
                     FROM (SELECT ",
                );
                sql.push(list_columns!("c"));
                match prefix {
                    Some(prefix) => {
                        sql.push(", CASE WHEN c.name_norm >= ")
                            .push_bind(prefix.to_string())
                            .push(" AND c.name_norm < ")
                            .push_bind(prefix_end(prefix))
                            .push(" THEN c.name_norm ELSE c.email_norm END AS sort_key");
                    }
                    None => {
                        sql.push(", c.name_norm AS sort_key");
                    }
                }
                sql.push(
                    " FROM contact_members cm CROSS JOIN contacts c \
                     WHERE cm.member_id = ",
                )
                .push_bind(member_id)
                .push(" AND c.id = cm.contact_id AND c.firm_id = ")
                .push_bind(firm_id);
                if let Some(access) = query.portal_access {
                    sql.push(" AND c.portal_access = ").push_bind(access);
                }
                if let Some(state) = query.invite_state {
                    sql.push(" AND c.invite_state = ").push_bind(state.as_str());
                }
                if let Some(prefix) = prefix {
                    sql.push(" AND ((c.name_norm >= ")
                        .push_bind(prefix.to_string())
                        .push(" AND c.name_norm < ")
                        .push_bind(prefix_end(prefix))
                        .push(") OR (c.email_norm >= ")
                        .push_bind(prefix.to_string())
                        .push(" AND c.email_norm < ")
                        .push_bind(prefix_end(prefix))
                        .push("))");
                }
                sql.push(") AS mine");
                if let Some((after_key, after_id)) = &query.after {
                    sql.push(" WHERE (sort_key, id) > (")
                        .push_bind(after_key.clone())
                        .push(", ")
                        .push_bind(after_id.clone())
                        .push(")");
                }
                sql.push(" ORDER BY sort_key, id LIMIT ").push_bind(query.limit);
                Ok(sql.build_query_as().fetch_all(&self.pool).await?)
            }
        }

        #[async_trait]
        impl ConsoleStore for SqlStore<$backend> {
            async fn contact_list(
                &self,
                firm_id: &FirmId,
                query: &ContactListQuery,
            ) -> Result<Vec<ContactListRow>, StoreError> {
                let prefix = query
                    .search
                    .as_deref()
                    .map(name_key)
                    .filter(|p| !p.is_empty());
                match &query.assigned_to {
                    Some(member) => {
                        self.member_contact_list(firm_id, member, query, prefix.as_deref())
                            .await
                    }
                    None => self.firm_contact_list(firm_id, query, prefix.as_deref()).await,
                }
            }

            async fn is_assigned(
                &self,
                firm_id: &FirmId,
                contact_id: &ContactId,
                member_id: &MemberId,
            ) -> Result<bool, StoreError> {
                let (found,): (bool,) = sqlx::query_as(
                    "SELECT EXISTS (SELECT 1 FROM contact_members \
                     WHERE contact_id = $1 AND member_id = $2 AND firm_id = $3)",
                )
                .bind(contact_id)
                .bind(member_id)
                .bind(firm_id)
                .fetch_one(&self.pool)
                .await?;
                Ok(found)
            }

            async fn contact_invitation(
                &self,
                firm_id: &FirmId,
                contact_id: &ContactId,
            ) -> Result<Option<Invitation>, StoreError> {
                Ok(sqlx::query_as(
                    "SELECT contact_id, sent_at, expires_at, send_count, accepted_at \
                     FROM invitations WHERE contact_id = $1 AND firm_id = $2",
                )
                .bind(contact_id)
                .bind(firm_id)
                .fetch_optional(&self.pool)
                .await?)
            }

            async fn contact_tasks(
                &self,
                firm_id: &FirmId,
                contact_id: &ContactId,
                limit: i64,
            ) -> Result<Vec<OverdueTask>, StoreError> {
                Ok(sqlx::query_as(concat!(
                    "SELECT ",
                    task_row_columns!(),
                    " FROM task_assignees a JOIN tasks t ON t.id = a.task_id \
                     WHERE a.firm_id = $1 AND a.contact_id = $2 AND t.firm_id = $1 \
                     ORDER BY t.created_at DESC, t.id DESC LIMIT $3"
                ))
                .bind(firm_id)
                .bind(contact_id)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?)
            }

            async fn contact_signing_requests(
                &self,
                firm_id: &FirmId,
                contact_id: &ContactId,
                limit: i64,
            ) -> Result<Vec<PendingSignature>, StoreError> {
                // `+ 0`: ordered by an expression, not by the firm's (created_at, id) index,
                // which SQLite would otherwise walk whole to skip sorting the contact's few.
                Ok(sqlx::query_as(concat!(
                    "SELECT ",
                    signature_columns!(),
                    " FROM signing_requests s JOIN contacts c ON c.id = s.contact_id \
                     WHERE s.firm_id = $1 AND s.contact_id = $2 \
                     ORDER BY s.created_at + 0 DESC, s.id DESC LIMIT $3"
                ))
                .bind(firm_id)
                .bind(contact_id)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?)
            }

            async fn waiting_conversations(
                &self,
                firm_id: &FirmId,
                assigned_to: Option<&MemberId>,
                limit: i64,
            ) -> Result<Vec<InboxRow>, StoreError> {
                let rows = match assigned_to {
                    None => sqlx::query_as(concat!(
                        "SELECT ",
                        inbox_columns!(),
                        " FROM conversations cv JOIN contacts c ON c.id = cv.contact_id \
                         WHERE cv.firm_id = $1 AND cv.awaiting_reply = TRUE \
                         ORDER BY cv.last_message_at, cv.id LIMIT $2"
                    ))
                    .bind(firm_id)
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await?,
                    Some(member) => sqlx::query_as(concat!(
                        "SELECT ",
                        inbox_columns!(),
                        " FROM ",
                        scoped_list!("conversations", "$1", "$2"),
                        " si CROSS JOIN conversations cv JOIN contacts c ON c.id = cv.contact_id \
                         WHERE cv.id = si.scoped_id AND cv.firm_id = $1 \
                         AND cv.awaiting_reply = TRUE \
                         ORDER BY cv.last_message_at, cv.id LIMIT $3"
                    ))
                    .bind(firm_id)
                    .bind(member)
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await?,
                };
                Ok(rows)
            }

            async fn pending_signatures(
                &self,
                firm_id: &FirmId,
                assigned_to: Option<&MemberId>,
                limit: i64,
            ) -> Result<Vec<PendingSignature>, StoreError> {
                let rows = match assigned_to {
                    None => sqlx::query_as(concat!(
                        "SELECT ",
                        signature_columns!(),
                        " FROM signing_requests s JOIN contacts c ON c.id = s.contact_id \
                         WHERE s.firm_id = $1 AND s.status = 'pending' \
                         ORDER BY s.created_at, s.id LIMIT $2"
                    ))
                    .bind(firm_id)
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await?,
                    Some(member) => sqlx::query_as(concat!(
                        "SELECT ",
                        signature_columns!(),
                        " FROM ",
                        scoped_list!("signing_requests", "$1", "$2"),
                        " si CROSS JOIN signing_requests s JOIN contacts c ON c.id = s.contact_id \
                         WHERE s.id = si.scoped_id AND s.firm_id = $1 AND s.status = 'pending' \
                         ORDER BY s.created_at, s.id LIMIT $3"
                    ))
                    .bind(firm_id)
                    .bind(member)
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await?,
                };
                Ok(rows)
            }

            async fn overdue_tasks(
                &self,
                firm_id: &FirmId,
                assigned_to: Option<&MemberId>,
                today: &str,
                limit: i64,
            ) -> Result<Vec<OverdueTask>, StoreError> {
                let rows = match assigned_to {
                    None => sqlx::query_as(concat!(
                        "SELECT ",
                        task_row_columns!(),
                        " FROM tasks t WHERE t.firm_id = $1 AND t.status = 'open' \
                         AND t.due_date < $2 ORDER BY t.due_date, t.id LIMIT $3"
                    ))
                    .bind(firm_id)
                    .bind(today)
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await?,
                    Some(member) => sqlx::query_as(concat!(
                        "SELECT ",
                        task_row_columns!(),
                        " FROM ",
                        scoped_list!("tasks", "$1", "$2"),
                        " si CROSS JOIN tasks t \
                         WHERE t.id = si.scoped_id AND t.firm_id = $1 AND t.status = 'open' \
                         AND t.due_date < $3 ORDER BY t.due_date, t.id LIMIT $4"
                    ))
                    .bind(firm_id)
                    .bind(member)
                    .bind(today)
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await?,
                };
                Ok(rows)
            }

            async fn recent_activity(
                &self,
                firm_id: &FirmId,
                assigned_to: Option<&MemberId>,
                since: i64,
                limit: i64,
            ) -> Result<Vec<ActivityRow>, StoreError> {
                let rows = match assigned_to {
                    None => sqlx::query_as(
                        "SELECT a.kind, a.contact_id, c.name AS contact_name, a.subject_id, \
                         a.subject, a.created_at \
                         FROM activity a JOIN contacts c ON c.id = a.contact_id \
                         WHERE a.firm_id = $1 AND a.created_at >= $2 \
                         ORDER BY a.created_at DESC, a.id DESC LIMIT $3",
                    )
                    .bind(firm_id)
                    .bind(since)
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await?,
                    Some(member) => sqlx::query_as(
                        "SELECT a.kind, a.contact_id, c.name AS contact_name, a.subject_id, \
                         a.subject, a.created_at \
                         FROM contact_members cm CROSS JOIN activity a \
                         JOIN contacts c ON c.id = a.contact_id \
                         WHERE cm.member_id = $2 AND a.contact_id = cm.contact_id \
                         AND a.firm_id = $1 AND a.created_at >= $3 \
                         ORDER BY a.created_at DESC, a.id DESC LIMIT $4",
                    )
                    .bind(firm_id)
                    .bind(member)
                    .bind(since)
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await?,
                };
                Ok(rows)
            }

            async fn inbox(
                &self,
                firm_id: &FirmId,
                query: &InboxQuery,
            ) -> Result<Vec<InboxRow>, StoreError> {
                if let Some(member) = &query.assigned_to {
                    return self.member_inbox(firm_id, member, query).await;
                }
                let mut sql = sqlx::QueryBuilder::<$backend>::new(concat!(
                    "SELECT ",
                    inbox_columns!(),
                    " FROM conversations cv JOIN contacts c ON c.id = cv.contact_id \
                     WHERE cv.firm_id = "
                ));
                sql.push_bind(firm_id);
                if query.waiting_only {
                    sql.push(" AND cv.awaiting_reply = TRUE");
                }
                if let Some((time, id)) = &query.before {
                    sql.push(" AND (cv.last_message_at, cv.id) < (")
                        .push_bind(*time)
                        .push(", ")
                        .push_bind(id.clone())
                        .push(")");
                }
                sql.push(" ORDER BY cv.last_message_at DESC, cv.id DESC LIMIT ")
                    .push_bind(query.limit);
                Ok(sql.build_query_as().fetch_all(&self.pool).await?)
            }

            async fn inbox_conversation(
                &self,
                firm_id: &FirmId,
                id: &ConversationId,
            ) -> Result<Option<InboxRow>, StoreError> {
                Ok(sqlx::query_as(concat!(
                    "SELECT ",
                    inbox_columns!(),
                    " FROM conversations cv JOIN contacts c ON c.id = cv.contact_id \
                     WHERE cv.firm_id = $1 AND cv.id = $2"
                ))
                .bind(firm_id)
                .bind(id)
                .fetch_optional(&self.pool)
                .await?)
            }

            async fn staff_messages(
                &self,
                conversation_id: &ConversationId,
            ) -> Result<Vec<StaffMessage>, StoreError> {
                Ok(sqlx::query_as(
                    "SELECT m.id, m.author, m.body, m.created_at, \
                     CASE WHEN mb.id IS NULL THEN NULL WHEN mb.name = '' THEN mb.email \
                     ELSE mb.name END AS member_name \
                     FROM messages m LEFT JOIN members mb ON mb.id = m.member_id \
                     WHERE m.conversation_id = $1 ORDER BY m.seq",
                )
                .bind(conversation_id)
                .fetch_all(&self.pool)
                .await?)
            }

        }
    };
}
console_store!(Sqlite);
console_store!(Postgres);
