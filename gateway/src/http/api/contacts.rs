//! Contacts and their portal access: `/api/v1/contacts…`, and invitations.

use std::collections::HashMap;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Json;
use portico_shared::client_access::PermissionSetRef;
use portico_shared::email::Email;
use portico_shared::ids::{ClientAccountId, ContactId, MemberId};
use portico_shared::policy::{Action, Area};
use portico_shared::store::{
    Contact, ContactPatch, ContactQuery, NewContact, PreviewRecord, Scoped, StoreError,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, OpenApi, ToSchema};

use super::ErrorBody;
use super::pagination::{ListPage, Page};
use super::route::{ApiRoute, rfc3339};
use crate::error::{Error, Result};
use crate::http::extract::ApiQuery;
use crate::http::extract::api::unknown_account;
use crate::http::extract::{ApiActor, ApiJson};
use crate::services::links;
use crate::state::AppState;

const MAX_NAME: usize = 200;
/// Previews listed for a contact, newest first.
const PREVIEWS_LISTED: i64 = 100;

pub fn routes() -> Vec<ApiRoute> {
    vec![
        ApiRoute::post("/contacts", create),
        ApiRoute::get("/contacts", list),
        ApiRoute::get("/contacts/{id}", show),
        ApiRoute::patch("/contacts/{id}", update),
        ApiRoute::delete("/contacts/{id}", remove),
        ApiRoute::post("/contacts/{id}/invitation", invite),
        ApiRoute::get("/contacts/{id}/previews", previews),
    ]
}

#[derive(OpenApi)]
#[openapi(paths(create, list, show, update, remove, invite, previews))]
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
    /// Ids of the members looking after the contact (a role scoped to assigned clients
    /// reaches the contacts assigned to its member).
    assigned_staff: Vec<String>,
    /// The client account the contact belongs to.
    account_id: String,
    /// What the contact may do in the portal: `client_manager`, `client_staff` or a custom
    /// set's id.
    permission_set: String,
}

fn view(contact: &Contact, staff: &[MemberId]) -> ContactView {
    ContactView {
        assigned_staff: staff.iter().map(|m| m.to_string()).collect(),
        id: contact.id.to_string(),
        name: contact.name.clone(),
        email: contact.email.clone(),
        portal_access: contact.portal_access,
        last_login_at: contact.last_login_at.map(rfc3339),
        created_at: rfc3339(contact.created_at),
        updated_at: rfc3339(contact.updated_at),
        account_id: contact.account_id.to_string(),
        permission_set: contact.permission_set.clone(),
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

const MAX_ASSIGNED: usize = 50;

/// Member ids as sent; checked against the firm's members by the store.
fn parse_staff(ids: &[String]) -> Result<Vec<MemberId>> {
    if ids.len() > MAX_ASSIGNED {
        return Err(Error::invalid(
            "assigned_staff",
            format!("at most {MAX_ASSIGNED} members"),
        ));
    }
    let mut staff = Vec::with_capacity(ids.len());
    for id in ids {
        let member = MemberId::parse(id).ok_or_else(|| unknown_member(id))?;
        if !staff.contains(&member) {
            staff.push(member);
        }
    }
    Ok(staff)
}

fn unknown_member(id: &str) -> Error {
    Error::invalid(
        "assigned_staff",
        format!("assigned_staff: {id:?} is not a member of this firm"),
    )
}

/// Every one of `staff` must be a member of the firm: a 422 on `assigned_staff` otherwise.
async fn check_staff(state: &AppState, actor: &ApiActor, staff: &[MemberId]) -> Result<()> {
    if staff.is_empty() {
        return Ok(());
    }
    let members = state.store.members(&actor.firm.id).await?;
    match staff.iter().find(|s| !members.iter().any(|m| &m.id == *s)) {
        Some(unknown) => Err(unknown_member(unknown.as_str())),
        None => Ok(()),
    }
}

fn staff_error(e: StoreError) -> Error {
    match e {
        StoreError::UnknownReference(_, id) => unknown_member(&id),
        other => other.into(),
    }
}

/// The account and permission set a request places a contact in, each asked of the policy
/// (`accounts: edit` to put a contact in an account, `client_permissions: edit` to give a
/// set) before it is read; whether the firm has them, the store checks (422).
fn placement(
    actor: &ApiActor,
    account_id: Option<&str>,
    permission_set: Option<&str>,
) -> Result<(Option<ClientAccountId>, Option<PermissionSetRef>)> {
    let account_id = account_id
        .map(|id| {
            actor.scope(Area::Accounts, Action::Edit)?;
            ClientAccountId::parse(id).ok_or_else(|| unknown_account("account_id", id))
        })
        .transpose()?;
    let permission_set = permission_set
        .map(|set| {
            actor.scope(Area::ClientPermissions, Action::Edit)?;
            PermissionSetRef::parse(set).ok_or_else(|| {
                Error::invalid(
                    "permission_set",
                    format!(
                        "permission_set: {set:?} is not client_manager, client_staff or a \
                         permission set of this firm"
                    ),
                )
            })
        })
        .transpose()?;
    Ok((account_id, permission_set))
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
    /// Member ids looking after the contact. A key whose role reaches only assigned
    /// clients is always among them (added if left out).
    #[serde(default)]
    #[schema(max_items = 50)]
    assigned_staff: Vec<String>,
    /// The client account to join (needs `accounts: edit`); left out, the contact gets a
    /// personal account of their own.
    account_id: Option<String>,
    /// `client_manager`, `client_staff` or a custom set's id (needs `client_permissions:
    /// edit`). Left out: `client_manager` of a new personal account, `client_staff` of an
    /// existing one.
    permission_set: Option<String>,
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
    actor: ApiActor,
    ApiJson(body): ApiJson<CreateContact>,
) -> Result<(StatusCode, Json<ContactView>)> {
    let scope = actor.scope(Area::Contacts, Action::Create)?;
    let (account_id, permission_set) = placement(
        &actor,
        body.account_id.as_deref(),
        body.permission_set.as_deref(),
    )?;
    let new = NewContact {
        name: parse_name(&body.name)?,
        email: parse_email(&body.email)?,
        portal_access: body.portal_access,
        account_id,
        permission_set,
    };
    let mut staff = parse_staff(&body.assigned_staff)?;
    // A member who reaches only their assigned clients keeps sight of the contact they make.
    if let Some(member) = scope
        && !staff.contains(&member)
    {
        staff.push(member);
    }
    check_staff(&state, &actor, &staff).await?;
    let firm = &actor.firm;
    let contact = state
        .store
        .create_contact(&firm.id, &new)
        .await
        .map_err(|e| email_taken(e.into()))?;
    if !staff.is_empty() {
        state
            .store
            .set_contact_members(&firm.id, &contact.id, &staff)
            .await
            .map_err(staff_error)?;
        staff.sort();
    }
    Ok((StatusCode::CREATED, Json(view(&contact, &staff))))
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
    actor: ApiActor,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Json<ListPage<ContactView>>> {
    let assigned_to = actor.scope(Area::Contacts, Action::View)?;
    let firm = actor.firm;
    let page = Page::new(query.limit, query.cursor)?;
    let query = ContactQuery {
        after: page.after()?,
        limit: page.fetch(),
        email: query.email.as_deref().map(parse_email).transpose()?,
        portal_access: query.portal_access,
        assigned_to,
    };
    let contacts = state.store.list_contacts(&firm.id, &query).await?;
    let ids: Vec<ContactId> = contacts.iter().map(|c| c.id.clone()).collect();
    let mut staff: HashMap<ContactId, Vec<MemberId>> = HashMap::new();
    for (contact, member) in state.store.assigned_staff(&firm.id, &ids).await? {
        staff.entry(contact).or_default().push(member);
    }
    Ok(page.respond(
        contacts,
        |c| (c.created_at, c.id.as_str()),
        |c| view(c, staff.get(&c.id).map(Vec::as_slice).unwrap_or_default()),
    ))
}

/// The contact, if the actor may do `action` on contacts and it lies within their scope.
async fn find(state: &AppState, actor: &ApiActor, action: Action, id: &str) -> Result<Contact> {
    let scope = actor.scope(Area::Contacts, action)?;
    let id = ContactId::parse(id).ok_or(Error::NotFound)?;
    actor
        .reach(state, scope.as_ref(), Scoped::Contact(&id))
        .await?;
    state
        .store
        .contact(&actor.firm.id, &id)
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
    actor: ApiActor,
    Path(id): Path<String>,
) -> Result<Json<ContactView>> {
    let contact = find(&state, &actor, Action::View, &id).await?;
    let staff = state
        .store
        .contact_members(&actor.firm.id, &contact.id)
        .await?;
    Ok(Json(view(&contact, &staff)))
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
    /// Replaces the members looking after the contact.
    #[schema(max_items = 50, nullable = false)]
    assigned_staff: Option<Vec<String>>,
    /// Moves the contact to this client account (needs `accounts: edit`); without
    /// `permission_set` they join it as `client_staff`.
    #[schema(nullable = false)]
    account_id: Option<String>,
    /// `client_manager`, `client_staff` or a custom set's id (needs `client_permissions:
    /// edit`); applies on the contact's next request.
    #[schema(nullable = false)]
    permission_set: Option<String>,
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
    actor: ApiActor,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<UpdateContact>,
) -> Result<Json<ContactView>> {
    let scope = actor.scope(Area::Contacts, Action::Edit)?;
    let id = ContactId::parse(&id).ok_or(Error::NotFound)?;
    actor
        .reach(&state, scope.as_ref(), Scoped::Contact(&id))
        .await?;
    let (account_id, permission_set) = placement(
        &actor,
        body.account_id.as_deref(),
        body.permission_set.as_deref(),
    )?;
    let patch = ContactPatch {
        name: body.name.as_deref().map(parse_name).transpose()?,
        email: body.email.as_deref().map(parse_email).transpose()?,
        portal_access: body.portal_access,
        account_id,
        permission_set,
    };
    let staff = body
        .assigned_staff
        .as_deref()
        .map(parse_staff)
        .transpose()?;
    if let Some(staff) = &staff {
        check_staff(&state, &actor, staff).await?;
    }
    let firm = &actor.firm;
    let contact = state
        .store
        .update_contact(&firm.id, &id, &patch)
        .await
        .map_err(|e| email_taken(e.into()))?
        .ok_or(Error::NotFound)?;
    let staff = match staff {
        Some(staff) => {
            state
                .store
                .set_contact_members(&firm.id, &contact.id, &staff)
                .await
                .map_err(staff_error)?;
            let mut staff = staff;
            staff.sort();
            staff
        }
        None => state.store.contact_members(&firm.id, &contact.id).await?,
    };
    Ok(Json(view(&contact, &staff)))
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
    actor: ApiActor,
    Path(id): Path<String>,
) -> Result<StatusCode> {
    let scope = actor.scope(Area::Contacts, Action::Delete)?;
    let id = ContactId::parse(&id).ok_or(Error::NotFound)?;
    actor
        .reach(&state, scope.as_ref(), Scoped::Contact(&id))
        .await?;
    let firm = actor.firm;
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
    actor: ApiActor,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<InvitationView>)> {
    let contact = find(&state, &actor, Action::Edit, &id).await?;
    let firm = actor.firm;
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

/// A staff member's recorded look at the contact's portal (a preview, in the console).
#[derive(Serialize, ToSchema)]
#[schema(as = ContactPreview)]
pub struct PreviewView {
    id: String,
    /// The member who previewed; null once they have left the team.
    #[schema(required = true)]
    member_id: Option<String>,
    /// The member's name (or email) when they previewed.
    member: String,
    /// Why they looked, as they gave it.
    reason: String,
    /// The permission set the contact was shown as holding ("Try it out"): a built-in set's
    /// name or a custom set's id; null for the contact's own.
    #[schema(required = true)]
    as_set: Option<String>,
    #[schema(format = DateTime)]
    created_at: String,
}

fn preview_view(record: &PreviewRecord) -> PreviewView {
    PreviewView {
        id: record.id.to_string(),
        member_id: record.member_id.as_ref().map(ToString::to_string),
        member: record.member_label.clone(),
        reason: record.reason.clone(),
        as_set: record.as_set.clone(),
        created_at: rfc3339(record.created_at),
    }
}

/// The contact's latest previews, newest first
///
/// Each time a member opened the contact's portal read-only in the console (at most 100).
#[utoipa::path(
    get,
    path = "/contacts/{id}/previews",
    tag = "Contacts",
    operation_id = "listContactPreviews",
    params(("id" = String, Path, description = "Contact id")),
    responses(
        (status = 200, description = "The previews, newest first", body = ListPage<PreviewView>),
        (status = 404, description = "No such contact", body = ErrorBody),
    )
)]
async fn previews(
    State(state): State<AppState>,
    actor: ApiActor,
    Path(id): Path<String>,
) -> Result<Json<ListPage<PreviewView>>> {
    let contact = find(&state, &actor, Action::View, &id).await?;
    let records = state
        .store
        .contact_previews(&actor.firm.id, &contact.id, PREVIEWS_LISTED)
        .await?;
    Ok(Json(ListPage {
        data: records.iter().map(preview_view).collect(),
        next_cursor: None,
    }))
}
