//! The gateway's cookies. All are host-only, HttpOnly and SameSite=Lax; with secure cookies on
//! (the default) they are `Secure` and carry the `__Host-` prefix, which browsers only accept
//! from a secure origin, for the exact host, with `Path=/`.

use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use portico_shared::secret::random_string;
use time::Duration;

/// The session of a signed-in client.
pub const SESSION: &str = "session";
/// The session of a signed-in staff member (the console, under `/staff`): a cookie of its
/// own, so signing in or out on one side leaves the other alone.
pub const STAFF_SESSION: &str = "staff";
/// The anchor of CSRF form tokens.
pub const CSRF: &str = "csrf";
/// Set by `POST /login`: lets a link requested in this browser sign in with one click here.
pub const BINDING: &str = "binding";
/// Set by a company handover's first step on the target's host: the nonce whose hash the
/// origin confirms, so that only this browser lands (see `services::handover`).
pub const HANDOVER: &str = "handover";

/// The binding this browser already has (asking twice keeps one binding, so either link
/// signs in with one click), or a fresh one.
pub fn binding_of(jar: &CookieJar, secure: bool) -> String {
    get(jar, BINDING, secure)
        .filter(|b| b.len() == 22)
        .map_or_else(random_string::<16>, str::to_string)
}

/// The binding cookie, kept as long as the server honours the binding (`one_click`:
/// `PORTICO_LOGIN_ONE_CLICK`, which the link record keeps and the consume script checks).
pub fn binding(value: String, one_click: std::time::Duration, secure: bool) -> Cookie<'static> {
    let max_age = Duration::seconds(one_click.as_secs() as i64);
    build(BINDING, value, Some(max_age), secure)
}

pub fn name(base: &str, secure: bool) -> String {
    if secure {
        format!("__Host-portico_{base}")
    } else {
        format!("portico_{base}")
    }
}

pub fn build(
    base: &str,
    value: String,
    max_age: Option<Duration>,
    secure: bool,
) -> Cookie<'static> {
    let mut cookie = Cookie::build((name(base, secure), value))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(secure);
    if let Some(age) = max_age {
        cookie = cookie.max_age(age);
    }
    cookie.build()
}

/// A cookie that tells the browser to forget `base`.
pub fn removal(base: &str, secure: bool) -> Cookie<'static> {
    let mut cookie = build(base, String::new(), Some(Duration::ZERO), secure);
    cookie.make_removal();
    cookie
}

pub fn get<'a>(jar: &'a CookieJar, base: &str, secure: bool) -> Option<&'a str> {
    jar.get(&name(base, secure)).map(|c| c.value())
}
