//! Company switching: a single-use, short-lived token that carries a signed-in client from one
//! firm's host to another's (cookies are host-only, so the session cannot travel itself).
//! Redis keeps the token's keyed hash for a minute; redeeming is one `GETDEL`.
//!
//! The landing is a GET that signs in, so a token alone would allow login CSRF: a client of
//! two firms could mint one for themselves and, within the minute, send the link to someone
//! else, who would land signed in as them. A real handover arrives as the redirect of a
//! `POST /companies/switch` on another firm's portal, which browsers mark
//! `Sec-Fetch-Site: same-site`; a link opened from a mail or another site says `cross-site` or
//! `none`, and is refused (see [`arrived_from_a_portal`]).

use axum::http::HeaderMap;
use portico_shared::ids::{ContactId, FirmId};
use portico_shared::keys::Purpose;
use portico_shared::secret::{b64, random_bytes, unb64};
use portico_shared::store::{Contact, Firm};
use redis::AsyncCommands;
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::state::AppState;

/// How long a handover token lives: long enough for one redirect.
const LIFETIME_SECS: u64 = 60;

#[derive(Serialize, Deserialize)]
struct Handover {
    firm_id: FirmId,
    contact_id: ContactId,
    epoch: i64,
}

fn redis_key(state: &AppState, token: &str) -> Option<String> {
    let (kid, random) = token.split_once('.')?;
    let random = unb64(random).filter(|r| r.len() == 32)?;
    let key = state.keys().get(kid)?;
    let hash = key.keyed_hash(Purpose::Handover, &[&random]);
    Some(state.redis_keys.other(&format!("handover:{hash}")))
}

/// A token that signs `contact` in at `firm`'s host once, within a minute.
pub async fn mint(state: &AppState, firm: &Firm, contact: &Contact) -> Result<String> {
    let key = state.keys().active();
    let token = format!("{}.{}", key.id(), b64(&random_bytes::<32>()));
    let record = Handover {
        firm_id: firm.id.clone(),
        contact_id: contact.id.clone(),
        epoch: contact.auth_epoch,
    };
    let mut redis = state.redis();
    let () = redis
        .set_ex(
            redis_key(state, &token).expect("fresh token parses"),
            serde_json::to_string(&record).expect("handover serializes"),
            LIFETIME_SECS,
        )
        .await?;
    Ok(token)
}

/// Uses a token up; the contact it was minted for, if it was minted for this firm.
pub async fn redeem(
    state: &AppState,
    firm: &Firm,
    token: &str,
) -> Result<Option<(ContactId, i64)>> {
    let Some(key) = redis_key(state, token) else {
        return Ok(None);
    };
    let mut redis = state.redis();
    let raw: Option<String> = redis.get_del(key).await?;
    Ok(raw
        .and_then(|r| serde_json::from_str::<Handover>(&r).ok())
        .filter(|h| h.firm_id == firm.id)
        .map(|h| (h.contact_id, h.epoch)))
}

/// Whether a landing request may be a handover: it came from a page of the same site (another
/// firm's portal) by the browser's own account. Browsers that do not send `Sec-Fetch-Site`
/// (older than 2023) are let through, as the token still has to be fresh and unused.
pub fn arrived_from_a_portal(headers: &HeaderMap) -> bool {
    match headers.get("sec-fetch-site").map(|v| v.as_bytes()) {
        None => true,
        Some(site) => site == b"same-site" || site == b"same-origin",
    }
}
