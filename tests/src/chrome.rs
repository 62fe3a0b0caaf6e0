//! Headless Chromium driven through chromedriver (WebDriver), for tests that look at pages as a
//! client does. Each [`Chrome`] has its own chromedriver on a free port and a fresh profile, and
//! resolves every `*.portico.test` name to 127.0.0.1. Dropping it (even while a failing test
//! unwinds) shuts chromedriver down *with* its browser and removes the profile.
//!
//! The binaries come from `PORTICO_CHROMIUM` / `PORTICO_CHROMEDRIVER` when set, otherwise from
//! `PATH` (`chromium`, then `chromium-browser`, `google-chrome`; `chromedriver`): on Debian,
//! `apt-get install chromium chromium-driver`.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

use crate::{BASE_DOMAIN, unique};

pub struct Chrome {
    pub client: Client,
    driver: Child,
    port: u16,
    session: String,
    profile: PathBuf,
}

/// Whether the browser test may be skipped here (only when asked to, explicitly).
pub fn skip_requested() -> bool {
    std::env::var("PORTICO_SKIP_BROWSER").as_deref() == Ok("1")
}

/// `$env_var` if set, otherwise the first of `names` found on `PATH`.
fn find(env_var: &str, names: &[&str]) -> Option<PathBuf> {
    if let Some(path) = std::env::var_os(env_var) {
        return Some(PathBuf::from(path));
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    names.iter().find_map(|name| {
        std::env::split_paths(&path)
            .map(|dir| dir.join(name))
            .find(|candidate| candidate.is_file())
    })
}

const MISSING: &str = "On Debian: apt-get install chromium chromium-driver (./dev test does), \
    or point PORTICO_CHROMIUM / PORTICO_CHROMEDRIVER at them, \
    or set PORTICO_SKIP_BROWSER=1 to skip the browser test knowingly";

/// One browser-console entry (`level` is `SEVERE`, `WARNING`, `INFO`…).
#[derive(Debug, Clone)]
pub struct ConsoleEntry {
    pub level: String,
    pub message: String,
}

impl Chrome {
    /// The page's main text once it contains `needle` (a click's navigation may still be
    /// under way), failing after a few seconds with the page's address and what it says.
    pub async fn wait_text(&self, needle: &str) -> String {
        let mut last = String::new();
        for _ in 0..50 {
            if let Ok(main) = self.client.find(Locator::Css("main")).await
                && let Ok(text) = main.text().await
            {
                if text.contains(needle) {
                    return text;
                }
                last = text;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let url = self.client.current_url().await.map(|u| u.to_string());
        panic!("the page never said {needle:?}; {url:?} says:\n{last}");
    }

    /// Clicks the element at `css`.
    pub async fn click(&self, css: &str) {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css}: {e}"))
            .click()
            .await
            .unwrap_or_else(|e| panic!("click {css}: {e}"));
    }

    /// Types `value` into the field at `css`.
    pub async fn type_into(&self, css: &str, value: &str) {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css}: {e}"))
            .send_keys(value)
            .await
            .unwrap_or_else(|e| panic!("type into {css}: {e}"));
    }

    pub async fn start() -> Chrome {
        // Several rustls crypto providers are linked in; chromedriver speaks plain HTTP, but
        // the WebDriver client still wants one chosen.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let chromium = find(
            "PORTICO_CHROMIUM",
            &["chromium", "chromium-browser", "google-chrome"],
        )
        .unwrap_or_else(|| panic!("Chromium is missing. {MISSING}"));
        let chromedriver = find("PORTICO_CHROMEDRIVER", &["chromedriver"])
            .unwrap_or_else(|| panic!("chromedriver is missing. {MISSING}"));
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port");
        let mut driver = Command::new(&chromedriver)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}. {MISSING}", chromedriver.display()));
        let profile = std::env::temp_dir().join(unique("portico-chrome-"));
        let capabilities = json!({
            "goog:loggingPrefs": { "browser": "ALL" },
            "goog:chromeOptions": {
                "binary": chromium,
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                    "--disable-background-networking", "--no-first-run",
                    "--disable-component-update", "--disable-sync", "--disable-crash-reporter",
                    "--window-size=1100,900",
                    format!("--user-data-dir={}", profile.display()),
                    format!("--host-resolver-rules=MAP *.{BASE_DOMAIN} 127.0.0.1"),
                ]
            }
        });
        let capabilities = capabilities.as_object().cloned().expect("an object");
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(15);
        let mut last_error = None;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = driver.try_wait() {
                let _ = std::fs::remove_dir_all(&profile);
                panic!("{} exited at start ({status})", chromedriver.display());
            }
            match ClientBuilder::rustls()
                .expect("TLS roots")
                .capabilities(capabilities.clone())
                .connect(&url)
                .await
            {
                Ok(client) => {
                    let session = client
                        .session_id()
                        .await
                        .ok()
                        .flatten()
                        .expect("a WebDriver session id");
                    return Chrome {
                        client,
                        driver,
                        port,
                        session,
                        profile,
                    };
                }
                Err(e) => last_error = Some(e),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        // Not a `Chrome` yet, so clean up by hand.
        shutdown(port, &mut driver);
        let _ = std::fs::remove_dir_all(&profile);
        panic!(
            "cannot start a headless Chromium session through {} with {}: {last_error:?} \
             (chromium and chromium-driver must be the same version)",
            chromedriver.display(),
            chromium.display()
        );
    }

    /// Saves a PNG of the current page as `target/screenshots/{name}.png`, checks that it is a
    /// real, non-empty PNG, and returns its path.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let png = self.client.screenshot().await.expect("screenshot");
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir).expect("screenshot folder");
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, &png).expect("write screenshot");
        let (width, height) =
            png_size(&path).unwrap_or_else(|| panic!("{} is not a PNG image", path.display()));
        assert!(
            width >= 300 && height >= 300,
            "{} is only {width}×{height} pixels",
            path.display()
        );
        path
    }

    /// The browser-console entries logged since the last call (chromedriver drains them).
    pub async fn console(&self) -> Vec<ConsoleEntry> {
        let url = format!(
            "http://127.0.0.1:{}/session/{}/se/log",
            self.port, self.session
        );
        let reply: Value = reqwest::Client::new()
            .post(url)
            .json(&json!({ "type": "browser" }))
            .send()
            .await
            .expect("ask chromedriver for the browser log")
            .json()
            .await
            .expect("the browser log is JSON");
        reply["value"]
            .as_array()
            .unwrap_or_else(|| panic!("unexpected browser log reply: {reply}"))
            .iter()
            .map(|entry| ConsoleEntry {
                level: entry["level"].as_str().unwrap_or_default().to_string(),
                message: entry["message"].as_str().unwrap_or_default().to_string(),
            })
            .collect()
    }

    /// Fails if the console holds an error (a Content-Security-Policy violation, a failed
    /// resource, a script error) since the last check; `page` names the page in the message.
    /// Let pass: the status of the page itself (an error page answers 404 or 410 on purpose;
    /// tests check what it says). The site icon must load like everything else.
    pub async fn assert_no_console_errors(&self, page: &str) {
        let current = self.client.current_url().await.expect("current URL");
        let own_status = format!("{current} - Failed to load resource");
        let errors: Vec<_> = self
            .console()
            .await
            .into_iter()
            .filter(|e| e.level == "SEVERE" || e.message.contains("Content Security Policy"))
            .filter(|e| !e.message.starts_with(&own_status))
            .collect();
        assert!(
            errors.is_empty(),
            "browser console errors on {page}: {errors:#?}"
        );
    }

    /// Ends the session; dropping does the rest.
    pub async fn quit(self) {
        let _ = self.client.clone().close().await;
    }
}

impl Drop for Chrome {
    fn drop(&mut self) {
        // Killing chromedriver alone would leave its Chromium running (orphaned): ask it to
        // shut down, which quits its browser, and only then make sure it is gone.
        shutdown(self.port, &mut self.driver);
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

/// Where screenshots go: `target/screenshots/` (beside `debug/`).
pub fn screenshot_dir() -> PathBuf {
    let profile_dir = crate::target_dir();
    profile_dir
        .parent()
        .unwrap_or(&profile_dir)
        .join("screenshots")
}

/// Width and height of the PNG at `path`, if it is one with a header chunk.
pub fn png_size(path: &Path) -> Option<(u32, u32)> {
    let bytes = std::fs::read(path).ok()?;
    if bytes.len() < 24 || !bytes.starts_with(b"\x89PNG\r\n\x1a\n") || &bytes[12..16] != b"IHDR" {
        return None;
    }
    let width = u32::from_be_bytes(bytes[16..20].try_into().ok()?);
    let height = u32::from_be_bytes(bytes[20..24].try_into().ok()?);
    (width > 0 && height > 0).then_some((width, height))
}

/// `GET /shutdown` on chromedriver (synchronous, so it works in `Drop` and while panicking):
/// it closes its sessions' browsers and exits. Kills it if it has not exited in a few seconds.
fn shutdown(port: u16, driver: &mut Child) {
    if matches!(driver.try_wait(), Ok(None)) {
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
        if let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_secs(1)) {
            let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
            let _ = stream.write_all(
                b"GET /shutdown HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
            );
            let _ = stream.read_to_end(&mut Vec::new());
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while matches!(driver.try_wait(), Ok(None)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    let _ = driver.kill();
    let _ = driver.wait();
}
