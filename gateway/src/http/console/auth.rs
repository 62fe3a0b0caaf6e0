//! Staff sign-in with a magic link: `/staff/login`, `/staff/auth/magic`, `/staff/logout`, and
//! the two other links staff open there: a team invitation and an email change.
//!
//! As for clients (`portal/auth.rs`, SPEC §4): nothing consumes a link without a proof only
//! the member has (the binding cookie of the browser that asked, on a `GET` within
//! `PORTICO_LOGIN_ONE_CLICK`, or the code from the same email); unknown addresses get the same
//! page after the same work; client links are refused here, as staff links are at the portal.

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum_extra::extract::cookie::CookieJar;
use minijinja::context;
use portico_shared::email::Email;
use portico_shared::ids::{MemberId, TeamInvitationId};
use portico_shared::now_unix;
use portico_shared::store::{Firm, Member};
use portico_shared::token::{LinkPurpose, PlainCode, VerifiedLink, verify_link};

use crate::error::{Error, Result};
use crate::http::extract::CsrfOnly;
use crate::http::extract::client::per_ip_limit;
use crate::http::extract::sign_in::{CodeForm, LinkQuery, LoginForm, LoginQuery};
use crate::http::extract::{CsrfToken, MaybeStaff, PortalFirm, ProtectedForm};
use crate::http::layout::{console_signed_out_page, token_page};
use crate::services::client_ip::ClientAddress;
use crate::services::links::{self, Consumed, Issued, Proof};
use crate::services::sessions::{self, Audience};
use crate::services::{cookies, team};
use crate::state::AppState;

pub fn router(state: &AppState) -> Router<AppState> {
    Router::new()
        .route("/staff/login", get(login_page).post(request_link))
        .route("/staff/auth/magic", get(open_link).post(confirm_code))
        .route_layer(per_ip_limit(state))
        .route("/staff/logout", post(logout))
}

async fn login_page(
    State(state): State<AppState>,
    PortalFirm(firm): PortalFirm,
    CsrfToken(csrf): CsrfToken,
    Query(query): Query<LoginQuery>,
) -> Result<Response> {
    let extra = context! { signed_out => query.signed_out.is_some() };
    Ok(console_signed_out_page(&state, "console/login.html", &firm, &csrf, extra)?.into_response())
}

/// The same page, after the same work, whether or not the address is a member's.
async fn request_link(
    State(state): State<AppState>,
    PortalFirm(firm): PortalFirm,
    CsrfToken(csrf): CsrfToken,
    jar: CookieJar,
    client: ClientAddress,
    ProtectedForm(form): ProtectedForm<LoginForm>,
) -> Result<Response> {
    let Ok(email) = Email::parse(&form.email) else {
        let extra = context! {
            error => "Enter an email address, like name@example.com.",
            email => form.email.trim(),
        };
        let html = console_signed_out_page(&state, "console/login.html", &firm, &csrf, extra)?;
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, html).into_response());
    };
    let secure = state.config.cookie_secure;
    let binding = cookies::binding_of(&jar, secure);
    let member = state.store.member_by_email(&firm.id, &email).await?;
    match links::request_staff_login(
        &state,
        &firm,
        &email,
        member.as_ref(),
        &binding,
        client.network(),
    )
    .await?
    {
        Issued::RateLimited(retry_after) => Err(Error::RateLimited { retry_after }),
        Issued::Done => {
            let ttl_days = state.config.link_ttl.as_secs().div_ceil(86_400);
            let extra = context! { email => email.as_str(), ttl_days => ttl_days };
            let html =
                console_signed_out_page(&state, "console/login_sent.html", &firm, &csrf, extra)?;
            let cookie = cookies::binding(binding, state.config.login_one_click, secure);
            Ok((jar.add(cookie), html).into_response())
        }
    }
}

/// A verified staff link of this firm, or why not (for [`unusable_link`]).
fn staff_link<'k>(
    state: &'k AppState,
    firm: &Firm,
    token: &str,
) -> std::result::Result<VerifiedLink<'k>, &'static str> {
    match verify_link(state.keys(), &firm.id, token, now_unix()) {
        Ok(link) if link.purpose.staff() => Ok(link),
        // A client's link is for the portal, never for the console.
        Ok(_) => Err("wrong_audience"),
        Err(e) => Err(e.reason()),
    }
}

/// Opening a link. Signs in at once only for a `GET` of a sign-in link from the browser that
/// asked for it; everyone else (another device, an invitation, a scanner) is asked for the code.
async fn open_link(
    method: Method,
    State(state): State<AppState>,
    PortalFirm(firm): PortalFirm,
    CsrfToken(csrf): CsrfToken,
    MaybeStaff(staff): MaybeStaff,
    jar: CookieJar,
    Query(query): Query<LinkQuery>,
) -> Result<Response> {
    let token = query.token.unwrap_or_default();
    let link = match staff_link(&state, &firm, &token) {
        Ok(link) => link,
        Err(reason) => return unusable_link(&state, &firm, &csrf, reason, None),
    };
    let secure = state.config.cookie_secure;
    if method == Method::GET
        && link.purpose == LinkPurpose::StaffLogin
        && let Some(binding) = cookies::get(&jar, cookies::BINDING, secure)
    {
        match links::consume(&state, firm.id.as_str(), &link, Proof::Binding(binding)).await? {
            Consumed::Won { subject, epoch, .. } => {
                return sign_in_member(&state, &firm, &csrf, &jar, &subject, epoch, "binding")
                    .await;
            }
            Consumed::Gone => return unusable_link(&state, &firm, &csrf, "gone", None),
            // Another browser's binding: fall through to the code.
            Consumed::WrongCode { .. } | Consumed::Voided => {}
        }
    }
    let Some(info) = links::peek(&state, firm.id.as_str(), &link).await? else {
        return unusable_link(&state, &firm, &csrf, "gone", None);
    };
    if link.purpose == LinkPurpose::TeamInvitation
        && let Some(page) =
            other_member(&state, &firm, &csrf, staff.as_ref(), &info.subject).await?
    {
        return Ok(page);
    }
    let extra = context! { token => token, purpose => link.purpose.as_str() };
    Ok(token_page(console_signed_out_page(
        &state,
        "console/link_code.html",
        &firm,
        &csrf,
        extra,
    )?))
}

/// When this browser is signed in as a member whose address is not the invitation's: the page
/// that says so (nothing is changed, the invitation stays open).
async fn other_member(
    state: &AppState,
    firm: &Firm,
    csrf: &str,
    staff: Option<&crate::http::extract::StaffSession>,
    invitation_id: &str,
) -> Result<Option<Response>> {
    let Some(staff) = staff else {
        return Ok(None);
    };
    let invited = match TeamInvitationId::parse(invitation_id) {
        Some(id) => state.store.team_invitation(&firm.id, &id).await?,
        None => None,
    };
    if invited.is_some_and(|i| i.email.eq_ignore_ascii_case(&staff.member.email)) {
        return Ok(None);
    }
    let extra = context! { signed_in_as => &staff.member.email };
    let html = console_signed_out_page(state, "console/other_member.html", firm, csrf, extra)?;
    Ok(Some(
        (StatusCode::CONFLICT, token_page(html)).into_response(),
    ))
}

async fn confirm_code(
    State(state): State<AppState>,
    PortalFirm(firm): PortalFirm,
    CsrfToken(csrf): CsrfToken,
    MaybeStaff(staff): MaybeStaff,
    jar: CookieJar,
    ProtectedForm(form): ProtectedForm<CodeForm>,
) -> Result<Response> {
    let link = match staff_link(&state, &firm, &form.token) {
        Ok(link) => link,
        Err(reason) => return unusable_link(&state, &firm, &csrf, reason, None),
    };
    let Some(code) = PlainCode::parse(&form.code) else {
        // Not a code at all: say how one looks, without counting it as a guess.
        let error = "A code has 8 letters and digits, like ABCD-EFGH.";
        return code_retry(&state, &firm, &csrf, &form.token, &link, error);
    };
    // An invitation is not accepted while another member is signed in here: checked before
    // the link is spent, so nothing changes.
    if link.purpose == LinkPurpose::TeamInvitation
        && staff.is_some()
        && let Some(info) = links::peek(&state, firm.id.as_str(), &link).await?
        && let Some(page) =
            other_member(&state, &firm, &csrf, staff.as_ref(), &info.subject).await?
    {
        return Ok(page);
    }
    match links::consume(&state, firm.id.as_str(), &link, Proof::Code(&code)).await? {
        Consumed::Won {
            subject,
            epoch,
            purpose,
            note,
        } => match purpose {
            LinkPurpose::TeamInvitation => {
                accept_invitation(&state, &firm, &csrf, &jar, &subject, epoch).await
            }
            LinkPurpose::StaffEmailChange => {
                change_email(&state, &firm, &csrf, &jar, &subject, epoch, &note).await
            }
            _ => sign_in_member(&state, &firm, &csrf, &jar, &subject, epoch, "code").await,
        },
        Consumed::WrongCode { attempts_left } => {
            state.metrics.link_rejected("wrong_code");
            let error = match attempts_left {
                1 => "That code is not right. One more try, then the link stops working.".into(),
                n => format!("That code is not right. {n} more tries."),
            };
            code_retry(&state, &firm, &csrf, &form.token, &link, &error)
        }
        Consumed::Voided => {
            let why = "Too many wrong codes were entered, so the link stopped working.";
            unusable_link(&state, &firm, &csrf, "too_many_codes", Some(why))
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
    let extra = context! { token => token, purpose => link.purpose.as_str(), error => error };
    let html = console_signed_out_page(state, "console/link_code.html", firm, csrf, extra)?;
    Ok((StatusCode::UNPROCESSABLE_ENTITY, token_page(html)).into_response())
}

/// The link is used up: start a session if the member is still there under the same epoch.
async fn sign_in_member(
    state: &AppState,
    firm: &Firm,
    csrf: &str,
    jar: &CookieJar,
    subject: &str,
    epoch: i64,
    proof: &'static str,
) -> Result<Response> {
    let recorded = match MemberId::parse(subject) {
        Some(id) => state
            .store
            .record_member_login(&firm.id, &id, epoch)
            .await?
            .then_some(id),
        None => None,
    };
    let Some(member_id) = recorded else {
        return unusable_link(state, firm, csrf, "revoked", None);
    };
    start_session(state, firm, jar, &member_id, epoch, proof, "/staff").await
}

async fn start_session(
    state: &AppState,
    firm: &Firm,
    jar: &CookieJar,
    member_id: &MemberId,
    epoch: i64,
    proof: &'static str,
    to: &str,
) -> Result<Response> {
    let previous = cookies::get(jar, cookies::STAFF_SESSION, state.config.cookie_secure);
    let cookie = sessions::start(
        state,
        Audience::Staff,
        previous,
        &firm.id,
        member_id.as_str(),
        epoch,
    )
    .await?;
    state.metrics.link_consumed(proof);
    tracing::info!(member = %member_id, proof, "staff signed in with a magic link");
    Ok((jar.clone().add(cookie), Redirect::to(to)).into_response())
}

async fn accept_invitation(
    state: &AppState,
    firm: &Firm,
    csrf: &str,
    jar: &CookieJar,
    subject: &str,
    version: i64,
) -> Result<Response> {
    let member = match TeamInvitationId::parse(subject) {
        Some(id) => state
            .store
            .accept_team_invitation(&firm.id, &id, version)
            .await
            .or_else(|e| match e {
                // The address became a member's meanwhile.
                portico_shared::store::StoreError::Conflict(_) => Ok(None),
                e => Err(e),
            })?,
        None => None,
    };
    let Some(member): Option<Member> = member else {
        return unusable_link(state, firm, csrf, "revoked", None);
    };
    state
        .store
        .record_member_login(&firm.id, &member.id, member.auth_epoch)
        .await?;
    tracing::info!(member = %member.id, "team invitation accepted");
    start_session(
        state,
        firm,
        jar,
        &member.id,
        member.auth_epoch,
        "code",
        "/staff",
    )
    .await
}

async fn change_email(
    state: &AppState,
    firm: &Firm,
    csrf: &str,
    jar: &CookieJar,
    subject: &str,
    epoch: i64,
    new_email: &str,
) -> Result<Response> {
    let changed = match MemberId::parse(subject) {
        Some(id) => team::confirm_email_change(state, firm, &id, epoch, new_email).await?,
        None => None,
    };
    let Some(member) = changed else {
        return unusable_link(state, firm, csrf, "revoked", None);
    };
    // The change ended every session of the member's; this browser proved the new address.
    start_session(
        state,
        firm,
        jar,
        &member.id,
        member.auth_epoch,
        "code",
        "/staff/account?email_changed=1",
    )
    .await
}

/// The page for a used, expired, unknown or voided link: it does not say which.
fn unusable_link(
    state: &AppState,
    firm: &Firm,
    csrf: &str,
    reason: &'static str,
    why: Option<&str>,
) -> Result<Response> {
    state.metrics.link_rejected(reason);
    let html = console_signed_out_page(
        state,
        "console/link_invalid.html",
        firm,
        csrf,
        context! { why => why },
    )?;
    Ok((StatusCode::GONE, token_page(html)).into_response())
}

async fn logout(
    State(state): State<AppState>,
    jar: CookieJar,
    ProtectedForm(_form): ProtectedForm<CsrfOnly>,
) -> Result<Response> {
    let jar = sessions::sign_out(&state, Audience::Staff, jar).await?;
    Ok((jar, Redirect::to("/staff/login?signed_out=1")).into_response())
}
