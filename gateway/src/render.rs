//! Server-rendered pages: minijinja templates from `templates/portal/`, embedded at build time,
//! HTML-escaped by default, with the translation helpers of [`crate::i18n`]:
//! `t("key", name=value)`, and the filters `date` (`2026-12-31` in the page's language) and
//! `money(currency)` (integer minor units, e.g. `123456 | money("EUR")`).

use std::sync::Arc;

use minijinja::value::{Kwargs, Value};
use minijinja::{Environment, ErrorKind, State};
use serde::Serialize;

use crate::error::{Error, Result};
use crate::i18n::{Catalogs, Lang, fill};
use crate::money;

pub struct Templates {
    env: Environment<'static>,
    catalogs: Arc<Catalogs>,
}

/// The language a template renders in: its `lang` variable (set by `routes::page`).
fn lang_of(state: &State) -> Lang {
    state
        .lookup("lang")
        .and_then(|v| v.as_str().and_then(Lang::parse))
        .unwrap_or_default()
}

fn translate(
    catalogs: &Catalogs,
    state: &State,
    key: &str,
    kwargs: Kwargs,
) -> Result<Value, minijinja::Error> {
    let text = catalogs.text(lang_of(state), key).ok_or_else(|| {
        minijinja::Error::new(ErrorKind::InvalidOperation, format!("no text {key:?}"))
    })?;
    let trusted_markup = key.ends_with("_html");
    let mut args = Vec::new();
    for name in kwargs.args() {
        let value: Value = kwargs.get(name)?;
        let value = value.to_string();
        let value = if trusted_markup {
            // The same escaping the templates get.
            minijinja::HtmlEscape(&value).to_string()
        } else {
            value
        };
        args.push((name.to_string(), value));
    }
    kwargs.assert_all_used()?;
    let filled = fill(text, |name| {
        args.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone())
    });
    Ok(if trusted_markup {
        Value::from_safe_string(filled)
    } else {
        Value::from(filled)
    })
}

impl Templates {
    /// The templates with the catalogs; fails when a catalog is broken or incomplete.
    pub fn load() -> anyhow::Result<Templates> {
        let catalogs = Arc::new(Catalogs::load().map_err(anyhow::Error::msg)?);
        let mut env = Environment::new();
        minijinja_embed::load_templates!(&mut env);
        let c = catalogs.clone();
        env.add_function("t", move |state: &State, key: &str, kwargs: Kwargs| {
            translate(&c, state, key, kwargs)
        });
        let c = catalogs.clone();
        env.add_filter("date", move |state: &State, iso: &str| {
            c.date(lang_of(state), iso)
        });
        env.add_filter("money", |state: &State, minor: i64, currency: &str| {
            money::format(minor, currency, lang_of(state))
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
