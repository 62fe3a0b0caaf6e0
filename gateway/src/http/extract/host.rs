//! The request's host, and the firm slug it names.

use axum::http::header::HOST;
use axum::http::request::Parts;

/// The request's host name, lower-cased, without the port.
pub fn request_host(parts: &Parts) -> Option<String> {
    let raw = parts
        .headers
        .get(HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| parts.uri.authority().map(|a| a.as_str()))?;
    Some(
        strip_port(raw.trim())
            .trim_end_matches('.')
            .to_ascii_lowercase(),
    )
}

/// `host` of `host:port`; an authority without a numeric port as it is.
pub fn strip_port(authority: &str) -> &str {
    match authority.rsplit_once(':') {
        Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) => host,
        _ => authority,
    }
}

/// The firm slug of `{slug}.{base_domain}`; `None` for any other host.
pub fn firm_slug<'h>(host: &'h str, base_domain: &str) -> Option<&'h str> {
    host.strip_suffix(base_domain)?
        .strip_suffix('.')
        .filter(|slug| !slug.is_empty() && !slug.contains('.'))
}
