//! Company switching: a single-use token, valid one minute, carries a signed-in client from one
//! firm's host (the origin) to another's (the target). Cookies are host-only, so the session
//! cannot travel itself.
//!
//! The landing is a GET that signs in, so a token that anyone holding it could redeem would be
//! login CSRF: a client of two firms could switch and send the link to someone else, who would
//! land signed in as them (and upload into their portal). The token is therefore bound to the
//! browser that switched, by a round trip that needs no cookie wider than one host (firms may
//! have their own domains later):
//!
//! 1. `POST /companies/switch` at the origin ([`mint`]) writes the record: whom it signs in at
//!    which firm, and a keyed hash of the origin session that asked. On to the target's
//!    `/companies/handover?token=T`.
//! 2. The target ([`begin`]) checks that the record is for it and not yet confirmed, sets a
//!    host-only nonce cookie N, and sends the browser back to the origin's
//!    `/companies/handover/confirm?token=T&nonce=H(N)`. Nothing is used up yet.
//! 3. The origin ([`confirm`]) confirms only for the live session that minted T, and only once,
//!    writing H(N) into the record. On to the target's `/companies/handover/land?token=T`.
//! 4. The target ([`land`]) uses the record up (read and delete in one script) and signs in
//!    only when it was confirmed for the nonce in this browser's cookie.
//!
//! Someone sent a link of any step lacks a half: at steps 2 and 3 their browser holds no origin
//! session that minted T; at step 4 it holds no nonce cookie whose hash the origin confirmed
//! (the sender's is in the sender's browser, set host-only by the target). A token that turns up
//! where the round trip would not bring it is used up: it may have leaked. `Sec-Fetch-Site` is
//! not consulted: older browsers omit it, every firm's portal is `same-site` to every other, and
//! a firm on its own domain would be `cross-site`.
//!
//! The record is a Redis hash under a keyed hash of the token. The fields written at the switch
//! never change, and carry an HMAC (the token's key, [`Purpose::RedisRecord`]) over them and the
//! record's Redis key; the confirmation carries its own. A record that does not verify is
//! refused, deleted and logged.

use std::collections::HashMap;
use std::sync::LazyLock;

use axum_extra::extract::cookie::Cookie;
use portico_shared::ids::ContactId;
use portico_shared::keys::{Purpose, SigningKey};
use portico_shared::now_unix;
use portico_shared::secret::{b64, random_bytes, unb64};
use portico_shared::store::{Contact, Firm};
use redis::{AsyncCommands, Script};

use super::cookies;
use crate::error::Result;
use crate::state::AppState;

/// How long a handover lives, from the switch to the landing: long enough for three redirects.
const LIFETIME_SECS: i64 = 60;

/// KEYS: record. ARGV: the nonce hash, its tag. 1 when this is the record's first
/// confirmation; 0 when it is gone, or was confirmed before (no round trip confirms twice), in
/// which case it is deleted.
static CONFIRM: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if redis.call('HSETNX', KEYS[1], 'nonce', ARGV[1]) == 0 then
  redis.call('DEL', KEYS[1])
  return 0
end
redis.call('HSET', KEYS[1], 'nonce_tag', ARGV[2])
return 1
",
    )
});

/// KEYS: record. Its fields, and the record deleted: of concurrent landings, one gets them.
static CONSUME: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local record = redis.call('HGETALL', KEYS[1])
redis.call('DEL', KEYS[1])
return record
",
    )
});

/// A token, as the key that made it and the Redis key of its record.
struct Handle<'k> {
    /// The token rebuilt from its parts, so that what goes back into a URL is canonical.
    token: String,
    key: &'k SigningKey,
    redis_key: String,
}

fn handle<'s>(state: &'s AppState, token: &str) -> Option<Handle<'s>> {
    let (kid, random) = token.split_once('.')?;
    let random = unb64(random).filter(|r| r.len() == 32)?;
    let key = state.keys().get(kid)?;
    let hash = key.keyed_hash(Purpose::Handover, &[&random]);
    Some(Handle {
        token: format!("{kid}.{}", b64(&random)),
        key,
        redis_key: state.redis_keys.handover(&hash),
    })
}

impl Handle<'_> {
    /// The keyed hash by which the record names a secret it must not hold: the origin's session
    /// cookie, or the target's nonce cookie.
    fn fingerprint(&self, what: &str, secret: &str) -> String {
        self.key
            .keyed_hash(Purpose::Handover, &[what.as_bytes(), secret.as_bytes()])
    }

    /// Whether two fingerprints are the same, in constant time: ring's check of a tag over one
    /// against the other (its plain comparison is deprecated).
    fn same(&self, a: &str, b: &str) -> bool {
        let tag = self.key.sign(Purpose::Handover, &[b"same", a.as_bytes()]);
        self.key
            .verify(Purpose::Handover, &[b"same", b.as_bytes()], tag.as_ref())
    }

    fn confirmation_parts<'a>(&'a self, nonce_hash: &'a str) -> [&'a [u8]; 3] {
        [
            b"handover-confirmation",
            self.redis_key.as_bytes(),
            nonce_hash.as_bytes(),
        ]
    }

    /// The origin's word that `nonce_hash` is the nonce of the browser that switched.
    fn confirmation_tag(&self, nonce_hash: &str) -> String {
        let parts = self.confirmation_parts(nonce_hash);
        b64(self.key.sign(Purpose::RedisRecord, &parts).as_ref())
    }

    fn confirmation_verifies(&self, nonce_hash: &str, tag: &str) -> bool {
        let parts = self.confirmation_parts(nonce_hash);
        unb64(tag).is_some_and(|tag| self.key.verify(Purpose::RedisRecord, &parts, &tag))
    }
}

/// What the switch wrote, none of it changed afterwards.
#[derive(Clone, Debug, PartialEq)]
struct Record {
    /// The target firm, and whom the landing signs in there at which auth epoch.
    firm_id: String,
    contact_id: String,
    epoch: i64,
    /// The origin firm, and the keyed hash of the session cookie that switched there.
    origin_id: String,
    session: String,
    /// The portals' addresses, where the round trip's redirects go.
    origin_url: String,
    target_url: String,
    expires_at: i64,
}

const FIELDS: [&str; 8] = [
    "firm",
    "contact",
    "epoch",
    "origin",
    "session",
    "origin_url",
    "target_url",
    "expires",
];

impl Record {
    fn values(&self) -> [String; 8] {
        [
            self.firm_id.clone(),
            self.contact_id.clone(),
            self.epoch.to_string(),
            self.origin_id.clone(),
            self.session.clone(),
            self.origin_url.clone(),
            self.target_url.clone(),
            self.expires_at.to_string(),
        ]
    }

    fn from_fields(fields: &HashMap<String, String>) -> Option<Record> {
        let field = |name: &str| fields.get(name).cloned();
        Some(Record {
            firm_id: field("firm")?,
            contact_id: field("contact")?,
            epoch: field("epoch")?.parse().ok()?,
            origin_id: field("origin")?,
            session: field("session")?,
            origin_url: field("origin_url")?,
            target_url: field("target_url")?,
            expires_at: field("expires")?.parse().ok()?,
        })
    }

    /// The tag over every field and the record's Redis key, so that a record edited, or
    /// copied under another token, does not verify.
    fn tag(&self, handle: &Handle<'_>) -> String {
        let values = self.values();
        let parts = tag_parts(handle, &values);
        b64(handle.key.sign(Purpose::RedisRecord, &parts).as_ref())
    }

    fn verifies(&self, handle: &Handle<'_>, tag: &str) -> bool {
        let values = self.values();
        let parts = tag_parts(handle, &values);
        unb64(tag).is_some_and(|tag| handle.key.verify(Purpose::RedisRecord, &parts, &tag))
    }

    fn fields(&self, handle: &Handle<'_>) -> Vec<(&'static str, String)> {
        FIELDS
            .into_iter()
            .zip(self.values())
            .chain([("tag", self.tag(handle))])
            .collect()
    }
}

fn tag_parts<'a>(handle: &'a Handle<'_>, values: &'a [String; 8]) -> Vec<&'a [u8]> {
    [b"handover".as_slice(), handle.redis_key.as_bytes()]
        .into_iter()
        .chain(values.iter().map(String::as_bytes))
        .collect()
}

/// A record as read back from Redis.
enum Read {
    Gone,
    /// Fields missing, or a tag that does not verify: written or edited by someone without the
    /// signing keys.
    Forged,
    /// Verified, with the nonce hash the origin confirmed, if it did.
    Found(Record, Option<String>),
}

fn read(handle: &Handle<'_>, fields: &HashMap<String, String>) -> Read {
    if fields.is_empty() {
        return Read::Gone;
    }
    let Some(record) = Record::from_fields(fields) else {
        return Read::Forged;
    };
    if !fields
        .get("tag")
        .is_some_and(|t| record.verifies(handle, t))
    {
        return Read::Forged;
    }
    match (fields.get("nonce"), fields.get("nonce_tag")) {
        (None, None) => Read::Found(record, None),
        (Some(nonce), Some(tag)) if handle.confirmation_verifies(nonce, tag) => {
            Read::Found(record, Some(nonce.clone()))
        }
        _ => Read::Forged,
    }
}

/// Logs why a step refused (never the token, never whom it was for).
fn refused(step: &'static str, reason: &'static str) {
    if reason == "forged" {
        tracing::warn!(
            step,
            "company handover refused: its Redis record does not verify"
        );
    } else {
        tracing::info!(step, reason, "company handover refused");
    }
}

/// Reads the record at a step that does not use it up, and checks what every step checks: it
/// verifies, is for `firm` (as `firm_of` picks it: the target or the origin) and has not
/// expired. Anything else is refused, and the record deleted.
async fn live_record(
    state: &AppState,
    handle: &Handle<'_>,
    step: &'static str,
    firm: &Firm,
    firm_of: fn(&Record) -> &str,
) -> Result<Option<(Record, Option<String>)>> {
    let mut redis = state.redis();
    let fields: HashMap<String, String> = redis.hgetall(&handle.redis_key).await?;
    let reason = match read(handle, &fields) {
        Read::Gone => {
            refused(step, "gone");
            return Ok(None);
        }
        Read::Forged => "forged",
        Read::Found(record, _) if firm_of(&record) != firm.id.as_str() => "other_firm",
        Read::Found(record, _) if now_unix() >= record.expires_at => "expired",
        Read::Found(record, confirmed) => return Ok(Some((record, confirmed))),
    };
    refused(step, reason);
    let _: () = redis.del(&handle.redis_key).await?;
    Ok(None)
}

/// Step 1, `POST /companies/switch` at `origin` by the session whose cookie is
/// `session_cookie`: a token that will sign `contact` in at `target`, through that browser only.
/// Returns the target's link where the round trip starts.
pub async fn mint(
    state: &AppState,
    origin: &Firm,
    session_cookie: &str,
    target: &Firm,
    contact: &Contact,
) -> Result<String> {
    let key = state.keys().active();
    let token = format!("{}.{}", key.id(), b64(&random_bytes::<32>()));
    let handle = handle(state, &token).expect("a fresh token parses");
    let record = Record {
        firm_id: target.id.to_string(),
        contact_id: contact.id.to_string(),
        epoch: contact.auth_epoch,
        origin_id: origin.id.to_string(),
        session: handle.fingerprint("session", session_cookie),
        origin_url: state.config.portal_url(&origin.slug),
        target_url: state.config.portal_url(&target.slug),
        expires_at: now_unix() + LIFETIME_SECS,
    };
    let mut redis = state.redis();
    let () = redis::pipe()
        .atomic()
        .hset_multiple(&handle.redis_key, &record.fields(&handle))
        .ignore()
        .expire_at(&handle.redis_key, record.expires_at)
        .ignore()
        .query_async(&mut redis)
        .await?;
    Ok(format!(
        "{}/companies/handover?token={}",
        record.target_url, handle.token
    ))
}

/// Where the target's first step sends the browser, and the nonce cookie it sets on the way.
pub struct ToOrigin {
    pub url: String,
    pub cookie: Cookie<'static>,
}

/// Step 2, the target's `GET /companies/handover`: a live, unconfirmed token for `firm` gets a
/// nonce cookie on this host and goes back to its origin to be confirmed. `None`: refused.
pub async fn begin(state: &AppState, firm: &Firm, token: &str) -> Result<Option<ToOrigin>> {
    let Some(handle) = handle(state, token) else {
        refused("begin", "malformed");
        return Ok(None);
    };
    let Some((record, confirmed)) =
        live_record(state, &handle, "begin", firm, |r| &r.firm_id).await?
    else {
        return Ok(None);
    };
    if confirmed.is_some() {
        // The round trip passes here once, before the origin confirms.
        refused("begin", "already_confirmed");
        let mut redis = state.redis();
        let _: () = redis.del(&handle.redis_key).await?;
        return Ok(None);
    }
    let nonce = b64(&random_bytes::<32>());
    let url = format!(
        "{}/companies/handover/confirm?token={}&nonce={}",
        record.origin_url,
        handle.token,
        handle.fingerprint("nonce", &nonce)
    );
    let max_age = time::Duration::seconds(LIFETIME_SECS);
    let cookie = cookies::build(
        cookies::HANDOVER,
        nonce,
        Some(max_age),
        state.config.cookie_secure,
    );
    Ok(Some(ToOrigin { url, cookie }))
}

/// What the origin's confirmation leads to.
pub enum Confirmed {
    /// Confirmed: the target's landing.
    Land(String),
    /// Refused; the target's page that says so, when the record named a target.
    Refused(Option<String>),
}

/// Step 3, the origin's `GET /companies/handover/confirm`: confirms, once, only for the live
/// session of `firm` that switched (`session_cookie`, `None` when this browser has none), and
/// records `nonce_hash`, the hash of the nonce the target gave this browser.
pub async fn confirm(
    state: &AppState,
    firm: &Firm,
    session_cookie: Option<&str>,
    token: &str,
    nonce_hash: &str,
) -> Result<Confirmed> {
    let Some(handle) = handle(state, token) else {
        refused("confirm", "malformed");
        return Ok(Confirmed::Refused(None));
    };
    let Some((record, confirmed)) =
        live_record(state, &handle, "confirm", firm, |r| &r.origin_id).await?
    else {
        return Ok(Confirmed::Refused(None));
    };
    let same_session = session_cookie
        .is_some_and(|cookie| handle.same(&record.session, &handle.fingerprint("session", cookie)));
    let well_formed = nonce_hash.len() == 64
        && nonce_hash
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    let reason = if confirmed.is_some() {
        Some("already_confirmed")
    } else if !same_session {
        Some("other_session")
    } else if !well_formed {
        Some("malformed_nonce")
    } else {
        None
    };
    let refusal_page = format!("{}/companies/handover/land", record.target_url);
    let mut redis = state.redis();
    if let Some(reason) = reason {
        refused("confirm", reason);
        let _: () = redis.del(&handle.redis_key).await?;
        return Ok(Confirmed::Refused(Some(refusal_page)));
    }
    let first: i64 = CONFIRM
        .key(&handle.redis_key)
        .arg(nonce_hash)
        .arg(handle.confirmation_tag(nonce_hash))
        .invoke_async(&mut redis)
        .await?;
    if first != 1 {
        refused("confirm", "raced");
        return Ok(Confirmed::Refused(Some(refusal_page)));
    }
    Ok(Confirmed::Land(format!(
        "{}/companies/handover/land?token={}",
        record.target_url, handle.token
    )))
}

/// Whom a landing signs in: the contact, and their auth epoch at the switch (which the caller
/// checks against the database, as access may have been revoked meanwhile).
pub struct Landing {
    pub contact_id: ContactId,
    pub epoch: i64,
}

/// Step 4, the target's `GET /companies/handover/land`: uses the token up, and lets it sign in
/// only when the origin confirmed it for the nonce in this browser's cookie (`nonce_cookie`).
pub async fn land(
    state: &AppState,
    firm: &Firm,
    nonce_cookie: Option<&str>,
    token: &str,
) -> Result<Option<Landing>> {
    let Some(handle) = handle(state, token) else {
        refused("land", "malformed");
        return Ok(None);
    };
    let mut redis = state.redis();
    let fields: HashMap<String, String> = CONSUME
        .key(&handle.redis_key)
        .invoke_async(&mut redis)
        .await?;
    let (record, confirmed) = match read(&handle, &fields) {
        Read::Found(record, confirmed) => (record, confirmed),
        Read::Gone => {
            refused("land", "gone");
            return Ok(None);
        }
        Read::Forged => {
            refused("land", "forged");
            return Ok(None);
        }
    };
    let this_browser = |nonce_hash: &str| {
        nonce_cookie.is_some_and(|c| handle.same(nonce_hash, &handle.fingerprint("nonce", c)))
    };
    let reason = if record.firm_id != firm.id.as_str() {
        "other_firm"
    } else if now_unix() >= record.expires_at {
        "expired"
    } else {
        match confirmed {
            None => "not_confirmed",
            Some(nonce_hash) if !this_browser(&nonce_hash) => "other_browser",
            // A tagged record names a contact id; anything else is no handover.
            Some(_) => match ContactId::parse(&record.contact_id) {
                Some(contact_id) => {
                    return Ok(Some(Landing {
                        contact_id,
                        epoch: record.epoch,
                    }));
                }
                None => "forged",
            },
        }
    };
    refused("land", reason);
    Ok(None)
}

#[cfg(test)]
mod tests {
    use portico_shared::keys::Keyring;

    use super::*;

    fn record() -> Record {
        Record {
            firm_id: "fm_target".into(),
            contact_id: "ct_ann".into(),
            epoch: 3,
            origin_id: "fm_origin".into(),
            session: "a".repeat(64),
            origin_url: "https://origin.example".into(),
            target_url: "https://target.example".into(),
            expires_at: 1_900_000_000,
        }
    }

    fn handle_of<'k>(ring: &'k Keyring, redis_key: &str) -> Handle<'k> {
        Handle {
            token: String::new(),
            key: ring.active(),
            redis_key: redis_key.into(),
        }
    }

    fn stored(record: &Record, handle: &Handle<'_>) -> HashMap<String, String> {
        record
            .fields(handle)
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect()
    }

    #[test]
    fn a_record_verifies_as_written_and_not_once_edited() {
        let ring = Keyring::generate("k1");
        let handle = handle_of(&ring, "p:handover:1");
        let fields = stored(&record(), &handle);
        assert!(matches!(read(&handle, &fields), Read::Found(r, None) if r == record()));

        for field in FIELDS {
            let mut edited = fields.clone();
            edited.insert(field.to_string(), "9".into());
            assert!(matches!(read(&handle, &edited), Read::Forged), "{field}");
            edited.remove(field);
            assert!(matches!(read(&handle, &edited), Read::Forged), "{field}");
        }
        let mut untagged = fields.clone();
        untagged.remove("tag");
        assert!(matches!(read(&handle, &untagged), Read::Forged));

        // Copied under another token's key, or checked with another signing key.
        let elsewhere = handle_of(&ring, "p:handover:2");
        assert!(matches!(read(&elsewhere, &fields), Read::Forged));
        let other_ring = Keyring::generate("k1");
        let other_key = handle_of(&other_ring, "p:handover:1");
        assert!(matches!(read(&other_key, &fields), Read::Forged));
        assert!(matches!(read(&handle, &HashMap::new()), Read::Gone));
    }

    #[test]
    fn a_confirmation_verifies_for_its_nonce_only() {
        let ring = Keyring::generate("k1");
        let handle = handle_of(&ring, "p:handover:1");
        let nonce = handle.fingerprint("nonce", "the cookie");
        let mut fields = stored(&record(), &handle);
        fields.insert("nonce".into(), nonce.clone());
        fields.insert("nonce_tag".into(), handle.confirmation_tag(&nonce));
        assert!(matches!(read(&handle, &fields), Read::Found(_, Some(n)) if n == nonce));

        let other = handle.fingerprint("nonce", "another cookie");
        let mut swapped = fields.clone();
        swapped.insert("nonce".into(), other);
        assert!(matches!(read(&handle, &swapped), Read::Forged));
        let mut untagged = fields.clone();
        untagged.remove("nonce_tag");
        assert!(matches!(read(&handle, &untagged), Read::Forged));
        let elsewhere = handle_of(&ring, "p:handover:2");
        assert!(!elsewhere.confirmation_verifies(&nonce, &fields["nonce_tag"]));
    }

    #[test]
    fn fingerprints_differ_by_what_they_name_and_compare_exactly() {
        let ring = Keyring::generate("k1");
        let handle = handle_of(&ring, "p:handover:1");
        assert_ne!(
            handle.fingerprint("session", "x"),
            handle.fingerprint("nonce", "x")
        );
        assert!(handle.same("ab", "ab"));
        assert!(!handle.same("ab", "ac") && !handle.same("ab", "abc"));
    }
}
