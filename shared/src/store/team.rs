//! A firm's team: members and their roles, the firm's own roles, team invitations, API keys
//! (each with a role, acting for a member), and which members look after which contacts.
//!
//! Built-in roles are not rows: a `role_id` names one of them (`policy::BuiltinRole`) or a row
//! of `roles`. What a role allows is decided in `policy`, never here; this module only keeps
//! the facts, and a few rules that must hold whatever code writes (exactly one Owner, no role
//! deleted while held, an invitation accepted once and only at its current version).

use async_trait::async_trait;
use serde::Serialize;
use sqlx::{Postgres, Sqlite};

use super::{SqlStore, StoreError, on_unique};
use crate::email::Email;
use crate::ids::{ApiKeyId, ContactId, CustomRoleId, FirmId, MemberId, TeamInvitationId};
use crate::now_unix;
use crate::policy::{BuiltinRole, Permissions, Role};
use crate::store::Firm;
use crate::token::ApiKeyHash;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct Member {
    pub id: MemberId,
    pub firm_id: FirmId,
    pub name: String,
    pub email: String,
    pub role_id: String,
    /// Links and sessions carry the epoch they were made under; a bump ends them all.
    #[serde(skip)]
    pub auth_epoch: i64,
    pub last_login_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A member with their role resolved: what a signed-in request acts with.
#[derive(Clone, Debug)]
pub struct MemberWithRole {
    pub member: Member,
    pub role: Role,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct TeamInvitation {
    pub id: TeamInvitationId,
    pub firm_id: FirmId,
    pub email: String,
    pub role_id: String,
    pub invited_by: Option<MemberId>,
    /// Bumped by every correction and every sending: only the latest link is accepted.
    #[serde(skip)]
    pub version: i64,
    pub send_count: i64,
    pub created_at: i64,
    pub sent_at: Option<i64>,
    pub expires_at: Option<i64>,
    pub accepted_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

impl TeamInvitation {
    /// Not yet accepted or revoked.
    pub fn open(&self) -> bool {
        self.accepted_at.is_none() && self.revoked_at.is_none()
    }
}

/// An API key as listed: never the key itself, which is shown once when made.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct ApiKeyRecord {
    pub id: ApiKeyId,
    pub firm_id: FirmId,
    pub name: String,
    /// The key's first characters, so people can tell their keys apart.
    pub prefix: String,
    pub role_id: String,
    pub member_id: Option<MemberId>,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
}

/// What an API key authenticates: its firm, the key, and the member it acts for with both
/// roles resolved (the key acts with the overlap of the two: `policy::Actor::new`).
#[derive(Clone, Debug)]
pub struct ApiKeyAuth {
    pub firm: Firm,
    pub key_id: ApiKeyId,
    pub key_role: Role,
    pub member: MemberWithRole,
}

/// A custom role as stored.
#[derive(Clone, Debug, sqlx::FromRow)]
struct RoleRow {
    id: CustomRoleId,
    name: String,
    permissions: String,
}

impl From<RoleRow> for Role {
    fn from(row: RoleRow) -> Role {
        Role {
            id: row.id.to_string(),
            name: row.name,
            builtin: false,
            permissions: Permissions::from_json(&row.permissions),
        }
    }
}

/// The role `id` names, given the custom role's row when it has one. A custom id without a
/// row (which the store never leaves behind) grants nothing.
fn resolve_role(id: &str, name: Option<String>, permissions: Option<String>) -> Role {
    match BuiltinRole::parse(id) {
        Some(builtin) => builtin.role(),
        None => Role {
            id: id.to_string(),
            name: name.unwrap_or_default(),
            builtin: false,
            permissions: permissions
                .map(|p| Permissions::from_json(&p))
                .unwrap_or_default(),
        },
    }
}

/// What deleting a role did.
#[derive(Debug, PartialEq, Eq)]
pub enum RoleDeletion {
    Deleted,
    NotFound,
    /// A member, an open invitation or a live API key still holds it.
    InUse,
}

/// A partial update of a custom role.
#[derive(Debug, Default)]
pub struct RolePatch {
    pub name: Option<String>,
    pub permissions: Option<Permissions>,
}

/// A correction of an open invitation; the version moves on, so earlier links are refused.
#[derive(Debug, Default)]
pub struct InvitationPatch {
    pub email: Option<Email>,
    pub role_id: Option<String>,
}

#[async_trait]
pub trait TeamStore {
    /// The firm's members, Owner first, then by name and email.
    async fn members(&self, firm_id: &FirmId) -> Result<Vec<Member>, StoreError>;
    async fn member(&self, firm_id: &FirmId, id: &MemberId) -> Result<Option<Member>, StoreError>;
    async fn member_by_email(
        &self,
        firm_id: &FirmId,
        email: &Email,
    ) -> Result<Option<Member>, StoreError>;
    /// A member with their role, in one query: what every staff request starts from.
    async fn member_with_role(
        &self,
        firm_id: &FirmId,
        id: &MemberId,
    ) -> Result<Option<MemberWithRole>, StoreError>;
    /// Gives a member another role. Not for the Owner's role, which moves only by
    /// [`transfer_ownership`](Self::transfer_ownership): `Conflict("owner")` either way.
    async fn set_member_role(
        &self,
        firm_id: &FirmId,
        id: &MemberId,
        role_id: &str,
    ) -> Result<Option<Member>, StoreError>;
    /// Changes a member's name and, when given, email (which bumps their auth epoch, ending
    /// their sessions and links). `Conflict("email")` when another member has the address.
    async fn update_member(
        &self,
        firm_id: &FirmId,
        id: &MemberId,
        name: Option<&str>,
        email: Option<&Email>,
    ) -> Result<Option<Member>, StoreError>;
    /// Removes a member (their API keys and assignments go with them). The Owner cannot be
    /// removed: `Conflict("owner")`.
    async fn remove_member(&self, firm_id: &FirmId, id: &MemberId) -> Result<bool, StoreError>;
    /// Makes `to` the Owner and the Owner (`from`) a Co-owner, at once.
    async fn transfer_ownership(
        &self,
        firm_id: &FirmId,
        from: &MemberId,
        to: &MemberId,
    ) -> Result<bool, StoreError>;
    /// Notes a staff sign-in if the member is still there under `epoch`; `false`: refuse it.
    async fn record_member_login(
        &self,
        firm_id: &FirmId,
        id: &MemberId,
        epoch: i64,
    ) -> Result<bool, StoreError>;

    /// Built-in roles first, then the firm's own by name.
    async fn roles(&self, firm_id: &FirmId) -> Result<Vec<Role>, StoreError>;
    /// A built-in role by its id, or one of the firm's own.
    async fn role(&self, firm_id: &FirmId, id: &str) -> Result<Option<Role>, StoreError>;
    /// `Conflict("name")` when the firm has a role of that name (built-in names included).
    async fn create_role(
        &self,
        firm_id: &FirmId,
        name: &str,
        permissions: &Permissions,
    ) -> Result<Role, StoreError>;
    async fn update_role(
        &self,
        firm_id: &FirmId,
        id: &CustomRoleId,
        patch: &RolePatch,
    ) -> Result<Option<Role>, StoreError>;
    async fn delete_role(
        &self,
        firm_id: &FirmId,
        id: &CustomRoleId,
    ) -> Result<RoleDeletion, StoreError>;

    /// Open invitations and those accepted or revoked in the last 30 days, newest first.
    async fn team_invitations(&self, firm_id: &FirmId) -> Result<Vec<TeamInvitation>, StoreError>;
    async fn team_invitation(
        &self,
        firm_id: &FirmId,
        id: &TeamInvitationId,
    ) -> Result<Option<TeamInvitation>, StoreError>;
    /// `Conflict("email")` when the address is a member's or has an open invitation.
    async fn create_team_invitation(
        &self,
        firm_id: &FirmId,
        email: &Email,
        role_id: &str,
        invited_by: &MemberId,
    ) -> Result<TeamInvitation, StoreError>;
    /// Corrects an open invitation (`None` if there is no open one by that id).
    async fn update_team_invitation(
        &self,
        firm_id: &FirmId,
        id: &TeamInvitationId,
        patch: &InvitationPatch,
    ) -> Result<Option<TeamInvitation>, StoreError>;
    /// Notes a sending: the version moves on (earlier links are refused) and is returned in
    /// the invitation, for the new link to carry.
    async fn record_team_invitation_sent(
        &self,
        firm_id: &FirmId,
        id: &TeamInvitationId,
        expires_at: i64,
    ) -> Result<Option<TeamInvitation>, StoreError>;
    async fn revoke_team_invitation(
        &self,
        firm_id: &FirmId,
        id: &TeamInvitationId,
    ) -> Result<bool, StoreError>;
    /// Accepts an open, unexpired invitation at `version`: the member is made with the
    /// invited email and role. `None` when it is no longer acceptable (corrected, resent,
    /// revoked, accepted, expired).
    async fn accept_team_invitation(
        &self,
        firm_id: &FirmId,
        id: &TeamInvitationId,
        version: i64,
    ) -> Result<Option<Member>, StoreError>;

    /// Stores a key's hash with its name and role, acting for `member_id`.
    async fn create_api_key(
        &self,
        firm_id: &FirmId,
        name: &str,
        role_id: &str,
        member_id: &MemberId,
        key: &ApiKeyHash,
    ) -> Result<ApiKeyRecord, StoreError>;
    /// Live keys, newest first.
    async fn api_keys(&self, firm_id: &FirmId) -> Result<Vec<ApiKeyRecord>, StoreError>;
    async fn revoke_api_key(&self, firm_id: &FirmId, id: &ApiKeyId) -> Result<bool, StoreError>;
    /// The live key with this hash, its firm, role and member, in one query.
    async fn authenticate_api_key(&self, hash: &str) -> Result<Option<ApiKeyAuth>, StoreError>;

    /// The members looking after a contact.
    async fn contact_members(
        &self,
        firm_id: &FirmId,
        contact_id: &ContactId,
    ) -> Result<Vec<MemberId>, StoreError>;
    /// Replaces the members looking after a contact; `UnknownReference` for a member who is
    /// not the firm's.
    async fn set_contact_members(
        &self,
        firm_id: &FirmId,
        contact_id: &ContactId,
        members: &[MemberId],
    ) -> Result<(), StoreError>;
}

macro_rules! member_columns {
    () => {
        "id, firm_id, name, email, role_id, auth_epoch, last_login_at, created_at, updated_at"
    };
}

macro_rules! invitation_columns {
    () => {
        "id, firm_id, email, role_id, invited_by, version, send_count, created_at, sent_at, \
         expires_at, accepted_at, revoked_at"
    };
}

macro_rules! api_key_columns {
    () => {
        "id, firm_id, name, prefix, role_id, member_id, created_at, revoked_at"
    };
}

/// A member row joined with its custom role's name and permissions (NULL for built-ins).
#[derive(sqlx::FromRow)]
struct MemberRoleRow {
    #[sqlx(flatten)]
    member: Member,
    role_name: Option<String>,
    role_permissions: Option<String>,
}

impl From<MemberRoleRow> for MemberWithRole {
    fn from(row: MemberRoleRow) -> MemberWithRole {
        let role = resolve_role(&row.member.role_id, row.role_name, row.role_permissions);
        MemberWithRole {
            member: row.member,
            role,
        }
    }
}

#[derive(sqlx::FromRow)]
struct ApiKeyAuthRow {
    #[sqlx(flatten)]
    firm: Firm,
    key_id: ApiKeyId,
    key_role_id: String,
    key_role_name: Option<String>,
    key_role_permissions: Option<String>,
    m_id: MemberId,
    m_name: String,
    m_email: String,
    m_role_id: String,
    m_auth_epoch: i64,
    m_last_login_at: Option<i64>,
    m_created_at: i64,
    m_updated_at: i64,
    m_role_name: Option<String>,
    m_role_permissions: Option<String>,
}

impl From<ApiKeyAuthRow> for ApiKeyAuth {
    fn from(row: ApiKeyAuthRow) -> ApiKeyAuth {
        let member = Member {
            id: row.m_id,
            firm_id: row.firm.id.clone(),
            name: row.m_name,
            email: row.m_email,
            role_id: row.m_role_id,
            auth_epoch: row.m_auth_epoch,
            last_login_at: row.m_last_login_at,
            created_at: row.m_created_at,
            updated_at: row.m_updated_at,
        };
        let member_role = resolve_role(&member.role_id, row.m_role_name, row.m_role_permissions);
        ApiKeyAuth {
            key_role: resolve_role(
                &row.key_role_id,
                row.key_role_name,
                row.key_role_permissions,
            ),
            firm: row.firm,
            key_id: row.key_id,
            member: MemberWithRole {
                member,
                role: member_role,
            },
        }
    }
}

macro_rules! team_store {
    ($backend:ty) => {
        #[async_trait]
        impl TeamStore for SqlStore<$backend> {
            async fn members(&self, firm_id: &FirmId) -> Result<Vec<Member>, StoreError> {
                Ok(sqlx::query_as(concat!(
                    "SELECT ",
                    member_columns!(),
                    " FROM members WHERE firm_id = $1 \
                     ORDER BY CASE WHEN role_id = 'owner' THEN 0 ELSE 1 END, name, email_norm"
                ))
                .bind(firm_id)
                .fetch_all(&self.pool)
                .await?)
            }

            async fn member(
                &self,
                firm_id: &FirmId,
                id: &MemberId,
            ) -> Result<Option<Member>, StoreError> {
                Ok(sqlx::query_as(concat!(
                    "SELECT ",
                    member_columns!(),
                    " FROM members WHERE firm_id = $1 AND id = $2"
                ))
                .bind(firm_id)
                .bind(id)
                .fetch_optional(&self.pool)
                .await?)
            }

            async fn member_by_email(
                &self,
                firm_id: &FirmId,
                email: &Email,
            ) -> Result<Option<Member>, StoreError> {
                Ok(sqlx::query_as(concat!(
                    "SELECT ",
                    member_columns!(),
                    " FROM members WHERE firm_id = $1 AND email_norm = $2"
                ))
                .bind(firm_id)
                .bind(email.normalized())
                .fetch_optional(&self.pool)
                .await?)
            }

            async fn member_with_role(
                &self,
                firm_id: &FirmId,
                id: &MemberId,
            ) -> Result<Option<MemberWithRole>, StoreError> {
                let row: Option<MemberRoleRow> = sqlx::query_as(
                    "SELECT m.id, m.firm_id, m.name, m.email, m.role_id, m.auth_epoch, \
                     m.last_login_at, m.created_at, m.updated_at, \
                     r.name AS role_name, r.permissions AS role_permissions \
                     FROM members m LEFT JOIN roles r ON r.id = m.role_id AND r.firm_id = m.firm_id \
                     WHERE m.firm_id = $1 AND m.id = $2",
                )
                .bind(firm_id)
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
                Ok(row.map(MemberWithRole::from))
            }

            async fn set_member_role(
                &self,
                firm_id: &FirmId,
                id: &MemberId,
                role_id: &str,
            ) -> Result<Option<Member>, StoreError> {
                if role_id == BuiltinRole::Owner.id() {
                    return Err(StoreError::Conflict("owner"));
                }
                let mut tx = self.writer.begin().await?;
                let current: Option<(String,)> =
                    sqlx::query_as("SELECT role_id FROM members WHERE firm_id = $1 AND id = $2")
                        .bind(firm_id)
                        .bind(id)
                        .fetch_optional(&mut *tx)
                        .await?;
                match current {
                    None => return Ok(None),
                    Some((role,)) if role == BuiltinRole::Owner.id() => {
                        return Err(StoreError::Conflict("owner"));
                    }
                    Some(_) => {}
                }
                let member = sqlx::query_as(concat!(
                    "UPDATE members SET role_id = $3, updated_at = $4 \
                     WHERE firm_id = $1 AND id = $2 RETURNING ",
                    member_columns!()
                ))
                .bind(firm_id)
                .bind(id)
                .bind(role_id)
                .bind(now_unix())
                .fetch_optional(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(member)
            }

            async fn update_member(
                &self,
                firm_id: &FirmId,
                id: &MemberId,
                name: Option<&str>,
                email: Option<&Email>,
            ) -> Result<Option<Member>, StoreError> {
                sqlx::query_as(concat!(
                    "UPDATE members SET \
                     auth_epoch = auth_epoch + CASE WHEN $4 IS NOT NULL AND $4 <> email_norm \
                         THEN 1 ELSE 0 END, \
                     name = COALESCE($3, name), \
                     email = COALESCE($5, email), \
                     email_norm = COALESCE($4, email_norm), \
                     updated_at = $6 \
                     WHERE firm_id = $1 AND id = $2 RETURNING ",
                    member_columns!()
                ))
                .bind(firm_id)
                .bind(id)
                .bind(name)
                .bind(email.map(|e| e.normalized()))
                .bind(email.map(|e| e.as_str()))
                .bind(now_unix())
                .fetch_optional(&self.writer)
                .await
                .map_err(on_unique("email"))
            }

            async fn remove_member(
                &self,
                firm_id: &FirmId,
                id: &MemberId,
            ) -> Result<bool, StoreError> {
                let mut tx = self.writer.begin().await?;
                let role: Option<(String,)> =
                    sqlx::query_as("SELECT role_id FROM members WHERE firm_id = $1 AND id = $2")
                        .bind(firm_id)
                        .bind(id)
                        .fetch_optional(&mut *tx)
                        .await?;
                match role {
                    None => return Ok(false),
                    Some((role,)) if role == BuiltinRole::Owner.id() => {
                        return Err(StoreError::Conflict("owner"));
                    }
                    Some(_) => {}
                }
                sqlx::query("DELETE FROM members WHERE firm_id = $1 AND id = $2")
                    .bind(firm_id)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(true)
            }

            async fn transfer_ownership(
                &self,
                firm_id: &FirmId,
                from: &MemberId,
                to: &MemberId,
            ) -> Result<bool, StoreError> {
                if from == to {
                    return Ok(false);
                }
                let now = now_unix();
                let mut tx = self.writer.begin().await?;
                // Demote first: the index allows one Owner per firm at any moment.
                let demoted = sqlx::query(
                    "UPDATE members SET role_id = 'co_owner', updated_at = $3 \
                     WHERE firm_id = $1 AND id = $2 AND role_id = 'owner'",
                )
                .bind(firm_id)
                .bind(from)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                let promoted = sqlx::query(
                    "UPDATE members SET role_id = 'owner', updated_at = $3 \
                     WHERE firm_id = $1 AND id = $2",
                )
                .bind(firm_id)
                .bind(to)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                if demoted.rows_affected() != 1 || promoted.rows_affected() != 1 {
                    tx.rollback().await?;
                    return Ok(false);
                }
                tx.commit().await?;
                Ok(true)
            }

            async fn record_member_login(
                &self,
                firm_id: &FirmId,
                id: &MemberId,
                epoch: i64,
            ) -> Result<bool, StoreError> {
                let done = sqlx::query(
                    "UPDATE members SET last_login_at = $4 \
                     WHERE firm_id = $1 AND id = $2 AND auth_epoch = $3",
                )
                .bind(firm_id)
                .bind(id)
                .bind(epoch)
                .bind(now_unix())
                .execute(&self.writer)
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn roles(&self, firm_id: &FirmId) -> Result<Vec<Role>, StoreError> {
                let rows: Vec<RoleRow> = sqlx::query_as(
                    "SELECT id, name, permissions FROM roles WHERE firm_id = $1 ORDER BY name, id",
                )
                .bind(firm_id)
                .fetch_all(&self.pool)
                .await?;
                Ok(BuiltinRole::ALL
                    .into_iter()
                    .map(BuiltinRole::role)
                    .chain(rows.into_iter().map(Role::from))
                    .collect())
            }

            async fn role(&self, firm_id: &FirmId, id: &str) -> Result<Option<Role>, StoreError> {
                if let Some(builtin) = BuiltinRole::parse(id) {
                    return Ok(Some(builtin.role()));
                }
                let Some(id) = CustomRoleId::parse(id) else {
                    return Ok(None);
                };
                let row: Option<RoleRow> = sqlx::query_as(
                    "SELECT id, name, permissions FROM roles WHERE firm_id = $1 AND id = $2",
                )
                .bind(firm_id)
                .bind(&id)
                .fetch_optional(&self.pool)
                .await?;
                Ok(row.map(Role::from))
            }

            async fn create_role(
                &self,
                firm_id: &FirmId,
                name: &str,
                permissions: &Permissions,
            ) -> Result<Role, StoreError> {
                if BuiltinRole::ALL
                    .iter()
                    .any(|b| b.name().eq_ignore_ascii_case(name))
                {
                    return Err(StoreError::Conflict("name"));
                }
                let now = now_unix();
                let row: RoleRow = sqlx::query_as(
                    "INSERT INTO roles (id, firm_id, name, permissions, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $5) RETURNING id, name, permissions",
                )
                .bind(CustomRoleId::new())
                .bind(firm_id)
                .bind(name)
                .bind(permissions.to_json())
                .bind(now)
                .fetch_one(&self.writer)
                .await
                .map_err(on_unique("name"))?;
                Ok(row.into())
            }

            async fn update_role(
                &self,
                firm_id: &FirmId,
                id: &CustomRoleId,
                patch: &RolePatch,
            ) -> Result<Option<Role>, StoreError> {
                if let Some(name) = &patch.name
                    && BuiltinRole::ALL
                        .iter()
                        .any(|b| b.name().eq_ignore_ascii_case(name))
                {
                    return Err(StoreError::Conflict("name"));
                }
                let row: Option<RoleRow> = sqlx::query_as(
                    "UPDATE roles SET name = COALESCE($3, name), \
                     permissions = COALESCE($4, permissions), updated_at = $5 \
                     WHERE firm_id = $1 AND id = $2 RETURNING id, name, permissions",
                )
                .bind(firm_id)
                .bind(id)
                .bind(patch.name.as_deref())
                .bind(patch.permissions.as_ref().map(Permissions::to_json))
                .bind(now_unix())
                .fetch_optional(&self.writer)
                .await
                .map_err(on_unique("name"))?;
                Ok(row.map(Role::from))
            }

            async fn delete_role(
                &self,
                firm_id: &FirmId,
                id: &CustomRoleId,
            ) -> Result<RoleDeletion, StoreError> {
                let mut tx = self.writer.begin().await?;
                let (held,): (bool,) = sqlx::query_as(
                    "SELECT EXISTS (SELECT 1 FROM members WHERE firm_id = $1 AND role_id = $2) \
                     OR EXISTS (SELECT 1 FROM team_invitations WHERE firm_id = $1 AND role_id = $2 \
                         AND accepted_at IS NULL AND revoked_at IS NULL) \
                     OR EXISTS (SELECT 1 FROM api_keys WHERE firm_id = $1 AND role_id = $2 \
                         AND revoked_at IS NULL)",
                )
                .bind(firm_id)
                .bind(id)
                .fetch_one(&mut *tx)
                .await?;
                if held {
                    let exists: Option<(String,)> =
                        sqlx::query_as("SELECT id FROM roles WHERE firm_id = $1 AND id = $2")
                            .bind(firm_id)
                            .bind(id)
                            .fetch_optional(&mut *tx)
                            .await?;
                    return Ok(if exists.is_some() {
                        RoleDeletion::InUse
                    } else {
                        RoleDeletion::NotFound
                    });
                }
                let done = sqlx::query("DELETE FROM roles WHERE firm_id = $1 AND id = $2")
                    .bind(firm_id)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(if done.rows_affected() == 1 {
                    RoleDeletion::Deleted
                } else {
                    RoleDeletion::NotFound
                })
            }

            async fn team_invitations(
                &self,
                firm_id: &FirmId,
            ) -> Result<Vec<TeamInvitation>, StoreError> {
                Ok(sqlx::query_as(concat!(
                    "SELECT ",
                    invitation_columns!(),
                    " FROM team_invitations WHERE firm_id = $1 \
                     AND ((accepted_at IS NULL AND revoked_at IS NULL) OR created_at > $2) \
                     ORDER BY created_at DESC, id"
                ))
                .bind(firm_id)
                .bind(now_unix() - 30 * 86_400)
                .fetch_all(&self.pool)
                .await?)
            }

            async fn team_invitation(
                &self,
                firm_id: &FirmId,
                id: &TeamInvitationId,
            ) -> Result<Option<TeamInvitation>, StoreError> {
                Ok(sqlx::query_as(concat!(
                    "SELECT ",
                    invitation_columns!(),
                    " FROM team_invitations WHERE firm_id = $1 AND id = $2"
                ))
                .bind(firm_id)
                .bind(id)
                .fetch_optional(&self.pool)
                .await?)
            }

            async fn create_team_invitation(
                &self,
                firm_id: &FirmId,
                email: &Email,
                role_id: &str,
                invited_by: &MemberId,
            ) -> Result<TeamInvitation, StoreError> {
                let mut tx = self.writer.begin().await?;
                let (member,): (bool,) = sqlx::query_as(
                    "SELECT EXISTS (SELECT 1 FROM members WHERE firm_id = $1 AND email_norm = $2)",
                )
                .bind(firm_id)
                .bind(email.normalized())
                .fetch_one(&mut *tx)
                .await?;
                if member {
                    return Err(StoreError::Conflict("email"));
                }
                let invitation = sqlx::query_as(concat!(
                    "INSERT INTO team_invitations (id, firm_id, email, email_norm, role_id, \
                     invited_by, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING ",
                    invitation_columns!()
                ))
                .bind(TeamInvitationId::new())
                .bind(firm_id)
                .bind(email.as_str())
                .bind(email.normalized())
                .bind(role_id)
                .bind(invited_by)
                .bind(now_unix())
                .fetch_one(&mut *tx)
                .await
                .map_err(on_unique("email"))?;
                tx.commit().await?;
                Ok(invitation)
            }

            async fn update_team_invitation(
                &self,
                firm_id: &FirmId,
                id: &TeamInvitationId,
                patch: &InvitationPatch,
            ) -> Result<Option<TeamInvitation>, StoreError> {
                let mut tx = self.writer.begin().await?;
                if let Some(email) = &patch.email {
                    let (member,): (bool,) = sqlx::query_as(
                        "SELECT EXISTS (SELECT 1 FROM members \
                         WHERE firm_id = $1 AND email_norm = $2)",
                    )
                    .bind(firm_id)
                    .bind(email.normalized())
                    .fetch_one(&mut *tx)
                    .await?;
                    if member {
                        return Err(StoreError::Conflict("email"));
                    }
                }
                let invitation = sqlx::query_as(concat!(
                    "UPDATE team_invitations SET email = COALESCE($3, email), \
                     email_norm = COALESCE($4, email_norm), role_id = COALESCE($5, role_id), \
                     version = version + 1 \
                     WHERE firm_id = $1 AND id = $2 AND accepted_at IS NULL \
                     AND revoked_at IS NULL RETURNING ",
                    invitation_columns!()
                ))
                .bind(firm_id)
                .bind(id)
                .bind(patch.email.as_ref().map(|e| e.as_str()))
                .bind(patch.email.as_ref().map(|e| e.normalized()))
                .bind(patch.role_id.as_deref())
                .fetch_optional(&mut *tx)
                .await
                .map_err(on_unique("email"))?;
                tx.commit().await?;
                Ok(invitation)
            }

            async fn record_team_invitation_sent(
                &self,
                firm_id: &FirmId,
                id: &TeamInvitationId,
                expires_at: i64,
            ) -> Result<Option<TeamInvitation>, StoreError> {
                Ok(sqlx::query_as(concat!(
                    "UPDATE team_invitations SET version = version + 1, \
                     send_count = send_count + 1, sent_at = $3, expires_at = $4 \
                     WHERE firm_id = $1 AND id = $2 AND accepted_at IS NULL \
                     AND revoked_at IS NULL RETURNING ",
                    invitation_columns!()
                ))
                .bind(firm_id)
                .bind(id)
                .bind(now_unix())
                .bind(expires_at)
                .fetch_optional(&self.writer)
                .await?)
            }

            async fn revoke_team_invitation(
                &self,
                firm_id: &FirmId,
                id: &TeamInvitationId,
            ) -> Result<bool, StoreError> {
                let done = sqlx::query(
                    "UPDATE team_invitations SET revoked_at = $3, version = version + 1 \
                     WHERE firm_id = $1 AND id = $2 AND accepted_at IS NULL \
                     AND revoked_at IS NULL",
                )
                .bind(firm_id)
                .bind(id)
                .bind(now_unix())
                .execute(&self.writer)
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn accept_team_invitation(
                &self,
                firm_id: &FirmId,
                id: &TeamInvitationId,
                version: i64,
            ) -> Result<Option<Member>, StoreError> {
                let now = now_unix();
                let mut tx = self.writer.begin().await?;
                let taken: Option<(String, String, String)> = sqlx::query_as(
                    "UPDATE team_invitations SET accepted_at = $4 \
                     WHERE firm_id = $1 AND id = $2 AND version = $3 \
                     AND accepted_at IS NULL AND revoked_at IS NULL AND expires_at > $4 \
                     RETURNING email, email_norm, role_id",
                )
                .bind(firm_id)
                .bind(id)
                .bind(version)
                .bind(now)
                .fetch_optional(&mut *tx)
                .await?;
                let Some((email, email_norm, role_id)) = taken else {
                    return Ok(None);
                };
                // A custom role deleted meanwhile (it could not be while the invitation was
                // open, but be safe) makes a Team member.
                let role_id = if BuiltinRole::parse(&role_id).is_some() {
                    role_id
                } else {
                    let (exists,): (bool,) = sqlx::query_as(
                        "SELECT EXISTS (SELECT 1 FROM roles WHERE firm_id = $1 AND id = $2)",
                    )
                    .bind(firm_id)
                    .bind(&role_id)
                    .fetch_one(&mut *tx)
                    .await?;
                    if exists { role_id } else { BuiltinRole::Team.id().to_string() }
                };
                let member = sqlx::query_as(concat!(
                    "INSERT INTO members (id, firm_id, email, email_norm, role_id, last_login_at, \
                     created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6, $6) RETURNING ",
                    member_columns!()
                ))
                .bind(MemberId::new())
                .bind(firm_id)
                .bind(&email)
                .bind(&email_norm)
                .bind(&role_id)
                .bind(now)
                .fetch_one(&mut *tx)
                .await
                .map_err(on_unique("email"))?;
                tx.commit().await?;
                Ok(Some(member))
            }

            async fn create_api_key(
                &self,
                firm_id: &FirmId,
                name: &str,
                role_id: &str,
                member_id: &MemberId,
                key: &ApiKeyHash,
            ) -> Result<ApiKeyRecord, StoreError> {
                sqlx::query_as(concat!(
                    "INSERT INTO api_keys (id, firm_id, name, prefix, key_hash, role_id, member_id, \
                     created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING ",
                    api_key_columns!()
                ))
                .bind(ApiKeyId::new())
                .bind(firm_id)
                .bind(name)
                .bind(&key.prefix)
                .bind(&key.hash)
                .bind(role_id)
                .bind(member_id)
                .bind(now_unix())
                .fetch_one(&self.writer)
                .await
                .map_err(on_unique("api key"))
            }

            async fn api_keys(&self, firm_id: &FirmId) -> Result<Vec<ApiKeyRecord>, StoreError> {
                Ok(sqlx::query_as(concat!(
                    "SELECT ",
                    api_key_columns!(),
                    " FROM api_keys WHERE firm_id = $1 AND revoked_at IS NULL \
                     ORDER BY created_at DESC, id"
                ))
                .bind(firm_id)
                .fetch_all(&self.pool)
                .await?)
            }

            async fn revoke_api_key(
                &self,
                firm_id: &FirmId,
                id: &ApiKeyId,
            ) -> Result<bool, StoreError> {
                let done = sqlx::query(
                    "UPDATE api_keys SET revoked_at = $3 \
                     WHERE firm_id = $1 AND id = $2 AND revoked_at IS NULL",
                )
                .bind(firm_id)
                .bind(id)
                .bind(now_unix())
                .execute(&self.writer)
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn authenticate_api_key(
                &self,
                hash: &str,
            ) -> Result<Option<ApiKeyAuth>, StoreError> {
                let row: Option<ApiKeyAuthRow> = sqlx::query_as(
                    "SELECT f.id, f.slug, f.name, f.brand_color, f.created_at, f.display_name, \
                     f.menu_links, f.billing_enabled, f.esign_enabled, f.logo_sha256, \
                     k.id AS key_id, k.role_id AS key_role_id, kr.name AS key_role_name, \
                     kr.permissions AS key_role_permissions, \
                     m.id AS m_id, m.name AS m_name, m.email AS m_email, m.role_id AS m_role_id, \
                     m.auth_epoch AS m_auth_epoch, m.last_login_at AS m_last_login_at, \
                     m.created_at AS m_created_at, m.updated_at AS m_updated_at, \
                     mr.name AS m_role_name, mr.permissions AS m_role_permissions \
                     FROM api_keys k JOIN firms f ON f.id = k.firm_id \
                     JOIN members m ON m.id = k.member_id \
                     LEFT JOIN roles kr ON kr.id = k.role_id AND kr.firm_id = k.firm_id \
                     LEFT JOIN roles mr ON mr.id = m.role_id AND mr.firm_id = m.firm_id \
                     WHERE k.key_hash = $1 AND k.revoked_at IS NULL",
                )
                .bind(hash)
                .fetch_optional(&self.pool)
                .await?;
                Ok(row.map(ApiKeyAuth::from))
            }

            async fn contact_members(
                &self,
                firm_id: &FirmId,
                contact_id: &ContactId,
            ) -> Result<Vec<MemberId>, StoreError> {
                let rows: Vec<(MemberId,)> = sqlx::query_as(
                    "SELECT member_id FROM contact_members \
                     WHERE firm_id = $1 AND contact_id = $2 ORDER BY member_id",
                )
                .bind(firm_id)
                .bind(contact_id)
                .fetch_all(&self.pool)
                .await?;
                Ok(rows.into_iter().map(|(id,)| id).collect())
            }

            async fn set_contact_members(
                &self,
                firm_id: &FirmId,
                contact_id: &ContactId,
                members: &[MemberId],
            ) -> Result<(), StoreError> {
                // Three statements whatever the number of members: which are the firm's, the
                // old assignments out, the new ones in.
                let mut tx = self.writer.begin().await?;
                if !members.is_empty() {
                    let mut query = sqlx::QueryBuilder::<$backend>::new(
                        "SELECT id FROM members WHERE firm_id = ",
                    );
                    query.push_bind(firm_id.clone()).push(" AND id IN (");
                    let mut ids = query.separated(", ");
                    for member in members {
                        ids.push_bind(member.clone());
                    }
                    query.push(")");
                    let known: Vec<(MemberId,)> =
                        query.build_query_as().fetch_all(&mut *tx).await?;
                    if let Some(unknown) = members
                        .iter()
                        .find(|m| !known.iter().any(|(k,)| k == *m))
                    {
                        return Err(StoreError::UnknownReference(
                            "assigned_staff",
                            unknown.to_string(),
                        ));
                    }
                }
                sqlx::query("DELETE FROM contact_members WHERE firm_id = $1 AND contact_id = $2")
                    .bind(firm_id)
                    .bind(contact_id)
                    .execute(&mut *tx)
                    .await?;
                if !members.is_empty() {
                    let mut query = sqlx::QueryBuilder::<$backend>::new(
                        "INSERT INTO contact_members (contact_id, member_id, firm_id) ",
                    );
                    let mut seen = Vec::with_capacity(members.len());
                    for member in members {
                        if !seen.contains(&member) {
                            seen.push(member);
                        }
                    }
                    query.push_values(seen, |mut row, member| {
                        row.push_bind(contact_id.clone())
                            .push_bind(member.clone())
                            .push_bind(firm_id.clone());
                    });
                    query.build().execute(&mut *tx).await?;
                }
                tx.commit().await?;
                Ok(())
            }
        }
    };
}
team_store!(Sqlite);
team_store!(Postgres);
