//! Sessions, kept in Redis under a keyed hash of the cookie value (so Redis contents cannot be
//! replayed as cookies). A session expires after the idle lifetime without requests (each
//! request pushes the expiry back) and after the absolute lifetime in any case. It records the
//! subject's auth epoch; a bump of the epoch (access revoked, email changed) ends it.
//!
//! Clients and staff have sessions of the same shape, told apart by their [`Audience`]: each
//! has its own cookie, its own subkey for the Redis key and its own key namespace, so a
//! client's cookie value never names a staff session, nor the reverse.
//!
//! A record carries a tag (`Keyring::tag_record`) over its Redis key and all its fields, so
//! a record copied over another session's key, or edited, is no session at all; and since the
//! tag and the key both come from a signing key, retiring that key ends its sessions.

use axum_extra::extract::cookie::{Cookie, CookieJar};
use portico_shared::ids::{ContactId, FirmId, MemberId};
use portico_shared::keys::Purpose;
use portico_shared::now_unix;
use portico_shared::secret::{b64, random_bytes, unb64};
use redis::AsyncCommands;
use serde::{Deserialize, Serialize};

use super::cookies;
use crate::error::Result;
use crate::state::AppState;

/// Whose session: a client's (the portal) or a staff member's (the console).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Audience {
    Client,
    Staff,
}

impl Audience {
    /// The cookie the session travels in.
    pub fn cookie(self) -> &'static str {
        match self {
            Audience::Client => cookies::SESSION,
            Audience::Staff => cookies::STAFF_SESSION,
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SessionRecord {
    /// The contact's id (client sessions) or the member's (staff sessions).
    #[serde(rename = "c")]
    subject: String,
    #[serde(rename = "f")]
    pub firm_id: FirmId,
    #[serde(rename = "e")]
    pub epoch: i64,
    #[serde(rename = "t")]
    pub created_at: i64,
    /// The tag over the Redis key and the fields above.
    #[serde(rename = "m", default)]
    tag: String,
}

impl SessionRecord {
    fn tag_parts<'a>(&'a self, key: &'a str, numbers: &'a [String; 2]) -> [&'a [u8]; 5] {
        [
            key.as_bytes(),
            self.subject.as_bytes(),
            self.firm_id.as_str().as_bytes(),
            numbers[0].as_bytes(),
            numbers[1].as_bytes(),
        ]
    }

    fn numbers(&self) -> [String; 2] {
        [self.epoch.to_string(), self.created_at.to_string()]
    }

    /// The signed-in contact, for a client session.
    pub fn contact_id(&self) -> Option<ContactId> {
        ContactId::parse(&self.subject)
    }

    /// The signed-in member, for a staff session.
    pub fn member_id(&self) -> Option<MemberId> {
        MemberId::parse(&self.subject)
    }
}

/// The Redis key of a cookie value `{key id}.{random}`; `None` for junk or a retired key.
fn redis_key(state: &AppState, audience: Audience, cookie_value: &str) -> Option<String> {
    let (kid, random) = cookie_value.split_once('.')?;
    let random = unb64(random).filter(|r| r.len() == 32)?;
    let key = state.keys().get(kid)?;
    Some(match audience {
        Audience::Client => state
            .redis_keys
            .session(&key.keyed_hash(Purpose::Session, &[&random])),
        Audience::Staff => state
            .redis_keys
            .staff_session(&key.keyed_hash(Purpose::StaffSession, &[&random])),
    })
}

/// Starts a session for `subject` (a contact's id for a client, a member's for staff) and
/// returns its cookie. Any session of the same audience this browser had is ended first, so
/// the id always changes at sign-in.
pub async fn start(
    state: &AppState,
    audience: Audience,
    previous: Option<&str>,
    firm_id: &FirmId,
    subject: &str,
    epoch: i64,
) -> Result<Cookie<'static>> {
    let key = state.keys().active();
    let random = random_bytes::<32>();
    let value = format!("{}.{}", key.id(), b64(&random));
    let key_of_session = redis_key(state, audience, &value).expect("fresh session value parses");
    let mut record = SessionRecord {
        subject: subject.to_string(),
        firm_id: firm_id.clone(),
        epoch,
        created_at: now_unix(),
        tag: String::new(),
    };
    record.tag = state
        .keys()
        .tag_record(&record.tag_parts(&key_of_session, &record.numbers()));
    let mut redis = state.redis();
    let mark = redis.mark();
    // Two commands, not one pipeline: each session key is tagged by its own hash, so the two
    // may live on different cluster nodes. The old one goes first: a failure in between
    // leaves this browser signed out, never with two sessions.
    if let Some(old) = previous.and_then(|p| redis_key(state, audience, p)) {
        let _: () = redis.del(old).await?;
    }
    let _: () = redis
        .set_ex(
            key_of_session,
            serde_json::to_string(&record).expect("session serializes"),
            state.config.session_idle.as_secs(),
        )
        .await?;
    // The session, and the link or handover consumed before it, survive a failover.
    redis.replicated(mark).await?;
    state.metrics.sessions_started.inc();
    let max_age = time::Duration::seconds(state.config.session_absolute.as_secs() as i64);
    Ok(cookies::build(
        audience.cookie(),
        value,
        Some(max_age),
        state.config.cookie_secure,
    ))
}

/// The live session behind a cookie value, its idle expiry pushed back; `None` when there is
/// none, it has expired, or it is past its absolute lifetime.
pub async fn load(
    state: &AppState,
    audience: Audience,
    cookie_value: &str,
) -> Result<Option<SessionRecord>> {
    let Some(key) = redis_key(state, audience, cookie_value) else {
        return Ok(None);
    };
    let mut redis = state.redis();
    let idle = state.config.session_idle.as_secs();
    let raw: Option<String> = redis.get_ex(&key, redis::Expiry::EX(idle)).await?;
    let Some(record) = raw.and_then(|r| serde_json::from_str::<SessionRecord>(&r).ok()) else {
        return Ok(None);
    };
    if !state
        .keys()
        .verify_record(&record.tag, &record.tag_parts(&key, &record.numbers()))
    {
        tracing::warn!("a session record in Redis does not verify: refused");
        return Ok(None);
    }
    let absolute = state.config.session_absolute.as_secs() as i64;
    if now_unix() >= record.created_at + absolute {
        let _: () = redis.del(&key).await?;
        return Ok(None);
    }
    Ok(Some(record))
}

/// Signing out: ends the `audience`'s session of this browser, if any, and answers the jar
/// that tells the browser to forget its cookie.
pub async fn sign_out(state: &AppState, audience: Audience, jar: CookieJar) -> Result<CookieJar> {
    let secure = state.config.cookie_secure;
    if let Some(value) = cookies::get(&jar, audience.cookie(), secure) {
        end(state, audience, value).await?;
    }
    Ok(jar.add(cookies::removal(audience.cookie(), secure)))
}

/// Ends the session behind a cookie value.
pub async fn end(state: &AppState, audience: Audience, cookie_value: &str) -> Result<()> {
    if let Some(key) = redis_key(state, audience, cookie_value) {
        let mut redis = state.redis();
        let mark = redis.mark();
        let _: () = redis.del(key).await?;
        // A failover must not bring back a session its owner ended.
        redis.replicated(mark).await?;
    }
    Ok(())
}
