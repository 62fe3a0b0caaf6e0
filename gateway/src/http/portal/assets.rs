//! Static assets: the portal stylesheet (embedded) and each firm's brand colours.

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::error::{Error, Result};
use crate::http::extract::PortalFirm;
use crate::state::AppState;

const PORTAL_CSS: &str = include_str!("../../../../templates/portal/portal.css");
const DEFAULT_BRAND: &str = "#1d4ed8";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/assets/portal.css", get(portal_css))
        .route("/assets/brand.css", get(brand_css))
        .route("/assets/logo", get(logo))
}

/// The firm's logo. Its type was sniffed on upload; `nosniff` keeps browsers to it.
async fn logo(
    State(state): State<AppState>,
    PortalFirm(firm): PortalFirm,
    headers: HeaderMap,
) -> Result<Response> {
    if firm.logo_sha256.is_none() {
        return Err(Error::NotFound);
    }
    let logo = state.store.logo(&firm.id).await?.ok_or(Error::NotFound)?;
    let etag = format!("\"{}\"", logo.sha256);
    let cached = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
    let common = [
        (header::ETAG, etag.clone()),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_string()),
        // Pages link it with its version, so a changed logo shows within minutes at most.
        (header::CACHE_CONTROL, "public, max-age=300".to_string()),
    ];
    if cached {
        return Ok((StatusCode::NOT_MODIFIED, common).into_response());
    }
    Ok((
        common,
        [(header::CONTENT_TYPE, logo.content_type)],
        logo.bytes,
    )
        .into_response())
}

async fn portal_css() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        PORTAL_CSS,
    )
}

/// The firm's colour as CSS variables, with a text colour that keeps contrast on it.
async fn brand_css(PortalFirm(firm): PortalFirm) -> impl IntoResponse {
    let colour = parse_hex(&firm.brand_color).map_or(DEFAULT_BRAND, |_| firm.brand_color.as_str());
    let (r, g, b) = parse_hex(colour).expect("default colour parses");
    let ink = if relative_luminance(r, g, b) > 0.4 {
        "#111827"
    } else {
        "#ffffff"
    };
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        format!(":root {{ --brand: {colour}; --brand-ink: {ink}; }}\n"),
    )
}

fn parse_hex(colour: &str) -> Option<(u8, u8, u8)> {
    let hex = colour.strip_prefix('#').filter(|h| h.len() == 6)?;
    let byte = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).ok();
    Some((byte(0)?, byte(2)?, byte(4)?))
}

/// WCAG relative luminance, 0 (black) to 1 (white).
fn relative_luminance(r: u8, g: u8, b: u8) -> f64 {
    let channel = |c: u8| {
        let c = f64::from(c) / 255.0;
        if c <= 0.039_28 {
            c / 12.92
        } else {
            ((c + 0.055) / 1.055).powf(2.4)
        }
    };
    0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)
}
