//! Signing in the portal. `GET /sign/{id}` (made by `views::sign`) shows the document as page
//! images (`GET /sign/{id}/pages/{n}`, rendered once per document by `services::page_images`)
//! above its download (`GET /sign/{id}/document`), with a Sign form (`name`, `consent`) posted to `POST /sign/{id}`
//! and a Decline form (`reason`) posted to `POST /sign/{id}/decline`. Once signed or declined,
//! the same page shows the audit trail. Every view and the outcome are recorded with the
//! signer, time, IP, user agent and the document's SHA-256 recomputed from the stored bytes.
//! Scoped to the host's firm and the request's own contact; anything else is 404, and so is
//! everything here while the firm has e-signing switched off.

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use portico_shared::ids::SigningRequestId;
use portico_shared::status::SigningStatus;
use portico_shared::store::{Completion, EventOrigin, Outcome, SigningRequest};
use serde::Deserialize;

use crate::error::{Error, Result};
use crate::http::extract::{ClientOrigin, ClientSession};
use crate::http::extract::{CsrfProtected, CsrfToken, ProtectedForm};
use crate::http::layout::tr;
use crate::http::views::{
    self, SignProblems, current_hash, document_changed, find_signing, render_signing,
    signing_document, signing_page,
};
use crate::state::AppState;

const MAX_NAME: usize = 200;
const MAX_REASON: usize = 2000;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/sign/{id}", get(show).post(sign))
        .route("/sign/{id}/decline", post(decline))
        .route("/sign/{id}/document", get(document))
        .route("/sign/{id}/pages/{page}", get(page_image))
}

fn already(request: &SigningRequest) -> Error {
    Error::Conflict {
        code: "already_completed",
        message: format!("This document has already been {}.", request.status),
    }
}

async fn show(
    State(state): State<AppState>,
    session: ClientSession,
    CsrfToken(csrf): CsrfToken,
    origin: ClientOrigin,
    Path(id): Path<String>,
) -> Result<Response> {
    signing_page(&state, &session, &csrf, origin, &id).await
}

async fn page_image(
    State(state): State<AppState>,
    session: ClientSession,
    Path((id, page)): Path<(String, String)>,
) -> Result<Response> {
    let request = find_signing(&state, &session, &id).await?;
    views::page_image(&state, &request, &page).await
}

#[derive(Deserialize)]
struct DocumentQuery {
    download: Option<String>,
}

async fn document(
    State(state): State<AppState>,
    session: ClientSession,
    Path(id): Path<String>,
    Query(query): Query<DocumentQuery>,
) -> Result<Response> {
    signing_document(&state, &session, &id, query.download.is_some()).await
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
    let request = find_signing(&state, &session, &id).await?;
    if request.status != SigningStatus::Pending {
        return Err(already(&request));
    }
    let name = form.name.trim();
    let mut problems = SignProblems {
        draft_name: name,
        ..SignProblems::default()
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
        return render_signing(&state, &session, &csrf, &request, problems).await;
    }
    let hash = current_hash(&state, &request).await?;
    if hash != request.document_sha256 {
        return Err(document_changed());
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
        Completion::DocumentChanged => Err(document_changed()),
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
    let request = find_signing(&state, &session, &id).await?;
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
