//! The mail-job protocol between the gateway (producer) and the mailer (consumer).
//!
//! Jobs go on a Redis Stream (`{prefix}mail:jobs`) as one field, `job`, holding the JSON of a
//! [`MailJob`]. Mailers read it through the consumer group [`CONSUMER_GROUP`]; jobs that fail
//! for good go to `{prefix}mail:dead`. A job names its template, recipient and firm and carries
//! its template data; secrets (a sign-in link and its code) travel sealed with AES-256-GCM under
//! a key derived from the signing keys, so the stream's contents alone let nobody sign in.
//!
//! Every job carries a tag, `"tag": "{key id}.{base64url of an HMAC-SHA256}"`, under the
//! signing keys' mail-job subkey, over the Redis prefix, the job id and the job's *content*
//! (see [`MailJob::verify`]), so that someone who can write to Redis cannot make the mailer
//! send (and DKIM-sign) a mail of their own, nor alter one, nor move one from another
//! installation's prefix. The only way to a job's JSON is [`MailJob::authenticate`], which
//! tags it; the mailer checks the tag of every job before anything else and dead-letters one
//! that does not verify as `unauthenticated`.
//!
//! What the mailer adds around a job (see `mailer/src/queue.rs`): a job put back for another
//! attempt carries the stream fields `attempts` and `last_error` beside `job`; jobs waiting for
//! their next attempt sit in the sorted set `{prefix}mail:retry`; an entry of the dead stream
//! has `job` (the JSON as it was), `error` (the last error), `attempts` and `failed_at_ms`; a
//! job the mail server accepted leaves the marker `{prefix}mail:sent:{id}` for eight days.

use std::fmt;

use ring::aead::{Aad, NONCE_LEN, Nonce};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::keys::{Keyring, Purpose};
use crate::redis_conn::RedisKeys;
use crate::secret::{b64, random_bytes, unb64};

/// The consumer group every mailer joins.
pub const CONSUMER_GROUP: &str = "mailers";
/// The stream field holding the job's JSON.
pub const JOB_FIELD: &str = "job";
/// The protocol version written in every job.
pub const PROTOCOL_VERSION: u8 = 1;
/// Bytes of a job's tag (HMAC-SHA256).
const TAG_LEN: usize = 32;

/// Which email a job is. Each has a subject, a text and an HTML template in
/// `templates/email/{name}.*`, rendered with the firm (name, brand colour, portal URL), the
/// recipient's name and the job's `data`. The mailer checks the data fields below before
/// rendering; a job that lacks one, or whose URL is not `http(s)://`, is dead-lettered with
/// the field's name as the reason. Every job may carry `language` in its data (`en`, `de`: the
/// client's portal language); the email is written in it, and in English when it is missing or
/// unknown.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Template {
    /// A sign-in link asked for on the login page. Sealed data: [`LinkSecrets`].
    /// Data (optional): `link_ttl_days` (number; else derived from `not_after`),
    /// `login_url` (where to ask for a new link; else `{portal_url}/login`).
    LoginLink,
    /// "Access your account": a firm invites a contact. Sealed data: [`LinkSecrets`].
    /// Data: as [`Template::LoginLink`].
    Invitation,
    /// Staff shared a task with the client. Data: `task_title` (text), `task_url` (URL),
    /// `due_date` (optional, text or null).
    TaskShared,
    /// Staff asked the client to sign a document. Data: `document_title` (text),
    /// `sign_url` (URL).
    SignatureRequested,
    /// Staff replied to one of the client's requests. Data: `request_subject` (text),
    /// `reply_excerpt` (text), `request_url` (URL).
    RequestReply,
    /// A staff member's sign-in link for the console. Sealed data: [`LinkSecrets`].
    /// Data: as [`Template::LoginLink`] (`login_url` is the console's login page).
    StaffLoginLink,
    /// An invitation to join the firm's team. Sealed data: [`LinkSecrets`]. Data: as
    /// [`Template::LoginLink`].
    TeamInvitation,
    /// Confirms a staff member's new login address (sent to that address). Sealed data:
    /// [`LinkSecrets`]. Data: as [`Template::LoginLink`].
    StaffEmailChange,
}

impl Template {
    pub fn name(self) -> &'static str {
        match self {
            Template::LoginLink => "login_link",
            Template::Invitation => "invitation",
            Template::TaskShared => "task_shared",
            Template::SignatureRequested => "signature_requested",
            Template::RequestReply => "request_reply",
            Template::StaffLoginLink => "staff_login_link",
            Template::TeamInvitation => "team_invitation",
            Template::StaffEmailChange => "staff_email_change",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recipient {
    pub email: String,
    pub name: String,
}

/// What an email needs to look like it comes from the firm.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FirmBrand {
    pub id: String,
    pub slug: String,
    pub name: String,
    pub brand_color: String,
    /// The firm's portal, e.g. `https://acme.portal.example`.
    pub portal_url: String,
}

#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct MailJob {
    pub v: u8,
    /// Unique job id; the mailer de-duplicates on it and derives the `Message-ID` from it.
    pub id: String,
    pub template: Template,
    pub to: Recipient,
    pub firm: FirmBrand,
    /// Template data that is not secret.
    #[serde(default)]
    pub data: serde_json::Value,
    /// Secrets for the template, sealed (see [`MailJob::seal`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sealed: Option<String>,
    /// When the gateway enqueued it, in milliseconds since the epoch.
    pub enqueued_at_ms: i64,
    /// Unix time after which the job is pointless (its link has expired): drop, do not send.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_after: Option<i64>,
    /// `{key id}.{base64url tag}`, read from a job's JSON. Never written by `Serialize`: what
    /// a job serializes to is its content, the bytes the tag covers; [`MailJob::authenticate`]
    /// writes the tag beside them.
    #[serde(default, skip_serializing)]
    tag: Option<String>,
}

impl fmt::Debug for MailJob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MailJob")
            .field("id", &self.id)
            .field("template", &self.template)
            .field("to", &crate::email::mask(&self.to.email))
            .field("firm", &self.firm.slug)
            .finish_non_exhaustive()
    }
}

/// The sealed part of a login or invitation job.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkSecrets {
    /// The full magic link, `{scheme}://{slug}.{base}/auth/magic?token=…`.
    pub link: String,
    /// The short code as written in the email, `ABCD-EFGH`.
    pub code: String,
}

impl fmt::Debug for LinkSecrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LinkSecrets([redacted])")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error("sealed data is malformed")]
    Malformed,
    #[error("sealed with key {0}, which is not in the ring")]
    UnknownKey(String),
    #[error("sealed data does not open (wrong key or altered)")]
    Open,
    #[error("sealed data is not the expected JSON: {0}")]
    Json(#[from] serde_json::Error),
}

/// Why a job's tag does not verify.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum TagError {
    #[error("the job has no tag")]
    Missing,
    #[error("the tag is malformed")]
    Malformed,
    #[error("tagged with key {0}, which is not in the ring")]
    UnknownKey(String),
    #[error("the tag does not match the job (altered, or tagged for another prefix)")]
    Mismatch,
}

impl MailJob {
    pub fn new(template: Template, to: Recipient, firm: FirmBrand) -> MailJob {
        MailJob {
            v: PROTOCOL_VERSION,
            id: crate::ids::new_id("mj"),
            template,
            to,
            firm,
            data: serde_json::Value::Object(Default::default()),
            sealed: None,
            enqueued_at_ms: (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000)
                as i64,
            not_after: None,
            tag: None,
        }
    }

    /// Seals `secrets` into the job with the ring's active key; the job id is the associated
    /// data, so a sealed blob cannot be moved to another job.
    pub fn seal<T: Serialize>(&mut self, keys: &Keyring, secrets: &T) {
        let key = keys.active();
        let nonce_bytes = random_bytes::<NONCE_LEN>();
        let mut data = serde_json::to_vec(secrets).expect("secrets serialize");
        key.sealing_key()
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce_bytes),
                Aad::from(self.id.as_bytes()),
                &mut data,
            )
            .expect("AES-GCM seal");
        let mut blob = nonce_bytes.to_vec();
        blob.extend_from_slice(&data);
        self.sealed = Some(format!("{}.{}", key.id(), b64(&blob)));
    }

    pub fn unseal<T: DeserializeOwned>(&self, keys: &Keyring) -> Result<T, SealError> {
        let sealed = self.sealed.as_deref().ok_or(SealError::Malformed)?;
        let (kid, blob) = sealed.split_once('.').ok_or(SealError::Malformed)?;
        let key = keys
            .get(kid)
            .ok_or_else(|| SealError::UnknownKey(kid.to_string()))?;
        let mut blob = unb64(blob).ok_or(SealError::Malformed)?;
        if blob.len() < NONCE_LEN {
            return Err(SealError::Malformed);
        }
        let mut data = blob.split_off(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(&blob).map_err(|_| SealError::Malformed)?;
        let opened = key
            .sealing_key()
            .open_in_place(nonce, Aad::from(self.id.as_bytes()), &mut data)
            .map_err(|_| SealError::Open)?;
        Ok(serde_json::from_slice(opened)?)
    }

    /// Parses a job's JSON. Parsing is not trusting: the mailer checks [`MailJob::verify`]
    /// before it acts on anything in the job.
    pub fn from_json(text: &str) -> Result<MailJob, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// Tags the finished job for the installation of `redis_keys` (its prefix) with the ring's
    /// active key, and gives the only form of it that can be written to the stream. Every
    /// producer goes through here; change nothing in a job after it.
    pub fn authenticate(mut self, keys: &Keyring, redis_keys: &RedisKeys) -> TaggedJob {
        let content = self.content();
        let key = keys.active();
        let mac = key.sign(
            Purpose::MailJob,
            &tagged_parts(redis_keys.prefix(), &self.id, &content),
        );
        let tag = format!("{}.{}", key.id(), b64(mac.as_ref()));
        // The content is a JSON object; the tag goes in as its last member. A key id and
        // base64url need no escaping.
        let mut json = String::from_utf8(content).expect("JSON is UTF-8");
        debug_assert!(json.ends_with('}'));
        json.pop();
        json.push_str(",\"tag\":\"");
        json.push_str(&tag);
        json.push_str("\"}");
        self.tag = Some(tag);
        TaggedJob {
            job: self,
            json,
            stream: redis_keys.mail_stream(),
        }
    }

    /// Checks the job's tag for the installation whose Redis prefix is `prefix`, with
    /// whichever key of the ring made it (so jobs tagged before a rotation still verify while
    /// their key stays in the ring).
    ///
    /// The tag is HMAC-SHA256 under the [`Purpose::MailJob`] subkey over three length-prefixed
    /// parts ([`crate::keys::SigningKey::sign`]): the prefix, the job id, and the content. The
    /// content is the JSON serde_json writes for the job as parsed, without its tag: every field
    /// the mailer acts on (`v`, `id`, `template`, `to`, `firm`, `data`, `sealed`,
    /// `enqueued_at_ms`, `not_after`), in that order, `sealed` and `not_after` left out when
    /// absent, no whitespace, the members of `data`'s objects sorted by name. Because the
    /// content is re-made from what was parsed, what is checked is exactly what the mailer will
    /// use: a member it ignores changes nothing, a member it reads cannot change unnoticed.
    /// The prefix and id are the identity of the job's key; they stay the same while the job
    /// moves between the stream, the retry set and the dead-letter stream, which keep the
    /// job's JSON as it was.
    pub fn verify(&self, keys: &Keyring, prefix: &str) -> Result<(), TagError> {
        let tag = self.tag.as_deref().ok_or(TagError::Missing)?;
        let (key_id, mac) = tag.split_once('.').ok_or(TagError::Malformed)?;
        if key_id.is_empty()
            || key_id.len() > 16
            || !key_id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(TagError::Malformed);
        }
        let mac = unb64(mac)
            .filter(|m| m.len() == TAG_LEN)
            .ok_or(TagError::Malformed)?;
        let key = keys
            .get(key_id)
            .ok_or_else(|| TagError::UnknownKey(key_id.to_string()))?;
        let content = self.content();
        if key.verify(
            Purpose::MailJob,
            &tagged_parts(prefix, &self.id, &content),
            &mac,
        ) {
            Ok(())
        } else {
            Err(TagError::Mismatch)
        }
    }

    /// The bytes the tag covers besides the prefix and id (see [`MailJob::verify`]).
    fn content(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a mail job serializes")
    }
}

fn tagged_parts<'a>(prefix: &'a str, id: &'a str, content: &'a [u8]) -> [&'a [u8]; 3] {
    [prefix.as_bytes(), id.as_bytes(), content]
}

/// A job with its tag (made by [`MailJob::authenticate`]): the only form of a job that has
/// JSON to write and an `XADD`, so no path can enqueue a job it did not tag.
#[derive(Clone)]
pub struct TaggedJob {
    job: MailJob,
    json: String,
    /// The stream of the prefix the job was tagged for.
    stream: String,
}

impl TaggedJob {
    pub fn job(&self) -> &MailJob {
        &self.job
    }

    /// The JSON to put in the stream field [`JOB_FIELD`].
    pub fn to_json(&self) -> &str {
        &self.json
    }

    /// The `XADD` that enqueues this job on the stream of the prefix it was tagged for. Add
    /// it to a pipeline to enqueue atomically with other writes.
    pub fn enqueue_cmd(&self) -> redis::Cmd {
        let mut cmd = redis::cmd("XADD");
        cmd.arg(&self.stream)
            .arg("*")
            .arg(JOB_FIELD)
            .arg(&self.json);
        cmd
    }
}

impl fmt::Debug for TaggedJob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.job.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job() -> MailJob {
        MailJob::new(
            Template::LoginLink,
            Recipient {
                email: "ann@example.com".into(),
                name: "Ann".into(),
            },
            FirmBrand {
                id: "fm_x".into(),
                slug: "acme".into(),
                name: "Acme".into(),
                brand_color: "#0b5fff".into(),
                portal_url: "http://acme.localhost:8080".into(),
            },
        )
    }

    #[test]
    fn seal_round_trip_and_tamper() {
        let keys = Keyring::generate("k1");
        let mut job = job();
        let secrets = LinkSecrets {
            link: "http://acme.localhost/auth/magic?token=x".into(),
            code: "ABCD-EFGH".into(),
        };
        job.seal(&keys, &secrets);
        let json = job
            .authenticate(&keys, &RedisKeys::new("p:"))
            .to_json()
            .to_string();
        assert!(!json.contains("ABCD-EFGH"));
        let back = MailJob::from_json(&json).unwrap();
        let opened: LinkSecrets = back.unseal(&keys).unwrap();
        assert_eq!(opened, secrets);
        let mut moved = back.clone();
        moved.id = "mj_other".into();
        assert!(matches!(
            moved.unseal::<LinkSecrets>(&keys),
            Err(SealError::Open)
        ));
        let other = Keyring::generate("k2");
        assert!(matches!(
            back.unseal::<LinkSecrets>(&other),
            Err(SealError::UnknownKey(_))
        ));
        assert!(!format!("{back:?}").contains("ann@"));
    }

    /// A login job as the gateway makes it, tagged for prefix `p:` with `keys`, as JSON.
    fn tagged(keys: &Keyring) -> String {
        let mut job = job();
        job.data = serde_json::json!({"language": "de", "link_ttl_days": 7});
        job.not_after = Some(2_000_000_000);
        job.seal(
            keys,
            &LinkSecrets {
                link: "http://acme.localhost/auth/magic?token=x".into(),
                code: "ABCD-EFGH".into(),
            },
        );
        job.authenticate(keys, &RedisKeys::new("p:"))
            .to_json()
            .to_string()
    }

    fn verify(json: &str, keys: &Keyring, prefix: &str) -> Result<(), TagError> {
        MailJob::from_json(json).unwrap().verify(keys, prefix)
    }

    /// `json` with one edit made to its parsed form.
    fn edited(json: &str, edit: impl FnOnce(&mut serde_json::Value)) -> String {
        let mut value: serde_json::Value = serde_json::from_str(json).unwrap();
        edit(&mut value);
        value.to_string()
    }

    #[test]
    fn a_tagged_job_verifies_after_a_round_trip_and_however_its_json_is_spelled() {
        let keys = Keyring::generate("k1");
        let json = tagged(&keys);
        assert!(json.contains(r#","tag":"k1."#), "{json}");
        assert_eq!(verify(&json, &keys, "p:"), Ok(()));
        // Members reordered (serde_json's `Value` sorts them), spaces, a member the mailer
        // does not read: the same job, so the same tag.
        let value: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(verify(&value.to_string(), &keys, "p:"), Ok(()));
        let pretty = serde_json::to_string_pretty(&value).unwrap();
        assert_eq!(verify(&pretty, &keys, "p:"), Ok(()));
        let extra = edited(&json, |v| v["ignored"] = "x".into());
        assert_eq!(verify(&extra, &keys, "p:"), Ok(()));
    }

    #[test]
    fn editing_any_field_after_tagging_breaks_the_tag() {
        let keys = Keyring::generate("k1");
        let json = tagged(&keys);
        type Edit = fn(&mut serde_json::Value);
        let edits: [(&str, Edit); 21] = [
            ("v", |v| v["v"] = 2.into()),
            ("id", |v| v["id"] = "mj_other".into()),
            ("template", |v| v["template"] = "invitation".into()),
            ("to.email", |v| v["to"]["email"] = "eve@example.com".into()),
            ("to.name", |v| v["to"]["name"] = "Eve".into()),
            ("firm.id", |v| v["firm"]["id"] = "fm_y".into()),
            ("firm.slug", |v| v["firm"]["slug"] = "evil".into()),
            ("firm.name", |v| v["firm"]["name"] = "Evil Bank".into()),
            ("firm.brand_color", |v| {
                v["firm"]["brand_color"] = "#000".into()
            }),
            ("firm.portal_url", |v| {
                v["firm"]["portal_url"] = "https://evil.example".into()
            }),
            ("data value", |v| v["data"]["language"] = "en".into()),
            ("data member added", |v| {
                v["data"]["login_url"] = "https://evil.example/login".into()
            }),
            ("data member removed", |v| {
                v["data"].as_object_mut().unwrap().remove("link_ttl_days");
            }),
            ("data removed", |v| {
                v.as_object_mut().unwrap().remove("data");
            }),
            ("sealed", |v| {
                let sealed = v["sealed"].as_str().unwrap().replace("k1.", "k1.A");
                v["sealed"] = sealed.into();
            }),
            ("sealed removed", |v| {
                v.as_object_mut().unwrap().remove("sealed");
            }),
            ("enqueued_at_ms", |v| v["enqueued_at_ms"] = 1.into()),
            ("not_after", |v| v["not_after"] = 2_100_000_000.into()),
            ("not_after removed", |v| {
                v.as_object_mut().unwrap().remove("not_after");
            }),
            ("tag of another job", |v| {
                v["id"] = "mj_other".into();
                v["data"] = serde_json::json!({});
            }),
            ("recipient and firm together", |v| {
                v["to"]["email"] = "eve@example.com".into();
                v["firm"]["name"] = "Evil Bank".into();
            }),
        ];
        for (what, edit) in edits {
            let json = edited(&json, edit);
            assert_eq!(
                verify(&json, &keys, "p:"),
                Err(TagError::Mismatch),
                "{what}"
            );
        }
    }

    #[test]
    fn missing_malformed_and_foreign_tags_are_refused() {
        let keys = Keyring::generate("k1");
        let json = tagged(&keys);
        let untagged = edited(&json, |v| {
            v.as_object_mut().unwrap().remove("tag");
        });
        assert_eq!(verify(&untagged, &keys, "p:"), Err(TagError::Missing));
        let mut job = job();
        job.id = "mj_plain".into();
        let plain = serde_json::to_string(&job).unwrap();
        assert!(!plain.contains("tag"), "serializing a job writes no tag");
        assert_eq!(verify(&plain, &keys, "p:"), Err(TagError::Missing));
        let (_, mac) = serde_json::from_str::<serde_json::Value>(&json).unwrap()["tag"]
            .as_str()
            .unwrap()
            .split_once('.')
            .map(|(k, m)| (k.to_string(), m.to_string()))
            .unwrap();
        for bad in [
            "".to_string(),
            "k1".into(),
            "k1.".into(),
            "k1.!!!".into(),
            format!("k1.{}", &mac[..20]),
            format!("k1.{mac}AA"),
            format!(".{mac}"),
            format!("k 1.{mac}"),
            format!("{}.{mac}", "k".repeat(17)),
        ] {
            let json = edited(&json, |v| v["tag"] = bad.clone().into());
            assert_eq!(
                verify(&json, &keys, "p:"),
                Err(TagError::Malformed),
                "{bad:?}"
            );
        }
        let number = edited(&json, |v| v["tag"] = 7.into());
        assert!(MailJob::from_json(&number).is_err(), "a tag is a string");
        // Another installation's key of the same name, and a key not in the ring.
        let impostor = Keyring::generate("k1");
        assert_eq!(
            verify(&tagged(&impostor), &keys, "p:"),
            Err(TagError::Mismatch)
        );
        assert_eq!(
            verify(&tagged(&Keyring::generate("k9")), &keys, "p:"),
            Err(TagError::UnknownKey("k9".into()))
        );
    }

    #[test]
    fn a_job_tagged_for_one_prefix_does_not_verify_under_another() {
        let keys = Keyring::generate("k1");
        let json = tagged(&keys);
        assert_eq!(verify(&json, &keys, "p:"), Ok(()));
        for other in ["q:", "", "p", "p::", "P:"] {
            assert_eq!(
                verify(&json, &keys, other),
                Err(TagError::Mismatch),
                "{other:?}"
            );
        }
    }

    #[test]
    fn jobs_tagged_before_a_rotation_verify_while_their_key_is_in_the_ring() {
        let old = Keyring::generate("old");
        let new = Keyring::generate("new");
        let both = Keyring::parse(&format!(
            "{},{}",
            new.to_config_string(),
            old.to_config_string()
        ))
        .unwrap();
        let before = tagged(&old);
        let after = tagged(&both);
        assert!(after.contains(r#""tag":"new."#), "the first key tags");
        assert_eq!(verify(&before, &both, "p:"), Ok(()));
        assert_eq!(verify(&after, &both, "p:"), Ok(()));
        assert_eq!(verify(&after, &new, "p:"), Ok(()));
        assert_eq!(
            verify(&before, &new, "p:"),
            Err(TagError::UnknownKey("old".into())),
            "the old key retired"
        );
    }

    /// The content is re-made from the parsed job, so it must survive a JSON round trip
    /// exactly: floats included (serde_json's `float_roundtrip`), and `data`'s members in
    /// one order whatever order they were written in.
    #[test]
    fn the_content_survives_a_round_trip_of_awkward_data() {
        let keys = Keyring::generate("k1");
        let mut job = job();
        let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
        let floats: Vec<f64> = (0..2000)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                f64::from_bits(seed)
            })
            .filter(|f| f.is_finite())
            .chain([
                0.1 + 0.2,
                1.0 / 3.0,
                5e-324,
                -0.0,
                1e300,
                2.2250738585072014e-308,
            ])
            .collect();
        job.data = serde_json::json!({
            "z": "last", "a": "first", "floats": floats, "big": u64::MAX, "small": i64::MIN,
            "text": "quote \" backslash \\ newline \n nul \u{0} é 😀", "nested": {"y": 1, "b": [true, null]},
        });
        let json = job
            .clone()
            .authenticate(&keys, &RedisKeys::new("p:"))
            .to_json()
            .to_string();
        let back = MailJob::from_json(&json).unwrap();
        assert_eq!(back.verify(&keys, "p:"), Ok(()));
        assert_eq!(back.content(), job.content());
        let content = String::from_utf8(job.content()).unwrap();
        assert!(content.starts_with(r#"{"v":1,"id":"#), "{content}");
        assert!(
            content.find(r#""a":"first""#) < content.find(r#""z":"last""#),
            "data's members sorted by name: {content}"
        );
    }

    #[test]
    fn the_tagged_job_enqueues_on_its_prefix_and_hides_the_address() {
        let keys = Keyring::generate("k1");
        let tagged = job().authenticate(&keys, &RedisKeys::new("p:"));
        let cmd = tagged.enqueue_cmd();
        let args: Vec<String> = cmd
            .args_iter()
            .map(|a| match a {
                redis::Arg::Simple(bytes) => String::from_utf8_lossy(bytes).into_owned(),
                _ => "(cursor)".into(),
            })
            .collect();
        assert_eq!(args[..4], ["XADD", "p:{mail}:jobs", "*", JOB_FIELD]);
        assert_eq!(args[4], tagged.to_json());
        assert!(!format!("{tagged:?}").contains("ann@"));
    }
}
