//! Portal text in each language: message catalogs `templates/i18n/{lang}.json` (flat
//! `"key": "text"` objects, compiled into the binary and checked at start), looked up by the
//! templates' `t("key", name=value)` function (see `render.rs`).
//!
//! A page's language is the signed-in contact's saved choice, else the browser's
//! `Accept-Language`, else English. The portal's outermost layer opens a [`scope`] for each
//! request with the header's choice; the session extractor then [`prefer`]s the contact's, so
//! every page and error page of the request renders in one language without handlers passing
//! it around.
//!
//! Texts are plain (the template escapes them) unless the key ends in `_html`: those are
//! trusted markup from the catalog, and only their `{arguments}` are escaped.

use std::collections::{BTreeSet, HashMap};
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

use serde::Serialize;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    #[default]
    En,
    De,
}

impl Lang {
    /// Every language, the reference (complete by definition) first.
    pub const ALL: [Lang; 2] = [Lang::En, Lang::De];

    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::De => "de",
        }
    }

    pub fn parse(code: &str) -> Option<Lang> {
        Lang::ALL.into_iter().find(|l| l.code() == code)
    }

    /// The best supported language of an `Accept-Language` header (`de-CH;q=0.8, en;q=0.5`):
    /// the highest weight wins, earlier entries win ties; region tags match their language.
    pub fn negotiate(header: &str) -> Option<Lang> {
        let mut best: Option<(f32, Lang)> = None;
        for entry in header.split(',') {
            let mut parts = entry.split(';');
            let tag = parts.next().unwrap_or_default().trim();
            let weight = parts
                .find_map(|p| p.trim().strip_prefix("q="))
                .map_or(Some(1.0), |q| q.trim().parse::<f32>().ok())
                .unwrap_or(0.0);
            let primary = tag
                .split('-')
                .next()
                .unwrap_or_default()
                .to_ascii_lowercase();
            let Some(lang) = Lang::parse(&primary) else {
                continue;
            };
            if weight > 0.0 && best.is_none_or(|(w, _)| weight > w) {
                best = Some((weight, lang));
            }
        }
        best.map(|(_, lang)| lang)
    }

    fn index(self) -> u8 {
        self as u8
    }

    fn from_index(i: u8) -> Lang {
        Lang::ALL.get(usize::from(i)).copied().unwrap_or_default()
    }
}

/// The embedded catalogs, by language.
const SOURCES: [(Lang, &str); 2] = [
    (Lang::En, include_str!("../../templates/i18n/en.json")),
    (Lang::De, include_str!("../../templates/i18n/de.json")),
];

pub struct Catalogs {
    texts: HashMap<Lang, HashMap<String, String>>,
}

/// The `{name}` arguments a text expects.
fn placeholders(text: &str) -> BTreeSet<&str> {
    let mut found = BTreeSet::new();
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        let Some(close) = rest[open..].find('}') else {
            break;
        };
        found.insert(&rest[open + 1..open + close]);
        rest = &rest[open + close + 1..];
    }
    found
}

/// What `catalog` lacks or has too many of, compared with the English `reference`.
fn differences(
    reference: &HashMap<String, String>,
    catalog: &HashMap<String, String>,
) -> Vec<String> {
    let mut problems: Vec<String> = Vec::new();
    for (key, english) in reference {
        match catalog.get(key) {
            None => problems.push(format!("missing {key:?}")),
            Some(text) if placeholders(text) != placeholders(english) => {
                problems.push(format!("{key:?} has other {{arguments}} than English"));
            }
            Some(_) => {}
        }
    }
    problems.extend(
        catalog
            .keys()
            .filter(|k| !reference.contains_key(*k))
            .map(|k| format!("{k:?} is not in en.json")),
    );
    problems.sort();
    problems
}

impl Catalogs {
    /// Parses the embedded catalogs and checks that every language has every English key, no
    /// key English lacks, and the same `{arguments}` in each text.
    pub fn load() -> Result<Catalogs, String> {
        let mut texts = HashMap::new();
        for (lang, source) in SOURCES {
            let catalog: HashMap<String, String> = serde_json::from_str(source)
                .map_err(|e| format!("templates/i18n/{}.json: {e}", lang.code()))?;
            texts.insert(lang, catalog);
        }
        for lang in Lang::ALL.into_iter().skip(1) {
            let problems = differences(&texts[&Lang::En], &texts[&lang]);
            if !problems.is_empty() {
                return Err(format!(
                    "templates/i18n/{}.json: {}",
                    lang.code(),
                    problems.join(", ")
                ));
            }
        }
        Ok(Catalogs { texts })
    }

    /// The text of `key`, falling back to English (the catalogs are checked to be complete).
    pub fn text(&self, lang: Lang, key: &str) -> Option<&str> {
        self.texts
            .get(&lang)
            .and_then(|c| c.get(key))
            .or_else(|| self.texts[&Lang::En].get(key))
            .map(String::as_str)
    }

    /// `2026-12-31` → `31 Dec 2026` / `31. Dez. 2026`; anything unparsable as it is.
    pub fn date(&self, lang: Lang, iso: &str) -> String {
        let format = time::macros::format_description!("[year]-[month]-[day]");
        let Ok(date) = time::Date::parse(iso, &format) else {
            return iso.to_string();
        };
        let month = self
            .text(lang, &format!("month.{}", u8::from(date.month())))
            .unwrap_or_default();
        fill(
            self.text(lang, "date.format")
                .unwrap_or("{day} {month} {year}"),
            |name| match name {
                "day" => Some(date.day().to_string()),
                "month" => Some(month.to_string()),
                "year" => Some(date.year().to_string()),
                _ => None,
            },
        )
    }
}

/// Replaces each `{name}` in `text` by its argument; unknown names stay as written.
pub fn fill(text: &str, arg: impl Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let Some(close) = rest[open..].find('}') else {
            rest = &rest[open..];
            break;
        };
        let name = &rest[open + 1..open + close];
        match arg(name) {
            Some(value) => out.push_str(&value),
            None => out.push_str(&rest[open..=open + close]),
        }
        rest = &rest[open + close + 1..];
    }
    out.push_str(rest);
    out
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_language_has_every_key_with_the_same_arguments() {
        let catalogs = Catalogs::load().unwrap_or_else(|e| panic!("{e}"));
        assert!(catalogs.text(Lang::De, "nav.settings").is_some());
    }

    #[test]
    fn the_check_catches_missing_extra_and_mismatched_keys() {
        let map = |pairs: &[(&str, &str)]| -> HashMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let en = map(&[("a", "A {x}"), ("b", "B")]);
        assert!(differences(&en, &map(&[("a", "Ä {x}"), ("b", "Be")])).is_empty());
        assert_eq!(
            differences(&en, &map(&[("a", "Ä {y}"), ("c", "C")])),
            vec![
                "\"a\" has other {arguments} than English".to_string(),
                "\"c\" is not in en.json".to_string(),
                "missing \"b\"".to_string(),
            ]
        );
    }

    #[test]
    fn accept_language_picks_the_best_supported() {
        assert_eq!(Lang::negotiate("de-CH, en;q=0.5"), Some(Lang::De));
        assert_eq!(Lang::negotiate("fr, de;q=0.7, en;q=0.8"), Some(Lang::En));
        assert_eq!(Lang::negotiate("fr, de;q=0.7"), Some(Lang::De));
        assert_eq!(Lang::negotiate("fr-FR"), None);
        assert_eq!(Lang::negotiate("de;q=0"), None);
        assert_eq!(Lang::negotiate(""), None);
    }

    #[test]
    fn arguments_fill_in() {
        assert_eq!(
            fill("Hi {name}, {unknown}", |n| (n == "name")
                .then(|| "Ann".into())),
            "Hi Ann, {unknown}"
        );
        assert_eq!(fill("open { brace", |_| None), "open { brace");
    }

    #[test]
    fn dates_follow_the_language() {
        let catalogs = Catalogs::load().unwrap();
        assert_eq!(catalogs.date(Lang::En, "2026-12-31"), "31 Dec 2026");
        assert_eq!(catalogs.date(Lang::De, "2026-03-05"), "5. März 2026");
        assert_eq!(catalogs.date(Lang::De, "soon"), "soon");
    }
}
