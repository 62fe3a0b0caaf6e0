//! A signing request as the portal shows it (`GET /sign/{id}`, and again with the problems of
//! a typed signature), and its PDF (`GET /sign/{id}/document`): for the signed-in client and
//! for a staff preview alike. Opening a pending request records a `viewed` event for the
//! client, never for a preview. Scoped to the viewer's firm and the request's own contact;
//! anything else is 404, and so is everything here while the firm has e-signing switched off.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use minijinja::context;
use portico_shared::client_access::Capability;
use portico_shared::ids::SigningRequestId;
use portico_shared::status::SigningStatus;
use portico_shared::store::{EventOrigin, SigningRequest};
use portico_shared::units::megabytes;

use crate::error::{Error, Result};
use crate::http::documents;
use crate::http::extract::{ClientOrigin, ClientSession};
use crate::http::layout::page;
use crate::state::AppState;

/// A request the viewer sees (their own, or as a client manager their account's), if
/// e-signing is on.
pub async fn find_signing(
    state: &AppState,
    session: &ClientSession,
    id: &str,
) -> Result<SigningRequest> {
    let id = SigningRequestId::parse(id)
        .filter(|_| session.firm.esign_enabled)
        .ok_or(Error::NotFound)?;
    state
        .store
        .signing_request(&session.firm.id, Some(&session.viewer()), &id)
        .await?
        .ok_or(Error::NotFound)
}

/// The document's hash from the stored bytes now; a request whose bytes are gone is a fault.
pub async fn current_hash(state: &AppState, request: &SigningRequest) -> Result<String> {
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

/// The answer when the stored document no longer has the hash it was sent with.
pub fn document_changed() -> Error {
    Error::Conflict {
        code: "document_changed",
        message: "This document has changed since it was sent, so it cannot be signed. \
                  Please contact the firm."
            .into(),
    }
}

/// What was wrong with a typed signature, and the name as typed.
#[derive(Default)]
pub struct SignProblems<'a> {
    pub name: Option<String>,
    pub consent: Option<String>,
    pub draft_name: &'a str,
}

/// Whether this contact signs this request: it is theirs, and their set allows signing.
pub fn signs(session: &ClientSession, request: &SigningRequest) -> bool {
    request.contact_id == session.contact.id && session.can(Capability::Sign)
}

/// `GET /sign/{id}`: a pending request's view is recorded (with the client's address, and the
/// document's hash now) when its signer reads it: not when a client manager reads a
/// colleague's, nor when a staff member is previewing. A document changed since it was sent
/// is refused.
pub async fn signing_page(
    state: &AppState,
    session: &ClientSession,
    csrf: &str,
    origin: ClientOrigin,
    id: &str,
) -> Result<Response> {
    let request = find_signing(state, session, id).await?;
    if request.status == SigningStatus::Pending {
        let hash = current_hash(state, &request).await?;
        // The trail's `viewed` is the signer's own reading.
        if session.preview.is_none() && request.contact_id == session.contact.id {
            let event = EventOrigin {
                ip: origin.ip,
                user_agent: origin.user_agent,
                document_sha256: hash.clone(),
            };
            state
                .store
                .record_signing_view(&session.firm.id, &session.contact.id, &request.id, &event)
                .await?;
        }
        if hash != request.document_sha256 {
            return Err(document_changed());
        }
    }
    render_signing(state, session, csrf, &request, SignProblems::default()).await
}

/// The sign page of `request`, with `problems` of a signature just typed (then 422).
pub async fn render_signing(
    state: &AppState,
    session: &ClientSession,
    csrf: &str,
    request: &SigningRequest,
    problems: SignProblems<'_>,
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
    let pages = super::document_pages(state, request).await?;
    // A client manager may read a colleague's request: the page names its signer, who alone
    // signs it (SPEC §13), and never offers the manager the form.
    let mine = request.contact_id == session.contact.id;
    let signer = if mine {
        Some((session.contact.name.clone(), session.contact.email.clone()))
    } else {
        state
            .store
            .contact(&session.firm.id, &request.contact_id)
            .await?
            .map(|c| (c.name, c.email))
    };
    let signer = signer.map(|(name, email)| context! { name => name, email => email });
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
                mine => mine,
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
            signer => signer,
            pages => pages,
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

/// The PDF itself: inline for the frame on the sign page (which only this origin may frame),
/// or as an attachment when `download`.
pub async fn signing_document(
    state: &AppState,
    session: &ClientSession,
    id: &str,
    download: bool,
) -> Result<Response> {
    let request = find_signing(state, session, id).await?;
    let mut response = documents::download(
        &state.blobs(),
        &request.document_sha256,
        &request.document_name,
        "application/pdf",
        !download,
    )
    .await?;
    let headers = response.headers_mut();
    // Nothing may frame it (the page shows images of it), nor may it run anything.
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'"),
    );
    Ok(response)
}
