//! The state every handler can reach.

use std::sync::Arc;

use portico_shared::config::Config;
use portico_shared::keys::Keyring;
use portico_shared::redis_conn::{RedisConn, RedisKeys};
use portico_shared::store::Store;

use crate::metrics::Metrics;
use crate::render::Templates;
use crate::services::firm_cache::FirmCache;
use crate::services::page_cache::HomePages;
use crate::services::sign_ins::SignIns;

/// Axum clones the state for every extractor and layer of every request, so it is one `Arc`:
/// a clone is one atomic increment, not one per field (with a string to copy). Fields are
/// reached through `Deref`.
#[derive(Clone)]
pub struct AppState(Arc<AppStateInner>);

pub struct AppStateInner {
    pub config: Arc<Config>,
    pub store: Arc<dyn Store>,
    pub redis: RedisConn,
    pub redis_keys: RedisKeys,
    pub templates: Arc<Templates>,
    pub metrics: Arc<Metrics>,
    pub firms: Arc<FirmCache>,
    pub home_pages: HomePages,
    pub sign_ins: SignIns,
}

impl AppState {
    pub fn new(inner: AppStateInner) -> AppState {
        AppState(Arc::new(inner))
    }
}

impl std::ops::Deref for AppState {
    type Target = AppStateInner;

    fn deref(&self) -> &AppStateInner {
        &self.0
    }
}

impl AppStateInner {
    /// The firm with this slug, through the short-lived cache.
    pub async fn firm_by_slug(
        &self,
        slug: &str,
    ) -> Result<Option<portico_shared::store::Firm>, portico_shared::store::StoreError> {
        if let Some(known) = self.firms.get(slug) {
            return Ok(known);
        }
        let firm = self.store.firm_by_slug(slug).await?;
        self.firms.put(slug, firm.clone());
        Ok(firm)
    }

    /// The store of uploaded documents (a path under the data folder; cheap to make).
    pub fn blobs(&self) -> crate::services::content::Blobs {
        crate::services::content::Blobs::new(&self.config.data_dir)
    }

    pub fn keys(&self) -> &Keyring {
        &self.config.signing_keys
    }

    /// A connection handle for one request (cheap: it shares the multiplexed connections).
    pub fn redis(&self) -> RedisConn {
        self.redis.clone()
    }
}
