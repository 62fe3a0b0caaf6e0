//! Asking a contact to sign a PDF, as the API and the console both do: the checks on what
//! was sent, the document kept, the request and its first audit event stored, its page images
//! set rendering, the contact (and, when it is shared with their account, its managers)
//! emailed as their settings allow.

use portico_shared::filetypes::by_extension;
use portico_shared::ids::{ClientAccountId, ContactId, MemberId};
use portico_shared::store::{EventOrigin, Firm, NewSigningRequest, SigningRequest};

use crate::error::{Error, Result};
use crate::services::content::Received;
use crate::services::{notify, page_images};
use crate::state::AppState;

pub const MAX_TITLE: usize = 200;
/// Signing requests take PDF documents only (checked on upload).
pub const DOCUMENT_TYPE: &str = "application/pdf";

/// What a staff member sent to ask for a signature, read from the form but not yet checked.
pub struct Ask {
    pub contact_id: Option<String>,
    pub title: Option<String>,
    pub file: Option<Received>,
    /// The file's name, already made safe to store and show.
    pub document_name: String,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    /// The signer's client account, to share the request with it (its managers may read it).
    pub account_id: Option<ClientAccountId>,
}

/// The refusal while e-signing is off for the firm.
pub fn esign_disabled() -> Error {
    Error::Conflict {
        code: "esign_disabled",
        message: "e-signing is switched off for this firm (PATCH /api/v1/portal \
                  with esign_enabled: true)"
            .into(),
    }
}

/// Checks the ask and creates the request. A contact that is not the firm's, or, with
/// `assigned_to`, not assigned to that member, is refused alike (422 on `contact_id`), so
/// the answer does not tell whether it exists.
pub async fn request(
    state: &AppState,
    firm: &Firm,
    ask: Ask,
    assigned_to: Option<&MemberId>,
) -> Result<SigningRequest> {
    if !firm.esign_enabled {
        return Err(esign_disabled());
    }
    let contact_id = ask
        .contact_id
        .map(|c| c.trim().to_string())
        .filter(|c| !c.is_empty())
        .ok_or_else(|| Error::invalid("contact_id", "contact_id is required"))?;
    let title = ask
        .title
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
    let received = ask
        .file
        .ok_or_else(|| Error::invalid("file", "file is required"))?;
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
    let known = match (ContactId::parse(&contact_id), assigned_to) {
        (Some(id), None) => state.store.contact(&firm.id, &id).await?.map(|_| id),
        (Some(id), Some(member)) => state
            .store
            .contacts_by_ids(&firm.id, std::slice::from_ref(&id), Some(member))
            .await?
            .pop()
            .map(|c| c.id),
        (None, _) => None,
    };
    let Some(contact) = known else {
        return Err(Error::invalid(
            "contact_id",
            format!("{contact_id:?} is not a contact of this firm"),
        ));
    };
    let new = NewSigningRequest {
        contact_id: contact,
        title,
        document_name: ask.document_name,
        document_size: received.size as i64,
        document_sha256: received.sha256.clone(),
        account_id: ask.account_id,
    };
    let event = EventOrigin {
        ip: ask.ip,
        user_agent: ask.user_agent,
        document_sha256: received.sha256.clone(),
    };
    state.blobs().keep(received).await?;
    let request = state
        .store
        .create_signing_request(&firm.id, &new, &event)
        .await?;
    // Off the request path: the sign page shows the pages once they are ready.
    page_images::start(state, &request.document_sha256);
    notify::signature_requested(
        state,
        firm,
        &request.contact_id,
        &request.id,
        &request.title,
    )
    .await?;
    notify::signature_shared(state, firm, &request).await?;
    Ok(request)
}
