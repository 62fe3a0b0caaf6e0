//! API keys: `GET /staff/api-keys` (the firm's live keys: name, first characters, role, who
//! made it), `POST /staff/api-keys` (a new key with a role, acting for the member who makes
//! it; the key is shown once, on the answer to that POST, and never again) and
//! `POST /staff/api-keys/{id}/revoke`. Only roles within the member's own are offered.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use minijinja::context;
use portico_shared::policy::{Action, Area, Intent, Role};
use portico_shared::store::ApiKeyRecord;
use serde::Deserialize;

use crate::error::{Error, Result};
use crate::http::extract::{CsrfOnly, CsrfProtected, CsrfToken, ProtectedForm, StaffSession};
use crate::http::layout::{console_page, token_page};
use crate::services::team_admin;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/staff/api-keys", get(list).post(create))
        .route("/staff/api-keys/{id}/revoke", post(revoke))
}

#[derive(Deserialize)]
struct KeyForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    role_id: String,
}

impl CsrfProtected for KeyForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// The page, with what the form needs: the roles this member may give a key, and, right
/// after creating one, the key itself.
async fn render(
    state: &AppState,
    staff: &StaffSession,
    csrf: &str,
    new_key: Option<(&ApiKeyRecord, &str)>,
    error: Option<String>,
) -> Result<Response> {
    let keys = team_admin::list_api_keys(state, &staff.actor, &staff.firm.id).await?;
    let roles = state.store.roles(&staff.firm.id).await?;
    let role_name = |id: &str| {
        roles
            .iter()
            .find(|r| r.id == id)
            .map_or_else(|| id.to_string(), |r| r.name.clone())
    };
    let members = state.store.members(&staff.firm.id).await?;
    let member_name = |key: &ApiKeyRecord| {
        key.member_id
            .as_ref()
            .and_then(|id| members.iter().find(|m| &m.id == id))
            .map(|m| {
                if m.name.is_empty() {
                    m.email.clone()
                } else {
                    m.name.clone()
                }
            })
            .unwrap_or_default()
    };
    let keys: Vec<_> = keys
        .iter()
        .map(|k| {
            context! {
                id => &k.id,
                name => &k.name,
                prefix => &k.prefix,
                role => role_name(&k.role_id),
                member => member_name(k),
                created_at => k.created_at,
            }
        })
        .collect();
    let grantable: Vec<_> = roles
        .iter()
        .filter(|r: &&Role| {
            staff.may(Intent::Grant {
                area: Area::ApiKeys,
                action: Action::Create,
                grants: &r.permissions,
            })
        })
        .map(|r| context! { id => &r.id, name => &r.name })
        .collect();
    let extra = context! {
        keys => keys,
        roles => grantable,
        may_create => staff.may(Intent::Act(Area::ApiKeys, Action::Create)),
        may_revoke => staff.may(Intent::Act(Area::ApiKeys, Action::Delete)),
        new_key => new_key.map(|(record, key)| context! { name => &record.name, key => key }),
        error => &error,
    };
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let html = console_page(
        state,
        "console/api_keys.html",
        staff,
        csrf,
        "api_keys",
        extra,
    )?;
    Ok((status, html).into_response())
}

async fn list(
    State(state): State<AppState>,
    staff: StaffSession,
    CsrfToken(csrf): CsrfToken,
) -> Result<Response> {
    render(&state, &staff, &csrf, None, None).await
}

async fn create(
    State(state): State<AppState>,
    staff: StaffSession,
    CsrfToken(csrf): CsrfToken,
    ProtectedForm(form): ProtectedForm<KeyForm>,
) -> Result<Response> {
    match team_admin::create_api_key(
        &state,
        &staff.actor,
        &staff.firm.id,
        &form.name,
        &form.role_id,
    )
    .await
    {
        // The key is in this page only: never cached, never sent as a referrer.
        Ok((record, key)) => Ok(token_page(
            render(&state, &staff, &csrf, Some((&record, key.expose())), None).await?,
        )),
        Err(Error::Unprocessable { message, .. }) => {
            render(&state, &staff, &csrf, None, Some(message)).await
        }
        Err(other) => Err(other),
    }
}

async fn revoke(
    State(state): State<AppState>,
    staff: StaffSession,
    Path(id): Path<String>,
    ProtectedForm(_form): ProtectedForm<CsrfOnly>,
) -> Result<Response> {
    team_admin::revoke_api_key(&state, &staff.actor, &staff.firm.id, &id).await?;
    Ok(Redirect::to("/staff/api-keys").into_response())
}
