//! The client portal on each firm's host: one module per resource, each exporting its router
//! fragment. Pages render errors through the layout ([`crate::http::layout::portal_errors`]),
//! and every browser gets a CSRF anchor cookie.

mod assets;
mod auth;
mod companies;
mod files;
mod home;
mod invoices;
mod people;
mod requests;
mod settings;
mod signing;
mod tasks;

use axum::{Router, middleware};

use crate::http::extract::csrf::ensure_anchor;
use crate::http::layout::{not_found, portal_errors};
use crate::state::AppState;

pub fn router(state: &AppState) -> Router<AppState> {
    Router::new()
        .merge(auth::router(state))
        .merge(home::router())
        .merge(tasks::router())
        .merge(files::router(state))
        .merge(requests::router())
        .merge(signing::router())
        .merge(companies::router())
        .merge(settings::router())
        .merge(invoices::router())
        .merge(people::router(state))
        .merge(assets::router())
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(state.clone(), ensure_anchor))
        .layer(middleware::from_fn_with_state(state.clone(), portal_errors))
}
