//! Roles: `GET /staff/roles` (built-in and the firm's own, with what each grants), a form to
//! create one (`GET /staff/roles/new`, `POST /staff/roles`), to edit one
//! (`GET/POST /staff/roles/{id}`) and `POST /staff/roles/{id}/delete`. Every decision is the
//! policy's, through `services::team_admin`; the page offers only what it would allow.

use std::collections::{BTreeMap, HashMap};

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use minijinja::context;
use portico_shared::policy::{Action, Area, Grant, Intent, Permissions, Role, Scope};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::http::extract::{CsrfOnly, CsrfProtected, CsrfToken, ProtectedForm, StaffSession};
use crate::http::layout::console_page;
use crate::services::team_admin;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/staff/roles", get(list).post(create))
        .route("/staff/roles/new", get(new_form))
        .route("/staff/roles/{id}", get(show).post(update))
        .route("/staff/roles/{id}/delete", post(delete))
}

/// One area's row of the permission grid, as a template shows it.
#[derive(Serialize)]
struct AreaRow {
    area: &'static str,
    label: &'static str,
    scoped: bool,
    /// (action, granted) in `Action::ALL` order.
    actions: Vec<(&'static str, bool)>,
    /// The granted actions alone.
    granted: Vec<&'static str>,
    scope: &'static str,
}

fn area_label(area: Area) -> &'static str {
    match area {
        Area::Contacts => "Contacts",
        Area::Accounts => "Client accounts",
        Area::Tasks => "Tasks",
        Area::Signing => "Signing",
        Area::Conversations => "Conversations",
        Area::Invoices => "Invoices",
        Area::PortalSettings => "Portal settings",
        Area::ClientPermissions => "Client permissions",
        Area::Team => "Team",
        Area::Roles => "Roles",
        Area::ApiKeys => "API keys",
    }
}

fn grid(permissions: &Permissions) -> Vec<AreaRow> {
    Area::ALL
        .into_iter()
        .map(|area| AreaRow {
            area: area.as_str(),
            label: area_label(area),
            scoped: area.scoped(),
            actions: Action::ALL
                .into_iter()
                .map(|action| (action.as_str(), permissions.reach(area, action).is_some()))
                .collect(),
            granted: Action::ALL
                .into_iter()
                .filter(|&action| permissions.reach(area, action).is_some())
                .map(Action::as_str)
                .collect(),
            scope: Action::ALL
                .into_iter()
                .find_map(|action| permissions.reach(area, action))
                .unwrap_or_default()
                .as_str(),
        })
        .collect()
}

fn role_view(role: &Role) -> minijinja::Value {
    context! {
        id => &role.id,
        name => &role.name,
        builtin => role.builtin,
        grid => grid(&role.permissions),
    }
}

async fn list(
    State(state): State<AppState>,
    staff: StaffSession,
    CsrfToken(csrf): CsrfToken,
) -> Result<Response> {
    let roles = team_admin::list_roles(&state, &staff.actor, &staff.firm.id).await?;
    let roles: Vec<_> = roles.iter().map(role_view).collect();
    let extra = context! {
        roles => roles,
        may_create => staff.may(Intent::Act(Area::Roles, Action::Create)),
    };
    Ok(console_page(&state, "console/roles.html", &staff, &csrf, "roles", extra)?.into_response())
}

/// The role form: a name, and per area a checkbox per action (`grant.{area}.{action}`) and,
/// for areas with clients, a scope (`scope.{area}`: `all` or `assigned`).
#[derive(Deserialize)]
struct RoleForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(flatten)]
    fields: HashMap<String, String>,
}

impl CsrfProtected for RoleForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

impl RoleForm {
    fn permissions(&self) -> Result<Permissions> {
        let mut grants = BTreeMap::new();
        for area in Area::ALL {
            let actions: Vec<Action> = Action::ALL
                .into_iter()
                .filter(|action| {
                    self.fields.contains_key(&format!(
                        "grant.{}.{}",
                        area.as_str(),
                        action.as_str()
                    ))
                })
                .collect();
            if actions.is_empty() {
                continue;
            }
            let scope = match self
                .fields
                .get(&format!("scope.{}", area.as_str()))
                .map(String::as_str)
            {
                None | Some("all") => Scope::All,
                Some("assigned") if area.scoped() => Scope::Assigned,
                Some(_) => {
                    return Err(Error::invalid(
                        "permissions",
                        format!(
                            "{}: the scope must be all or assigned clients",
                            area_label(area)
                        ),
                    ));
                }
            };
            grants.insert(area, Grant { actions, scope });
        }
        team_admin::checked_permissions(grants)
    }
}

fn form_page(
    state: &AppState,
    staff: &StaffSession,
    csrf: &str,
    role: Option<&Role>,
    name: &str,
    permissions: &Permissions,
    error: Option<String>,
) -> Result<Response> {
    let extra = context! {
        role => role.map(role_view),
        name => name,
        grid => grid(permissions),
        error => error,
        editable => role.is_none_or(|r| !r.builtin)
            && staff.may(Intent::Act(
                Area::Roles,
                if role.is_some() { Action::Edit } else { Action::Create },
            )),
        may_delete => role.is_some_and(|r| !r.builtin)
            && staff.may(Intent::Act(Area::Roles, Action::Delete)),
    };
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let html = console_page(state, "console/role.html", staff, csrf, "roles", extra)?;
    Ok((status, html).into_response())
}

async fn new_form(
    State(state): State<AppState>,
    staff: StaffSession,
    CsrfToken(csrf): CsrfToken,
) -> Result<Response> {
    team_admin::allow(&staff.actor, Intent::Act(Area::Roles, Action::Create))?;
    form_page(
        &state,
        &staff,
        &csrf,
        None,
        "",
        &Permissions::default(),
        None,
    )
}

/// A refusal of what was typed shows the form again with the message; anything else is an
/// error page.
fn typed_error(error: Error) -> Result<String> {
    match error {
        Error::Unprocessable { message, .. }
        | Error::Conflict {
            code: "name_taken",
            message,
        } => Ok(message),
        other => Err(other),
    }
}

async fn create(
    State(state): State<AppState>,
    staff: StaffSession,
    CsrfToken(csrf): CsrfToken,
    ProtectedForm(form): ProtectedForm<RoleForm>,
) -> Result<Response> {
    let outcome = match form.permissions() {
        Ok(permissions) => {
            team_admin::create_role(
                &state,
                &staff.actor,
                &staff.firm.id,
                &form.name,
                &permissions,
            )
            .await
        }
        Err(e) => Err(e),
    };
    match outcome {
        Ok(role) => Ok(Redirect::to(&format!("/staff/roles/{}?saved=1", role.id)).into_response()),
        Err(e) => {
            let message = typed_error(e)?;
            let permissions = form.permissions().unwrap_or_default();
            form_page(
                &state,
                &staff,
                &csrf,
                None,
                &form.name,
                &permissions,
                Some(message),
            )
        }
    }
}

async fn show(
    State(state): State<AppState>,
    staff: StaffSession,
    CsrfToken(csrf): CsrfToken,
    Path(id): Path<String>,
) -> Result<Response> {
    let role = team_admin::role(&state, &staff.actor, &staff.firm.id, &id).await?;
    form_page(
        &state,
        &staff,
        &csrf,
        Some(&role),
        &role.name,
        &role.permissions,
        None,
    )
}

async fn update(
    State(state): State<AppState>,
    staff: StaffSession,
    CsrfToken(csrf): CsrfToken,
    Path(id): Path<String>,
    ProtectedForm(form): ProtectedForm<RoleForm>,
) -> Result<Response> {
    let outcome = match form.permissions() {
        Ok(permissions) => {
            team_admin::update_role(
                &state,
                &staff.actor,
                &staff.firm.id,
                &id,
                Some(&form.name),
                Some(permissions),
            )
            .await
        }
        Err(e) => Err(e),
    };
    match outcome {
        Ok(role) => Ok(Redirect::to(&format!("/staff/roles/{}?saved=1", role.id)).into_response()),
        Err(e) => {
            let message = typed_error(e)?;
            let role = team_admin::role(&state, &staff.actor, &staff.firm.id, &id).await?;
            let permissions = form.permissions().unwrap_or_default();
            form_page(
                &state,
                &staff,
                &csrf,
                Some(&role),
                &form.name,
                &permissions,
                Some(message),
            )
        }
    }
}

async fn delete(
    State(state): State<AppState>,
    staff: StaffSession,
    Path(id): Path<String>,
    ProtectedForm(_form): ProtectedForm<CsrfOnly>,
) -> Result<Response> {
    team_admin::delete_role(&state, &staff.actor, &staff.firm.id, &id).await?;
    Ok(Redirect::to("/staff/roles?deleted=1").into_response())
}
