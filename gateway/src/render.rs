//! Server-rendered pages: minijinja templates from `templates/` (`portal/…`, `console/…`),
//! embedded at build time, HTML-escaped by default, with the translation helpers of `portico_shared::i18n`:
//! `t("key", name=value)`, the filters `date` (`2026-12-31` in the page's language) and
//! `datetime` (Unix seconds), and `money(currency)` (integer minor units, e.g.
//! `123456 | money("EUR")`).

use std::sync::Arc;

use minijinja::{Environment, State};
use portico_shared::i18n::{self, Catalogs};
use serde::Serialize;

use crate::error::{Error, Result};
use crate::money;

pub struct Templates {
    env: Environment<'static>,
    catalogs: Arc<Catalogs>,
}

impl Templates {
    /// The templates with the catalogs; fails when a catalog is broken or incomplete.
    pub fn load() -> anyhow::Result<Templates> {
        let catalogs = Arc::new(Catalogs::load().map_err(anyhow::Error::msg)?);
        let mut env = Environment::new();
        minijinja_embed::load_templates!(&mut env);
        i18n::install(&mut env, catalogs.clone());
        env.add_filter("money", |state: &State, minor: i64, currency: &str| {
            money::format(minor, currency, i18n::lang_of(state))
        });
        Ok(Templates { env, catalogs })
    }

    pub fn catalogs(&self) -> &Catalogs {
        &self.catalogs
    }

    pub fn render(&self, name: &str, context: impl Serialize) -> Result<String> {
        self.env
            .get_template(name)
            .and_then(|t| t.render(context))
            .map_err(|e| Error::Internal(anyhow::anyhow!("rendering {name}: {e:#}")))
    }
}
