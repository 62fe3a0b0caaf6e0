//! Magic links in Redis: issuing (with the per-email rate limit and the mail job, in one atomic
//! script) and consuming (checking the code or the browser binding and deleting the link, in
//! another). Consumption is the `DEL` inside the script: of any number of concurrent attempts,
//! exactly one sees the link and wins.
//!
//! A link record is a Redis hash: `contact`, `epoch` (the contact's auth epoch when issued),
//! `purpose`, `code` (keyed hash of the short code), `bind` (keyed hash of the binding cookie,
//! or empty), `fails` (wrong codes so far). Its TTL is the link's lifetime.

use std::sync::LazyLock;
use std::time::Duration;

use portico_shared::email::Email;
use portico_shared::keys::Purpose;
use portico_shared::mail::{FirmBrand, LinkSecrets, MailJob, Recipient, Template};
use portico_shared::now_unix;
use portico_shared::store::{Contact, Firm};
use portico_shared::token::{LinkPurpose, MintedLink, VerifiedLink, binding_hash, mint_link};
use redis::Script;

use crate::error::Result;
use crate::state::AppState;

/// Wrong codes after which a link is void.
pub const MAX_CODE_ATTEMPTS: u32 = 5;

/// KEYS: rate counter (or ""), link, mail stream, previous-link pointer (or "").
/// ARGV: window secs, limit, expires_at, job JSON, link key prefix, lookup, stream cap (0 for
/// none), hash field/values…
/// Returns {1, 0} when issued, {0, ttl} when over the limit.
static ISSUE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
if KEYS[1] ~= '' then
  local n = redis.call('INCR', KEYS[1])
  if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
  if n > tonumber(ARGV[2]) then
    return {0, redis.call('TTL', KEYS[1])}
  end
end
redis.call('HSET', KEYS[2], unpack(ARGV, 8))
redis.call('EXPIREAT', KEYS[2], ARGV[3])
if KEYS[4] ~= '' then
  local previous = redis.call('GET', KEYS[4])
  if previous then redis.call('DEL', ARGV[5] .. previous) end
  redis.call('SET', KEYS[4], ARGV[6], 'EXAT', ARGV[3])
end
if ARGV[7] == '0' then
  redis.call('XADD', KEYS[3], '*', 'job', ARGV[4])
else
  redis.call('XADD', KEYS[3], 'MAXLEN', ARGV[7], '*', 'job', ARGV[4])
end
return {1, 0}
"#,
    )
});

/// KEYS: link. ARGV: proof field ('code' or 'bind'), proof hash, max wrong codes.
/// Returns {'ok', contact, epoch, purpose} | {'wrong', attempts left} | {'void'} | {'gone'}.
static CONSUME: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
local stored = redis.call('HGET', KEYS[1], ARGV[1])
if not stored then return {'gone'} end
if stored ~= '' and stored == ARGV[2] then
  local record = redis.call('HMGET', KEYS[1], 'contact', 'epoch', 'purpose')
  redis.call('DEL', KEYS[1])
  return {'ok', record[1], record[2], record[3]}
end
if ARGV[1] ~= 'code' then return {'wrong', -1} end
local fails = redis.call('HINCRBY', KEYS[1], 'fails', 1)
if fails >= tonumber(ARGV[3]) then
  redis.call('DEL', KEYS[1])
  return {'void'}
end
return {'wrong', tonumber(ARGV[3]) - fails}
"#,
    )
});

pub enum Issued {
    /// Issued, or nothing to issue: the answer to the client is the same either way.
    Done,
    RateLimited(Duration),
}

struct Issue<'a> {
    firm: &'a Firm,
    contact: &'a Contact,
    purpose: LinkPurpose,
    template: Template,
    binding: Option<&'a str>,
    pointer: Option<String>,
    /// False for an address without access: everything is computed and written the same
    /// way, but to keys kept for the purpose (see [`run_issue`]), so the answer takes the same
    /// time.
    real: bool,
}

/// `POST /login`: counts the request against the email's limit and, when the email belongs to
/// a contact with portal access, mints a login link bound to this browser and enqueues its
/// email. For any other address the same link and job are computed and written where nothing
/// reads them: known and unknown addresses cost the same.
pub async fn request_login(
    state: &AppState,
    firm: &Firm,
    email: &Email,
    contact: Option<&Contact>,
    binding: &str,
) -> Result<Issued> {
    let email_hash = state
        .keys()
        .active()
        .keyed_hash(Purpose::RateKey, &[email.normalized().as_bytes()]);
    let rate_key = state.redis_keys.email_rate(&firm.id, &email_hash);
    let limit = state.config.login_per_email;
    let decoy;
    let (contact, real) = match contact.filter(|c| c.portal_access) {
        Some(contact) => (contact, true),
        None => {
            decoy = decoy_contact(firm, email);
            (&decoy, false)
        }
    };
    let issue = Issue {
        firm,
        contact,
        purpose: LinkPurpose::Login,
        template: Template::LoginLink,
        binding: Some(binding),
        pointer: state.config.new_link_voids_old.then(|| {
            state
                .redis_keys
                .other(&format!("latest-login:{}", contact.id))
        }),
        real,
    };
    let outcome = run_issue(state, Some((rate_key, limit.per, limit.count)), issue).await?;
    match &outcome {
        Issued::RateLimited(_) => state.metrics.rate_limited("email"),
        Issued::Done if real => state.metrics.link_issued("login"),
        Issued::Done => {}
    }
    Ok(outcome)
}

/// A stand-in for an address without access, shaped like a real contact so that minting and
/// sealing cost the same.
fn decoy_contact(firm: &Firm, email: &Email) -> Contact {
    Contact {
        id: portico_shared::ids::new_id("ct"),
        firm_id: firm.id.clone(),
        name: String::new(),
        email: email.as_str().to_string(),
        portal_access: false,
        auth_epoch: 0,
        last_login_at: None,
        created_at: 0,
        updated_at: 0,
        language: None,
        notify_task_shared: true,
        notify_signature_requested: true,
        notify_request_reply: true,
    }
}

/// Staff send (or resend) an invitation; a new one voids the earlier. Returns its expiry.
pub async fn invite(state: &AppState, firm: &Firm, contact: &Contact) -> Result<i64> {
    let issue = Issue {
        firm,
        contact,
        purpose: LinkPurpose::Invitation,
        template: Template::Invitation,
        binding: None,
        pointer: Some(state.redis_keys.invitation(&contact.id)),
        real: true,
    };
    let expires_at = now_unix() + state.config.link_ttl.as_secs() as i64;
    run_issue(state, None, issue).await?;
    state.metrics.link_issued("invitation");
    Ok(expires_at)
}

async fn run_issue(
    state: &AppState,
    rate: Option<(String, Duration, u32)>,
    issue: Issue<'_>,
) -> Result<Issued> {
    let (window, limit) = rate
        .as_ref()
        .map_or((0, 0), |(_, per, count)| (per.as_secs(), *count));
    let expires_at = now_unix() + state.config.link_ttl.as_secs() as i64;
    let minted = mint_link(state.keys(), &issue.firm.id, issue.purpose, expires_at);
    let job = mail_job(state, &issue, &minted);
    let bind = issue
        .binding
        .map(|b| binding_hash(state.keys().active(), b))
        .unwrap_or_default();
    let keys = &state.redis_keys;
    // A decoy's writes are the real ones' (a link record, a pointer, a stream entry), on three
    // keys that are overwritten each time and that nothing reads: the stream is capped at one
    // entry, and the link key is outside the link prefix, so it can never be consumed.
    let (link_key, stream, pointer, stream_cap) = if issue.real {
        let link = keys.link(&minted.lookup);
        (link, keys.mail_stream(), issue.pointer, 0)
    } else {
        let pointer = issue.pointer.map(|_| keys.other("decoy:latest-login"));
        (
            keys.other("decoy:link"),
            keys.other("decoy:mail"),
            pointer,
            1,
        )
    };
    let mut invocation = ISSUE.prepare_invoke();
    invocation
        .key(rate.as_ref().map_or("", |(key, _, _)| key.as_str()))
        .key(link_key)
        .key(stream)
        .key(pointer.unwrap_or_default())
        .arg(window)
        .arg(limit)
        .arg(expires_at)
        .arg(job.to_json())
        .arg(keys.link(""))
        .arg(&minted.lookup)
        .arg(stream_cap)
        .arg("contact")
        .arg(&issue.contact.id)
        .arg("epoch")
        .arg(issue.contact.auth_epoch)
        .arg("purpose")
        .arg(issue.purpose.as_str())
        .arg("code")
        .arg(&minted.code_hash)
        .arg("bind")
        .arg(bind)
        .arg("fails")
        .arg(0);
    let mut redis = state.redis();
    let (issued, ttl): (i64, i64) = invocation.invoke_async(&mut redis).await?;
    Ok(if issued == 1 {
        Issued::Done
    } else {
        Issued::RateLimited(Duration::from_secs(ttl.max(1) as u64))
    })
}

/// The sign-in or invitation job of a link, sealed and tagged (the decoy's too, so it costs
/// the same).
fn mail_job(
    state: &AppState,
    issue: &Issue<'_>,
    minted: &MintedLink,
) -> portico_shared::mail::TaggedJob {
    let portal_url = state.config.portal_url(&issue.firm.slug);
    let mut job = MailJob::new(
        issue.template,
        Recipient {
            email: issue.contact.email.clone(),
            name: issue.contact.name.clone(),
        },
        FirmBrand {
            id: issue.firm.id.clone(),
            slug: issue.firm.slug.clone(),
            name: issue.firm.portal_name().to_string(),
            brand_color: issue.firm.brand_color.clone(),
            portal_url: portal_url.clone(),
        },
    );
    job.data = serde_json::json!({
        // The contact's portal language when they chose one; the mailer writes English else.
        "language": issue.contact.language.as_deref().unwrap_or("en"),
        "expires_at": minted.expires_at,
        "link_ttl_days": (state.config.link_ttl.as_secs() as f64 / 86_400.0).ceil() as u64,
        "login_url": format!("{portal_url}/login"),
    });
    job.not_after = Some(minted.expires_at);
    job.seal(
        state.keys(),
        &LinkSecrets {
            link: format!("{portal_url}/auth/magic?token={}", minted.token.expose()),
            code: minted.code.display(),
        },
    );
    job.authenticate(state.keys(), &state.redis_keys)
}

/// What a live link says about itself, read without consuming it.
pub struct LinkInfo {
    pub contact_id: String,
    pub purpose: String,
}

pub async fn peek(state: &AppState, link: &VerifiedLink<'_>) -> Result<Option<LinkInfo>> {
    let mut redis = state.redis();
    let (contact, purpose): (Option<String>, Option<String>) = redis::cmd("HMGET")
        .arg(state.redis_keys.link(&link.lookup()))
        .arg("contact")
        .arg("purpose")
        .query_async(&mut redis)
        .await?;
    Ok(contact.zip(purpose).map(|(contact_id, purpose)| LinkInfo {
        contact_id,
        purpose,
    }))
}

/// How the client proves the link is theirs.
pub enum Proof<'a> {
    /// The short code from the same email, as typed (already normalized).
    Code(&'a portico_shared::token::PlainCode),
    /// The binding cookie of the browser that asked for the link.
    Binding(&'a str),
}

pub enum Consumed {
    /// The link is used up now; sign this contact in (after checking the epoch).
    Won {
        contact_id: String,
        epoch: i64,
        purpose: LinkPurpose,
    },
    WrongCode {
        attempts_left: i64,
    },
    /// Too many wrong codes: the link is void.
    Voided,
    /// Used, expired or voided before.
    Gone,
}

pub async fn consume(
    state: &AppState,
    link: &VerifiedLink<'_>,
    proof: Proof<'_>,
) -> Result<Consumed> {
    let (field, hash) = match proof {
        Proof::Code(code) => ("code", link.code_hash(code)),
        Proof::Binding(binding) => ("bind", link.binding_hash(binding)),
    };
    let mut redis = state.redis();
    let reply: Vec<redis::Value> = CONSUME
        .key(state.redis_keys.link(&link.lookup()))
        .arg(field)
        .arg(hash)
        .arg(MAX_CODE_ATTEMPTS)
        .invoke_async(&mut redis)
        .await?;
    let text = |i: usize| -> String {
        reply
            .get(i)
            .and_then(|v| redis::from_redis_value_ref::<String>(v).ok())
            .unwrap_or_default()
    };
    let number = |i: usize| -> i64 {
        reply
            .get(i)
            .and_then(|v| redis::from_redis_value_ref::<i64>(v).ok())
            .unwrap_or(-1)
    };
    Ok(match text(0).as_str() {
        "ok" => Consumed::Won {
            contact_id: text(1),
            epoch: text(2).parse().unwrap_or(-1),
            purpose: link.purpose,
        },
        "wrong" => Consumed::WrongCode {
            attempts_left: number(1),
        },
        "void" => Consumed::Voided,
        _ => Consumed::Gone,
    })
}
