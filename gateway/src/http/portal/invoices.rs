//! `GET /invoices`: the invoices the signed-in client sees at this firm, only when the firm has
//! billing enabled and their set allows `invoices` (otherwise the page does not exist: 404).

use axum::Router;
use axum::extract::State;
use axum::response::Html;
use axum::routing::get;
use minijinja::context;
use portico_shared::client_access::Capability;
use portico_shared::status::InvoiceStatus;

use crate::error::{Error, Result};
use crate::http::extract::ClientSession;
use crate::http::extract::CsrfToken;
use crate::http::layout::page;
use crate::http::views::today;
use crate::state::AppState;

/// Enough for years of invoices; older ones stay reachable through the firm.
const SHOWN: i64 = 200;

pub fn router() -> Router<AppState> {
    Router::new().route("/invoices", get(list))
}

async fn list(
    State(state): State<AppState>,
    session: ClientSession,
    CsrfToken(csrf): CsrfToken,
) -> Result<Html<String>> {
    if !session.firm.billing_enabled {
        return Err(Error::NotFound);
    }
    session.require(Capability::Invoices)?;
    let invoices = state
        .store
        .client_invoices(&session.firm.id, &session.viewer(), SHOWN)
        .await?;
    let today = today();
    let rows: Vec<_> = invoices
        .iter()
        .map(|i| {
            context! {
                number => &i.number,
                description => &i.description,
                amount_minor => i.amount_minor,
                currency => &i.currency,
                due_date => &i.due_date,
                status => &i.status,
                overdue => i.status == InvoiceStatus::Open && i.due_date < today,
                // Paying makes sense only while it is open.
                pay_url => i.pay_url.as_deref().filter(|_| i.status == InvoiceStatus::Open),
            }
        })
        .collect();
    page(
        &state,
        "portal/invoices.html",
        &session.firm,
        &csrf,
        Some(&session),
        context! { invoices => rows },
    )
}
