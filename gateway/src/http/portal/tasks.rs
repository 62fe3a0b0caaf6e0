//! A shared task in the portal: `GET /tasks/{id}` (the page is made by `views::task`),
//! ticking checklist items, completing it (its documents are in `files`).
//! Every query is scoped to the host's firm and the signed-in contact; anything else is 404.

use axum::Router;
use axum::extract::{Path, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use portico_shared::ids::{ChecklistItemId, TaskId};
use serde::Deserialize;

use crate::error::{Error, Result};
use crate::http::extract::ClientSession;
use crate::http::extract::CsrfOnly;
use crate::http::extract::{CsrfProtected, CsrfToken, ProtectedForm};
use crate::http::views::render_task;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/tasks/{id}", get(show))
        .route("/tasks/{id}/complete", post(complete))
        .route("/tasks/{id}/checklist/{item}", post(tick))
}

async fn show(
    State(state): State<AppState>,
    session: ClientSession,
    CsrfToken(csrf): CsrfToken,
    Path(id): Path<String>,
) -> Result<Html<String>> {
    render_task(&state, &session, &csrf, &id).await
}

#[derive(Deserialize)]
struct TickForm {
    #[serde(default)]
    csrf: String,
    /// `true` to tick, `false` to untick.
    #[serde(default)]
    done: String,
}

impl CsrfProtected for TickForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

async fn tick(
    State(state): State<AppState>,
    session: ClientSession,
    Path((id, item)): Path<(String, String)>,
    ProtectedForm(form): ProtectedForm<TickForm>,
) -> Result<Response> {
    let (Some(id), Some(item)) = (TaskId::parse(&id), ChecklistItemId::parse(&item)) else {
        return Err(Error::NotFound);
    };
    let done = match form.done.as_str() {
        "true" => true,
        "false" => false,
        _ => return Err(Error::invalid("done", "done must be true or false")),
    };
    let (firm, contact) = (&session.firm.id, &session.contact.id);
    if !state
        .store
        .set_item_done(firm, contact, &id, &item, done)
        .await?
    {
        // Not theirs (404), or the task is completed: then the page shows it as it is.
        state
            .store
            .client_task(firm, contact, &id)
            .await?
            .ok_or(Error::NotFound)?;
    }
    Ok(Redirect::to(&format!("/tasks/{id}#item-{item}")).into_response())
}

async fn complete(
    State(state): State<AppState>,
    session: ClientSession,
    Path(id): Path<String>,
    ProtectedForm(_form): ProtectedForm<CsrfOnly>,
) -> Result<Response> {
    let id = TaskId::parse(&id).ok_or(Error::NotFound)?;
    let (firm, contact) = (&session.firm.id, &session.contact.id);
    if !state.store.complete_task(firm, contact, &id).await? {
        // Already completed is fine; not theirs is 404.
        state
            .store
            .client_task(firm, contact, &id)
            .await?
            .ok_or(Error::NotFound)?;
    }
    Ok(Redirect::to(&format!("/tasks/{id}")).into_response())
}
