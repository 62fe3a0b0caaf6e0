//! The People page of a client manager (`GET /people`, and the same page in a staff preview):
//! the account's contacts with their set, access and last sign-in, and the forms that invite
//! client staff and switch their access (`portal::people` takes those POSTs).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use minijinja::context;
use portico_shared::client_access::SetBase;
use portico_shared::store::Person;

use crate::error::Result;
use crate::http::extract::ClientSession;
use crate::http::layout::{page, tr};
use crate::state::AppState;

/// More than any household or small business; the page lists no further.
const PEOPLE_SHOWN: i64 = 200;

/// What went wrong with an invitation just typed, and the draft.
#[derive(Default)]
pub struct PeopleProblems<'a> {
    pub name: Option<String>,
    pub email: Option<String>,
    pub draft_name: &'a str,
    pub draft_email: &'a str,
}

pub async fn render_people(
    state: &AppState,
    session: &ClientSession,
    csrf: &str,
    done: Option<&str>,
    problems: PeopleProblems<'_>,
) -> Result<Response> {
    let people = state
        .store
        .account_people(&session.firm.id, &session.contact.account_id, PEOPLE_SHOWN)
        .await?;
    let rows: Vec<_> = people.iter().map(|p| row(state, session, p)).collect();
    let invalid = problems.name.is_some() || problems.email.is_some();
    let html = page(
        state,
        "portal/people.html",
        &session.firm,
        csrf,
        Some(session),
        context! {
            people => rows,
            done => done.filter(|d| ["invited", "access_on", "access_off"].contains(d)),
            errors => context! { name => problems.name, email => problems.email },
            draft => context! { name => problems.draft_name, email => problems.draft_email },
        },
    )?;
    let status = if invalid {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    Ok((status, html).into_response())
}

/// One person as the page lists them; `changeable` when this manager may switch their access.
fn row(state: &AppState, session: &ClientSession, person: &Person) -> minijinja::Value {
    let base = person.base();
    let set = match (&person.set_name, SetBase::parse(&person.permission_set)) {
        (_, Some(SetBase::ClientManager)) => tr(state, "people.set_manager", &[]),
        (_, Some(SetBase::ClientStaff)) => tr(state, "people.set_staff", &[]),
        (Some(name), None) => name.clone(),
        (None, None) => String::new(),
    };
    context! {
        id => &person.id,
        name => &person.name,
        email => &person.email,
        set => set,
        access => person.portal_access,
        last_sign_in => person.last_login_at,
        me => person.id == session.contact.id,
        changeable => base == Some(SetBase::ClientStaff) && person.id != session.contact.id,
    }
}
