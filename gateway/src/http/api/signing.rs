//! Signing requests: `POST /api/v1/signing-requests` (multipart: `contact_id`, `title`, `file`,
//! a PDF), `GET /api/v1/signing-requests` (filter `contact_id`, `status`; cursor pages) and
//! `GET /api/v1/signing-requests/{id}` with its full audit trail, and
//! `GET /api/v1/signing-requests/{id}/document`: the document itself, as an attachment with
//! its SHA-256 in `Repr-Digest` (RFC 9530), so staff can file exactly what was signed and
//! check it against the trail's `document_sha256`.

use axum::extract::multipart::MultipartRejection;
use axum::extract::{Multipart, Path, State};
use axum::http::{HeaderName, StatusCode};
use axum::response::{Json, Response};
use portico_shared::ids::{ClientAccountId, SigningRequestId};
use portico_shared::policy::{Action, Area};
use portico_shared::status::SigningStatus;
use portico_shared::store::{PageQuery, Scoped, SigningEvent, SigningRequest};
use serde::{Deserialize, Serialize};
use utoipa::openapi::schema::Object;
use utoipa::{IntoParams, OpenApi, ToSchema};

use super::ErrorBody;
use super::pagination::{ListPage, Page, contact_filter};
use super::route::{ApiRoute, Binary, one_of, rfc3339};
use crate::error::{Error, Result};
use crate::http::documents::{self, multipart_error, repr_digest, safe_file_name};
use crate::http::extract::ApiActor;
use crate::http::extract::ApiQuery;
use crate::http::extract::ClientOrigin;
use crate::http::extract::api::unknown_account;
use crate::services::signing::{self, DOCUMENT_TYPE};
use crate::state::AppState;

pub fn routes() -> Vec<ApiRoute> {
    vec![
        ApiRoute::post("/signing-requests", create).upload(),
        ApiRoute::get("/signing-requests", list),
        ApiRoute::get("/signing-requests/{id}", show),
        ApiRoute::get("/signing-requests/{id}/document", document),
    ]
}

#[derive(OpenApi)]
#[openapi(paths(create, list, show, document))]
pub struct Doc;

fn signing_status() -> Object {
    one_of(&["pending", "signed", "declined"])
}

fn event_kind() -> Object {
    one_of(&["created", "viewed", "signed", "declined"])
}

fn document_type() -> Object {
    one_of(&[DOCUMENT_TYPE])
}

/// One entry of a signing request's audit trail.
#[derive(Serialize, ToSchema)]
#[schema(as = AuditEvent)]
pub struct AuditEventView {
    #[schema(schema_with = event_kind)]
    kind: String,
    #[schema(format = DateTime)]
    at: String,
    /// The contact who acted; null where the firm did (`created`)
    #[schema(required = true)]
    contact_id: Option<String>,
    /// The full name the client typed (`signed`)
    #[schema(required = true)]
    typed_name: Option<String>,
    /// Why the client declined (`declined`)
    #[schema(required = true)]
    reason: Option<String>,
    #[schema(required = true)]
    ip: Option<String>,
    #[schema(required = true)]
    user_agent: Option<String>,
    /// SHA-256 recomputed from the stored bytes at that moment
    document_sha256: String,
}

/// A document a contact is asked to sign.
#[derive(Serialize, ToSchema)]
#[schema(as = SigningRequest)]
pub struct SigningRequestView {
    id: String,
    contact_id: String,
    title: String,
    #[schema(schema_with = signing_status)]
    status: String,
    document: DocumentView,
    /// The full name the client typed when signing
    #[schema(required = true)]
    signed_name: Option<String>,
    #[schema(required = true)]
    decline_reason: Option<String>,
    /// When it was signed or declined
    #[schema(format = DateTime, required = true)]
    completed_at: Option<String>,
    #[schema(format = DateTime)]
    created_at: String,
    /// The signer's client account when shared with it: its client managers may read it
    #[schema(required = true)]
    account_id: Option<String>,
    /// The portal page where the client reads and signs it
    #[schema(format = "uri")]
    sign_url: String,
}

/// The document to sign.
#[derive(Serialize, ToSchema)]
#[schema(as = SigningDocument)]
pub struct DocumentView {
    file_name: String,
    #[schema(schema_with = document_type)]
    content_type: &'static str,
    /// Bytes
    size: i64,
    /// Hex SHA-256 of the stored PDF; it cannot change after signing
    sha256: String,
}

/// A signing request with its audit trail, oldest first.
#[derive(Serialize, ToSchema)]
#[schema(as = SigningRequestDetail)]
pub struct SigningRequestDetailView {
    #[serde(flatten)]
    request: SigningRequestView,
    events: Vec<AuditEventView>,
}

/// The multipart form that asks for a signature.
#[derive(ToSchema)]
#[schema(as = NewSigningRequest)]
// Documents the form only: `create` reads the parts one by one, to stream the file.
#[allow(dead_code)]
pub struct SigningRequestForm {
    contact_id: String,
    #[schema(min_length = 1, max_length = 200)]
    title: String,
    /// The document to sign (PDF).
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
    /// The signer's client account, to share the request with it: its client managers may
    /// read it (only `contact_id` signs).
    account_id: Option<String>,
}

fn event_view(event: &SigningEvent) -> AuditEventView {
    AuditEventView {
        kind: event.kind.clone(),
        at: rfc3339(event.created_at),
        contact_id: event.contact_id.as_ref().map(ToString::to_string),
        typed_name: event.typed_name.clone(),
        reason: event.reason.clone(),
        ip: event.ip.clone(),
        user_agent: event.user_agent.clone(),
        document_sha256: event.document_sha256.clone(),
    }
}

fn view(state: &AppState, firm_slug: &str, request: &SigningRequest) -> SigningRequestView {
    SigningRequestView {
        id: request.id.to_string(),
        contact_id: request.contact_id.to_string(),
        title: request.title.clone(),
        status: request.status.to_string(),
        document: DocumentView {
            file_name: request.document_name.clone(),
            content_type: DOCUMENT_TYPE,
            size: request.document_size,
            sha256: request.document_sha256.clone(),
        },
        signed_name: request.signed_name.clone(),
        decline_reason: request.decline_reason.clone(),
        completed_at: request.completed_at.map(rfc3339),
        created_at: rfc3339(request.created_at),
        account_id: request.account_id.as_ref().map(ToString::to_string),
        sign_url: format!("{}/sign/{}", state.config.portal_url(firm_slug), request.id),
    }
}

fn detail(
    state: &AppState,
    firm_slug: &str,
    request: &SigningRequest,
    events: &[SigningEvent],
) -> SigningRequestDetailView {
    SigningRequestDetailView {
        request: view(state, firm_slug, request),
        events: events.iter().map(event_view).collect(),
    }
}

/// Ask a contact to sign a document
///
/// Multipart form: `contact_id`, `title`, `file`. The contact is emailed, as their settings
/// allow.
#[utoipa::path(
    post,
    path = "/signing-requests",
    tag = "Signing",
    operation_id = "createSigningRequest",
    request_body(content = SigningRequestForm, content_type = "multipart/form-data"),
    responses(
        (status = 201, description = "Created, with its audit trail", body = SigningRequestDetailView),
        (status = 400, description = "The form could not be read", body = ErrorBody),
        (status = 409, description = "E-signing is switched off for the firm (`esign_disabled`)", body = ErrorBody),
        (status = 413, description = "The file is larger than `PORTICO_UPLOAD_MAX_BYTES`", body = ErrorBody),
        (status = 415, description = "Not a multipart form, or the file is not a PDF", body = ErrorBody),
        (status = 422, description = "A part is missing, unknown or not valid, or the contact is not the firm's (`field`)", body = ErrorBody),
    )
)]
async fn create(
    State(state): State<AppState>,
    actor: ApiActor,
    origin: ClientOrigin,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<(StatusCode, Json<SigningRequestDetailView>)> {
    let scope = actor.scope(Area::Signing, Action::Create)?;
    let firm = &actor.firm;
    if !firm.esign_enabled {
        return Err(signing::esign_disabled());
    }
    let mut form = multipart.map_err(|_| {
        Error::UnsupportedMediaType(
            "send multipart/form-data with contact_id, title and file".into(),
        )
    })?;
    let max = state.config.upload_max_bytes;
    let blobs = state.blobs();
    let (mut contact_id, mut title, mut received, mut account_id) = (None, None, None, None);
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
            Some("account_id") => {
                let text = field.text().await.map_err(|e| multipart_error(e, max))?;
                let id = ClientAccountId::parse(&text)
                    .ok_or_else(|| unknown_account("account_id", &text))?;
                account_id = Some(id);
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
                    format!(
                        "unknown field {other:?}; expected contact_id, title, file and \
                         account_id"
                    ),
                ));
            }
            None => return Err(Error::invalid("body", "every part needs a name")),
        }
    }
    let document_name = received
        .as_ref()
        .and_then(|r| r.file_name.as_deref())
        .map(safe_file_name)
        .unwrap_or_else(|| "document.pdf".into());
    let ask = signing::Ask {
        contact_id,
        title,
        file: received,
        document_name,
        ip: origin.ip,
        user_agent: origin.user_agent,
        account_id,
    };
    // A contact outside the actor's scope is answered like one the firm does not have.
    let request = signing::request(&state, firm, ask, scope.as_ref()).await?;
    let events = state.store.signing_events(&request.id).await?;
    Ok((
        StatusCode::CREATED,
        Json(detail(&state, &firm.slug, &request, &events)),
    ))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    /// Page size, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200, default = 50)]
    limit: Option<i64>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
    /// Only this contact's
    contact_id: Option<String>,
    /// Only this status
    #[param(schema_with = signing_status)]
    status: Option<String>,
}

/// List signing requests, oldest first
#[utoipa::path(
    get,
    path = "/signing-requests",
    tag = "Signing",
    operation_id = "listSigningRequests",
    params(ListQuery),
    responses((status = 200, description = "A page", body = ListPage<SigningRequestView>))
)]
async fn list(
    State(state): State<AppState>,
    actor: ApiActor,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Json<ListPage<SigningRequestView>>> {
    let assigned_to = actor.scope(Area::Signing, Action::View)?;
    let firm = actor.firm;
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
                assigned_to,
            },
        )
        .await?;
    Ok(page.respond(
        rows,
        |r| (r.created_at, r.id.as_str()),
        |r| view(&state, &firm.slug, r),
    ))
}

/// The request, if the actor may view signing requests and it lies within their scope.
async fn find(state: &AppState, actor: &ApiActor, id: &str) -> Result<SigningRequest> {
    let scope = actor.scope(Area::Signing, Action::View)?;
    let id = SigningRequestId::parse(id).ok_or(Error::NotFound)?;
    actor
        .reach(state, scope.as_ref(), Scoped::SigningRequest(&id))
        .await?;
    state
        .store
        .signing_request(&actor.firm.id, None, &id)
        .await?
        .ok_or(Error::NotFound)
}

/// A signing request and its audit trail
#[utoipa::path(
    get,
    path = "/signing-requests/{id}",
    tag = "Signing",
    operation_id = "getSigningRequest",
    params(("id" = String, Path, description = "Signing request id")),
    responses(
        (status = 200, description = "The request", body = SigningRequestDetailView),
        (status = 404, description = "No such signing request", body = ErrorBody),
    )
)]
async fn show(
    State(state): State<AppState>,
    actor: ApiActor,
    Path(id): Path<String>,
) -> Result<Json<SigningRequestDetailView>> {
    let request = find(&state, &actor, &id).await?;
    let firm = actor.firm;
    let events = state.store.signing_events(&request.id).await?;
    Ok(Json(detail(&state, &firm.slug, &request, &events)))
}

/// Download the document of a signing request
///
/// The document exactly as stored when the request was created (it cannot change afterwards,
/// so these are the bytes that were viewed and signed), served as an attachment. `Repr-Digest`
/// (RFC 9530) carries its SHA-256 in base64: the same hash as `document.sha256` and the audit
/// trail's `document_sha256`, there in hex.
#[utoipa::path(
    get,
    path = "/signing-requests/{id}/document",
    tag = "Signing",
    operation_id = "getSigningRequestDocument",
    params(("id" = String, Path, description = "Signing request id")),
    responses(
        (status = 200, description = "The PDF, with `Content-Disposition: attachment` and `X-Content-Type-Options: nosniff`", content_type = "application/pdf", body = inline(Binary),
            headers(
                ("Repr-Digest" = String, description = "SHA-256 of the document, `sha-256=:<base64>:` (RFC 9530)"),
                ("Content-Disposition" = String, description = "`attachment` with the document's file name"),
            )),
        (status = 404, description = "No such signing request", body = ErrorBody),
    )
)]
async fn document(
    State(state): State<AppState>,
    actor: ApiActor,
    Path(id): Path<String>,
) -> Result<Response> {
    let request = find(&state, &actor, &id).await?;
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
