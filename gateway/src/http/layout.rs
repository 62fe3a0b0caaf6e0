//! The page layout every browser-facing route group shares: the firm as the layout shows it
//! ([`FirmView`]), [`page`] (a portal template with the layout's context), [`console_page`]
//! (the same for the staff console), catalog texts for
//! messages a handler composes ([`tr`]), and error pages ([`portal_errors`]): handlers only
//! return `Error`s, and this layer renders them in the firm's layout (the API renders them as
//! JSON instead, in `api::json_errors`).

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use minijinja::context;
use portico_shared::policy::{Action, Area, Intent};
use portico_shared::store::{Firm, MenuLink};
use serde::Serialize;

use crate::error::{Error, ErrorInfo, Result};
use crate::http::extract::host::{firm_slug, request_host};
use crate::http::extract::{ClientSession, MaybeSession, StaffSession};
use crate::i18n::{self, Lang};
use crate::state::AppState;

/// What the layout needs of the firm.
#[derive(Serialize)]
pub struct FirmView<'a> {
    pub name: &'a str,
    pub slug: &'a str,
    pub menu_links: Vec<MenuLink>,
    pub billing_enabled: bool,
    /// `/assets/logo?v=…` when the firm has a logo (the version lets browsers cache it).
    pub logo_url: Option<String>,
}

impl<'a> From<&'a Firm> for FirmView<'a> {
    fn from(firm: &'a Firm) -> Self {
        FirmView {
            name: firm.portal_name(),
            slug: &firm.slug,
            menu_links: firm.menu_links(),
            billing_enabled: firm.billing_enabled,
            logo_url: firm
                .logo_sha256
                .as_deref()
                .map(|sha| format!("/assets/logo?v={}", &sha[..sha.len().min(16)])),
        }
    }
}

/// A catalog text in the language of the request being served, with its `{arguments}`; for
/// messages a handler composes (form errors), where the template cannot name the key.
pub fn tr(state: &AppState, key: &str, args: &[(&str, &str)]) -> String {
    let text = state
        .templates
        .catalogs()
        .text(i18n::current(), key)
        .unwrap_or(key);
    i18n::fill(text, |name| {
        args.iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.to_string())
    })
}

/// Renders a portal page with the layout's common context (firm, CSRF token, signed-in
/// contact, and for a staff preview the banner and the prefix of every link) merged into
/// `extra`.
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
    let preview = session.and_then(|s| {
        s.preview.as_ref().map(|p| {
            context! {
                name => &s.contact.name,
                back => &p.back,
                as_set => p.as_set.as_ref().map(|(name, _)| name),
            }
        })
    });
    // What the contact's set allows (`can.upload`, …); nothing without a session.
    let can = session.map(|s| s.can_map()).unwrap_or_default();
    let html = state.templates.render(
        template,
        context! {
            firm => FirmView::from(firm),
            csrf => csrf,
            contact => contact,
            base => session.map_or("", ClientSession::link_prefix),
            preview => preview,
            can => can,
            lang => i18n::current().code(),
            ..extra
        },
    )?;
    Ok(Html(html))
}

/// The console's sections, in navigation order: (section, path, label, the area whose `view`
/// shows it).
const CONSOLE_SECTIONS: [(&str, &str, &str, Area); 11] = [
    ("contacts", "/staff/contacts", "Contacts", Area::Contacts),
    ("accounts", "/staff/accounts", "Accounts", Area::Accounts),
    ("tasks", "/staff/tasks", "Tasks", Area::Tasks),
    ("signing", "/staff/signing", "Signing", Area::Signing),
    (
        "conversations",
        "/staff/conversations",
        "Conversations",
        Area::Conversations,
    ),
    ("invoices", "/staff/invoices", "Invoices", Area::Invoices),
    (
        "portal",
        "/staff/settings/portal",
        "Portal settings",
        Area::PortalSettings,
    ),
    (
        "permission_sets",
        "/staff/permission-sets",
        "Client permissions",
        Area::ClientPermissions,
    ),
    ("team", "/staff/team", "Team", Area::Team),
    ("roles", "/staff/roles", "Roles", Area::Roles),
    ("api_keys", "/staff/api-keys", "API keys", Area::ApiKeys),
];

/// Renders a console page (`templates/console/…`) with the console layout's context: the
/// firm, the CSRF token, the signed-in member, and the sections their role may view (the
/// others are not offered; their routes refuse anyway).
pub fn console_page(
    state: &AppState,
    template: &str,
    staff: &StaffSession,
    csrf: &str,
    section: &str,
    extra: minijinja::Value,
) -> Result<Html<String>> {
    let nav: Vec<minijinja::Value> = CONSOLE_SECTIONS
        .iter()
        .filter(|(.., area)| staff.may(Intent::Act(*area, Action::View)))
        .map(|(section, href, label, _)| context! { section, href, label })
        .collect();
    let html = state.templates.render(
        template,
        context! {
            firm => FirmView::from(&staff.firm),
            csrf => csrf,
            member => context! {
                id => &staff.member.id,
                name => &staff.member.name,
                email => &staff.member.email,
                role => &staff.role.name,
            },
            nav => nav,
            section => section,
            ..extra
        },
    )?;
    Ok(Html(html))
}

/// Renders a console page for someone not signed in (sign-in and link pages): the console's
/// layout without navigation or account.
pub fn console_signed_out_page(
    state: &AppState,
    template: &str,
    firm: &Firm,
    csrf: &str,
    extra: minijinja::Value,
) -> Result<Html<String>> {
    let html = state.templates.render(
        template,
        context! {
            firm => FirmView::from(firm),
            csrf => csrf,
            ..extra
        },
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
    error_pages(&state, request, next, "portal/error.html").await
}

/// The same for the staff console, in the console's layout (and in English: the console's
/// language). A refusal by the policy (403) says why.
pub async fn console_errors(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    error_pages(&state, request, next, "console/error.html").await
}

async fn error_pages(state: &AppState, request: Request, next: Next, template: &str) -> Response {
    let (parts, body) = request.into_parts();
    let host = request_host(&parts);
    let browser_lang = parts
        .headers
        .get(axum::http::header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .and_then(Lang::negotiate)
        .unwrap_or_default();
    let (response, lang) =
        i18n::scope(browser_lang, next.run(Request::from_parts(parts, body))).await;
    let Some(info) = response.extensions().get::<ErrorInfo>().cloned() else {
        return response;
    };
    if response.status() == StatusCode::SEE_OTHER {
        return response;
    }
    let firm = match host
        .as_deref()
        .and_then(|h| firm_slug(h, &state.config.base_domain))
    {
        Some(slug) => state.firm_by_slug(slug).await.ok().flatten(),
        None => None,
    };
    let status = response.status();
    let (title_key, message_key) = match status {
        StatusCode::NOT_FOUND if firm.is_none() => ("error.no_portal", "error.no_portal_message"),
        StatusCode::NOT_FOUND => ("error.not_found", "error.not_found_message"),
        StatusCode::TOO_MANY_REQUESTS => ("error.rate_limited", "error.rate_limited_message"),
        // These carry their own explanation (the limit, the types accepted).
        StatusCode::PAYLOAD_TOO_LARGE => ("error.too_large", ""),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ("error.unsupported_type", ""),
        StatusCode::INSUFFICIENT_STORAGE => ("error.insufficient_storage", ""),
        StatusCode::FORBIDDEN if info.code == "csrf" => ("error.csrf", "error.csrf_message"),
        StatusCode::SERVICE_UNAVAILABLE => ("error.unavailable", "error.unavailable_message"),
        StatusCode::INTERNAL_SERVER_ERROR => ("error.internal", "error.internal_message"),
        // Other refusals carry their own (English) explanation.
        _ => ("error.other", ""),
    };
    let firm_view = firm.as_ref().map(FirmView::from);
    let html = state.templates.render(
        template,
        context! {
            firm => firm_view,
            lang => lang.code(),
            title_key => title_key,
            message_key => message_key,
            message => &info.message,
            status => status.as_u16(),
            retry_after => info.retry_after,
            reference => info.reference.clone(),
        },
    );
    let mut page = match html {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "the error page itself failed to render");
            (status, info.message.clone()).into_response()
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
    // For the layers outside (metrics count what a 503 reports).
    page.extensions_mut().insert(info);
    page
}

/// Unknown paths on a portal host. The session is looked at only so that the page speaks the
/// signed-in client's language.
pub async fn not_found(_session: Result<MaybeSession, Error>) -> Error {
    Error::NotFound
}

/// A response to a request with a token in its URL: no referrer, no caching (the outer
/// layer's defaults, held here whatever becomes of them).
pub fn token_page(response: impl IntoResponse) -> Response {
    let mut response = response.into_response();
    let headers = response.headers_mut();
    headers.insert(
        axum::http::header::REFERRER_POLICY,
        axum::http::HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        axum::http::header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("no-store"),
    );
    response
}
