//! Client accounts and client permission sets (SPEC §13): `/api/v1/accounts…` (area
//! `accounts`) and `/api/v1/permission-sets…` (area `client_permissions`). Which account a
//! contact is in and which set they hold are fields of the contact (`PATCH
//! /api/v1/contacts/{id}`); items are shared with an account by their `account_id`.

use std::collections::BTreeSet;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Json;
use portico_shared::client_access::{Capability, SetBase};
use portico_shared::ids::{ClientAccountId, ContactId, PermissionSetId};
use portico_shared::policy::{Action, Area, Intent};
use portico_shared::store::{
    AccountQuery, ClientAccount, Contact, PermissionSet, Removal, SetContent, SharedItem,
    StoreError,
};
use serde::{Deserialize, Serialize};
use utoipa::openapi::schema::{Array, ArrayBuilder, Object};
use utoipa::{IntoParams, OpenApi, ToSchema};

use super::ErrorBody;
use super::pagination::ListPage;
use super::route::{ApiRoute, one_of, rfc3339};
use crate::error::{Error, Result};
use crate::http::extract::{ApiActor, ApiJson, ApiQuery};
use crate::state::AppState;

const MAX_NAME: usize = 200;
const DEFAULT_PAGE: i64 = 50;
const MAX_PAGE: i64 = 200;

pub fn routes() -> Vec<ApiRoute> {
    vec![
        ApiRoute::get("/accounts", list),
        ApiRoute::post("/accounts", create),
        ApiRoute::get("/accounts/{id}", show),
        ApiRoute::patch("/accounts/{id}", rename),
        ApiRoute::delete("/accounts/{id}", remove),
        ApiRoute::get("/accounts/{id}/contacts", contacts),
        ApiRoute::get("/accounts/{id}/items", items),
        ApiRoute::get("/permission-sets", list_sets),
        ApiRoute::post("/permission-sets", create_set),
        ApiRoute::get("/permission-sets/{id}", show_set),
        ApiRoute::patch("/permission-sets/{id}", update_set),
        ApiRoute::delete("/permission-sets/{id}", remove_set),
    ]
}

#[derive(OpenApi)]
#[openapi(paths(
    list, create, show, rename, remove, contacts, items, list_sets, create_set, show_set,
    update_set, remove_set
))]
pub struct Doc;

/// A client account: the business or household a firm's contacts belong to.
#[derive(Serialize, ToSchema)]
#[schema(as = ClientAccount)]
pub struct AccountView {
    id: String,
    name: String,
    /// How many contacts belong to it.
    contact_count: i64,
    #[schema(format = DateTime)]
    created_at: String,
    #[schema(format = DateTime)]
    updated_at: String,
}

fn view(account: &ClientAccount) -> AccountView {
    AccountView {
        id: account.id.to_string(),
        name: account.name.clone(),
        contact_count: account.contact_count,
        created_at: rfc3339(account.created_at),
        updated_at: rfc3339(account.updated_at),
    }
}

fn parse_name(name: &str) -> Result<String> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME || name.chars().any(char::is_control) {
        return Err(Error::invalid(
            "name",
            format!("name must be 1 to {MAX_NAME} characters, without control characters"),
        ));
    }
    Ok(name.to_string())
}

/// The account, if the actor may do `action` on accounts and the firm has it.
async fn find(
    state: &AppState,
    actor: &ApiActor,
    action: Action,
    id: &str,
) -> Result<ClientAccount> {
    actor.scope(Area::Accounts, action)?;
    let id = ClientAccountId::parse(id).ok_or(Error::NotFound)?;
    state
        .store
        .account(&actor.firm.id, &id)
        .await?
        .ok_or(Error::NotFound)
}

/// Page size and the cursor (the last id of the page before), checked.
fn page_of<T>(
    limit: Option<i64>,
    cursor: Option<&str>,
    parse: impl Fn(&str) -> Option<T>,
) -> Result<(i64, Option<T>)> {
    let limit = limit.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(Error::invalid(
            "limit",
            format!("limit must be 1 to {MAX_PAGE}"),
        ));
    }
    let after = cursor
        .map(|c| {
            parse(c).ok_or_else(|| Error::invalid("cursor", "cursor is not one this API gave out"))
        })
        .transpose()?;
    Ok((limit, after))
}

/// The first `limit` of `rows` (fetched one more), with the cursor of the next page.
fn respond<T, V>(
    mut rows: Vec<T>,
    limit: i64,
    id: impl Fn(&T) -> String,
    view: impl FnMut(&T) -> V,
) -> Json<ListPage<V>> {
    let more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    let next_cursor = if more { rows.last().map(id) } else { None };
    Json(ListPage {
        data: rows.iter().map(view).collect(),
        next_cursor,
    })
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct PageParams {
    /// Page size, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200, default = 50)]
    limit: Option<i64>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// List client accounts, by name
#[utoipa::path(
    get,
    path = "/accounts",
    tag = "Accounts",
    operation_id = "listAccounts",
    params(PageParams),
    responses((status = 200, description = "A page", body = ListPage<AccountView>))
)]
async fn list(
    State(state): State<AppState>,
    actor: ApiActor,
    ApiQuery(query): ApiQuery<PageParams>,
) -> Result<Json<ListPage<AccountView>>> {
    actor.scope(Area::Accounts, Action::View)?;
    let (limit, after) = page_of(query.limit, query.cursor.as_deref(), ClientAccountId::parse)?;
    let query = AccountQuery {
        after,
        limit: limit + 1,
        assigned_to: None,
    };
    let accounts = state.store.list_accounts(&actor.firm.id, &query).await?;
    Ok(respond(accounts, limit, |a| a.id.to_string(), view))
}

/// A new client account.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = NewClientAccount)]
pub struct AccountBody {
    #[schema(min_length = 1, max_length = 200)]
    name: String,
}

/// Create a client account
#[utoipa::path(
    post,
    path = "/accounts",
    tag = "Accounts",
    operation_id = "createAccount",
    request_body = AccountBody,
    responses((status = 201, description = "Created", body = AccountView))
)]
async fn create(
    State(state): State<AppState>,
    actor: ApiActor,
    ApiJson(body): ApiJson<AccountBody>,
) -> Result<(StatusCode, Json<AccountView>)> {
    actor.scope(Area::Accounts, Action::Create)?;
    let name = parse_name(&body.name)?;
    let account = state.store.create_account(&actor.firm.id, &name).await?;
    Ok((StatusCode::CREATED, Json(view(&account))))
}

/// A client account
#[utoipa::path(
    get,
    path = "/accounts/{id}",
    tag = "Accounts",
    operation_id = "getAccount",
    params(("id" = String, Path, description = "Account id")),
    responses(
        (status = 200, description = "The account", body = AccountView),
        (status = 404, description = "No such account", body = ErrorBody),
    )
)]
async fn show(
    State(state): State<AppState>,
    actor: ApiActor,
    Path(id): Path<String>,
) -> Result<Json<AccountView>> {
    Ok(Json(view(&find(&state, &actor, Action::View, &id).await?)))
}

/// Rename a client account
#[utoipa::path(
    patch,
    path = "/accounts/{id}",
    tag = "Accounts",
    operation_id = "renameAccount",
    params(("id" = String, Path, description = "Account id")),
    request_body = AccountBody,
    responses(
        (status = 200, description = "The account now", body = AccountView),
        (status = 404, description = "No such account", body = ErrorBody),
    )
)]
async fn rename(
    State(state): State<AppState>,
    actor: ApiActor,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<AccountBody>,
) -> Result<Json<AccountView>> {
    actor.scope(Area::Accounts, Action::Edit)?;
    let id = ClientAccountId::parse(&id).ok_or(Error::NotFound)?;
    let name = parse_name(&body.name)?;
    let account = state
        .store
        .rename_account(&actor.firm.id, &id, &name)
        .await?
        .ok_or(Error::NotFound)?;
    Ok(Json(view(&account)))
}

/// Delete a client account
///
/// Only an account without contacts: move them to another account first. Items shared with
/// it stay assigned to their contacts.
#[utoipa::path(
    delete,
    path = "/accounts/{id}",
    tag = "Accounts",
    operation_id = "deleteAccount",
    params(("id" = String, Path, description = "Account id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such account", body = ErrorBody),
        (status = 409, description = "Contacts still belong to it (`account_has_contacts`)", body = ErrorBody),
    )
)]
async fn remove(
    State(state): State<AppState>,
    actor: ApiActor,
    Path(id): Path<String>,
) -> Result<StatusCode> {
    actor.scope(Area::Accounts, Action::Delete)?;
    let id = ClientAccountId::parse(&id).ok_or(Error::NotFound)?;
    match state.store.delete_account(&actor.firm.id, &id).await? {
        Removal::Removed => Ok(StatusCode::NO_CONTENT),
        Removal::NotFound => Err(Error::NotFound),
        Removal::InUse => Err(Error::Conflict {
            code: "account_has_contacts",
            message: "move the account's contacts to another account before deleting it".into(),
        }),
    }
}

/// A contact of an account, as its page lists them.
#[derive(Serialize, ToSchema)]
#[schema(as = AccountContact)]
pub struct AccountContactView {
    id: String,
    name: String,
    #[schema(format = "idn-email")]
    email: String,
    portal_access: bool,
    /// `client_manager`, `client_staff` or a custom set's id.
    permission_set: String,
}

fn contact_view(contact: &Contact) -> AccountContactView {
    AccountContactView {
        id: contact.id.to_string(),
        name: contact.name.clone(),
        email: contact.email.clone(),
        portal_access: contact.portal_access,
        permission_set: contact.permission_set.clone(),
    }
}

/// The account's contacts, by name
///
/// Needs `accounts: view` and `contacts: view`; a role that reaches only assigned clients
/// sees those of them.
#[utoipa::path(
    get,
    path = "/accounts/{id}/contacts",
    tag = "Accounts",
    operation_id = "listAccountContacts",
    params(("id" = String, Path, description = "Account id"), PageParams),
    responses(
        (status = 200, description = "A page", body = ListPage<AccountContactView>),
        (status = 404, description = "No such account", body = ErrorBody),
    )
)]
async fn contacts(
    State(state): State<AppState>,
    actor: ApiActor,
    Path(id): Path<String>,
    ApiQuery(query): ApiQuery<PageParams>,
) -> Result<Json<ListPage<AccountContactView>>> {
    let scope = actor.scope(Area::Contacts, Action::View)?;
    let account = find(&state, &actor, Action::View, &id).await?;
    let (limit, after) = page_of(query.limit, query.cursor.as_deref(), ContactId::parse)?;
    let mut rows = state
        .store
        .account_contacts(&actor.firm.id, &account.id, after.as_ref(), limit + 1)
        .await?;
    if let Some(member) = &scope {
        let ids: Vec<ContactId> = rows.iter().map(|c| c.id.clone()).collect();
        let within = state
            .store
            .assigned_among(&actor.firm.id, member, &ids)
            .await?;
        // The cursor stays the last row read, so a page of unassigned contacts moves on.
        let last = rows.len() as i64 > limit;
        let next = last.then(|| rows[limit as usize - 1].id.to_string());
        rows.truncate(limit as usize);
        rows.retain(|c| within.contains(&c.id));
        return Ok(Json(ListPage {
            data: rows.iter().map(contact_view).collect(),
            next_cursor: next,
        }));
    }
    Ok(respond(rows, limit, |c| c.id.to_string(), contact_view))
}

fn item_kinds() -> Object {
    one_of(&["task", "invoice", "conversation", "signing_request"])
}

/// An item shared with an account as a whole.
#[derive(Serialize, ToSchema)]
#[schema(as = SharedItem)]
pub struct SharedItemView {
    #[schema(schema_with = item_kinds)]
    kind: String,
    id: String,
    /// The task's or signing request's title, the invoice's number, the conversation's
    /// subject.
    title: String,
    status: String,
    #[schema(format = DateTime)]
    created_at: String,
}

/// The area whose `view` permission shows items of this kind.
fn kind_area(kind: &str) -> Area {
    match kind {
        "task" => Area::Tasks,
        "invoice" => Area::Invoices,
        "conversation" => Area::Conversations,
        _ => Area::Signing,
    }
}

/// Items shared with the account, newest first
///
/// Up to 100 of each kind, and only the kinds the caller's role may view.
#[utoipa::path(
    get,
    path = "/accounts/{id}/items",
    tag = "Accounts",
    operation_id = "listAccountItems",
    params(("id" = String, Path, description = "Account id")),
    responses(
        (status = 200, description = "The items", body = Vec<SharedItemView>),
        (status = 404, description = "No such account", body = ErrorBody),
    )
)]
async fn items(
    State(state): State<AppState>,
    actor: ApiActor,
    Path(id): Path<String>,
) -> Result<Json<Vec<SharedItemView>>> {
    let account = find(&state, &actor, Action::View, &id).await?;
    let items: Vec<SharedItem> = state
        .store
        .shared_items(&actor.firm.id, &account.id)
        .await?;
    Ok(Json(
        items
            .into_iter()
            .filter(|item| {
                actor
                    .decide(Intent::Act(kind_area(&item.kind), Action::View))
                    .is_ok()
            })
            .map(|item| SharedItemView {
                kind: item.kind,
                id: item.id,
                title: item.title,
                status: item.status,
                created_at: rfc3339(item.created_at),
            })
            .collect(),
    ))
}

fn capability_list() -> Array {
    let names: Vec<&str> = Capability::ALL.iter().map(|c| c.as_str()).collect();
    ArrayBuilder::new().items(one_of(&names)).build()
}

fn base_schema() -> Object {
    one_of(SetBase::TEXTS)
}

/// A client permission set: a built-in one (`client_manager`, `client_staff`) or the firm's
/// own, made from either base with capabilities switched off.
#[derive(Serialize, ToSchema)]
#[schema(as = PermissionSet)]
pub struct SetView {
    /// `client_manager`, `client_staff`, or the custom set's id: what a contact's
    /// `permission_set` names.
    id: String,
    name: String,
    builtin: bool,
    #[schema(schema_with = base_schema)]
    base: String,
    /// Capabilities switched off.
    #[schema(schema_with = capability_list)]
    off: Vec<String>,
}

fn set_view(set: &PermissionSet) -> SetView {
    SetView {
        id: set.id.to_string(),
        name: set.name.clone(),
        builtin: false,
        base: set.base.to_string(),
        off: set.off.iter().map(|c| c.to_string()).collect(),
    }
}

fn builtin_view(base: SetBase) -> SetView {
    SetView {
        id: base.to_string(),
        name: base.label().to_string(),
        builtin: true,
        base: base.to_string(),
        off: Vec::new(),
    }
}

/// List permission sets: the built-in ones, then the firm's by name
#[utoipa::path(
    get,
    path = "/permission-sets",
    tag = "Permission sets",
    operation_id = "listPermissionSets",
    responses((status = 200, description = "Every set", body = ListPage<SetView>))
)]
async fn list_sets(
    State(state): State<AppState>,
    actor: ApiActor,
) -> Result<Json<ListPage<SetView>>> {
    actor.scope(Area::ClientPermissions, Action::View)?;
    let custom = state.store.permission_sets(&actor.firm.id).await?;
    let data = [SetBase::ClientManager, SetBase::ClientStaff]
        .into_iter()
        .map(builtin_view)
        .chain(custom.iter().map(set_view))
        .collect();
    Ok(Json(ListPage {
        data,
        next_cursor: None,
    }))
}

/// A new custom permission set.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = NewPermissionSet)]
pub struct CreateSet {
    #[schema(min_length = 1, max_length = 200)]
    name: String,
    #[schema(schema_with = base_schema)]
    base: String,
    /// Capabilities switched off.
    #[serde(default)]
    #[schema(schema_with = capability_list)]
    off: Vec<String>,
}

fn parse_base(text: &str) -> Result<SetBase> {
    SetBase::parse(text)
        .ok_or_else(|| Error::invalid("base", "base must be client_manager or client_staff"))
}

fn parse_off(names: &[String]) -> Result<BTreeSet<Capability>> {
    names
        .iter()
        .map(|name| {
            Capability::parse(name).ok_or_else(|| {
                let all: Vec<&str> = Capability::ALL.iter().map(|c| c.as_str()).collect();
                Error::invalid(
                    "off",
                    format!("{name:?} is not a capability (one of: {})", all.join(", ")),
                )
            })
        })
        .collect()
}

fn name_taken(e: StoreError) -> Error {
    match e {
        StoreError::Conflict(_) => Error::Conflict {
            code: "name_taken",
            message: "the firm already has a permission set of this name".into(),
        },
        other => other.into(),
    }
}

/// A built-in set's id: those cannot be changed or deleted.
fn builtin_refused(id: &str) -> Result<()> {
    if SetBase::parse(id).is_some() {
        return Err(Error::Conflict {
            code: "builtin_set",
            message: "built-in permission sets cannot be changed or deleted".into(),
        });
    }
    Ok(())
}

/// Create a permission set
#[utoipa::path(
    post,
    path = "/permission-sets",
    tag = "Permission sets",
    operation_id = "createPermissionSet",
    request_body = CreateSet,
    responses(
        (status = 201, description = "Created", body = SetView),
        (status = 409, description = "The firm has a set of this name (`name_taken`)", body = ErrorBody),
    )
)]
async fn create_set(
    State(state): State<AppState>,
    actor: ApiActor,
    ApiJson(body): ApiJson<CreateSet>,
) -> Result<(StatusCode, Json<SetView>)> {
    actor.scope(Area::ClientPermissions, Action::Create)?;
    let content = SetContent {
        name: parse_name(&body.name)?,
        base: parse_base(&body.base)?,
        off: parse_off(&body.off)?,
    };
    let set = state
        .store
        .create_permission_set(&actor.firm.id, &content)
        .await
        .map_err(name_taken)?;
    Ok((StatusCode::CREATED, Json(set_view(&set))))
}

/// The set, built-in or custom, if the actor may do `action` on client permissions.
async fn find_set(
    state: &AppState,
    actor: &ApiActor,
    action: Action,
    id: &str,
) -> Result<Option<PermissionSet>> {
    actor.scope(Area::ClientPermissions, action)?;
    if SetBase::parse(id).is_some() {
        return Ok(None);
    }
    let id = PermissionSetId::parse(id).ok_or(Error::NotFound)?;
    state
        .store
        .permission_set(&actor.firm.id, &id)
        .await?
        .map(Some)
        .ok_or(Error::NotFound)
}

/// A permission set
#[utoipa::path(
    get,
    path = "/permission-sets/{id}",
    tag = "Permission sets",
    operation_id = "getPermissionSet",
    params(("id" = String, Path, description = "`client_manager`, `client_staff` or a set id")),
    responses(
        (status = 200, description = "The set", body = SetView),
        (status = 404, description = "No such set", body = ErrorBody),
    )
)]
async fn show_set(
    State(state): State<AppState>,
    actor: ApiActor,
    Path(id): Path<String>,
) -> Result<Json<SetView>> {
    Ok(Json(
        match find_set(&state, &actor, Action::View, &id).await? {
            Some(set) => set_view(&set),
            None => builtin_view(SetBase::parse(&id).ok_or(Error::NotFound)?),
        },
    ))
}

/// Fields left out stay as they are; `off` replaces the whole list.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = PermissionSetPatch)]
pub struct UpdateSet {
    #[schema(min_length = 1, max_length = 200, nullable = false)]
    name: Option<String>,
    #[schema(schema_with = base_schema, nullable = false)]
    base: Option<String>,
    #[schema(schema_with = capability_list, nullable = false)]
    off: Option<Vec<String>>,
}

/// Change a permission set
///
/// Applies on its holders' next request.
#[utoipa::path(
    patch,
    path = "/permission-sets/{id}",
    tag = "Permission sets",
    operation_id = "updatePermissionSet",
    params(("id" = String, Path, description = "Set id")),
    request_body = UpdateSet,
    responses(
        (status = 200, description = "The set now", body = SetView),
        (status = 404, description = "No such set", body = ErrorBody),
        (status = 409, description = "A built-in set (`builtin_set`), or the firm has a set of this name (`name_taken`)", body = ErrorBody),
    )
)]
async fn update_set(
    State(state): State<AppState>,
    actor: ApiActor,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<UpdateSet>,
) -> Result<Json<SetView>> {
    actor.scope(Area::ClientPermissions, Action::Edit)?;
    builtin_refused(&id)?;
    let Some(set) = find_set(&state, &actor, Action::Edit, &id).await? else {
        return Err(Error::NotFound);
    };
    let content = SetContent {
        name: body
            .name
            .as_deref()
            .map(parse_name)
            .transpose()?
            .unwrap_or(set.name),
        base: body
            .base
            .as_deref()
            .map(parse_base)
            .transpose()?
            .unwrap_or(set.base),
        off: body
            .off
            .as_deref()
            .map(parse_off)
            .transpose()?
            .unwrap_or(set.off),
    };
    let set = state
        .store
        .update_permission_set(&actor.firm.id, &set.id, &content)
        .await
        .map_err(name_taken)?
        .ok_or(Error::NotFound)?;
    Ok(Json(set_view(&set)))
}

/// Delete a permission set
#[utoipa::path(
    delete,
    path = "/permission-sets/{id}",
    tag = "Permission sets",
    operation_id = "deletePermissionSet",
    params(("id" = String, Path, description = "Set id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such set", body = ErrorBody),
        (status = 409, description = "A built-in set (`builtin_set`), or a contact holds it (`set_in_use`)", body = ErrorBody),
    )
)]
async fn remove_set(
    State(state): State<AppState>,
    actor: ApiActor,
    Path(id): Path<String>,
) -> Result<StatusCode> {
    actor.scope(Area::ClientPermissions, Action::Delete)?;
    builtin_refused(&id)?;
    let id = PermissionSetId::parse(&id).ok_or(Error::NotFound)?;
    match state
        .store
        .delete_permission_set(&actor.firm.id, &id)
        .await?
    {
        Removal::Removed => Ok(StatusCode::NO_CONTENT),
        Removal::NotFound => Err(Error::NotFound),
        Removal::InUse => Err(Error::Conflict {
            code: "set_in_use",
            message: "contacts hold this set: give them another before deleting it".into(),
        }),
    }
}
