//! Firms by slug, remembered for a few seconds: every portal request resolves its host to a
//! firm, and firms change rarely. A change made through this gateway is seen at once (the API
//! forgets the entry); other gateways see it within [`TTL`].
//!
//! Unknown slugs are remembered too, so any `Host` header can add an entry. The entries are
//! bounded by their size ([`CAPACITY_BYTES`]), and quick_cache's eviction is scan-resistant:
//! slugs asked for once (junk hosts) leave first, and the firms in use stay.

use std::mem::size_of;
use std::time::{Duration, Instant};

use portico_shared::store::Firm;
use quick_cache::Weighter;
use quick_cache::sync::Cache;

pub const TTL: Duration = Duration::from_secs(5);
/// What the remembered entries may take in all, by [`EntryBytes`]: some 10,000 firms of a
/// short name and no menu links.
const CAPACITY_BYTES: u64 = 4 << 20;
const ESTIMATED_ENTRIES: usize = 10_000;

#[derive(Clone)]
struct Remembered {
    /// `None` for a slug no firm has.
    firm: Option<Firm>,
    at: Instant,
}

/// An entry's weight: the bytes it holds, its strings and its own size.
#[derive(Clone)]
struct EntryBytes;

impl Weighter<String, Remembered> for EntryBytes {
    fn weight(&self, slug: &String, entry: &Remembered) -> u64 {
        let firm = entry.firm.as_ref().map_or(0, |f| {
            f.id.as_str().len()
                + f.slug.len()
                + f.name.len()
                + f.brand_color.len()
                + f.display_name.as_ref().map_or(0, String::len)
                + f.menu_links.len()
                + f.logo_sha256.as_ref().map_or(0, String::len)
        });
        (size_of::<(String, Remembered)>() + slug.len() + firm) as u64
    }
}

pub struct FirmCache {
    entries: Cache<String, Remembered, EntryBytes>,
}

impl Default for FirmCache {
    fn default() -> Self {
        FirmCache::with_capacity(CAPACITY_BYTES)
    }
}

impl FirmCache {
    fn with_capacity(bytes: u64) -> Self {
        FirmCache {
            entries: Cache::with_weighter(ESTIMATED_ENTRIES, bytes, EntryBytes),
        }
    }

    /// `Some(answer)` when the slug was looked up less than [`TTL`] ago (`answer` is `None`
    /// for an unknown slug), `None` when the store must be asked.
    pub fn get(&self, slug: &str) -> Option<Option<Firm>> {
        self.get_at(slug, Instant::now())
    }

    pub fn put(&self, slug: &str, firm: Option<Firm>) {
        self.put_at(slug, firm, Instant::now());
    }

    pub fn forget(&self, slug: &str) {
        self.entries.remove(slug);
    }

    /// [`get`](Self::get) as if it were `now`. An expired entry stays until it is replaced or
    /// evicted; it is never served.
    fn get_at(&self, slug: &str, now: Instant) -> Option<Option<Firm>> {
        let entry = self.entries.get(slug)?;
        (now.saturating_duration_since(entry.at) < TTL).then_some(entry.firm)
    }

    fn put_at(&self, slug: &str, firm: Option<Firm>, at: Instant) {
        self.entries
            .insert(slug.to_string(), Remembered { firm, at });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn firm(slug: &str) -> Firm {
        Firm {
            // The same slug is the same firm (the same id), as in the store.
            id: portico_shared::ids::FirmId::parse(&format!(
                "fm_{:A<22.22}",
                slug.replace(|c: char| !c.is_ascii_alphanumeric(), "")
            ))
            .expect("an id's shape"),
            slug: slug.to_string(),
            name: format!("{slug} & Partners"),
            brand_color: "#123456".to_string(),
            created_at: 0,
            display_name: None,
            menu_links: "[]".to_string(),
            billing_enabled: false,
            esign_enabled: false,
            logo_sha256: None,
        }
    }

    #[test]
    fn a_firm_is_served_for_ttl_and_then_asked_for_again() {
        let cache = FirmCache::default();
        let t0 = Instant::now();
        cache.put_at("acme", Some(firm("acme")), t0);
        assert_eq!(cache.get_at("acme", t0), Some(Some(firm("acme"))));
        let last = t0 + TTL - Duration::from_millis(1);
        assert_eq!(cache.get_at("acme", last), Some(Some(firm("acme"))));
        assert_eq!(cache.get_at("acme", t0 + TTL), None);
        // Put again (the store was asked): served anew for a whole TTL.
        cache.put_at("acme", Some(firm("acme")), t0 + TTL);
        assert_eq!(cache.get_at("acme", last + TTL), Some(Some(firm("acme"))));
    }

    #[test]
    fn an_unknown_slug_is_remembered_as_unknown() {
        let cache = FirmCache::default();
        assert_eq!(cache.get("nobody"), None);
        cache.put("nobody", None);
        assert_eq!(cache.get("nobody"), Some(None));
    }

    #[test]
    fn forget_makes_the_next_request_ask_the_store() {
        let cache = FirmCache::default();
        cache.put("acme", Some(firm("acme")));
        cache.put("small", Some(firm("small")));
        cache.forget("acme");
        assert_eq!(cache.get("acme"), None);
        assert_eq!(cache.get("small"), Some(Some(firm("small"))));
        cache.forget("never-seen");
    }

    #[test]
    fn junk_hosts_stay_within_the_bound_and_do_not_push_out_a_firm_in_use() {
        let capacity = 256 << 10;
        let cache = FirmCache::with_capacity(capacity);
        let junk = |i: usize| cache.put(&format!("junk-{i}"), None);
        // The firm arrives when junk already fills the cache.
        (0..5_000).for_each(junk);
        cache.put("acme", Some(firm("acme")));
        for i in 5_000..50_000 {
            junk(i);
            if i % 100 == 0 {
                // Every portal request of acme's clients asks for it.
                assert!(
                    cache.get("acme").is_some(),
                    "acme gone after {i} junk hosts"
                );
            }
            assert!(cache.entries.weight() <= capacity);
        }
        assert!(cache.get("acme").is_some());
        // Starting over when full would have kept only the junk since the last start.
        assert!(cache.entries.len() > 500, "{} entries", cache.entries.len());
    }
}
