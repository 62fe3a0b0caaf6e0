//! The firm's portal settings: `GET/PATCH /api/v1/portal`.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use portico_shared::store::{Firm, PortalPatch};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{ApiFirm, ApiJson, ok};
use crate::error::{Error, Result};
use crate::state::AppState;

const MAX_LINKS: usize = 10;
const MAX_LABEL: usize = 40;
const MAX_DISPLAY_NAME: usize = 120;

pub fn router() -> Router<AppState> {
    Router::new().route("/portal", get(show).patch(update))
}

/// A link in the portal's menu.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct MenuLink {
    pub label: String,
    pub url: String,
}

/// The firm's menu links as stored (validated when written; unreadable means none).
pub fn menu_links(firm: &Firm) -> Vec<MenuLink> {
    serde_json::from_str(&firm.menu_links).unwrap_or_default()
}

fn view(firm: &Firm) -> Value {
    json!({
        "display_name": firm.portal_name(),
        "brand_color": firm.brand_color,
        "menu_links": menu_links(firm),
        "billing_enabled": firm.billing_enabled,
        "esign_enabled": firm.esign_enabled,
    })
}

async fn show(ApiFirm(firm): ApiFirm) -> Response {
    ok(StatusCode::OK, view(&firm))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UpdatePortal {
    display_name: Option<String>,
    brand_color: Option<String>,
    menu_links: Option<Vec<MenuLink>>,
    billing_enabled: Option<bool>,
    esign_enabled: Option<bool>,
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
    Ok(ok(StatusCode::OK, view(&firm)))
}
