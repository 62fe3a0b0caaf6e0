//! `/staff/assets/items.css`: the few rules the work pages (tasks, signing, invoices, portal
//! settings) add to the console's stylesheet, embedded in the binary.

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;

use crate::state::AppState;

const CSS: &str = include_str!("../../../../templates/console/items.css");

pub fn router() -> Router<AppState> {
    Router::new().route("/staff/assets/items.css", get(css))
}

async fn css() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        CSS,
    )
}
