//! Text in each language, for the portal's pages and the emails alike: message catalogs
//! `templates/i18n/{lang}.json` (flat `"key": "text"` objects, compiled into the binary and
//! checked at start), looked up by a template's `t("key", name=value)` function, and dates
//! written with the catalog's month names. [`install`] adds those helpers to a minijinja
//! environment; a template renders in the language of its `lang` variable.
//!
//! Texts are plain (the template escapes them where it escapes) unless the key ends in
//! `_html`: those are trusted markup from the catalog, and only their `{arguments}` are
//! escaped.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use minijinja::value::{Kwargs, Value};
use minijinja::{Environment, ErrorKind, State};
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

    /// A small number for the language, to keep it in an atomic.
    pub fn index(self) -> u8 {
        self as u8
    }

    /// The language of [`Lang::index`]; English for anything else.
    pub fn from_index(i: u8) -> Lang {
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
        match time::Date::parse(iso, &format) {
            Ok(date) => self.format_date(lang, date),
            Err(_) => iso.to_string(),
        }
    }

    /// A moment, in UTC: `31 Jan 2026, 14:05:09 UTC` / `31. Jan. 2026, 14:05:09 Uhr UTC`;
    /// empty for a time out of range.
    pub fn datetime(&self, lang: Lang, unix: i64) -> String {
        let Ok(at) = time::OffsetDateTime::from_unix_timestamp(unix) else {
            return String::new();
        };
        let clock = format!("{:02}:{:02}:{:02}", at.hour(), at.minute(), at.second());
        let date = self.format_date(lang, at.date());
        fill(
            self.text(lang, "datetime.format")
                .unwrap_or("{date}, {time} UTC"),
            |name| match name {
                "date" => Some(date.clone()),
                "time" => Some(clock.clone()),
                _ => None,
            },
        )
    }

    fn format_date(&self, lang: Lang, date: time::Date) -> String {
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

/// The language a template renders in: its `lang` variable (a code such as `de`).
pub fn lang_of(state: &State) -> Lang {
    state
        .lookup("lang")
        .and_then(|v| v.as_str().and_then(Lang::parse))
        .unwrap_or_default()
}

/// `t("key", name=value)`: the text of `key` in the template's language with its arguments.
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

/// Adds the translation helpers to `env`: the function `t("key", name=value)` and the
/// filters `date` (`"2026-12-31" | date`) and `datetime` (Unix seconds, `created_at |
/// datetime`), each in the language of the template's `lang` variable.
pub fn install(env: &mut Environment<'_>, catalogs: Arc<Catalogs>) {
    let c = catalogs.clone();
    env.add_function("t", move |state: &State, key: &str, kwargs: Kwargs| {
        translate(&c, state, key, kwargs)
    });
    let c = catalogs.clone();
    env.add_filter("date", move |state: &State, iso: &str| {
        c.date(lang_of(state), iso)
    });
    env.add_filter("datetime", move |state: &State, unix: i64| {
        catalogs.datetime(lang_of(state), unix)
    });
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
    fn templates_translate_in_their_language_and_escape_only_arguments_of_markup() {
        let mut env = Environment::new();
        install(&mut env, Arc::new(Catalogs::load().unwrap()));
        env.add_template(
            "x.html",
            "{{ t('home.welcome', name=n) }}|{{ t('login_sent.status_html', email=n, firm='F') }}|{{ d | date }}",
        )
        .unwrap();
        let out = env
            .get_template("x.html")
            .unwrap()
            .render(minijinja::context! { lang => "de", n => "<b>", d => "2026-12-31" })
            .unwrap();
        assert!(out.starts_with("Willkommen, &lt;b&gt;|"), "{out}");
        assert!(out.contains("<strong>&lt;b&gt;</strong>"), "{out}");
        assert!(out.ends_with("|31. Dez. 2026"), "{out}");
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
        // 2026-03-05 14:05:09 UTC
        assert_eq!(
            catalogs.datetime(Lang::En, 1_772_719_509),
            "5 Mar 2026, 14:05:09 UTC"
        );
        assert_eq!(
            catalogs.datetime(Lang::De, 1_772_719_509),
            "5. März 2026, 14:05:09 Uhr UTC"
        );
    }
}
