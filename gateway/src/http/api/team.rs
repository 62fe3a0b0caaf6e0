//! `/api/v1/team/…`: the firm's members and team invitations, changed through the same team
//! service as the console (`services::team`), so the same policy decides: nobody invites or
//! gives a role beyond their own, the Owner role moves only by transfer (by the Owner), and
//! the Owner cannot be removed (409).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Json;
use portico_shared::email::Email;
use portico_shared::policy::{Action, Area, Intent};
use portico_shared::store::{Member, TeamInvitation};
use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};

use super::ErrorBody;
use super::pagination::ListPage;
use super::route::{ApiRoute, one_of, rfc3339};
use crate::error::{Error, Result};
use crate::http::extract::{ApiActor, ApiJson};
use crate::services::team;
use crate::state::AppState;

pub fn routes() -> Vec<ApiRoute> {
    vec![
        ApiRoute::get("/team/invitations", list_invitations),
        ApiRoute::post("/team/invitations", create_invitation),
        ApiRoute::patch("/team/invitations/{id}", update_invitation),
        ApiRoute::delete("/team/invitations/{id}", revoke_invitation),
        ApiRoute::get("/team/members", list_members),
        ApiRoute::patch("/team/members/{id}", update_member),
        ApiRoute::delete("/team/members/{id}", remove_member),
    ]
}

#[derive(OpenApi)]
#[openapi(paths(
    list_invitations,
    create_invitation,
    update_invitation,
    revoke_invitation,
    list_members,
    update_member,
    remove_member
))]
pub struct Doc;

/// A member of the firm's team.
#[derive(Serialize, ToSchema)]
#[schema(as = TeamMember)]
pub struct MemberView {
    id: String,
    name: String,
    #[schema(format = "idn-email")]
    email: String,
    /// `owner`, `co_owner`, `team`, or a custom role's id.
    role_id: String,
    /// Null until their first sign-in.
    #[schema(format = DateTime, required = true)]
    last_login_at: Option<String>,
    #[schema(format = DateTime)]
    created_at: String,
}

impl From<Member> for MemberView {
    fn from(m: Member) -> MemberView {
        MemberView {
            id: m.id.to_string(),
            name: m.name,
            email: m.email,
            role_id: m.role_id,
            last_login_at: m.last_login_at.map(rfc3339),
            created_at: rfc3339(m.created_at),
        }
    }
}

/// An invitation to join the team.
#[derive(Serialize, ToSchema)]
#[schema(as = TeamInvitation)]
pub struct InvitationView {
    id: String,
    #[schema(format = "idn-email")]
    email: String,
    role_id: String,
    #[schema(schema_with = invitation_status)]
    status: &'static str,
    /// The member who invited, if still a member.
    #[schema(required = true)]
    invited_by: Option<String>,
    /// How many times it was sent.
    send_count: i64,
    #[schema(format = DateTime, required = true)]
    sent_at: Option<String>,
    /// Until when the latest link works.
    #[schema(format = DateTime, required = true)]
    expires_at: Option<String>,
    #[schema(format = DateTime, required = true)]
    accepted_at: Option<String>,
    #[schema(format = DateTime, required = true)]
    revoked_at: Option<String>,
    #[schema(format = DateTime)]
    created_at: String,
}

fn invitation_status() -> utoipa::openapi::schema::Object {
    one_of(&["open", "accepted", "revoked"])
}

impl From<TeamInvitation> for InvitationView {
    fn from(i: TeamInvitation) -> InvitationView {
        let status = if i.accepted_at.is_some() {
            "accepted"
        } else if i.revoked_at.is_some() {
            "revoked"
        } else {
            "open"
        };
        InvitationView {
            id: i.id.to_string(),
            email: i.email,
            role_id: i.role_id,
            status,
            invited_by: i.invited_by.map(|m| m.to_string()),
            send_count: i.send_count,
            sent_at: i.sent_at.map(rfc3339),
            expires_at: i.expires_at.map(rfc3339),
            accepted_at: i.accepted_at.map(rfc3339),
            revoked_at: i.revoked_at.map(rfc3339),
            created_at: rfc3339(i.created_at),
        }
    }
}

fn email(text: &str) -> Result<Email> {
    Email::parse(text).map_err(|_| Error::invalid("email", "not a valid email address"))
}

/// Team invitations: open ones, and those accepted or revoked in the last 30 days
#[utoipa::path(
    get,
    path = "/team/invitations",
    tag = "Team",
    operation_id = "listTeamInvitations",
    responses(
        (status = 200, description = "Newest first, in one page", body = ListPage<InvitationView>),
        (status = 403, description = "The key's role may not view the team", body = ErrorBody),
    )
)]
async fn list_invitations(
    State(state): State<AppState>,
    api: ApiActor,
) -> Result<Json<ListPage<InvitationView>>> {
    api.decide(Intent::Act(Area::Team, Action::View))?;
    let data = state
        .store
        .team_invitations(&api.firm.id)
        .await?
        .into_iter()
        .map(InvitationView::from)
        .collect();
    Ok(Json(ListPage {
        data,
        next_cursor: None,
    }))
}

/// An invitation to make.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = NewTeamInvitation)]
pub struct CreateInvitation {
    #[schema(format = "idn-email")]
    email: String,
    /// A role the key's own role covers; never `owner`.
    role_id: String,
}

/// Invite someone to the team (the invitation email goes out at once)
#[utoipa::path(
    post,
    path = "/team/invitations",
    tag = "Team",
    operation_id = "createTeamInvitation",
    request_body = CreateInvitation,
    responses(
        (status = 201, description = "Invited", body = InvitationView),
        (status = 403, description = "The key's role may not invite, or not with this role", body = ErrorBody),
        (status = 409, description = "The address is a member's or has an open invitation (`conflict`)", body = ErrorBody),
    )
)]
async fn create_invitation(
    State(state): State<AppState>,
    api: ApiActor,
    ApiJson(body): ApiJson<CreateInvitation>,
) -> Result<(StatusCode, Json<InvitationView>)> {
    let email = email(&body.email)?;
    let invitation = team::invite(&state, &api.firm, &api.actor, &email, &body.role_id).await?;
    Ok((StatusCode::CREATED, Json(invitation.into())))
}

/// A correction of an open invitation. Fields left out stay as they are.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = TeamInvitationPatch)]
pub struct UpdateInvitation {
    #[schema(format = "idn-email", nullable = false)]
    email: Option<String>,
    #[schema(nullable = false)]
    role_id: Option<String>,
    /// Send the invitation again.
    #[serde(default)]
    #[schema(default = false)]
    resend: bool,
}

/// Correct or resend an open invitation; either sends a new link, and earlier links stop working
#[utoipa::path(
    patch,
    path = "/team/invitations/{id}",
    tag = "Team",
    operation_id = "updateTeamInvitation",
    params(("id" = String, Path, description = "Invitation id")),
    request_body = UpdateInvitation,
    responses(
        (status = 200, description = "The invitation now", body = InvitationView),
        (status = 403, description = "The key's role may not change it", body = ErrorBody),
        (status = 404, description = "No such invitation", body = ErrorBody),
        (status = 409, description = "Accepted or revoked already (`not_open`), or the address is taken (`conflict`)", body = ErrorBody),
    )
)]
async fn update_invitation(
    State(state): State<AppState>,
    api: ApiActor,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<UpdateInvitation>,
) -> Result<Json<InvitationView>> {
    let email = body.email.as_deref().map(email).transpose()?;
    let invitation = team::correct(
        &state,
        &api.firm,
        &api.actor,
        &id,
        email,
        body.role_id.as_deref(),
        body.resend,
    )
    .await?;
    Ok(Json(invitation.into()))
}

/// Revoke an open invitation
#[utoipa::path(
    delete,
    path = "/team/invitations/{id}",
    tag = "Team",
    operation_id = "revokeTeamInvitation",
    params(("id" = String, Path, description = "Invitation id")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 403, description = "The key's role may not revoke it", body = ErrorBody),
        (status = 404, description = "No such invitation", body = ErrorBody),
        (status = 409, description = "Accepted or revoked already (`not_open`)", body = ErrorBody),
    )
)]
async fn revoke_invitation(
    State(state): State<AppState>,
    api: ApiActor,
    Path(id): Path<String>,
) -> Result<StatusCode> {
    team::revoke(&state, &api.firm, &api.actor, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The firm's members, the Owner first
#[utoipa::path(
    get,
    path = "/team/members",
    tag = "Team",
    operation_id = "listTeamMembers",
    responses(
        (status = 200, description = "Every member, in one page", body = ListPage<MemberView>),
        (status = 403, description = "The key's role may not view the team", body = ErrorBody),
    )
)]
async fn list_members(
    State(state): State<AppState>,
    api: ApiActor,
) -> Result<Json<ListPage<MemberView>>> {
    api.decide(Intent::Act(Area::Team, Action::View))?;
    let data = state
        .store
        .members(&api.firm.id)
        .await?
        .into_iter()
        .map(MemberView::from)
        .collect();
    Ok(Json(ListPage {
        data,
        next_cursor: None,
    }))
}

/// A member's new role.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = TeamMemberPatch)]
pub struct UpdateMember {
    /// A role the key's own role covers; `owner` transfers ownership (the Owner's key only),
    /// making the present Owner a Co-owner.
    role_id: String,
}

/// Change a member's role, or transfer ownership to them
#[utoipa::path(
    patch,
    path = "/team/members/{id}",
    tag = "Team",
    operation_id = "updateTeamMember",
    params(("id" = String, Path, description = "Member id")),
    request_body = UpdateMember,
    responses(
        (status = 200, description = "The member now", body = MemberView),
        (status = 403, description = "The key's role may not give this role, or transfer ownership", body = ErrorBody),
        (status = 404, description = "No such member", body = ErrorBody),
        (status = 409, description = "The Owner's role changes only by transfer (`owner`)", body = ErrorBody),
    )
)]
async fn update_member(
    State(state): State<AppState>,
    api: ApiActor,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<UpdateMember>,
) -> Result<Json<MemberView>> {
    let member = team::change_role(&state, &api.firm, &api.actor, &id, &body.role_id).await?;
    Ok(Json(member.into()))
}

/// Remove a member: their sessions end at once, their API keys are revoked
#[utoipa::path(
    delete,
    path = "/team/members/{id}",
    tag = "Team",
    operation_id = "removeTeamMember",
    params(("id" = String, Path, description = "Member id")),
    responses(
        (status = 204, description = "Removed"),
        (status = 403, description = "The key's role may not remove this member", body = ErrorBody),
        (status = 404, description = "No such member", body = ErrorBody),
        (status = 409, description = "The Owner cannot be removed (`owner`)", body = ErrorBody),
    )
)]
async fn remove_member(
    State(state): State<AppState>,
    api: ApiActor,
    Path(id): Path<String>,
) -> Result<StatusCode> {
    team::remove(&state, &api.firm, &api.actor, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
