//! A staff member's read-only look at a contact's portal ("view as"), under
//! `/staff/contacts/{id}/preview/…`: the portal's own GET pages (home, a task and its documents,
//! a signing request and its PDF, a request, invoices, settings, companies), rendered by the
//! same renderers (`views`) for a [`ClientSession`] of the contact that carries a [`Preview`]
//! (the banner, and the prefix every link of the pages starts with).
//!
//! Who may: a member whose role may view contacts, for a contact within its reach (outside it:
//! 404), with a preview of that contact recorded by them, for a reason, in the last
//! [`Preview::LIFETIME_SECS`] (the contact page's form records one, optionally with a
//! permission set to try out: the contact is then shown as if they held it; without a record
//! the member is sent there). Nothing of the client's changes: no session, cookie or sign-in time, no kept
//! home page read or written, no signing `viewed` event, no activity; and every other method
//! than GET under the prefix answers 403.

use axum::Router;
use axum::extract::{FromRequestParts, Path, Query, RawPathParams, State};
use axum::http::request::Parts;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{any, get};
use minijinja::context;
use portico_shared::ids::ContactId;
use portico_shared::policy::{Action, Area, Intent};
use serde::Deserialize;

use super::reach::within;
use crate::error::{Error, Result};
use crate::http::extract::{ClientOrigin, ClientSession, Preview, StaffSession};
use crate::http::views::{
    SettingsView, find_signing, page_image, render_companies, render_home, render_invoices,
    render_request, render_settings, render_task, signing_document, signing_page,
    task_file_download,
};
use crate::state::AppState;

/// The pages' forms are shown disabled and carry no usable token.
const NO_CSRF: &str = "";

pub fn router() -> Router<AppState> {
    let prefix = "/staff/contacts/{id}/preview";
    let page = |path: &str| format!("{prefix}{path}");
    Router::new()
        .route(prefix, get(home).fallback(read_only))
        .route(&page("/"), get(home).fallback(read_only))
        .route(&page("/tasks/{task}"), get(task).fallback(read_only))
        .route(
            &page("/tasks/{task}/files/{file}"),
            get(task_file).fallback(read_only),
        )
        .route(&page("/sign/{request}"), get(sign).fallback(read_only))
        .route(
            &page("/sign/{request}/document"),
            get(sign_document).fallback(read_only),
        )
        .route(
            &page("/sign/{request}/pages/{page}"),
            get(sign_page_image).fallback(read_only),
        )
        .route(
            &page("/requests/{conversation}"),
            get(request).fallback(read_only),
        )
        .route(&page("/invoices"), get(invoices).fallback(read_only))
        .route(&page("/settings"), get(settings).fallback(read_only))
        .route(&page("/companies"), get(companies).fallback(read_only))
        .route(&page("/{*rest}"), any(elsewhere))
}

/// Any write under the prefix: a preview changes nothing.
async fn read_only() -> Error {
    Error::Forbidden(
        "This is a read-only preview of the client's portal: nothing can be changed from it.",
    )
}

/// A path under the prefix that is no page of the portal: 404 to read, 403 to write.
async fn elsewhere(method: axum::http::Method) -> Error {
    if method == axum::http::Method::GET || method == axum::http::Method::HEAD {
        Error::NotFound
    } else {
        read_only().await
    }
}

/// The contact's portal as the previewing member sees it, from the `{id}` of the path.
struct Previewing(ClientSession);

impl FromRequestParts<AppState> for Previewing {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> std::result::Result<Self, Response> {
        let staff = StaffSession::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let params = RawPathParams::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let id = params
            .iter()
            .find(|(name, _)| *name == "id")
            .map(|(_, value)| value.to_string())
            .unwrap_or_default();
        viewer(state, &staff, &id).await.map(Previewing)
    }
}

async fn viewer(
    state: &AppState,
    staff: &StaffSession,
    id: &str,
) -> std::result::Result<ClientSession, Response> {
    let found = async {
        let decision = staff.decide(Intent::Act(Area::Contacts, Action::View))?;
        let id = ContactId::parse(id).ok_or(Error::NotFound)?;
        within(state, staff, &decision, &id).await?;
        let contact = state
            .store
            .session_contact(&staff.firm.id, &id)
            .await?
            .ok_or(Error::NotFound)?;
        let since = portico_shared::now_unix() - Preview::LIFETIME_SECS;
        let recorded = state
            .store
            .current_preview(&staff.firm.id, &id, &staff.member.id, since)
            .await?;
        Ok::<_, Error>((contact, recorded))
    }
    .await
    .map_err(IntoResponse::into_response)?;
    let (contact, recorded) = found;
    let back = format!("/staff/contacts/{}", contact.contact.id);
    let Some(recorded) = recorded else {
        // No reason given lately: ask for one on the contact's page.
        return Err(Redirect::to(&format!("{back}?done=preview_reason#preview")).into_response());
    };
    let preview = Preview {
        prefix: format!("{back}/preview"),
        back,
        as_set: recorded.as_set_name().zip(recorded.as_set_access()),
    };
    Ok(ClientSession::previewing(
        staff.firm.clone(),
        contact,
        preview,
    ))
}

async fn home(
    State(state): State<AppState>,
    Previewing(session): Previewing,
) -> Result<Html<String>> {
    // Rendered afresh every time: a preview neither reads nor keeps the client's kept pages.
    render_home(&state, &session, NO_CSRF, None).await
}

async fn task(
    State(state): State<AppState>,
    Previewing(session): Previewing,
    Path((_, task)): Path<(String, String)>,
) -> Result<Html<String>> {
    render_task(&state, &session, NO_CSRF, &task).await
}

async fn task_file(
    State(state): State<AppState>,
    Previewing(session): Previewing,
    Path((_, task, file)): Path<(String, String, String)>,
) -> Result<Response> {
    task_file_download(&state, &session, &task, &file).await
}

async fn sign(
    State(state): State<AppState>,
    Previewing(session): Previewing,
    origin: ClientOrigin,
    Path((_, request)): Path<(String, String)>,
) -> Result<Response> {
    // The session is a preview's: the page records no `viewed` event.
    signing_page(&state, &session, NO_CSRF, origin, &request).await
}

#[derive(Deserialize)]
struct DocumentQuery {
    download: Option<String>,
}

async fn sign_document(
    State(state): State<AppState>,
    Previewing(session): Previewing,
    Path((_, request)): Path<(String, String)>,
    Query(query): Query<DocumentQuery>,
) -> Result<Response> {
    signing_document(&state, &session, &request, query.download.is_some()).await
}

async fn sign_page_image(
    State(state): State<AppState>,
    Previewing(session): Previewing,
    Path((_, request, page)): Path<(String, String, String)>,
) -> Result<Response> {
    let request = find_signing(&state, &session, &request).await?;
    page_image(&state, &request, &page).await
}

async fn request(
    State(state): State<AppState>,
    Previewing(session): Previewing,
    Path((_, conversation)): Path<(String, String)>,
) -> Result<Html<String>> {
    render_request(&state, &session, NO_CSRF, &conversation, None).await
}

async fn invoices(
    State(state): State<AppState>,
    Previewing(session): Previewing,
) -> Result<Html<String>> {
    render_invoices(&state, &session, NO_CSRF).await
}

async fn settings(
    State(state): State<AppState>,
    Previewing(session): Previewing,
) -> Result<Html<String>> {
    let form = SettingsView::saved(&session.contact);
    render_settings(&state, &session, NO_CSRF, form, context! {}, false)
}

async fn companies(
    State(state): State<AppState>,
    Previewing(session): Previewing,
) -> Result<Html<String>> {
    render_companies(&state, &session, NO_CSRF).await
}
