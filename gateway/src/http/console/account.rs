//! The member's own account, `/staff/account`: their name (changed at once) and their sign-in
//! address (changed only through a link sent to the new one, `services::team`).

use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use minijinja::context;
use portico_shared::email::Email;
use serde::Deserialize;

use crate::error::{Error, Result};
use crate::http::extract::{CsrfProtected, CsrfToken, ProtectedForm, StaffSession};
use crate::http::layout::console_page;
use crate::services::team;
use crate::state::AppState;

/// Longest name accepted.
const NAME_MAX: usize = 200;

pub fn router() -> Router<AppState> {
    Router::new().route("/staff/account", get(account_page).post(save))
}

#[derive(Deserialize)]
struct AccountQuery {
    done: Option<String>,
    email_changed: Option<String>,
}

async fn account_page(
    State(state): State<AppState>,
    staff: StaffSession,
    CsrfToken(csrf): CsrfToken,
    Query(query): Query<AccountQuery>,
) -> Result<Response> {
    let flash = match (query.done.as_deref(), query.email_changed.is_some()) {
        (_, true) => Some("Your sign-in address is changed. Your other sessions have ended."),
        (Some("name"), _) => Some("Name saved."),
        (Some("email"), _) => {
            Some("We sent a link to the new address. Open it and enter its code to confirm.")
        }
        _ => None,
    };
    let extra = context! { flash => flash };
    Ok(console_page(
        &state,
        "console/account.html",
        &staff,
        &csrf,
        "account",
        extra,
    )?
    .into_response())
}

#[derive(Deserialize)]
struct AccountForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    email: String,
}

impl CsrfProtected for AccountForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

async fn save(
    State(state): State<AppState>,
    staff: StaffSession,
    CsrfToken(csrf): CsrfToken,
    ProtectedForm(form): ProtectedForm<AccountForm>,
) -> Result<Response> {
    let result = match form.action.as_str() {
        "name" => {
            let name = form.name.trim();
            if name.chars().count() > NAME_MAX {
                Err(Error::invalid(
                    "name",
                    format!("a name has at most {NAME_MAX} characters"),
                ))
            } else {
                state
                    .store
                    .update_member(&staff.firm.id, &staff.member.id, Some(name), None)
                    .await
                    .map(|_| "name")
                    .map_err(Error::from)
            }
        }
        "email" => match Email::parse(&form.email) {
            Ok(email) => team::request_email_change(&state, &staff.firm, &staff.member, &email)
                .await
                .map(|_| "email"),
            Err(_) => Err(Error::invalid(
                "email",
                "enter an email address, like name@example.com",
            )),
        },
        _ => Err(Error::BadRequest("unknown action".into())),
    };
    match result {
        Ok(done) => Ok(Redirect::to(&format!("/staff/account?done={done}")).into_response()),
        Err(Error::Unprocessable { message, .. }) => {
            let extra = context! { error => message };
            let html = console_page(
                &state,
                "console/account.html",
                &staff,
                &csrf,
                "account",
                extra,
            )?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, html).into_response())
        }
        Err(e) => Err(e),
    }
}
