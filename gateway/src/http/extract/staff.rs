//! The console's extractors: [`StaffSession`], the signed-in member of the host's firm with
//! their role, read from the database on every request (a removed member, a changed email or
//! an edited role takes effect on the next request), and [`MaybeStaff`] for pages that work
//! either way.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum_extra::extract::cookie::CookieJar;
use portico_shared::policy::{Actor, Decision, Intent, Role, decide};
use portico_shared::store::{Firm, Member};

use super::portal::PortalFirm;
use crate::error::Error;
use crate::services::cookies;
use crate::services::sessions::{self, Audience};
use crate::state::AppState;

/// A signed-in member of the host's firm.
#[derive(Clone, Debug)]
pub struct StaffSession {
    pub firm: Firm,
    pub member: Member,
    pub role: Role,
    pub actor: Actor,
}

impl StaffSession {
    /// Asks the policy; a refusal is a 403.
    pub fn decide(&self, intent: Intent<'_>) -> Result<Decision, Error> {
        match decide(&self.actor, intent) {
            Decision::Denied(reason) => Err(Error::Forbidden(reason)),
            allowed => Ok(allowed),
        }
    }

    /// Whether the policy allows it, for showing or hiding a control.
    pub fn may(&self, intent: Intent<'_>) -> bool {
        decide(&self.actor, intent).allowed()
    }
}

/// The staff session if there is one.
#[derive(Clone, Debug)]
pub struct MaybeStaff(pub Option<StaffSession>);

impl FromRequestParts<AppState> for MaybeStaff {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Error> {
        if let Some(found) = parts.extensions.get::<MaybeStaff>() {
            return Ok(found.clone());
        }
        let PortalFirm(firm) = PortalFirm::from_request_parts(parts, state).await?;
        let jar = CookieJar::from_headers(&parts.headers);
        let value = cookies::get(&jar, cookies::STAFF_SESSION, state.config.cookie_secure);
        let record = match value {
            Some(value) => sessions::load(state, Audience::Staff, value).await?,
            None => None,
        };
        let member = match record.filter(|r| r.firm_id == firm.id) {
            Some(record) => match record.member_id() {
                Some(id) => state
                    .store
                    .member_with_role(&firm.id, &id)
                    .await?
                    .filter(|m| m.member.auth_epoch == record.epoch),
                None => None,
            },
            None => None,
        };
        let found = MaybeStaff(member.map(|m| StaffSession {
            actor: Actor::new(m.member.id.clone(), &m.role, None),
            firm,
            member: m.member,
            role: m.role,
        }));
        parts.extensions.insert(found.clone());
        Ok(found)
    }
}

impl FromRequestParts<AppState> for StaffSession {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Error> {
        MaybeStaff::from_request_parts(parts, state)
            .await?
            .0
            .ok_or(Error::StaffSignInRequired)
    }
}
