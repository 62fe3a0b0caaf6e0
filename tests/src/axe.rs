//! Accessibility scans in headless Chromium: [axe-core](https://github.com/dequelabs/axe-core)
//! (WCAG 2.1 A and AA rules) injected through WebDriver, at desktop width and at phone width,
//! plus a check that the page does not scroll sideways at that width.
//!
//! axe-core is an npm package pinned in `tests/axe/package.json` (and its lock file);
//! `./dev test` installs it into `tests/axe/node_modules/` when it is missing (by hand:
//! `npm ci --prefix tests/axe`). This module reads `axe.min.js` from there and sends its text
//! to the page with WebDriver's "execute script", so the page itself never loads it (its
//! Content-Security-Policy stays as strict as it is).
//!
//! How a test uses it (console tests too):
//!
//! ```ignore
//! use portico_e2e::axe::assert_accessible;
//! use portico_e2e::chrome::Chrome;
//!
//! let chrome = Chrome::start().await; // one browser for every page of the test
//! chrome.client.goto(&app.url(&slug, "/staff/contacts")).await.unwrap();
//! // …wait until the page shows what it should, then:
//! assert_accessible(&chrome, "console-contacts").await;
//! ```
//!
//! [`assert_accessible`] scans the page as it is at 1280×900 and at 390×844, saves a screenshot
//! of each width as `target/screenshots/accessibility/{label}-{desktop,phone}.png`, and fails
//! with every violation (rule id, impact, help, the first elements it found) and the screenshot
//! paths. It leaves the window at desktop width. [`scan`] returns the findings at one
//! [`Viewport`] without judging them, for tests that look at them.

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

use serde::Deserialize;
use serde_json::{Value, json};

use crate::chrome::{Chrome, screenshot_dir};

/// A window size to look at a page with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Viewport {
    pub name: &'static str,
    pub width: u32,
    pub height: u32,
}

pub const DESKTOP: Viewport = Viewport {
    name: "desktop",
    width: 1280,
    height: 900,
};

/// An iPhone 12–15 sized screen (CSS pixels).
pub const PHONE: Viewport = Viewport {
    name: "phone",
    width: 390,
    height: 844,
};

/// The rule sets a page must pass.
pub const TAGS: [&str; 4] = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"];

/// One rule that failed, with the elements it failed on.
#[derive(Debug, Clone, Deserialize)]
pub struct Violation {
    pub id: String,
    pub impact: Option<String>,
    pub help: String,
    #[serde(rename = "helpUrl")]
    pub help_url: String,
    /// CSS selectors of the elements (all of them; reports show the first few).
    pub targets: Vec<String>,
    /// axe's summary of what to fix, for the first element.
    pub summary: Option<String>,
}

/// What one scan found at one width.
#[derive(Debug, Clone)]
pub struct Scan {
    pub viewport: Viewport,
    pub url: String,
    pub violations: Vec<Violation>,
    /// `document.documentElement.scrollWidth`: wider than `inner_width` means the page
    /// scrolls sideways.
    pub scroll_width: u32,
    /// `window.innerWidth`.
    pub inner_width: u32,
    /// The elements that reach past the right edge (when the page scrolls sideways).
    pub overflowing: Vec<String>,
}

impl Scan {
    pub fn scrolls_sideways(&self) -> bool {
        self.scroll_width > self.inner_width
    }

    pub fn passed(&self) -> bool {
        self.violations.is_empty() && !self.scrolls_sideways()
    }

    /// Every finding, one block per problem, for a failure message.
    pub fn report(&self) -> String {
        let mut out = format!(
            "{} at {}×{} ({}):\n",
            self.url, self.viewport.width, self.viewport.height, self.viewport.name
        );
        for v in &self.violations {
            out.push_str(&format!(
                "  - {} [{}]: {} ({})\n",
                v.id,
                v.impact.as_deref().unwrap_or("?"),
                v.help,
                v.help_url
            ));
            for target in v.targets.iter().take(3) {
                out.push_str(&format!("      at {target}\n"));
            }
            if v.targets.len() > 3 {
                out.push_str(&format!("      …and {} more\n", v.targets.len() - 3));
            }
            if let Some(summary) = &v.summary {
                for line in summary.lines() {
                    out.push_str(&format!("      {line}\n"));
                }
            }
        }
        if self.scrolls_sideways() {
            out.push_str(&format!(
                "  - the page scrolls sideways: {} px wide in a {} px window; too wide: {}\n",
                self.scroll_width,
                self.inner_width,
                self.overflowing.join(", ")
            ));
        }
        out
    }
}

/// The folder `./dev test` installs axe-core into.
pub fn axe_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("axe")
}

/// The text of `axe.min.js`, read once; panics with how to install it when it is missing.
pub fn axe_source() -> &'static str {
    static SOURCE: OnceLock<String> = OnceLock::new();
    SOURCE.get_or_init(|| {
        let path = axe_dir().join("node_modules/axe-core/axe.min.js");
        std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "cannot read {}: {e}. axe-core is installed by ./dev test, or by hand with \
                 `npm ci --prefix {}` (Node.js and npm needed); \
                 PORTICO_SKIP_BROWSER=1 skips the browser tests knowingly",
                path.display(),
                axe_dir().display()
            )
        })
    })
}

/// Sets the window so that the page is `viewport.width` × `viewport.height` CSS pixels (the
/// window's frame, if any, is measured and added) and checks that the width took.
pub async fn set_viewport(chrome: &Chrome, viewport: Viewport) {
    let inner = || async {
        let size = chrome
            .client
            .execute("return [window.innerWidth, window.innerHeight];", vec![])
            .await
            .expect("read the window's inner size");
        (
            size[0].as_i64().unwrap_or_default(),
            size[1].as_i64().unwrap_or_default(),
        )
    };
    let (width, height) = (i64::from(viewport.width), i64::from(viewport.height));
    let resize = |w: i64, h: i64| {
        let client = chrome.client.clone();
        async move {
            client
                .set_window_size(w.max(1) as u32, h.max(1) as u32)
                .await
                .unwrap_or_else(|e| panic!("cannot set the window to {w}×{h}: {e}"));
        }
    };
    // Chromedriver answers once the window has the size; still, give the page a moment.
    let settled = || async {
        let mut now = inner().await;
        for _ in 0..20 {
            if now.0 == width {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
            now = inner().await;
        }
        now
    };
    resize(width, height).await;
    let (w, h) = settled().await;
    // A window frame (none in headless mode, but a headless window may still be shorter than
    // asked) is made up for once.
    let (frame_w, frame_h) = ((width - w).clamp(0, 300), (height - h).clamp(0, 300));
    if (frame_w, frame_h) != (0, 0) {
        resize(width + frame_w, height + frame_h).await;
    }
    let now = settled().await;
    assert_eq!(
        now.0, width,
        "the page did not become {width} px wide (window.innerWidth is {})",
        now.0
    );
}

const RUN_AXE: &str = r#"
const done = arguments[arguments.length - 1];
const tags = arguments[0];
axe.run(document, {
  runOnly: { type: 'tag', values: tags },
  resultTypes: ['violations'],
  iframes: false,
}).then(function (results) {
  done({ violations: results.violations.map(function (v) {
    return {
      id: v.id,
      impact: v.impact,
      help: v.help,
      helpUrl: v.helpUrl,
      targets: v.nodes.map(function (n) { return n.target.join(' '); }),
      summary: v.nodes.length ? v.nodes[0].failureSummary : null,
    };
  }) });
}, function (error) {
  done({ error: String(error && error.stack || error) });
});
"#;

const MEASURE: &str = r#"
const width = window.innerWidth;
const wide = [];
for (const el of document.body ? document.body.querySelectorAll('*') : []) {
  const box = el.getBoundingClientRect();
  if (box.right > width + 0.5 && wide.length < 5) {
    wide.push(el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
      (el.className && typeof el.className === 'string' ? '.' + el.className.trim().split(/\s+/).join('.') : '') +
      ' (right edge at ' + Math.round(box.right) + ')');
  }
}
return { scroll: document.documentElement.scrollWidth, inner: width, wide: wide };
"#;

/// Scans the page as it is now at `viewport` (the window is left at that size): axe-core's
/// WCAG 2.1 A/AA rules and the sideways-scroll check. Judges nothing; see [`Scan::passed`].
pub async fn scan(chrome: &Chrome, viewport: Viewport) -> Scan {
    set_viewport(chrome, viewport).await;
    let url = chrome
        .client
        .current_url()
        .await
        .map(|u| u.to_string())
        .unwrap_or_default();
    let loaded = chrome
        .client
        .execute("return typeof window.axe === 'object';", vec![])
        .await
        .expect("look for axe on the page");
    if loaded != Value::Bool(true) {
        // Script text sent over WebDriver: no <script> element, so the page's CSP is untouched.
        let script = format!("{}\nreturn typeof window.axe === 'object';", axe_source());
        let injected = chrome
            .client
            .execute(&script, vec![])
            .await
            .unwrap_or_else(|e| panic!("cannot inject axe-core into {url}: {e}"));
        assert_eq!(
            injected,
            Value::Bool(true),
            "axe-core did not load in {url}"
        );
    }
    let reply = chrome
        .client
        .execute_async(RUN_AXE, vec![json!(TAGS)])
        .await
        .unwrap_or_else(|e| panic!("axe.run failed on {url}: {e}"));
    if let Some(error) = reply.get("error") {
        panic!("axe.run failed on {url}: {error}");
    }
    let violations: Vec<Violation> = serde_json::from_value(reply["violations"].clone())
        .unwrap_or_else(|e| panic!("unexpected axe result on {url}: {e}: {reply}"));
    let measured = chrome
        .client
        .execute(MEASURE, vec![])
        .await
        .unwrap_or_else(|e| panic!("cannot measure {url}: {e}"));
    let number = |key: &str| {
        measured[key]
            .as_u64()
            .unwrap_or_else(|| panic!("no {key} in {measured}")) as u32
    };
    Scan {
        viewport,
        url,
        violations,
        scroll_width: number("scroll"),
        inner_width: number("inner"),
        overflowing: measured["wide"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default(),
    }
}

/// Saves a PNG of what the window shows as `target/screenshots/accessibility/{name}.png`.
pub async fn save_screenshot(chrome: &Chrome, name: &str) -> PathBuf {
    let dir = screenshots();
    std::fs::create_dir_all(&dir).expect("screenshot folder");
    let png = chrome.client.screenshot().await.expect("screenshot");
    let path = dir.join(format!("{name}.png"));
    std::fs::write(&path, png).expect("write screenshot");
    path
}

/// Where [`assert_accessible`] saves its screenshots.
pub fn screenshots() -> PathBuf {
    screenshot_dir().join("accessibility")
}

/// Fails unless the current page passes axe-core's WCAG 2.1 A/AA rules and does not scroll
/// sideways, both at [`DESKTOP`] and at [`PHONE`] width; `label` names the page in messages
/// and screenshot files (`target/screenshots/accessibility/{label}-desktop.png` and
/// `…-phone.png`, saved whether it passes or not). Leaves the window at desktop width.
///
/// Open the page in a [`Chrome`] (one for the whole test: starting one per page costs
/// seconds), wait until it shows what it should, then call it:
///
/// ```ignore
/// chrome.client.goto(&app.url(&slug, "/staff/contacts")).await.unwrap();
/// chrome.client.wait().for_element(Locator::Css("main h1")).await.unwrap();
/// portico_e2e::axe::assert_accessible(&chrome, "console-contacts").await;
/// ```
///
/// Test files that use it are browser tests: skip them under
/// [`crate::chrome::skip_requested`] as `tests/tests/accessibility.rs` does, and add them to
/// the suites `./dev test` does not repeat on PostgreSQL (the `case` in `run_tests`) unless
/// the backend matters to what they show.
pub async fn assert_accessible(chrome: &Chrome, label: &str) {
    let mut failures = Vec::new();
    for viewport in [PHONE, DESKTOP] {
        let found = scan(chrome, viewport).await;
        let shot = save_screenshot(chrome, &format!("{label}-{}", viewport.name)).await;
        if !found.passed() {
            failures.push(format!(
                "{}  screenshot: {}\n",
                found.report(),
                shot.display()
            ));
        }
    }
    if !failures.is_empty() {
        panic!(
            "{label} is not accessible:\n{}",
            failures.concat().trim_end()
        );
    }
}
