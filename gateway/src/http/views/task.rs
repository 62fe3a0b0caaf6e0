//! A shared task as the portal shows it (`GET /tasks/{id}`), and its documents' downloads
//! (`GET /tasks/{id}/files/{file}`): for the signed-in client and for a staff preview alike.
//! Scoped to the viewer's firm and contact; anything else is 404.

use axum::response::{Html, Response};
use minijinja::context;
use portico_shared::client_access::Capability;
use portico_shared::ids::{TaskFileId, TaskId};
use portico_shared::status::TaskStatus;

use super::dates::today;
use super::files::{accepted, rows};
use crate::error::{Error, Result};
use crate::http::documents;
use crate::http::extract::ClientSession;
use crate::http::layout::page;
use crate::state::AppState;

/// The task page; `id` as it came in the path.
pub async fn render_task(
    state: &AppState,
    session: &ClientSession,
    csrf: &str,
    id: &str,
) -> Result<Html<String>> {
    let id = TaskId::parse(id).ok_or(Error::NotFound)?;
    let detail = state
        .store
        .client_task(&session.firm.id, &session.viewer(), &id)
        .await?
        // A completed task is not there for a set without `see_completed`.
        .filter(|d| d.task.status == TaskStatus::Open || session.can(Capability::SeeCompleted))
        .ok_or(Error::NotFound)?;
    let task = &detail.task;
    let done = detail.checklist.iter().filter(|i| i.done).count();
    let files = state.store.task_files(&session.firm.id, &task.id).await?;
    let types = &state.config.upload_types;
    let extra = context! {
        task => context! {
            id => &task.id,
            title => &task.title,
            description => &task.description,
            due => task.due_date.clone(),
            overdue => task.status == TaskStatus::Open && task.due_date.as_deref().is_some_and(|d| d < today().as_str()),
            completed => task.status == TaskStatus::Completed,
            completed_on => task.completed_at.and_then(|t| time::OffsetDateTime::from_unix_timestamp(t).ok())
                .map(|t| t.date().to_string()),
        },
        checklist => &detail.checklist,
        items_done => done,
        files => rows(&files, &session.contact.id),
        upload => context! {
            accept => types.iter().map(|t| format!(".{}", t.ext)).collect::<Vec<_>>().join(","),
            types => accepted(state),
            limit => portico_shared::units::megabytes(state.config.upload_max_bytes),
        },
    };
    page(
        state,
        "portal/task.html",
        &session.firm,
        csrf,
        Some(session),
        extra,
    )
}

/// A document of a task the viewer may see, always as a download.
pub async fn task_file_download(
    state: &AppState,
    session: &ClientSession,
    id: &str,
    file: &str,
) -> Result<Response> {
    let (Some(id), Some(file)) = (TaskId::parse(id), TaskFileId::parse(file)) else {
        return Err(Error::NotFound);
    };
    documents::task_file(state, &session.firm.id, Some(&session.viewer()), &id, &file).await
}
