//! Client requests as staff see them: `/api/v1/conversations…`, and staff replies.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Json;
use portico_shared::ids::{ClientAccountId, ConversationId};
use portico_shared::policy::{Action, Area};
use portico_shared::status::ConversationStatus;
use portico_shared::store::{Conversation, Message, PageQuery, Scoped};
use serde::{Deserialize, Serialize};
use utoipa::openapi::schema::Object;
use utoipa::{IntoParams, OpenApi, ToSchema};

use super::ErrorBody;
use super::pagination::{ListPage, Page, contact_filter};
use super::route::{ApiRoute, one_of, rfc3339};
use crate::error::{Error, Result};
use crate::http::extract::ApiQuery;
use crate::http::extract::api::unknown_account;
use crate::http::extract::{ApiActor, ApiJson};
use crate::http::views::message_body;
use crate::i18n::Lang;
use crate::services::notify;
use crate::state::AppState;

pub fn routes() -> Vec<ApiRoute> {
    vec![
        ApiRoute::get("/conversations", list),
        ApiRoute::get("/conversations/{id}", show),
        ApiRoute::patch("/conversations/{id}", share),
        ApiRoute::post("/conversations/{id}/messages", reply),
    ]
}

#[derive(OpenApi)]
#[openapi(paths(list, show, share, reply))]
pub struct Doc;

fn conversation_status() -> Object {
    one_of(&["open", "closed"])
}

fn message_author() -> Object {
    one_of(&["client", "staff"])
}

/// A request a client started in the portal.
#[derive(Serialize, ToSchema)]
#[schema(as = Conversation)]
pub struct ConversationView {
    id: String,
    contact_id: String,
    subject: String,
    #[schema(schema_with = conversation_status)]
    status: String,
    #[schema(format = DateTime)]
    created_at: String,
    #[schema(format = DateTime)]
    last_message_at: String,
    /// The contact's client account when shared with it as a whole (its managers see it).
    #[schema(required = true)]
    account_id: Option<String>,
}

/// A conversation with its messages, oldest first.
#[derive(Serialize, ToSchema)]
#[schema(as = ConversationDetail)]
pub struct ConversationDetailView {
    #[serde(flatten)]
    conversation: ConversationView,
    messages: Vec<MessageView>,
}

/// One message of a conversation.
#[derive(Serialize, ToSchema)]
#[schema(as = Message)]
pub struct MessageView {
    id: String,
    #[schema(schema_with = message_author)]
    author: String,
    body: String,
    #[schema(format = DateTime)]
    created_at: String,
    /// The member who wrote a staff reply (absent on clients' messages and on replies
    /// written before members were recorded).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    member_id: Option<String>,
}

fn view(conversation: &Conversation) -> ConversationView {
    ConversationView {
        id: conversation.id.to_string(),
        contact_id: conversation.contact_id.to_string(),
        subject: conversation.subject.clone(),
        status: conversation.status.to_string(),
        created_at: rfc3339(conversation.created_at),
        last_message_at: rfc3339(conversation.last_message_at),
        account_id: conversation.account_id.as_ref().map(ToString::to_string),
    }
}

fn message_view(message: &Message) -> MessageView {
    MessageView {
        id: message.id.to_string(),
        author: message.author.clone(),
        body: message.body.clone(),
        created_at: rfc3339(message.created_at),
        member_id: message.member_id.as_ref().map(|m| m.to_string()),
    }
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    /// Page size, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200, default = 50)]
    limit: Option<i64>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
    /// Only this contact's
    contact_id: Option<String>,
    /// Only this status
    #[param(schema_with = conversation_status)]
    status: Option<String>,
}

/// List client requests, oldest first
#[utoipa::path(
    get,
    path = "/conversations",
    tag = "Conversations",
    operation_id = "listConversations",
    params(ListQuery),
    responses((status = 200, description = "A page", body = ListPage<ConversationView>))
)]
async fn list(
    State(state): State<AppState>,
    actor: ApiActor,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Json<ListPage<ConversationView>>> {
    let assigned_to = actor.scope(Area::Conversations, Action::View)?;
    let firm = actor.firm;
    let page = Page::new(query.limit, query.cursor)?;
    let status = query
        .status
        .as_deref()
        .map(|s| {
            ConversationStatus::parse(s)
                .ok_or_else(|| Error::invalid("status", "status must be open or closed"))
        })
        .transpose()?;
    let after = page.after()?;
    let Ok(contact_id) = contact_filter(query.contact_id.as_deref()) else {
        return Ok(page.empty());
    };
    let rows = state
        .store
        .list_conversations(
            &firm.id,
            &PageQuery {
                after,
                limit: page.fetch(),
                contact_id,
                status,
                assigned_to,
            },
        )
        .await?;
    Ok(page.respond(rows, |c| (c.created_at, c.id.as_str()), view))
}

/// A conversation with its messages
#[utoipa::path(
    get,
    path = "/conversations/{id}",
    tag = "Conversations",
    operation_id = "getConversation",
    params(("id" = String, Path, description = "Conversation id")),
    responses(
        (status = 200, description = "The conversation", body = ConversationDetailView),
        (status = 404, description = "No such conversation", body = ErrorBody),
    )
)]
async fn show(
    State(state): State<AppState>,
    actor: ApiActor,
    Path(id): Path<String>,
) -> Result<Json<ConversationDetailView>> {
    let scope = actor.scope(Area::Conversations, Action::View)?;
    let id = ConversationId::parse(&id).ok_or(Error::NotFound)?;
    actor
        .reach(&state, scope.as_ref(), Scoped::Conversation(&id))
        .await?;
    let firm = actor.firm;
    let (conversation, messages) = state
        .store
        .conversation(&firm.id, None, &id)
        .await?
        .ok_or(Error::NotFound)?;
    Ok(Json(ConversationDetailView {
        conversation: view(&conversation),
        messages: messages.iter().map(message_view).collect(),
    }))
}

/// Sharing a conversation with its contact's client account.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ConversationPatch)]
pub struct Share {
    /// The contact's client account, or `null` to stop sharing it.
    #[schema(required = true)]
    account_id: Option<String>,
}

/// Share a conversation with the client account
#[utoipa::path(
    patch,
    path = "/conversations/{id}",
    tag = "Conversations",
    operation_id = "shareConversation",
    params(("id" = String, Path, description = "Conversation id")),
    request_body = Share,
    responses(
        (status = 200, description = "The conversation now", body = ConversationView),
        (status = 404, description = "No such conversation", body = ErrorBody),
    )
)]
async fn share(
    State(state): State<AppState>,
    actor: ApiActor,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<Share>,
) -> Result<Json<ConversationView>> {
    let scope = actor.scope(Area::Conversations, Action::Edit)?;
    let id = ConversationId::parse(&id).ok_or(Error::NotFound)?;
    actor
        .reach(&state, scope.as_ref(), Scoped::Conversation(&id))
        .await?;
    let account_id = body
        .account_id
        .as_deref()
        .map(|a| ClientAccountId::parse(a).ok_or_else(|| unknown_account("account_id", a)))
        .transpose()?;
    let conversation = state
        .store
        .share_conversation(&actor.firm.id, &id, account_id.as_ref())
        .await?
        .ok_or(Error::NotFound)?;
    Ok(Json(view(&conversation)))
}

/// A reply from the firm.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Reply {
    #[schema(min_length = 1, max_length = 10000)]
    body: String,
}

/// Reply to a client
///
/// The client is emailed, as their settings allow.
#[utoipa::path(
    post,
    path = "/conversations/{id}/messages",
    tag = "Conversations",
    operation_id = "replyToConversation",
    params(("id" = String, Path, description = "Conversation id")),
    request_body = Reply,
    responses(
        (status = 201, description = "The reply", body = MessageView),
        (status = 404, description = "No such conversation", body = ErrorBody),
    )
)]
async fn reply(
    State(state): State<AppState>,
    actor: ApiActor,
    Path(id): Path<String>,
    ApiJson(reply): ApiJson<Reply>,
) -> Result<(StatusCode, Json<MessageView>)> {
    let scope = actor.scope(Area::Conversations, Action::Edit)?;
    let id = ConversationId::parse(&id).ok_or(Error::NotFound)?;
    actor
        .reach(&state, scope.as_ref(), Scoped::Conversation(&id))
        .await?;
    let (firm, member) = (actor.firm, actor.actor.member_id);
    // The API speaks English; the key names the portal's text for the same problem.
    let body = message_body(&reply.body).map_err(|key| {
        let text = state
            .templates
            .catalogs()
            .text(Lang::En, key)
            .unwrap_or(key);
        Error::invalid("body", text)
    })?;
    let message = state
        .store
        .add_message(&firm.id, None, &id, "staff", &body, Some(&member))
        .await?
        .ok_or(Error::NotFound)?;
    let (conversation, _) = state
        .store
        .conversation(&firm.id, None, &id)
        .await?
        .ok_or(Error::NotFound)?;
    notify::request_reply(&state, &firm, &conversation, &body).await?;
    Ok((StatusCode::CREATED, Json(message_view(&message))))
}
