//! The staff console under `/staff` on each firm's host: the firm's half of the portal, in the
//! browser. A sibling of `portal/` and `api/`, which it never imports; what it shares with
//! them sits one floor down (`extract::StaffSession`, `layout`, `views`, `documents`), and
//! every action it offers or accepts is decided by `portico_shared::policy::decide`, as in
//! the API. One module per section, each exporting its router fragment.

mod account;
mod accounts;
mod api_keys;
mod assets;
mod auth;
mod contacts;
mod conversations;
mod dashboard;
mod invoices;
mod portal_settings;
mod preview;
mod reach;
mod roles;
mod signing;
mod tasks;
mod team;

use axum::{Router, middleware};

use crate::http::extract::csrf::ensure_anchor;
use crate::http::layout::console_errors;
use crate::state::AppState;

pub fn router(state: &AppState) -> Router<AppState> {
    Router::new()
        .merge(auth::router(state))
        .merge(dashboard::router())
        .merge(contacts::router())
        .merge(accounts::router())
        .merge(preview::router())
        .merge(conversations::router())
        .merge(tasks::router())
        .merge(signing::router(state))
        .merge(invoices::router())
        .merge(portal_settings::router())
        .merge(team::router())
        .merge(account::router())
        .merge(roles::router())
        .merge(api_keys::router())
        .merge(assets::router())
        .layer(middleware::from_fn_with_state(state.clone(), ensure_anchor))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            console_errors,
        ))
}
