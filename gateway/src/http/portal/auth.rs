//! Signing in with a magic link: `/login`, `/auth/magic`, `/logout`.
//!
//! Mail scanners open links, run scripts and submit forms, so nothing here consumes a link
//! without a proof that only the client has: the binding cookie of the browser that asked for
//! the link (one click, `GET` only, never `HEAD`), or the short code from the same email.

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum_extra::extract::cookie::CookieJar;
use minijinja::context;
use portico_shared::email::{Email, mask};
use portico_shared::ids::ContactId;
use portico_shared::now_unix;
use portico_shared::store::{Firm, SignIn};
use portico_shared::token::{LinkPurpose, PlainCode, VerifiedLink, verify_link};

use crate::error::{Error, Result};
use crate::http::extract::CsrfOnly;
use crate::http::extract::client::per_ip_limit;
use crate::http::extract::sign_in::{CodeForm, LinkQuery, LoginForm, LoginQuery};
use crate::http::extract::{CsrfToken, ProtectedForm};
use crate::http::extract::{MaybeSession, PortalFirm};
use crate::http::layout::{page, token_page, tr};
use crate::services::client_ip::ClientAddress;
use crate::services::cookies;
use crate::services::links::{self, Consumed, Issued, Proof};
use crate::services::sessions::{self, Audience};
use crate::state::AppState;

pub fn router(state: &AppState) -> Router<AppState> {
    Router::new()
        .route("/login", get(login_page).post(request_link))
        .route("/auth/magic", get(open_link).post(confirm_code))
        .route_layer(per_ip_limit(state))
        .route("/logout", post(logout))
}

async fn login_page(
    State(state): State<AppState>,
    PortalFirm(firm): PortalFirm,
    CsrfToken(csrf): CsrfToken,
    MaybeSession(session): MaybeSession,
    Query(query): Query<LoginQuery>,
) -> Result<Response> {
    let extra = context! { signed_out => query.signed_out.is_some() };
    Ok(page(
        &state,
        "portal/login.html",
        &firm,
        &csrf,
        session.as_ref(),
        extra,
    )?
    .into_response())
}

/// Answers the same page, after the same work, whether or not the address has access.
async fn request_link(
    State(state): State<AppState>,
    PortalFirm(firm): PortalFirm,
    CsrfToken(csrf): CsrfToken,
    jar: CookieJar,
    client: ClientAddress,
    ProtectedForm(form): ProtectedForm<LoginForm>,
) -> Result<Response> {
    let email = match Email::parse(&form.email) {
        Ok(email) => email,
        Err(_) => {
            let error = tr(&state, "login.error_email", &[]);
            let extra = context! { error => error, email => form.email.trim() };
            let html = page(&state, "portal/login.html", &firm, &csrf, None, extra)?;
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, html).into_response());
        }
    };
    let secure = state.config.cookie_secure;
    let binding = cookies::binding_of(&jar, secure);
    let contact = state.store.contact_by_email(&firm.id, &email).await?;
    match links::request_login(
        &state,
        &firm,
        &email,
        contact.as_ref(),
        &binding,
        client.network(),
    )
    .await?
    {
        Issued::RateLimited(retry_after) => Err(Error::RateLimited { retry_after }),
        Issued::Done => {
            let ttl_days = state.config.link_ttl.as_secs().div_ceil(86_400);
            let extra = context! { email => email.as_str(), ttl_days => ttl_days };
            let html = page(&state, "portal/login_sent.html", &firm, &csrf, None, extra)?;
            let cookie = cookies::binding(binding, state.config.login_one_click, secure);
            Ok((jar.add(cookie), html).into_response())
        }
    }
}

/// Opening a link. Signs in at once only for a `GET` from the browser that asked for it;
/// everyone else (another device, an invitation, a scanner) is asked for the code.
async fn open_link(
    method: Method,
    State(state): State<AppState>,
    PortalFirm(firm): PortalFirm,
    CsrfToken(csrf): CsrfToken,
    MaybeSession(session): MaybeSession,
    jar: CookieJar,
    Query(query): Query<LinkQuery>,
) -> Result<Response> {
    let keys = state.keys();
    let token = query.token.unwrap_or_default();
    let link = match verify_link(keys, &firm.id, &token, now_unix()) {
        // A staff link is for the console, never for the portal.
        Ok(link) if link.purpose.staff() => {
            return unusable_link(&state, &firm, &csrf, "wrong_audience", None);
        }
        Ok(link) => link,
        Err(e) => return unusable_link(&state, &firm, &csrf, e.reason(), None),
    };
    let secure = state.config.cookie_secure;
    if method == Method::GET
        && link.purpose == LinkPurpose::Login
        && let Some(binding) = cookies::get(&jar, cookies::BINDING, secure)
    {
        match links::consume(&state, firm.id.as_str(), &link, Proof::Binding(binding)).await? {
            Consumed::Won { subject, epoch, .. } => {
                let Some(contact_id) = ContactId::parse(&subject) else {
                    return unusable_link(&state, &firm, &csrf, "gone", None);
                };
                let won = (&contact_id, epoch, LinkPurpose::Login);
                return sign_in(&state, &firm, &csrf, &jar, won, "binding").await;
            }
            Consumed::Gone => return unusable_link(&state, &firm, &csrf, "gone", None),
            // Another browser's binding: fall through to the code.
            Consumed::WrongCode { .. } | Consumed::Voided => {}
        }
    }
    let Some((info, contact_id)) = links::peek(&state, firm.id.as_str(), &link)
        .await?
        .and_then(|info| info.contact_id().map(|id| (info, id)))
    else {
        return unusable_link(&state, &firm, &csrf, "gone", None);
    };
    // Opening someone else's link (an invitation, say) while signed in: say what will happen.
    let switching_from = session
        .as_ref()
        .filter(|s| s.contact.id != contact_id)
        .map(|s| s.contact.email.clone());
    let switching_to = match &switching_from {
        Some(_) => state
            .store
            .contact(&firm.id, &contact_id)
            .await?
            .map(|c| mask(&c.email)),
        None => None,
    };
    let extra = context! {
        token => token,
        invitation => info.purpose == LinkPurpose::Invitation.as_str(),
        switching_from => switching_from,
        switching_to => switching_to,
    };
    Ok(token_page(page(
        &state,
        "portal/link_code.html",
        &firm,
        &csrf,
        session.as_ref(),
        extra,
    )?))
}

async fn confirm_code(
    State(state): State<AppState>,
    PortalFirm(firm): PortalFirm,
    CsrfToken(csrf): CsrfToken,
    jar: CookieJar,
    ProtectedForm(form): ProtectedForm<CodeForm>,
) -> Result<Response> {
    let link = match verify_link(state.keys(), &firm.id, &form.token, now_unix()) {
        Ok(link) if link.purpose.staff() => {
            return unusable_link(&state, &firm, &csrf, "wrong_audience", None);
        }
        Ok(link) => link,
        Err(e) => return unusable_link(&state, &firm, &csrf, e.reason(), None),
    };
    let Some(code) = PlainCode::parse(&form.code) else {
        // Not a code at all: say how one looks, without counting it as a guess.
        let error = tr(&state, "link_code.error_format", &[]);
        return code_retry(&state, &firm, &csrf, &form.token, &link, &error);
    };
    match links::consume(&state, firm.id.as_str(), &link, Proof::Code(&code)).await? {
        Consumed::Won {
            subject,
            epoch,
            purpose,
            ..
        } => {
            let Some(contact_id) = ContactId::parse(&subject) else {
                return unusable_link(&state, &firm, &csrf, "gone", None);
            };
            sign_in(
                &state,
                &firm,
                &csrf,
                &jar,
                (&contact_id, epoch, purpose),
                "code",
            )
            .await
        }
        Consumed::WrongCode { attempts_left } => {
            state.metrics.link_rejected("wrong_code");
            let error = match attempts_left {
                1 => tr(&state, "link_code.error_wrong_once", &[]),
                n => tr(&state, "link_code.error_wrong", &[("n", &n.to_string())]),
            };
            code_retry(&state, &firm, &csrf, &form.token, &link, &error)
        }
        Consumed::Voided => {
            let why = tr(&state, "link_invalid.why_too_many_codes", &[]);
            unusable_link(&state, &firm, &csrf, "too_many_codes", Some(&why))
        }
        Consumed::Gone => unusable_link(&state, &firm, &csrf, "gone", None),
    }
}

fn code_retry(
    state: &AppState,
    firm: &Firm,
    csrf: &str,
    token: &str,
    link: &VerifiedLink<'_>,
    error: &str,
) -> Result<Response> {
    let extra = context! {
        token => token,
        invitation => link.purpose == LinkPurpose::Invitation,
        error => error,
    };
    let html = page(state, "portal/link_code.html", firm, csrf, None, extra)?;
    Ok((StatusCode::UNPROCESSABLE_ENTITY, token_page(html)).into_response())
}

/// The link is used up: start a session if the contact still has access under the same epoch.
async fn sign_in(
    state: &AppState,
    firm: &Firm,
    csrf: &str,
    jar: &CookieJar,
    (contact_id, epoch, purpose): (&ContactId, i64, LinkPurpose),
    proof: &'static str,
) -> Result<Response> {
    let via_invitation = purpose == LinkPurpose::Invitation;
    let recorded = state
        .sign_ins
        .record(SignIn {
            firm_id: firm.id.clone(),
            contact_id: contact_id.clone(),
            epoch,
            via_invitation,
        })
        .await?;
    if !recorded {
        return unusable_link(state, firm, csrf, "revoked", None);
    }
    let previous = cookies::get(jar, cookies::SESSION, state.config.cookie_secure);
    let cookie = sessions::start(
        state,
        Audience::Client,
        previous,
        &firm.id,
        contact_id.as_str(),
        epoch,
    )
    .await?;
    state.metrics.link_consumed(proof);
    tracing::info!(contact = %contact_id, proof, "signed in with a magic link");
    Ok((jar.clone().add(cookie), Redirect::to("/")).into_response())
}

/// The friendly page for a used, expired, unknown or voided link, with a form for a new one.
/// It does not say which, so it tells an attacker nothing.
fn unusable_link(
    state: &AppState,
    firm: &Firm,
    csrf: &str,
    reason: &'static str,
    why: Option<&str>,
) -> Result<Response> {
    state.metrics.link_rejected(reason);
    let html = page(
        state,
        "portal/link_invalid.html",
        firm,
        csrf,
        None,
        context! { why => why },
    )?;
    Ok((StatusCode::GONE, token_page(html)).into_response())
}

async fn logout(
    State(state): State<AppState>,
    jar: CookieJar,
    ProtectedForm(_form): ProtectedForm<CsrfOnly>,
) -> Result<Response> {
    let jar = sessions::sign_out(&state, Audience::Client, jar).await?;
    Ok((jar, Redirect::to("/login?signed_out=1")).into_response())
}
