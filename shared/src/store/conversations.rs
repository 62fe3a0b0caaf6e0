//! Requests from clients to their firm, as conversations of messages. A conversation belongs to
//! one contact and may be shared with its account; the portal reads it through what the viewer
//! sees (`visibility`), the API through the firm.

use async_trait::async_trait;
use serde::Serialize;
use sqlx::{Postgres, Sqlite};

use super::{ClientViewer, PageQuery, SqlStore, StoreError};
use crate::ids::{ClientAccountId, ContactId, ConversationId, FirmId, MemberId, MessageId};
use crate::now_unix;
use crate::status::ConversationStatus;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct Conversation {
    pub id: ConversationId,
    pub firm_id: FirmId,
    pub contact_id: ContactId,
    pub subject: String,
    pub status: ConversationStatus,
    pub created_at: i64,
    pub last_message_at: i64,
    /// The client's account when shared with it as a whole.
    pub account_id: Option<ClientAccountId>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct Message {
    pub id: MessageId,
    pub conversation_id: ConversationId,
    /// `client` or `staff`
    pub author: String,
    pub body: String,
    pub created_at: i64,
    /// The member who wrote a staff reply (none for clients' messages and earlier replies).
    pub member_id: Option<MemberId>,
}

#[async_trait]
pub trait ConversationStore {
    /// A client starts a conversation with its first message.
    async fn start_conversation(
        &self,
        firm_id: &FirmId,
        contact_id: &ContactId,
        subject: &str,
        body: &str,
    ) -> Result<Conversation, StoreError>;
    /// Adds a message; `None` when the conversation is not in this firm (or, with a viewer,
    /// not visible to them: a client's message is then theirs). A staff reply names its member.
    async fn add_message(
        &self,
        firm_id: &FirmId,
        viewer: Option<&ClientViewer>,
        conversation_id: &ConversationId,
        author: &str,
        body: &str,
        member_id: Option<&MemberId>,
    ) -> Result<Option<Message>, StoreError>;
    /// A conversation and its messages, oldest first; scoped to the viewer when given.
    async fn conversation(
        &self,
        firm_id: &FirmId,
        viewer: Option<&ClientViewer>,
        id: &ConversationId,
    ) -> Result<Option<(Conversation, Vec<Message>)>, StoreError>;
    /// Shares the conversation with its contact's client account (`Some`), or stops sharing
    /// it (`None`); `UnknownReference("account_id")` for any other account. `None` when the
    /// firm has no such conversation.
    async fn share_conversation(
        &self,
        firm_id: &FirmId,
        id: &ConversationId,
        account_id: Option<&ClientAccountId>,
    ) -> Result<Option<Conversation>, StoreError>;
    /// The conversations the viewer sees, most recently active first.
    async fn client_conversations(
        &self,
        firm_id: &FirmId,
        viewer: &ClientViewer,
        limit: i64,
    ) -> Result<Vec<Conversation>, StoreError>;
    async fn list_conversations(
        &self,
        firm_id: &FirmId,
        query: &PageQuery<ConversationStatus>,
    ) -> Result<Vec<Conversation>, StoreError>;
}

macro_rules! conversation_columns {
    () => {
        "id, firm_id, contact_id, subject, status, created_at, last_message_at, account_id"
    };
}

macro_rules! conversation_store {
    ($backend:ty) => {
        #[async_trait]
        impl ConversationStore for SqlStore<$backend> {
            async fn start_conversation(
                &self,
                firm_id: &FirmId,
                contact_id: &ContactId,
                subject: &str,
                body: &str,
            ) -> Result<Conversation, StoreError> {
                let now = now_unix();
                let mut tx = self.writer.begin().await?;
                let conversation: Conversation = sqlx::query_as(concat!(
                    "INSERT INTO conversations (id, firm_id, contact_id, subject, created_at, \
                     last_message_at, awaiting_reply) VALUES ($1, $2, $3, $4, $5, $5, TRUE) \
                     RETURNING ",
                    conversation_columns!()
                ))
                .bind(ConversationId::new())
                .bind(firm_id)
                .bind(contact_id)
                .bind(subject)
                .bind(now)
                .fetch_one(&mut *tx)
                .await?;
                sqlx::query(
                    "INSERT INTO messages (id, conversation_id, seq, author, body, created_at) \
                     VALUES ($1, $2, 1, 'client', $3, $4)",
                )
                .bind(MessageId::new())
                .bind(&conversation.id)
                .bind(body)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                record_activity!(
                    &mut *tx,
                    firm_id,
                    contact_id,
                    "request_sent",
                    conversation.id.as_str(),
                    subject,
                    now
                )?;
                tx.commit().await?;
                Ok(conversation)
            }

            async fn add_message(
                &self,
                firm_id: &FirmId,
                viewer: Option<&ClientViewer>,
                conversation_id: &ConversationId,
                author: &str,
                body: &str,
                member_id: Option<&MemberId>,
            ) -> Result<Option<Message>, StoreError> {
                let now = now_unix();
                let mut tx = self.writer.begin().await?;
                let touched: Option<(ContactId, String)> = sqlx::query_as(concat!(
                    "UPDATE conversations SET last_message_at = $4, status = 'open', \
                     awaiting_reply = $5 \
                     WHERE firm_id = $1 AND id = $2 AND ($3 IS NULL OR ",
                    visible_by_contact!("conversations", "$1", "$3", "$6"),
                    ") RETURNING contact_id, subject"
                ))
                .bind(firm_id)
                .bind(conversation_id)
                .bind(viewer.map(|v| &v.contact_id))
                .bind(now)
                .bind(author == "client")
                .bind(viewer.and_then(|v| v.account.as_ref()))
                .fetch_optional(&mut *tx)
                .await?;
                let Some((owner, subject)) = touched else {
                    return Ok(None);
                };
                // The activity names who wrote: a manager may answer a colleague's request.
                let client = viewer.map_or(owner, |v| v.contact_id.clone());
                if author == "client" {
                    record_activity!(
                        &mut *tx,
                        firm_id,
                        &client,
                        "request_sent",
                        conversation_id.as_str(),
                        &subject,
                        now
                    )?;
                }
                // The conversation row updated above is locked until commit, so the next
                // sequence number cannot be taken twice.
                let message: Message = sqlx::query_as(
                    "INSERT INTO messages (id, conversation_id, seq, author, body, created_at, \
                     member_id) VALUES ($1, $2, (SELECT COALESCE(MAX(seq), 0) + 1 FROM messages \
                     WHERE conversation_id = $2), $3, $4, $5, $6) \
                     RETURNING id, conversation_id, author, body, created_at, member_id",
                )
                .bind(MessageId::new())
                .bind(conversation_id)
                .bind(author)
                .bind(body)
                .bind(now)
                .bind(member_id)
                .fetch_one(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(Some(message))
            }

            async fn share_conversation(
                &self,
                firm_id: &FirmId,
                id: &ConversationId,
                account_id: Option<&ClientAccountId>,
            ) -> Result<Option<Conversation>, StoreError> {
                // Only the account of the conversation's own contact, checked in the update.
                let shared: Option<Conversation> = sqlx::query_as(concat!(
                    "UPDATE conversations SET account_id = $3 \
                     WHERE firm_id = $1 AND id = $2 AND ($3 IS NULL OR $3 = \
                         (SELECT c.account_id FROM contacts c \
                          WHERE c.firm_id = $1 AND c.id = conversations.contact_id)) \
                     RETURNING ",
                    conversation_columns!()
                ))
                .bind(firm_id)
                .bind(id)
                .bind(account_id)
                .fetch_optional(&self.writer)
                .await?;
                match (shared, account_id) {
                    (Some(conversation), _) => Ok(Some(conversation)),
                    (None, Some(account_id)) if self.conversation(firm_id, None, id).await?.is_some() => {
                        Err(StoreError::UnknownReference("account_id", account_id.to_string()))
                    }
                    (None, _) => Ok(None),
                }
            }

            async fn conversation(
                &self,
                firm_id: &FirmId,
                viewer: Option<&ClientViewer>,
                id: &ConversationId,
            ) -> Result<Option<(Conversation, Vec<Message>)>, StoreError> {
                let conversation: Option<Conversation> = sqlx::query_as(concat!(
                    "SELECT ",
                    conversation_columns!(),
                    " FROM conversations r WHERE r.firm_id = $1 AND r.id = $2 \
                     AND ($3 IS NULL OR ",
                    visible_by_contact!("r", "$1", "$3", "$4"),
                    ")"
                ))
                .bind(firm_id)
                .bind(id)
                .bind(viewer.map(|v| &v.contact_id))
                .bind(viewer.and_then(|v| v.account.as_ref()))
                .fetch_optional(&self.pool)
                .await?;
                let Some(conversation) = conversation else {
                    return Ok(None);
                };
                let messages: Vec<Message> = sqlx::query_as(
                    "SELECT id, conversation_id, author, body, created_at, member_id FROM messages \
                     WHERE conversation_id = $1 ORDER BY seq",
                )
                .bind(&conversation.id)
                .fetch_all(&self.pool)
                .await?;
                Ok(Some((conversation, messages)))
            }

            async fn client_conversations(
                &self,
                firm_id: &FirmId,
                viewer: &ClientViewer,
                limit: i64,
            ) -> Result<Vec<Conversation>, StoreError> {
                Ok(sqlx::query_as(concat!(
                    "SELECT ",
                    conversation_columns!(),
                    " FROM ",
                    visible_ids!("conversations", "$1", "$2", "$3"),
                    " v CROSS JOIN conversations r WHERE r.id = v.visible_id AND r.firm_id = $1 \
                     ORDER BY r.last_message_at DESC, r.id LIMIT $4"
                ))
                .bind(firm_id)
                .bind(&viewer.contact_id)
                .bind(viewer.account.as_ref())
                .bind(limit)
                .fetch_all(&self.pool)
                .await?)
            }

            async fn list_conversations(
                &self,
                firm_id: &FirmId,
                query: &PageQuery<ConversationStatus>,
            ) -> Result<Vec<Conversation>, StoreError> {
                Ok(fetch_page!(
                    &self.pool,
                    concat!("SELECT ", conversation_columns!(), " FROM conversations"),
                    "conversations",
                    firm_id,
                    query
                )?)
            }
        }
    };
}
conversation_store!(Sqlite);
conversation_store!(Postgres);
