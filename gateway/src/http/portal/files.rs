//! Documents on a shared task: `POST /tasks/{id}/files` (multipart: `csrf` first, then `file`)
//! and `GET /tasks/{id}/files/{file}` (always a download). Scoped like the task itself: the
//! host's firm, the signed-in contact, a task shared with them; anything else is 404. Each
//! contact has an upload rate (429) and a storage quota (507): `services::upload_limits`.

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use portico_shared::filetypes::{FileType, extension};
use portico_shared::ids::TaskId;
use portico_shared::store::NewFile;

use crate::error::{Error, Result};
use crate::http::documents::{self, FORM_OVERHEAD, multipart_error, safe_file_name};
use crate::http::extract::ClientSession;
use crate::http::extract::ProtectedMultipart;
use crate::http::layout::tr;
use crate::http::views::{accepted, task_file_download};
use crate::services::content::Received;
use crate::services::upload_limits;
use crate::state::AppState;
use portico_shared::units::megabytes;

pub fn router(state: &AppState) -> Router<AppState> {
    // Only this route takes large bodies; the rest of the app keeps the small default.
    let limit = usize::try_from(state.config.upload_max_bytes)
        .unwrap_or(usize::MAX)
        .saturating_add(FORM_OVERHEAD);
    Router::new()
        .route(
            "/tasks/{id}/files",
            post(upload).layer(DefaultBodyLimit::max(limit)),
        )
        .route("/tasks/{id}/files/{file}", get(download))
}

/// The allowed type a file claims by its name, and whether its bytes agree.
fn check_type(state: &AppState, received: &Received, name: &str) -> Result<&'static FileType> {
    let types = &state.config.upload_types;
    let accepted = accepted(state);
    let ext = extension(name).ok_or_else(|| {
        Error::UnsupportedMediaType(tr(
            state,
            "upload.no_type",
            &[("name", name), ("accepted", &accepted)],
        ))
    })?;
    let Some(kind) = types.iter().copied().find(|t| t.ext == ext) else {
        return Err(type_refused(state, &ext));
    };
    if !kind.matches(&received.head) {
        return Err(Error::UnsupportedMediaType(tr(
            state,
            "upload.mismatch",
            &[
                ("name", name),
                ("kind", kind.label),
                ("accepted", &accepted),
            ],
        )));
    }
    Ok(kind)
}

fn type_refused(state: &AppState, ext: &str) -> Error {
    Error::UnsupportedMediaType(tr(
        state,
        "upload.type_refused",
        &[("ext", ext), ("accepted", &accepted(state))],
    ))
}

/// The 507 text, with what is used and allowed, in the page's language.
fn quota_message(state: &AppState) -> impl Fn(&str, &str) -> String + '_ {
    move |used, allowed| {
        tr(
            state,
            "upload.quota",
            &[("used", used), ("allowed", allowed)],
        )
    }
}

/// A too-large upload, said in the page's language.
fn translated(state: &AppState, max: u64) -> impl Fn(Error) -> Error + '_ {
    move |e| match e {
        Error::TooLarge(_) => {
            Error::TooLarge(tr(state, "upload.too_large", &[("limit", &megabytes(max))]))
        }
        other => other,
    }
}

async fn upload(
    State(state): State<AppState>,
    session: ClientSession,
    Path(id): Path<String>,
    ProtectedMultipart(mut form): ProtectedMultipart,
) -> Result<Response> {
    let id = TaskId::parse(&id).ok_or(Error::NotFound)?;
    let (firm, contact) = (&session.firm.id, &session.contact.id);
    // Before reading the file: nothing is stored for a task that is not theirs.
    state
        .store
        .client_task(firm, contact, &id)
        .await?
        .ok_or(Error::NotFound)?;
    // Counted before the file is read, so a client past the rate costs no disk or hashing;
    // then whether there is room left at all.
    upload_limits::count_upload(&state, firm, contact).await?;
    upload_limits::check_quota(&state, firm, contact, 0, quota_message(&state)).await?;
    let max = state.config.upload_max_bytes;
    let blobs = state.blobs();
    let mut received = None;
    while let Some(field) = form
        .next_field()
        .await
        .map_err(|e| translated(&state, max)(multipart_error(e, max)))?
    {
        if field.name() != Some("file") {
            continue;
        }
        if received.is_some() {
            return Err(Error::invalid(
                "file",
                tr(&state, "upload.one_at_a_time", &[]),
            ));
        }
        // Refuse a wrong name before reading the bytes.
        if let Some(ext) = field.file_name().and_then(extension)
            && !state.config.upload_types.iter().any(|t| t.ext == ext)
        {
            return Err(type_refused(&state, &ext));
        }
        received = Some(
            documents::receive(&blobs, field, max)
                .await
                .map_err(translated(&state, max))?,
        );
    }
    let received = match received {
        Some(r) if r.file_name.as_deref().is_some_and(|n| !n.is_empty()) => r,
        _ => return Err(Error::invalid("file", tr(&state, "upload.choose", &[]))),
    };
    let name = safe_file_name(received.file_name.as_deref().unwrap_or_default());
    if received.size == 0 {
        return Err(Error::invalid(
            "file",
            tr(&state, "upload.empty", &[("name", &name)]),
        ));
    }
    let kind = check_type(&state, &received, &name)?;
    // Again with the size received: a refused file is dropped, and its temporary copy with it.
    upload_limits::check_quota(&state, firm, contact, received.size, quota_message(&state)).await?;
    let new = NewFile {
        file_name: name,
        content_type: kind.content_type.to_string(),
        size: received.size as i64,
        sha256: received.sha256.clone(),
    };
    blobs.keep(received).await?;
    state
        .store
        .add_task_file(firm, contact, &id, &new)
        .await?
        .ok_or(Error::NotFound)?;
    Ok(Redirect::to(&format!("/tasks/{id}#files")).into_response())
}

async fn download(
    State(state): State<AppState>,
    session: ClientSession,
    Path((id, file)): Path<(String, String)>,
) -> Result<Response> {
    task_file_download(&state, &session, &id, &file).await
}
