//! The test harness: [`TestApp::spawn`] starts a real gateway on a random port with its own
//! database (a fresh SQLite file, or a fresh PostgreSQL database when `PORTICO_TEST_DB=postgres`)
//! and its own Redis key prefix, so tests run in parallel and share nothing. A [`Browser`]
//! then speaks HTTP to it like a client, with its own cookie jar.
#![forbid(unsafe_code)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use portico_gateway::app::{self, Running};
use portico_shared::config::Config;
use portico_shared::email::Email;
use portico_shared::ids::{ContactId, FirmId};
use portico_shared::keys::Keyring;
use portico_shared::mail::{LinkSecrets, MailJob};
use portico_shared::secret::{hex, random_bytes};
use portico_shared::store::{Contact, Firm, NewContact, NewFirm, Store};
use portico_shared::token::ApiKey;
use reqwest::redirect::Policy;
use serde_json::Value;

pub mod axe;
pub mod binaries;
pub mod chrome;
pub mod fleet;
pub mod migrations;
pub mod openapi_check;
pub mod private_redis;
pub mod redis_topology;
pub mod roles;
pub mod scratch;
pub mod smtp_sink;
pub mod staff;

pub use scratch::Scratch;

/// The base domain of every test gateway; a [`Browser`] resolves all of it to the gateway.
pub const BASE_DOMAIN: &str = "portico.test";

pub fn unique(label: &str) -> String {
    format!("{label}{}", hex(&random_bytes::<5>()))
}

/// Which database backend the tests run on: `PORTICO_TEST_DB=sqlite` (default) or `postgres`.
pub fn backend() -> &'static str {
    match std::env::var("PORTICO_TEST_DB").as_deref() {
        Ok("postgres") => "postgres",
        _ => "sqlite",
    }
}

/// The PostgreSQL server tests create their databases on.
pub fn postgres_admin_url() -> String {
    std::env::var("PORTICO_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

pub fn redis_url() -> String {
    std::env::var("PORTICO_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// Sends an API request and reads its answer: the status, and the body as JSON (`null` when
/// empty; a body that is not JSON fails the test).
pub async fn json_answer(request: reqwest::RequestBuilder) -> (reqwest::StatusCode, Value) {
    let response = request.send().await.expect("API request");
    let status = response.status();
    let text = response.text().await.expect("API body");
    let json = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("API answered non-JSON: {text}"))
    };
    (status, json)
}

/// A test gateway's configuration: an isolated database, data folder and Redis prefix, plus
/// `overrides`.
pub struct TestConfig {
    pub config: Config,
    /// The variables the configuration was read from (to start a binary with the same setup).
    pub vars: HashMap<String, String>,
    /// What the gateway writes to; removed when this is dropped.
    pub scratch: Scratch,
}

pub async fn test_config(overrides: &[(&str, &str)]) -> TestConfig {
    let mut scratch = Scratch::new().await;
    let mut vars: HashMap<String, String> = HashMap::from([
        ("DATABASE_URL".into(), scratch.database_url().to_string()),
        ("REDIS_URL".into(), redis_url()),
        (
            "PORTICO_REDIS_PREFIX".into(),
            scratch.redis_prefix().to_string(),
        ),
        ("PORTICO_BIND".into(), "127.0.0.1:0".into()),
        ("PORTICO_BASE_DOMAIN".into(), BASE_DOMAIN.into()),
        ("PORTICO_PUBLIC_SCHEME".into(), "http".into()),
        ("PORTICO_COOKIE_SECURE".into(), "false".into()),
        (
            "PORTICO_DATA_DIR".into(),
            scratch.data_dir().display().to_string(),
        ),
        (
            "PORTICO_SIGNING_KEYS".into(),
            Keyring::generate("t1").to_config_string(),
        ),
        // Generous by default; tests of the limits lower them.
        ("PORTICO_LOGIN_PER_IP".into(), "10000/min".into()),
        ("PORTICO_LOGIN_PER_EMAIL".into(), "1000/15min".into()),
        ("PORTICO_LOGIN_MAILS_PER_DAY".into(), "1000".into()),
    ]);
    for (k, v) in overrides {
        vars.insert(k.to_string(), v.to_string());
    }
    let config = Config::from_lookup(|k| vars.get(k).cloned()).expect("test configuration");
    scratch.follow(&config);
    TestConfig {
        config,
        vars,
        scratch,
    }
}

/// A gateway of a test's own. [`TestApp::stop`] stops it and removes what it wrote; a test
/// that fails before it gets there leaves nothing behind either: dropping a `TestApp` signals
/// the gateway to stop and removes the same (see [`Scratch`]).
pub struct TestApp {
    pub addr: SocketAddr,
    pub config: Config,
    /// The variables the configuration was read from (to start a binary with the same setup).
    pub vars: HashMap<String, String>,
    pub store: Arc<dyn Store>,
    pub redis: portico_shared::redis_conn::RedisConn,
    running: Option<Running>,
    /// Last, so that a drop signals the gateway to stop before its database goes.
    scratch: Scratch,
}

/// A firm with an API key.
pub struct TestFirm {
    pub firm: Firm,
    pub api_key: String,
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        TestApp::spawn_with(&[]).await
    }

    pub async fn spawn_with(overrides: &[(&str, &str)]) -> TestApp {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a port");
        let port = listener.local_addr().expect("bound").port().to_string();
        let mut overrides = overrides.to_vec();
        overrides.push(("PORTICO_PUBLIC_PORT", &port));
        let TestConfig {
            config,
            vars,
            scratch,
        } = test_config(&overrides).await;
        let running = app::spawn(config.clone(), listener)
            .await
            .expect("gateway starts");
        TestApp {
            addr: running.addr,
            store: running.state.store.clone(),
            redis: running.state.redis.clone(),
            config,
            vars,
            running: Some(running),
            scratch,
        }
    }

    /// Stops the gateway and removes what it created: its Redis keys, its data folder and its
    /// database.
    pub async fn stop(mut self) {
        if let Some(running) = self.running.take() {
            running.stop().await;
        }
        self.store.close().await;
        self.scratch.remove().await;
    }

    pub fn keys(&self) -> &Keyring {
        &self.config.signing_keys
    }

    /// The running gateway's state, to call its functions directly (as other modules do).
    pub fn state(&self) -> &portico_gateway::state::AppState {
        &self.running.as_ref().expect("the gateway is running").state
    }

    pub fn host(&self, slug: &str) -> String {
        format!("{slug}.{BASE_DOMAIN}")
    }

    /// `http://{slug}.portico.test:{port}{path}`
    pub fn url(&self, slug: &str, path: &str) -> String {
        format!("http://{slug}.{BASE_DOMAIN}:{}{path}", self.addr.port())
    }

    /// A URL on the bare address (no firm host), for ops endpoints and the API.
    pub fn plain_url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn browser(&self) -> Browser {
        Browser::new(self.addr)
    }

    pub async fn create_firm(&self, slug_label: &str) -> TestFirm {
        let slug = unique(&format!("{slug_label}-"));
        let firm = self
            .store
            .create_firm(&NewFirm {
                slug: slug.clone(),
                name: format!("{slug_label} & Co"),
                owner_email: Email::parse(&format!("owner@{slug}.example")).unwrap(),
            })
            .await
            .expect("create firm");
        let api_key = ApiKey::generate();
        self.store
            .add_api_key(&firm.id, &api_key.hash())
            .await
            .expect("add api key");
        let api_key = api_key.expose().to_string();
        TestFirm { firm, api_key }
    }

    pub async fn add_contact(&self, firm: &TestFirm, email: &str, portal_access: bool) -> Contact {
        self.store
            .create_contact(
                &firm.firm.id,
                &NewContact {
                    name: "Test Client".into(),
                    email: Email::parse(email).unwrap(),
                    portal_access,
                    account_id: None,
                    permission_set: None,
                },
            )
            .await
            .expect("create contact")
    }

    /// The contact as stored now; panics when it is gone.
    pub async fn stored_contact(&self, firm_id: &FirmId, id: &ContactId) -> Contact {
        self.store
            .contact(firm_id, id)
            .await
            .expect("read contact")
            .unwrap_or_else(|| panic!("contact {id} is gone"))
    }

    /// A browser signed in as `email` at `firm`, through the one-click link it asked for.
    pub async fn signed_in(&self, firm: &TestFirm, email: &str) -> Browser {
        let browser = self.browser();
        browser.request_link(self, &firm.firm.slug, email).await;
        let mail = self
            .last_link(email)
            .await
            .expect("a login link was mailed");
        let response = browser.get(&mail.link).await;
        assert_eq!(
            response.status(),
            reqwest::StatusCode::SEE_OTHER,
            "signed in"
        );
        browser
    }

    /// Home pages answered from the kept pages so far, from the gateway's own `/metrics`.
    pub async fn kept_home_pages(&self) -> u64 {
        let (status, metrics) = self.browser().get_text(&self.plain_url("/metrics")).await;
        assert_eq!(status, reqwest::StatusCode::OK);
        metrics
            .lines()
            .find_map(|l| l.strip_prefix("portico_home_pages_total{kind=\"cache\"} "))
            .map_or(0, |n| n.trim().parse().unwrap())
    }

    /// Every job on the mail stream, oldest first; each must carry a tag that verifies for
    /// this gateway's keys and prefix, as the mailer requires.
    pub async fn mail_jobs(&self) -> Vec<MailJob> {
        let mut redis = self.redis.clone();
        let entries: redis::streams::StreamRangeReply = redis::cmd("XRANGE")
            .arg(
                portico_shared::redis_conn::RedisKeys::new(&self.config.redis_prefix).mail_stream(),
            )
            .arg("-")
            .arg("+")
            .query_async(&mut redis)
            .await
            .expect("read the mail stream");
        entries
            .ids
            .iter()
            .map(|entry| {
                let json: String = entry.get("job").expect("job field");
                let job = MailJob::from_json(&json).expect("job JSON");
                job.verify(self.keys(), &self.config.redis_prefix)
                    .unwrap_or_else(|e| {
                        panic!("the gateway's job {} does not verify: {e}", job.id)
                    });
                job
            })
            .collect()
    }

    /// The link and code of the newest mail job to `email`.
    pub async fn last_link(&self, email: &str) -> Option<MailedLink> {
        let job = self
            .mail_jobs()
            .await
            .into_iter()
            .rev()
            .find(|j| j.to.email.eq_ignore_ascii_case(email))?;
        let secrets: LinkSecrets = job.unseal(self.keys()).expect("job unseals");
        let token = secrets
            .link
            .split_once("token=")
            .map(|(_, t)| t.to_string())
            .expect("link has a token");
        Some(MailedLink {
            link: secrets.link,
            code: secrets.code,
            token,
            job,
        })
    }

    /// Calls the staff API as `firm`, which must answer with a success; returns the body.
    pub async fn api_ok(
        &self,
        firm: &TestFirm,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Value {
        let (status, answer) = self.api(&firm.api_key, method, path, body).await;
        assert!(status.is_success(), "{path}: {status} {answer}");
        answer
    }

    /// Calls the staff API with a key.
    pub async fn api(
        &self,
        key: &str,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (reqwest::StatusCode, Value) {
        let client = reqwest::Client::new();
        let method_name = method.to_string();
        let mut request = client
            .request(method, self.plain_url(path))
            .bearer_auth(key);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let (status, json) = json_answer(request).await;
        openapi_check::check_answer(self, &method_name, path, status.as_u16(), &json).await;
        (status, json)
    }
}

impl TestApp {
    /// Calls the staff API with a multipart body.
    pub async fn api_multipart(
        &self,
        key: &str,
        path: &str,
        form: reqwest::multipart::Form,
    ) -> (reqwest::StatusCode, Value) {
        let response = reqwest::Client::new()
            .post(self.plain_url(path))
            .bearer_auth(key)
            .multipart(form)
            .send()
            .await
            .expect("API request");
        let status = response.status();
        let text = response.text().await.expect("API body");
        let json = serde_json::from_str(&text)
            .unwrap_or_else(|_| panic!("API answered non-JSON ({status}): {text}"));
        openapi_check::check_answer(self, "POST", path, status.as_u16(), &json).await;
        (status, json)
    }
}

impl TestFirm {
    /// Asks `contact` to sign `pdf` (uploaded as `file_name`) through the staff API; the
    /// created signing request as the API shows it.
    pub async fn request_signature(
        &self,
        app: &TestApp,
        contact: &ContactId,
        title: &str,
        file_name: &str,
        pdf: &[u8],
    ) -> Value {
        let form = reqwest::multipart::Form::new()
            .text("contact_id", contact.to_string())
            .text("title", title.to_string())
            .part("file", file_part(file_name, pdf));
        let (status, body) = app
            .api_multipart(&self.api_key, "/api/v1/signing-requests", form)
            .await;
        assert_eq!(status, reqwest::StatusCode::CREATED, "{body}");
        body
    }
}

impl TestApp {
    /// Waits (up to 30 s) until the page images of the document with this hash are rendered
    /// or have failed, and returns which.
    pub async fn rendered_pages(&self, sha256: &str) -> portico_shared::store::PageImages {
        use portico_shared::store::PageImages;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            let state = self
                .store
                .page_images(sha256)
                .await
                .expect("read the preview");
            match state {
                Some(done @ (PageImages::Ready { .. } | PageImages::Failed { .. })) => {
                    return done;
                }
                _ if std::time::Instant::now() > deadline => {
                    panic!("the pages of {sha256} were not rendered within 30 s: {state:?}")
                }
                _ => tokio::time::sleep(std::time::Duration::from_millis(50)).await,
            }
        }
    }
}

/// A multipart part holding `bytes` as a file called `name`.
pub fn file_part(name: &str, bytes: &[u8]) -> reqwest::multipart::Part {
    reqwest::multipart::Part::bytes(bytes.to_vec())
        .file_name(name.to_string())
        .mime_str("application/octet-stream")
        .expect("a valid MIME type")
}

/// Hex SHA-256, to compare with what the gateway recorded.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(ring::digest::digest(&ring::digest::SHA256, bytes).as_ref())
}

/// A small but well-formed one-page PDF.
pub fn sample_pdf(text: &str) -> Vec<u8> {
    portico_shared::pdf::text_pdf(&[text.to_string()])
}

/// A well-formed PDF of `pages` pages, each headed "Page N" under `title`.
pub fn multi_page_pdf(title: &str, pages: usize) -> Vec<u8> {
    let pages: Vec<String> = (1..=pages)
        .map(|n| format!("{title}\nPage {n} of {pages}"))
        .collect();
    portico_shared::pdf::text_pdf(&pages)
}

pub struct MailedLink {
    pub link: String,
    pub code: String,
    pub token: String,
    pub job: MailJob,
}

/// An HTTP client with its own cookie jar that resolves every `*.portico.test` name to the
/// gateway, and does not follow redirects (tests look at them).
#[derive(Clone)]
pub struct Browser {
    pub client: reqwest::Client,
}

/// Sends every name to the test gateway.
pub(crate) struct ToGateway(pub(crate) SocketAddr);

impl reqwest::dns::Resolve for ToGateway {
    fn resolve(&self, _name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let addr = self.0;
        Box::pin(async move {
            let addrs: reqwest::dns::Addrs = Box::new(std::iter::once(addr));
            Ok(addrs)
        })
    }
}

impl Browser {
    pub fn new(addr: SocketAddr) -> Browser {
        let client = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(Policy::none())
            .dns_resolver(Arc::new(ToGateway(addr)))
            .build()
            .expect("HTTP client");
        Browser { client }
    }

    pub async fn get(&self, url: &str) -> reqwest::Response {
        self.client.get(url).send().await.expect("GET")
    }

    pub async fn get_text(&self, url: &str) -> (reqwest::StatusCode, String) {
        let response = self.get(url).await;
        let status = response.status();
        (status, response.text().await.expect("body"))
    }

    pub async fn post_form(&self, url: &str, form: &[(&str, &str)]) -> reqwest::Response {
        self.client.post(url).form(form).send().await.expect("POST")
    }

    /// Posts a `multipart/form-data` body, as a form with a file input does.
    pub async fn post_multipart(
        &self,
        url: &str,
        form: reqwest::multipart::Form,
    ) -> reqwest::Response {
        self.client
            .post(url)
            .multipart(form)
            .send()
            .await
            .expect("POST multipart")
    }

    /// The CSRF token of the form on the page at `url`.
    pub async fn csrf(&self, url: &str) -> String {
        let (_, html) = self.get_text(url).await;
        csrf_in(&html).unwrap_or_else(|| panic!("no CSRF token on {url}: {html}"))
    }

    /// Fills in the login form of `app`'s firm `slug`.
    pub async fn request_link(&self, app: &TestApp, slug: &str, email: &str) -> reqwest::Response {
        let login = app.url(slug, "/login");
        let csrf = self.csrf(&login).await;
        self.post_form(&login, &[("email", email), ("csrf", &csrf)])
            .await
    }

    /// Saves the settings page as a client does: a name, a language, and every email wanted.
    pub async fn save_settings(
        &self,
        app: &TestApp,
        slug: &str,
        name: &str,
        language: &str,
    ) -> reqwest::Response {
        let settings = app.url(slug, "/settings");
        let csrf = self.csrf(&settings).await;
        self.post_form(
            &settings,
            &[
                ("csrf", csrf.as_str()),
                ("name", name),
                ("language", language),
                ("notify_task_shared", "on"),
                ("notify_signature_requested", "on"),
                ("notify_request_reply", "on"),
            ],
        )
        .await
    }

    /// Opens a link, then types `code` into the page it shows.
    pub async fn enter_code(
        &self,
        app: &TestApp,
        slug: &str,
        token: &str,
        code: &str,
    ) -> reqwest::Response {
        let page = format!("{}?token={token}", app.url(slug, "/auth/magic"));
        let csrf = self.csrf(&page).await;
        self.post_form(
            &app.url(slug, "/auth/magic"),
            &[("token", token), ("code", code), ("csrf", &csrf)],
        )
        .await
    }
}

/// The page's text with the entities minijinja writes (`/` included) decoded, to search it.
pub fn decoded(html: String) -> String {
    html.replace("&#x2f;", "/")
        .replace("&#x27;", "'")
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

pub fn csrf_in(html: &str) -> Option<String> {
    let start = html.find("name=\"csrf\" value=\"")? + "name=\"csrf\" value=\"".len();
    let end = html[start..].find('"')?;
    Some(html[start..start + end].to_string())
}

/// The page with its CSRF token values blanked, for comparing pages byte for byte.
pub fn without_csrf(html: &str) -> String {
    let mut out = String::new();
    let mut rest = html;
    while let Some(at) = rest.find("name=\"csrf\" value=\"") {
        let start = at + "name=\"csrf\" value=\"".len();
        out.push_str(&rest[..start]);
        rest = &rest[start..];
        let end = rest.find('"').unwrap_or(rest.len());
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

/// Where test binaries look for the workspace's built binaries.
pub fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    // …/target/debug/deps/test-binary → …/target/debug
    exe.parent()
        .and_then(|deps| deps.parent())
        .expect("target dir")
        .to_path_buf()
}
