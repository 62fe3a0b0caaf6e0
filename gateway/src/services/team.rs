//! The firm's team as staff change it, from the console or the API: invitations (invite,
//! correct, resend, revoke, accept), members (change role, remove, transfer ownership) and a
//! member's own login address (changed only through a link sent to the new one).
//!
//! Every change is decided by `policy::decide` for the acting [`Actor`]: giving a role is a
//! `Grant` (nobody hands out, or takes away, more than they hold), ownership moves only by
//! `TransferOwnership`. The Owner role is never given by invitation or role change.

use portico_shared::email::Email;
use portico_shared::ids::{MemberId, TeamInvitationId};
use portico_shared::now_unix;
use portico_shared::policy::{Action, Actor, Area, Intent, Role};
use portico_shared::store::{Firm, InvitationPatch, Member, StoreError, TeamInvitation};

use super::team_admin::allow as check;
use crate::error::{Error, Result};
use crate::services::links;
use crate::state::AppState;

/// The role `role_id` names in this firm, to be given by invitation or role change: never the
/// Owner's (422), never an unknown one (422).
pub async fn givable_role(state: &AppState, firm: &Firm, role_id: &str) -> Result<Role> {
    let role = state
        .store
        .role(&firm.id, role_id.trim())
        .await?
        .ok_or_else(|| Error::invalid("role_id", format!("no role {role_id:?} in this firm")))?;
    if role.is_owner() {
        return Err(Error::invalid(
            "role_id",
            "the Owner role is only passed on by transferring ownership",
        ));
    }
    Ok(role)
}

/// The role an invitation or member holds now (a custom role deleted meanwhile grants nothing).
async fn held_role(state: &AppState, firm: &Firm, role_id: &str) -> Result<Role> {
    Ok(state.store.role(&firm.id, role_id).await?.unwrap_or(Role {
        id: role_id.to_string(),
        name: String::new(),
        builtin: false,
        permissions: Default::default(),
    }))
}

fn taken(e: StoreError) -> Error {
    match e {
        StoreError::Conflict("email") => Error::Conflict {
            code: "conflict",
            message: "this address is already a member's or has an open invitation".into(),
        },
        other => other.into(),
    }
}

/// Invites `email` with `role_id` and mails the link.
pub async fn invite(
    state: &AppState,
    firm: &Firm,
    actor: &Actor,
    email: &Email,
    role_id: &str,
) -> Result<TeamInvitation> {
    check(actor, Intent::Act(Area::Team, Action::Create))?;
    let role = givable_role(state, firm, role_id).await?;
    check(
        actor,
        Intent::Grant {
            area: Area::Team,
            action: Action::Create,
            grants: &role.permissions,
        },
    )?;
    let invitation = state
        .store
        .create_team_invitation(&firm.id, email, &role.id, &actor.member_id)
        .await
        .map_err(taken)?;
    send(state, firm, &invitation.id).await
}

/// Mails (again) an open invitation: its version moves on, so every earlier link is refused.
async fn send(state: &AppState, firm: &Firm, id: &TeamInvitationId) -> Result<TeamInvitation> {
    let expires_at = now_unix() + state.config.link_ttl.as_secs() as i64;
    let invitation = state
        .store
        .record_team_invitation_sent(&firm.id, id, expires_at)
        .await?
        .ok_or_else(not_open)?;
    links::send_team_invitation(state, firm, &invitation, expires_at).await?;
    Ok(invitation)
}

fn not_open() -> Error {
    Error::Conflict {
        code: "not_open",
        message: "this invitation was accepted or revoked".into(),
    }
}

/// An invitation of the firm, or 404.
pub async fn invitation(
    state: &AppState,
    firm: &Firm,
    id: &str,
) -> Result<(TeamInvitationId, TeamInvitation)> {
    let id = TeamInvitationId::parse(id).ok_or(Error::NotFound)?;
    let invitation = state
        .store
        .team_invitation(&firm.id, &id)
        .await?
        .ok_or(Error::NotFound)?;
    Ok((id, invitation))
}

/// Corrects an open invitation's address or role, or resends it; either way a new link goes
/// out and the earlier ones are refused. The actor must be able to give the role it ends with.
pub async fn correct(
    state: &AppState,
    firm: &Firm,
    actor: &Actor,
    id: &str,
    email: Option<Email>,
    role_id: Option<&str>,
    resend: bool,
) -> Result<TeamInvitation> {
    check(actor, Intent::Act(Area::Team, Action::Edit))?;
    let (id, current) = invitation(state, firm, id).await?;
    if !current.open() {
        return Err(not_open());
    }
    let role = match role_id {
        Some(role_id) => givable_role(state, firm, role_id).await?,
        None => held_role(state, firm, &current.role_id).await?,
    };
    check(
        actor,
        Intent::Grant {
            area: Area::Team,
            action: Action::Edit,
            grants: &role.permissions,
        },
    )?;
    let email = email.filter(|e| !e.as_str().eq_ignore_ascii_case(&current.email));
    let role_changed = role.id != current.role_id;
    if email.is_none() && !role_changed && !resend {
        return Ok(current);
    }
    if email.is_some() || role_changed {
        let patch = InvitationPatch {
            email,
            role_id: role_changed.then(|| role.id.clone()),
        };
        state
            .store
            .update_team_invitation(&firm.id, &id, &patch)
            .await
            .map_err(taken)?
            .ok_or_else(not_open)?;
    }
    send(state, firm, &id).await
}

/// Revokes an open invitation: its link is refused from now on.
pub async fn revoke(state: &AppState, firm: &Firm, actor: &Actor, id: &str) -> Result<()> {
    // Asked before the lookup too, so someone without the right learns nothing of which ids
    // exist (403 either way).
    check(actor, Intent::Act(Area::Team, Action::Delete))?;
    let (id, current) = invitation(state, firm, id).await?;
    let role = held_role(state, firm, &current.role_id).await?;
    check(
        actor,
        Intent::Grant {
            area: Area::Team,
            action: Action::Delete,
            grants: &role.permissions,
        },
    )?;
    if !state.store.revoke_team_invitation(&firm.id, &id).await? {
        return Err(not_open());
    }
    Ok(())
}

/// A member of the firm, or 404.
pub async fn member(state: &AppState, firm: &Firm, id: &str) -> Result<Member> {
    let id = MemberId::parse(id).ok_or(Error::NotFound)?;
    state
        .store
        .member(&firm.id, &id)
        .await?
        .ok_or(Error::NotFound)
}

fn owner_conflict(message: &str) -> Error {
    Error::Conflict {
        code: "owner",
        message: message.to_string(),
    }
}

/// Gives a member another role; `owner` transfers ownership instead (the Owner only). The
/// actor must hold both the member's current role and the new one.
pub async fn change_role(
    state: &AppState,
    firm: &Firm,
    actor: &Actor,
    id: &str,
    role_id: &str,
) -> Result<Member> {
    if role_id.trim() == portico_shared::policy::BuiltinRole::Owner.id() {
        return transfer_ownership(state, firm, actor, id).await;
    }
    check(actor, Intent::Act(Area::Team, Action::Edit))?;
    let target = member(state, firm, id).await?;
    let role = givable_role(state, firm, role_id).await?;
    let current = held_role(state, firm, &target.role_id).await?;
    if current.is_owner() {
        return Err(owner_conflict(
            "the Owner's role changes only by transferring ownership",
        ));
    }
    for grants in [&current.permissions, &role.permissions] {
        check(
            actor,
            Intent::Grant {
                area: Area::Team,
                action: Action::Edit,
                grants,
            },
        )?;
    }
    match state
        .store
        .set_member_role(&firm.id, &target.id, &role.id)
        .await
    {
        Ok(Some(member)) => Ok(member),
        Ok(None) => Err(Error::NotFound),
        Err(StoreError::Conflict("owner")) => Err(owner_conflict(
            "the Owner's role changes only by transferring ownership",
        )),
        Err(e) => Err(e.into()),
    }
}

/// Makes another member the Owner; the Owner becomes a Co-owner.
pub async fn transfer_ownership(
    state: &AppState,
    firm: &Firm,
    actor: &Actor,
    id: &str,
) -> Result<Member> {
    check(actor, Intent::TransferOwnership)?;
    let target = member(state, firm, id).await?;
    if target.id == actor.member_id {
        return Err(owner_conflict("you are the Owner already"));
    }
    if !state
        .store
        .transfer_ownership(&firm.id, &actor.member_id, &target.id)
        .await?
    {
        return Err(owner_conflict("ownership could not be transferred"));
    }
    member(state, firm, target.id.as_str()).await
}

/// Removes a member: their sessions end at once (every staff request reads the member), and
/// their API keys go with them. The Owner cannot be removed (409).
pub async fn remove(state: &AppState, firm: &Firm, actor: &Actor, id: &str) -> Result<()> {
    // Asked before the lookup too: 403 whether or not the member exists.
    check(actor, Intent::Act(Area::Team, Action::Delete))?;
    let target = member(state, firm, id).await?;
    let current = held_role(state, firm, &target.role_id).await?;
    check(
        actor,
        Intent::Grant {
            area: Area::Team,
            action: Action::Delete,
            grants: &current.permissions,
        },
    )?;
    if current.is_owner() {
        return Err(owner_conflict(
            "the Owner cannot be removed; transfer ownership first",
        ));
    }
    match state.store.remove_member(&firm.id, &target.id).await {
        Ok(true) => Ok(()),
        Ok(false) => Err(Error::NotFound),
        Err(StoreError::Conflict("owner")) => Err(owner_conflict(
            "the Owner cannot be removed; transfer ownership first",
        )),
        Err(e) => Err(e.into()),
    }
}

/// A member asks to sign in with `new_email` from now on: a link goes to that address, and
/// nothing changes until it is opened (with its code).
pub async fn request_email_change(
    state: &AppState,
    firm: &Firm,
    member: &Member,
    new_email: &Email,
) -> Result<()> {
    if new_email.as_str().eq_ignore_ascii_case(&member.email) {
        return Err(Error::invalid(
            "email",
            "this is your sign-in address already",
        ));
    }
    if state
        .store
        .member_by_email(&firm.id, new_email)
        .await?
        .is_some()
    {
        return Err(Error::invalid(
            "email",
            "another member signs in with this address",
        ));
    }
    links::send_email_change(state, firm, member, new_email).await
}

/// The email-change link was opened with its code: moves the address if the member is still
/// there under the link's epoch (which the move bumps, ending their other sessions). `None`:
/// the link no longer applies.
pub async fn confirm_email_change(
    state: &AppState,
    firm: &Firm,
    member_id: &MemberId,
    epoch: i64,
    new_email: &str,
) -> Result<Option<Member>> {
    let Ok(email) = Email::parse(new_email) else {
        return Ok(None);
    };
    let Some(member) = state.store.member(&firm.id, member_id).await? else {
        return Ok(None);
    };
    if member.auth_epoch != epoch {
        return Ok(None);
    }
    match state
        .store
        .update_member(&firm.id, member_id, None, Some(&email))
        .await
    {
        Ok(member) => Ok(member),
        Err(StoreError::Conflict("email")) => Ok(None),
        Err(e) => Err(e.into()),
    }
}
