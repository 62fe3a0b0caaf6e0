//! Firms by slug, remembered for a few seconds: every portal request resolves its host to a
//! firm, and firms change rarely. A change made through this gateway is seen at once (the API
//! forgets the entry); other gateways see it within [`TTL`].

use std::collections::HashMap;
use std::sync::RwLock;
use std::time::{Duration, Instant};

use portico_shared::store::Firm;

pub const TTL: Duration = Duration::from_secs(5);
/// Beyond this many entries the cache starts over, so junk hosts cannot grow it without bound.
const MAX_ENTRIES: usize = 10_000;

#[derive(Default)]
pub struct FirmCache {
    entries: RwLock<HashMap<String, (Option<Firm>, Instant)>>,
}

impl FirmCache {
    /// `Some(answer)` when the slug was looked up less than [`TTL`] ago (`answer` is `None`
    /// for an unknown slug), `None` when the store must be asked.
    pub fn get(&self, slug: &str) -> Option<Option<Firm>> {
        let entries = self.entries.read().unwrap_or_else(|e| e.into_inner());
        entries
            .get(slug)
            .filter(|(_, at)| at.elapsed() < TTL)
            .map(|(firm, _)| firm.clone())
    }

    pub fn put(&self, slug: &str, firm: Option<Firm>) {
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        entries.insert(slug.to_string(), (firm, Instant::now()));
    }

    pub fn forget(&self, slug: &str) {
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        entries.remove(slug);
    }
}
