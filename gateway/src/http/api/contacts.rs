//! Contacts and their portal access: `/api/v1/contacts…`, and invitations.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use portico_shared::email::Email;
use portico_shared::ids::{ContactId, FirmId};
use portico_shared::store::{Contact, ContactPatch, ContactQuery, NewContact};
use serde::Deserialize;
use serde_json::{Value, json};

use super::pagination::Page;
use super::route::{ApiRoute, ok, rfc3339};
use crate::error::{Error, Result};
use crate::http::extract::ApiQuery;
use crate::http::extract::{ApiFirm, ApiJson};
use crate::services::links;
use crate::state::AppState;

const MAX_NAME: usize = 200;

pub fn routes() -> Vec<ApiRoute> {
    vec![
        ApiRoute::post("/contacts", create),
        ApiRoute::get("/contacts", list),
        ApiRoute::get("/contacts/{id}", show),
        ApiRoute::patch("/contacts/{id}", update),
        ApiRoute::delete("/contacts/{id}", remove),
        ApiRoute::post("/contacts/{id}/invitation", invite),
    ]
}

fn view(contact: &Contact) -> Value {
    json!({
        "id": contact.id,
        "name": contact.name,
        "email": contact.email,
        "portal_access": contact.portal_access,
        "last_login_at": contact.last_login_at.map(rfc3339),
        "created_at": rfc3339(contact.created_at),
        "updated_at": rfc3339(contact.updated_at),
    })
}

fn parse_name(name: &str) -> Result<String> {
    let name = name.trim();
    if name.is_empty() {
        return Err(Error::invalid("name", "name must not be empty"));
    }
    if name.chars().count() > MAX_NAME || name.chars().any(char::is_control) {
        return Err(Error::invalid(
            "name",
            format!("name must be at most {MAX_NAME} characters, without control characters"),
        ));
    }
    Ok(name.to_string())
}

fn parse_email(email: &str) -> Result<Email> {
    Email::parse(email).map_err(|problem| Error::invalid("email", problem))
}

fn email_taken(e: Error) -> Error {
    match e {
        Error::Conflict { .. } => Error::Conflict {
            code: "email_taken",
            message: "the firm already has a contact with this email address".into(),
        },
        other => other,
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateContact {
    name: String,
    email: String,
    #[serde(default)]
    portal_access: bool,
}

async fn create(
    State(state): State<AppState>,
    ApiFirm(firm): ApiFirm,
    ApiJson(body): ApiJson<CreateContact>,
) -> Result<Response> {
    let new = NewContact {
        name: parse_name(&body.name)?,
        email: parse_email(&body.email)?,
        portal_access: body.portal_access,
    };
    let contact = state
        .store
        .create_contact(&firm.id, &new)
        .await
        .map_err(|e| email_taken(e.into()))?;
    Ok(ok(StatusCode::CREATED, view(&contact)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    limit: Option<i64>,
    cursor: Option<String>,
    email: Option<String>,
    portal_access: Option<bool>,
}

async fn list(
    State(state): State<AppState>,
    ApiFirm(firm): ApiFirm,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Response> {
    let page = Page::new(query.limit, query.cursor)?;
    let query = ContactQuery {
        after: page.after()?,
        limit: page.fetch(),
        email: query.email.as_deref().map(parse_email).transpose()?,
        portal_access: query.portal_access,
    };
    let contacts = state.store.list_contacts(&firm.id, &query).await?;
    Ok(page.respond(contacts, |c| (c.created_at, c.id.as_str()), view))
}

async fn find(state: &AppState, firm_id: &FirmId, id: &str) -> Result<Contact> {
    let id = ContactId::parse(id).ok_or(Error::NotFound)?;
    state
        .store
        .contact(firm_id, &id)
        .await?
        .ok_or(Error::NotFound)
}

async fn show(
    State(state): State<AppState>,
    ApiFirm(firm): ApiFirm,
    Path(id): Path<String>,
) -> Result<Response> {
    Ok(ok(
        StatusCode::OK,
        view(&find(&state, &firm.id, &id).await?),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UpdateContact {
    name: Option<String>,
    email: Option<String>,
    portal_access: Option<bool>,
}

/// Revoking access or changing the email ends the contact's sessions and voids their links at
/// once (the store bumps their auth epoch, which every session and link is checked against).
async fn update(
    State(state): State<AppState>,
    ApiFirm(firm): ApiFirm,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<UpdateContact>,
) -> Result<Response> {
    let id = ContactId::parse(&id).ok_or(Error::NotFound)?;
    let patch = ContactPatch {
        name: body.name.as_deref().map(parse_name).transpose()?,
        email: body.email.as_deref().map(parse_email).transpose()?,
        portal_access: body.portal_access,
    };
    let contact = state
        .store
        .update_contact(&firm.id, &id, &patch)
        .await
        .map_err(|e| email_taken(e.into()))?
        .ok_or(Error::NotFound)?;
    Ok(ok(StatusCode::OK, view(&contact)))
}

async fn remove(
    State(state): State<AppState>,
    ApiFirm(firm): ApiFirm,
    Path(id): Path<String>,
) -> Result<Response> {
    let id = ContactId::parse(&id).ok_or(Error::NotFound)?;
    if !state.store.delete_contact(&firm.id, &id).await? {
        return Err(Error::NotFound);
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Sends (or resends, replacing the earlier) the "Access your account" email.
async fn invite(
    State(state): State<AppState>,
    ApiFirm(firm): ApiFirm,
    Path(id): Path<String>,
) -> Result<Response> {
    let contact = find(&state, &firm.id, &id).await?;
    if !contact.portal_access {
        return Err(Error::Conflict {
            code: "no_portal_access",
            message: "grant portal access (PATCH portal_access: true) before inviting".into(),
        });
    }
    let expires_at = links::invite(&state, &firm, &contact).await?;
    let invitation = state
        .store
        .record_invitation(&firm.id, &contact.id, expires_at)
        .await?;
    Ok(ok(
        StatusCode::ACCEPTED,
        json!({
            "contact_id": contact.id,
            "sent_to": contact.email,
            "sent_at": rfc3339(invitation.sent_at),
            "expires_at": rfc3339(invitation.expires_at),
            "send_count": invitation.send_count,
        }),
    ))
}
