//! The team page, `/staff/team`: members with their role and last sign-in, invitations with
//! their status, and the forms that change them. A form is shown only when the policy allows
//! it for this member, and its POST is decided again by the team service (403 otherwise).

use std::collections::HashMap;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use minijinja::context;
use portico_shared::email::Email;
use portico_shared::policy::{Action, Area, Intent, Permissions, Role};
use serde::Deserialize;

use crate::error::{Error, Result};
use crate::http::extract::{CsrfProtected, CsrfToken, ProtectedForm, StaffSession};
use crate::http::layout::console_page;
use crate::http::views::when;
use crate::services::team;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/staff/team", get(team_page))
        .route("/staff/team/invitations", post(invite))
        .route("/staff/team/invitations/{id}", post(correct))
        .route("/staff/team/invitations/{id}/revoke", post(revoke))
        .route("/staff/team/members/{id}/role", post(change_role))
        .route("/staff/team/members/{id}/remove", post(remove))
        .route("/staff/team/members/{id}/transfer", post(transfer))
}

#[derive(Deserialize)]
struct DoneQuery {
    done: Option<String>,
}

fn flash(done: Option<&str>) -> Option<&'static str> {
    Some(match done? {
        "invited" => "Invitation sent.",
        "corrected" => "Invitation updated, and a new link sent. Earlier links no longer work.",
        "revoked" => "Invitation revoked.",
        "role" => "Role changed.",
        "removed" => "Member removed. Their sessions have ended.",
        "transferred" => "Ownership transferred. You are now a Co-owner.",
        _ => return None,
    })
}

async fn team_page(
    State(state): State<AppState>,
    staff: StaffSession,
    CsrfToken(csrf): CsrfToken,
    Query(query): Query<DoneQuery>,
) -> Result<Response> {
    render(&state, &staff, &csrf, flash(query.done.as_deref()), None).await
}

fn grant(staff: &StaffSession, action: Action, grants: &Permissions) -> bool {
    staff.may(Intent::Grant {
        area: Area::Team,
        action,
        grants,
    })
}

async fn render(
    state: &AppState,
    staff: &StaffSession,
    csrf: &str,
    flash: Option<&str>,
    error: Option<(StatusCode, String)>,
) -> Result<Response> {
    staff.decide(Intent::Act(Area::Team, Action::View))?;
    let firm = &staff.firm;
    let roles = state.store.roles(&firm.id).await?;
    let by_id: HashMap<&str, &Role> = roles.iter().map(|r| (r.id.as_str(), r)).collect();
    let nothing = Permissions::default();
    let perms = |id: &str| by_id.get(id).map_or(&nothing, |r| &r.permissions);
    let role_name = |id: &str| {
        by_id
            .get(id)
            .map_or("(deleted role)".to_string(), |r| r.name.clone())
    };
    let offer = |action: Action| -> Vec<minijinja::Value> {
        roles
            .iter()
            .filter(|r| !r.is_owner() && grant(staff, action, &r.permissions))
            .map(|r| context! { id => &r.id, name => &r.name })
            .collect()
    };
    let may_edit = staff.may(Intent::Act(Area::Team, Action::Edit));
    let may_transfer = staff.may(Intent::TransferOwnership);
    let members: Vec<minijinja::Value> = state
        .store
        .members(&firm.id)
        .await?
        .into_iter()
        .map(|m| {
            let owner = m.role_id == "owner";
            let held = perms(&m.role_id);
            context! {
                id => &m.id,
                name => &m.name,
                email => &m.email,
                role_id => &m.role_id,
                role => role_name(&m.role_id),
                you => m.id == staff.member.id,
                last_login => when(m.last_login_at),
                can_change_role => may_edit && !owner && grant(staff, Action::Edit, held),
                can_remove => !owner && grant(staff, Action::Delete, held),
                can_transfer => may_transfer && m.id != staff.member.id,
            }
        })
        .collect();
    let invitations: Vec<minijinja::Value> = state
        .store
        .team_invitations(&firm.id)
        .await?
        .into_iter()
        .map(|i| {
            let status = if i.accepted_at.is_some() {
                "accepted"
            } else if i.revoked_at.is_some() {
                "revoked"
            } else {
                "open"
            };
            let held = perms(&i.role_id);
            let open = i.open();
            context! {
                id => &i.id,
                email => &i.email,
                role_id => &i.role_id,
                role => role_name(&i.role_id),
                status => status,
                sent => when(i.sent_at),
                expires => when(i.expires_at),
                can_edit => open && may_edit && grant(staff, Action::Edit, held),
                can_revoke => open && grant(staff, Action::Delete, held),
            }
        })
        .collect();
    let (status, error) = match error {
        Some((status, message)) => (status, Some(message)),
        None => (StatusCode::OK, None),
    };
    let extra = context! {
        members => members,
        invitations => invitations,
        can_invite => staff.may(Intent::Act(Area::Team, Action::Create)),
        invite_roles => offer(Action::Create),
        edit_roles => offer(Action::Edit),
        flash => flash,
        error => error,
    };
    let html = console_page(state, "console/team.html", staff, csrf, "team", extra)?;
    Ok((status, html).into_response())
}

#[derive(Deserialize)]
struct TeamForm {
    #[serde(default)]
    csrf: String,
    email: Option<String>,
    role_id: Option<String>,
    resend: Option<String>,
}

impl CsrfProtected for TeamForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

impl TeamForm {
    fn email(&self) -> Result<Option<Email>> {
        match self
            .email
            .as_deref()
            .map(str::trim)
            .filter(|e| !e.is_empty())
        {
            None => Ok(None),
            Some(text) => Email::parse(text).map(Some).map_err(|_| {
                Error::invalid("email", "enter an email address, like name@example.com")
            }),
        }
    }

    fn role_id(&self) -> Option<&str> {
        self.role_id
            .as_deref()
            .map(str::trim)
            .filter(|r| !r.is_empty())
    }
}

/// After a change: back to the page with what was done, or the page again with the refusal
/// of a bad input (a 403 or 404 stays an error page).
async fn answer(
    state: &AppState,
    staff: &StaffSession,
    csrf: &str,
    result: Result<()>,
    done: &str,
) -> Result<Response> {
    match result {
        Ok(()) => Ok(Redirect::to(&format!("/staff/team?done={done}")).into_response()),
        Err(Error::Unprocessable { message, .. }) => {
            let error = Some((StatusCode::UNPROCESSABLE_ENTITY, message));
            render(state, staff, csrf, None, error).await
        }
        Err(Error::Conflict { message, .. }) => {
            render(
                state,
                staff,
                csrf,
                None,
                Some((StatusCode::CONFLICT, message)),
            )
            .await
        }
        Err(e) => Err(e),
    }
}

async fn invite(
    State(state): State<AppState>,
    staff: StaffSession,
    CsrfToken(csrf): CsrfToken,
    ProtectedForm(form): ProtectedForm<TeamForm>,
) -> Result<Response> {
    let result = async {
        staff.decide(Intent::Act(Area::Team, Action::Create))?;
        let email = form
            .email()?
            .ok_or_else(|| Error::invalid("email", "enter the address to invite"))?;
        let role_id = form
            .role_id()
            .ok_or_else(|| Error::invalid("role_id", "choose a role"))?;
        team::invite(&state, &staff.firm, &staff.actor, &email, role_id).await?;
        Ok(())
    }
    .await;
    answer(&state, &staff, &csrf, result, "invited").await
}

async fn correct(
    State(state): State<AppState>,
    staff: StaffSession,
    CsrfToken(csrf): CsrfToken,
    Path(id): Path<String>,
    ProtectedForm(form): ProtectedForm<TeamForm>,
) -> Result<Response> {
    let result = async {
        let email = form.email()?;
        let resend = form.resend.is_some();
        team::correct(
            &state,
            &staff.firm,
            &staff.actor,
            &id,
            email,
            form.role_id(),
            resend,
        )
        .await?;
        Ok(())
    }
    .await;
    answer(&state, &staff, &csrf, result, "corrected").await
}

async fn revoke(
    State(state): State<AppState>,
    staff: StaffSession,
    CsrfToken(csrf): CsrfToken,
    Path(id): Path<String>,
    ProtectedForm(_form): ProtectedForm<TeamForm>,
) -> Result<Response> {
    let result = team::revoke(&state, &staff.firm, &staff.actor, &id).await;
    answer(&state, &staff, &csrf, result, "revoked").await
}

async fn change_role(
    State(state): State<AppState>,
    staff: StaffSession,
    CsrfToken(csrf): CsrfToken,
    Path(id): Path<String>,
    ProtectedForm(form): ProtectedForm<TeamForm>,
) -> Result<Response> {
    let result = async {
        let role_id = form
            .role_id()
            .ok_or_else(|| Error::invalid("role_id", "choose a role"))?;
        team::change_role(&state, &staff.firm, &staff.actor, &id, role_id).await?;
        Ok(())
    }
    .await;
    answer(&state, &staff, &csrf, result, "role").await
}

async fn remove(
    State(state): State<AppState>,
    staff: StaffSession,
    CsrfToken(csrf): CsrfToken,
    Path(id): Path<String>,
    ProtectedForm(_form): ProtectedForm<TeamForm>,
) -> Result<Response> {
    let result = team::remove(&state, &staff.firm, &staff.actor, &id).await;
    answer(&state, &staff, &csrf, result, "removed").await
}

async fn transfer(
    State(state): State<AppState>,
    staff: StaffSession,
    CsrfToken(csrf): CsrfToken,
    Path(id): Path<String>,
    ProtectedForm(_form): ProtectedForm<TeamForm>,
) -> Result<Response> {
    let result = team::transfer_ownership(&state, &staff.firm, &staff.actor, &id)
        .await
        .map(|_| ());
    answer(&state, &staff, &csrf, result, "transferred").await
}
