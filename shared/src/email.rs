//! Email addresses as the portal compares them, and as logs may show them.

use std::fmt;

/// A syntactically valid address; `normalized` is the form compared for uniqueness
/// (addresses are matched case-insensitively).
#[derive(Clone, PartialEq, Eq)]
pub struct Email {
    address: String,
    normalized: String,
}

impl Email {
    /// A bare address and nothing else: `local@domain`. Refused: display text
    /// (`Eve <ann@example.com>`), domain literals (`ann@[127.0.0.1]`), quoted local parts,
    /// comments, whitespace or control characters inside. The local part is an ASCII dot-atom
    /// (RFC 5322); the domain is a host name of at least two labels, and may be
    /// internationalised: it is compared (and its labels checked) in its ASCII form
    /// (`münchen.de` is `xn--mnchen-3ya.de`). Surrounding whitespace is ignored.
    pub fn parse(text: &str) -> Result<Email, &'static str> {
        const INVALID: &str = "enter a valid email address, like name@example.com";
        let address = text.trim();
        if address.is_empty() {
            return Err("enter an email address");
        }
        if address.len() > 254 {
            return Err(INVALID);
        }
        let (local, domain) = address.rsplit_once('@').ok_or(INVALID)?;
        if !is_dot_atom(local) || local.len() > 64 {
            return Err(INVALID);
        }
        let ascii_domain = ascii_host_name(domain).ok_or(INVALID)?;
        Ok(Email {
            address: address.to_string(),
            normalized: format!("{}@{ascii_domain}", local.to_ascii_lowercase()),
        })
    }

    pub fn as_str(&self) -> &str {
        &self.address
    }

    pub fn normalized(&self) -> &str {
        &self.normalized
    }

    /// `a***@example.com`: enough to tell addresses apart in a log, not enough to harvest them.
    pub fn masked(&self) -> String {
        mask(&self.address)
    }
}

/// `atext` runs separated by single dots (RFC 5322 §3.2.3), ASCII only.
fn is_dot_atom(local: &str) -> bool {
    let atext = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-/=?^_`{|}~".contains(&b);
    !local.is_empty()
        && local
            .split('.')
            .all(|atom| !atom.is_empty() && atom.bytes().all(atext))
}

/// The domain in its ASCII (punycode) form, lower-cased, when it is a host name of at least
/// two labels: letters, digits and inner hyphens, 1–63 characters each, 253 in all.
fn ascii_host_name(domain: &str) -> Option<String> {
    if domain
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || "[]()<>\"\\,;:@".contains(c))
    {
        return None;
    }
    let ascii = idna::domain_to_ascii(domain).ok()?;
    // IDNA maps some characters onto others (full stops of other scripts, fullwidth letters);
    // a domain is accepted only in one of its own canonical spellings (Unicode or ASCII),
    // up to case.
    let typed = domain.to_lowercase();
    if typed != ascii && idna::domain_to_unicode(&ascii).0 != typed {
        return None;
    }
    let label_ok = |label: &str| {
        (1..=63).contains(&label.len())
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    };
    let labels: Vec<&str> = ascii.split('.').collect();
    (ascii.len() <= 253
        && labels.len() >= 2
        && labels.iter().all(|l| label_ok(l))
        && !labels.last()?.bytes().all(|b| b.is_ascii_digit()))
    .then_some(ascii)
}

pub fn mask(address: &str) -> String {
    match address.split_once('@') {
        Some((local, domain)) => {
            let first: String = local.chars().take(1).collect();
            format!("{first}***@{domain}")
        }
        None => "***".to_string(),
    }
}

impl fmt::Debug for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Email({})", self.masked())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_normalizes() {
        let e = Email::parse("  Ann.Lee@Example.COM ").unwrap();
        assert_eq!(e.as_str(), "Ann.Lee@Example.COM");
        assert_eq!(e.normalized(), "ann.lee@example.com");
        assert_eq!(e.masked(), "A***@Example.COM");
        assert!(Email::parse("").is_err());
        assert!(Email::parse("not-an-email").is_err());
        assert!(Email::parse("a@b@c").is_err());
    }

    #[test]
    fn only_bare_addresses_are_accepted() {
        for refused in [
            "Eve <ann@example.com>",
            "<ann@example.com>",
            "ann@[127.0.0.1]",
            "ann@[IPv6:::1]",
            "\"ann lee\"@example.com",
            "\"ann\"@example.com",
            "ann(comment)@example.com",
            "ann lee@example.com",
            "ann@exam ple.com",
            "ann\u{0}@example.com",
            "ann@example.com\r\nBcc: x@y.z",
            "ann\t@example.com",
            "ann@localhost",
            "ann@127.0.0.1",
            ".ann@example.com",
            "ann.@example.com",
            "an..n@example.com",
            "ann@-example.com",
            "ann@example..com",
            "ann@example.com.",
            "änn@example.com",
            "ann@example\u{3002}com",
            "ann@ｅxample.com",
        ] {
            assert!(Email::parse(refused).is_err(), "{refused:?} was accepted");
        }
        for accepted in [
            "ann@example.com",
            "a.b-c+tag@mail.example.co.uk",
            "o'brien@example.ie",
            "x@a.io",
        ] {
            assert!(Email::parse(accepted).is_ok(), "{accepted:?} was refused");
        }
    }

    #[test]
    fn international_domains_compare_in_ascii() {
        let unicode = Email::parse("Ann@München.de").unwrap();
        let ascii = Email::parse("ann@xn--mnchen-3ya.de").unwrap();
        assert_eq!(unicode.as_str(), "Ann@München.de");
        assert_eq!(unicode.normalized(), "ann@xn--mnchen-3ya.de");
        assert_eq!(unicode.normalized(), ascii.normalized());
    }
}
