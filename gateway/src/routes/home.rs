//! The portal home page. For now it shows who is signed in to which firm; the portal issue adds
//! signing requests, tasks and the request box.

use axum::Router;
use axum::extract::State;
use axum::response::Html;
use axum::routing::get;
use minijinja::context;

use super::page;
use crate::auth::csrf::CsrfToken;
use crate::error::Result;
use crate::extract::ClientSession;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/", get(home))
}

async fn home(
    State(state): State<AppState>,
    session: ClientSession,
    CsrfToken(csrf): CsrfToken,
) -> Result<Html<String>> {
    page(
        &state,
        "home.html",
        &session.firm,
        &csrf,
        Some(&session),
        context! {},
    )
}
