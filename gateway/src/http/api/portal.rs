//! The firm's portal settings: `GET/PATCH /api/v1/portal`.

use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Json;
use portico_shared::policy::{Action, Area};
use portico_shared::secret::hex;
use portico_shared::store::{Firm, Logo, MenuLink, PortalPatch};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{OpenApi, ToSchema};

use super::ErrorBody;
use super::route::{ApiRoute, Binary};
use crate::error::{Error, Result};
use crate::http::extract::{ApiActor, ApiJson};
use crate::state::AppState;

const MAX_LINKS: usize = 10;
const MAX_LABEL: usize = 40;
const MAX_DISPLAY_NAME: usize = 120;

pub fn routes() -> Vec<ApiRoute> {
    vec![
        ApiRoute::get("/portal", show),
        ApiRoute::patch("/portal", update),
        ApiRoute::put("/portal/logo", put_logo),
        ApiRoute::delete("/portal/logo", delete_logo),
    ]
}

#[derive(OpenApi)]
#[openapi(paths(show, update, put_logo, delete_logo))]
pub struct Doc;

/// The portal's settings, as clients see them.
#[derive(Serialize, ToSchema)]
#[schema(as = Portal)]
pub struct PortalView {
    /// The name the portal shows
    display_name: String,
    /// The portal logo, null when there is none.
    #[schema(required = true)]
    logo: Option<LogoView>,
    #[schema(example = "#1d4ed8")]
    brand_color: String,
    menu_links: Vec<MenuLinkBody>,
    billing_enabled: bool,
    esign_enabled: bool,
}

/// The portal logo.
#[derive(Serialize, ToSchema)]
#[schema(as = Logo)]
pub struct LogoView {
    /// Where clients' browsers load it
    #[schema(format = "uri")]
    url: String,
    /// Hex SHA-256 of the image
    sha256: String,
}

/// A link in the portal's menu.
#[derive(Serialize, Deserialize, ToSchema)]
// Named as the stored link it becomes, so refusals read as they always have.
#[serde(deny_unknown_fields, rename = "MenuLink")]
#[schema(as = MenuLink)]
pub struct MenuLinkBody {
    #[schema(min_length = 1, max_length = 40)]
    label: String,
    #[schema(format = "uri", pattern = "^https://", max_length = 2000)]
    url: String,
}

fn view(state: &AppState, firm: &Firm) -> PortalView {
    let logo = firm.logo_sha256.as_ref().map(|sha| LogoView {
        url: format!("{}/assets/logo", state.config.portal_url(&firm.slug)),
        sha256: sha.clone(),
    });
    PortalView {
        display_name: firm.portal_name().to_string(),
        logo,
        brand_color: firm.brand_color.clone(),
        menu_links: firm
            .menu_links()
            .into_iter()
            .map(|link| MenuLinkBody {
                label: link.label,
                url: link.url,
            })
            .collect(),
        billing_enabled: firm.billing_enabled,
        esign_enabled: firm.esign_enabled,
    }
}

/// Portal settings
#[utoipa::path(
    get,
    path = "/portal",
    tag = "Portal",
    operation_id = "getPortal",
    responses((status = 200, description = "The settings", body = PortalView))
)]
async fn show(State(state): State<AppState>, actor: ApiActor) -> Result<Json<PortalView>> {
    actor.scope(Area::PortalSettings, Action::View)?;
    Ok(Json(view(&state, &actor.firm)))
}

/// Fields left out stay as they are. The logo is uploaded with PUT /portal/logo; naming
/// `logo` here is refused with 422.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = PortalPatch)]
pub struct UpdatePortal {
    #[schema(min_length = 1, max_length = 120, nullable = false)]
    display_name: Option<String>,
    #[schema(pattern = "^#[0-9a-fA-F]{6}$", nullable = false)]
    brand_color: Option<String>,
    #[schema(max_items = 10, nullable = false)]
    menu_links: Option<Vec<MenuLinkBody>>,
    #[schema(nullable = false)]
    billing_enabled: Option<bool>,
    #[schema(nullable = false)]
    esign_enabled: Option<bool>,
    /// Not settable here: named only to point to the upload route.
    #[schema(ignore)]
    logo: Option<Value>,
}

/// `#1d4ed8`: six hex digits, stored lower-case.
fn brand_color(value: &str) -> Result<String> {
    let hex = value.strip_prefix('#').unwrap_or("");
    if hex.len() == 6 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(format!("#{}", hex.to_ascii_lowercase()))
    } else {
        Err(Error::invalid(
            "brand_color",
            "brand_color must be a colour like #1d4ed8",
        ))
    }
}

/// Only `https` links to a real host: no `javascript:`, `data:` or credentials in the URL.
fn menu_link(link: &MenuLinkBody) -> Result<MenuLink> {
    let label = link.label.trim();
    if label.is_empty() || label.chars().count() > MAX_LABEL {
        return Err(Error::invalid(
            "menu_links",
            format!("each label must be 1 to {MAX_LABEL} characters"),
        ));
    }
    let refused = || {
        Error::invalid(
            "menu_links",
            format!("{:?} is not an https:// link", link.url),
        )
    };
    let url = url::Url::parse(link.url.trim()).map_err(|_| refused())?;
    if url.scheme() != "https"
        || url.host_str().is_none_or(str::is_empty)
        || !url.username().is_empty()
        || url.password().is_some()
    {
        return Err(refused());
    }
    Ok(MenuLink {
        label: label.to_string(),
        url: url.to_string(),
    })
}

/// Change portal settings
#[utoipa::path(
    patch,
    path = "/portal",
    tag = "Portal",
    operation_id = "updatePortal",
    request_body = UpdatePortal,
    responses((status = 200, description = "The settings now", body = PortalView))
)]
async fn update(
    State(state): State<AppState>,
    actor: ApiActor,
    ApiJson(body): ApiJson<UpdatePortal>,
) -> Result<Json<PortalView>> {
    actor.scope(Area::PortalSettings, Action::Edit)?;
    let firm = actor.firm;
    if body.logo.is_some() {
        return Err(Error::invalid(
            "logo",
            "upload the logo with PUT /api/v1/portal/logo (the image as the body), remove it \
             with DELETE /api/v1/portal/logo",
        ));
    }
    let display_name = match body.display_name.as_deref().map(str::trim) {
        Some(name) if name.is_empty() || name.chars().count() > MAX_DISPLAY_NAME => {
            return Err(Error::invalid(
                "display_name",
                format!("display_name must be 1 to {MAX_DISPLAY_NAME} characters"),
            ));
        }
        other => other.map(str::to_string),
    };
    let menu_links = match &body.menu_links {
        Some(links) if links.len() > MAX_LINKS => {
            return Err(Error::invalid(
                "menu_links",
                format!("at most {MAX_LINKS} menu links"),
            ));
        }
        Some(links) => {
            let links = links.iter().map(menu_link).collect::<Result<Vec<_>>>()?;
            Some(serde_json::to_string(&links).expect("links serialize"))
        }
        None => None,
    };
    let patch = PortalPatch {
        display_name,
        brand_color: body.brand_color.as_deref().map(brand_color).transpose()?,
        menu_links,
        billing_enabled: body.billing_enabled,
        esign_enabled: body.esign_enabled,
    };
    let firm = state.store.update_portal(&firm.id, &patch).await?;
    state.firms.forget(&firm.slug);
    Ok(Json(view(&state, &firm)))
}

/// Largest logo accepted: a header logo needs far less.
pub const MAX_LOGO: usize = 512 * 1024;

/// The image type the bytes really are, of the ones a logo may be. SVG is never one: it can
/// carry scripts.
fn sniff(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if bytes.starts_with(&[0xff, 0xd8, 0xff]) {
        Some("image/jpeg")
    } else if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Some("image/webp")
    } else {
        None
    }
}

/// Upload the portal logo
///
/// The request body is the image itself (not multipart), with its Content-Type: image/png,
/// image/jpeg or image/webp, at most 512 KB. The bytes must really be of that type; SVG is
/// refused (it can carry scripts). Errors name the field `logo`. Served to clients at
/// `{portal_url}/assets/logo`.
#[utoipa::path(
    put,
    path = "/portal/logo",
    tag = "Portal",
    operation_id = "putLogo",
    request_body(content(
        (inline(Binary) = "image/png"),
        (inline(Binary) = "image/jpeg"),
        (inline(Binary) = "image/webp"),
    )),
    responses(
        (status = 200, description = "The settings now", body = PortalView),
        (status = 400, description = "The body could not be read", body = ErrorBody),
        (status = 413, description = "The logo is larger than 512 KB (`field`: `logo`)", body = ErrorBody),
        (status = 422, description = "Not a PNG, JPEG or WebP image, or not of its `Content-Type` (`field`: `logo`)", body = ErrorBody),
    )
)]
async fn put_logo(
    State(state): State<AppState>,
    actor: ApiActor,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<PortalView>> {
    actor.scope(Area::PortalSettings, Action::Edit)?;
    let firm = actor.firm;
    let too_large = || Error::FieldTooLarge {
        field: "logo",
        message: format!("the logo must be at most {} KB", MAX_LOGO / 1024),
    };
    let bytes = match body {
        Ok(bytes) => bytes,
        Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => return Err(too_large()),
        Err(e) => return Err(Error::BadRequest(e.body_text())),
    };
    if bytes.len() > MAX_LOGO {
        return Err(too_large());
    }
    let declared = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase()
        })
        .unwrap_or_default();
    if !["image/png", "image/jpeg", "image/webp"].contains(&declared.as_str()) {
        return Err(Error::invalid(
            "logo",
            format!(
                "the logo must be sent as image/png, image/jpeg or image/webp, not {:?} \
                 (SVG is not accepted: it can carry scripts)",
                declared
            ),
        ));
    }
    match sniff(&bytes) {
        Some(found) if found == declared => {}
        _ => {
            return Err(Error::invalid(
                "logo",
                format!("the body is not a {declared} image"),
            ));
        }
    }
    let sha256 = hex(ring::digest::digest(&ring::digest::SHA256, &bytes).as_ref());
    let logo = Logo {
        content_type: declared,
        bytes: bytes.to_vec(),
        sha256,
    };
    let firm = state.store.set_logo(&firm.id, Some(&logo)).await?;
    state.firms.forget(&firm.slug);
    Ok(Json(view(&state, &firm)))
}

/// Remove the portal logo
#[utoipa::path(
    delete,
    path = "/portal/logo",
    tag = "Portal",
    operation_id = "deleteLogo",
    responses((status = 200, description = "The settings now", body = PortalView))
)]
async fn delete_logo(State(state): State<AppState>, actor: ApiActor) -> Result<Json<PortalView>> {
    actor.scope(Area::PortalSettings, Action::Edit)?;
    let firm = actor.firm;
    let firm = state.store.set_logo(&firm.id, None).await?;
    state.firms.forget(&firm.slug);
    Ok(Json(view(&state, &firm)))
}
