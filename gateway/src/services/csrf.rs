//! CSRF tokens: a form carries `csrf`, an HMAC (under the signing keys' CSRF subkey) of the
//! browser's random anchor cookie and the host, so a token is worthless on another host or in
//! another browser. The extractors that check it are in `http::extract::csrf`.

use portico_shared::keys::{Keyring, Purpose};
use portico_shared::secret::{b64, unb64};

/// The token for forms served on `host` to the browser with this anchor.
pub fn token(keys: &Keyring, host: &str, anchor: &str) -> String {
    let key = keys.active();
    let tag = key.sign(Purpose::Csrf, &[host.as_bytes(), anchor.as_bytes()]);
    format!("{}.{}", key.id(), b64(tag.as_ref()))
}

/// Whether `submitted` is the token of this host and anchor, under any key still verifying.
pub fn is_valid(keys: &Keyring, host: &str, anchor: &str, submitted: &str) -> bool {
    let Some((kid, tag)) = submitted.split_once('.') else {
        return false;
    };
    let (Some(key), Some(tag)) = (keys.get(kid), unb64(tag)) else {
        return false;
    };
    key.verify(Purpose::Csrf, &[host.as_bytes(), anchor.as_bytes()], &tag)
}
