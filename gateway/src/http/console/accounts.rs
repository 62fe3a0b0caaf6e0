//! Client accounts and client permission sets in the console (SPEC §13): `GET/POST
//! /staff/accounts` (the firm's accounts by name; a new one), `GET/POST /staff/accounts/{id}`
//! (its contacts and the items shared with it; renaming), `POST /staff/accounts/{id}/contacts`
//! (moving a contact in, by email), `POST /staff/accounts/{id}/delete`; a contact's account
//! and set at `GET/POST /staff/contacts/{id}/placement`; and the permission sets at
//! `/staff/permission-sets…`. Each control is shown only when the policy allows it, and each
//! POST asks the policy again.

use std::collections::BTreeSet;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use minijinja::context;
use portico_shared::client_access::{Capability, PermissionSetRef, SetBase};
use portico_shared::email::Email;
use portico_shared::ids::{ClientAccountId, PermissionSetId};
use portico_shared::policy::{Action, Area, Intent};
use portico_shared::store::{
    AccountQuery, ClientAccount, ContactPatch, PermissionSet, Removal, SetContent, StoreError,
};
use serde::Deserialize;

use super::reach::contact_within;
use crate::error::{Error, Result};
use crate::http::extract::{CsrfOnly, CsrfProtected, CsrfToken, ProtectedForm, StaffSession};
use crate::http::layout::console_page;
use crate::state::AppState;

const MAX_NAME: usize = 200;
/// Accounts and contacts one page lists.
const PAGE: i64 = 100;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/staff/accounts", get(list).post(create))
        .route("/staff/accounts/{id}", get(show).post(rename))
        .route("/staff/accounts/{id}/contacts", post(move_in))
        .route("/staff/accounts/{id}/delete", post(delete))
        .route("/staff/contacts/{id}/placement", get(placement).post(place))
        .route("/staff/permission-sets", get(list_sets).post(create_set))
        .route("/staff/permission-sets/new", get(new_set))
        .route(
            "/staff/permission-sets/{id}",
            get(show_set).post(update_set),
        )
        .route("/staff/permission-sets/{id}/delete", post(delete_set))
}

#[derive(Deserialize)]
struct Flash {
    done: Option<String>,
    after: Option<String>,
}

fn flash(done: Option<&str>) -> Option<&'static str> {
    Some(match done? {
        "created" => "The account was created.",
        "renamed" => "The account was renamed.",
        "moved" => "The contact now belongs to this account.",
        "deleted" => "The account was deleted.",
        "saved" => "Saved. It applies on the client's next request.",
        "set_deleted" => "The permission set was deleted.",
        _ => return None,
    })
}

fn checked_name(name: &str) -> Result<String> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME || name.chars().any(char::is_control) {
        return Err(Error::invalid(
            "name",
            format!("Give a name of 1 to {MAX_NAME} characters."),
        ));
    }
    Ok(name.to_string())
}

#[derive(Deserialize)]
struct NameForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
}

impl CsrfProtected for NameForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

async fn list(
    State(state): State<AppState>,
    staff: StaffSession,
    CsrfToken(csrf): CsrfToken,
    Query(query): Query<Flash>,
) -> Result<Response> {
    render_list(&state, &staff, &csrf, &query, None, StatusCode::OK).await
}

async fn render_list(
    state: &AppState,
    staff: &StaffSession,
    csrf: &str,
    query: &Flash,
    error: Option<String>,
    status: StatusCode,
) -> Result<Response> {
    staff.decide(Intent::Act(Area::Accounts, Action::View))?;
    let after = query.after.as_deref().and_then(ClientAccountId::parse);
    let mut accounts = state
        .store
        .list_accounts(
            &staff.firm.id,
            &AccountQuery {
                after,
                limit: PAGE + 1,
                assigned_to: None,
            },
        )
        .await?;
    let next = (accounts.len() as i64 > PAGE).then(|| accounts[PAGE as usize - 1].id.clone());
    accounts.truncate(PAGE as usize);
    let extra = context! {
        accounts => accounts,
        next => next,
        notice => flash(query.done.as_deref()),
        error => error,
        may_create => staff.may(Intent::Act(Area::Accounts, Action::Create)),
    };
    let html = console_page(
        state,
        "console/accounts.html",
        staff,
        csrf,
        "accounts",
        extra,
    )?;
    Ok((status, html).into_response())
}

async fn create(
    State(state): State<AppState>,
    staff: StaffSession,
    CsrfToken(csrf): CsrfToken,
    ProtectedForm(form): ProtectedForm<NameForm>,
) -> Result<Response> {
    staff.decide(Intent::Act(Area::Accounts, Action::Create))?;
    let name = match checked_name(&form.name) {
        Ok(name) => name,
        Err(Error::Unprocessable { message, .. }) => {
            let none = Flash {
                done: None,
                after: None,
            };
            return render_list(
                &state,
                &staff,
                &csrf,
                &none,
                Some(message),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        }
        Err(e) => return Err(e),
    };
    let account = state.store.create_account(&staff.firm.id, &name).await?;
    Ok(Redirect::to(&format!("/staff/accounts/{}?done=created", account.id)).into_response())
}

/// The account, if the member may do `action` on accounts and the firm has it.
async fn find(
    state: &AppState,
    staff: &StaffSession,
    id: &str,
    action: Action,
) -> Result<ClientAccount> {
    staff.decide(Intent::Act(Area::Accounts, action))?;
    let id = ClientAccountId::parse(id).ok_or(Error::NotFound)?;
    state
        .store
        .account(&staff.firm.id, &id)
        .await?
        .ok_or(Error::NotFound)
}

/// The area whose `view` shows items of this kind, and where their pages are.
fn kind_of(kind: &str) -> (Area, &'static str, &'static str) {
    match kind {
        "task" => (Area::Tasks, "Task", "/staff/tasks/"),
        "invoice" => (Area::Invoices, "Invoice", "/staff/invoices?contact="),
        "conversation" => (Area::Conversations, "Conversation", "/staff/conversations/"),
        _ => (Area::Signing, "Signing request", "/staff/signing/"),
    }
}

async fn show(
    State(state): State<AppState>,
    staff: StaffSession,
    CsrfToken(csrf): CsrfToken,
    Path(id): Path<String>,
    Query(query): Query<Flash>,
) -> Result<Response> {
    let account = find(&state, &staff, &id, Action::View).await?;
    render_account(
        &state,
        &staff,
        &csrf,
        account,
        flash(query.done.as_deref()),
        None,
    )
    .await
}

async fn render_account(
    state: &AppState,
    staff: &StaffSession,
    csrf: &str,
    account: ClientAccount,
    notice: Option<&str>,
    error: Option<(&str, String)>,
) -> Result<Response> {
    // Contacts only for a member who may view them, within their reach.
    let contacts = match staff.decide(Intent::Act(Area::Contacts, Action::View)) {
        Ok(decision) => {
            let mut contacts = state
                .store
                .account_contacts(&staff.firm.id, &account.id, None, PAGE)
                .await?;
            if let Some(member) = super::reach::reach(&decision) {
                let ids: Vec<_> = contacts.iter().map(|c| c.id.clone()).collect();
                let within = state
                    .store
                    .assigned_among(&staff.firm.id, &member, &ids)
                    .await?;
                contacts.retain(|c| within.contains(&c.id));
            }
            Some(contacts)
        }
        Err(_) => None,
    };
    let sets = state.store.permission_sets(&staff.firm.id).await?;
    let set_name = |value: &str| -> String {
        match PermissionSetRef::parse(value) {
            Some(PermissionSetRef::Builtin(base)) => base.label().to_string(),
            Some(PermissionSetRef::Custom(id)) => sets
                .iter()
                .find(|s| s.id == id)
                .map(|s| s.name.clone())
                .unwrap_or_else(|| "Unknown set".into()),
            None => "Unknown set".into(),
        }
    };
    let contacts: Option<Vec<minijinja::Value>> = contacts.map(|contacts| {
        contacts
            .iter()
            .map(|c| {
                context! {
                    id => &c.id,
                    name => &c.name,
                    email => &c.email,
                    set => set_name(&c.permission_set),
                }
            })
            .collect()
    });
    let items: Vec<minijinja::Value> = state
        .store
        .shared_items(&staff.firm.id, &account.id)
        .await?
        .into_iter()
        .filter(|item| staff.may(Intent::Act(kind_of(&item.kind).0, Action::View)))
        .map(|item| {
            let (_, label, href) = kind_of(&item.kind);
            context! { label => label, href => format!("{href}{}", item.id), title => item.title, status => item.status }
        })
        .collect();
    let (error_field, error) = error.unzip();
    let may_edit = staff.may(Intent::Act(Area::Accounts, Action::Edit));
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let extra = context! {
        account => &account,
        contacts => contacts,
        items => items,
        notice => notice,
        error => error,
        error_field => error_field,
        may_edit => may_edit,
        may_delete => account.contact_count == 0
            && staff.may(Intent::Act(Area::Accounts, Action::Delete)),
    };
    let html = console_page(
        state,
        "console/client_account.html",
        staff,
        csrf,
        "accounts",
        extra,
    )?;
    Ok((status, html).into_response())
}

async fn rename(
    State(state): State<AppState>,
    staff: StaffSession,
    CsrfToken(csrf): CsrfToken,
    Path(id): Path<String>,
    ProtectedForm(form): ProtectedForm<NameForm>,
) -> Result<Response> {
    let account = find(&state, &staff, &id, Action::Edit).await?;
    let name = match checked_name(&form.name) {
        Ok(name) => name,
        Err(Error::Unprocessable { message, .. }) => {
            return render_account(
                &state,
                &staff,
                &csrf,
                account,
                None,
                Some(("name", message)),
            )
            .await;
        }
        Err(e) => return Err(e),
    };
    state
        .store
        .rename_account(&staff.firm.id, &account.id, &name)
        .await?
        .ok_or(Error::NotFound)?;
    Ok(Redirect::to(&format!("/staff/accounts/{}?done=renamed", account.id)).into_response())
}

#[derive(Deserialize)]
struct MoveForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    email: String,
}

impl CsrfProtected for MoveForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// Moves an existing contact (named by email, within the member's reach) into the account;
/// they join it as client staff.
async fn move_in(
    State(state): State<AppState>,
    staff: StaffSession,
    CsrfToken(csrf): CsrfToken,
    Path(id): Path<String>,
    ProtectedForm(form): ProtectedForm<MoveForm>,
) -> Result<Response> {
    let account = find(&state, &staff, &id, Action::Edit).await?;
    let decision = staff.decide(Intent::Act(Area::Contacts, Action::View))?;
    let unknown = || {
        (
            "email",
            "No contact of the firm has this address.".to_string(),
        )
    };
    let contact = match Email::parse(form.email.trim()) {
        Ok(email) => state.store.contact_by_email(&staff.firm.id, &email).await?,
        Err(_) => None,
    };
    let contact = match contact {
        Some(c) => match contact_within(&state, &staff, &decision, c.id.as_str()).await {
            Ok(c) => c,
            Err(Error::NotFound) => {
                return render_account(&state, &staff, &csrf, account, None, Some(unknown())).await;
            }
            Err(e) => return Err(e),
        },
        None => {
            return render_account(&state, &staff, &csrf, account, None, Some(unknown())).await;
        }
    };
    let patch = ContactPatch {
        account_id: Some(account.id.clone()),
        ..ContactPatch::default()
    };
    state
        .store
        .update_contact(&staff.firm.id, &contact.id, &patch)
        .await?
        .ok_or(Error::NotFound)?;
    Ok(Redirect::to(&format!("/staff/accounts/{}?done=moved", account.id)).into_response())
}

async fn delete(
    State(state): State<AppState>,
    staff: StaffSession,
    Path(id): Path<String>,
    ProtectedForm(_form): ProtectedForm<CsrfOnly>,
) -> Result<Response> {
    staff.decide(Intent::Act(Area::Accounts, Action::Delete))?;
    let id = ClientAccountId::parse(&id).ok_or(Error::NotFound)?;
    match state.store.delete_account(&staff.firm.id, &id).await? {
        Removal::Removed => Ok(Redirect::to("/staff/accounts?done=deleted").into_response()),
        Removal::NotFound => Err(Error::NotFound),
        Removal::InUse => Err(Error::Conflict {
            code: "account_has_contacts",
            message: "Move the account's contacts to another account before deleting it.".into(),
        }),
    }
}

/// Every set a contact may hold: the built-in ones, then the firm's.
fn set_choices(sets: &[PermissionSet]) -> Vec<minijinja::Value> {
    [SetBase::ClientManager, SetBase::ClientStaff]
        .into_iter()
        .map(|base| context! { value => base.as_str(), label => base.label() })
        .chain(
            sets.iter()
                .map(|s| context! { value => s.id.as_str(), label => &s.name }),
        )
        .collect()
}

#[derive(Deserialize)]
struct PlacementForm {
    #[serde(default)]
    csrf: String,
    /// The account's id, unchanged when it is the contact's.
    #[serde(default)]
    account_id: String,
    #[serde(default)]
    permission_set: String,
}

impl CsrfProtected for PlacementForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

async fn placement(
    State(state): State<AppState>,
    staff: StaffSession,
    CsrfToken(csrf): CsrfToken,
    Path(id): Path<String>,
    Query(query): Query<Flash>,
) -> Result<Response> {
    render_placement(
        &state,
        &staff,
        &csrf,
        &id,
        flash(query.done.as_deref()),
        None,
    )
    .await
}

async fn render_placement(
    state: &AppState,
    staff: &StaffSession,
    csrf: &str,
    id: &str,
    notice: Option<&str>,
    error: Option<String>,
) -> Result<Response> {
    let decision = staff.decide(Intent::Act(Area::Contacts, Action::View))?;
    let contact = contact_within(state, staff, &decision, id).await?;
    let may_move = staff.may(Intent::Act(Area::Accounts, Action::Edit));
    let may_set = staff.may(Intent::Act(Area::ClientPermissions, Action::Edit));
    let account = state
        .store
        .account(&staff.firm.id, &contact.account_id)
        .await?;
    // The accounts to move to only for a member who may move contacts.
    let accounts = if may_move {
        state
            .store
            .list_accounts(
                &staff.firm.id,
                &AccountQuery {
                    after: None,
                    limit: 500,
                    assigned_to: None,
                },
            )
            .await?
    } else {
        Vec::new()
    };
    let sets = state.store.permission_sets(&staff.firm.id).await?;
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let extra = context! {
        contact => &contact,
        account => account,
        accounts => accounts,
        sets => set_choices(&sets),
        may_move => may_move,
        may_set => may_set,
        may_view_accounts => staff.may(Intent::Act(Area::Accounts, Action::View)),
        notice => notice,
        error => error,
    };
    let html = console_page(
        state,
        "console/placement.html",
        staff,
        csrf,
        "contacts",
        extra,
    )?;
    Ok((status, html).into_response())
}

/// Moves the contact and gives them a set, each only when it changes and the policy allows
/// it (`accounts: edit`, `client_permissions: edit`).
async fn place(
    State(state): State<AppState>,
    staff: StaffSession,
    CsrfToken(csrf): CsrfToken,
    Path(id): Path<String>,
    ProtectedForm(form): ProtectedForm<PlacementForm>,
) -> Result<Response> {
    let decision = staff.decide(Intent::Act(Area::Contacts, Action::View))?;
    let contact = contact_within(&state, &staff, &decision, &id).await?;
    let mut patch = ContactPatch::default();
    let account = form.account_id.trim();
    if !account.is_empty() && account != contact.account_id.as_str() {
        staff.decide(Intent::Act(Area::Accounts, Action::Edit))?;
        patch.account_id = Some(ClientAccountId::parse(account).ok_or(Error::NotFound)?);
    }
    let set = form.permission_set.trim();
    if !set.is_empty() && set != contact.permission_set {
        staff.decide(Intent::Act(Area::ClientPermissions, Action::Edit))?;
        let Some(set) = PermissionSetRef::parse(set) else {
            return render_placement(
                &state,
                &staff,
                &csrf,
                &id,
                None,
                Some("Choose one of the permission sets.".into()),
            )
            .await;
        };
        patch.permission_set = Some(set);
    } else if patch.account_id.is_some() {
        // Moved and the set left as it was: keep it, rather than the store's client staff.
        patch.permission_set = PermissionSetRef::parse(&contact.permission_set);
    }
    if patch.account_id.is_none() && patch.permission_set.is_none() {
        return Ok(Redirect::to(&format!("/staff/contacts/{id}/placement")).into_response());
    }
    match state
        .store
        .update_contact(&staff.firm.id, &contact.id, &patch)
        .await
    {
        Ok(Some(_)) => {
            Ok(Redirect::to(&format!("/staff/contacts/{id}/placement?done=saved")).into_response())
        }
        Ok(None) => Err(Error::NotFound),
        Err(StoreError::UnknownReference(..)) => {
            render_placement(
                &state,
                &staff,
                &csrf,
                &id,
                None,
                Some("That account or permission set no longer exists.".into()),
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

fn set_view(set: &PermissionSet) -> minijinja::Value {
    context! {
        id => &set.id,
        name => &set.name,
        base => set.base.as_str(),
        base_label => set.base.label(),
        off => set.off.iter().map(|c| c.label()).collect::<Vec<_>>(),
    }
}

async fn list_sets(
    State(state): State<AppState>,
    staff: StaffSession,
    CsrfToken(csrf): CsrfToken,
    Query(query): Query<Flash>,
) -> Result<Response> {
    staff.decide(Intent::Act(Area::ClientPermissions, Action::View))?;
    let sets = state.store.permission_sets(&staff.firm.id).await?;
    let extra = context! {
        sets => sets.iter().map(set_view).collect::<Vec<_>>(),
        notice => flash(query.done.as_deref()),
        may_create => staff.may(Intent::Act(Area::ClientPermissions, Action::Create)),
    };
    let html = console_page(
        &state,
        "console/permission_sets.html",
        &staff,
        &csrf,
        "permission_sets",
        extra,
    )?;
    Ok(html.into_response())
}

/// The set form: a name, a base (radio) and a checkbox per capability left on
/// (`on.{capability}`).
#[derive(Deserialize)]
struct SetForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    base: String,
    #[serde(flatten)]
    fields: std::collections::HashMap<String, String>,
}

impl CsrfProtected for SetForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

impl SetForm {
    /// The capabilities left unticked are the ones switched off.
    fn off(&self) -> BTreeSet<Capability> {
        Capability::ALL
            .into_iter()
            .filter(|c| !self.fields.contains_key(&format!("on.{}", c.as_str())))
            .collect()
    }

    fn content(&self) -> Result<SetContent> {
        Ok(SetContent {
            name: checked_name(&self.name)?,
            base: SetBase::parse(self.base.trim())
                .ok_or_else(|| Error::invalid("base", "Choose client manager or client staff."))?,
            off: self.off(),
        })
    }
}

#[allow(
    clippy::too_many_arguments,
    reason = "one page, shown blank, stored or as typed"
)]
fn set_page(
    state: &AppState,
    staff: &StaffSession,
    csrf: &str,
    set: Option<&PermissionSet>,
    name: &str,
    base: &str,
    off: &BTreeSet<Capability>,
    error: Option<String>,
) -> Result<Response> {
    let capabilities: Vec<minijinja::Value> = Capability::ALL
        .into_iter()
        .map(|c| context! { name => c.as_str(), label => c.label(), on => !off.contains(&c) })
        .collect();
    let action = if set.is_some() {
        Action::Edit
    } else {
        Action::Create
    };
    let extra = context! {
        set => set.map(set_view),
        name => name,
        base => base,
        capabilities => capabilities,
        error => error,
        editable => staff.may(Intent::Act(Area::ClientPermissions, action)),
        may_delete => set.is_some() && staff.may(Intent::Act(Area::ClientPermissions, Action::Delete)),
    };
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let html = console_page(
        state,
        "console/permission_set.html",
        staff,
        csrf,
        "permission_sets",
        extra,
    )?;
    Ok((status, html).into_response())
}

async fn new_set(
    State(state): State<AppState>,
    staff: StaffSession,
    CsrfToken(csrf): CsrfToken,
) -> Result<Response> {
    staff.decide(Intent::Act(Area::ClientPermissions, Action::Create))?;
    set_page(
        &state,
        &staff,
        &csrf,
        None,
        "",
        "client_staff",
        &BTreeSet::new(),
        None,
    )
}

/// What was typed that the form can show again, or the error page.
fn typed_error(error: Error) -> Result<String> {
    match error {
        Error::Unprocessable { message, .. } => Ok(message),
        other => Err(other),
    }
}

fn name_taken(e: StoreError) -> Error {
    match e {
        StoreError::Conflict(_) => Error::invalid("name", "The firm has a set of this name."),
        other => other.into(),
    }
}

async fn create_set(
    State(state): State<AppState>,
    staff: StaffSession,
    CsrfToken(csrf): CsrfToken,
    ProtectedForm(form): ProtectedForm<SetForm>,
) -> Result<Response> {
    staff.decide(Intent::Act(Area::ClientPermissions, Action::Create))?;
    let outcome = match form.content() {
        Ok(content) => state
            .store
            .create_permission_set(&staff.firm.id, &content)
            .await
            .map_err(name_taken),
        Err(e) => Err(e),
    };
    match outcome {
        Ok(set) => Ok(
            Redirect::to(&format!("/staff/permission-sets/{}?done=saved", set.id)).into_response(),
        ),
        Err(e) => {
            let message = typed_error(e)?;
            set_page(
                &state,
                &staff,
                &csrf,
                None,
                &form.name,
                &form.base,
                &form.off(),
                Some(message),
            )
        }
    }
}

async fn find_set(
    state: &AppState,
    staff: &StaffSession,
    id: &str,
    action: Action,
) -> Result<PermissionSet> {
    staff.decide(Intent::Act(Area::ClientPermissions, action))?;
    let id = PermissionSetId::parse(id).ok_or(Error::NotFound)?;
    state
        .store
        .permission_set(&staff.firm.id, &id)
        .await?
        .ok_or(Error::NotFound)
}

async fn show_set(
    State(state): State<AppState>,
    staff: StaffSession,
    CsrfToken(csrf): CsrfToken,
    Path(id): Path<String>,
) -> Result<Response> {
    let set = find_set(&state, &staff, &id, Action::View).await?;
    set_page(
        &state,
        &staff,
        &csrf,
        Some(&set),
        &set.name,
        set.base.as_str(),
        &set.off,
        None,
    )
}

async fn update_set(
    State(state): State<AppState>,
    staff: StaffSession,
    CsrfToken(csrf): CsrfToken,
    Path(id): Path<String>,
    ProtectedForm(form): ProtectedForm<SetForm>,
) -> Result<Response> {
    let set = find_set(&state, &staff, &id, Action::Edit).await?;
    let outcome = match form.content() {
        Ok(content) => state
            .store
            .update_permission_set(&staff.firm.id, &set.id, &content)
            .await
            .map_err(name_taken),
        Err(e) => Err(e),
    };
    match outcome {
        Ok(Some(set)) => Ok(
            Redirect::to(&format!("/staff/permission-sets/{}?done=saved", set.id)).into_response(),
        ),
        Ok(None) => Err(Error::NotFound),
        Err(e) => {
            let message = typed_error(e)?;
            set_page(
                &state,
                &staff,
                &csrf,
                Some(&set),
                &form.name,
                &form.base,
                &form.off(),
                Some(message),
            )
        }
    }
}

async fn delete_set(
    State(state): State<AppState>,
    staff: StaffSession,
    Path(id): Path<String>,
    ProtectedForm(_form): ProtectedForm<CsrfOnly>,
) -> Result<Response> {
    staff.decide(Intent::Act(Area::ClientPermissions, Action::Delete))?;
    let id = PermissionSetId::parse(&id).ok_or(Error::NotFound)?;
    match state
        .store
        .delete_permission_set(&staff.firm.id, &id)
        .await?
    {
        Removal::Removed => {
            Ok(Redirect::to("/staff/permission-sets?done=set_deleted").into_response())
        }
        Removal::NotFound => Err(Error::NotFound),
        Removal::InUse => Err(Error::Conflict {
            code: "set_in_use",
            message: "Contacts hold this set: give them another before deleting it.".into(),
        }),
    }
}
