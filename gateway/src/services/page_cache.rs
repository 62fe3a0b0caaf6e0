//! The client's home page, kept as rendered. Rendering it is the dearest thing the portal does
//! (five queries, fifty rows of template), and clients come back to it after nearly every
//! step. A kept page is served only when everything it was made from is unchanged:
//!
//! - the firm's portal version, which database triggers bump in the same transaction as any
//!   write to what the page lists (migration 0010), read fresh with the session check of this
//!   very request;
//! - the firm, the contact and their "other companies" flag, as this request loaded them;
//! - the page's language and today's date (overdue marks).
//!
//! So an unshared task, a removed assignee or a revoked access shows on the next request,
//! exactly as without the cache. The page is kept with a random marker where the CSRF token
//! goes, and every answer gets the token of the browser asking.

use std::collections::HashMap;
use std::sync::RwLock;

use portico_shared::i18n::Lang;
use portico_shared::ids::ContactId;
use portico_shared::secret::random_string;
use portico_shared::store::{Contact, Firm};

/// Everything a home page is made from besides the rows its queries read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PageInputs {
    pub portal_version: i64,
    pub firm: Firm,
    pub contact: Contact,
    pub other_companies: bool,
    pub lang: Lang,
    pub today: String,
}

struct Kept {
    inputs: PageInputs,
    /// The page with [`HomePages::marker`] in place of the CSRF token.
    html: String,
}

#[derive(Default)]
struct Entries {
    by_contact: HashMap<ContactId, Kept>,
    bytes: usize,
}

pub struct HomePages {
    entries: RwLock<Entries>,
    /// Kept pages in all, in bytes (`PORTICO_HOME_CACHE`; the default 8 MB holds about 300
    /// pages of 50 tasks); beyond it the cache starts over, so it cannot grow without bound.
    /// 0 keeps nothing.
    max_bytes: usize,
    marker: String,
}

impl HomePages {
    pub fn new(max_bytes: u64) -> Self {
        HomePages {
            entries: RwLock::default(),
            max_bytes: usize::try_from(max_bytes).unwrap_or(usize::MAX),
            // Random, so no task title can contain it; letters and digits only, so the
            // template's escaping leaves it as it is.
            marker: format!("csrf{}", random_string::<18>().replace(['-', '_'], "x")),
        }
    }

    /// What to render in place of the CSRF token for a page to [`keep`](Self::keep).
    pub fn marker(&self) -> &str {
        &self.marker
    }

    /// The kept page for these inputs, with `csrf` filled in; `None` when there is none or it
    /// was made from anything else.
    pub fn get(&self, inputs: &PageInputs, csrf: &str) -> Option<String> {
        let entries = self.entries.read().unwrap_or_else(|e| e.into_inner());
        let kept = entries.by_contact.get(&inputs.contact.id)?;
        (kept.inputs == *inputs).then(|| kept.html.replace(&self.marker, csrf))
    }

    /// Keeps a page rendered with [`marker`](Self::marker) as its CSRF token.
    pub fn keep(&self, inputs: PageInputs, html: String) {
        if html.len() > self.max_bytes {
            return;
        }
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        if entries.bytes + html.len() > self.max_bytes {
            *entries = Entries::default();
        }
        entries.bytes += html.len();
        let contact = inputs.contact.id.clone();
        if let Some(old) = entries.by_contact.insert(contact, Kept { inputs, html }) {
            entries.bytes -= old.html.len();
        }
    }
}
