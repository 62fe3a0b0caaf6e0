//! Static assets: the portal stylesheet and the site icon (embedded), each firm's brand
//! colours and logo. The console's pages, on the same hosts, use the icon too.

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
/// The icon the layouts link (`<link rel=icon>`), and the same drawing as a 32 px PNG in an
/// ICO for browsers and tools that ask for `/favicon.ico` whatever the page says.
const FAVICON_SVG: &str = include_str!("../../../../templates/assets/favicon.svg");
const FAVICON_ICO: &[u8] = include_bytes!("../../../../templates/assets/favicon.ico");
/// The icon changes with a release at most.
const ICON_CACHE: &str = "public, max-age=86400";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/assets/portal.css", get(portal_css))
        .route("/assets/brand.css", get(brand_css))
        .route("/assets/logo", get(logo))
        .route("/assets/favicon.svg", get(favicon_svg))
        .route("/favicon.ico", get(favicon_ico))
}

async fn favicon_svg() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "image/svg+xml"),
            (header::CACHE_CONTROL, ICON_CACHE),
        ],
        FAVICON_SVG,
    )
}

async fn favicon_ico() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "image/x-icon"),
            (header::CACHE_CONTROL, ICON_CACHE),
        ],
        FAVICON_ICO,
    )
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

/// The firm's colour as CSS variables: `--brand` (backgrounds: the header, buttons),
/// `--brand-ink` (text on it) and `--brand-text` (links on the page's light backgrounds), each
/// pair at WCAG AA contrast (4.5:1) whatever colour the firm chose.
async fn brand_css(PortalFirm(firm): PortalFirm) -> impl IntoResponse {
    let colour = parse_hex(&firm.brand_color).map_or(DEFAULT_BRAND, |_| firm.brand_color.as_str());
    let rgb = parse_hex(colour).expect("default colour parses");
    let ink = ink_on(rgb);
    let text = text_colour(rgb);
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        format!(
            ":root {{ --brand: {colour}; --brand-ink: {ink}; --brand-text: {}; }}\n",
            hex_colour(text)
        ),
    )
}

/// WCAG AA for normal text.
const MIN_CONTRAST: f64 = 4.5;
/// The portal's own ink (`--ink` in portal.css).
const DARK_INK: (u8, u8, u8) = (0x11, 0x18, 0x27);
/// The light backgrounds links sit on in portal.css: paper, page, notices and the client's
/// messages.
const LIGHT_BACKGROUNDS: [(u8, u8, u8); 3] =
    [(0xff, 0xff, 0xff), (0xf3, 0xf4, 0xf6), (0xef, 0xf6, 0xff)];

/// WCAG contrast ratio of two colours, 1 to 21.
fn contrast(a: (u8, u8, u8), b: (u8, u8, u8)) -> f64 {
    let (la, lb) = (
        relative_luminance(a.0, a.1, a.2),
        relative_luminance(b.0, b.1, b.2),
    );
    (la.max(lb) + 0.05) / (la.min(lb) + 0.05)
}

/// Text on the brand colour: white or the portal's ink, whichever reads better; black where
/// neither reaches 4.5:1 (a mid-light colour; black always does there).
fn ink_on(brand: (u8, u8, u8)) -> &'static str {
    let white = contrast(brand, (0xff, 0xff, 0xff));
    let dark = contrast(brand, DARK_INK);
    if white >= dark && white >= MIN_CONTRAST {
        "#ffffff"
    } else if dark >= MIN_CONTRAST {
        "#111827"
    } else {
        "#000000"
    }
}

/// The brand colour for links on the page's light backgrounds: itself when dark enough,
/// otherwise darkened (mixed with black) just enough.
fn text_colour(brand: (u8, u8, u8)) -> (u8, u8, u8) {
    let readable = |c: (u8, u8, u8)| {
        LIGHT_BACKGROUNDS
            .iter()
            .all(|&background| contrast(c, background) >= MIN_CONTRAST)
    };
    (0..=100)
        .rev()
        .map(|percent| {
            let scale = |channel: u8| (f64::from(channel) * f64::from(percent) / 100.0) as u8;
            (scale(brand.0), scale(brand.1), scale(brand.2))
        })
        .find(|&c| readable(c))
        .unwrap_or((0, 0, 0))
}

fn hex_colour((r, g, b): (u8, u8, u8)) -> String {
    format!("#{r:02x}{g:02x}{b:02x}")
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Every colour a firm may choose (sampled every 15 steps per channel) gets text at AA
    /// contrast on it and links at AA contrast beside it.
    #[test]
    fn every_brand_colour_gets_readable_text_and_links() {
        for r in (0..=255).step_by(15) {
            for g in (0..=255).step_by(15) {
                for b in (0..=255).step_by(15) {
                    let brand = (r as u8, g as u8, b as u8);
                    let ink = parse_hex(ink_on(brand)).unwrap();
                    assert!(
                        contrast(brand, ink) >= MIN_CONTRAST,
                        "{brand:?} with {ink:?}"
                    );
                    let text = text_colour(brand);
                    for background in LIGHT_BACKGROUNDS {
                        assert!(
                            contrast(text, background) >= MIN_CONTRAST,
                            "{brand:?} as {text:?} on {background:?}"
                        );
                    }
                }
            }
        }
        // Dark enough colours are kept as they are.
        assert_eq!(text_colour((0x1d, 0x4e, 0xd8)), (0x1d, 0x4e, 0xd8));
        assert_eq!(ink_on((0x1d, 0x4e, 0xd8)), "#ffffff");
        assert_eq!(ink_on((0xfa, 0xcc, 0x15)), "#111827");
        // White on this blue is only 3.7:1, the dark ink 4.6:1.
        assert_eq!(ink_on((0x3b, 0x82, 0xf6)), "#111827");
    }
}
