//! The people of the client's account (`GET /people`), for a contact whose set allows
//! `manage_people` (client managers; 404 for anyone else): who is in the account, with which
//! set, access and last sign-in. From here a manager invites someone new into the account as
//! client staff (`POST /people`: `name`, `email`), and grants or revokes the portal access of
//! the account's client staff (`POST /people/{id}/access`: `access` = on|off): never of a
//! manager, never their own, never changing anyone's set. A contact of another account or
//! firm is not found (404). The POSTs are limited per client network like sign-in's.

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use portico_shared::client_access::Capability;
use portico_shared::email::Email;
use portico_shared::ids::ContactId;
use portico_shared::store::{AccessChange, NewContact, StoreError};
use serde::Deserialize;

use crate::error::{Error, Result};
use crate::http::extract::client::per_ip_limit;
use crate::http::extract::{ClientSession, CsrfProtected, CsrfToken, ProtectedForm};
use crate::http::layout::tr;
use crate::http::views::{PeopleProblems, render_people};
use crate::services::links;
use crate::state::AppState;

const MAX_NAME: usize = 200;

pub fn router(state: &AppState) -> Router<AppState> {
    Router::new()
        .route("/people", get(show).post(invite))
        .route("/people/{id}/access", post(access))
        // Only POSTs are counted: inviting sends mail.
        .route_layer(per_ip_limit(state))
}

#[derive(Deserialize)]
struct ShowQuery {
    done: Option<String>,
}

#[derive(Deserialize)]
struct InviteForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    email: String,
}

impl CsrfProtected for InviteForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
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

/// The manager's session, or 404 for a set without `manage_people`.
fn manager(session: &ClientSession) -> Result<()> {
    session.require(Capability::ManagePeople)
}

async fn show(
    State(state): State<AppState>,
    session: ClientSession,
    CsrfToken(csrf): CsrfToken,
    Query(query): Query<ShowQuery>,
) -> Result<Response> {
    manager(&session)?;
    render_people(
        &state,
        &session,
        &csrf,
        query.done.as_deref(),
        PeopleProblems::default(),
    )
    .await
}

async fn invite(
    State(state): State<AppState>,
    session: ClientSession,
    CsrfToken(csrf): CsrfToken,
    ProtectedForm(form): ProtectedForm<InviteForm>,
) -> Result<Response> {
    manager(&session)?;
    let name = form.name.trim();
    let mut problems = PeopleProblems {
        draft_name: name,
        draft_email: form.email.trim(),
        ..PeopleProblems::default()
    };
    if name.is_empty() {
        problems.name = Some(tr(&state, "people.error_name_empty", &[]));
    } else if name.chars().count() > MAX_NAME {
        problems.name = Some(tr(&state, "people.error_name_long", &[]));
    }
    let email = Email::parse(form.email.trim());
    if email.is_err() {
        problems.email = Some(tr(&state, "people.error_email", &[]));
    }
    let (Ok(email), None) = (email, &problems.name) else {
        return render_people(&state, &session, &csrf, None, problems).await;
    };
    let firm = &session.firm;
    let account = &session.contact.account_id;
    // An address the firm already knows is never moved or re-invited from here: in this
    // account it is listed already; elsewhere, the page says no more than that it cannot be
    // added, so a manager learns nothing about other clients of the firm.
    let known = state.store.contact_by_email(&firm.id, &email).await?;
    if let Some(known) = known {
        let key = if &known.account_id == account {
            "people.error_already_here"
        } else {
            "people.error_elsewhere"
        };
        problems.email = Some(tr(&state, key, &[("firm", firm.portal_name())]));
        return render_people(&state, &session, &csrf, None, problems).await;
    }
    let new = NewContact {
        name: name.to_string(),
        email,
        portal_access: true,
        account_id: Some(account.clone()),
        // Joining an existing account without a set makes client staff.
        permission_set: None,
    };
    let contact = match state.store.create_contact(&firm.id, &new).await {
        Ok(contact) => contact,
        // Added by someone else a moment ago.
        Err(StoreError::Conflict(_)) => {
            let message = tr(
                &state,
                "people.error_elsewhere",
                &[("firm", firm.portal_name())],
            );
            problems.email = Some(message);
            return render_people(&state, &session, &csrf, None, problems).await;
        }
        Err(e) => return Err(e.into()),
    };
    let expires_at = links::invite(&state, firm, &contact).await?;
    state
        .store
        .record_invitation(&firm.id, &contact.id, expires_at)
        .await?;
    Ok(Redirect::to("/people?done=invited").into_response())
}

async fn access(
    State(state): State<AppState>,
    session: ClientSession,
    Path(id): Path<String>,
    ProtectedForm(form): ProtectedForm<AccessForm>,
) -> Result<Response> {
    manager(&session)?;
    let id = ContactId::parse(&id).ok_or(Error::NotFound)?;
    let on = match form.access.as_str() {
        "on" => true,
        "off" => false,
        _ => return Err(Error::invalid("access", "access must be on or off")),
    };
    let change = state
        .store
        .set_colleague_access(
            &session.firm.id,
            &session.contact.account_id,
            &session.contact.id,
            &id,
            on,
        )
        .await?;
    match change {
        AccessChange::Changed => {
            let done = if on { "access_on" } else { "access_off" };
            Ok(Redirect::to(&format!("/people?done={done}")).into_response())
        }
        AccessChange::NotFound => Err(Error::NotFound),
        // Listed on the page, without a control: a manager, or the manager themselves.
        AccessChange::NotAllowed => Err(Error::Forbidden(
            "Only the access of the account's client staff can be changed here.",
        )),
    }
}
