//! Switching between the firms (companies) that gave the signed-in email portal access:
//! `GET /companies`, `POST /companies/switch`, and the round trip that carries the session to
//! the other firm's host (`/companies/handover` there, `/companies/handover/confirm` back
//! here, `/companies/handover/land` there; see [`crate::services::handover`]).

use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum_extra::extract::cookie::CookieJar;
use minijinja::context;
use portico_shared::email::Email;
use portico_shared::store::Firm;
use serde::Deserialize;

use crate::error::{Error, Result};
use crate::http::extract::{ClientSession, MaybeSession, PortalFirm};
use crate::http::extract::{CsrfProtected, CsrfToken, ProtectedForm};
use crate::http::layout::{page, token_page};
use crate::http::views::render_companies;
use crate::services::cookies;
use crate::services::handover::{self, Confirmed};
use crate::services::sessions::{self, Audience};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/companies", get(list))
        .route("/companies/switch", post(switch))
        .route("/companies/handover", get(begin))
        .route("/companies/handover/confirm", get(confirm))
        .route("/companies/handover/land", get(land))
}

async fn list(
    State(state): State<AppState>,
    session: ClientSession,
    CsrfToken(csrf): CsrfToken,
) -> Result<Html<String>> {
    render_companies(&state, &session, &csrf).await
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
    jar: CookieJar,
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
    // The handover is bound to this session: only it can confirm the round trip.
    let session_cookie = cookies::get(&jar, cookies::SESSION, state.config.cookie_secure)
        .ok_or(Error::SignInRequired)?;
    let url = handover::mint(&state, &session.firm, session_cookie, &target, &contact).await?;
    Ok(token_page(Redirect::to(&url)))
}

#[derive(Deserialize)]
struct HandoverQuery {
    token: Option<String>,
    nonce: Option<String>,
}

/// The target's first step: a nonce cookie for this host, and back to the origin to confirm.
async fn begin(
    State(state): State<AppState>,
    PortalFirm(firm): PortalFirm,
    CsrfToken(csrf): CsrfToken,
    jar: CookieJar,
    Query(query): Query<HandoverQuery>,
) -> Result<Response> {
    let started = match query.token.as_deref() {
        Some(token) => handover::begin(&state, &firm, token).await?,
        None => None,
    };
    match started {
        Some(to_origin) => Ok(token_page((
            jar.add(to_origin.cookie),
            Redirect::to(&to_origin.url),
        ))),
        None => refused(&state, &firm, &csrf, jar),
    }
}

/// The origin confirms for the session that switched, and sends the browser on to land.
async fn confirm(
    State(state): State<AppState>,
    PortalFirm(firm): PortalFirm,
    MaybeSession(session): MaybeSession,
    CsrfToken(csrf): CsrfToken,
    jar: CookieJar,
    Query(query): Query<HandoverQuery>,
) -> Result<Response> {
    // The cookie counts only while its session is live here (not ended, access not revoked).
    let session_cookie =
        session.and_then(|_| cookies::get(&jar, cookies::SESSION, state.config.cookie_secure));
    let confirmed = match query.token.as_deref() {
        Some(token) => {
            let nonce = query.nonce.as_deref().unwrap_or_default();
            handover::confirm(&state, &firm, session_cookie, token, nonce).await?
        }
        None => Confirmed::Refused(None),
    };
    match confirmed {
        Confirmed::Land(url) => Ok(token_page(Redirect::to(&url))),
        // The target's own page explains, in the portal the client was going to.
        Confirmed::Refused(Some(url)) => Ok(token_page(Redirect::to(&url))),
        Confirmed::Refused(None) => refused(&state, &firm, &csrf, jar),
    }
}

/// The target signs in the browser whose nonce the origin confirmed; the token is used up.
async fn land(
    State(state): State<AppState>,
    PortalFirm(firm): PortalFirm,
    CsrfToken(csrf): CsrfToken,
    jar: CookieJar,
    Query(query): Query<HandoverQuery>,
) -> Result<Response> {
    let secure = state.config.cookie_secure;
    let nonce = cookies::get(&jar, cookies::HANDOVER, secure);
    let landing = match query.token.as_deref() {
        Some(token) => handover::land(&state, &firm, nonce, token).await?,
        None => None,
    };
    // Access may have been revoked between the switch and now: check against the database.
    let contact = match landing {
        Some(landing) => state
            .store
            .contact(&firm.id, &landing.contact_id)
            .await?
            .filter(|c| c.portal_access && c.auth_epoch == landing.epoch),
        None => None,
    };
    let Some(contact) = contact else {
        return refused(&state, &firm, &csrf, jar);
    };
    let previous = cookies::get(&jar, cookies::SESSION, secure);
    let cookie = sessions::start(
        &state,
        Audience::Client,
        previous,
        &firm.id,
        contact.id.as_str(),
        contact.auth_epoch,
    )
    .await?;
    let jar = jar
        .add(cookie)
        .add(cookies::removal(cookies::HANDOVER, secure));
    Ok(token_page((jar, Redirect::to("/"))))
}

/// The friendly page of a handover that cannot go on: sign in at this firm instead. The nonce
/// cookie, if any, goes too.
fn refused(state: &AppState, firm: &Firm, csrf: &str, jar: CookieJar) -> Result<Response> {
    let html = page(
        state,
        "portal/handover_failed.html",
        firm,
        csrf,
        None,
        context! {},
    )?;
    let jar = jar.add(cookies::removal(
        cookies::HANDOVER,
        state.config.cookie_secure,
    ));
    Ok(token_page((StatusCode::GONE, jar, html)))
}
