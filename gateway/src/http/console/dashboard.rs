//! The console's first page, `GET /staff`: what needs the firm's attention (requests waiting
//! for an answer, signatures pending, tasks overdue) and what clients did lately, each within
//! the member's reach (every client, or only those assigned to them), each shown only when
//! their role lets them view its area. Also serves this part's stylesheet.

use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::{Html, IntoResponse};
use axum::routing::get;
use minijinja::context;
use portico_shared::now_unix;
use portico_shared::policy::{Action, Area, Decision, Intent, decide};

use super::reach::{iso, reach, when};
use crate::error::Result;
use crate::http::extract::{CsrfToken, StaffSession};
use crate::http::layout::console_page;
use crate::http::views::today;
use crate::state::AppState;

/// Rows per panel; one more is read to know whether there are more.
const SHOWN: usize = 10;
/// How far back "recent" activity goes.
const ACTIVITY_DAYS: i64 = 30;

const CLIENTS_CSS: &str = include_str!("../../../../templates/console/clients.css");

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/staff", get(dashboard))
        .route("/staff/assets/clients.css", get(clients_css))
}

async fn clients_css() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        CLIENTS_CSS,
    )
}

/// The decision for viewing `area`, when allowed.
fn view(staff: &StaffSession, area: Area) -> Option<Decision> {
    Some(decide(&staff.actor, Intent::Act(area, Action::View))).filter(Decision::allowed)
}

/// Up to [`SHOWN`] rows, and whether more were found.
fn cut<T>(mut rows: Vec<T>) -> (Vec<T>, bool) {
    let more = rows.len() > SHOWN;
    rows.truncate(SHOWN);
    (rows, more)
}

/// How an activity row reads after the client's name.
fn activity_text(kind: &str) -> &'static str {
    match kind {
        "signed_in" => "signed in to the portal",
        "task_completed" => "completed the task",
        "document_uploaded" => "uploaded a document to",
        "signed" => "signed",
        "declined" => "declined to sign",
        "request_sent" => "sent a request",
        _ => "did something",
    }
}

/// Where an activity row's subject is in the console.
fn activity_href(kind: &str, subject_id: Option<&str>) -> Option<String> {
    let id = subject_id?;
    match kind {
        "task_completed" | "document_uploaded" => Some(format!("/staff/tasks/{id}")),
        "signed" | "declined" => Some(format!("/staff/signing/{id}")),
        "request_sent" => Some(format!("/staff/conversations/{id}")),
        _ => None,
    }
}

async fn dashboard(
    State(state): State<AppState>,
    staff: StaffSession,
    CsrfToken(csrf): CsrfToken,
) -> Result<Html<String>> {
    let firm = &staff.firm.id;
    let limit = SHOWN as i64 + 1;

    let waiting = match view(&staff, Area::Conversations) {
        Some(d) => {
            let rows = state
                .store
                .waiting_conversations(firm, reach(&d).as_ref(), limit)
                .await?;
            let (rows, more) = cut(rows);
            let rows: Vec<_> = rows
                .iter()
                .map(|c| {
                    context! {
                        href => format!("/staff/conversations/{}", c.id),
                        subject => &c.subject,
                        contact => &c.contact_name,
                        since => when(c.last_message_at),
                        since_iso => iso(c.last_message_at),
                    }
                })
                .collect();
            Some(context! { rows, more })
        }
        None => None,
    };

    let signatures = match view(&staff, Area::Signing) {
        Some(d) => {
            let rows = state
                .store
                .pending_signatures(firm, reach(&d).as_ref(), limit)
                .await?;
            let (rows, more) = cut(rows);
            let rows: Vec<_> = rows
                .iter()
                .map(|s| {
                    context! {
                        href => format!("/staff/signing/{}", s.id),
                        title => &s.title,
                        contact => &s.contact_name,
                        since => when(s.created_at),
                        since_iso => iso(s.created_at),
                    }
                })
                .collect();
            Some(context! { rows, more })
        }
        None => None,
    };

    let overdue = match view(&staff, Area::Tasks) {
        Some(d) => {
            let rows = state
                .store
                .overdue_tasks(firm, reach(&d).as_ref(), &today(), limit)
                .await?;
            let (rows, more) = cut(rows);
            let rows: Vec<_> = rows
                .iter()
                .map(|t| {
                    context! {
                        href => format!("/staff/tasks/{}", t.id),
                        title => &t.title,
                        due => &t.due_date,
                    }
                })
                .collect();
            Some(context! { rows, more })
        }
        None => None,
    };

    let activity = match view(&staff, Area::Contacts) {
        Some(d) => {
            let since = now_unix() - ACTIVITY_DAYS * 86_400;
            let rows = state
                .store
                .recent_activity(firm, reach(&d).as_ref(), since, 20)
                .await?;
            let rows: Vec<_> = rows
                .iter()
                .map(|a| {
                    context! {
                        contact => &a.contact_name,
                        contact_href => format!("/staff/contacts/{}", a.contact_id),
                        text => activity_text(&a.kind),
                        subject => &a.subject,
                        subject_href => activity_href(&a.kind, a.subject_id.as_deref()),
                        at => when(a.created_at),
                        at_iso => iso(a.created_at),
                    }
                })
                .collect();
            Some(context! { rows, days => ACTIVITY_DAYS })
        }
        None => None,
    };

    console_page(
        &state,
        "console/dashboard.html",
        &staff,
        &csrf,
        "dashboard",
        context! { waiting, signatures, overdue, activity },
    )
}
