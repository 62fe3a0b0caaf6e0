//! The firm's API keys: `/api/v1/api-keys…`. A key made here acts for the member the calling
//! key acts for, with the role it is given, which may grant no more than the caller's own
//! (`Intent::Grant`); the key itself is answered once, and only its hash is kept.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Json;
use portico_shared::store::ApiKeyRecord;
use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};

use super::ErrorBody;
use super::pagination::ListPage;
use super::route::{ApiRoute, rfc3339};
use crate::error::Result;
use crate::http::extract::{ApiActor, ApiJson};
use crate::services::team_admin;
use crate::state::AppState;

pub fn routes() -> Vec<ApiRoute> {
    vec![
        ApiRoute::get("/api-keys", list),
        ApiRoute::post("/api-keys", create),
        ApiRoute::delete("/api-keys/{id}", remove),
    ]
}

#[derive(OpenApi)]
#[openapi(paths(list, create, remove))]
pub struct Doc;

/// An API key as listed: never the key itself.
#[derive(Serialize, ToSchema)]
#[schema(as = ApiKey)]
pub struct ApiKeyView {
    id: String,
    name: String,
    /// The key's first characters, to tell keys apart.
    prefix: String,
    role_id: String,
    /// The member the key acts for.
    #[schema(required = true)]
    member_id: Option<String>,
    #[schema(format = DateTime)]
    created_at: String,
}

fn view(record: &ApiKeyRecord) -> ApiKeyView {
    ApiKeyView {
        id: record.id.to_string(),
        name: record.name.clone(),
        prefix: record.prefix.clone(),
        role_id: record.role_id.clone(),
        member_id: record.member_id.as_ref().map(|m| m.to_string()),
        created_at: rfc3339(record.created_at),
    }
}

/// A key just made: the only time `key` is shown.
#[derive(Serialize, ToSchema)]
#[schema(as = NewApiKeyAnswer)]
pub struct CreatedKeyView {
    #[serde(flatten)]
    record: ApiKeyView,
    /// The key, for `Authorization: Bearer`; it cannot be shown again.
    key: String,
}

/// List the firm's live API keys, newest first
#[utoipa::path(
    get,
    path = "/api-keys",
    tag = "API keys",
    operation_id = "listApiKeys",
    responses((status = 200, description = "Every live key", body = ListPage<ApiKeyView>))
)]
async fn list(
    State(state): State<AppState>,
    actor: ApiActor,
) -> Result<Json<ListPage<ApiKeyView>>> {
    let keys = team_admin::list_api_keys(&state, &actor.actor, &actor.firm.id).await?;
    Ok(Json(ListPage {
        data: keys.iter().map(view).collect(),
        next_cursor: None,
    }))
}

/// A new API key.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = NewApiKey)]
pub struct CreateKey {
    #[schema(min_length = 1, max_length = 100)]
    name: String,
    /// The role the key acts with (`owner`, `co_owner`, `team` or a custom role's id); it
    /// may grant no more than the calling key's own.
    role_id: String,
}

/// Create an API key
///
/// The key acts for the member the calling key acts for, never beyond that member's current
/// role. The answer carries the key once.
#[utoipa::path(
    post,
    path = "/api-keys",
    tag = "API keys",
    operation_id = "createApiKey",
    request_body = CreateKey,
    responses(
        (status = 201, description = "Created; `key` is shown this once", body = CreatedKeyView),
    )
)]
async fn create(
    State(state): State<AppState>,
    actor: ApiActor,
    ApiJson(body): ApiJson<CreateKey>,
) -> Result<(StatusCode, Json<CreatedKeyView>)> {
    let (record, key) = team_admin::create_api_key(
        &state,
        &actor.actor,
        &actor.firm.id,
        &body.name,
        &body.role_id,
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedKeyView {
            record: view(&record),
            key: key.expose().to_string(),
        }),
    ))
}

/// Revoke an API key
///
/// It stops working at once.
#[utoipa::path(
    delete,
    path = "/api-keys/{id}",
    tag = "API keys",
    operation_id = "deleteApiKey",
    params(("id" = String, Path, description = "API key id")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 404, description = "No such live key", body = ErrorBody),
    )
)]
async fn remove(
    State(state): State<AppState>,
    actor: ApiActor,
    Path(id): Path<String>,
) -> Result<StatusCode> {
    team_admin::revoke_api_key(&state, &actor.actor, &actor.firm.id, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
