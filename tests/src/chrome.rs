//! Headless Chromium driven through chromedriver (WebDriver), for tests that look at pages as a
//! client does. Each [`Chrome`] has its own chromedriver and a fresh profile, and resolves every
//! `*.portico.test` name to 127.0.0.1.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder};
use serde_json::json;

use crate::{BASE_DOMAIN, unique};

pub struct Chrome {
    pub client: Client,
    driver: Child,
    profile: PathBuf,
}

/// Whether the browser test may be skipped here (only when asked to, explicitly).
pub fn skip_requested() -> bool {
    std::env::var("PORTICO_SKIP_BROWSER").as_deref() == Ok("1")
}

fn find(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var("PATH").unwrap_or_default();
    names.iter().find_map(|name| {
        std::env::split_paths(&path)
            .map(|dir| dir.join(name))
            .find(|candidate| candidate.is_file())
    })
}

impl Chrome {
    pub async fn start() -> Chrome {
        // Several rustls crypto providers are linked in; chromedriver speaks plain HTTP, but
        // the WebDriver client still wants one chosen.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let chromium = find(&["chromium", "chromium-browser", "google-chrome"]).expect(
            "Chromium is missing: apt-get install chromium chromium-driver (./dev test does), \
             or set PORTICO_SKIP_BROWSER=1 to skip this test knowingly",
        );
        let chromedriver = find(&["chromedriver"])
            .expect("chromedriver is missing: apt-get install chromium-driver");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port");
        let driver = Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let profile = std::env::temp_dir().join(unique("portico-chrome-"));
        let capabilities = json!({
            "goog:chromeOptions": {
                "binary": chromium,
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                    "--disable-background-networking", "--no-first-run",
                    "--disable-component-update", "--disable-sync",
                    "--window-size=1100,900",
                    format!("--user-data-dir={}", profile.display()),
                    format!("--host-resolver-rules=MAP *.{BASE_DOMAIN} 127.0.0.1"),
                ]
            }
        });
        let capabilities = capabilities.as_object().cloned().expect("an object");
        let url = format!("http://127.0.0.1:{port}");
        let mut last_error = None;
        for _ in 0..50 {
            match ClientBuilder::rustls()
                .expect("TLS roots")
                .capabilities(capabilities.clone())
                .connect(&url)
                .await
            {
                Ok(client) => {
                    return Chrome {
                        client,
                        driver,
                        profile,
                    };
                }
                Err(e) => last_error = Some(e),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("cannot start a Chromium session: {last_error:?}");
    }

    /// Saves a PNG of the current page as `target/screenshots/{name}.png` and returns its path.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let png = self.client.screenshot().await.expect("screenshot");
        assert!(png.starts_with(b"\x89PNG"), "a PNG");
        let dir = crate::target_dir().join("../screenshots");
        std::fs::create_dir_all(&dir).expect("screenshot folder");
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png).expect("write screenshot");
        path
    }

    pub async fn quit(self) {
        let _ = self.client.clone().close().await;
    }
}

impl Drop for Chrome {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}
