//! The firm's portal settings: `GET/PATCH /api/v1/portal`.

use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Json;
use portico_shared::policy::{Action, Area};
use portico_shared::store::{Firm, PortalPatch};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{OpenApi, ToSchema};

use super::ErrorBody;
use super::route::{ApiRoute, Binary};
use crate::error::{Error, Result};
use crate::http::extract::{ApiActor, ApiJson};
use crate::services::portal_settings;
use crate::state::AppState;

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
    let display_name = body
        .display_name
        .as_deref()
        .map(portal_settings::display_name)
        .transpose()?;
    let menu_links = match &body.menu_links {
        Some(links) => {
            let pairs: Vec<_> = links
                .iter()
                .map(|l| (l.label.as_str(), l.url.as_str()))
                .collect();
            Some(portal_settings::menu(&pairs)?)
        }
        None => None,
    };
    let patch = PortalPatch {
        display_name,
        brand_color: body
            .brand_color
            .as_deref()
            .map(portal_settings::brand_color)
            .transpose()?,
        menu_links,
        billing_enabled: body.billing_enabled,
        esign_enabled: body.esign_enabled,
    };
    let firm = portal_settings::save(&state, &firm, &patch).await?;
    Ok(Json(view(&state, &firm)))
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
    let bytes = match body {
        Ok(bytes) => bytes,
        Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return Err(portal_settings::logo_too_large());
        }
        Err(e) => return Err(Error::BadRequest(e.body_text())),
    };
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
    let logo = portal_settings::logo(Some(&declared), &bytes)?;
    let firm = portal_settings::set_logo(&state, &firm, Some(&logo)).await?;
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
    let firm = portal_settings::set_logo(&state, &actor.firm, None).await?;
    Ok(Json(view(&state, &firm)))
}
