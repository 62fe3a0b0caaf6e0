//! `GET /api/v1/openapi.json`: the API described for people and client generators. It is
//! written by hand in `openapi.json` beside this file; the `openapi` test holds it to the
//! routes [`super::served`] reports, so a route cannot be added without documenting it.
//! Public: it describes shapes, never data.

use axum::http::header;
use axum::response::IntoResponse;

use super::route::ApiRoute;

pub const DOCUMENT: &str = include_str!("openapi.json");

pub fn routes() -> Vec<ApiRoute> {
    vec![ApiRoute::get("/openapi.json", document)]
}

async fn document() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        DOCUMENT,
    )
}
