//! Signing requests: `POST /api/v1/signing-requests` (multipart: `contact_id`, `title`, `file`,
//! a PDF), `GET /api/v1/signing-requests` (filter `contact_id`, `status`; cursor pages) and
//! `GET /api/v1/signing-requests/{id}` with its full audit trail, and
//! `GET /api/v1/signing-requests/{id}/document`: the document itself, as an attachment with
//! its SHA-256 in `Repr-Digest` (RFC 9530), so staff can file exactly what was signed and
//! check it against the trail's `document_sha256`.

use axum::extract::multipart::MultipartRejection;
use axum::extract::{Multipart, Path, State};
use axum::http::{HeaderName, StatusCode};
use axum::response::Response;
use portico_shared::filetypes::by_extension;
use portico_shared::ids::{ContactId, FirmId, SigningRequestId};
use portico_shared::status::SigningStatus;
use portico_shared::store::{
    EventOrigin, NewSigningRequest, PageQuery, SigningEvent, SigningRequest,
};
use serde_json::{Value, json};

use super::pagination::{ByContactAndStatus, Page, contact_filter};
use super::route::{ApiRoute, ok, rfc3339};
use crate::error::{Error, Result};
use crate::http::documents::{self, multipart_error, repr_digest, safe_file_name};
use crate::http::extract::ApiFirm;
use crate::http::extract::ApiQuery;
use crate::http::extract::ClientOrigin;
use crate::services::notify;
use crate::state::AppState;

const MAX_TITLE: usize = 200;
/// Signing requests take PDF documents only (checked on upload).
const DOCUMENT_TYPE: &str = "application/pdf";

pub fn routes() -> Vec<ApiRoute> {
    vec![
        ApiRoute::post("/signing-requests", create).upload(),
        ApiRoute::get("/signing-requests", list),
        ApiRoute::get("/signing-requests/{id}", show),
        ApiRoute::get("/signing-requests/{id}/document", document),
    ]
}

fn event_view(event: &SigningEvent) -> Value {
    json!({
        "kind": event.kind,
        "at": rfc3339(event.created_at),
        "contact_id": event.contact_id,
        "typed_name": event.typed_name,
        "reason": event.reason,
        "ip": event.ip,
        "user_agent": event.user_agent,
        "document_sha256": event.document_sha256,
    })
}

fn view(state: &AppState, firm_slug: &str, request: &SigningRequest) -> Value {
    json!({
        "id": request.id,
        "contact_id": request.contact_id,
        "title": request.title,
        "status": request.status,
        "document": {
            "file_name": request.document_name,
            "content_type": DOCUMENT_TYPE,
            "size": request.document_size,
            "sha256": request.document_sha256,
        },
        "signed_name": request.signed_name,
        "decline_reason": request.decline_reason,
        "completed_at": request.completed_at.map(rfc3339),
        "created_at": rfc3339(request.created_at),
        "sign_url": format!("{}/sign/{}", state.config.portal_url(firm_slug), request.id),
    })
}

async fn create(
    State(state): State<AppState>,
    ApiFirm(firm): ApiFirm,
    origin: ClientOrigin,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<Response> {
    if !firm.esign_enabled {
        return Err(Error::Conflict {
            code: "esign_disabled",
            message: "e-signing is switched off for this firm (PATCH /api/v1/portal \
                      with esign_enabled: true)"
                .into(),
        });
    }
    let mut form = multipart.map_err(|_| {
        Error::UnsupportedMediaType(
            "send multipart/form-data with contact_id, title and file".into(),
        )
    })?;
    let max = state.config.upload_max_bytes;
    let blobs = state.blobs();
    let (mut contact_id, mut title, mut received) = (None, None, None);
    while let Some(field) = form
        .next_field()
        .await
        .map_err(|e| multipart_error(e, max))?
    {
        match field.name() {
            Some("contact_id") => {
                contact_id = Some(field.text().await.map_err(|e| multipart_error(e, max))?);
            }
            Some("title") => {
                title = Some(field.text().await.map_err(|e| multipart_error(e, max))?);
            }
            Some("file") => {
                if received.is_some() {
                    return Err(Error::invalid("file", "send one file"));
                }
                received = Some(documents::receive(&blobs, field, max).await?);
            }
            Some(other) => {
                return Err(Error::invalid(
                    "body",
                    format!("unknown field {other:?}; expected contact_id, title and file"),
                ));
            }
            None => return Err(Error::invalid("body", "every part needs a name")),
        }
    }
    let contact_id = contact_id
        .map(|c| c.trim().to_string())
        .filter(|c| !c.is_empty())
        .ok_or_else(|| Error::invalid("contact_id", "contact_id is required"))?;
    let title = title
        .as_deref()
        .map(str::trim)
        .unwrap_or_default()
        .to_string();
    if title.is_empty() || title.chars().count() > MAX_TITLE {
        return Err(Error::invalid(
            "title",
            format!("title must be 1 to {MAX_TITLE} characters"),
        ));
    }
    let received = received.ok_or_else(|| Error::invalid("file", "file is required"))?;
    if received.size == 0 {
        return Err(Error::invalid("file", "file is empty"));
    }
    let pdf = by_extension("pdf").expect("PDF is a known type");
    if !pdf.matches(&received.head) {
        return Err(Error::UnsupportedMediaType(
            "file must be a PDF document".into(),
        ));
    }
    // Checked before the bytes are kept, so a refused request leaves no file behind.
    let known = match ContactId::parse(&contact_id) {
        Some(id) if state.store.contact(&firm.id, &id).await?.is_some() => Some(id),
        _ => None,
    };
    let Some(contact) = known else {
        return Err(Error::invalid(
            "contact_id",
            format!("{contact_id:?} is not a contact of this firm"),
        ));
    };
    let name = safe_file_name(received.file_name.as_deref().unwrap_or("document.pdf"));
    let new = NewSigningRequest {
        contact_id: contact,
        title,
        document_name: name,
        document_size: received.size as i64,
        document_sha256: received.sha256.clone(),
    };
    let event = EventOrigin {
        ip: origin.ip,
        user_agent: origin.user_agent,
        document_sha256: received.sha256.clone(),
    };
    blobs.keep(received).await?;
    let request = state
        .store
        .create_signing_request(&firm.id, &new, &event)
        .await?;
    notify::signature_requested(
        &state,
        &firm,
        &request.contact_id,
        &request.id,
        &request.title,
    )
    .await?;
    let events = state.store.signing_events(&request.id).await?;
    let mut body = view(&state, &firm.slug, &request);
    body["events"] = events.iter().map(event_view).collect();
    Ok(ok(StatusCode::CREATED, body))
}

async fn list(
    State(state): State<AppState>,
    ApiFirm(firm): ApiFirm,
    ApiQuery(query): ApiQuery<ByContactAndStatus>,
) -> Result<Response> {
    let page = Page::new(query.limit, query.cursor)?;
    let status = query
        .status
        .as_deref()
        .map(|s| {
            SigningStatus::parse(s).ok_or_else(|| {
                Error::invalid("status", "status must be pending, signed or declined")
            })
        })
        .transpose()?;
    let after = page.after()?;
    let Ok(contact_id) = contact_filter(query.contact_id.as_deref()) else {
        return Ok(page.empty());
    };
    let rows = state
        .store
        .list_signing_requests(
            &firm.id,
            &PageQuery {
                after,
                limit: page.fetch(),
                contact_id,
                status,
            },
        )
        .await?;
    Ok(page.respond(
        rows,
        |r| (r.created_at, r.id.as_str()),
        |r| view(&state, &firm.slug, r),
    ))
}

async fn find(state: &AppState, firm_id: &FirmId, id: &str) -> Result<SigningRequest> {
    let id = SigningRequestId::parse(id).ok_or(Error::NotFound)?;
    state
        .store
        .signing_request(firm_id, None, &id)
        .await?
        .ok_or(Error::NotFound)
}

async fn show(
    State(state): State<AppState>,
    ApiFirm(firm): ApiFirm,
    Path(id): Path<String>,
) -> Result<Response> {
    let request = find(&state, &firm.id, &id).await?;
    let events = state.store.signing_events(&request.id).await?;
    let mut body = view(&state, &firm.slug, &request);
    body["events"] = events.iter().map(event_view).collect();
    Ok(ok(StatusCode::OK, body))
}

/// The document's bytes as stored at creation (a stored file is named by its hash and never
/// rewritten, so these are the bytes that were viewed and signed).
async fn document(
    State(state): State<AppState>,
    ApiFirm(firm): ApiFirm,
    Path(id): Path<String>,
) -> Result<Response> {
    let request = find(&state, &firm.id, &id).await?;
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
