//! Portico on a Redis Cluster and on Redis with Sentinel (issue 17): the harness's own set-ups
//! (tests/src/redis_topology.rs), sign-in end to end through gateway and mailer, keys spread
//! over every primary, controlled and hard failovers, and the configuration's refusals.

use std::collections::HashMap;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use mail_parser::MessageParser;
use portico_e2e::binaries::{ChildGuard, exit_and_stderr_lines, mailer, run_gateway};
use portico_e2e::redis_topology::{RedisCluster, RedisSentinelSet, ask, key_slot, role};
use portico_e2e::smtp_sink::{Mode, SmtpSink};
use portico_e2e::{Browser, TestApp, TestFirm, csrf_in, staff, test_config, unique};
use portico_shared::redis_conn::RedisKeys;
use redis::Role;
use reqwest::StatusCode;

#[tokio::test]
async fn the_cluster_harness_fails_over_and_restarts_nodes() {
    let mut cluster = RedisCluster::start().await;
    let primaries = cluster.primaries().await;
    assert_eq!(primaries.len(), 3, "{primaries:?}");
    let ranges = cluster.slot_ranges().await;
    let covered: u32 = ranges.iter().map(|(a, b, _)| u32::from(b - a) + 1).sum();
    assert_eq!(covered, 16_384);

    // A controlled failover swaps the roles.
    let old = primaries[0];
    let new = cluster.controlled_failover(old).await;
    assert!(matches!(role(new).await, Some(Role::Primary { .. })));
    assert_eq!(cluster.replica_of(new).await, Some(old));

    // A killed primary's replica takes over; the killed node comes back as its replica.
    let replica = cluster.kill_primary(new).await;
    cluster.wait_promoted(replica).await;
    cluster.restart(new).await;
    assert_eq!(cluster.replica_of(replica).await, Some(new));
    assert_eq!(cluster.primaries().await.len(), 3);
}

#[tokio::test]
async fn the_sentinel_harness_fails_over() {
    let mut set = RedisSentinelSet::start().await;
    let master = set.master().await;
    let _: () = ask(master, redis::cmd("SET").arg("k").arg("v"))
        .await
        .unwrap();
    let new = set.failover().await;
    assert_ne!(new, master);
    let value: String = ask(new, redis::cmd("GET").arg("k")).await.unwrap();
    assert_eq!(value, "v", "a controlled failover keeps what was written");

    let killed = set.kill_master().await;
    assert_eq!(killed, new);
    let promoted = set.wait_new_master(killed).await;
    assert_ne!(promoted, killed);
    set.restart(killed).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
}

// ---------------------------------------------------------------------------------------
// A gateway and a mailer on a topology.

/// A gateway (in this process) and a mailer (the real binary) on one Redis topology, mail
/// going to an SMTP sink.
struct Deployment {
    app: TestApp,
    sink: SmtpSink,
    mailer: Option<ChildGuard>,
    mailer_log: std::path::PathBuf,
}

/// The variables that point a gateway at a cluster.
fn on_cluster(cluster: &RedisCluster) -> Vec<(String, String)> {
    vec![
        ("REDIS_URL".into(), String::new()),
        ("REDIS_CLUSTER_NODES".into(), cluster.nodes_var()),
    ]
}

/// The variables that point a gateway at a sentinel set.
fn on_sentinels(set: &RedisSentinelSet) -> Vec<(String, String)> {
    vec![
        ("REDIS_URL".into(), String::new()),
        ("REDIS_SENTINELS".into(), set.sentinels_var()),
        ("REDIS_SENTINEL_SERVICE".into(), set.service().to_string()),
    ]
}

impl Deployment {
    async fn start(redis: &[(String, String)]) -> Deployment {
        let overrides: Vec<(&str, &str)> = redis
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let app = TestApp::spawn_with(&overrides).await;
        let sink = SmtpSink::start().await;
        let mut deployment = Deployment {
            app,
            sink,
            mailer: None,
            mailer_log: std::path::PathBuf::new(),
        };
        deployment.start_mailer();
        deployment
    }

    fn mailer_vars(&self) -> HashMap<String, String> {
        let mut vars = self.app.vars.clone();
        vars.insert("SMTP_URL".into(), self.sink.url());
        vars.insert("MAILER_SMTP_TIMEOUT".into(), "1s".into());
        vars.insert("MAILER_CLAIM_IDLE".into(), "2s".into());
        vars.insert("MAILER_BACKOFF_BASE".into(), "100ms".into());
        vars.insert("MAILER_BACKOFF_MAX".into(), "400ms".into());
        vars.insert("MAILER_MAX_ATTEMPTS".into(), "2".into());
        vars.insert("RUST_LOG".into(), "info".into());
        vars
    }

    fn start_mailer(&mut self) {
        let log = std::env::temp_dir().join(unique("portico-scale-mailer-"));
        let file = std::fs::File::create(&log).expect("a log file");
        let child = mailer(&self.mailer_vars())
            .stdout(Stdio::null())
            .stderr(Stdio::from(file))
            .spawn()
            .expect("mailer starts");
        self.mailer = Some(ChildGuard(child));
        self.mailer_log = log;
    }

    fn mailer_log(&self) -> String {
        std::fs::read_to_string(&self.mailer_log).unwrap_or_default()
    }

    /// Runs `mailer args…` to completion against the same Redis.
    fn run_mailer(&self, args: &[&str]) -> std::process::Output {
        mailer(&self.mailer_vars())
            .args(args)
            .output()
            .expect("mailer runs")
    }

    async fn firm_with_clients(&self, label: &str, emails: &[String]) -> TestFirm {
        let firm = self.app.create_firm(label).await;
        for email in emails {
            self.app.add_contact(&firm, email, true).await;
        }
        firm
    }

    /// The sign-in link of the newest mail the sink received for `email`, waiting up to
    /// `timeout` for one beyond the first `seen` such mails.
    async fn mailed_link(&self, email: &str, seen: usize, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let mails = mails_to(&self.sink, email);
            if mails.len() > seen {
                return link_in(mails.last().expect("a mail")).expect("a link in the mail");
            }
            assert!(
                Instant::now() < deadline,
                "no mail to {email} within {timeout:?}; mailer log:\n{}",
                self.mailer_log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// A client signs in as a person does: the login form, the mail (sent by the mailer over
    /// SMTP), the link; returns the signed-in browser.
    async fn client_signs_in(&self, slug: &str, email: &str) -> Browser {
        let browser = self.app.browser();
        let seen = mails_to(&self.sink, email).len();
        let response = browser.request_link(&self.app, slug, email).await;
        assert_eq!(response.status(), StatusCode::OK, "POST /login");
        let link = self.mailed_link(email, seen, Duration::from_secs(30)).await;
        let response = browser.get(&link).await;
        assert_eq!(
            response.status(),
            StatusCode::SEE_OTHER,
            "the link signs in"
        );
        assert!(signed_in_as(&browser, &self.app, slug, email).await);
        browser
    }
}

/// The mails the sink received for `email`, oldest first.
fn mails_to(sink: &SmtpSink, email: &str) -> Vec<String> {
    let rcpt = format!("<{email}>");
    sink.messages()
        .into_iter()
        .filter(|m| m.rcpt_to == rcpt)
        .map(|m| m.raw)
        .collect()
}

/// The sign-in (or staff sign-in) link in a mail's text part.
fn link_in(raw: &str) -> Option<String> {
    let mail = MessageParser::default().parse(raw.as_bytes())?;
    let text = mail.body_text(0)?.to_string();
    let at = text.find("/auth/magic?token=")?;
    let start = text[..at].rfind("http")?;
    let end = text[at..]
        .find(|c: char| c.is_whitespace())
        .map_or(text.len(), |e| at + e);
    Some(text[start..end].to_string())
}

async fn signed_in_as(browser: &Browser, app: &TestApp, slug: &str, email: &str) -> bool {
    let (status, html) = browser.get_text(&app.url(slug, "/")).await;
    status == StatusCode::OK && html.contains(email)
}

fn emails(label: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{label}{i}@example.com")).collect()
}

// ---------------------------------------------------------------------------------------
// Sign-in end to end.

#[tokio::test]
async fn sign_in_console_and_mail_queue_work_on_a_cluster() {
    let cluster = RedisCluster::start().await;
    let deployment = Deployment::start(&on_cluster(&cluster)).await;
    let app = &deployment.app;
    let firm = deployment
        .firm_with_clients("cl", &["ann@example.com".to_string()])
        .await;
    let slug = firm.firm.slug.clone();

    // A client signs in through the mailer's mail.
    let ann = deployment.client_signs_in(&slug, "ann@example.com").await;

    // The console: the owner asks for a staff link and opens it from the mail.
    let owner = staff::owner(app, &firm).await;
    let staff = app.browser();
    let seen = mails_to(&deployment.sink, &owner.email).len();
    let response = staff.request_staff_link(app, &slug, &owner.email).await;
    assert_eq!(response.status(), StatusCode::OK);
    let link = deployment
        .mailed_link(&owner.email, seen, Duration::from_secs(30))
        .await;
    assert!(link.contains("/staff/auth/magic?token="), "{link}");
    let response = staff.get(&link).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        staff.staff_email(app, &slug).await.as_deref(),
        Some(owner.email.as_str())
    );
    // Signing out ends the session (a DEL on its own node).
    let response = staff.staff_logout(app, &slug).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(staff.staff_email(app, &slug).await, None);
    assert!(signed_in_as(&ann, app, &slug, "ann@example.com").await);

    // Dead letters: the mail server refuses the address for good, the job is dead-lettered,
    // and `mailer requeue-dead` puts it back once the server accepts again.
    deployment.sink.set_mode(Mode::Reject);
    let before = deployment.sink.count();
    let response = app
        .browser()
        .request_link(app, &slug, "ann@example.com")
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let status = deployment.run_mailer(&["status"]);
        let text = String::from_utf8_lossy(&status.stdout).to_string();
        if text.contains("dead: 1") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no dead letter: {text}\n{}",
            deployment.mailer_log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    deployment.sink.set_mode(Mode::Accept);
    let requeued = deployment.run_mailer(&["requeue-dead"]);
    assert!(requeued.status.success(), "{requeued:?}");
    assert_eq!(
        String::from_utf8_lossy(&requeued.stdout).trim(),
        "requeued 1 dead-lettered job(s)"
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while deployment.sink.count() < before + 1 {
        assert!(
            Instant::now() < deadline,
            "the requeued job was not sent: {}",
            deployment.mailer_log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let status = deployment.run_mailer(&["status"]);
    assert_eq!(
        String::from_utf8_lossy(&status.stdout),
        "queued: 0\npending: 0\nretrying: 0\ndead: 0\n"
    );
}

#[tokio::test]
async fn sign_in_works_through_sentinel() {
    let set = RedisSentinelSet::start().await;
    let deployment = Deployment::start(&on_sentinels(&set)).await;
    let firm = deployment
        .firm_with_clients("se", &["ann@example.com".to_string()])
        .await;
    let ann = deployment
        .client_signs_in(&firm.firm.slug, "ann@example.com")
        .await;
    assert!(signed_in_as(&ann, &deployment.app, &firm.firm.slug, "ann@example.com").await);
    let status = deployment.run_mailer(&["status"]);
    assert!(status.status.success(), "{status:?}");
}

/// The keys of the running primaries matching `pattern`, counted per primary.
async fn keys_per_primary(cluster: &RedisCluster, pattern: &str) -> Vec<(u16, usize)> {
    let mut counts = Vec::new();
    for primary in cluster.primaries().await {
        let mut cursor: u64 = 0;
        let mut found = 0;
        loop {
            let (next, keys): (u64, Vec<String>) = ask(
                primary,
                redis::cmd("SCAN")
                    .arg(cursor)
                    .arg("MATCH")
                    .arg(pattern)
                    .arg("COUNT")
                    .arg(1000),
            )
            .await
            .expect("SCAN");
            // Each key is where its slot says it is.
            for key in &keys {
                let ranges = cluster.slot_ranges().await;
                let slot = key_slot(key);
                assert!(
                    ranges
                        .iter()
                        .any(|(a, b, p)| (*a..=*b).contains(&slot) && *p == primary),
                    "{key} (slot {slot}) is on {primary}"
                );
            }
            found += keys.len();
            if next == 0 {
                break;
            }
            cursor = next;
        }
        counts.push((primary, found));
    }
    counts
}

#[tokio::test]
async fn two_hundred_sign_ins_spread_links_and_sessions_over_every_primary() {
    let cluster = RedisCluster::start().await;
    // No mailer: the links are read from the stream, as the harness does elsewhere.
    let app = TestApp::spawn_with(&[
        ("REDIS_URL", ""),
        ("REDIS_CLUSTER_NODES", &cluster.nodes_var()),
    ])
    .await;
    let firm = app.create_firm("spread").await;
    let slug = firm.firm.slug.clone();
    let addresses = emails("c", 200);
    for email in &addresses {
        app.add_contact(&firm, email, true).await;
    }
    let browsers: Vec<Browser> = addresses.iter().map(|_| app.browser()).collect();
    for (browser, email) in browsers.iter().zip(&addresses) {
        let response = browser.request_link(&app, &slug, email).await;
        assert_eq!(response.status(), StatusCode::OK);
    }
    let prefix = app.config.redis_prefix.clone();
    let links = keys_per_primary(&cluster, &format!("{prefix}link:*")).await;
    assert_eq!(links.len(), 3);
    assert_eq!(
        links.iter().map(|(_, n)| n).sum::<usize>(),
        200,
        "{links:?}"
    );
    assert!(
        links.iter().all(|(_, n)| *n > 0),
        "links on every primary: {links:?}"
    );

    // Every link from the stream (one read), each opened by the browser that asked for it.
    let jobs = app.mail_jobs().await;
    assert_eq!(jobs.len(), 200);
    let mut link_of: HashMap<String, String> = HashMap::new();
    for job in jobs {
        let secrets: portico_shared::mail::LinkSecrets = job.unseal(app.keys()).unwrap();
        link_of.insert(job.to.email.clone(), secrets.link);
    }
    for (browser, email) in browsers.iter().zip(&addresses) {
        let response = browser.get(&link_of[email]).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{email}");
    }
    let sessions = keys_per_primary(&cluster, &format!("{prefix}session:*")).await;
    assert_eq!(
        sessions.iter().map(|(_, n)| n).sum::<usize>(),
        200,
        "{sessions:?}"
    );
    assert!(
        sessions.iter().all(|(_, n)| *n > 0),
        "sessions on every primary: {sessions:?}"
    );
    let links = keys_per_primary(&cluster, &format!("{prefix}link:*")).await;
    assert_eq!(links.iter().map(|(_, n)| n).sum::<usize>(), 0, "used up");
    for (browser, email) in browsers.iter().zip(&addresses).take(20) {
        assert!(signed_in_as(browser, &app, &slug, email).await);
    }
}

// ---------------------------------------------------------------------------------------
// Failover.

/// What a stream of `POST /login` requests got: per address, how many were accepted; and
/// every answer's status and time.
#[derive(Default)]
struct LoadReport {
    accepted: HashMap<String, usize>,
    statuses: Vec<(StatusCode, Duration)>,
}

/// One `POST /login` as a new browser makes it: the form, then the post. The status of the
/// first answer that is not a success.
async fn ask_for_link(app: &TestApp, slug: &str, email: &str) -> StatusCode {
    let browser = app.browser();
    let login = app.url(slug, "/login");
    let Ok(page) = browser.client.get(&login).send().await else {
        return StatusCode::BAD_GATEWAY;
    };
    if page.status() != StatusCode::OK {
        return page.status();
    }
    let html = page.text().await.unwrap_or_default();
    let Some(csrf) = csrf_in(&html) else {
        return StatusCode::UNPROCESSABLE_ENTITY;
    };
    match browser
        .client
        .post(&login)
        .form(&[("email", email), ("csrf", &csrf)])
        .send()
        .await
    {
        Ok(response) => response.status(),
        Err(_) => StatusCode::BAD_GATEWAY,
    }
}

/// Asks for links for `addresses` in turn until `stop` is set.
async fn load(app: &TestApp, slug: &str, addresses: &[String], stop: &AtomicBool) -> LoadReport {
    let mut report = LoadReport::default();
    'rounds: loop {
        for email in addresses {
            if stop.load(Ordering::SeqCst) {
                break 'rounds;
            }
            let started = Instant::now();
            let status = ask_for_link(app, slug, email).await;
            report.statuses.push((status, started.elapsed()));
            if status == StatusCode::OK {
                *report.accepted.entry(email.clone()).or_default() += 1;
            }
        }
    }
    report
}

/// How many accepted requests of `report` got no mail, waiting up to `timeout` for them;
/// `earlier` mails per address were there before.
async fn mails_missing(
    deployment: &Deployment,
    report: &LoadReport,
    earlier: &HashMap<String, usize>,
    timeout: Duration,
) -> usize {
    let deadline = Instant::now() + timeout;
    loop {
        let missing: usize = report
            .accepted
            .iter()
            .map(|(email, n)| {
                let got = mails_to(&deployment.sink, email).len();
                n.saturating_sub(got.saturating_sub(earlier.get(email).copied().unwrap_or(0)))
            })
            .sum();
        if missing == 0 || Instant::now() >= deadline {
            return missing;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn mails_per_address(deployment: &Deployment, addresses: &[String]) -> HashMap<String, usize> {
    addresses
        .iter()
        .map(|e| (e.clone(), mails_to(&deployment.sink, e).len()))
        .collect()
}

/// Browsers that asked for a link each, with the link the mailer sent them: opened later,
/// each starts a session at once (the browser's binding cookie spares the code).
async fn asked_links(
    deployment: &Deployment,
    slug: &str,
    addresses: &[String],
) -> Vec<(Browser, String)> {
    let mut browsers = Vec::new();
    for email in addresses {
        let browser = deployment.app.browser();
        let response = browser.request_link(&deployment.app, slug, email).await;
        assert_eq!(response.status(), StatusCode::OK, "POST /login");
        browsers.push(browser);
    }
    let mut asked = Vec::new();
    for (browser, email) in browsers.into_iter().zip(addresses) {
        let link = deployment
            .mailed_link(email, 0, Duration::from_secs(30))
            .await;
        asked.push((browser, link));
    }
    asked
}

/// Opens the links of `asked` one after another (a new one every 20 ms) until `stop`; the
/// browsers whose link started a session (303), with their address.
async fn sessions_started<'a>(
    asked: &'a [(Browser, String)],
    addresses: &'a [String],
    stop: &AtomicBool,
) -> Vec<(&'a Browser, &'a String)> {
    let mut started = Vec::new();
    for ((browser, link), email) in asked.iter().zip(addresses) {
        if stop.load(Ordering::SeqCst) {
            break;
        }
        if let Ok(response) = browser.client.get(link).send().await {
            let status = response.status();
            assert!(
                status == StatusCode::SEE_OTHER || status == StatusCode::SERVICE_UNAVAILABLE,
                "a link during the switch signs in or answers 503, got {status}"
            );
            if status == StatusCode::SEE_OTHER {
                started.push((browser, email));
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    started
}

/// Asks for links on three sets of addresses: before `failover`, while it runs, and after
/// it, and opens links while it runs; then checks that no request failed other than with a
/// 503, that every request accepted before, during and after got its mail, and that every
/// session made before and during the switch still works.
async fn sign_ins_survive(
    deployment: &Deployment,
    failover: impl std::future::Future<Output = ()>,
) {
    let app = &deployment.app;
    let addresses = emails("f", 13);
    let openers = emails("s", 150);
    let mut everyone = addresses.clone();
    everyone.extend(openers.iter().cloned());
    let firm = deployment.firm_with_clients("fo", &everyone).await;
    let slug = firm.firm.slug.clone();
    let (before_set, during_set, after_set) =
        (&addresses[0..4], &addresses[4..8], &addresses[8..12]);
    let mut sessions = Vec::new();
    for email in before_set {
        sessions.push((email, deployment.client_signs_in(&slug, email).await));
    }
    let asked = asked_links(deployment, &slug, &openers).await;
    let earlier = mails_per_address(deployment, &addresses);

    // Before.
    let stop = AtomicBool::new(false);
    let (before, ()) = tokio::join!(load(app, &slug, before_set, &stop), async {
        tokio::time::sleep(Duration::from_secs(1)).await;
        stop.store(true, Ordering::SeqCst);
    });
    // During.
    let stop = AtomicBool::new(false);
    let switch = async {
        failover.await;
        stop.store(true, Ordering::SeqCst);
    };
    let (during, opened, ()) = tokio::join!(
        load(app, &slug, during_set, &stop),
        sessions_started(&asked, &openers, &stop),
        switch
    );
    // After.
    let stop = AtomicBool::new(false);
    let (after, ()) = tokio::join!(load(app, &slug, after_set, &stop), async {
        tokio::time::sleep(Duration::from_secs(2)).await;
        stop.store(true, Ordering::SeqCst);
    });

    let mut statuses = before.statuses.clone();
    statuses.extend(&during.statuses);
    statuses.extend(&after.statuses);
    let failed: Vec<_> = statuses
        .iter()
        .filter(|(s, _)| *s != StatusCode::OK)
        .collect();
    assert!(
        failed
            .iter()
            .all(|(s, _)| *s == StatusCode::SERVICE_UNAVAILABLE),
        "only 503s: {failed:?}"
    );
    let slowest = statuses.iter().map(|(_, d)| *d).max().unwrap();
    assert!(
        slowest < Duration::from_secs(8),
        "slowest answer {slowest:?}"
    );
    let total = |r: &LoadReport| r.accepted.values().sum::<usize>();
    assert!(total(&before) > 0 && total(&after) > 0);

    // Every accepted request's mail arrives (the mailer needed no restart).
    let wait = Duration::from_secs(60);
    let lost_before = mails_missing(deployment, &before, &earlier, wait).await;
    let lost_after = mails_missing(deployment, &after, &earlier, wait).await;
    let lost_during = mails_missing(deployment, &during, &earlier, wait).await;
    eprintln!(
        "before: {} requests, {} accepted, {lost_before} mails lost; during: {} requests, {} \
         accepted, {lost_during} mails lost, {} sessions started; after: {} requests, {} \
         accepted, {lost_after} lost; {} answered 503; slowest {slowest:?}",
        before.statuses.len(),
        total(&before),
        during.statuses.len(),
        total(&during),
        opened.len(),
        after.statuses.len(),
        total(&after),
        failed.len()
    );
    assert_eq!(lost_before, 0, "{}", deployment.mailer_log());
    assert_eq!(lost_during, 0, "{}", deployment.mailer_log());
    assert_eq!(lost_after, 0, "{}", deployment.mailer_log());
    assert!(
        total(&during) > 0 && !opened.is_empty(),
        "the switch was under load"
    );

    // No session lost: neither those made before nor those made during the switch.
    for (email, browser) in &sessions {
        assert!(
            signed_in_as(browser, app, &slug, email).await,
            "{email}'s session survived"
        );
    }
    for (browser, email) in &opened {
        assert!(
            signed_in_as(browser, app, &slug, email).await,
            "the session {email} started during the switch survived"
        );
    }
    // And signing in still works, end to end.
    deployment.client_signs_in(&slug, &addresses[12]).await;
}

#[tokio::test]
async fn a_controlled_cluster_failover_loses_no_mail_and_no_session() {
    let cluster = RedisCluster::start().await;
    let deployment = Deployment::start(&on_cluster(&cluster)).await;
    // Every primary hands over to its replica in turn: every slot, the mail queue's
    // included, moves while links are asked for.
    let failover = async {
        for primary in cluster.primaries().await {
            cluster.controlled_failover(primary).await;
        }
    };
    sign_ins_survive(&deployment, failover).await;
}

/// `SENTINEL FAILOVER` is no graceful switch-over: Sentinel promotes a replica while the old
/// master keeps taking writes until it is turned into a replica (up to seconds later), and
/// those writes go with it. With `PORTICO_REDIS_WAIT_REPLICAS` at the number of replicas, the
/// gateway answers for a session or a mail job only once every replica holds it, so the
/// promoted one does: nothing answered for is lost, the window's other requests get 503.
#[tokio::test]
async fn a_controlled_sentinel_failover_loses_no_mail_and_no_session_when_replicas_acknowledge() {
    let set = RedisSentinelSet::start().await;
    let mut redis = on_sentinels(&set);
    redis.push(("PORTICO_REDIS_WAIT_REPLICAS".into(), "2".into()));
    let deployment = Deployment::start(&redis).await;
    let failover = async {
        set.failover().await;
    };
    sign_ins_survive(&deployment, failover).await;
}

/// Asks for links every 100 ms from the moment the primary is killed: every answer is a 503
/// or a success within a few seconds, and sign-in works again (mail included) within 20 s,
/// with the same gateway and mailer.
async fn recovers_after_kill(deployment: &Deployment, slug: &str, email: &str, killed_at: Instant) {
    let app = &deployment.app;
    let mut statuses = Vec::new();
    let recovered = loop {
        let started = Instant::now();
        let seen = mails_to(&deployment.sink, email).len();
        let status = ask_for_link(app, slug, email).await;
        statuses.push((status, started.elapsed()));
        assert!(
            status == StatusCode::OK || status == StatusCode::SERVICE_UNAVAILABLE,
            "503 while the primary is away, got {status}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(8),
            "answered in {:?}",
            started.elapsed()
        );
        if status == StatusCode::OK {
            break (killed_at.elapsed(), seen);
        }
        assert!(
            killed_at.elapsed() < Duration::from_secs(20),
            "sign-in did not work again within 20 s: {statuses:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let (after, seen) = recovered;
    assert!(after < Duration::from_secs(20), "{after:?}");
    // The accepted request's mail goes out, and its link signs in.
    let link = deployment
        .mailed_link(email, seen, Duration::from_secs(30))
        .await;
    let browser = app.browser();
    let _ = browser.get(&app.url(slug, "/login")).await;
    let response = browser.get(&link).await;
    // The binding cookie belonged to the browser that asked; the code page answers 200.
    assert!(
        response.status() == StatusCode::OK || response.status() == StatusCode::SEE_OTHER,
        "{}",
        response.status()
    );
    eprintln!(
        "sign-in worked again {after:?} after the kill; {} answers meanwhile: {:?}",
        statuses.len(),
        statuses.iter().map(|(s, _)| s.as_u16()).collect::<Vec<_>>()
    );
}

/// A firm whose client ann@example.com has signed in; its slug.
async fn ann_signed_in(deployment: &Deployment) -> String {
    let firm = deployment
        .firm_with_clients("kill", &["ann@example.com".to_string()])
        .await;
    let slug = firm.firm.slug.clone();
    deployment.client_signs_in(&slug, "ann@example.com").await;
    slug
}

#[tokio::test]
async fn a_killed_cluster_primary_costs_503s_and_sign_in_recovers_within_20s() {
    let mut cluster = RedisCluster::start().await;
    let deployment = Deployment::start(&on_cluster(&cluster)).await;
    let slug = ann_signed_in(&deployment).await;

    // The primary of the mail queue's slot: every sign-in needs it.
    let stream = RedisKeys::new(&deployment.app.config.redis_prefix).mail_stream();
    let slot = key_slot(&stream);
    let primary = cluster
        .slot_ranges()
        .await
        .into_iter()
        .find(|(a, b, _)| (*a..=*b).contains(&slot))
        .map(|(_, _, p)| p)
        .unwrap();
    let replica = cluster.kill_primary(primary).await;
    let killed_at = Instant::now();
    recovers_after_kill(&deployment, &slug, "ann@example.com", killed_at).await;
    cluster.wait_promoted(replica).await;
}

#[tokio::test]
async fn a_killed_sentinel_master_costs_503s_and_sign_in_recovers_within_20s() {
    let mut set = RedisSentinelSet::start().await;
    let deployment = Deployment::start(&on_sentinels(&set)).await;
    let slug = ann_signed_in(&deployment).await;
    let killed = set.kill_master().await;
    let killed_at = Instant::now();
    recovers_after_kill(&deployment, &slug, "ann@example.com", killed_at).await;
    set.wait_new_master(killed).await;
}

// ---------------------------------------------------------------------------------------
// Configuration.

/// Sets each variable of `changes` in `vars`, or removes it where the value is "".
fn change(vars: &mut HashMap<String, String>, changes: &[(&str, &str)]) {
    for (var, value) in changes {
        if value.is_empty() {
            vars.remove(*var);
        } else {
            vars.insert(var.to_string(), value.to_string());
        }
    }
}

/// Runs `gateway migrate` with the test configuration changed by `changes` ("" unsets);
/// returns (exit code, stderr lines).
async fn gateway_fails_with(changes: &[(&str, &str)]) -> (i32, Vec<String>) {
    let mut setup = test_config(&[]).await;
    change(&mut setup.vars, changes);
    exit_and_stderr_lines(&run_gateway(&setup.vars, &["migrate"]))
}

#[tokio::test]
async fn redis_topology_mistakes_stop_the_gateway_with_one_line() {
    let cases: [(&[(&str, &str)], &str); 9] = [
        (
            &[("REDIS_CLUSTER_NODES", "redis://127.0.0.1:7000")],
            "gateway: REDIS_CLUSTER_NODES: is set together with REDIS_URL",
        ),
        (
            &[
                ("REDIS_SENTINELS", "127.0.0.1:26379"),
                ("REDIS_SENTINEL_SERVICE", "mymaster"),
            ],
            "gateway: REDIS_SENTINELS: is set together with REDIS_URL",
        ),
        (
            &[
                ("REDIS_URL", ""),
                ("REDIS_CLUSTER_NODES", "redis://127.0.0.1:7000"),
                ("REDIS_SENTINELS", "127.0.0.1:26379"),
                ("REDIS_SENTINEL_SERVICE", "mymaster"),
            ],
            "gateway: REDIS_SENTINELS: is set together with REDIS_CLUSTER_NODES",
        ),
        (
            &[("REDIS_URL", ""), ("REDIS_SENTINELS", "127.0.0.1:26379")],
            "gateway: REDIS_SENTINEL_SERVICE: must be set with REDIS_SENTINELS",
        ),
        (
            &[("REDIS_URL", ""), ("REDIS_SENTINEL_SERVICE", "mymaster")],
            "gateway: REDIS_SENTINEL_SERVICE: is set without REDIS_SENTINELS",
        ),
        (
            &[("REDIS_URL", ""), ("REDIS_CLUSTER_NODES", "127.0.0.1:7000")],
            "gateway: REDIS_CLUSTER_NODES: expected comma-separated URLs like redis://",
        ),
        (
            &[
                ("REDIS_URL", ""),
                (
                    "REDIS_CLUSTER_NODES",
                    "redis://u:secret@127.0.0.1:7000,http://x",
                ),
            ],
            "gateway: REDIS_CLUSTER_NODES: expected comma-separated URLs like redis://",
        ),
        (
            &[
                ("REDIS_URL", ""),
                ("REDIS_SENTINELS", "127.0.0.1:26379,sentinel-b"),
                ("REDIS_SENTINEL_SERVICE", "mymaster"),
            ],
            "gateway: REDIS_SENTINELS: expected comma-separated host:port entries",
        ),
        (
            &[("PORTICO_REDIS_PREFIX", "portico{a}:")],
            "gateway: PORTICO_REDIS_PREFIX: must not contain { or }",
        ),
    ];
    for (changes, expected) in cases {
        let (code, lines) = gateway_fails_with(changes).await;
        assert_ne!(code, 0, "{changes:?}");
        assert_eq!(lines.len(), 1, "{changes:?}: one line, got {lines:?}");
        assert!(
            lines[0].starts_with(expected),
            "{changes:?}: {:?}",
            lines[0]
        );
        assert!(!lines[0].contains("secret"), "{}", lines[0]);
    }
}

/// The price of waiting for every replica: with one of the two down, what would be answered
/// for gets 503 (pages and sessions made before still work), and sign-in works again once
/// the replica is back, with the same gateway and mailer.
#[tokio::test]
async fn with_a_replica_down_sign_in_waits_for_it_and_recovers_when_it_returns() {
    let mut set = RedisSentinelSet::start().await;
    let mut redis = on_sentinels(&set);
    redis.push(("PORTICO_REDIS_WAIT_REPLICAS".into(), "2".into()));
    let deployment = Deployment::start(&redis).await;
    let app = &deployment.app;
    let clients = ["ann@example.com".to_string(), "bob@example.com".to_string()];
    let firm = deployment.firm_with_clients("down", &clients).await;
    let slug = firm.firm.slug.clone();
    let ann = deployment.client_signs_in(&slug, "ann@example.com").await;

    let replica = set.kill_replica().await;
    let status = ask_for_link(app, &slug, "ann@example.com").await;
    assert_eq!(
        status,
        StatusCode::SERVICE_UNAVAILABLE,
        "a link needs both replicas"
    );
    assert!(
        signed_in_as(&ann, app, &slug, "ann@example.com").await,
        "pages still serve"
    );

    set.restart(replica).await;
    let back = Instant::now();
    loop {
        let status = ask_for_link(app, &slug, "ann@example.com").await;
        if status == StatusCode::OK {
            break;
        }
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(
            back.elapsed() < Duration::from_secs(30),
            "sign-in did not work again after the replica returned"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    eprintln!(
        "sign-in worked again {:?} after the replica restarted",
        back.elapsed()
    );
    // Bob, whose mails cannot be confused with those of Ann's requests (a refused request's
    // job was written before the wait, so its mail may still arrive).
    deployment.client_signs_in(&slug, "bob@example.com").await;
}

/// A master without the replicas `PORTICO_REDIS_WAIT_REPLICAS` asks for (the test server has
/// none): what would be answered for (a link and its mail) is refused with a 503 after the
/// wait, for a known and an unknown address alike (the decoy waits too), while pages that
/// promise nothing still serve.
#[tokio::test]
async fn too_few_replicas_refuse_sign_in_with_503_whoever_asks() {
    let app = TestApp::spawn_with(&[
        ("PORTICO_REDIS_WAIT_REPLICAS", "1"),
        ("PORTICO_REDIS_WAIT_TIMEOUT", "50ms"),
    ])
    .await;
    let firm = app.create_firm("wait").await;
    app.add_contact(&firm, "ann@example.com", true).await;
    let slug = firm.firm.slug.clone();
    let browser = app.browser();
    let (status, _) = browser.get_text(&app.url(&slug, "/login")).await;
    assert_eq!(status, StatusCode::OK, "the login page");
    let mut answers = Vec::new();
    for email in ["ann@example.com", "nobody@example.com"] {
        let started = Instant::now();
        let response = browser.request_link(&app, &slug, email).await;
        let status = response.status();
        let retry_after = response.headers().get("retry-after").cloned();
        let body = response.text().await.unwrap_or_default();
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{email}: {body}");
        assert!(retry_after.is_some(), "{email}: a Retry-After");
        assert!(started.elapsed() >= Duration::from_millis(50), "it waited");
        answers.push(body);
    }
    assert_eq!(
        answers[0], answers[1],
        "the same answer for a known and an unknown address"
    );
    let (_, metrics) = browser.get_text(&app.plain_url("/metrics")).await;
    let redis_errors: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("portico_dependency_errors_total{dependency=\"redis\"} "))
        .map_or(0, |n| n.trim().parse().unwrap());
    assert!(
        redis_errors >= 2,
        "counted as Redis failures: {redis_errors}"
    );
    app.stop().await;
}

#[tokio::test]
async fn an_unreachable_cluster_or_sentinel_set_stops_serve_with_one_line() {
    for (changes, expected) in [
        (
            vec![
                ("REDIS_URL", ""),
                ("REDIS_CLUSTER_NODES", "redis://127.0.0.1:1"),
            ],
            "gateway: REDIS_CLUSTER_NODES: cannot connect to cluster redis://127.0.0.1:1",
        ),
        (
            vec![
                ("REDIS_URL", ""),
                ("REDIS_SENTINELS", "127.0.0.1:1"),
                ("REDIS_SENTINEL_SERVICE", "mymaster"),
            ],
            "gateway: REDIS_SENTINELS: cannot connect to sentinel service mymaster via 127.0.0.1:1",
        ),
    ] {
        let mut setup = test_config(&[]).await;
        change(&mut setup.vars, &changes);
        let started = Instant::now();
        let output = run_gateway(&setup.vars, &["serve"]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success());
        let last = stderr.lines().last().unwrap_or_default();
        assert!(last.starts_with(expected), "{stderr}");
        assert!(started.elapsed() < Duration::from_secs(20));
    }
}

// ---------------------------------------------------------------------------------------
// Upgrading.

/// A queue left by an older version under the untagged names (`<prefix>mail:jobs`,
/// `mail:retry`, `mail:dead`) is moved onto the tagged keys when the mailer starts, and its
/// jobs are sent.
#[tokio::test]
async fn the_mailer_adopts_the_untagged_queue_of_an_older_version() {
    let app = TestApp::spawn().await;
    let firm = app.create_firm("up").await;
    let slug = firm.firm.slug.clone();
    app.add_contact(&firm, "ann@example.com", true).await;
    app.add_contact(&firm, "bob@example.com", true).await;
    // Two real jobs, then moved where an older gateway wrote them.
    for email in ["ann@example.com", "bob@example.com"] {
        let response = app.browser().request_link(&app, &slug, email).await;
        assert_eq!(response.status(), StatusCode::OK);
    }
    let keys = RedisKeys::new(&app.config.redis_prefix);
    let mut redis = app.redis.clone();
    let jobs: redis::streams::StreamRangeReply = redis::cmd("XRANGE")
        .arg(keys.mail_stream())
        .arg("-")
        .arg("+")
        .query_async(&mut redis)
        .await
        .unwrap();
    assert_eq!(jobs.ids.len(), 2);
    let json = |i: usize| -> String { jobs.ids[i].get("job").unwrap() };
    let _: String = redis::cmd("XADD")
        .arg(keys.other("mail:jobs"))
        .arg("*")
        .arg("job")
        .arg(json(0))
        .query_async(&mut redis)
        .await
        .unwrap();
    let waiting = serde_json::json!({"job": json(1), "attempts": "1", "last_error": "451"});
    let _: i64 = redis::cmd("ZADD")
        .arg(keys.other("mail:retry"))
        .arg(0)
        .arg(waiting.to_string())
        .query_async(&mut redis)
        .await
        .unwrap();
    let _: i64 = redis::cmd("DEL")
        .arg(keys.mail_stream())
        .query_async(&mut redis)
        .await
        .unwrap();

    let deployment = Deployment {
        app,
        sink: SmtpSink::start().await,
        mailer: None,
        mailer_log: std::path::PathBuf::new(),
    };
    let mut deployment = deployment;
    deployment.start_mailer();
    let ann = deployment
        .mailed_link("ann@example.com", 0, Duration::from_secs(30))
        .await;
    let bob = deployment
        .mailed_link("bob@example.com", 0, Duration::from_secs(30))
        .await;
    assert!(ann.contains("/auth/magic?token=") && bob.contains("/auth/magic?token="));
    assert!(
        deployment
            .mailer_log()
            .contains("moved jobs from the untagged queue keys of an older version")
    );
    let mut redis = deployment.app.redis.clone();
    for old in ["mail:jobs", "mail:retry", "mail:dead"] {
        let exists: bool = redis::cmd("EXISTS")
            .arg(keys.other(old))
            .query_async(&mut redis)
            .await
            .unwrap();
        assert!(!exists, "{old} is gone");
    }
}
