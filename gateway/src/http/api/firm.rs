//! `GET /api/v1/firm`: the key's firm.

use axum::extract::State;
use axum::response::Json;
use serde::Serialize;
use utoipa::{OpenApi, ToSchema};

use super::route::{ApiRoute, rfc3339};
use crate::http::extract::ApiFirm;
use crate::state::AppState;

pub fn routes() -> Vec<ApiRoute> {
    vec![ApiRoute::get("/firm", show)]
}

#[derive(OpenApi)]
#[openapi(paths(show))]
pub struct Doc;

/// The firm of the API key.
#[derive(Serialize, ToSchema)]
#[schema(as = Firm)]
pub struct FirmView {
    id: String,
    slug: String,
    name: String,
    #[schema(example = "#1d4ed8")]
    brand_color: String,
    /// Where the firm's clients sign in.
    #[schema(format = "uri")]
    portal_url: String,
    #[schema(format = DateTime)]
    created_at: String,
}

/// The key's firm
#[utoipa::path(
    get,
    path = "/firm",
    tag = "Firm",
    operation_id = "getFirm",
    responses((status = 200, description = "The firm", body = FirmView))
)]
async fn show(State(state): State<AppState>, ApiFirm(firm): ApiFirm) -> Json<FirmView> {
    Json(FirmView {
        portal_url: state.config.portal_url(&firm.slug),
        created_at: rfc3339(firm.created_at),
        id: firm.id.to_string(),
        slug: firm.slug,
        name: firm.name,
        brand_color: firm.brand_color,
    })
}
