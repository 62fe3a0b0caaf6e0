//! The real `gateway` binary: configuration errors, the CLI, logs and shutdown.

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use portico_e2e::binaries::{ChildGuard, exit_and_stderr_lines, gateway, run_gateway};
use portico_e2e::{Browser, csrf_in, test_config};
use portico_shared::email::Email;
use portico_shared::status::{InvoiceStatus, SigningStatus};
use portico_shared::store::{self, PageImages, PageQuery};

/// Runs the binary with one variable changed and returns (exit code, stderr lines).
async fn fails_with(var: &str, value: &str) -> (i32, Vec<String>) {
    let mut setup = test_config(&[]).await;
    setup.vars.insert(var.into(), value.into());
    exit_and_stderr_lines(&run_gateway(&setup.vars, &["migrate"]))
}

#[tokio::test]
async fn bad_configuration_stops_with_one_line_naming_the_variable() {
    let cases = [
        (
            "DATABASE_URL",
            "mysql://db/portico",
            "gateway: DATABASE_URL: expected sqlite://PATH or postgres://",
        ),
        (
            "DATABASE_URL",
            "postgres://nobody:secret@127.0.0.1:1/none",
            "gateway: DATABASE_URL: cannot open",
        ),
        ("REDIS_URL", "http://127.0.0.1", "gateway: REDIS_URL:"),
        (
            "PORTICO_LINK_TTL",
            "seven",
            "gateway: PORTICO_LINK_TTL: expected a duration like 7d, 12h, 15min or 30s, got \"seven\"",
        ),
        (
            "PORTICO_LOGIN_PER_EMAIL",
            "five",
            "gateway: PORTICO_LOGIN_PER_EMAIL:",
        ),
        (
            "PORTICO_SIGNING_KEYS",
            "k1:tooshort",
            "gateway: PORTICO_SIGNING_KEYS:",
        ),
        (
            "PORTICO_UPLOAD_QUOTA",
            "plenty",
            "gateway: PORTICO_UPLOAD_QUOTA:",
        ),
        (
            "PORTICO_UPLOAD_RATE",
            "often",
            "gateway: PORTICO_UPLOAD_RATE: expected a rate like 60/min",
        ),
        // Behind a proxy, /metrics cannot rely on "loopback only": a token is required.
        (
            "PORTICO_TRUSTED_PROXIES",
            "10.0.0.0/8",
            "gateway: PORTICO_TRUSTED_PROXIES: is set, so PORTICO_METRICS_TOKEN must be set too",
        ),
    ];
    for (var, value, expected) in cases {
        let (code, lines) = fails_with(var, value).await;
        assert_ne!(code, 0, "{var}={value}");
        assert_eq!(lines.len(), 1, "{var}={value}: one line, got {lines:?}");
        assert!(
            lines[0].starts_with(expected),
            "{var}={value}: {:?}",
            lines[0]
        );
        assert!(
            !lines[0].contains("secret"),
            "passwords are not echoed: {}",
            lines[0]
        );
    }
}

#[tokio::test]
async fn unreachable_redis_stops_serve_with_one_line() {
    let mut setup = test_config(&[]).await;
    setup
        .vars
        .insert("REDIS_URL".into(), "redis://127.0.0.1:1".into());
    let output = run_gateway(&setup.vars, &["serve"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let last = stderr.lines().last().unwrap_or_default();
    assert!(!output.status.success());
    assert!(
        last.starts_with("gateway: REDIS_URL: cannot connect to redis://127.0.0.1:1"),
        "{stderr}"
    );
}

#[tokio::test]
async fn firm_and_apikey_commands() {
    let setup = test_config(&[]).await;
    let vars = &setup.vars;
    let slug = portico_e2e::unique("cli-");
    let output = run_gateway(
        vars,
        &[
            "firm",
            "create",
            "--slug",
            &slug,
            "--name",
            "CLI & Co",
            "--owner-email",
            "owner@cli.example",
        ],
    );
    assert!(output.status.success(), "{output:?}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("API key (shown once"), "{stdout}");
    let key = stdout
        .split_whitespace()
        .find(|w| w.starts_with("pk_"))
        .unwrap();
    assert!(key.len() > 40);

    let again = run_gateway(
        vars,
        &[
            "firm",
            "create",
            "--slug",
            &slug,
            "--name",
            "Again",
            "--owner-email",
            "o@x.example",
        ],
    );
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("exists"));
    for bad in ["A", "-bad", "has space", "www"] {
        let out = run_gateway(
            vars,
            &[
                "firm",
                "create",
                "--slug",
                bad,
                "--name",
                "X",
                "--owner-email",
                "o@x.example",
            ],
        );
        assert!(!out.status.success(), "{bad}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("--slug"),
            "{bad}"
        );
    }
    let out = run_gateway(vars, &["apikey", "create", "--firm", &slug]);
    assert!(out.status.success());
    let out = run_gateway(vars, &["apikey", "create", "--firm", "nosuchfirm"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no firm"));
    let out = run_gateway(vars, &["demo"]);
    assert!(out.status.success(), "{out:?}");
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(printed.contains("ann@example.com"));
    // Where staff sign in, as whom.
    assert!(
        printed.contains("/staff/login as owner@acme.example"),
        "{printed}"
    );
}

/// The demo shows every section of the portal at work: at Acme, Ann has a document to sign
/// whose page images are already rendered, and invoices (billing on); run again, it adds
/// nothing twice.
#[tokio::test]
async fn the_demo_holds_a_document_to_sign_with_its_pages_and_invoices() {
    let setup = test_config(&[]).await;
    for _ in 0..2 {
        let out = run_gateway(&setup.vars, &["demo"]);
        assert!(out.status.success(), "{out:?}");
    }
    let store = store::open(&setup.config.database_url).await.unwrap();
    fn everything<S>() -> PageQuery<S> {
        PageQuery {
            after: None,
            limit: 100,
            contact_id: None,
            status: None,
            assigned_to: None,
        }
    }
    let acme = store.firm_by_slug("acme").await.unwrap().unwrap();
    assert!(acme.billing_enabled && acme.esign_enabled);
    let ann = store
        .contact_by_email(&acme.id, &Email::parse("ann@example.com").unwrap())
        .await
        .unwrap()
        .unwrap();
    let requests = store
        .list_signing_requests(&acme.id, &everything())
        .await
        .unwrap();
    assert_eq!(requests.len(), 1, "{requests:?}");
    let request = &requests[0];
    assert_eq!(request.status, SigningStatus::Pending);
    assert_eq!(request.contact_id, ann.id);
    let stored = setup
        .config
        .data_dir
        .join("files")
        .join(&request.document_sha256[..2])
        .join(&request.document_sha256);
    let pdf = std::fs::read(&stored).unwrap();
    assert!(pdf.starts_with(b"%PDF-"));
    assert_eq!(
        store.page_images(&request.document_sha256).await.unwrap(),
        Some(PageImages::Ready {
            page_count: 3,
            rendered: 3
        })
    );
    let page = store
        .stored_page_image(&request.document_sha256, 3)
        .await
        .unwrap()
        .unwrap();
    assert!(page.starts_with(b"\x89PNG"));

    let invoices = store.list_invoices(&acme.id, &everything()).await.unwrap();
    assert_eq!(invoices.len(), 3, "{invoices:?}");
    assert!(invoices.iter().all(|i| i.contact_id == ann.id));
    assert!(invoices.iter().any(|i| i.status == InvoiceStatus::Open));
    assert!(invoices.iter().any(|i| i.status == InvoiceStatus::Paid));

    // The other firm stays as it was: no billing, nothing to sign.
    let north = store.firm_by_slug("northwind").await.unwrap().unwrap();
    assert!(!north.billing_enabled);
    assert!(
        store
            .list_invoices(&north.id, &everything())
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .list_signing_requests(&north.id, &everything())
            .await
            .unwrap()
            .is_empty()
    );
    store.close().await;
}

/// Starts `gateway serve` with JSON logs and returns the child, its port and its log lines.
fn serve(
    vars: &std::collections::HashMap<String, String>,
) -> (ChildGuard, u16, Arc<Mutex<Vec<String>>>) {
    let mut child = gateway(vars)
        .env("PORTICO_LOG_FORMAT", "json")
        .arg("serve")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let lines = Arc::new(Mutex::new(Vec::new()));
    let stderr = child.stderr.take().unwrap();
    let child = ChildGuard(child);
    let sink = lines.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            sink.lock().unwrap().push(line);
        }
    });
    let started = Instant::now();
    loop {
        let port = lines.lock().unwrap().iter().find_map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).ok()?;
            let address = v["address"].as_str()?;
            address.rsplit(':').next()?.parse::<u16>().ok()
        });
        if let Some(port) = port {
            return (child, port, lines);
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "gateway did not start: {:?}",
            lines.lock().unwrap()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[tokio::test]
async fn logs_are_json_lines_without_tokens_codes_or_addresses_and_sigterm_exits_cleanly() {
    let setup = test_config(&[]).await;
    let mut vars = setup.vars.clone();
    let slug = portico_e2e::unique("logs-");
    let out = run_gateway(
        &vars,
        &[
            "firm",
            "create",
            "--slug",
            &slug,
            "--name",
            "Logs",
            "--owner-email",
            "o@logs.example",
        ],
    );
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    let key = stdout
        .split_whitespace()
        .find(|w| w.starts_with("pk_"))
        .unwrap()
        .to_string();

    let (mut child, port, lines) = serve(&vars);
    vars.insert("PORTICO_PUBLIC_PORT".into(), port.to_string());
    let base = format!("http://{slug}.{}:{port}", portico_e2e::BASE_DOMAIN);
    let api = format!("http://127.0.0.1:{port}/api/v1/contacts");
    let client = reqwest::Client::new();
    let created: serde_json::Value = client
        .post(&api)
        .bearer_auth(&key)
        .json(&serde_json::json!({"name": "Zed", "email": "zed.secret@example.com", "portal_access": true}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(created["id"].as_str().is_some(), "{created}");

    let browser = Browser::new(([127, 0, 0, 1], port).into());
    let (_, html) = browser.get_text(&format!("{base}/login")).await;
    let csrf = csrf_in(&html).unwrap();
    browser
        .post_form(
            &format!("{base}/login"),
            &[("email", "zed.secret@example.com"), ("csrf", &csrf)],
        )
        .await;
    // Read the link off the stream with the keys the binary was given.
    let config = portico_shared::config::Config::from_lookup(|k| vars.get(k).cloned()).unwrap();
    let redis = portico_shared::redis_conn::RedisConn::connect(&config.redis)
        .await
        .unwrap();
    let mut redis = redis;
    let entries: redis::streams::StreamRangeReply = redis::cmd("XRANGE")
        .arg(portico_shared::redis_conn::RedisKeys::new(&config.redis_prefix).mail_stream())
        .arg("-")
        .arg("+")
        .query_async(&mut redis)
        .await
        .unwrap();
    let json: String = entries.ids[0].get("job").unwrap();
    let job = portico_shared::mail::MailJob::from_json(&json).unwrap();
    job.verify(&config.signing_keys, &config.redis_prefix)
        .expect("the binary's job carries its tag");
    let secrets: portico_shared::mail::LinkSecrets = job.unseal(&config.signing_keys).unwrap();
    let token = secrets.link.split_once("token=").unwrap().1.to_string();
    let response = browser.get(&secrets.link).await;
    assert_eq!(response.status(), reqwest::StatusCode::SEE_OTHER);

    // SIGTERM: finishes and exits 0.
    let status = std::process::Command::new("kill")
        .args(["-TERM", &child.0.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let started = Instant::now();
    let exit = loop {
        if let Some(exit) = child.0.try_wait().unwrap() {
            break exit;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "no exit after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(exit.success(), "{exit:?}");
    std::thread::sleep(Duration::from_millis(100));
    let lines = lines.lock().unwrap().clone();
    assert!(
        lines.iter().any(|l| l.contains("gateway stopped")),
        "{lines:?}"
    );
    let requests: Vec<&String> = lines
        .iter()
        .filter(|l| l.contains("finished processing request"))
        .collect();
    assert!(requests.len() >= 4, "one line a request: {lines:?}");
    for line in &lines {
        let parsed: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line}"));
        assert!(parsed["level"].is_string());
        for secret in [
            token.as_str(),
            &secrets.code,
            "zed.secret@example.com",
            &key,
            &csrf,
        ] {
            assert!(!line.contains(secret), "a secret reached the log: {line}");
        }
    }
    assert!(
        lines.iter().any(|l| l.contains("\"path\":\"/auth/magic\"")),
        "paths are logged"
    );
}

#[tokio::test]
async fn a_trusted_proxy_without_forwarded_for_is_logged_once_and_counted() {
    let token = "metrics-token-0123456789";
    let setup = test_config(&[
        ("PORTICO_TRUSTED_PROXIES", "127.0.0.1"),
        ("PORTICO_METRICS_TOKEN", token),
    ])
    .await;
    let (_child, port, lines) = serve(&setup.vars);
    let client = reqwest::Client::new();
    let health = format!("http://127.0.0.1:{port}/healthz");
    for _ in 0..3 {
        let r = client.get(&health).send().await.unwrap();
        assert_eq!(r.status(), reqwest::StatusCode::OK);
    }
    // Forwarded requests are fine and not counted.
    client
        .get(&health)
        .header("x-forwarded-for", "203.0.113.9")
        .send()
        .await
        .unwrap();
    let metrics = client
        .get(format!("http://127.0.0.1:{port}/metrics"))
        .bearer_auth(token)
        .header("x-forwarded-for", "203.0.113.9")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("portico_proxy_requests_without_forwarded_for_total 3"),
        "{metrics}"
    );
    // Log lines are written by a background thread: give them a moment to arrive.
    let warnings_now = || -> Vec<String> {
        lines
            .lock()
            .unwrap()
            .iter()
            .filter(|l| l.contains("without X-Forwarded-For"))
            .cloned()
            .collect()
    };
    let started = Instant::now();
    while warnings_now().is_empty() && started.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let warnings = warnings_now();
    assert_eq!(warnings.len(), 1, "logged once: {warnings:?}");
    assert!(warnings[0].contains("\"WARN\""), "{}", warnings[0]);
}
