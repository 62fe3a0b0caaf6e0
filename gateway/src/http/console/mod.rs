//! The staff console under `/staff` on each firm's host: the firm's half of the portal, in the
//! browser. A sibling of `portal/` and `api/`, which it never imports; what it shares with
//! them sits one floor down (`extract::StaffSession`, `layout`, `views`, `documents`), and
//! every action it offers or accepts is decided by `portico_shared::policy::decide`, as in
//! the API. One module per section, each exporting its router fragment.

mod invoices;
mod items_css;
mod portal_settings;
mod signing;
mod tasks;

use axum::{Router, middleware};

use crate::http::extract::csrf::ensure_anchor;
use crate::state::AppState;

pub fn router(state: &AppState) -> Router<AppState> {
    Router::new()
        .merge(items_css::router())
        .merge(tasks::router())
        .merge(signing::router(state))
        .merge(invoices::router())
        .merge(portal_settings::router())
        .layer(middleware::from_fn_with_state(state.clone(), ensure_anchor))
}
