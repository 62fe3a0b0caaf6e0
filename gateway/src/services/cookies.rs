//! The gateway's cookies. All are host-only, HttpOnly and SameSite=Lax; with secure cookies on
//! (the default) they are `Secure` and carry the `__Host-` prefix, which browsers only accept
//! from a secure origin, for the exact host, with `Path=/`.

use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
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
