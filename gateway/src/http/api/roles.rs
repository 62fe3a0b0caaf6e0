//! The firm's roles: `/api/v1/roles…`. The built-in roles (`owner`, `co_owner`, `team`) are
//! listed with `builtin: true` and cannot be changed or deleted; a role still held cannot be
//! deleted; nobody creates or edits a role granting more than their own. The rules are
//! `services::team_admin`'s, which the console's roles page uses too.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Json;
use portico_shared::policy::{Action, Area, Grant, Permissions, Role, Scope};
use serde::{Deserialize, Serialize};
use utoipa::openapi::schema::{Array, ArrayBuilder, Object};
use utoipa::{OpenApi, ToSchema};

use super::ErrorBody;
use super::pagination::ListPage;
use super::route::{ApiRoute, one_of};
use crate::error::{Error, Result};
use crate::http::extract::{ApiActor, ApiJson};
use crate::services::team_admin;
use crate::state::AppState;

pub fn routes() -> Vec<ApiRoute> {
    vec![
        ApiRoute::get("/roles", list),
        ApiRoute::post("/roles", create),
        ApiRoute::get("/roles/{id}", show),
        ApiRoute::patch("/roles/{id}", update),
        ApiRoute::delete("/roles/{id}", remove),
    ]
}

#[derive(OpenApi)]
#[openapi(paths(list, create, show, update, remove))]
pub struct Doc;

fn area_names() -> Vec<&'static str> {
    Area::ALL.iter().map(|a| a.as_str()).collect()
}

fn actions_schema() -> Array {
    let names: Vec<&str> = Action::ALL.iter().map(|a| a.as_str()).collect();
    ArrayBuilder::new().items(one_of(&names)).build()
}

fn scope_schema() -> Object {
    one_of(&["all", "assigned"])
}

/// What a role grants in one area. `scope` applies to `contacts`, `tasks`, `signing` and
/// `conversations` (`assigned`: only the clients assigned to the member); elsewhere it is `all`.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = Grant)]
pub struct GrantBody {
    #[schema(schema_with = actions_schema)]
    actions: Vec<String>,
    #[serde(default = "all")]
    #[schema(schema_with = scope_schema, default = "all")]
    scope: String,
}

fn all() -> String {
    Scope::All.as_str().to_string()
}

/// A role: built in, or one of the firm's own. An area left out of `permissions` grants
/// nothing; the areas are `contacts`, `accounts`, `tasks`, `signing`, `conversations`,
/// `invoices`, `portal_settings`, `client_permissions`, `team`, `roles`, `api_keys`.
#[derive(Serialize, ToSchema)]
#[schema(as = Role)]
pub struct RoleView {
    /// `owner`, `co_owner`, `team`, or a custom role's id.
    id: String,
    name: String,
    builtin: bool,
    permissions: BTreeMap<String, GrantBody>,
}

fn view(role: &Role) -> RoleView {
    RoleView {
        id: role.id.clone(),
        name: role.name.clone(),
        builtin: role.builtin,
        permissions: role
            .permissions
            .to_grants()
            .into_iter()
            .map(|(area, grant)| {
                (
                    area.as_str().to_string(),
                    GrantBody {
                        actions: grant
                            .actions
                            .iter()
                            .map(|a| a.as_str().to_string())
                            .collect(),
                        scope: grant.scope.as_str().to_string(),
                    },
                )
            })
            .collect(),
    }
}

fn parse_permissions(body: &BTreeMap<String, GrantBody>) -> Result<Permissions> {
    let invalid = |message: String| Error::invalid("permissions", message);
    let mut grants = BTreeMap::new();
    for (area_name, grant) in body {
        let area = Area::parse(area_name).ok_or_else(|| {
            invalid(format!(
                "{area_name:?} is not an area (one of: {})",
                area_names().join(", ")
            ))
        })?;
        let actions = grant
            .actions
            .iter()
            .map(|a| {
                Action::parse(a).ok_or_else(|| {
                    invalid(format!(
                        "{area_name}: {a:?} is not an action (view, create, edit, delete)"
                    ))
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let scope = match grant.scope.as_str() {
            "all" => Scope::All,
            "assigned" => Scope::Assigned,
            other => {
                return Err(invalid(format!(
                    "{area_name}: scope {other:?} must be all or assigned"
                )));
            }
        };
        grants.insert(area, Grant { actions, scope });
    }
    team_admin::checked_permissions(grants)
}

/// List the firm's roles
///
/// Built-in roles first, then the firm's own by name; all on one page.
#[utoipa::path(
    get,
    path = "/roles",
    tag = "Roles",
    operation_id = "listRoles",
    responses((status = 200, description = "Every role", body = ListPage<RoleView>))
)]
async fn list(State(state): State<AppState>, actor: ApiActor) -> Result<Json<ListPage<RoleView>>> {
    let roles = team_admin::list_roles(&state, &actor.actor, &actor.firm.id).await?;
    Ok(Json(ListPage {
        data: roles.iter().map(view).collect(),
        next_cursor: None,
    }))
}

/// A new role.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = NewRole)]
pub struct CreateRole {
    #[schema(min_length = 1, max_length = 100)]
    name: String,
    #[serde(default)]
    permissions: BTreeMap<String, GrantBody>,
}

/// Create a role
///
/// It may grant only what the calling key's own role grants (403 otherwise).
#[utoipa::path(
    post,
    path = "/roles",
    tag = "Roles",
    operation_id = "createRole",
    request_body = CreateRole,
    responses(
        (status = 201, description = "Created", body = RoleView),
        (status = 409, description = "The firm has a role of this name (`name_taken`)", body = ErrorBody),
    )
)]
async fn create(
    State(state): State<AppState>,
    actor: ApiActor,
    ApiJson(body): ApiJson<CreateRole>,
) -> Result<(StatusCode, Json<RoleView>)> {
    let permissions = parse_permissions(&body.permissions)?;
    let role = team_admin::create_role(
        &state,
        &actor.actor,
        &actor.firm.id,
        &body.name,
        &permissions,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(view(&role))))
}

/// A role
#[utoipa::path(
    get,
    path = "/roles/{id}",
    tag = "Roles",
    operation_id = "getRole",
    params(("id" = String, Path, description = "Role id")),
    responses(
        (status = 200, description = "The role", body = RoleView),
        (status = 404, description = "No such role", body = ErrorBody),
    )
)]
async fn show(
    State(state): State<AppState>,
    actor: ApiActor,
    Path(id): Path<String>,
) -> Result<Json<RoleView>> {
    let role = team_admin::role(&state, &actor.actor, &actor.firm.id, &id).await?;
    Ok(Json(view(&role)))
}

/// Fields left out stay as they are; `permissions` replaces all of the role's grants.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = RolePatch)]
pub struct UpdateRole {
    #[schema(min_length = 1, max_length = 100, nullable = false)]
    name: Option<String>,
    #[schema(nullable = false)]
    permissions: Option<BTreeMap<String, GrantBody>>,
}

/// Change a role
///
/// Members and keys holding it act with the new grants from their next request. It may grant
/// only what the calling key's own role grants (403 otherwise).
#[utoipa::path(
    patch,
    path = "/roles/{id}",
    tag = "Roles",
    operation_id = "updateRole",
    params(("id" = String, Path, description = "Role id")),
    request_body = UpdateRole,
    responses(
        (status = 200, description = "The role now", body = RoleView),
        (status = 404, description = "No such role", body = ErrorBody),
        (status = 409, description = "A built-in role (`builtin_role`), or the firm has a role of this name (`name_taken`)", body = ErrorBody),
    )
)]
async fn update(
    State(state): State<AppState>,
    actor: ApiActor,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<UpdateRole>,
) -> Result<Json<RoleView>> {
    let permissions = body
        .permissions
        .as_ref()
        .map(parse_permissions)
        .transpose()?;
    let role = team_admin::update_role(
        &state,
        &actor.actor,
        &actor.firm.id,
        &id,
        body.name.as_deref(),
        permissions,
    )
    .await?;
    Ok(Json(view(&role)))
}

/// Delete a role
#[utoipa::path(
    delete,
    path = "/roles/{id}",
    tag = "Roles",
    operation_id = "deleteRole",
    params(("id" = String, Path, description = "Role id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such role", body = ErrorBody),
        (status = 409, description = "A built-in role (`builtin_role`), or a member, an open invitation or an API key still holds it (`role_in_use`)", body = ErrorBody),
    )
)]
async fn remove(
    State(state): State<AppState>,
    actor: ApiActor,
    Path(id): Path<String>,
) -> Result<StatusCode> {
    team_admin::delete_role(&state, &actor.actor, &actor.firm.id, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
