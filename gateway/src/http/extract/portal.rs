//! The portal's extractors, which carry tenancy and identity into handlers: [`PortalFirm`] (the firm of the
//! `Host`) and [`ClientSession`] (the signed-in contact *of that firm*). A handler that takes
//! them is written with the firm and contact already in hand and never reads headers or cookies.
//!
//! A [`ClientSession`] is also who the portal's pages are rendered for when staff preview a
//! contact's portal from the console ([`ClientSession::previewing`]): then it carries a
//! [`Preview`], which the layout shows as a banner and puts before every link.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum_extra::extract::cookie::CookieJar;
use portico_shared::client_access::ClientAccess;
use portico_shared::store::{Contact, Firm, SessionContact};

use super::host::{firm_slug, request_host};
use crate::error::Error;
use crate::i18n::{self, Lang};
use crate::services::cookies;
use crate::services::sessions::{self, Audience};
use crate::state::AppState;

/// The firm whose portal this host is: `{slug}.{PORTICO_BASE_DOMAIN}`. Any other host is 404.
#[derive(Clone, Debug)]
pub struct PortalFirm(pub Firm);

impl FromRequestParts<AppState> for PortalFirm {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Error> {
        if let Some(firm) = parts.extensions.get::<PortalFirm>() {
            return Ok(firm.clone());
        }
        let host = request_host(parts).ok_or(Error::NotFound)?;
        let slug = firm_slug(&host, &state.config.base_domain).ok_or(Error::NotFound)?;
        let firm = state.firm_by_slug(slug).await?.ok_or(Error::NotFound)?;
        tracing::Span::current().record("firm", firm.slug.as_str());
        let firm = PortalFirm(firm);
        parts.extensions.insert(firm.clone());
        Ok(firm)
    }
}

/// A signed-in client of the host's firm, checked against the database on every request:
/// a revoked, deleted or re-addressed contact is refused at once.
#[derive(Clone, Debug)]
pub struct ClientSession {
    pub firm: Firm,
    pub contact: Contact,
    /// Whether this email has portal access at other firms too (the header then offers a
    /// company switcher).
    pub other_companies: bool,
    /// The firm's portal version as of this request (see [`crate::services::page_cache`]).
    /// `None` in a preview, whose pages are never kept.
    pub portal_version: Option<i64>,
    /// What the contact's permission set lets them do (SPEC §13), as of this request.
    pub access: ClientAccess,
    /// Set when a staff member is looking at this contact's portal, not the contact.
    pub preview: Option<Preview>,
}

/// A staff member's read-only look at a contact's portal, rendered by the portal's own page
/// renderers under the console's path for it.
#[derive(Clone, Debug)]
pub struct Preview {
    /// Where the portal's paths are served in the preview, before each of them
    /// (`/staff/contacts/{id}/preview`): links in the pages stay inside it.
    pub prefix: String,
    /// The contact's console page: the banner's way back.
    pub back: String,
    /// "Try it out": a permission set the contact is shown as holding instead of their own,
    /// with its name for the banner.
    pub as_set: Option<(String, ClientAccess)>,
}

impl Preview {
    /// How long a recorded preview lets its member browse the contact's portal; after that
    /// the console asks for a reason again.
    pub const LIFETIME_SECS: i64 = 30 * 60;
}

impl ClientSession {
    /// The contact of `found` as the staff member previewing their portal sees them (holding
    /// the preview's trial set, if it has one). Nothing of the contact's own sessions is read
    /// or touched; the page speaks the contact's language.
    pub fn previewing(firm: Firm, found: SessionContact, preview: Preview) -> ClientSession {
        if let Some(lang) = found.contact.language.as_deref().and_then(Lang::parse) {
            i18n::prefer(lang);
        }
        let access = match &preview.as_set {
            Some((_, access)) => access.clone(),
            None => found.access,
        };
        ClientSession {
            firm,
            contact: found.contact,
            other_companies: found.other_companies,
            portal_version: None,
            access,
            preview: Some(preview),
        }
    }

    /// What the pages' links start with: nothing for the client, the preview's prefix for
    /// staff.
    pub fn link_prefix(&self) -> &str {
        self.preview.as_ref().map_or("", |p| p.prefix.as_str())
    }
}

/// The session if there is one; pages that work either way take this.
#[derive(Clone, Debug)]
pub struct MaybeSession(pub Option<ClientSession>);

impl FromRequestParts<AppState> for MaybeSession {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Error> {
        if let Some(found) = parts.extensions.get::<MaybeSession>() {
            return Ok(found.clone());
        }
        let PortalFirm(firm) = PortalFirm::from_request_parts(parts, state).await?;
        let jar = CookieJar::from_headers(&parts.headers);
        let signed_in = match cookies::get(&jar, cookies::SESSION, state.config.cookie_secure) {
            None => None,
            Some(value) => match sessions::load(state, Audience::Client, value).await? {
                Some(record) if record.firm_id == firm.id => match record.contact_id() {
                    Some(contact_id) => state
                        .store
                        .session_contact(&firm.id, &contact_id)
                        .await?
                        .filter(|c| {
                            c.contact.portal_access && c.contact.auth_epoch == record.epoch
                        }),
                    None => None,
                },
                _ => None,
            },
        };
        let found = signed_in.map(
            |SessionContact {
                 contact,
                 other_companies,
                 portal_version,
                 access,
             }| {
                if let Some(lang) = contact.language.as_deref().and_then(Lang::parse) {
                    i18n::prefer(lang);
                }
                ClientSession {
                    firm,
                    contact,
                    other_companies,
                    portal_version,
                    access,
                    preview: None,
                }
            },
        );
        let found = MaybeSession(found);
        parts.extensions.insert(found.clone());
        Ok(found)
    }
}

impl FromRequestParts<AppState> for ClientSession {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Error> {
        MaybeSession::from_request_parts(parts, state)
            .await?
            .0
            .ok_or(Error::SignInRequired)
    }
}
