//! Signing in the portal. `GET /sign/{id}` shows the document (inline, from
//! `GET /sign/{id}/document`) with a Sign form (`name`, `consent`) posted to `POST /sign/{id}`
//! and a Decline form (`reason`) posted to `POST /sign/{id}/decline`. Once signed or declined,
//! the same page shows the audit trail. Every view and the outcome are recorded with the
//! signer, time, IP, user agent and the document's SHA-256 recomputed from the stored bytes.
//! Scoped to the host's firm and what the contact sees: its own contact signs it, a client
//! manager of the account may read it (without a `viewed` event, which records the signer's
//! reading). Anything else is 404, and so is everything here while the firm has e-signing
//! switched off, and signing or declining without the `sign` capability.

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use minijinja::context;
use portico_shared::client_access::Capability;
use portico_shared::ids::SigningRequestId;
use portico_shared::status::SigningStatus;
use portico_shared::store::{Completion, EventOrigin, Outcome, SigningRequest};
use serde::Deserialize;

use crate::error::{Error, Result};
use crate::http::documents;
use crate::http::extract::{ClientOrigin, ClientSession};
use crate::http::extract::{CsrfProtected, CsrfToken, ProtectedForm};
use crate::http::layout::{page, tr};
use crate::state::AppState;
use portico_shared::units::megabytes;

const MAX_NAME: usize = 200;
const MAX_REASON: usize = 2000;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/sign/{id}", get(show).post(sign))
        .route("/sign/{id}/decline", post(decline))
        .route("/sign/{id}/document", get(document))
}

/// A request this signed-in contact sees, if e-signing is on.
async fn find(state: &AppState, session: &ClientSession, id: &str) -> Result<SigningRequest> {
    let id = SigningRequestId::parse(id)
        .filter(|_| session.firm.esign_enabled)
        .ok_or(Error::NotFound)?;
    state
        .store
        .signing_request(&session.firm.id, Some(&session.viewer()), &id)
        .await?
        .ok_or(Error::NotFound)
}

/// Whether this contact signs this request: it is theirs, and their set allows signing.
fn signs(session: &ClientSession, request: &SigningRequest) -> bool {
    request.contact_id == session.contact.id && session.can(Capability::Sign)
}

/// A request this contact may sign or decline; any other is 404, as if it did not exist.
async fn find_to_sign(
    state: &AppState,
    session: &ClientSession,
    id: &str,
) -> Result<SigningRequest> {
    session.require(Capability::Sign)?;
    let request = find(state, session, id).await?;
    if !signs(session, &request) {
        return Err(Error::NotFound);
    }
    Ok(request)
}

/// The document's hash from the stored bytes now; a request whose bytes are gone is a fault.
async fn current_hash(state: &AppState, request: &SigningRequest) -> Result<String> {
    state
        .blobs()
        .rehash(&request.document_sha256)
        .await?
        .ok_or_else(|| {
            Error::Internal(anyhow::anyhow!(
                "the document of signing request {} is missing",
                request.id
            ))
        })
}

fn changed() -> Error {
    Error::Conflict {
        code: "document_changed",
        message: "This document has changed since it was sent, so it cannot be signed. \
                  Please contact the firm."
            .into(),
    }
}

fn already(request: &SigningRequest) -> Error {
    Error::Conflict {
        code: "already_completed",
        message: format!("This document has already been {}.", request.status),
    }
}

#[derive(Default)]
struct Problems<'a> {
    name: Option<String>,
    consent: Option<String>,
    draft_name: &'a str,
}

async fn render(
    state: &AppState,
    session: &ClientSession,
    csrf: &str,
    request: &SigningRequest,
    problems: Problems<'_>,
) -> Result<Response> {
    let events = state.store.signing_events(&request.id).await?;
    let trail: Vec<_> = events
        .iter()
        .filter(|e| e.kind != "created")
        // Times stay Unix seconds: the template writes them in the page's language.
        .map(|e| {
            context! {
                kind => &e.kind,
                at => e.created_at,
                typed_name => &e.typed_name,
                reason => &e.reason,
                ip => &e.ip,
                user_agent => &e.user_agent,
                sha256 => &e.document_sha256,
            }
        })
        .collect();
    let outcome = events
        .iter()
        .rev()
        .find(|e| e.kind == "signed" || e.kind == "declined");
    let invalid = problems.name.is_some() || problems.consent.is_some();
    let html = page(
        state,
        "portal/sign.html",
        &session.firm,
        csrf,
        Some(session),
        context! {
            request => context! {
                id => &request.id,
                title => &request.title,
                status => &request.status,
                pending => request.status == SigningStatus::Pending,
                signable => signs(session, request),
                sent => request.created_at,
                size => megabytes(request.document_size.max(0) as u64),
                sha256 => &request.document_sha256,
                signed_name => &request.signed_name,
                decline_reason => &request.decline_reason,
            },
            outcome => outcome.map(|e| context! {
                at => e.created_at,
                ip => &e.ip,
                sha256 => &e.document_sha256,
            }),
            trail => trail,
            errors => context! { name => problems.name, consent => problems.consent },
            draft_name => problems.draft_name,
        },
    )?;
    let status = if invalid {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    Ok((status, html).into_response())
}

async fn show(
    State(state): State<AppState>,
    session: ClientSession,
    CsrfToken(csrf): CsrfToken,
    origin: ClientOrigin,
    Path(id): Path<String>,
) -> Result<Response> {
    let request = find(&state, &session, &id).await?;
    // The trail's `viewed` is the signer's reading; a manager reading it records none.
    if request.status == SigningStatus::Pending && request.contact_id == session.contact.id {
        let hash = current_hash(&state, &request).await?;
        let event = EventOrigin {
            ip: origin.ip,
            user_agent: origin.user_agent,
            document_sha256: hash.clone(),
        };
        state
            .store
            .record_signing_view(&session.firm.id, &session.contact.id, &request.id, &event)
            .await?;
        if hash != request.document_sha256 {
            return Err(changed());
        }
    }
    render(&state, &session, &csrf, &request, Problems::default()).await
}

#[derive(Deserialize)]
struct DocumentQuery {
    download: Option<String>,
}

/// The PDF itself: inline for the frame on the sign page (which only this origin may frame),
/// or as an attachment with `?download=1`.
async fn document(
    State(state): State<AppState>,
    session: ClientSession,
    Path(id): Path<String>,
    Query(query): Query<DocumentQuery>,
) -> Result<Response> {
    let request = find(&state, &session, &id).await?;
    let inline = query.download.is_none();
    let mut response = documents::download(
        &state.blobs(),
        &request.document_sha256,
        &request.document_name,
        "application/pdf",
        inline,
    )
    .await?;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; frame-ancestors 'self'"),
    );
    headers.insert(
        header::X_FRAME_OPTIONS,
        HeaderValue::from_static("SAMEORIGIN"),
    );
    Ok(response)
}

#[derive(Deserialize)]
struct SignForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    consent: Option<String>,
}

impl CsrfProtected for SignForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

async fn sign(
    State(state): State<AppState>,
    session: ClientSession,
    CsrfToken(csrf): CsrfToken,
    origin: ClientOrigin,
    Path(id): Path<String>,
    ProtectedForm(form): ProtectedForm<SignForm>,
) -> Result<Response> {
    let request = find_to_sign(&state, &session, &id).await?;
    if request.status != SigningStatus::Pending {
        return Err(already(&request));
    }
    let name = form.name.trim();
    let mut problems = Problems {
        draft_name: name,
        ..Problems::default()
    };
    if name.is_empty() {
        problems.name = Some(tr(&state, "sign.error_name_empty", &[]));
    } else if name.chars().count() > MAX_NAME {
        problems.name = Some(tr(&state, "sign.error_name_long", &[]));
    }
    if form.consent.as_deref().is_none_or(str::is_empty) {
        problems.consent = Some(tr(&state, "sign.error_consent", &[]));
    }
    if problems.name.is_some() || problems.consent.is_some() {
        return render(&state, &session, &csrf, &request, problems).await;
    }
    let hash = current_hash(&state, &request).await?;
    if hash != request.document_sha256 {
        return Err(changed());
    }
    let event = EventOrigin {
        ip: origin.ip,
        user_agent: origin.user_agent,
        document_sha256: hash,
    };
    let outcome = Outcome::Signed {
        typed_name: name.to_string(),
    };
    complete(&state, &session, &request.id, &outcome, &event).await
}

async fn complete(
    state: &AppState,
    session: &ClientSession,
    id: &SigningRequestId,
    outcome: &Outcome,
    event: &EventOrigin,
) -> Result<Response> {
    match state
        .store
        .complete_signing(&session.firm.id, &session.contact.id, id, outcome, event)
        .await?
    {
        Completion::Done(_) => Ok(Redirect::to(&format!("/sign/{id}")).into_response()),
        Completion::NotFound => Err(Error::NotFound),
        Completion::AlreadyCompleted(current) => Err(already(&current)),
        Completion::DocumentChanged => Err(changed()),
    }
}

#[derive(Deserialize)]
struct DeclineForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    reason: String,
}

impl CsrfProtected for DeclineForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

async fn decline(
    State(state): State<AppState>,
    session: ClientSession,
    origin: ClientOrigin,
    Path(id): Path<String>,
    ProtectedForm(form): ProtectedForm<DeclineForm>,
) -> Result<Response> {
    let request = find_to_sign(&state, &session, &id).await?;
    if request.status != SigningStatus::Pending {
        return Err(already(&request));
    }
    let reason = form.reason.trim();
    if reason.chars().count() > MAX_REASON {
        return Err(Error::invalid(
            "reason",
            format!("The reason can be at most {MAX_REASON} characters."),
        ));
    }
    let event = EventOrigin {
        ip: origin.ip,
        user_agent: origin.user_agent,
        document_sha256: current_hash(&state, &request).await?,
    };
    let outcome = Outcome::Declined {
        reason: reason.to_string(),
    };
    complete(&state, &session, &request.id, &outcome, &event).await
}
