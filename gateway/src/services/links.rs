//! Magic links in Redis: issuing (with the per-email rate limit and the mail job, in the steps
//! below) and consuming (checking the code or the browser binding and deleting the link, in one
//! script). Consumption is the `DEL` inside the script: of any number of concurrent attempts,
//! exactly one sees the link and wins.
//!
//! Issuing touches keys of different hash slots (the counters, tagged by firm and address; the
//! link, by its own lookup; the "latest link" pointer, by its subject; the mail stream,
//! `{mail}`), which a Redis Cluster keeps on different nodes, so it is a sequence of steps, each
//! atomic on its own, in an order where stopping after any step is safe:
//!
//! 1. [`COUNT`]: both counters of the request (asks per network, mails per day), one script on
//!    one slot. Over a limit, nothing more happens.
//! 2. The link record and its expiry, in one `MULTI`.
//! 3. Only where a new link voids the previous one: `GET` the pointer, `DEL` the link it names,
//!    then `SET … GET` the pointer to the new link; if that shows a link issued meanwhile by a
//!    concurrent request, it is deleted too. So every link but the newest is deleted.
//! 4. The mail job, `XADD` to the stream, last.
//!
//! 5. With `PORTICO_REDIS_WAIT_REPLICAS`, a `WAIT` until replicas hold all of it
//!    ([`RedisConn::replicated`](portico_shared::redis_conn::RedisConn::replicated)), so
//!    the mail a page promises survives a Sentinel failover.
//!
//! A crash (or a Redis error, answered 503) between steps leaves at worst: the request counted
//! with no link (step 1 only), or a link no mail names (after 2 or 3), which nobody can use
//! since its secrets are only in the job; the user asks again. A mail job always has its link
//! written before it; never the reverse. The previous link is deleted before the pointer
//! moves, so a failure cannot leave it alive once the pointer names the new one.
//!
//! A link is for a subject: a contact (client links), a member (staff sign-in, email change)
//! or a team invitation; its epoch is the contact's or member's auth epoch, or the
//! invitation's version, so a bump of either voids it.
//!
//! A link record is a Redis hash: `contact` (the subject's id: the field kept its name, so links
//! in flight survive upgrades), `epoch` (the subject's epoch when issued),
//! `purpose`, `code` (keyed hash of the short code), `bind` (keyed hash of the binding cookie,
//! or empty), `bind_until` (until when the binding signs in with one click: `PORTICO_LOGIN_ONE_CLICK`,
//! an hour by default, after `POST /login`; after that the code is needed), `exp` (the link's expiry),
//! `note` (only on links that carry one: the new address of an email change), `tag` (the
//! [`Keyring::tag_record`] over the record's key, the firm and every field above, checked
//! before a record is believed), `fails` (wrong codes so far: changed by the consume script,
//! so not tagged; editing it can only void a link sooner or allow five more guesses of a
//! 40-bit code). Its TTL is the link's lifetime.
//!
//! Asking for a login link counts twice: per address, firm and requesting network
//! (`PORTICO_LOGIN_PER_EMAIL`: one requester cannot lock the owner out, since the owner asks
//! from another network), and per address and firm per day (`PORTICO_LOGIN_MAILS_PER_DAY`:
//! past it the answer is the same page but no mail goes, so a firm cannot be made to flood
//! a client's mailbox). Both counters are plain Redis counters changed inside the script and
//! carry no tag: forging one can only block or allow asking, never sign anyone in. Staff
//! sign-in counts the same way on counters of its own.

use std::net::IpAddr;
use std::sync::LazyLock;
use std::time::Duration;

use portico_shared::email::Email;
use portico_shared::ids::{ClientAccountId, ContactId, MemberId};
use portico_shared::keys::{Keyring, Purpose};
use portico_shared::mail::{FirmBrand, LinkSecrets, MailJob, Recipient, Template};
use portico_shared::now_unix;
use portico_shared::store::{Contact, Firm, Member, TeamInvitation};
use portico_shared::token::{LinkPurpose, MintedLink, VerifiedLink, binding_hash, mint_link};
use redis::{AsyncCommands, Script};

use crate::error::Result;
use crate::state::AppState;

/// Wrong codes after which a link is void.
pub const MAX_CODE_ATTEMPTS: u32 = 5;

/// Step 1 of issuing. KEYS: rate counter, daily mail counter (one slot: both are tagged by
/// the firm and address). ARGV: window secs, limit, mails a day.
/// Returns {1, 0} when the request may go on, {0, ttl} when over the limit (the day's mails
/// not counted), {2, 0} when over the day's mails.
static COUNT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
if n > tonumber(ARGV[2]) then
  return {0, redis.call('TTL', KEYS[1])}
end
local mails = redis.call('INCR', KEYS[2])
if mails == 1 then redis.call('EXPIRE', KEYS[2], 86400) end
if mails > tonumber(ARGV[3]) then return {2, 0} end
return {1, 0}
"#,
    )
});

/// KEYS: link. ARGV: proof field ('code' or 'bind'), proof hash, max wrong codes, now.
/// Returns {'ok', subject, epoch, purpose, code, bind, bind_until, exp, tag, note} |
/// {'wrong', attempts left} | {'void'} | {'gone'}. A binding past `bind_until` is 'wrong'
/// (the code is asked for). The caller checks the tag of what 'ok' returns.
static CONSUME: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
local stored = redis.call('HGET', KEYS[1], ARGV[1])
if not stored then return {'gone'} end
local in_time = true
if ARGV[1] == 'bind' then
  in_time = tonumber(redis.call('HGET', KEYS[1], 'bind_until') or '0') >= tonumber(ARGV[4])
end
if stored ~= '' and stored == ARGV[2] and in_time then
  local record = redis.call('HMGET', KEYS[1], 'contact', 'epoch', 'purpose', 'code', 'bind',
    'bind_until', 'exp', 'tag', 'note')
  redis.call('DEL', KEYS[1])
  return {'ok', record[1], record[2], record[3], record[4], record[5], record[6], record[7],
    record[8], record[9] or ''}
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

/// The fields of a link record that never change, as they are tagged.
struct LinkRecord<'a> {
    key: &'a str,
    firm_id: &'a str,
    contact: &'a str,
    epoch: &'a str,
    purpose: &'a str,
    code: &'a str,
    bind: &'a str,
    bind_until: &'a str,
    exp: &'a str,
    /// Empty on links without one, and then not tagged, so records written before notes
    /// existed still verify.
    note: &'a str,
}

impl LinkRecord<'_> {
    fn parts(&self) -> Vec<&[u8]> {
        let mut parts = vec![
            self.key.as_bytes(),
            self.firm_id.as_bytes(),
            self.contact.as_bytes(),
            self.epoch.as_bytes(),
            self.purpose.as_bytes(),
            self.code.as_bytes(),
            self.bind.as_bytes(),
            self.bind_until.as_bytes(),
            self.exp.as_bytes(),
        ];
        if !self.note.is_empty() {
            parts.push(self.note.as_bytes());
        }
        parts
    }

    fn tag(&self, keys: &Keyring) -> String {
        keys.tag_record(&self.parts())
    }

    fn verifies(&self, keys: &Keyring, tag: &str) -> bool {
        let verified = keys.verify_record(tag, &self.parts());
        if !verified {
            tracing::warn!("a link record in Redis does not verify: refused");
        }
        verified
    }
}

pub enum Issued {
    /// Issued, or nothing to issue: the answer to the client is the same either way.
    Done,
    RateLimited(Duration),
}

/// What the issuing script did.
enum Wrote {
    Link,
    RateLimited(Duration),
    /// The address had its day's sign-in mails: nothing written.
    MailsCapped,
}

/// The counters a login request goes through.
struct Rate {
    asks: String,
    window: Duration,
    limit: u32,
    mails_today: String,
    mails_per_day: u32,
}

/// Whom a link is for, and where its mail goes.
struct Subject<'a> {
    /// A contact's, member's or team invitation's id.
    id: &'a str,
    /// The contact's or member's auth epoch, or the invitation's version.
    epoch: i64,
    email: &'a str,
    name: &'a str,
    language: &'a str,
}

impl<'a> Subject<'a> {
    fn contact(contact: &'a Contact) -> Subject<'a> {
        Subject {
            id: contact.id.as_str(),
            epoch: contact.auth_epoch,
            email: &contact.email,
            name: &contact.name,
            // The contact's portal language when they chose one; the mailer writes English else.
            language: contact.language.as_deref().unwrap_or("en"),
        }
    }

    fn member(member: &'a Member) -> Subject<'a> {
        Subject {
            id: member.id.as_str(),
            epoch: member.auth_epoch,
            email: &member.email,
            name: &member.name,
            language: "en",
        }
    }
}

struct Issue<'a> {
    firm: &'a Firm,
    subject: Subject<'a>,
    purpose: LinkPurpose,
    template: Template,
    binding: Option<&'a str>,
    pointer: Option<String>,
    /// False for an address without access: everything is computed and written the same
    /// way, but to keys kept for the purpose (see [`run_issue`]), so the answer takes the same
    /// time.
    real: bool,
    /// Tagged with the record and returned on consumption (the new address of an email
    /// change); empty for none.
    note: &'a str,
}

/// `POST /login`: counts the request against the address's limits (per requesting network, and
/// per day) and, when the email belongs to a contact with portal access, mints a login link
/// bound to this browser and enqueues its email. For any other address the same link and job
/// are computed and written where nothing reads them: known and unknown addresses cost the
/// same, and count the same.
pub async fn request_login(
    state: &AppState,
    firm: &Firm,
    email: &Email,
    contact: Option<&Contact>,
    binding: &str,
    network: IpAddr,
) -> Result<Issued> {
    let key = state.keys().active();
    let email_hash = key.keyed_hash(Purpose::RateKey, &[email.normalized().as_bytes()]);
    let asker_hash = key.keyed_hash(
        Purpose::RateKey,
        &[
            email.normalized().as_bytes(),
            network.to_string().as_bytes(),
        ],
    );
    let limit = state.config.login_per_email;
    let rate = Rate {
        asks: state
            .redis_keys
            .email_rate(&firm.id, &email_hash, &asker_hash),
        window: limit.per,
        limit: limit.count,
        mails_today: state.redis_keys.email_mails_today(&firm.id, &email_hash),
        mails_per_day: state.config.login_mails_per_day,
    };
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
        subject: Subject::contact(contact),
        purpose: LinkPurpose::Login,
        template: Template::LoginLink,
        binding: Some(binding),
        pointer: state.config.new_link_voids_old.then(|| {
            state
                .redis_keys
                .latest_link("latest-login", contact.id.as_str())
        }),
        real,
        note: "",
    };
    Ok(issued(
        state,
        run_issue(state, Some(rate), issue).await?,
        real,
        "login",
    ))
}

fn issued(state: &AppState, wrote: Wrote, real: bool, kind: &'static str) -> Issued {
    match wrote {
        Wrote::RateLimited(retry_after) => {
            state.metrics.rate_limited("email");
            Issued::RateLimited(retry_after)
        }
        Wrote::MailsCapped => {
            // The same answer as a mail sent, so the cap tells the asker nothing.
            state.metrics.rate_limited("mails_per_day");
            Issued::Done
        }
        Wrote::Link => {
            if real {
                state.metrics.link_issued(kind);
            }
            Issued::Done
        }
    }
}

/// `POST /staff/login`: as [`request_login`], for a member of the firm, on counters of its
/// own (a client's asking never blocks a member's, nor the reverse). Unknown addresses get a
/// decoy, as for clients.
pub async fn request_staff_login(
    state: &AppState,
    firm: &Firm,
    email: &Email,
    member: Option<&Member>,
    binding: &str,
    network: IpAddr,
) -> Result<Issued> {
    let key = state.keys().active();
    let email_hash = key.keyed_hash(Purpose::RateKey, &[email.normalized().as_bytes()]);
    let asker_hash = key.keyed_hash(
        Purpose::RateKey,
        &[
            email.normalized().as_bytes(),
            network.to_string().as_bytes(),
        ],
    );
    let limit = state.config.login_per_email;
    let rate = Rate {
        asks: state
            .redis_keys
            .staff_email_rate(&firm.id, &email_hash, &asker_hash),
        window: limit.per,
        limit: limit.count,
        mails_today: state
            .redis_keys
            .staff_email_mails_today(&firm.id, &email_hash),
        mails_per_day: state.config.login_mails_per_day,
    };
    let decoy;
    let (member, real) = match member {
        Some(member) => (member, true),
        None => {
            decoy = decoy_member(firm, email);
            (&decoy, false)
        }
    };
    let issue = Issue {
        firm,
        subject: Subject::member(member),
        purpose: LinkPurpose::StaffLogin,
        template: Template::StaffLoginLink,
        binding: Some(binding),
        pointer: state.config.new_link_voids_old.then(|| {
            state
                .redis_keys
                .latest_link("latest-staff-login", member.id.as_str())
        }),
        real,
        note: "",
    };
    Ok(issued(
        state,
        run_issue(state, Some(rate), issue).await?,
        real,
        "staff_login",
    ))
}

/// A stand-in for an address that is no member's, shaped like a real member.
fn decoy_member(firm: &Firm, email: &Email) -> Member {
    Member {
        id: MemberId::new(),
        firm_id: firm.id.clone(),
        name: String::new(),
        email: email.as_str().to_string(),
        role_id: String::new(),
        auth_epoch: 0,
        last_login_at: None,
        created_at: 0,
        updated_at: 0,
    }
}

/// Mails a team invitation's link, under the `version` its sending was recorded at
/// (`TeamStore::record_team_invitation_sent`, which moved it on, so earlier links are void).
/// The link asks for the code in any case.
pub async fn send_team_invitation(
    state: &AppState,
    firm: &Firm,
    invitation: &TeamInvitation,
    expires_at: i64,
) -> Result<()> {
    let issue = Issue {
        firm,
        subject: Subject {
            id: invitation.id.as_str(),
            epoch: invitation.version,
            email: &invitation.email,
            name: "",
            language: "en",
        },
        purpose: LinkPurpose::TeamInvitation,
        template: Template::TeamInvitation,
        binding: None,
        pointer: None,
        real: true,
        note: "",
    };
    run_issue_until(state, None, issue, Some(expires_at)).await?;
    state.metrics.link_issued("team_invitation");
    Ok(())
}

/// Mails a link to `new_email` that moves `member`'s login address there when opened (with
/// the code). The address is tagged with the link, and the member's epoch bounds it: a later
/// email change or removal voids it.
pub async fn send_email_change(
    state: &AppState,
    firm: &Firm,
    member: &Member,
    new_email: &Email,
) -> Result<()> {
    let issue = Issue {
        firm,
        subject: Subject {
            email: new_email.as_str(),
            ..Subject::member(member)
        },
        purpose: LinkPurpose::StaffEmailChange,
        template: Template::StaffEmailChange,
        binding: None,
        pointer: Some(
            state
                .redis_keys
                .latest_link("latest-email-change", member.id.as_str()),
        ),
        real: true,
        note: new_email.as_str(),
    };
    run_issue(state, None, issue).await?;
    state.metrics.link_issued("staff_email_change");
    Ok(())
}

/// A stand-in for an address without access, shaped like a real contact so that minting and
/// sealing cost the same.
fn decoy_contact(firm: &Firm, email: &Email) -> Contact {
    Contact {
        id: ContactId::new(),
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
        account_id: ClientAccountId::new(),
        permission_set: "client_staff".to_string(),
    }
}

/// Staff send (or resend) an invitation; a new one voids the earlier. Returns its expiry.
pub async fn invite(state: &AppState, firm: &Firm, contact: &Contact) -> Result<i64> {
    let issue = Issue {
        firm,
        subject: Subject::contact(contact),
        purpose: LinkPurpose::Invitation,
        template: Template::Invitation,
        binding: None,
        pointer: Some(state.redis_keys.invitation(&contact.id)),
        real: true,
        note: "",
    };
    let expires_at = now_unix() + state.config.link_ttl.as_secs() as i64;
    run_issue(state, None, issue).await?;
    state.metrics.link_issued("invitation");
    Ok(expires_at)
}

async fn run_issue(state: &AppState, rate: Option<Rate>, issue: Issue<'_>) -> Result<Wrote> {
    run_issue_until(state, rate, issue, None).await
}

/// Issues a link that expires at `expires_at`, or after the configured lifetime.
async fn run_issue_until(
    state: &AppState,
    rate: Option<Rate>,
    issue: Issue<'_>,
    expires_at: Option<i64>,
) -> Result<Wrote> {
    let now = now_unix();
    let expires_at = expires_at.unwrap_or(now + state.config.link_ttl.as_secs() as i64);
    let minted = mint_link(state.keys(), &issue.firm.id, issue.purpose, expires_at);
    let job = mail_job(state, &issue, &minted);
    let (bind, bind_until) = match issue.binding {
        Some(b) => (
            binding_hash(state.keys().active(), b),
            (now + state.config.login_one_click.as_secs() as i64).to_string(),
        ),
        None => (String::new(), "0".to_string()),
    };
    let keys = &state.redis_keys;
    // A decoy's writes are the real ones' (counters, a link record, a pointer, a stream entry),
    // in the same steps, on keys that are overwritten each time and that nothing reads: the
    // stream is capped at one entry, and the link key is outside the link prefix, so it can
    // never be consumed.
    let (link_key, stream_cap) = if issue.real {
        (keys.link(&minted.lookup), None)
    } else {
        (keys.other("decoy:link"), Some(1))
    };
    let epoch = issue.subject.epoch.to_string();
    let exp = expires_at.to_string();
    let record = LinkRecord {
        key: &link_key,
        firm_id: issue.firm.id.as_str(),
        contact: issue.subject.id,
        epoch: &epoch,
        purpose: issue.purpose.as_str(),
        code: &minted.code_hash,
        bind: &bind,
        bind_until: &bind_until,
        exp: &exp,
        note: issue.note,
    };
    let tag = record.tag(state.keys());
    let mut redis = state.redis();
    let mark = redis.mark();

    // Step 1: the counters.
    if let Some(rate) = &rate {
        let (allowed, ttl): (i64, i64) = COUNT
            .key(&rate.asks)
            .key(&rate.mails_today)
            .arg(rate.window.as_secs())
            .arg(rate.limit)
            .arg(rate.mails_per_day)
            .invoke_async(&mut redis)
            .await?;
        match allowed {
            1 => {}
            2 => return Ok(Wrote::MailsCapped),
            _ => return Ok(Wrote::RateLimited(Duration::from_secs(ttl.max(1) as u64))),
        }
    }

    // Step 2: the link.
    let mut fields: Vec<(&str, &str)> = vec![
        ("contact", issue.subject.id),
        ("epoch", &epoch),
        ("purpose", issue.purpose.as_str()),
        ("code", &minted.code_hash),
        ("bind", &bind),
        ("bind_until", &bind_until),
        ("exp", &exp),
        ("tag", &tag),
        ("fails", "0"),
    ];
    if !issue.note.is_empty() {
        fields.push(("note", issue.note));
    }
    let () = redis::pipe()
        .atomic()
        .hset_multiple(&link_key, &fields)
        .ignore()
        .expire_at(&link_key, expires_at)
        .ignore()
        .query_async(&mut redis)
        .await?;

    // Step 3: the previous link goes, then the pointer names the new one.
    if let Some(pointer) = issue.pointer {
        let pointer = if issue.real {
            pointer
        } else {
            keys.other("decoy:latest-login")
        };
        let previous: Option<String> = redis.get(&pointer).await?;
        let previous_key = match &previous {
            Some(lookup) if issue.real => keys.link(lookup),
            // Nothing to delete: a key nobody writes, so that every request costs the same.
            _ => keys.other("decoy:previous-link"),
        };
        let _: () = redis.del(&previous_key).await?;
        let replaced: Option<String> = redis::cmd("SET")
            .arg(&pointer)
            .arg(&minted.lookup)
            .arg("EXAT")
            .arg(expires_at)
            .arg("GET")
            .query_async(&mut redis)
            .await?;
        // A link issued between our GET and SET by a concurrent request is voided too.
        if let Some(concurrent) = replaced.filter(|r| Some(r) != previous.as_ref())
            && issue.real
        {
            let _: () = redis.del(keys.link(&concurrent)).await?;
        }
    }

    // Step 4: the mail job, last.
    let xadd = match stream_cap {
        None => job.enqueue_cmd(),
        Some(cap) => {
            let mut decoy = redis::cmd("XADD");
            decoy
                .arg(keys.other("decoy:mail"))
                .arg("MAXLEN")
                .arg(cap)
                .arg("*")
                .arg(portico_shared::mail::JOB_FIELD)
                .arg(job.to_json());
            decoy
        }
    };
    let _: String = xadd.query_async(&mut redis).await?;
    // Answered for only once replicas hold link and job (when configured); a decoy waits
    // the same, so the wait tells nothing about the address.
    redis.replicated(mark).await?;
    Ok(Wrote::Link)
}

/// The sign-in or invitation job of a link, sealed and tagged (the decoy's too, so it costs
/// the same).
fn mail_job(
    state: &AppState,
    issue: &Issue<'_>,
    minted: &MintedLink,
) -> portico_shared::mail::TaggedJob {
    let portal_url = state.config.portal_url(&issue.firm.slug);
    let (magic, login) = if issue.purpose.staff() {
        ("/staff/auth/magic", "/staff/login")
    } else {
        ("/auth/magic", "/login")
    };
    let mut job = MailJob::new(
        issue.template,
        Recipient {
            email: issue.subject.email.to_string(),
            name: issue.subject.name.to_string(),
        },
        FirmBrand {
            id: issue.firm.id.to_string(),
            slug: issue.firm.slug.clone(),
            name: issue.firm.portal_name().to_string(),
            brand_color: issue.firm.brand_color.clone(),
            portal_url: portal_url.clone(),
        },
    );
    job.data = serde_json::json!({
        "language": issue.subject.language,
        "expires_at": minted.expires_at,
        "link_ttl_days": (state.config.link_ttl.as_secs() as f64 / 86_400.0).ceil() as u64,
        "login_url": format!("{portal_url}{login}"),
    });
    job.not_after = Some(minted.expires_at);
    job.seal(
        state.keys(),
        &LinkSecrets {
            link: format!("{portal_url}{magic}?token={}", minted.token.expose()),
            code: minted.code.display(),
        },
    );
    job.authenticate(state.keys(), &state.redis_keys)
}

/// What a live link says about itself, read without consuming it.
pub struct LinkInfo {
    /// The contact's, member's or invitation's id (see [`LinkPurpose`]).
    pub subject: String,
    pub epoch: i64,
    pub purpose: String,
}

impl LinkInfo {
    /// The contact a client link is for.
    pub fn contact_id(&self) -> Option<ContactId> {
        ContactId::parse(&self.subject)
    }
}

/// The live link's record, if there is one and its tag verifies.
pub async fn peek(
    state: &AppState,
    firm_id: &str,
    link: &VerifiedLink<'_>,
) -> Result<Option<LinkInfo>> {
    let key = state.redis_keys.link(&link.lookup());
    let mut redis = state.redis();
    let fields: Vec<Option<String>> = redis::cmd("HMGET")
        .arg(&key)
        .arg(&[
            "contact",
            "epoch",
            "purpose",
            "code",
            "bind",
            "bind_until",
            "exp",
            "tag",
            "note",
        ])
        .query_async(&mut redis)
        .await?;
    let field = |i: usize| fields.get(i).cloned().flatten();
    let (Some(contact_text), Some(purpose), Some(tag)) = (field(0), field(2), field(7)) else {
        return Ok(None);
    };
    let (epoch, code, bind, bind_until, exp, note) = (
        field(1).unwrap_or_default(),
        field(3).unwrap_or_default(),
        field(4).unwrap_or_default(),
        field(5).unwrap_or_default(),
        field(6).unwrap_or_default(),
        field(8).unwrap_or_default(),
    );
    let record = LinkRecord {
        key: &key,
        firm_id,
        contact: &contact_text,
        epoch: &epoch,
        purpose: &purpose,
        code: &code,
        bind: &bind,
        bind_until: &bind_until,
        exp: &exp,
        note: &note,
    };
    // The token says what the link is for; the record must agree.
    if !record.verifies(state.keys(), &tag) || purpose != link.purpose.as_str() {
        return Ok(None);
    }
    Ok(Some(LinkInfo {
        subject: contact_text,
        epoch: epoch.parse().unwrap_or(-1),
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
    /// The link is used up now; act for its subject (after checking the epoch): sign the
    /// contact or member in, accept the invitation, move the address to `note`.
    Won {
        subject: String,
        epoch: i64,
        purpose: LinkPurpose,
        note: String,
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
    firm_id: &str,
    link: &VerifiedLink<'_>,
    proof: Proof<'_>,
) -> Result<Consumed> {
    let (field, hash) = match proof {
        Proof::Code(code) => ("code", link.code_hash(code)),
        Proof::Binding(binding) => ("bind", link.binding_hash(binding)),
    };
    let key = state.redis_keys.link(&link.lookup());
    let mut redis = state.redis();
    let reply: Vec<redis::Value> = CONSUME
        .key(&key)
        .arg(field)
        .arg(hash)
        .arg(MAX_CODE_ATTEMPTS)
        .arg(now_unix())
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
        "ok" => {
            let (contact, epoch, purpose) = (text(1), text(2), text(3));
            let (code, bind, bind_until, exp) = (text(4), text(5), text(6), text(7));
            let note = text(9);
            let record = LinkRecord {
                key: &key,
                firm_id,
                contact: &contact,
                epoch: &epoch,
                purpose: &purpose,
                code: &code,
                bind: &bind,
                bind_until: &bind_until,
                exp: &exp,
                note: &note,
            };
            // The token says what the link is for and until when; the record must agree.
            let agrees = purpose == link.purpose.as_str() && exp == link.expires_at.to_string();
            if agrees && !contact.is_empty() && record.verifies(state.keys(), &text(8)) {
                Consumed::Won {
                    subject: contact,
                    epoch: epoch.parse().unwrap_or(-1),
                    purpose: link.purpose,
                    note,
                }
            } else {
                return Ok(Consumed::Gone);
            }
        }
        "wrong" => Consumed::WrongCode {
            attempts_left: number(1),
        },
        "void" => Consumed::Voided,
        _ => Consumed::Gone,
    })
}
