//! Cross-site request forgery protection for every state-changing form.
//!
//! Each browser gets a random anchor cookie ([`ensure_anchor`]); a form carries `csrf`, the
//! token `services::csrf` makes of the anchor and the host. [`ProtectedForm`]
//! checks it (and refuses cross-site `Sec-Fetch-Site`/`Origin`) before the handler runs, so a
//! handler that takes a form cannot forget the check. [`ProtectedMultipart`] does the same for
//! uploads, whose forms put the token first.

use axum::extract::multipart::Field;
use axum::extract::{Form, FromRequest, FromRequestParts, Multipart, Request, State};
use axum::http::header::SET_COOKIE;
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::Response;
use axum_extra::extract::cookie::CookieJar;
use portico_shared::secret::random_string;
use serde::de::DeserializeOwned;

use super::host::{request_host, strip_port};
use crate::error::Error;
use crate::services::{cookies, csrf};
use crate::state::AppState;

/// This request's anchor (the CSRF cookie value, or a fresh one being set).
#[derive(Clone)]
pub struct CsrfAnchor(String);

/// Makes sure every browser has an anchor cookie; layered on the portal routes.
pub async fn ensure_anchor(
    State(state): State<AppState>,
    jar: CookieJar,
    mut request: Request,
    next: Next,
) -> Response {
    let secure = state.config.cookie_secure;
    let existing = cookies::get(&jar, cookies::CSRF, secure)
        .filter(|v| v.len() >= 22 && v.len() <= 64)
        .map(str::to_string);
    let fresh = existing.is_none();
    let anchor = existing.unwrap_or_else(random_string::<16>);
    request.extensions_mut().insert(CsrfAnchor(anchor.clone()));
    let mut response = next.run(request).await;
    if fresh {
        let cookie = cookies::build(cookies::CSRF, anchor, None, secure);
        if let Ok(value) = cookie.to_string().parse() {
            response.headers_mut().append(SET_COOKIE, value);
        }
    }
    response
}

/// The token to put in this request's forms.
pub struct CsrfToken(pub String);

fn anchor_and_host(parts: &Parts) -> Result<(String, String), Error> {
    let anchor = parts
        .extensions
        .get::<CsrfAnchor>()
        .map(|a| a.0.clone())
        .ok_or_else(|| Error::Internal(anyhow::anyhow!("CSRF layer missing on this route")))?;
    let host = request_host(parts).ok_or(Error::NotFound)?;
    Ok((anchor, host))
}

impl FromRequestParts<AppState> for CsrfToken {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Error> {
        let (anchor, host) = anchor_and_host(parts)?;
        Ok(CsrfToken(csrf::token(state.keys(), &host, &anchor)))
    }
}

/// A form that carries a CSRF token in its `csrf` field.
pub trait CsrfProtected {
    fn csrf(&self) -> &str;
}

/// A form that carries nothing but its CSRF token (a button: sign out, revoke, delete).
#[derive(serde::Deserialize)]
pub struct CsrfOnly {
    #[serde(default)]
    csrf: String,
}

impl CsrfProtected for CsrfOnly {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// An urlencoded form whose CSRF token has been checked.
pub struct ProtectedForm<T>(pub T);

/// Browsers say where a request comes from; refuse anything that says "another site".
fn cross_site(parts: &Parts, host: &str) -> bool {
    let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok());
    if header("sec-fetch-site").is_some_and(|site| site == "cross-site") {
        return true;
    }
    match header("origin") {
        None | Some("null") => false,
        Some(origin) => url_host(origin).is_none_or(|h| h != host),
    }
}

fn url_host(origin: &str) -> Option<String> {
    let rest = origin.split_once("://")?.1;
    let authority = rest.split('/').next()?;
    Some(strip_port(authority).to_ascii_lowercase())
}

impl<T> FromRequest<AppState> for ProtectedForm<T>
where
    T: DeserializeOwned + CsrfProtected + Send,
{
    type Rejection = Error;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Error> {
        let (parts, body) = request.into_parts();
        let (anchor, host) = anchor_and_host(&parts)?;
        if cross_site(&parts, &host) {
            return Err(Error::Csrf);
        }
        let Form(form) = Form::<T>::from_request(Request::from_parts(parts, body), state)
            .await
            .map_err(|e| Error::BadRequest(e.body_text()))?;
        if !csrf::is_valid(state.keys(), &host, &anchor, form.csrf()) {
            return Err(Error::Csrf);
        }
        Ok(ProtectedForm(form))
    }
}

/// A multipart form whose first field, `csrf`, has been checked; the rest is left to read.
/// Checking the token before the file means a forged upload is refused before it is stored.
pub struct ProtectedMultipart(pub Multipart);

impl FromRequest<AppState> for ProtectedMultipart {
    type Rejection = Error;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Error> {
        let (parts, body) = request.into_parts();
        let (anchor, host) = anchor_and_host(&parts)?;
        if cross_site(&parts, &host) {
            return Err(Error::Csrf);
        }
        let mut multipart = Multipart::from_request(Request::from_parts(parts, body), state)
            .await
            .map_err(|_| {
                Error::UnsupportedMediaType("send the form as multipart/form-data".into())
            })?;
        let token = match multipart.next_field().await {
            Ok(Some(field)) if field.name() == Some("csrf") => bounded_text(field).await,
            _ => None,
        };
        if !token.is_some_and(|t| csrf::is_valid(state.keys(), &host, &anchor, &t)) {
            return Err(Error::Csrf);
        }
        Ok(ProtectedMultipart(multipart))
    }
}

/// The most a `csrf` field may hold; real tokens are well under it.
const MAX_TOKEN: usize = 256;

/// The field's text, read chunk by chunk; `None` when it grows past [`MAX_TOKEN`] or is not
/// UTF-8. Past the bound nothing more is kept: the rest of the field is read and dropped chunk
/// by chunk (within the route's body limit), so the browser gets the refusal instead of a
/// connection closed under it.
async fn bounded_text(mut field: Field<'_>) -> Option<String> {
    let mut bytes = Vec::with_capacity(MAX_TOKEN);
    let mut over = false;
    while let Some(chunk) = field.chunk().await.ok()? {
        if over || bytes.len() + chunk.len() > MAX_TOKEN {
            over = true;
            continue;
        }
        bytes.extend_from_slice(&chunk);
    }
    if over {
        return None;
    }
    String::from_utf8(bytes).ok()
}
