//! `GET /invoices`: the signed-in client's invoices at this firm (made by `views::invoices`),
//! only when the firm has billing enabled (otherwise the page does not exist: 404).

use axum::Router;
use axum::extract::State;
use axum::response::Html;
use axum::routing::get;

use crate::error::Result;
use crate::http::extract::ClientSession;
use crate::http::extract::CsrfToken;
use crate::http::views::render_invoices;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/invoices", get(list))
}

async fn list(
    State(state): State<AppState>,
    session: ClientSession,
    CsrfToken(csrf): CsrfToken,
) -> Result<Html<String>> {
    render_invoices(&state, &session, &csrf).await
}
