//! The client's invoices at the firm as the portal shows them (`GET /invoices`), only when
//! the firm has billing enabled (otherwise the page does not exist: 404): for the signed-in
//! client and for a staff preview alike.

use axum::response::Html;
use minijinja::context;
use portico_shared::status::InvoiceStatus;

use super::dates::today;
use crate::error::{Error, Result};
use crate::http::extract::ClientSession;
use crate::http::layout::page;
use crate::state::AppState;

/// Enough for years of invoices; older ones stay reachable through the firm.
const SHOWN: i64 = 200;

pub async fn render_invoices(
    state: &AppState,
    session: &ClientSession,
    csrf: &str,
) -> Result<Html<String>> {
    if !session.firm.billing_enabled {
        return Err(Error::NotFound);
    }
    let invoices = state
        .store
        .client_invoices(&session.firm.id, &session.contact.id, SHOWN)
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
        state,
        "portal/invoices.html",
        &session.firm,
        csrf,
        Some(session),
        context! { invoices => rows },
    )
}
