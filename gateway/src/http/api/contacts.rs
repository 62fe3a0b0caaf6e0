//! Contacts and their portal access: `/api/v1/contacts…`, and invitations.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Json;
use portico_shared::email::Email;
use portico_shared::ids::{ContactId, FirmId};
use portico_shared::store::{Contact, ContactPatch, ContactQuery, NewContact};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, OpenApi, ToSchema};

use super::ErrorBody;
use super::pagination::{ListPage, Page};
use super::route::{ApiRoute, rfc3339};
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

#[derive(OpenApi)]
#[openapi(paths(create, list, show, update, remove, invite))]
pub struct Doc;

/// A client of the firm.
#[derive(Serialize, ToSchema)]
#[schema(as = Contact)]
pub struct ContactView {
    id: String,
    name: String,
    #[schema(format = "idn-email")]
    email: String,
    /// Whether the contact may sign in to the portal.
    portal_access: bool,
    #[schema(format = DateTime, required = true)]
    last_login_at: Option<String>,
    #[schema(format = DateTime)]
    created_at: String,
    #[schema(format = DateTime)]
    updated_at: String,
}

fn view(contact: &Contact) -> ContactView {
    ContactView {
        id: contact.id.to_string(),
        name: contact.name.clone(),
        email: contact.email.clone(),
        portal_access: contact.portal_access,
        last_login_at: contact.last_login_at.map(rfc3339),
        created_at: rfc3339(contact.created_at),
        updated_at: rfc3339(contact.updated_at),
    }
}

/// The invitation email just queued.
#[derive(Serialize, ToSchema)]
#[schema(as = Invitation)]
pub struct InvitationView {
    contact_id: String,
    #[schema(format = "idn-email")]
    sent_to: String,
    #[schema(format = DateTime)]
    sent_at: String,
    /// When the link in it stops working.
    #[schema(format = DateTime)]
    expires_at: String,
    /// How many invitations the contact has been sent, this one included.
    send_count: i64,
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

/// A new contact.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = NewContact)]
pub struct CreateContact {
    #[schema(min_length = 1, max_length = 200)]
    name: String,
    #[schema(format = "idn-email")]
    email: String,
    #[serde(default)]
    #[schema(default = false)]
    portal_access: bool,
}

/// Create a contact
#[utoipa::path(
    post,
    path = "/contacts",
    tag = "Contacts",
    operation_id = "createContact",
    request_body = CreateContact,
    responses(
        (status = 201, description = "Created", body = ContactView),
        (status = 409, description = "The firm already has a contact with this email (`email_taken`)", body = ErrorBody),
    )
)]
async fn create(
    State(state): State<AppState>,
    ApiFirm(firm): ApiFirm,
    ApiJson(body): ApiJson<CreateContact>,
) -> Result<(StatusCode, Json<ContactView>)> {
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
    Ok((StatusCode::CREATED, Json(view(&contact))))
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
    /// Only this address
    email: Option<String>,
    /// Only with (or without) portal access
    portal_access: Option<bool>,
}

/// List contacts, oldest first
#[utoipa::path(
    get,
    path = "/contacts",
    tag = "Contacts",
    operation_id = "listContacts",
    params(ListQuery),
    responses((status = 200, description = "A page", body = ListPage<ContactView>))
)]
async fn list(
    State(state): State<AppState>,
    ApiFirm(firm): ApiFirm,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Json<ListPage<ContactView>>> {
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

/// A contact
#[utoipa::path(
    get,
    path = "/contacts/{id}",
    tag = "Contacts",
    operation_id = "getContact",
    params(("id" = String, Path, description = "Contact id")),
    responses(
        (status = 200, description = "The contact", body = ContactView),
        (status = 404, description = "No such contact", body = ErrorBody),
    )
)]
async fn show(
    State(state): State<AppState>,
    ApiFirm(firm): ApiFirm,
    Path(id): Path<String>,
) -> Result<Json<ContactView>> {
    Ok(Json(view(&find(&state, &firm.id, &id).await?)))
}

/// Fields left out stay as they are. Revoking access or changing the email ends the
/// contact's sessions and voids their links.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ContactPatch)]
pub struct UpdateContact {
    #[schema(min_length = 1, max_length = 200, nullable = false)]
    name: Option<String>,
    #[schema(format = "idn-email", nullable = false)]
    email: Option<String>,
    #[schema(nullable = false)]
    portal_access: Option<bool>,
}

/// Change a contact
///
/// Revoking access or changing the email ends the contact's sessions and voids their links at
/// once (the store bumps their auth epoch, which every session and link is checked against).
#[utoipa::path(
    patch,
    path = "/contacts/{id}",
    tag = "Contacts",
    operation_id = "updateContact",
    params(("id" = String, Path, description = "Contact id")),
    request_body = UpdateContact,
    responses(
        (status = 200, description = "The contact now", body = ContactView),
        (status = 404, description = "No such contact", body = ErrorBody),
        (status = 409, description = "The firm already has a contact with this email (`email_taken`)", body = ErrorBody),
    )
)]
async fn update(
    State(state): State<AppState>,
    ApiFirm(firm): ApiFirm,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<UpdateContact>,
) -> Result<Json<ContactView>> {
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
    Ok(Json(view(&contact)))
}

/// Delete a contact (ends their sessions)
#[utoipa::path(
    delete,
    path = "/contacts/{id}",
    tag = "Contacts",
    operation_id = "deleteContact",
    params(("id" = String, Path, description = "Contact id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such contact", body = ErrorBody),
    )
)]
async fn remove(
    State(state): State<AppState>,
    ApiFirm(firm): ApiFirm,
    Path(id): Path<String>,
) -> Result<StatusCode> {
    let id = ContactId::parse(&id).ok_or(Error::NotFound)?;
    if !state.store.delete_contact(&firm.id, &id).await? {
        return Err(Error::NotFound);
    }
    Ok(StatusCode::NO_CONTENT)
}

/// Send (or resend) the invitation email
///
/// Sends (or resends, replacing the earlier) the "Access your account" email.
#[utoipa::path(
    post,
    path = "/contacts/{id}/invitation",
    tag = "Contacts",
    operation_id = "inviteContact",
    params(("id" = String, Path, description = "Contact id")),
    responses(
        (status = 202, description = "Queued", body = InvitationView),
        (status = 404, description = "No such contact", body = ErrorBody),
        (status = 409, description = "The contact has no portal access (`no_portal_access`)", body = ErrorBody),
    )
)]
async fn invite(
    State(state): State<AppState>,
    ApiFirm(firm): ApiFirm,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<InvitationView>)> {
    let contact = find(&state, &firm.id, &id).await?;
    if !contact.portal_access {
        return Err(Error::Conflict {
            code: "no_portal_access",
            message: "grant portal access (PATCH portal_access: true) before inviting".into(),
        });
    }
    if Email::parse(&contact.email).is_err() {
        return Err(Error::Conflict {
            code: "email_invalid",
            message: "the contact's stored email address is no longer accepted \
                      (gateway contacts check lists such contacts): correct it (PATCH email) \
                      before inviting"
                .into(),
        });
    }
    let expires_at = links::invite(&state, &firm, &contact).await?;
    let invitation = state
        .store
        .record_invitation(&firm.id, &contact.id, expires_at)
        .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(InvitationView {
            contact_id: contact.id.to_string(),
            sent_to: contact.email,
            sent_at: rfc3339(invitation.sent_at),
            expires_at: rfc3339(invitation.expires_at),
            send_count: invitation.send_count,
        }),
    ))
}
