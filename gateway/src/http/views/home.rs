//! The client's home page: signing requests, tasks to do, completed tasks, their requests and
//! the box to send one. Rendered by `GET /` and again by `POST /requests` when the typed
//! request needs correcting.

use axum::response::Html;
use minijinja::context;
use portico_shared::client_access::Capability;
use portico_shared::ids::TaskId;
use portico_shared::status::TaskStatus;
use portico_shared::store::TaskSummary;
use serde::Serialize;

use super::dates::today;
use crate::error::Result;
use crate::http::extract::ClientSession;
use crate::http::layout::page;
use crate::state::AppState;

/// Completed tasks shown on the home page, most recent first.
const COMPLETED_ON_HOME: i64 = 20;
/// Pending signing requests shown on the home page, oldest first.
const SIGNING_ON_HOME: i64 = 50;
/// The client's requests shown on the home page, most recently active first.
const REQUESTS_ON_HOME: i64 = 10;

#[derive(Serialize)]
struct TaskRow<'a> {
    id: &'a TaskId,
    title: &'a str,
    due: Option<String>,
    overdue: bool,
    items_total: i64,
    items_done: i64,
    completed: Option<String>,
}

fn row<'a>(task: &'a TaskSummary, today: &str) -> TaskRow<'a> {
    TaskRow {
        id: &task.id,
        title: &task.title,
        due: task.due_date.clone(),
        overdue: task.status == TaskStatus::Open
            && task.due_date.as_deref().is_some_and(|d| d < today),
        items_total: task.items_total,
        items_done: task.items_done,
        completed: task.completed_at.map(|t| {
            time::OffsetDateTime::from_unix_timestamp(t)
                .map(|t| t.date().to_string())
                .unwrap_or_default()
        }),
    }
}

/// The home page; `request_error` is a problem with a request just typed, and the draft.
pub async fn render_home(
    state: &AppState,
    session: &ClientSession,
    csrf: &str,
    request_error: Option<(&str, &str)>,
) -> Result<Html<String>> {
    let viewer = session.viewer();
    // A set without "see completed" reads none: the section is not there at all.
    let completed_limit = if session.can(Capability::SeeCompleted) {
        COMPLETED_ON_HOME
    } else {
        0
    };
    let (open, completed) = state
        .store
        .client_tasks(&session.firm.id, &viewer, completed_limit)
        .await?;
    let today = today();
    let open: Vec<TaskRow> = open.iter().map(|t| row(t, &today)).collect();
    let completed: Vec<TaskRow> = completed.iter().map(|t| row(t, &today)).collect();
    let requests = state
        .store
        .client_conversations(&session.firm.id, &viewer, REQUESTS_ON_HOME)
        .await?;
    let requests: Vec<_> = requests
        .iter()
        .map(|c| context! { id => &c.id, subject => &c.subject, status => &c.status })
        .collect();
    let signing = if session.firm.esign_enabled {
        state
            .store
            .pending_signing_requests(&session.firm.id, &viewer, SIGNING_ON_HOME)
            .await?
    } else {
        Vec::new()
    };
    let signing: Vec<_> = signing
        .iter()
        .map(|p| {
            let r = &p.request;
            context! {
                id => &r.id,
                title => &r.title,
                // A manager reads a colleague's request; only its signer signs it, so the
                // row says whose signature it waits for.
                mine => r.contact_id == session.contact.id,
                signer => &p.signer_name,
                sent => time::OffsetDateTime::from_unix_timestamp(r.created_at)
                    .map(|t| t.date().to_string())
                    .unwrap_or_default(),
            }
        })
        .collect();
    let extra = context! {
        signing => signing,
        open => open,
        completed => completed,
        requests => requests,
        request_error => request_error.map(|e| e.0),
        request_draft => request_error.map(|e| e.1),
    };
    page(
        state,
        "portal/home.html",
        &session.firm,
        csrf,
        Some(session),
        extra,
    )
}
