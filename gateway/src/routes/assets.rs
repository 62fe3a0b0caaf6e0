//! Static assets: the portal stylesheet (embedded) and each firm's brand colours.

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;

use crate::extract::PortalFirm;
use crate::state::AppState;

const PORTAL_CSS: &str = include_str!("../../../templates/portal/portal.css");
const DEFAULT_BRAND: &str = "#1d4ed8";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/assets/portal.css", get(portal_css))
        .route("/assets/brand.css", get(brand_css))
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
