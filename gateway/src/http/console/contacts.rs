//! The firm's contacts in the console: `GET /staff/contacts` (a prefix search of name or
//! email, filters for portal access and invitation status, keyset pages, and the form for a
//! new contact), `GET /staff/contacts/{id}` (access, invitation, last sign-in, the members who
//! look after the contact, their tasks, requests and signing requests), and the forms that
//! change a contact: details, access on/off, invite or resend, assigned members, delete; and
//! the form that opens a preview of the contact's portal for a reason (recorded, and listed on
//! the page; the preview itself is `preview`).
//!
//! Each handler asks the policy for its own action; a control the role does not allow is not
//! shown, and its POST is refused anyway (403). A contact outside the member's reach answers
//! 404. Changes go through the same store functions and services as the API: turning access
//! off or changing the email bumps the contact's auth epoch (their sessions end at once), and
//! an invitation is `services::links::invite` recorded by the store.

use std::collections::BTreeMap;

use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use minijinja::context;
use portico_shared::client_access::PermissionSetRef;
use portico_shared::email::Email;
use portico_shared::ids::{ContactId, MemberId};
use portico_shared::policy::{Action, Area, Decision, Intent, decide};
use portico_shared::store::{Contact, ContactListQuery, ContactPatch, InviteState, NewContact};
use serde::Deserialize;

use super::reach::{contact_within, cursor, iso, reach, read_cursor, when, within};
use crate::error::{Error, Result};
use crate::http::extract::CsrfOnly;
use crate::http::extract::{CsrfProtected, CsrfToken, Preview, ProtectedForm, StaffSession};
use crate::http::layout::console_page;
use crate::services::links;
use crate::state::AppState;

const PAGE: usize = 25;
const MAX_NAME: usize = 200;
const MAX_SEARCH: usize = 200;
/// Rows of each related list on a contact's page.
const RELATED: i64 = 20;
/// Previews listed on a contact's page, newest first.
const PREVIEWS_SHOWN: i64 = 10;
/// The longest reason for a preview.
const MAX_REASON: usize = 500;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/staff/contacts", get(list).post(create))
        .route("/staff/contacts/{id}", get(show).post(update))
        .route("/staff/contacts/{id}/access", post(access))
        .route("/staff/contacts/{id}/invitation", post(invite))
        .route("/staff/contacts/{id}/members", post(assign))
        .route("/staff/contacts/{id}/delete", post(remove))
        .route("/staff/contacts/{id}/previews", post(start_preview))
}

fn allowed(staff: &StaffSession, action: Action) -> Option<Decision> {
    Some(decide(&staff.actor, Intent::Act(Area::Contacts, action))).filter(Decision::allowed)
}

/// What a done form reports on the page it leads to (`?done=…`), as fixed texts.
fn flash(done: Option<&str>) -> Option<&'static str> {
    Some(match done? {
        "created" => "Contact created.",
        "saved" => "Changes saved.",
        "access_on" => "Portal access is on.",
        "access_off" => "Portal access is off; the client's sessions have ended.",
        "invited" => "Invitation sent.",
        "members" => "Assigned members saved.",
        "deleted" => "Contact deleted.",
        "preview_reason" => "Give a reason to preview this contact's portal.",
        _ => return None,
    })
}

fn parse_name(name: &str) -> std::result::Result<String, String> {
    let name = name.trim();
    if name.is_empty() {
        return Err("Enter the contact's name.".into());
    }
    if name.chars().count() > MAX_NAME || name.chars().any(char::is_control) {
        return Err(format!(
            "The name must be at most {MAX_NAME} characters, without control characters."
        ));
    }
    Ok(name.to_string())
}

fn parse_email(email: &str) -> std::result::Result<Email, String> {
    Email::parse(email).map_err(|problem| {
        let mut text = problem.to_string();
        if let Some(first) = text.get_mut(0..1) {
            first.make_ascii_uppercase();
        }
        format!("{text}.")
    })
}

fn invite_label(state: &str) -> &'static str {
    match state {
        "invited" => "Invited",
        "accepted" => "Accepted",
        _ => "Never invited",
    }
}

// ---- the list ----

#[derive(Deserialize, Default)]
struct ListQuery {
    q: Option<String>,
    access: Option<String>,
    invite: Option<String>,
    after: Option<String>,
    done: Option<String>,
}

/// What the "new contact" form held, to show it again with its problem.
#[derive(Default)]
struct Draft<'a> {
    name: &'a str,
    email: &'a str,
    portal_access: bool,
    error: Option<(&'static str, String)>,
}

async fn list(
    State(state): State<AppState>,
    staff: StaffSession,
    CsrfToken(csrf): CsrfToken,
    query: std::result::Result<Query<ListQuery>, QueryRejection>,
) -> Result<Response> {
    let Query(query) = query.map_err(|e| Error::BadRequest(e.body_text()))?;
    list_page(
        &state,
        &staff,
        &csrf,
        &query,
        Draft::default(),
        StatusCode::OK,
    )
    .await
}

async fn list_page(
    state: &AppState,
    staff: &StaffSession,
    csrf: &str,
    query: &ListQuery,
    draft: Draft<'_>,
    status: StatusCode,
) -> Result<Response> {
    let decision = staff.decide(Intent::Act(Area::Contacts, Action::View))?;
    let search = query.q.as_deref().map(str::trim).filter(|q| !q.is_empty());
    if search.is_some_and(|q| q.chars().count() > MAX_SEARCH) {
        return Err(Error::BadRequest(format!(
            "the search text must be at most {MAX_SEARCH} characters"
        )));
    }
    let portal_access = match query.access.as_deref().unwrap_or("") {
        "" => None,
        "on" => Some(true),
        "off" => Some(false),
        _ => return Err(Error::BadRequest("access must be on or off".into())),
    };
    let invite_state =
        match query.invite.as_deref().unwrap_or("") {
            "" => None,
            text => Some(InviteState::parse(text).ok_or_else(|| {
                Error::BadRequest("invite must be none, invited or accepted".into())
            })?),
        };
    let after = read_cursor(query.after.as_deref())?;
    let mut rows = state
        .store
        .contact_list(
            &staff.firm.id,
            &ContactListQuery {
                search: search.map(str::to_string),
                portal_access,
                invite_state,
                assigned_to: reach(&decision),
                after: after.clone(),
                limit: PAGE as i64 + 1,
            },
        )
        .await?;
    let more = rows.len() > PAGE;
    rows.truncate(PAGE);
    let link = |after: Option<String>| {
        let mut params = url::form_urlencoded::Serializer::new(String::new());
        if let Some(q) = search {
            params.append_pair("q", q);
        }
        if let Some(a) = query.access.as_deref().filter(|a| !a.is_empty()) {
            params.append_pair("access", a);
        }
        if let Some(i) = query.invite.as_deref().filter(|i| !i.is_empty()) {
            params.append_pair("invite", i);
        }
        if let Some(after) = after {
            params.append_pair("after", &after);
        }
        let params = params.finish();
        if params.is_empty() {
            "/staff/contacts".to_string()
        } else {
            format!("/staff/contacts?{params}")
        }
    };
    let next = more
        .then(|| {
            rows.last()
                .map(|r| link(Some(cursor(&r.sort_key, r.id.as_str()))))
        })
        .flatten();
    let first = after.is_some().then(|| link(None));
    let rows: Vec<_> = rows
        .iter()
        .map(|c| {
            context! {
                href => format!("/staff/contacts/{}", c.id),
                name => &c.name,
                email => &c.email,
                access => c.portal_access,
                invite => invite_label(&c.invite_state),
                last_login => c.last_login_at.map(when),
                last_login_iso => c.last_login_at.map(iso),
            }
        })
        .collect();
    let can_create = allowed(staff, Action::Create).is_some();
    let filtered = search.is_some() || portal_access.is_some() || invite_state.is_some();
    let html = console_page(
        state,
        "console/contacts.html",
        staff,
        csrf,
        "contacts",
        context! {
            flash => flash(query.done.as_deref()),
            q => search.unwrap_or(""),
            access => query.access.as_deref().unwrap_or(""),
            invite => query.invite.as_deref().unwrap_or(""),
            rows,
            next,
            first,
            filtered,
            can_create,
            draft => context! {
                name => draft.name,
                email => draft.email,
                portal_access => draft.portal_access,
                error_field => draft.error.as_ref().map(|e| e.0),
                error => draft.error.as_ref().map(|e| e.1.clone()),
            },
        },
    )?;
    Ok((status, html).into_response())
}

#[derive(Deserialize)]
struct ContactForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    email: String,
    /// A checkbox: present ("on") when ticked.
    portal_access: Option<String>,
}

impl CsrfProtected for ContactForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

async fn create(
    State(state): State<AppState>,
    staff: StaffSession,
    CsrfToken(csrf): CsrfToken,
    ProtectedForm(form): ProtectedForm<ContactForm>,
) -> Result<Response> {
    let decision = staff.decide(Intent::Act(Area::Contacts, Action::Create))?;
    let portal_access = form.portal_access.is_some();
    let again = |error: (&'static str, String), status: StatusCode| {
        let state = state.clone();
        let staff = staff.clone();
        let csrf = csrf.clone();
        let (name, email) = (form.name.clone(), form.email.clone());
        async move {
            let draft = Draft {
                name: &name,
                email: &email,
                portal_access,
                error: Some(error),
            };
            list_page(&state, &staff, &csrf, &ListQuery::default(), draft, status).await
        }
    };
    let name = match parse_name(&form.name) {
        Ok(name) => name,
        Err(problem) => return again(("name", problem), StatusCode::UNPROCESSABLE_ENTITY).await,
    };
    let email = match parse_email(&form.email) {
        Ok(email) => email,
        Err(problem) => return again(("email", problem), StatusCode::UNPROCESSABLE_ENTITY).await,
    };
    let new = NewContact {
        name,
        email,
        portal_access,
        account_id: None,
        permission_set: None,
    };
    let contact = match state.store.create_contact(&staff.firm.id, &new).await {
        Ok(contact) => contact,
        Err(e) => match Error::from(e) {
            Error::Conflict { .. } => {
                let problem = "The firm already has a contact with this email address.";
                return again(("email", problem.into()), StatusCode::CONFLICT).await;
            }
            other => return Err(other),
        },
    };
    // A member who works on their assigned clients only looks after the contacts they add;
    // otherwise they could not see them.
    if let Some(member) = reach(&decision) {
        state
            .store
            .set_contact_members(&staff.firm.id, &contact.id, &[member])
            .await?;
    }
    Ok(Redirect::to(&format!("/staff/contacts/{}?done=created", contact.id)).into_response())
}

// ---- one contact ----

#[derive(Deserialize, Default)]
struct ShowQuery {
    done: Option<String>,
    /// "Try it out": a permission set to offer in the preview form, chosen.
    as_set: Option<String>,
}

/// A problem with a form on the contact's page, shown beside it.
struct Problem {
    form: &'static str,
    message: String,
    name: String,
    email: String,
    /// The reason typed into the preview form, and the set chosen.
    reason: String,
    as_set: String,
}

async fn show(
    State(state): State<AppState>,
    staff: StaffSession,
    CsrfToken(csrf): CsrfToken,
    Path(id): Path<String>,
    query: std::result::Result<Query<ShowQuery>, QueryRejection>,
) -> Result<Response> {
    let Query(query) = query.map_err(|e| Error::BadRequest(e.body_text()))?;
    let decision = staff.decide(Intent::Act(Area::Contacts, Action::View))?;
    let contact = contact_within(&state, &staff, &decision, &id).await?;
    contact_page(
        &state,
        &staff,
        &csrf,
        &contact,
        flash(query.done.as_deref()),
        None,
        query.as_set.as_deref(),
    )
    .await
}

/// Whether `action` on contacts is allowed for this contact (by role and reach).
async fn may_here(
    state: &AppState,
    staff: &StaffSession,
    action: Action,
    contact: &ContactId,
) -> Result<bool> {
    match allowed(staff, action) {
        Some(decision) => Ok(within(state, staff, &decision, contact).await.is_ok()),
        None => Ok(false),
    }
}

/// The decision for viewing another area's items of this contact, when allowed and the
/// contact is within its reach.
async fn related(
    state: &AppState,
    staff: &StaffSession,
    area: Area,
    contact: &ContactId,
) -> Result<bool> {
    let decision = decide(&staff.actor, Intent::Act(area, Action::View));
    if !decision.allowed() {
        return Ok(false);
    }
    Ok(within(state, staff, &decision, contact).await.is_ok())
}

async fn contact_page(
    state: &AppState,
    staff: &StaffSession,
    csrf: &str,
    contact: &Contact,
    flash: Option<&str>,
    problem: Option<(Problem, StatusCode)>,
    try_set: Option<&str>,
) -> Result<Response> {
    let firm = &staff.firm.id;
    let can_edit = may_here(state, staff, Action::Edit, &contact.id).await?;
    let can_delete = may_here(state, staff, Action::Delete, &contact.id).await?;
    // Who looks after a contact decides who may see it: only a member whose edit right reaches
    // every client changes it (one limited to their own could otherwise hand clients around).
    let can_assign = matches!(allowed(staff, Action::Edit), Some(Decision::All));

    let invitation = state.store.contact_invitation(firm, &contact.id).await?;
    let invitation = invitation.map(|i| {
        context! {
            accepted => i.accepted_at.is_some(),
            accepted_at => i.accepted_at.map(when),
            sent_at => when(i.sent_at),
            sent_iso => iso(i.sent_at),
            expires_at => when(i.expires_at),
            expired => i.accepted_at.is_none() && i.expires_at < portico_shared::now_unix(),
            send_count => i.send_count,
        }
    });

    let assigned = state.store.contact_members(firm, &contact.id).await?;
    let members = state.store.members(firm).await?;
    let members: Vec<_> = members
        .iter()
        .map(|m| {
            context! {
                id => &m.id,
                name => if m.name.is_empty() { &m.email } else { &m.name },
                email => &m.email,
                assigned => assigned.contains(&m.id),
            }
        })
        .collect();

    let tasks = if related(state, staff, Area::Tasks, &contact.id).await? {
        let rows = state
            .store
            .contact_tasks(firm, &contact.id, RELATED)
            .await?;
        Some(
            rows.iter()
                .map(|t| {
                    context! {
                        href => format!("/staff/tasks/{}", t.id),
                        title => &t.title,
                        status => t.status.as_str(),
                        due => &t.due_date,
                        shared => t.portal,
                    }
                })
                .collect::<Vec<_>>(),
        )
    } else {
        None
    };
    let requests = if related(state, staff, Area::Conversations, &contact.id).await? {
        let rows = state
            .store
            .client_conversations(firm, &contact.id, RELATED)
            .await?;
        Some(
            rows.iter()
                .map(|c| {
                    context! {
                        href => format!("/staff/conversations/{}", c.id),
                        subject => &c.subject,
                        status => c.status.as_str(),
                        last => when(c.last_message_at),
                        last_iso => iso(c.last_message_at),
                    }
                })
                .collect::<Vec<_>>(),
        )
    } else {
        None
    };
    let signing = if related(state, staff, Area::Signing, &contact.id).await? {
        let rows = state
            .store
            .contact_signing_requests(firm, &contact.id, RELATED)
            .await?;
        Some(
            rows.iter()
                .map(|s| {
                    context! {
                        href => format!("/staff/signing/{}", s.id),
                        title => &s.title,
                        status => s.status.as_str(),
                        sent => when(s.created_at),
                        sent_iso => iso(s.created_at),
                    }
                })
                .collect::<Vec<_>>(),
        )
    } else {
        None
    };

    let previews = state
        .store
        .contact_previews(firm, &contact.id, PREVIEWS_SHOWN)
        .await?;
    let previews: Vec<_> = previews
        .iter()
        .map(|p| {
            context! {
                member => &p.member_label,
                reason => &p.reason,
                as_set => p.as_set_name(),
                at => when(p.created_at),
                at_iso => iso(p.created_at),
            }
        })
        .collect();

    let (problem, status) = match problem {
        Some((p, status)) => (Some(p), status),
        None => (None, StatusCode::OK),
    };
    let html = console_page(
        state,
        "console/contact.html",
        staff,
        csrf,
        "contacts",
        context! {
            flash,
            contact => context! {
                id => &contact.id,
                name => &contact.name,
                email => &contact.email,
                portal_access => contact.portal_access,
                last_login => contact.last_login_at.map(when),
                last_login_iso => contact.last_login_at.map(iso),
                created => when(contact.created_at),
            },
            invitation,
            members,
            tasks,
            requests,
            signing,
            previews,
            // The set the preview form offers chosen: the one just sent back, or asked for.
            try_set => problem.as_ref().map(|p| p.as_set.as_str()).or(try_set)
                .and_then(PermissionSetRef::parse).map(|set| set.as_str().to_string()),
            preview_minutes => Preview::LIFETIME_SECS / 60,
            max_reason => MAX_REASON,
            can_edit,
            can_delete,
            can_assign,
            problem => problem.as_ref().map(|p| context! {
                form => p.form,
                message => &p.message,
                name => &p.name,
                email => &p.email,
                reason => &p.reason,
                as_set => &p.as_set,
            }),
        },
    )?;
    Ok((status, html).into_response())
}

/// The contact `id` for an `action` on it: 403 when the role does not allow the action,
/// 404 when the contact is not within its reach.
async fn for_action(
    state: &AppState,
    staff: &StaffSession,
    action: Action,
    id: &str,
) -> Result<(Decision, Contact)> {
    let decision = staff.decide(Intent::Act(Area::Contacts, action))?;
    let contact = contact_within(state, staff, &decision, id).await?;
    Ok((decision, contact))
}

async fn update(
    State(state): State<AppState>,
    staff: StaffSession,
    CsrfToken(csrf): CsrfToken,
    Path(id): Path<String>,
    ProtectedForm(form): ProtectedForm<ContactForm>,
) -> Result<Response> {
    let (_, contact) = for_action(&state, &staff, Action::Edit, &id).await?;
    let problem = |message: String, status: StatusCode| {
        Some((
            Problem {
                form: "details",
                message,
                name: form.name.clone(),
                email: form.email.clone(),
                reason: String::new(),
                as_set: String::new(),
            },
            status,
        ))
    };
    let name = match parse_name(&form.name) {
        Ok(name) => name,
        Err(message) => {
            let p = problem(message, StatusCode::UNPROCESSABLE_ENTITY);
            return contact_page(&state, &staff, &csrf, &contact, None, p, None).await;
        }
    };
    let email = match parse_email(&form.email) {
        Ok(email) => email,
        Err(message) => {
            let p = problem(message, StatusCode::UNPROCESSABLE_ENTITY);
            return contact_page(&state, &staff, &csrf, &contact, None, p, None).await;
        }
    };
    let patch = ContactPatch {
        name: Some(name),
        // The store ends the contact's sessions only when the address really changes.
        email: Some(email),
        ..ContactPatch::default()
    };
    match state
        .store
        .update_contact(&staff.firm.id, &contact.id, &patch)
        .await
    {
        Ok(Some(_)) => {}
        Ok(None) => return Err(Error::NotFound),
        Err(e) => match Error::from(e) {
            Error::Conflict { .. } => {
                let message = "The firm already has a contact with this email address.";
                let p = problem(message.into(), StatusCode::CONFLICT);
                return contact_page(&state, &staff, &csrf, &contact, None, p, None).await;
            }
            other => return Err(other),
        },
    }
    Ok(Redirect::to(&format!("/staff/contacts/{}?done=saved", contact.id)).into_response())
}

#[derive(Deserialize)]
struct AccessForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    access: String,
}

impl CsrfProtected for AccessForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

async fn access(
    State(state): State<AppState>,
    staff: StaffSession,
    Path(id): Path<String>,
    ProtectedForm(form): ProtectedForm<AccessForm>,
) -> Result<Response> {
    let (_, contact) = for_action(&state, &staff, Action::Edit, &id).await?;
    let on = match form.access.as_str() {
        "on" => true,
        "off" => false,
        _ => return Err(Error::invalid("access", "access must be on or off")),
    };
    let patch = ContactPatch {
        portal_access: Some(on),
        ..ContactPatch::default()
    };
    state
        .store
        .update_contact(&staff.firm.id, &contact.id, &patch)
        .await?
        .ok_or(Error::NotFound)?;
    let done = if on { "access_on" } else { "access_off" };
    Ok(Redirect::to(&format!("/staff/contacts/{}?done={done}", contact.id)).into_response())
}

async fn invite(
    State(state): State<AppState>,
    staff: StaffSession,
    CsrfToken(csrf): CsrfToken,
    Path(id): Path<String>,
    ProtectedForm(_form): ProtectedForm<CsrfOnly>,
) -> Result<Response> {
    let (_, contact) = for_action(&state, &staff, Action::Edit, &id).await?;
    let refuse = |message: &str| Problem {
        form: "invitation",
        message: message.to_string(),
        name: contact.name.clone(),
        email: contact.email.clone(),
        reason: String::new(),
        as_set: String::new(),
    };
    if !contact.portal_access {
        let p = refuse("Turn portal access on before inviting the contact.");
        return contact_page(
            &state,
            &staff,
            &csrf,
            &contact,
            None,
            Some((p, StatusCode::CONFLICT)),
            None,
        )
        .await;
    }
    if Email::parse(&contact.email).is_err() {
        let p = refuse("The contact's email address is no longer accepted: correct it first.");
        return contact_page(
            &state,
            &staff,
            &csrf,
            &contact,
            None,
            Some((p, StatusCode::CONFLICT)),
            None,
        )
        .await;
    }
    let expires_at = links::invite(&state, &staff.firm, &contact).await?;
    state
        .store
        .record_invitation(&staff.firm.id, &contact.id, expires_at)
        .await?;
    Ok(Redirect::to(&format!("/staff/contacts/{}?done=invited", contact.id)).into_response())
}

/// The members form: one checkbox per member, named `member_{id}`.
#[derive(Deserialize)]
struct MembersForm {
    #[serde(default)]
    csrf: String,
    #[serde(flatten)]
    fields: BTreeMap<String, String>,
}

impl CsrfProtected for MembersForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

async fn assign(
    State(state): State<AppState>,
    staff: StaffSession,
    Path(id): Path<String>,
    ProtectedForm(form): ProtectedForm<MembersForm>,
) -> Result<Response> {
    let (decision, contact) = for_action(&state, &staff, Action::Edit, &id).await?;
    if decision != Decision::All {
        return Err(Error::Forbidden(
            "changing who looks after a contact needs the right to edit every contact",
        ));
    }
    let mut members = Vec::new();
    for name in form.fields.keys() {
        let Some(id) = name.strip_prefix("member_") else {
            continue;
        };
        let id = MemberId::parse(id)
            .ok_or_else(|| Error::invalid("member", format!("{id:?} is not a member id")))?;
        members.push(id);
    }
    state
        .store
        .set_contact_members(&staff.firm.id, &contact.id, &members)
        .await
        .map_err(|e| match Error::from(e) {
            Error::Unprocessable { field, .. } => {
                Error::invalid(field, "one of the members chosen is not in the team")
            }
            other => other,
        })?;
    Ok(Redirect::to(&format!("/staff/contacts/{}?done=members", contact.id)).into_response())
}

async fn remove(
    State(state): State<AppState>,
    staff: StaffSession,
    Path(id): Path<String>,
    ProtectedForm(_form): ProtectedForm<CsrfOnly>,
) -> Result<Response> {
    let (_, contact) = for_action(&state, &staff, Action::Delete, &id).await?;
    if !state
        .store
        .delete_contact(&staff.firm.id, &contact.id)
        .await?
    {
        return Err(Error::NotFound);
    }
    Ok(Redirect::to("/staff/contacts?done=deleted").into_response())
}

#[derive(Deserialize)]
struct PreviewForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    reason: String,
    /// "Try it out": a permission set to show the contact as holding; empty for their own.
    #[serde(default)]
    as_set: String,
}

impl CsrfProtected for PreviewForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// Records a preview of the contact's portal by this member, for the reason given, and opens
/// it. Viewing the contact is what it takes (the preview changes nothing).
async fn start_preview(
    State(state): State<AppState>,
    staff: StaffSession,
    CsrfToken(csrf): CsrfToken,
    Path(id): Path<String>,
    ProtectedForm(form): ProtectedForm<PreviewForm>,
) -> Result<Response> {
    let (_, contact) = for_action(&state, &staff, Action::View, &id).await?;
    let reason = form.reason.trim();
    let as_set = match form.as_set.trim() {
        "" => None,
        text => PermissionSetRef::parse(text),
    };
    let problem = if !form.as_set.trim().is_empty() && as_set.is_none() {
        Some("Choose one of the permission sets offered.".to_string())
    } else if reason.is_empty() {
        Some("Give a reason for looking at this contact's portal.".to_string())
    } else if reason.chars().count() > MAX_REASON || reason.chars().any(char::is_control) {
        Some(format!(
            "The reason must be at most {MAX_REASON} characters, on one line."
        ))
    } else {
        None
    };
    if let Some(message) = problem {
        let p = Problem {
            form: "preview",
            message,
            name: contact.name.clone(),
            email: contact.email.clone(),
            reason: form.reason.clone(),
            as_set: form.as_set.clone(),
        };
        let again = Some((p, StatusCode::UNPROCESSABLE_ENTITY));
        return contact_page(&state, &staff, &csrf, &contact, None, again, None).await;
    }
    let member = &staff.member;
    let label = if member.name.is_empty() {
        &member.email
    } else {
        &member.name
    };
    let recorded = state
        .store
        .record_preview(
            &staff.firm.id,
            &contact.id,
            &member.id,
            label,
            reason,
            as_set.as_ref(),
        )
        .await;
    if let Err(portico_shared::store::StoreError::UnknownReference(..)) = recorded {
        let p = Problem {
            form: "preview",
            message: "That permission set does not exist (any more): choose another.".into(),
            name: contact.name.clone(),
            email: contact.email.clone(),
            reason: form.reason.clone(),
            as_set: String::new(),
        };
        let again = Some((p, StatusCode::UNPROCESSABLE_ENTITY));
        return contact_page(&state, &staff, &csrf, &contact, None, again, None).await;
    }
    recorded?;
    Ok(Redirect::to(&format!("/staff/contacts/{}/preview/", contact.id)).into_response())
}
