//! One module per resource, each exporting its router fragment; `app.rs` merges them.
//!
//! Portal routes render errors as friendly pages ([`portal_errors`]); the API renders them as
//! JSON (`api::json_errors`). Handlers only return `Error`s.

pub mod api;
pub mod assets;
pub mod auth;
pub mod companies;
pub mod files;
pub mod home;
pub mod ops;
pub mod requests;
pub mod signing;
pub mod tasks;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use minijinja::context;
use portico_shared::store::Firm;
use serde::Serialize;

use crate::error::{Error, ErrorInfo, Result};
use crate::extract::{ClientSession, request_host};
use crate::state::AppState;

/// What the layout needs of the firm.
#[derive(Serialize)]
pub struct FirmView<'a> {
    pub name: &'a str,
    pub slug: &'a str,
    pub menu_links: Vec<api::portal::MenuLink>,
    pub billing_enabled: bool,
}

impl<'a> From<&'a Firm> for FirmView<'a> {
    fn from(firm: &'a Firm) -> Self {
        FirmView {
            name: firm.portal_name(),
            slug: &firm.slug,
            menu_links: api::portal::menu_links(firm),
            billing_enabled: firm.billing_enabled,
        }
    }
}

/// Renders a portal page with the layout's common context (firm, CSRF token, signed-in
/// contact) merged into `extra`.
pub fn page(
    state: &AppState,
    template: &str,
    firm: &Firm,
    csrf: &str,
    session: Option<&ClientSession>,
    extra: minijinja::Value,
) -> Result<Html<String>> {
    let contact = session.map(|s| {
        context! {
            name => &s.contact.name,
            email => &s.contact.email,
            switcher => s.other_companies,
        }
    });
    let html = state.templates.render(
        template,
        context! { firm => FirmView::from(firm), csrf => csrf, contact => contact, ..extra },
    )?;
    Ok(Html(html))
}

/// Turns error responses of portal routes into pages: the firm's layout when the host is a
/// firm's, a plain one otherwise.
pub async fn portal_errors(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let (parts, body) = request.into_parts();
    let host = request_host(&parts);
    let response = next.run(Request::from_parts(parts, body)).await;
    let Some(info) = response.extensions().get::<ErrorInfo>().cloned() else {
        return response;
    };
    if response.status() == StatusCode::SEE_OTHER {
        return response;
    }
    let firm = match host.as_deref().and_then(|h| slug_of(&state, h)) {
        Some(slug) => state.firm_by_slug(slug).await.ok().flatten(),
        None => None,
    };
    let status = response.status();
    let (title, message) = match status {
        StatusCode::NOT_FOUND if firm.is_none() => (
            "No portal here",
            "There is no client portal at this address. Check the link you were given.".into(),
        ),
        StatusCode::NOT_FOUND => (
            "Page not found",
            "This page does not exist, or it is not shared with you.".into(),
        ),
        StatusCode::TOO_MANY_REQUESTS => (
            "Please wait a moment",
            "There have been too many attempts from here. For your security, please wait before trying again.".into(),
        ),
        StatusCode::PAYLOAD_TOO_LARGE => ("File too large", info.message.clone()),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ("File type not accepted", info.message.clone()),
        StatusCode::FORBIDDEN if info.code == "csrf" => (
            "This form has expired",
            "For your security the form could not be accepted. Go back, reload the page and try again.".into(),
        ),
        StatusCode::SERVICE_UNAVAILABLE => (
            "Briefly unavailable",
            "The portal cannot reach one of its services right now. Please try again in a minute.".into(),
        ),
        StatusCode::INTERNAL_SERVER_ERROR => (
            "Something went wrong",
            "Something went wrong on our side. If it keeps happening, tell the firm the reference below.".into(),
        ),
        _ => ("Something is not right", info.message.clone()),
    };
    let firm_view = firm.as_ref().map(FirmView::from);
    let html = state.templates.render(
        "error.html",
        context! {
            firm => firm_view,
            title => title,
            message => message,
            status => status.as_u16(),
            retry_after => info.retry_after,
            reference => info.reference,
        },
    );
    let mut page = match html {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "the error page itself failed to render");
            (status, title).into_response()
        }
    };
    for name in [
        axum::http::header::RETRY_AFTER,
        axum::http::header::SET_COOKIE,
    ] {
        for value in response.headers().get_all(&name) {
            page.headers_mut().append(name.clone(), value.clone());
        }
    }
    page
}

fn slug_of<'h>(state: &AppState, host: &'h str) -> Option<&'h str> {
    host.strip_suffix(state.config.base_domain.as_str())?
        .strip_suffix('.')
        .filter(|s| !s.is_empty() && !s.contains('.'))
}

/// Unknown paths on a portal host.
pub async fn not_found() -> Error {
    Error::NotFound
}
