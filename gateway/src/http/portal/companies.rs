//! Switching between the firms (companies) that gave the signed-in email portal access:
//! `GET /companies`, `POST /companies/switch`, and the landing `GET /companies/handover`.

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum_extra::extract::cookie::CookieJar;
use minijinja::context;
use portico_shared::email::Email;
use serde::Deserialize;

use crate::error::{Error, Result};
use crate::http::extract::{ClientSession, PortalFirm};
use crate::http::extract::{CsrfProtected, CsrfToken, ProtectedForm};
use crate::http::layout::{FirmView, page};
use crate::services::{cookies, handover, sessions};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/companies", get(list))
        .route("/companies/switch", post(switch))
        .route("/companies/handover", get(land))
}

fn normalized(email: &str) -> String {
    Email::parse(email).map_or_else(|_| email.to_lowercase(), |e| e.normalized().to_string())
}

async fn list(
    State(state): State<AppState>,
    session: ClientSession,
    CsrfToken(csrf): CsrfToken,
) -> Result<Html<String>> {
    let firms = state
        .store
        .firms_of_email(&normalized(&session.contact.email))
        .await?;
    let companies: Vec<_> = firms
        .iter()
        .map(|f| context! { firm => FirmView::from(f), current => f.id == session.firm.id })
        .collect();
    let extra = context! { companies => companies };
    page(
        &state,
        "companies.html",
        &session.firm,
        &csrf,
        Some(&session),
        extra,
    )
}

#[derive(Deserialize)]
struct SwitchForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    firm: String,
}

impl CsrfProtected for SwitchForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

async fn switch(
    State(state): State<AppState>,
    session: ClientSession,
    ProtectedForm(form): ProtectedForm<SwitchForm>,
) -> Result<Response> {
    let email = Email::parse(&session.contact.email).map_err(|_| Error::NotFound)?;
    // Only a firm where this email has access now; any other slug is 404, never 403.
    let target = state
        .store
        .firms_of_email(email.normalized())
        .await?
        .into_iter()
        .find(|f| f.slug == form.firm)
        .ok_or(Error::NotFound)?;
    if target.id == session.firm.id {
        return Ok(Redirect::to("/").into_response());
    }
    let contact = state
        .store
        .contact_by_email(&target.id, &email)
        .await?
        .filter(|c| c.portal_access)
        .ok_or(Error::NotFound)?;
    let token = handover::mint(&state, &target, &contact).await?;
    let url = format!(
        "{}/companies/handover?token={token}",
        state.config.portal_url(&target.slug)
    );
    Ok(Redirect::to(&url).into_response())
}

#[derive(Deserialize)]
struct LandQuery {
    token: Option<String>,
}

async fn land(
    State(state): State<AppState>,
    PortalFirm(firm): PortalFirm,
    CsrfToken(csrf): CsrfToken,
    jar: CookieJar,
    headers: HeaderMap,
    Query(query): Query<LandQuery>,
) -> Result<Response> {
    // A token seen outside a handover is used up all the same: it may have leaked.
    let redeemed = match query.token.as_deref() {
        Some(token) => handover::redeem(&state, &firm, token)
            .await?
            .filter(|_| handover::arrived_from_a_portal(&headers)),
        None => None,
    };
    // Access may have been revoked between the switch and now: check against the database.
    let contact = match redeemed {
        Some((contact_id, epoch)) => state
            .store
            .contact(&firm.id, &contact_id)
            .await?
            .filter(|c| c.portal_access && c.auth_epoch == epoch),
        None => None,
    };
    let Some(contact) = contact else {
        let html = page(
            &state,
            "handover_failed.html",
            &firm,
            &csrf,
            None,
            context! {},
        )?;
        return Ok((StatusCode::GONE, html).into_response());
    };
    let secure = state.config.cookie_secure;
    let previous = cookies::get(&jar, cookies::SESSION, secure);
    let cookie =
        sessions::start(&state, previous, &firm.id, &contact.id, contact.auth_epoch).await?;
    Ok((jar.add(cookie), Redirect::to("/")).into_response())
}
