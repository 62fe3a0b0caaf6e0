//! Magic-link tokens and their short codes.
//!
//! A token is `{key id}.{body}.{tag}`: the body holds 128 random bits, the expiry and the
//! purpose; the tag is HMAC-SHA256 over the body and the firm's id. So a forged, altered,
//! expired or other-firm token is refused by arithmetic alone, before Redis is asked.
//! Redis tracks a live link under a keyed hash of its nonce and holds only keyed hashes of its
//! code and binding cookie: its contents alone let nobody sign in.
//!
//! Plain secrets live in [`PlainToken`] and [`PlainCode`], whose `Debug` prints `[redacted]`,
//! so they cannot reach a log line by accident.

use std::fmt;

use crate::ids::FirmId;
use crate::keys::{Keyring, Purpose, SigningKey};
use crate::secret::{b64, random_bytes, unb64};

const NONCE_BYTES: usize = 16;
const BODY_BYTES: usize = NONCE_BYTES + 8 + 1;

/// Letters and digits a person cannot misread: no I, L, O, 0 or 1.
const CODE_ALPHABET: &[u8; 31] = b"ABCDEFGHJKMNPQRSTUVWXYZ23456789";
pub const CODE_LENGTH: usize = 8;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkPurpose {
    Login,
    Invitation,
    /// A member signs in to the staff console.
    StaffLogin,
    /// Someone invited to a firm's team accepts.
    TeamInvitation,
    /// A member confirms a new login address (the link goes to the new address).
    StaffEmailChange,
}

impl LinkPurpose {
    fn to_byte(self) -> u8 {
        match self {
            LinkPurpose::Login => 1,
            LinkPurpose::Invitation => 2,
            LinkPurpose::StaffLogin => 3,
            LinkPurpose::TeamInvitation => 4,
            LinkPurpose::StaffEmailChange => 5,
        }
    }

    fn from_byte(byte: u8) -> Option<LinkPurpose> {
        match byte {
            1 => Some(LinkPurpose::Login),
            2 => Some(LinkPurpose::Invitation),
            3 => Some(LinkPurpose::StaffLogin),
            4 => Some(LinkPurpose::TeamInvitation),
            5 => Some(LinkPurpose::StaffEmailChange),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            LinkPurpose::Login => "login",
            LinkPurpose::Invitation => "invitation",
            LinkPurpose::StaffLogin => "staff_login",
            LinkPurpose::TeamInvitation => "team_invitation",
            LinkPurpose::StaffEmailChange => "staff_email_change",
        }
    }

    /// Whether the link is for the staff console (`/staff/auth/magic`) rather than the
    /// client portal (`/auth/magic`).
    pub fn staff(self) -> bool {
        matches!(
            self,
            LinkPurpose::StaffLogin | LinkPurpose::TeamInvitation | LinkPurpose::StaffEmailChange
        )
    }
}

/// A token in plain form: to be mailed, never stored or logged.
#[derive(Clone, PartialEq, Eq)]
pub struct PlainToken(String);

impl PlainToken {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for PlainToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PlainToken([redacted])")
    }
}

/// A short code in plain form, as mailed: `ABCD-EFGH`.
#[derive(Clone, PartialEq, Eq)]
pub struct PlainCode(String);

impl PlainCode {
    pub fn generate() -> PlainCode {
        let mut code = String::with_capacity(CODE_LENGTH);
        while code.len() < CODE_LENGTH {
            for byte in random_bytes::<16>() {
                // Rejection sampling keeps every character equally likely.
                if (byte as usize) < CODE_ALPHABET.len() * 8 && code.len() < CODE_LENGTH {
                    code.push(CODE_ALPHABET[byte as usize % CODE_ALPHABET.len()] as char);
                }
            }
        }
        PlainCode(code)
    }

    /// Reads what a person typed: any case, with or without the dash or spaces.
    pub fn parse(typed: &str) -> Option<PlainCode> {
        let code: String = typed
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '-')
            .map(|c| c.to_ascii_uppercase())
            .collect();
        (code.len() == CODE_LENGTH && code.bytes().all(|b| CODE_ALPHABET.contains(&b)))
            .then_some(PlainCode(code))
    }

    /// `ABCD-EFGH`, as written in the email.
    pub fn display(&self) -> String {
        format!("{}-{}", &self.0[..4], &self.0[4..])
    }
}

impl fmt::Debug for PlainCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PlainCode([redacted])")
    }
}

/// A freshly minted link: the plain parts for the email, the hashed parts for Redis.
#[derive(Debug)]
pub struct MintedLink {
    pub token: PlainToken,
    pub code: PlainCode,
    /// Redis key suffix under which the link is tracked.
    pub lookup: String,
    pub code_hash: String,
    pub expires_at: i64,
}

/// Mints a link for `firm_id`, signed by the ring's active key.
pub fn mint_link(
    keys: &Keyring,
    firm_id: &FirmId,
    purpose: LinkPurpose,
    expires_at: i64,
) -> MintedLink {
    let key = keys.active();
    let nonce = random_bytes::<NONCE_BYTES>();
    let mut body = [0u8; BODY_BYTES];
    body[..NONCE_BYTES].copy_from_slice(&nonce);
    body[NONCE_BYTES..NONCE_BYTES + 8].copy_from_slice(&expires_at.to_be_bytes());
    body[BODY_BYTES - 1] = purpose.to_byte();
    let tag = key.sign(Purpose::LinkTag, &[firm_id.as_str().as_bytes(), &body]);
    let token = format!("{}.{}.{}", key.id(), b64(&body), b64(tag.as_ref()));
    let link = VerifiedLink {
        key,
        nonce,
        expires_at,
        purpose,
    };
    let code = PlainCode::generate();
    MintedLink {
        code_hash: link.code_hash(&code),
        lookup: link.lookup(),
        token: PlainToken(token),
        code,
        expires_at,
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    #[error("the token is malformed")]
    Malformed,
    #[error("the token's key is not in the ring (retired or unknown)")]
    UnknownKey,
    #[error("the token's tag does not verify (altered, forged or of another firm)")]
    BadTag,
    #[error("the token has expired")]
    Expired,
}

/// A token whose tag verified for this firm and which has not expired.
pub struct VerifiedLink<'k> {
    key: &'k SigningKey,
    nonce: [u8; NONCE_BYTES],
    pub expires_at: i64,
    pub purpose: LinkPurpose,
}

impl fmt::Debug for VerifiedLink<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifiedLink")
            .field("key", &self.key.id())
            .field("expires_at", &self.expires_at)
            .field("purpose", &self.purpose)
            .finish_non_exhaustive()
    }
}

pub fn verify_link<'k>(
    keys: &'k Keyring,
    firm_id: &FirmId,
    token: &str,
    now: i64,
) -> Result<VerifiedLink<'k>, LinkError> {
    let mut parts = token.trim().splitn(3, '.');
    let (Some(kid), Some(body), Some(tag)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(LinkError::Malformed);
    };
    let body = unb64(body).ok_or(LinkError::Malformed)?;
    let tag = unb64(tag).ok_or(LinkError::Malformed)?;
    if body.len() != BODY_BYTES {
        return Err(LinkError::Malformed);
    }
    let key = keys.get(kid).ok_or(LinkError::UnknownKey)?;
    if !key.verify(
        Purpose::LinkTag,
        &[firm_id.as_str().as_bytes(), &body],
        &tag,
    ) {
        return Err(LinkError::BadTag);
    }
    let mut nonce = [0u8; NONCE_BYTES];
    nonce.copy_from_slice(&body[..NONCE_BYTES]);
    let expires_at = i64::from_be_bytes(body[NONCE_BYTES..NONCE_BYTES + 8].try_into().unwrap());
    let purpose = LinkPurpose::from_byte(body[BODY_BYTES - 1]).ok_or(LinkError::Malformed)?;
    if expires_at <= now {
        return Err(LinkError::Expired);
    }
    Ok(VerifiedLink {
        key,
        nonce,
        expires_at,
        purpose,
    })
}

impl VerifiedLink<'_> {
    /// The Redis key suffix of this link.
    pub fn lookup(&self) -> String {
        self.key.keyed_hash(Purpose::LinkLookup, &[&self.nonce])
    }

    /// The stored form of a code for this link.
    pub fn code_hash(&self, code: &PlainCode) -> String {
        self.key
            .keyed_hash(Purpose::LinkCode, &[&self.nonce, code.0.as_bytes()])
    }

    /// The stored form of a browser-binding cookie value.
    pub fn binding_hash(&self, binding: &str) -> String {
        binding_hash(self.key, binding)
    }
}

/// The stored form of a browser-binding cookie value, under a given key.
pub fn binding_hash(key: &SigningKey, binding: &str) -> String {
    key.keyed_hash(Purpose::Binding, &[binding.as_bytes()])
}

#[cfg(test)]
mod tests {
    use super::*;

    const FAR: i64 = 4_000_000_000;

    fn firm(name: &str) -> FirmId {
        FirmId::parse(&format!("fm_{name:_<22}")).unwrap()
    }

    #[test]
    fn minted_token_verifies_for_its_firm_only() {
        let keys = Keyring::generate("k1");
        let link = mint_link(&keys, &firm("a"), LinkPurpose::Login, FAR);
        let verified = verify_link(&keys, &firm("a"), link.token.expose(), 0).unwrap();
        assert_eq!(verified.lookup(), link.lookup);
        assert_eq!(verified.code_hash(&link.code), link.code_hash);
        assert_eq!(verified.purpose, LinkPurpose::Login);
        assert_eq!(
            verify_link(&keys, &firm("b"), link.token.expose(), 0).unwrap_err(),
            LinkError::BadTag
        );
    }

    #[test]
    fn every_flipped_bit_is_refused() {
        let keys = Keyring::generate("k1");
        let link = mint_link(&keys, &firm("a"), LinkPurpose::Login, FAR);
        let token = link.token.expose().as_bytes().to_vec();
        for i in 0..token.len() {
            for bit in 0..7 {
                let mut t = token.clone();
                t[i] ^= 1 << bit;
                let Ok(t) = String::from_utf8(t) else {
                    continue;
                };
                if t == link.token.expose() {
                    continue;
                }
                assert!(verify_link(&keys, &firm("a"), &t, 0).is_err(), "{i}/{bit}");
            }
        }
    }

    #[test]
    fn expiry_and_retired_keys() {
        let old = Keyring::generate("old");
        let link = mint_link(&old, &firm("a"), LinkPurpose::Invitation, 100);
        assert_eq!(
            verify_link(&old, &firm("a"), link.token.expose(), 100).unwrap_err(),
            LinkError::Expired
        );
        let new = Keyring::generate("new");
        assert_eq!(
            verify_link(&new, &firm("a"), link.token.expose(), 0).unwrap_err(),
            LinkError::UnknownKey
        );
        assert_eq!(
            verify_link(&new, &firm("a"), "garbage", 0).unwrap_err(),
            LinkError::Malformed
        );
    }

    #[test]
    fn codes_are_typed_loosely() {
        let code = PlainCode::generate();
        let shown = code.display();
        assert_eq!(shown.len(), 9);
        assert_eq!(PlainCode::parse(&shown), Some(code.clone()));
        assert_eq!(PlainCode::parse(&shown.to_lowercase()), Some(code.clone()));
        let spaced = format!(" {} {} ", &shown[..4], &shown[5..]);
        assert_eq!(PlainCode::parse(&spaced), Some(code));
        assert_eq!(PlainCode::parse("ABCD-EFG"), None);
        assert_eq!(PlainCode::parse("ABCD-EFG0"), None);
        assert!(format!("{:?}", PlainCode::generate()).contains("redacted"));
    }
}

/// A staff API key as it is shown once: `pk_` and 32 random characters (190 bits). Only its
/// [`ApiKeyHash`] is stored; `Debug` never prints it.
pub struct ApiKey(String);

impl ApiKey {
    pub fn generate() -> ApiKey {
        ApiKey(format!("pk_{}", crate::secret::random_string::<32>()))
    }

    /// A key as presented in an `Authorization` header (not yet known to be valid).
    pub fn presented(key: &str) -> ApiKey {
        ApiKey(key.to_string())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    /// What is stored of it: a plain SHA-256 suffices, as the key carries 190 random bits.
    pub fn hash(&self) -> ApiKeyHash {
        ApiKeyHash {
            prefix: self.0.chars().take(10).collect(),
            hash: crate::secret::hex(
                ring::digest::digest(&ring::digest::SHA256, self.0.as_bytes()).as_ref(),
            ),
        }
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey([redacted])")
    }
}

/// The SHA-256 of an API key (hex) and its first characters, which are all that is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyHash {
    pub prefix: String,
    pub hash: String,
}
