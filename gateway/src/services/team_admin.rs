//! Managing a firm's roles and API keys, for the console and the API alike: each operation
//! asks `policy::decide` itself (so no surface can forget), checks its input, and calls the
//! store. Nobody creates, edits or hands out a role or key that grants more than they hold,
//! nor revokes another member's key that does;
//! built-in roles are never edited or deleted; a role still held is not deleted.

use std::collections::BTreeMap;

use portico_shared::ids::{ApiKeyId, CustomRoleId, FirmId};
use portico_shared::policy::{
    Action, Actor, Area, BuiltinRole, Decision, Grant, Intent, Permissions, Role, decide,
};
use portico_shared::store::{ApiKeyRecord, RoleDeletion, RolePatch};
use portico_shared::token::ApiKey;

use crate::error::{Error, Result};
use crate::state::AppState;

/// Longest role or key name.
pub const MAX_NAME: usize = 100;

/// The policy's answer, a refusal as 403.
pub fn allow(actor: &Actor, intent: Intent<'_>) -> Result<Decision> {
    match decide(actor, intent) {
        Decision::Denied(reason) => Err(Error::Forbidden(reason)),
        allowed => Ok(allowed),
    }
}

/// A name as typed: trimmed, 1 to [`MAX_NAME`] characters, no control characters.
pub fn checked_name(field: &'static str, name: &str) -> Result<String> {
    let name = name.trim();
    if name.is_empty() {
        return Err(Error::invalid(field, format!("{field} must not be empty")));
    }
    if name.chars().count() > MAX_NAME {
        return Err(Error::invalid(
            field,
            format!("{field} is at most {MAX_NAME} characters"),
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(Error::invalid(
            field,
            format!("{field} must not contain control characters"),
        ));
    }
    Ok(name.to_string())
}

/// Grants as sent, checked: a scope only where an area has clients.
pub fn checked_permissions(grants: BTreeMap<Area, Grant>) -> Result<Permissions> {
    Permissions::from_grants(grants).map_err(|e| Error::invalid("permissions", e.to_string()))
}

fn builtin_refused() -> Error {
    Error::Conflict {
        code: "builtin_role",
        message: "built-in roles cannot be changed or deleted".into(),
    }
}

/// The firm's custom role `id`, or 404.
async fn custom_role(state: &AppState, firm_id: &FirmId, id: &str) -> Result<(CustomRoleId, Role)> {
    if BuiltinRole::parse(id).is_some() {
        return Err(builtin_refused());
    }
    let role_id = CustomRoleId::parse(id).ok_or(Error::NotFound)?;
    let role = state
        .store
        .role(firm_id, id)
        .await?
        .ok_or(Error::NotFound)?;
    Ok((role_id, role))
}

pub async fn list_roles(state: &AppState, actor: &Actor, firm_id: &FirmId) -> Result<Vec<Role>> {
    allow(actor, Intent::Act(Area::Roles, Action::View))?;
    Ok(state.store.roles(firm_id).await?)
}

pub async fn role(state: &AppState, actor: &Actor, firm_id: &FirmId, id: &str) -> Result<Role> {
    allow(actor, Intent::Act(Area::Roles, Action::View))?;
    state.store.role(firm_id, id).await?.ok_or(Error::NotFound)
}

pub async fn create_role(
    state: &AppState,
    actor: &Actor,
    firm_id: &FirmId,
    name: &str,
    permissions: &Permissions,
) -> Result<Role> {
    allow(
        actor,
        Intent::Grant {
            area: Area::Roles,
            action: Action::Create,
            grants: permissions,
        },
    )?;
    let name = checked_name("name", name)?;
    state
        .store
        .create_role(firm_id, &name, permissions)
        .await
        .map_err(name_taken)
}

/// Edits a custom role; it applies to its members on their next request. The role as it is
/// and as it becomes must both be within what the actor holds.
pub async fn update_role(
    state: &AppState,
    actor: &Actor,
    firm_id: &FirmId,
    id: &str,
    name: Option<&str>,
    permissions: Option<Permissions>,
) -> Result<Role> {
    allow(actor, Intent::Act(Area::Roles, Action::Edit))?;
    let (role_id, current) = custom_role(state, firm_id, id).await?;
    for grants in [Some(&current.permissions), permissions.as_ref()]
        .into_iter()
        .flatten()
    {
        allow(
            actor,
            Intent::Grant {
                area: Area::Roles,
                action: Action::Edit,
                grants,
            },
        )?;
    }
    let patch = RolePatch {
        name: name.map(|n| checked_name("name", n)).transpose()?,
        permissions,
    };
    state
        .store
        .update_role(firm_id, &role_id, &patch)
        .await
        .map_err(name_taken)?
        .ok_or(Error::NotFound)
}

pub async fn delete_role(
    state: &AppState,
    actor: &Actor,
    firm_id: &FirmId,
    id: &str,
) -> Result<()> {
    allow(actor, Intent::Act(Area::Roles, Action::Delete))?;
    let (role_id, current) = custom_role(state, firm_id, id).await?;
    allow(
        actor,
        Intent::Grant {
            area: Area::Roles,
            action: Action::Delete,
            grants: &current.permissions,
        },
    )?;
    match state.store.delete_role(firm_id, &role_id).await? {
        RoleDeletion::Deleted => Ok(()),
        RoleDeletion::NotFound => Err(Error::NotFound),
        RoleDeletion::InUse => Err(Error::Conflict {
            code: "role_in_use",
            message: "a member, an open invitation or an API key still has this role".into(),
        }),
    }
}

fn name_taken(e: portico_shared::store::StoreError) -> Error {
    match e {
        portico_shared::store::StoreError::Conflict(_) => Error::Conflict {
            code: "name_taken",
            message: "the firm already has a role of this name".into(),
        },
        other => other.into(),
    }
}

pub async fn list_api_keys(
    state: &AppState,
    actor: &Actor,
    firm_id: &FirmId,
) -> Result<Vec<ApiKeyRecord>> {
    allow(actor, Intent::Act(Area::ApiKeys, Action::View))?;
    Ok(state.store.api_keys(firm_id).await?)
}

/// Makes a key with `role_id`, acting for the actor's member; answers the key once.
pub async fn create_api_key(
    state: &AppState,
    actor: &Actor,
    firm_id: &FirmId,
    name: &str,
    role_id: &str,
) -> Result<(ApiKeyRecord, ApiKey)> {
    allow(actor, Intent::Act(Area::ApiKeys, Action::Create))?;
    let name = checked_name("name", name)?;
    let role = state.store.role(firm_id, role_id).await?.ok_or_else(|| {
        Error::invalid("role_id", format!("{role_id:?} is not a role of this firm"))
    })?;
    allow(
        actor,
        Intent::Grant {
            area: Area::ApiKeys,
            action: Action::Create,
            grants: &role.permissions,
        },
    )?;
    let key = ApiKey::generate();
    let record = state
        .store
        .create_api_key(firm_id, &name, &role.id, &actor.member_id, &key.hash())
        .await?;
    Ok((record, key))
}

pub async fn revoke_api_key(
    state: &AppState,
    actor: &Actor,
    firm_id: &FirmId,
    id: &str,
) -> Result<()> {
    allow(actor, Intent::Act(Area::ApiKeys, Action::Delete))?;
    let id = ApiKeyId::parse(id).ok_or(Error::NotFound)?;
    let key = state
        .store
        .api_keys(firm_id)
        .await?
        .into_iter()
        .find(|k| k.id == id)
        .ok_or(Error::NotFound)?;
    // Revoking someone else's key is refused when the key can do more than the actor: a
    // member allowed to manage keys cannot cut off an integration set up by those above them.
    if key.member_id.as_ref() != Some(&actor.member_id) {
        let role = state.store.role(firm_id, &key.role_id).await?;
        let wider = role.is_some_and(|role| {
            !decide(
                actor,
                Intent::Grant {
                    area: Area::ApiKeys,
                    action: Action::Delete,
                    grants: &role.permissions,
                },
            )
            .allowed()
        });
        if wider {
            return Err(Error::Forbidden(
                "this key can do more than your own role: someone whose role covers it can revoke it",
            ));
        }
    }
    if state.store.revoke_api_key(firm_id, &id).await? {
        Ok(())
    } else {
        Err(Error::NotFound)
    }
}
