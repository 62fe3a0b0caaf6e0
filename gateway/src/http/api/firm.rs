//! `GET /api/v1/firm`: the key's firm.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::json;

use super::route::{ApiRoute, ok, rfc3339};
use crate::http::extract::ApiFirm;
use crate::state::AppState;

pub fn routes() -> Vec<ApiRoute> {
    vec![ApiRoute::get("/firm", show)]
}

async fn show(State(state): State<AppState>, ApiFirm(firm): ApiFirm) -> Response {
    ok(
        StatusCode::OK,
        json!({
            "id": firm.id,
            "slug": firm.slug,
            "name": firm.name,
            "brand_color": firm.brand_color,
            "portal_url": state.config.portal_url(&firm.slug),
            "created_at": rfc3339(firm.created_at),
        }),
    )
}
