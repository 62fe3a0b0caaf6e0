//! The language of the request being served. The catalogs, [`Lang`] and the template helpers
//! live in `portico_shared::i18n` (the mailer writes emails with the same ones); this module
//! decides which language a portal request renders in.
//!
//! A page's language is the signed-in contact's saved choice, else the browser's
//! `Accept-Language`, else English. The portal's outermost layer opens a [`scope`] for each
//! request with the header's choice; the session extractor then [`prefer`]s the contact's, so
//! every page and error page of the request renders in one language without handlers passing
//! it around.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

pub use portico_shared::i18n::{Catalogs, Lang, fill};

/// The language of the request being served; shared so the error layer sees what the
/// session extractor preferred.
#[derive(Clone)]
struct Current(Arc<AtomicU8>);

tokio::task_local! {
    static CURRENT: Current;
}

/// Runs one request in `lang` (from its `Accept-Language`); returns its output and the
/// language it ended in.
pub async fn scope<F: Future>(lang: Lang, request: F) -> (F::Output, Lang) {
    let current = Current(Arc::new(AtomicU8::new(lang.index())));
    let output = CURRENT.scope(current.clone(), request).await;
    (output, Lang::from_index(current.0.load(Ordering::Relaxed)))
}

/// The signed-in contact's saved language overrides the browser's for the rest of the request.
pub fn prefer(lang: Lang) {
    let _ = CURRENT.try_with(|c| c.0.store(lang.index(), Ordering::Relaxed));
}

/// The language of the request being served (English outside a request).
pub fn current() -> Lang {
    CURRENT
        .try_with(|c| Lang::from_index(c.0.load(Ordering::Relaxed)))
        .unwrap_or_default()
}
