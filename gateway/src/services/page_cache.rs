//! The client's home page, kept as rendered. Rendering it is the dearest thing the portal does
//! (five queries, fifty rows of template), and clients come back to it after nearly every
//! step. A kept page is served only when everything it was made from is unchanged:
//!
//! - the firm's portal version, which database triggers bump in the same transaction as any
//!   write to what the page lists (migration 0010), read fresh with the session check of this
//!   very request;
//! - the firm, the contact (with their account and set) and their "other companies" flag, and
//!   what their permission set allows, as this request loaded them (editing a custom set
//!   bumps the portal version too: migration 0014);
//! - the page's language and today's date (overdue marks).
//!
//! So an unshared task, a removed assignee or a revoked access shows on the next request,
//! exactly as without the cache. The page is kept with a random marker where the CSRF token
//! goes, and every answer gets the token of the browser asking.
//!
//! The pages are kept in a quick_cache weighted by their bytes, at most `PORTICO_HOME_CACHE`
//! in all. When it is full, a new page pushes out the pages not asked for again first: the
//! pages of clients who come back stay. quick_cache splits the bytes into shards of at least
//! 32 pages of [`TYPICAL_PAGE_BYTES`] (fewer shards when the cache is smaller), and keeps no
//! page above 97 % of its shard: with the default 8 MB, 8 shards of 1 MB.

use std::sync::Arc;

use portico_shared::client_access::ClientAccess;
use portico_shared::i18n::Lang;
use portico_shared::ids::ContactId;
use portico_shared::secret::random_string;
use portico_shared::store::{Contact, Firm};
use quick_cache::Weighter;
use quick_cache::sync::Cache;

/// About the size of a home page of 50 tasks: what sizes the cache's shards.
const TYPICAL_PAGE_BYTES: u64 = 28 << 10;

/// Everything a home page is made from besides the rows its queries read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PageInputs {
    pub portal_version: i64,
    pub firm: Firm,
    pub contact: Contact,
    pub access: ClientAccess,
    pub other_companies: bool,
    pub lang: Lang,
    pub today: String,
}

struct Kept {
    inputs: PageInputs,
    /// The page with [`HomePages::marker`] in place of the CSRF token.
    html: String,
}

/// A kept page weighs its bytes, as `PORTICO_HOME_CACHE` counts them.
#[derive(Clone)]
struct PageBytes;

impl Weighter<ContactId, Arc<Kept>> for PageBytes {
    fn weight(&self, _contact: &ContactId, kept: &Arc<Kept>) -> u64 {
        // Never 0: quick_cache never evicts an entry that weighs nothing.
        kept.html.len().max(1) as u64
    }
}

pub struct HomePages {
    /// The kept pages by contact id, `PORTICO_HOME_CACHE` bytes in all (the default 8 MB holds
    /// about 300 pages of 50 tasks); `None` when it is 0 (`off`), which keeps nothing.
    pages: Option<Cache<ContactId, Arc<Kept>, PageBytes>>,
    marker: String,
}

impl HomePages {
    pub fn new(max_bytes: u64) -> Self {
        HomePages {
            pages: (max_bytes > 0).then(|| {
                let estimated_pages = (max_bytes / TYPICAL_PAGE_BYTES).max(1);
                Cache::with_weighter(
                    usize::try_from(estimated_pages).unwrap_or(usize::MAX),
                    max_bytes,
                    PageBytes,
                )
            }),
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
        let kept = self.pages.as_ref()?.get(&inputs.contact.id)?;
        (kept.inputs == *inputs).then(|| kept.html.replace(&self.marker, csrf))
    }

    /// Keeps a page rendered with [`marker`](Self::marker) as its CSRF token, in place of the
    /// contact's page kept before. A page too large to keep is dropped, and so is the old one.
    pub fn keep(&self, inputs: PageInputs, html: String) {
        if let Some(pages) = &self.pages {
            let contact = inputs.contact.id.clone();
            pages.insert(contact, Arc::new(Kept { inputs, html }));
        }
    }
}

#[cfg(test)]
mod tests {
    use portico_shared::ids::{ClientAccountId, FirmId};

    use super::*;

    /// A fixed id per test client, so the same name is the same contact.
    fn contact_id(name: &str) -> ContactId {
        ContactId::parse(&format!("ct_{name:A<22}")).expect("an id's shape")
    }

    fn firm_id() -> FirmId {
        FirmId::parse("fm_firm1AAAAAAAAAAAAAAAAA").expect("an id's shape")
    }

    fn inputs(contact: &str, portal_version: i64) -> PageInputs {
        PageInputs {
            portal_version,
            firm: Firm {
                id: firm_id(),
                slug: "acme".to_string(),
                name: "Acme".to_string(),
                brand_color: "#123456".to_string(),
                created_at: 0,
                display_name: None,
                menu_links: "[]".to_string(),
                billing_enabled: false,
                esign_enabled: false,
                logo_sha256: None,
            },
            contact: Contact {
                id: contact_id(contact),
                firm_id: firm_id(),
                name: format!("Client {contact}"),
                email: format!("{contact}@example.com"),
                portal_access: true,
                auth_epoch: 1,
                last_login_at: None,
                created_at: 0,
                updated_at: 0,
                language: None,
                notify_task_shared: true,
                notify_signature_requested: true,
                notify_request_reply: true,
                // The same inputs each time: the contact's own account, as after migration 0014.
                account_id: ClientAccountId::parse(&format!("ca_{contact:A<22}"))
                    .expect("an id's shape"),
                permission_set: "client_manager".to_string(),
            },
            access: ClientAccess::manager(),
            other_companies: false,
            lang: Lang::En,
            today: "2025-03-14".to_string(),
        }
    }

    /// A page of `bytes` bytes with the cache's marker as its CSRF token.
    fn page(pages: &HomePages, bytes: usize) -> String {
        let form = format!("<input name=csrf value={}>", pages.marker());
        format!("{form}{}", "x".repeat(bytes - form.len()))
    }

    fn kept_weight(pages: &HomePages) -> u64 {
        pages.pages.as_ref().map_or(0, |p| p.weight())
    }

    #[test]
    fn a_kept_page_is_served_with_the_askers_csrf_token_only_for_the_same_inputs() {
        let pages = HomePages::new(8 << 20);
        let ann = inputs("ann", 7);
        pages.keep(ann.clone(), page(&pages, 2_000));
        let served = pages.get(&ann, "tokenOfThisBrowser").unwrap();
        assert!(served.starts_with("<input name=csrf value=tokenOfThisBrowser>"));
        assert!(!served.contains(pages.marker()));
        assert_eq!(
            served.len(),
            2_000 - pages.marker().len() + "tokenOfThisBrowser".len()
        );

        let changed: [fn(&mut PageInputs); 10] = [
            |i| i.portal_version += 1,
            |i| i.firm.name.push_str(" Ltd"),
            |i| i.contact.name.push_str(" Jr"),
            |i| i.contact.auth_epoch += 1,
            |i| i.contact.permission_set = "client_staff".to_string(),
            |i| i.contact.account_id = ClientAccountId::new(),
            |i| i.access = ClientAccess::staff(),
            |i| i.other_companies = true,
            |i| i.lang = Lang::De,
            |i| i.today = "2025-03-15".to_string(),
        ];
        for change in changed {
            let mut other = ann.clone();
            change(&mut other);
            assert_eq!(pages.get(&other, "t"), None, "{other:?}");
        }
        assert_eq!(pages.get(&inputs("ben", 7), "t"), None);
        assert!(pages.get(&ann, "t").is_some());
    }

    #[test]
    fn off_keeps_nothing() {
        let pages = HomePages::new(0);
        let ann = inputs("ann", 1);
        pages.keep(ann.clone(), page(&pages, 2_000));
        assert_eq!(pages.get(&ann, "t"), None);
    }

    #[test]
    fn a_page_above_the_capacity_is_not_kept() {
        let pages = HomePages::new(64 << 10);
        let ann = inputs("ann", 1);
        pages.keep(ann.clone(), page(&pages, 65 << 10));
        assert_eq!(pages.get(&ann, "t"), None);
        assert_eq!(kept_weight(&pages), 0);
        // A page that fits is kept; a newer one too large drops it (it is out of date anyway).
        pages.keep(ann.clone(), page(&pages, 30 << 10));
        assert!(pages.get(&ann, "t").is_some());
        let newer = inputs("ann", 2);
        pages.keep(newer.clone(), page(&pages, 65 << 10));
        assert_eq!(pages.get(&newer, "t"), None);
        assert_eq!(kept_weight(&pages), 0);
    }

    #[test]
    fn a_new_version_of_a_page_replaces_the_old_one_in_the_weight() {
        let pages = HomePages::new(1 << 20);
        for version in 0..100 {
            pages.keep(inputs("ann", version), page(&pages, 10_000));
        }
        assert_eq!(kept_weight(&pages), 10_000);
        assert_eq!(pages.get(&inputs("ann", 98), "t"), None);
        assert!(pages.get(&inputs("ann", 99), "t").is_some());
    }

    #[test]
    fn a_full_cache_stays_under_its_bound_and_keeps_the_pages_clients_come_back_to() {
        let capacity = 1 << 20;
        let pages = HomePages::new(capacity);
        let client = |i: usize| inputs(&format!("contact-{i}"), 1);
        // What `GET /` does: serve the kept page, or render one and keep it. True if rendered.
        let visit = |i: usize, bytes: usize| {
            let hit = pages.get(&client(i), "t").is_some();
            if !hit {
                pages.keep(client(i), page(&pages, bytes));
            }
            !hit
        };
        let regulars = 100_000..100_005;
        let mut late_renders = 0;
        for round in 0..300 {
            // Ten clients who look once, with pages of 8 to 24 KB: 50 MB in all.
            for i in round * 10..round * 10 + 10 {
                visit(i, 8_000 + (i * 7_919) % 16_000);
                assert!(kept_weight(&pages) <= capacity);
            }
            // Five who come back after each ten, from when the cache is long full.
            if round >= 100 {
                for r in regulars.clone() {
                    late_renders += usize::from(visit(r, 20_000) && round >= 110);
                }
            }
        }
        // Starting over when full would render theirs again every few rounds.
        assert_eq!(late_renders, 0);
        assert!(
            kept_weight(&pages) > capacity / 2,
            "{} bytes kept",
            kept_weight(&pages)
        );
    }
}
