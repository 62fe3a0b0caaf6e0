//! The mail-job protocol between the gateway (producer) and the mailer (consumer).
//!
//! Jobs go on a Redis Stream (`{prefix}mail:jobs`) as one field, `job`, holding the JSON of a
//! [`MailJob`]. Mailers read it through the consumer group [`CONSUMER_GROUP`]; jobs that fail
//! for good go to `{prefix}mail:dead`. A job names its template, recipient and firm and carries
//! its template data; secrets (a sign-in link and its code) travel sealed with AES-256-GCM under
//! a key derived from the signing keys, so the stream's contents alone let nobody sign in.
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

use crate::keys::Keyring;
use crate::redis_conn::RedisKeys;
use crate::secret::{b64, random_bytes, unb64};

/// The consumer group every mailer joins.
pub const CONSUMER_GROUP: &str = "mailers";
/// The stream field holding the job's JSON.
pub const JOB_FIELD: &str = "job";
/// The protocol version written in every job.
pub const PROTOCOL_VERSION: u8 = 1;

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
}

impl Template {
    pub fn name(self) -> &'static str {
        match self {
            Template::LoginLink => "login_link",
            Template::Invitation => "invitation",
            Template::TaskShared => "task_shared",
            Template::SignatureRequested => "signature_requested",
            Template::RequestReply => "request_reply",
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

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a mail job serializes")
    }

    pub fn from_json(text: &str) -> Result<MailJob, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// The `XADD` that enqueues this job. Add it to a pipeline to enqueue atomically with
    /// other writes.
    pub fn enqueue_cmd(&self, keys: &RedisKeys) -> redis::Cmd {
        let mut cmd = redis::cmd("XADD");
        cmd.arg(keys.mail_stream())
            .arg("*")
            .arg(JOB_FIELD)
            .arg(self.to_json());
        cmd
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
        assert!(!job.to_json().contains("ABCD-EFGH"));
        let back = MailJob::from_json(&job.to_json()).unwrap();
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
}
