//! Opaque, unguessable identifiers: a short prefix naming the kind (`ct_` for a contact) and
//! 128 random bits, so an id says nothing about how many rows exist or which came first.

use crate::secret::random_string;

pub fn new_id(kind: &str) -> String {
    format!("{kind}_{}", random_string::<16>())
}

/// Whether `text` could be an id of this kind; a cheap filter that keeps junk out of queries.
pub fn looks_like(kind: &str, text: &str) -> bool {
    text.strip_prefix(kind)
        .and_then(|rest| rest.strip_prefix('_'))
        .is_some_and(|rest| {
            rest.len() == 22
                && rest
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

#[cfg(test)]
mod tests {
    #[test]
    fn ids_are_unique_and_recognised() {
        let a = super::new_id("ct");
        let b = super::new_id("ct");
        assert_ne!(a, b);
        assert!(super::looks_like("ct", &a));
        assert!(!super::looks_like("fm", &a));
        assert!(!super::looks_like("ct", "ct_1"));
    }
}
