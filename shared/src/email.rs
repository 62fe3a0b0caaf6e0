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
    pub fn parse(text: &str) -> Result<Email, &'static str> {
        let address = text.trim();
        if address.is_empty() {
            return Err("enter an email address");
        }
        if address.len() > 254 || !email_address::EmailAddress::is_valid(address) {
            return Err("enter a valid email address, like name@example.com");
        }
        Ok(Email {
            address: address.to_string(),
            normalized: address.to_lowercase(),
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
}
