//! Client requests as staff see them: `/api/v1/conversations…`, and staff replies.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use portico_shared::ids::ConversationId;
use portico_shared::status::ConversationStatus;
use portico_shared::store::{Conversation, Message, PageQuery};
use serde::Deserialize;
use serde_json::{Value, json};

use super::pagination::{ByContactAndStatus, Page, contact_filter};
use super::route::{ApiRoute, ok, rfc3339};
use crate::error::{Error, Result};
use crate::http::extract::ApiQuery;
use crate::http::extract::{ApiFirm, ApiJson};
use crate::http::views::message_body;
use crate::i18n::Lang;
use crate::services::notify;
use crate::state::AppState;

pub fn routes() -> Vec<ApiRoute> {
    vec![
        ApiRoute::get("/conversations", list),
        ApiRoute::get("/conversations/{id}", show),
        ApiRoute::post("/conversations/{id}/messages", reply),
    ]
}

fn view(conversation: &Conversation) -> Value {
    json!({
        "id": conversation.id,
        "contact_id": conversation.contact_id,
        "subject": conversation.subject,
        "status": conversation.status,
        "created_at": rfc3339(conversation.created_at),
        "last_message_at": rfc3339(conversation.last_message_at),
    })
}

fn message_view(message: &Message) -> Value {
    json!({
        "id": message.id,
        "author": message.author,
        "body": message.body,
        "created_at": rfc3339(message.created_at),
    })
}

async fn list(
    State(state): State<AppState>,
    ApiFirm(firm): ApiFirm,
    ApiQuery(query): ApiQuery<ByContactAndStatus>,
) -> Result<Response> {
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
            },
        )
        .await?;
    Ok(page.respond(rows, |c| (c.created_at, c.id.as_str()), view))
}

async fn show(
    State(state): State<AppState>,
    ApiFirm(firm): ApiFirm,
    Path(id): Path<String>,
) -> Result<Response> {
    let id = ConversationId::parse(&id).ok_or(Error::NotFound)?;
    let (conversation, messages) = state
        .store
        .conversation(&firm.id, None, &id)
        .await?
        .ok_or(Error::NotFound)?;
    let mut body = view(&conversation);
    body["messages"] = messages.iter().map(message_view).collect();
    Ok(ok(StatusCode::OK, body))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Reply {
    body: String,
}

async fn reply(
    State(state): State<AppState>,
    ApiFirm(firm): ApiFirm,
    Path(id): Path<String>,
    ApiJson(reply): ApiJson<Reply>,
) -> Result<Response> {
    let id = ConversationId::parse(&id).ok_or(Error::NotFound)?;
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
        .add_message(&firm.id, None, &id, "staff", &body)
        .await?
        .ok_or(Error::NotFound)?;
    let (conversation, _) = state
        .store
        .conversation(&firm.id, None, &id)
        .await?
        .ok_or(Error::NotFound)?;
    notify::request_reply(&state, &firm, &conversation, &body).await?;
    Ok(ok(StatusCode::CREATED, message_view(&message)))
}
