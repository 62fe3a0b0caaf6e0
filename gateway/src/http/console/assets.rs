//! The console's stylesheet (embedded), laid over the portal's.

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;

use crate::state::AppState;

const CONSOLE_CSS: &str = include_str!("../../../../templates/console/console.css");

pub fn router() -> Router<AppState> {
    Router::new().route("/staff/assets/console.css", get(console_css))
}

async fn console_css() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        CONSOLE_CSS,
    )
}
