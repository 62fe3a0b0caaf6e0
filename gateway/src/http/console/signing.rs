//! The console's signing requests: `GET /staff/signing` (newest first, by status, in pages),
//! the upload form (a PDF for a contact, multipart with `csrf` first), a request's page with
//! its status and audit trail, and the document's download. Created by the same service as
//! the API's (`services::signing`), which emails the contact. With the scope "assigned
//! clients", requests of other contacts answer 404 and the form takes only the member's own.

use axum::Router;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderName, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use minijinja::context;
use portico_shared::ids::SigningRequestId;
use portico_shared::policy::{Action, Area, Intent};
use portico_shared::status::SigningStatus;
use portico_shared::store::{NewestPage, Scoped, SigningRequest};

use super::reach::item_within;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::http::documents::{self, FORM_OVERHEAD, multipart_error, repr_digest, safe_file_name};
use crate::http::extract::{ClientOrigin, CsrfToken, ProtectedMultipart, StaffSession};
use crate::http::layout::console_page;
use crate::http::views;
use crate::http::views::console_items::{
    NewFormQuery, PAGE_SIZE, assigned, contacts_by_email, cursor, page_of, prefilled_email, when,
};
use crate::services::signing::{self, Ask, DOCUMENT_TYPE, MAX_TITLE};
use crate::state::AppState;

pub fn router(state: &AppState) -> Router<AppState> {
    // Only the upload takes large bodies; the rest keeps the app's small default.
    let limit = usize::try_from(state.config.upload_max_bytes)
        .unwrap_or(usize::MAX)
        .saturating_add(FORM_OVERHEAD);
    Router::new()
        .route(
            "/staff/signing",
            get(list).post(create).layer(DefaultBodyLimit::max(limit)),
        )
        .route("/staff/signing/new", get(new_form))
        .route("/staff/signing/{id}", get(show))
        .route("/staff/signing/{id}/document", get(document))
        .route("/staff/signing/{id}/pages/{page}", get(page_image))
}

#[derive(Deserialize)]
struct ListQuery {
    status: Option<String>,
    before: Option<String>,
}

fn status_label(status: SigningStatus) -> &'static str {
    match status {
        SigningStatus::Pending => "Waiting for signature",
        SigningStatus::Signed => "Signed",
        SigningStatus::Declined => "Declined",
    }
}

async fn list(
    State(state): State<AppState>,
    staff: StaffSession,
    CsrfToken(csrf): CsrfToken,
    Query(query): Query<ListQuery>,
) -> Result<Response> {
    let decision = staff.decide(Intent::Act(Area::Signing, Action::View))?;
    let status = query.status.as_deref().and_then(SigningStatus::parse);
    let rows = state
        .store
        .signing_rows(
            &staff.firm.id,
            &NewestPage {
                before: cursor(query.before.as_deref()),
                limit: PAGE_SIZE + 1,
                status,
                assigned_to: assigned(&decision),
            },
        )
        .await?;
    let (rows, next) = page_of(rows, PAGE_SIZE, |r| (r.created_at, r.id.to_string()));
    let requests: Vec<_> = rows
        .iter()
        .map(|r| {
            context! {
                id => &r.id,
                title => &r.title,
                status => r.status.to_string(),
                status_label => status_label(r.status),
                contact_name => &r.contact_name,
                contact_email => &r.contact_email,
                created_at => when(r.created_at),
                completed_at => r.completed_at.map(when),
            }
        })
        .collect();
    let status_text = status.map(|s| s.to_string()).unwrap_or_default();
    let next_url = next.map(|n| {
        let mut url = format!("/staff/signing?before={n}");
        if !status_text.is_empty() {
            url.push_str(&format!("&status={status_text}"));
        }
        url
    });
    let html = console_page(
        &state,
        "console/signing.html",
        &staff,
        &csrf,
        "signing",
        context! {
            requests => requests,
            status => status_text,
            next_url => next_url,
            first_page => query.before.is_none(),
            may_create => staff.may(Intent::Act(Area::Signing, Action::Create)),
            esign_enabled => staff.firm.esign_enabled,
        },
    )?;
    Ok(html.into_response())
}

/// The form as typed, to show again.
#[derive(Serialize, Default)]
struct AskForm {
    contact: String,
    title: String,
}

fn render_form(
    state: &AppState,
    staff: &StaffSession,
    csrf: &str,
    form: &AskForm,
    error: Option<(StatusCode, Option<&str>, String)>,
) -> Result<Response> {
    let (status, field, message) = match error {
        Some((status, field, message)) => (status, field, Some(message)),
        None => (StatusCode::OK, None, None),
    };
    let html = console_page(
        state,
        "console/signing_form.html",
        staff,
        csrf,
        "signing",
        context! {
            form => form,
            error => message,
            error_field => field,
            esign_enabled => staff.firm.esign_enabled,
            may_portal_settings => staff.may(Intent::Act(Area::PortalSettings, Action::Edit)),
            max_title => MAX_TITLE,
        },
    )?;
    Ok((status, html).into_response())
}

async fn new_form(
    State(state): State<AppState>,
    staff: StaffSession,
    CsrfToken(csrf): CsrfToken,
    Query(query): Query<NewFormQuery>,
) -> Result<Response> {
    let decision = staff.decide(Intent::Act(Area::Signing, Action::Create))?;
    let contact = prefilled_email(
        &state,
        &staff.firm.id,
        query.contact.as_deref(),
        assigned(&decision).as_ref(),
    )
    .await?;
    let form = AskForm {
        contact,
        ..AskForm::default()
    };
    render_form(&state, &staff, &csrf, &form, None)
}

/// A refusal of what was sent, shown on the form again; other errors pass on.
fn refused(
    state: &AppState,
    staff: &StaffSession,
    csrf: &str,
    form: &AskForm,
    error: Error,
) -> Result<Response> {
    let shown = match &error {
        Error::Unprocessable { field, message } => Some((
            StatusCode::UNPROCESSABLE_ENTITY,
            Some(*field),
            message.clone(),
        )),
        Error::UnsupportedMediaType(message) => Some((
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Some("file"),
            message.clone(),
        )),
        Error::TooLarge(message) => {
            Some((StatusCode::PAYLOAD_TOO_LARGE, Some("file"), message.clone()))
        }
        Error::Conflict { .. } => Some((
            StatusCode::CONFLICT,
            None,
            "E-signing is switched off for this firm.".to_string(),
        )),
        _ => None,
    };
    match shown {
        Some(shown) => render_form(state, staff, csrf, form, Some(shown)),
        None => Err(error),
    }
}

async fn create(
    State(state): State<AppState>,
    staff: StaffSession,
    CsrfToken(csrf): CsrfToken,
    origin: ClientOrigin,
    ProtectedMultipart(mut multipart): ProtectedMultipart,
) -> Result<Response> {
    let decision = staff.decide(Intent::Act(Area::Signing, Action::Create))?;
    let member = assigned(&decision);
    let max = state.config.upload_max_bytes;
    let blobs = state.blobs();
    let mut form = AskForm::default();
    let mut file = None;
    let read = async {
        while let Some(field) = multipart
            .next_field()
            .await
            .map_err(|e| multipart_error(e, max))?
        {
            match field.name() {
                Some("contact") => {
                    form.contact = field.text().await.map_err(|e| multipart_error(e, max))?;
                }
                Some("title") => {
                    form.title = field.text().await.map_err(|e| multipart_error(e, max))?;
                }
                Some("file") if file.is_none() => {
                    let received = documents::receive(&blobs, field, max).await?;
                    // A file input left empty sends a part with no name and no bytes.
                    if received.size > 0
                        || received.file_name.as_deref().is_some_and(|n| !n.is_empty())
                    {
                        file = Some(received);
                    }
                }
                _ => return Err(Error::invalid("body", "unexpected field in the form")),
            }
        }
        Ok(())
    };
    if let Err(e) = read.await {
        return refused(&state, &staff, &csrf, &form, e);
    }
    let contact = match contacts_by_email(
        &state,
        &staff.firm.id,
        "contact_id",
        &form.contact,
        1,
        member.as_ref(),
    )
    .await
    {
        Ok(found) => found.into_iter().next(),
        Err(Error::Unprocessable { message, .. }) => {
            let e = Error::invalid("contact_id", message);
            return refused(&state, &staff, &csrf, &form, e);
        }
        Err(e) => return Err(e),
    };
    let document_name = file
        .as_ref()
        .and_then(|r| r.file_name.as_deref())
        .map(safe_file_name)
        .unwrap_or_else(|| "document.pdf".into());
    let ask = Ask {
        contact_id: contact.map(|c| c.id.to_string()),
        title: Some(form.title.clone()),
        file,
        document_name,
        ip: origin.ip,
        user_agent: origin.user_agent,
        account_id: None,
    };
    match signing::request(&state, &staff.firm, ask, member.as_ref()).await {
        Ok(request) => Ok(
            Redirect::to(&format!("/staff/signing/{}?done=created", request.id)).into_response(),
        ),
        Err(Error::Unprocessable {
            field: "contact_id",
            ..
        }) => {
            let e = Error::invalid("contact_id", "name the contact who should sign, by email");
            refused(&state, &staff, &csrf, &form, e)
        }
        Err(e) => refused(&state, &staff, &csrf, &form, e),
    }
}

/// The request `id` if the member may see it: 403 without the permission, 404 when there is
/// none or it lies outside their scope.
async fn find(state: &AppState, staff: &StaffSession, id: &str) -> Result<SigningRequest> {
    let decision = staff.decide(Intent::Act(Area::Signing, Action::View))?;
    let id = SigningRequestId::parse(id).ok_or(Error::NotFound)?;
    let request = state
        .store
        .signing_request(&staff.firm.id, None, &id)
        .await?
        .ok_or(Error::NotFound)?;
    item_within(state, staff, &decision, Scoped::SigningRequest(&request.id)).await?;
    Ok(request)
}

#[derive(Deserialize)]
struct ShowQuery {
    done: Option<String>,
}

fn event_label(kind: &str) -> &'static str {
    match kind {
        "created" => "Sent for signature",
        "viewed" => "Viewed by the client",
        "signed" => "Signed",
        "declined" => "Declined",
        _ => "Event",
    }
}

async fn show(
    State(state): State<AppState>,
    staff: StaffSession,
    CsrfToken(csrf): CsrfToken,
    Path(id): Path<String>,
    Query(query): Query<ShowQuery>,
) -> Result<Response> {
    let request = find(&state, &staff, &id).await?;
    let events = state.store.signing_events(&request.id).await?;
    let contact = state
        .store
        .contacts_by_ids(
            &staff.firm.id,
            std::slice::from_ref(&request.contact_id),
            None,
        )
        .await?
        .pop();
    let events: Vec<_> = events
        .iter()
        .map(|e| {
            context! {
                label => event_label(&e.kind),
                at => when(e.created_at),
                typed_name => &e.typed_name,
                reason => &e.reason,
                ip => &e.ip,
                user_agent => &e.user_agent,
                document_sha256 => &e.document_sha256,
                by_firm => e.contact_id.is_none(),
            }
        })
        .collect();
    let html = console_page(
        &state,
        "console/signing_request.html",
        &staff,
        &csrf,
        "signing",
        context! {
            request => context! {
                id => &request.id,
                title => &request.title,
                status => request.status.to_string(),
                status_label => status_label(request.status),
                document_name => &request.document_name,
                document_size => portico_shared::units::megabytes(request.document_size.max(0) as u64),
                document_sha256 => &request.document_sha256,
                signed_name => &request.signed_name,
                decline_reason => &request.decline_reason,
                completed_at => request.completed_at.map(when),
                created_at => when(request.created_at),
            },
            contact => contact,
            events => events,
            pages => views::document_pages(&state, &request).await?,
            flash => (query.done.as_deref() == Some("created"))
                .then_some("Signing request sent. The client has been emailed, as their settings allow."),
        },
    )?;
    Ok(html.into_response())
}

/// One page image of the request's document, as the client sees it.
async fn page_image(
    State(state): State<AppState>,
    staff: StaffSession,
    Path((id, page)): Path<(String, String)>,
) -> Result<Response> {
    let request = find(&state, &staff, &id).await?;
    views::page_image(&state, &request, &page).await
}

async fn document(
    State(state): State<AppState>,
    staff: StaffSession,
    Path(id): Path<String>,
) -> Result<Response> {
    let request = find(&state, &staff, &id).await?;
    let mut response = documents::download(
        &state.blobs(),
        &request.document_sha256,
        &request.document_name,
        DOCUMENT_TYPE,
        false,
    )
    .await?;
    response.headers_mut().insert(
        HeaderName::from_static("repr-digest"),
        repr_digest(&request.document_sha256)?,
    );
    Ok(response)
}
