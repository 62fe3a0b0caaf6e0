//! The firm's portal settings: `GET/PATCH /api/v1/portal`.

use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use portico_shared::secret::hex;
use portico_shared::store::{Firm, Logo, MenuLink, PortalPatch};
use serde::Deserialize;
use serde_json::{Value, json};

use super::route::{ApiRoute, ok};
use crate::error::{Error, Result};
use crate::http::extract::{ApiFirm, ApiJson};
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

fn view(state: &AppState, firm: &Firm) -> Value {
    let logo = firm.logo_sha256.as_ref().map(|sha| {
        json!({
            "url": format!("{}/assets/logo", state.config.portal_url(&firm.slug)),
            "sha256": sha,
        })
    });
    json!({
        "display_name": firm.portal_name(),
        "logo": logo,
        "brand_color": firm.brand_color,
        "menu_links": firm.menu_links(),
        "billing_enabled": firm.billing_enabled,
        "esign_enabled": firm.esign_enabled,
    })
}

async fn show(State(state): State<AppState>, ApiFirm(firm): ApiFirm) -> Response {
    ok(StatusCode::OK, view(&state, &firm))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UpdatePortal {
    display_name: Option<String>,
    brand_color: Option<String>,
    menu_links: Option<Vec<MenuLink>>,
    billing_enabled: Option<bool>,
    esign_enabled: Option<bool>,
    /// Not settable here: named only to point to the upload route.
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
fn menu_link(link: &MenuLink) -> Result<MenuLink> {
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

async fn update(
    State(state): State<AppState>,
    ApiFirm(firm): ApiFirm,
    ApiJson(body): ApiJson<UpdatePortal>,
) -> Result<Response> {
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
    Ok(ok(StatusCode::OK, view(&state, &firm)))
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

/// `PUT /api/v1/portal/logo`: the body is the image, with its `Content-Type`.
async fn put_logo(
    State(state): State<AppState>,
    ApiFirm(firm): ApiFirm,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response> {
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
    Ok(ok(StatusCode::OK, view(&state, &firm)))
}

async fn delete_logo(State(state): State<AppState>, ApiFirm(firm): ApiFirm) -> Result<Response> {
    let firm = state.store.set_logo(&firm.id, None).await?;
    state.firms.forget(&firm.slug);
    Ok(ok(StatusCode::OK, view(&state, &firm)))
}
