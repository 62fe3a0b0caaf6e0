//! The firms (companies) where the viewer's email has portal access, as the portal lists them
//! (`GET /companies`): for the signed-in client and for a staff preview alike.

use axum::response::Html;
use minijinja::context;
use portico_shared::email::Email;

use crate::error::Result;
use crate::http::extract::ClientSession;
use crate::http::layout::{FirmView, page};
use crate::state::AppState;

/// The address as firms' contacts are matched by it.
fn normalized_email(email: &str) -> String {
    Email::parse(email).map_or_else(|_| email.to_lowercase(), |e| e.normalized().to_string())
}

pub async fn render_companies(
    state: &AppState,
    session: &ClientSession,
    csrf: &str,
) -> Result<Html<String>> {
    let firms = state
        .store
        .firms_of_email(&normalized_email(&session.contact.email))
        .await?;
    let companies: Vec<_> = firms
        .iter()
        .map(|f| context! { firm => FirmView::from(f), current => f.id == session.firm.id })
        .collect();
    let extra = context! { companies => companies };
    page(
        state,
        "portal/companies.html",
        &session.firm,
        csrf,
        Some(session),
        extra,
    )
}
