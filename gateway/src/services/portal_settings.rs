//! The firm's portal settings as the API and the console change them: each field checked the
//! same way, then saved with the firm cache told, so the portal shows the change at once.

use portico_shared::secret::hex;
use portico_shared::store::{Firm, Logo, MenuLink, PortalPatch};

use crate::error::{Error, Result};
use crate::state::AppState;

pub const MAX_LINKS: usize = 10;
pub const MAX_LABEL: usize = 40;
pub const MAX_DISPLAY_NAME: usize = 120;
/// Largest logo accepted: a header logo needs far less.
pub const MAX_LOGO: usize = 512 * 1024;

/// 1 to [`MAX_DISPLAY_NAME`] characters, trimmed.
pub fn display_name(value: &str) -> Result<String> {
    let name = value.trim();
    if name.is_empty() || name.chars().count() > MAX_DISPLAY_NAME {
        return Err(Error::invalid(
            "display_name",
            format!("display_name must be 1 to {MAX_DISPLAY_NAME} characters"),
        ));
    }
    Ok(name.to_string())
}

/// `#1d4ed8`: six hex digits, stored lower-case.
pub fn brand_color(value: &str) -> Result<String> {
    let hex = value.trim().strip_prefix('#').unwrap_or("");
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
pub fn menu_link(label: &str, url: &str) -> Result<MenuLink> {
    let label = label.trim();
    if label.is_empty() || label.chars().count() > MAX_LABEL {
        return Err(Error::invalid(
            "menu_links",
            format!("each label must be 1 to {MAX_LABEL} characters"),
        ));
    }
    let refused = || Error::invalid("menu_links", format!("{url:?} is not an https:// link"));
    let parsed = url::Url::parse(url.trim()).map_err(|_| refused())?;
    if parsed.scheme() != "https"
        || parsed.host_str().is_none_or(str::is_empty)
        || !parsed.username().is_empty()
        || parsed.password().is_some()
    {
        return Err(refused());
    }
    Ok(MenuLink {
        label: label.to_string(),
        url: parsed.to_string(),
    })
}

/// The menu as stored (JSON) from `(label, url)` pairs: at most [`MAX_LINKS`], each checked
/// by [`menu_link`].
pub fn menu<'a>(links: &[(&'a str, &'a str)]) -> Result<String> {
    if links.len() > MAX_LINKS {
        return Err(Error::invalid(
            "menu_links",
            format!("at most {MAX_LINKS} menu links"),
        ));
    }
    let links = links
        .iter()
        .map(|(label, url)| menu_link(label, url))
        .collect::<Result<Vec<_>>>()?;
    Ok(serde_json::to_string(&links).expect("links serialize"))
}

/// Saves the patch and forgets the cached firm; the firm as it now is.
pub async fn save(state: &AppState, firm: &Firm, patch: &PortalPatch) -> Result<Firm> {
    let firm = state.store.update_portal(&firm.id, patch).await?;
    state.firms.forget(&firm.slug);
    Ok(firm)
}

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

/// The refusal of a logo over [`MAX_LOGO`].
pub fn logo_too_large() -> Error {
    Error::FieldTooLarge {
        field: "logo",
        message: format!("the logo must be at most {} KB", MAX_LOGO / 1024),
    }
}

/// A logo of `declared` type (`None`: whatever the bytes are, of the accepted types), checked
/// to be PNG, JPEG or WebP in fact, at most [`MAX_LOGO`].
pub fn logo(declared: Option<&str>, bytes: &[u8]) -> Result<Logo> {
    if bytes.len() > MAX_LOGO {
        return Err(logo_too_large());
    }
    let found = sniff(bytes);
    let content_type = match declared {
        Some(declared) => {
            if !["image/png", "image/jpeg", "image/webp"].contains(&declared) {
                return Err(Error::invalid(
                    "logo",
                    format!(
                        "the logo must be sent as image/png, image/jpeg or image/webp, not \
                         {declared:?} (SVG is not accepted: it can carry scripts)"
                    ),
                ));
            }
            if found != Some(declared) {
                return Err(Error::invalid(
                    "logo",
                    format!("the body is not a {declared} image"),
                ));
            }
            declared
        }
        None => found.ok_or_else(|| {
            Error::invalid(
                "logo",
                "the logo must be a PNG, JPEG or WebP image (SVG is not accepted: it can carry \
                 scripts)",
            )
        })?,
    };
    Ok(Logo {
        content_type: content_type.to_string(),
        bytes: bytes.to_vec(),
        sha256: hex(ring::digest::digest(&ring::digest::SHA256, bytes).as_ref()),
    })
}

/// Replaces (or with `None` removes) the logo and forgets the cached firm.
pub async fn set_logo(state: &AppState, firm: &Firm, logo: Option<&Logo>) -> Result<Firm> {
    let firm = state.store.set_logo(&firm.id, logo).await?;
    state.firms.forget(&firm.slug);
    Ok(firm)
}
