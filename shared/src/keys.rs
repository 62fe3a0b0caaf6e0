//! Signing keys. Every secret the system derives (link tags, keyed hashes of tokens and codes,
//! session ids, CSRF tokens, sealed mail data) comes from a key in this ring, each purpose from
//! its own HKDF-derived subkey, so no two uses can be confused.
//!
//! The ring lists keys by id; the first signs, the others still verify, which is how a key
//! rotates: put the new key first, keep the old one until what it signed has expired, then
//! drop it. A token whose key id is not in the ring is refused.

use std::fmt;
use std::path::Path;

use ring::aead::{AES_256_GCM, LessSafeKey, UnboundKey};
use ring::hkdf::{HKDF_SHA256, Prk};
use ring::hmac;

use crate::secret::{b64, hex, random_bytes, unb64};

/// What a derived key is used for. Each has its own subkey.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    /// The tag that makes a magic-link token unforgeable.
    LinkTag,
    /// The Redis key under which a link is tracked (a keyed hash of its nonce).
    LinkLookup,
    /// The keyed hash of a link's short code.
    LinkCode,
    /// The keyed hash of the browser-binding cookie set by `POST /login`.
    Binding,
    /// The Redis key of a client's session (a keyed hash of the cookie value).
    Session,
    /// The Redis key of a staff member's session: a purpose of its own, so a client's cookie
    /// can never name a staff session, nor the reverse.
    StaffSession,
    /// CSRF form tokens.
    Csrf,
    /// Company-switch handover tokens.
    Handover,
    /// Keyed hashes of email addresses in rate-limit counters.
    RateKey,
    /// The tag over the fields of a Redis record that never change after it is written (a
    /// session, a link, a handover) and the key it lives under, so a record copied or edited
    /// by someone who can write to Redis does not verify.
    RedisRecord,
    /// The tag over a mail job's content, its id and the Redis prefix it was enqueued under.
    MailJob,
}

const PURPOSES: [(Purpose, &str); 11] = [
    (Purpose::LinkTag, "portico/link-tag/v1"),
    (Purpose::LinkLookup, "portico/link-lookup/v1"),
    (Purpose::LinkCode, "portico/link-code/v1"),
    (Purpose::Binding, "portico/binding/v1"),
    (Purpose::Session, "portico/session/v1"),
    (Purpose::StaffSession, "portico/staff-session/v1"),
    (Purpose::Csrf, "portico/csrf/v1"),
    (Purpose::Handover, "portico/handover/v1"),
    (Purpose::RateKey, "portico/rate-key/v1"),
    (Purpose::RedisRecord, "portico/redis-record/v1"),
    (Purpose::MailJob, "portico/mail-job/v1"),
];

const SEAL_LABEL: &str = "portico/mail-seal/v1";

/// Shortest secret accepted: 256 bits.
const MIN_SECRET_BYTES: usize = 32;

pub struct SigningKey {
    id: String,
    secret: Vec<u8>,
    subkeys: Vec<hmac::Key>,
    seal: LessSafeKey,
}

impl SigningKey {
    fn new(id: &str, secret: Vec<u8>) -> Result<SigningKey, String> {
        if id.is_empty()
            || id.len() > 16
            || !id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(format!(
                "key id {id:?} must be 1 to 16 letters, digits, '-' or '_'"
            ));
        }
        if secret.len() < MIN_SECRET_BYTES {
            return Err(format!(
                "key {id} is too short: at least {MIN_SECRET_BYTES} bytes of base64url are needed"
            ));
        }
        let prk = Prk::new_less_safe(HKDF_SHA256, &secret);
        let subkeys = PURPOSES
            .iter()
            .map(|(_, label)| {
                let info = [label.as_bytes()];
                let okm = prk.expand(&info, hmac::HMAC_SHA256).expect("HKDF length");
                hmac::Key::from(okm)
            })
            .collect();
        let seal_info = [SEAL_LABEL.as_bytes()];
        let okm = prk.expand(&seal_info, &AES_256_GCM).expect("HKDF length");
        let seal = LessSafeKey::new(UnboundKey::from(okm));
        Ok(SigningKey {
            id: id.to_string(),
            secret,
            subkeys,
            seal,
        })
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    fn subkey(&self, purpose: Purpose) -> &hmac::Key {
        let index = PURPOSES
            .iter()
            .position(|(p, _)| *p == purpose)
            .expect("every purpose has a label");
        &self.subkeys[index]
    }

    /// HMAC-SHA256 over the parts, each length-prefixed so that ("ab","c") and ("a","bc") differ.
    pub fn sign(&self, purpose: Purpose, parts: &[&[u8]]) -> hmac::Tag {
        hmac::sign(self.subkey(purpose), &framed(parts))
    }

    /// Constant-time check (ring's `hmac::verify`) of a tag made by [`SigningKey::sign`].
    pub fn verify(&self, purpose: Purpose, parts: &[&[u8]], tag: &[u8]) -> bool {
        hmac::verify(self.subkey(purpose), &framed(parts), tag).is_ok()
    }

    /// A keyed hash in hex, for storing a secret's fingerprint where a lookup needs it.
    pub fn keyed_hash(&self, purpose: Purpose, parts: &[&[u8]]) -> String {
        hex(self.sign(purpose, parts).as_ref())
    }

    /// The AEAD key that seals secrets carried by mail jobs.
    pub fn sealing_key(&self) -> &LessSafeKey {
        &self.seal
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SigningKey({}, [redacted])", self.id)
    }
}

#[derive(Debug)]
pub struct Keyring {
    keys: Vec<SigningKey>,
}

impl Keyring {
    /// Parses `id:secret,id:secret…` (or one pair a line); the first key signs.
    pub fn parse(text: &str) -> Result<Keyring, String> {
        let mut keys: Vec<SigningKey> = Vec::new();
        let entries = text
            .lines()
            .filter(|line| !line.trim_start().starts_with('#'))
            .flat_map(|line| line.split(','))
            .map(str::trim)
            .filter(|e| !e.is_empty());
        for entry in entries {
            let (id, secret) = entry
                .split_once(':')
                .ok_or("expected id:secret pairs separated by commas")?;
            let secret = unb64(secret.trim())
                .ok_or_else(|| format!("the secret of key {id} is not base64url"))?;
            if keys.iter().any(|k| k.id == id.trim()) {
                return Err(format!("key id {id} appears twice"));
            }
            keys.push(SigningKey::new(id.trim(), secret)?);
        }
        if keys.is_empty() {
            return Err("no keys given".into());
        }
        Ok(Keyring { keys })
    }

    /// One fresh key, for a first start or for tests.
    pub fn generate(id: &str) -> Keyring {
        Keyring {
            keys: vec![SigningKey::new(id, random_bytes::<32>().to_vec()).expect("valid key")],
        }
    }

    /// Reads `signing-keys` in the data folder, creating it with one new key when missing.
    /// Creation is race-free (written aside, then hard-linked into place), so a gateway and a
    /// mailer starting together end up with the same key.
    pub fn load_or_generate(data_dir: &Path) -> Result<Keyring, String> {
        let path = data_dir.join("signing-keys");
        if !path.exists() {
            std::fs::create_dir_all(data_dir)
                .map_err(|e| format!("cannot create {}: {e}", data_dir.display()))?;
            let id = format!("k{}", &hex(&random_bytes::<3>()));
            let ring = Keyring::generate(&id);
            let aside = data_dir.join(format!(".signing-keys.{}", hex(&random_bytes::<6>())));
            let text = format!(
                "# Portico signing keys: id:secret, one a line; the first signs.\n{}\n",
                ring.to_config_string()
            );
            write_private(&aside, &text)
                .map_err(|e| format!("cannot write {}: {e}", aside.display()))?;
            let linked = std::fs::hard_link(&aside, &path);
            let _ = std::fs::remove_file(&aside);
            if let Err(e) = linked
                && e.kind() != std::io::ErrorKind::AlreadyExists
            {
                return Err(format!("cannot create {}: {e}", path.display()));
            }
        }
        let text = std::fs::read_to_string(&path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        Keyring::parse(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    pub fn to_config_string(&self) -> String {
        self.keys
            .iter()
            .map(|k| format!("{}:{}", k.id, b64(&k.secret)))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The key that signs new tokens.
    pub fn active(&self) -> &SigningKey {
        &self.keys[0]
    }

    /// Any key of the ring, by id; `None` for a retired or unknown key.
    pub fn get(&self, id: &str) -> Option<&SigningKey> {
        self.keys.iter().find(|k| k.id == id)
    }

    /// `{key id}.{tag}`: the [`Purpose::RedisRecord`] tag of a Redis record under the active
    /// key. `parts` are the record's key and every field that never changes after it is
    /// written.
    pub fn tag_record(&self, parts: &[&[u8]]) -> String {
        let key = self.active();
        format!(
            "{}.{}",
            key.id,
            b64(key.sign(Purpose::RedisRecord, parts).as_ref())
        )
    }

    /// Whether `tag` is [`Keyring::tag_record`]'s over `parts`, under a key still in the ring
    /// (so retiring a key ends the records it tagged).
    pub fn verify_record(&self, tag: &str, parts: &[&[u8]]) -> bool {
        let Some((id, tag)) = tag.split_once('.') else {
            return false;
        };
        match (self.get(id), unb64(tag)) {
            (Some(key), Some(tag)) => key.verify(Purpose::RedisRecord, parts, &tag),
            _ => false,
        }
    }
}

fn framed(parts: &[&[u8]]) -> Vec<u8> {
    let mut message = Vec::with_capacity(parts.iter().map(|p| p.len() + 8).sum());
    for part in parts {
        message.extend_from_slice(&(part.len() as u64).to_be_bytes());
        message.extend_from_slice(part);
    }
    message
}

fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_round_trip_and_rotation() {
        let old = Keyring::generate("old");
        let new = Keyring::generate("new");
        let both = Keyring::parse(&format!(
            "{},{}",
            new.to_config_string(),
            old.to_config_string()
        ))
        .unwrap();
        assert_eq!(both.active().id(), "new");
        let tag = old.active().sign(Purpose::LinkTag, &[b"x"]);
        assert!(
            both.get("old")
                .unwrap()
                .verify(Purpose::LinkTag, &[b"x"], tag.as_ref())
        );
        assert!(
            !both
                .get("new")
                .unwrap()
                .verify(Purpose::LinkTag, &[b"x"], tag.as_ref())
        );
    }

    #[test]
    fn purposes_and_parts_do_not_collide() {
        let ring = Keyring::generate("k");
        let k = ring.active();
        assert_ne!(
            k.keyed_hash(Purpose::LinkTag, &[b"a"]),
            k.keyed_hash(Purpose::Session, &[b"a"])
        );
        assert_ne!(
            k.keyed_hash(Purpose::LinkTag, &[b"ab", b"c"]),
            k.keyed_hash(Purpose::LinkTag, &[b"a", b"bc"])
        );
    }

    #[test]
    fn bad_rings_are_refused() {
        assert!(Keyring::parse("").is_err());
        assert!(Keyring::parse("k1").is_err());
        assert!(Keyring::parse("k1:short").is_err());
        assert!(Keyring::parse("k1:!!!").is_err());
        let one = Keyring::generate("k1").to_config_string();
        assert!(Keyring::parse(&format!("{one},{one}")).is_err());
    }

    #[test]
    fn generated_file_is_reused() {
        let dir = std::env::temp_dir().join(format!("portico-keys-{}", hex(&random_bytes::<6>())));
        let first = Keyring::load_or_generate(&dir).unwrap();
        let second = Keyring::load_or_generate(&dir).unwrap();
        assert_eq!(first.to_config_string(), second.to_config_string());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn record_tags_cover_every_part_and_die_with_their_key() {
        let old = Keyring::generate("k1");
        let tag = old.tag_record(&[b"portico:session:abc", b"ct_1", b"7"]);
        assert!(old.verify_record(&tag, &[b"portico:session:abc", b"ct_1", b"7"]));
        assert!(!old.verify_record(&tag, &[b"portico:session:abd", b"ct_1", b"7"]));
        assert!(!old.verify_record(&tag, &[b"portico:session:abc", b"ct_2", b"7"]));
        assert!(!old.verify_record(&tag, &[b"portico:session:abc", b"ct_1", b"8"]));
        assert!(!old.verify_record("", &[b"portico:session:abc", b"ct_1", b"7"]));
        assert!(!old.verify_record("k1.AAAA", &[b"portico:session:abc", b"ct_1", b"7"]));
        // Rotation: a new key first, the old one still verifying; then the old one retired.
        let new = Keyring::generate("k2");
        let both = Keyring::parse(&format!(
            "{},{}",
            new.to_config_string(),
            old.to_config_string()
        ))
        .unwrap();
        assert!(both.verify_record(&tag, &[b"portico:session:abc", b"ct_1", b"7"]));
        let retired = Keyring::parse(&new.to_config_string()).unwrap();
        assert!(!retired.verify_record(&tag, &[b"portico:session:abc", b"ct_1", b"7"]));
    }
}
