//! Several gateways and mailers on one database and one Redis (SPEC §2: stateless gateways,
//! any number of mailers), each a real process started from the deployment example's own
//! environment files (`deploy/env/`, see `portico_e2e::fleet`). The test plays the reverse
//! proxy: a client's requests go to gateway A or B as a load balancer would send them.

use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, Instant};

use portico_e2e::fleet::{
    Fleet, FleetFirm, FleetOptions, FleetRedis, RedisTarget, Visitor, env_file,
};
use portico_e2e::private_redis::PrivateRedis;
use portico_e2e::staff::location;
use portico_shared::units::Rate;
use reqwest::{Method, StatusCode};
use serde_json::json;

const A: usize = 0;
const B: usize = 1;

/// Whether `visitor` is signed in to the portal of `firm` as `email`, asked on `gateway`.
async fn portal_shows(
    fleet: &Fleet,
    gateway: usize,
    visitor: &Visitor,
    slug: &str,
    email: &str,
) -> bool {
    let (status, html) = visitor
        .get_text(&fleet.gateways[gateway].url(slug, "/"))
        .await;
    status == StatusCode::OK && html.contains(email)
}

/// Signs `email` in through `gateway`: asks for a link and opens it in the same browser.
async fn sign_in(
    fleet: &Fleet,
    gateway: usize,
    firm: &FleetFirm,
    email: &str,
    ip: &str,
) -> Visitor {
    let visitor = fleet.visitor(ip);
    let before = fleet.mails_to(email).len();
    let asked = visitor
        .request_link(&fleet.gateways[gateway], &firm.slug, email)
        .await;
    assert_eq!(asked.status(), StatusCode::OK);
    let link = fleet.mailed_link(email, before + 1).await;
    let opened = visitor.open(&fleet.gateways[gateway], &link).await;
    assert_eq!(opened.status(), StatusCode::SEE_OTHER, "signed in");
    visitor
}

#[tokio::test]
async fn a_link_asked_for_through_a_is_used_through_b() {
    let fleet = Fleet::start().await;
    let firm = fleet.create_firm("links");
    let email = "ann@example.com";
    fleet.add_contact(A, &firm, email).await;
    let (a, b) = (&fleet.gateways[A], &fleet.gateways[B]);

    // One click in the browser that asked through A, with the link opened on B.
    let browser = fleet.visitor("198.51.100.1");
    assert_eq!(
        browser.request_link(a, &firm.slug, email).await.status(),
        StatusCode::OK
    );
    let link = fleet.mailed_link(email, 1).await;
    assert!(
        link.link.starts_with(&format!(
            "https://{}.{}/auth/magic?token=",
            firm.slug, fleet.base_domain
        )),
        "links are written for the public https host without a port: {}",
        link.link
    );
    let opened = browser.open(b, &link).await;
    assert_eq!(opened.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&opened), "/");
    assert!(portal_shows(&fleet, B, &browser, &firm.slug, email).await);
    // Used up on B means used up on A too.
    let again = fleet.visitor("198.51.100.2").enter_code(a, &link).await;
    assert_ne!(
        again.status(),
        StatusCode::SEE_OTHER,
        "a link is single use across gateways"
    );

    // On another device: asked through A, the code typed on B.
    browser.request_link(a, &firm.slug, email).await;
    let link = fleet.mailed_link(email, 2).await;
    let phone = fleet.visitor("198.51.100.3");
    let entered = phone.enter_code(b, &link).await;
    assert_eq!(entered.status(), StatusCode::SEE_OTHER);
    assert!(portal_shows(&fleet, A, &phone, &firm.slug, email).await);
    assert!(portal_shows(&fleet, B, &phone, &firm.slug, email).await);
    // On the example's topology, what the gateways wrote is on the cluster's primaries.
    if let Some(keys) = fleet.keys_per_primary().await {
        eprintln!("keys per cluster primary: {keys:?}");
        assert_eq!(keys.len(), 3);
        assert!(keys.iter().sum::<usize>() > 0, "{keys:?}");
    }
    fleet.stop().await;
}

#[tokio::test]
async fn a_session_made_on_a_works_on_b_in_the_portal_and_the_console() {
    let fleet = Fleet::start().await;
    let firm = fleet.create_firm("sessions");
    let email = "bob@example.com";
    fleet.add_contact(B, &firm, email).await;
    let (a, b) = (&fleet.gateways[A], &fleet.gateways[B]);

    let client = sign_in(&fleet, A, &firm, email, "198.51.100.10").await;
    assert!(portal_shows(&fleet, B, &client, &firm.slug, email).await);
    // A form whose CSRF token B issued is accepted by A (the token is keyed, not remembered).
    let saved = client
        .submit(
            b,
            &firm.slug,
            "/settings",
            "/settings",
            &[
                ("name", "Bob Fleet"),
                ("language", "en"),
                ("notify_task_shared", "on"),
            ],
        )
        .await;
    assert_eq!(
        saved.status(),
        StatusCode::SEE_OTHER,
        "settings saved through B"
    );
    let csrf_from_b = client.csrf(&b.url(&firm.slug, "/settings")).await;
    let logout = client
        .post_form(&a.url(&firm.slug, "/logout"), &[("csrf", &csrf_from_b)])
        .await;
    assert_eq!(logout.status(), StatusCode::SEE_OTHER);
    assert!(
        !portal_shows(&fleet, B, &client, &firm.slug, email).await,
        "signed out through A, signed out on B"
    );

    // The console: a staff member signs in through A and works on B.
    let staff = fleet.visitor("198.51.100.11");
    let before = fleet.mails_to(&firm.owner_email).len();
    let asked = staff
        .request_staff_link(a, &firm.slug, &firm.owner_email)
        .await;
    assert_eq!(asked.status(), StatusCode::OK);
    let link = fleet.mailed_link(&firm.owner_email, before + 1).await;
    assert_eq!(staff.open(a, &link).await.status(), StatusCode::SEE_OTHER);
    let (status, html) = staff.get_text(&b.url(&firm.slug, "/staff/account")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains(&firm.owner_email), "{html}");
    let (status, _) = staff.get_text(&b.url(&firm.slug, "/staff/contacts")).await;
    assert_eq!(status, StatusCode::OK);
    let signed_out = staff
        .submit(b, &firm.slug, "/staff/account", "/staff/logout", &[])
        .await;
    assert_eq!(signed_out.status(), StatusCode::SEE_OTHER);
    let after = staff.get(&a.url(&firm.slug, "/staff/account")).await;
    assert_eq!(
        after.status(),
        StatusCode::SEE_OTHER,
        "signed out through B, signed out on A"
    );
    fleet.stop().await;
}

#[tokio::test]
async fn revoking_access_through_a_ends_the_session_on_b_at_once() {
    let fleet = Fleet::start().await;
    let firm = fleet.create_firm("revoke");
    let email = "cara@example.com";
    let contact = fleet.add_contact(A, &firm, email).await;
    let client = sign_in(&fleet, B, &firm, email, "198.51.100.20").await;
    assert!(portal_shows(&fleet, B, &client, &firm.slug, email).await);
    // A link asked for meanwhile, not used yet.
    client
        .request_link(&fleet.gateways[B], &firm.slug, email)
        .await;
    let unused = fleet.mailed_link(email, 2).await;

    let (status, body) = fleet
        .api(
            A,
            &firm.api_key,
            Method::PATCH,
            &format!("/api/v1/contacts/{contact}"),
            Some(json!({"portal_access": false})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // The very next request on B is refused: no cache stands between them.
    let next = client.get(&fleet.gateways[B].url(&firm.slug, "/")).await;
    assert_eq!(next.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&next), "/login");
    let used = fleet
        .visitor("198.51.100.21")
        .enter_code(&fleet.gateways[B], &unused)
        .await;
    assert_eq!(
        used.status(),
        StatusCode::GONE,
        "the unused link is void on B too"
    );
    fleet.stop().await;
}

/// `POST /login` through the gateways in turn, one a time; the statuses.
async fn ask_in_turn(
    fleet: &Fleet,
    visitor: &Visitor,
    slug: &str,
    email: &str,
    asks: usize,
    first: usize,
) -> Vec<StatusCode> {
    let mut statuses = Vec::new();
    for i in 0..asks {
        let gateway = &fleet.gateways[(first + i) % fleet.gateways.len()];
        statuses.push(visitor.request_link(gateway, slug, email).await.status());
    }
    statuses
}

/// The sum over the gateways of one sample of their `/metrics`.
async fn sum_of(fleet: &Fleet, sample: &str) -> u64 {
    let mut total = 0;
    for gateway in &fleet.gateways {
        let text = gateway.metrics().await;
        total += text
            .lines()
            .find_map(|l| {
                l.strip_prefix(sample)
                    .and_then(|v| v.trim().parse::<u64>().ok())
            })
            .unwrap_or(0);
    }
    total
}

#[tokio::test]
async fn per_address_limits_hold_across_gateways_and_per_ip_limits_are_per_gateway() {
    let fleet = Fleet::start().await;
    let firm = fleet.create_firm("limits");
    let settings = env_file("gateway.env");
    let per_email = Rate::parse(&settings["PORTICO_LOGIN_PER_EMAIL"])
        .unwrap()
        .count as usize;
    let per_day: usize = settings["PORTICO_LOGIN_MAILS_PER_DAY"].parse().unwrap();
    let per_ip = Rate::parse(&settings["PORTICO_LOGIN_PER_IP"])
        .unwrap()
        .count as usize;

    // Links asked for one address from one network: the limit is per installation.
    let dan = "dan@example.com";
    fleet.add_contact(A, &firm, dan).await;
    let visitor = fleet.visitor("198.51.100.30");
    let statuses = ask_in_turn(&fleet, &visitor, &firm.slug, dan, per_email, A).await;
    assert!(
        statuses.iter().all(|s| *s == StatusCode::OK),
        "{statuses:?}"
    );
    for gateway in [A, B] {
        let refused = visitor
            .request_link(&fleet.gateways[gateway], &firm.slug, dan)
            .await;
        assert_eq!(
            refused.status(),
            StatusCode::TOO_MANY_REQUESTS,
            "ask {} for {dan} on gateway {gateway}: {per_email} were asked across both",
            per_email + 1
        );
        assert!(refused.headers().contains_key("retry-after"));
    }

    // Sign-in mails to one address a day, asked from many networks through both gateways.
    let eve = "eve@example.com";
    fleet.add_contact(B, &firm, eve).await;
    let asks = per_day + 5;
    for i in 0..asks {
        let from = fleet.visitor(&format!("203.0.113.{}", i + 1));
        let answer = from
            .request_link(&fleet.gateways[i % 2], &firm.slug, eve)
            .await;
        assert_eq!(
            answer.status(),
            StatusCode::OK,
            "the same page past the cap"
        );
    }
    fleet.mailed_link(eve, per_day).await;
    assert_eq!(
        sum_of(
            &fleet,
            "portico_rate_limit_hits_total{kind=\"mails_per_day\"} "
        )
        .await,
        5,
        "the asks past {per_day} were capped, whichever gateway took them"
    );
    // Every mail queued has been sent by now or is about to be: give the mailers a moment.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        fleet.mails_to(eve).len(),
        per_day,
        "no mail past the day's cap"
    );

    // Per client address, each gateway counts on its own: N gateways admit N x the limit.
    let crowd = fleet.visitor("192.0.2.77");
    let mut admitted = [0usize; 2];
    for (gateway, count) in admitted.iter_mut().enumerate() {
        let g = &fleet.gateways[gateway];
        let csrf = crowd.csrf(&g.url(&firm.slug, "/login")).await;
        for i in 0..per_ip + 10 {
            let email = format!("nobody{gateway}-{i}@example.com");
            let answer = crowd
                .post_form(
                    &g.url(&firm.slug, "/login"),
                    &[("email", &email), ("csrf", &csrf)],
                )
                .await;
            if answer.status() == StatusCode::TOO_MANY_REQUESTS {
                break;
            }
            assert_eq!(answer.status(), StatusCode::OK);
            *count += 1;
        }
    }
    // The bucket refills while the test runs (one per second at 60/min): a little over.
    for count in admitted {
        assert!(
            (per_ip..per_ip + 5).contains(&count),
            "{admitted:?} per gateway, limit {per_ip}"
        );
    }
    eprintln!(
        "per-IP: gateway A admitted {}, gateway B {} from one address (PORTICO_LOGIN_PER_IP {per_ip}/window)",
        admitted[0], admitted[1]
    );
    fleet.stop().await;
}

#[tokio::test]
async fn a_firm_renamed_through_a_shows_on_b_within_the_firm_cache_bound() {
    use portico_gateway::services::firm_cache::TTL;
    let fleet = Fleet::start().await;
    let firm = fleet.create_firm("rename");
    let visitor = fleet.visitor("198.51.100.40");
    let (a, b) = (&fleet.gateways[A], &fleet.gateways[B]);
    // Both gateways have the firm in their cache.
    for gateway in [a, b] {
        let (status, html) = visitor.get_text(&gateway.url(&firm.slug, "/login")).await;
        assert_eq!(status, StatusCode::OK);
        assert!(html.contains(&firm.name.replace('&', "&amp;")), "{html}");
    }
    let new_name = "Renamed Partners";
    let (status, body) = fleet
        .api(
            A,
            &firm.api_key,
            Method::PATCH,
            "/api/v1/portal",
            Some(json!({"display_name": new_name})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let renamed = Instant::now();
    let (_, html) = visitor.get_text(&a.url(&firm.slug, "/login")).await;
    assert!(
        html.contains(new_name),
        "the gateway that changed it shows it at once"
    );

    let (_, html) = visitor.get_text(&b.url(&firm.slug, "/login")).await;
    let stale_at_first = !html.contains(new_name);
    // B shows it once its entry is older than the bound, and the test waits no longer.
    let mut first_seen = None;
    while renamed.elapsed() < TTL {
        let (_, html) = visitor.get_text(&b.url(&firm.slug, "/login")).await;
        if html.contains(new_name) && first_seen.is_none() {
            first_seen = Some(renamed.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (_, html) = visitor.get_text(&b.url(&firm.slug, "/login")).await;
    assert!(
        html.contains(new_name),
        "B still shows the old name {TTL:?} after the change"
    );
    eprintln!(
        "B showed the old name right after the change: {stale_at_first}; the new one first \
         after {} (bound {TTL:?})",
        first_seen.map_or("the bound".to_string(), |t| format!("{t:?}"))
    );
    fleet.stop().await;
}

/// Invites `count` new contacts, alternating between the gateways; their addresses.
async fn invite_many(fleet: &Fleet, firm: &FleetFirm, label: &str, count: usize) -> Vec<String> {
    let mut addresses = Vec::new();
    for i in 0..count {
        let email = format!("{label}{i}@example.com");
        fleet.invite(i % fleet.gateways.len(), firm, &email).await;
        addresses.push(email);
    }
    addresses
}

/// Waits until every address got at least one mail; mails per Message-ID.
async fn delivered(
    fleet: &Fleet,
    addresses: &[String],
    timeout: Duration,
) -> BTreeMap<String, usize> {
    let wanted: HashSet<String> = addresses.iter().map(|a| format!("<{a}>")).collect();
    let deadline = Instant::now() + timeout;
    loop {
        let messages = fleet.sink.messages();
        let reached: HashSet<&str> = messages.iter().map(|m| m.rcpt_to.as_str()).collect();
        if wanted.iter().all(|w| reached.contains(w.as_str())) {
            let mut per_id = BTreeMap::new();
            for message in messages.iter().filter(|m| wanted.contains(&m.rcpt_to)) {
                *per_id.entry(message.message_id()).or_insert(0) += 1;
            }
            return per_id;
        }
        assert!(
            Instant::now() < deadline,
            "{} of {} recipients reached within {timeout:?}: {}",
            wanted
                .iter()
                .filter(|w| reached.contains(w.as_str()))
                .count(),
            wanted.len(),
            fleet.logs()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `mailer_sent_total` of one mailer, all templates together.
async fn sent_by(mailer: &portico_e2e::fleet::FleetMailer) -> u64 {
    mailer
        .metrics()
        .await
        .lines()
        .filter(|l| l.starts_with("mailer_sent_total"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

#[tokio::test]
async fn two_mailers_send_each_mail_once() {
    let fleet = Fleet::start().await;
    let firm = fleet.create_firm("mailers");
    let addresses = invite_many(&fleet, &firm, "many", 200).await;
    let per_id = delivered(&fleet, &addresses, Duration::from_secs(60)).await;
    assert_eq!(per_id.len(), addresses.len(), "one Message-ID per job");
    let doubled: Vec<_> = per_id.iter().filter(|(_, n)| **n > 1).collect();
    assert!(doubled.is_empty(), "sent more than once: {doubled:?}");
    // Settled: nothing more arrives.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(fleet.sink.count(), addresses.len());
    let (one, two) = (
        sent_by(&fleet.mailers[0]).await,
        sent_by(&fleet.mailers[1]).await,
    );
    assert_eq!(one + two, addresses.len() as u64);
    assert!(
        one > 0 && two > 0,
        "both mailers took jobs: {one} and {two}"
    );
    eprintln!("200 invitations: mailer 1 sent {one}, mailer 2 sent {two}, none twice");
    fleet.stop().await;
}

#[tokio::test]
async fn a_mailer_killed_mid_run_loses_no_job_and_its_jobs_are_taken_over() {
    let mut fleet = Fleet::start().await;
    let firm = fleet.create_firm("sigkill");
    let settings = env_file("mailer.env");
    let claim_idle = portico_shared::units::parse_duration(&settings["MAILER_CLAIM_IDLE"]).unwrap();
    let in_flight: usize = settings["MAILER_CONCURRENCY"].parse().unwrap();
    // Each acceptance takes a while, so the killed mailer has sends in flight.
    fleet.sink.set_accept_delay(Duration::from_millis(30));
    let count = 300;
    let addresses: Vec<String> = (0..count).map(|i| format!("kill{i}@example.com")).collect();
    // Enqueue through both gateways while the mailers drain; kill mailer 1 a third of the way.
    let mut killed_at = None;
    for (i, email) in addresses.iter().enumerate() {
        fleet.invite(i % 2, &firm, email).await;
        if killed_at.is_none() && fleet.sink.count() >= count / 3 {
            fleet.mailers[0].process.kill();
            killed_at = Some((Instant::now(), fleet.sink.count()));
        }
    }
    let (killed, sent_before) = killed_at.unwrap_or_else(|| {
        // Enqueueing outran the mailers: kill now, mid-run all the same.
        fleet.mailers[0].process.kill();
        (Instant::now(), fleet.sink.count())
    });
    assert!(sent_before < count, "killed mid-run");
    let per_id = delivered(&fleet, &addresses, claim_idle + Duration::from_secs(60)).await;
    let finished = killed.elapsed();
    assert_eq!(per_id.len(), count, "no job lost");
    let duplicates: usize = per_id.values().map(|n| n - 1).sum();
    eprintln!(
        "SIGKILL after {sent_before} of {count} mails: all {count} delivered {finished:?} after the kill \
         (MAILER_CLAIM_IDLE {claim_idle:?}); {duplicates} sent twice (SPEC §10: at-least-once, \
         de-duplicated by job id; README: at most the sends in flight, MAILER_CONCURRENCY = {in_flight})"
    );
    assert!(
        duplicates <= in_flight,
        "{duplicates} duplicates, more than the {in_flight} sends in flight"
    );
    fleet.stop().await;
}

/// The metric names a PromQL expression uses (`portico_…` and `mailer_…`).
fn metric_names(expr: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut word = String::new();
    let mut in_string = false;
    for c in expr.chars().chain(std::iter::once(' ')) {
        if c == '"' {
            in_string = !in_string;
            word.clear();
            continue;
        }
        if !in_string && (c.is_ascii_alphanumeric() || c == '_' || c == ':') {
            word.push(c);
            continue;
        }
        if word.starts_with("portico_") || word.starts_with("mailer_") {
            names.push(std::mem::take(&mut word));
        }
        word.clear();
    }
    names
}

/// Whether `/metrics` text serves `name`, a sample name as PromQL asks for it (a counter's
/// `_total`, a histogram's `_bucket`, `_sum`, `_count`).
fn serves(metrics: &str, name: &str) -> bool {
    metrics.lines().any(|line| {
        let sample = line.split([' ', '{']).next().unwrap_or_default();
        let family = line
            .strip_prefix("# TYPE ")
            .and_then(|t| t.split(' ').next());
        sample == name
            || family.is_some_and(|f| {
                ["", "_total", "_bucket", "_sum", "_count"]
                    .iter()
                    .any(|suffix| format!("{f}{suffix}") == name)
            })
    })
}

#[tokio::test]
async fn the_dashboard_and_scrape_settings_ask_only_for_what_the_fleet_serves() {
    let fleet = Fleet::start_with(FleetOptions {
        gateways: 1,
        mailers: 1,
        // What is served does not depend on the topology.
        redis: FleetRedis::Shared,
        ..FleetOptions::default()
    })
    .await;
    let deploy = portico_e2e::fleet::deploy_dir();
    let dashboard: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(deploy.join("grafana/portico.json")).unwrap(),
    )
    .expect("the dashboard is JSON");
    let mut exprs = Vec::new();
    collect_exprs(&dashboard, &mut exprs);
    assert!(exprs.len() >= 5, "{exprs:?}");
    let served = format!(
        "{}\n{}",
        fleet.gateways[0].metrics().await,
        fleet.mailers[0].metrics().await
    );
    let mut checked = HashSet::new();
    for expr in &exprs {
        let names = metric_names(expr);
        // `up` is Prometheus's own series about the scrape.
        assert!(
            !names.is_empty() || expr.starts_with("up{"),
            "no Portico metric in {expr:?}"
        );
        for name in names {
            assert!(
                serves(&served, &name),
                "the dashboard asks for {name}, which nothing serves ({expr})"
            );
            checked.insert(name);
        }
    }
    for wanted in [
        "portico_dependency_errors_total",
        "mailer_redis_errors_total",
        "mailer_queue_depth",
        "mailer_dead_letters",
    ] {
        assert!(checked.contains(wanted), "the dashboard shows no {wanted}");
    }
    // The scrape settings reach the ports the env files bind, with the gateways' token.
    let prometheus = std::fs::read_to_string(deploy.join("prometheus/prometheus.yml")).unwrap();
    let port = |bind: &str| bind.rsplit(':').next().unwrap().to_string();
    let gateway_port = port(&env_file("gateway.env")["PORTICO_BIND"]);
    let mailer_port = port(&env_file("mailer.env")["MAILER_METRICS_BIND"]);
    assert!(
        prometheus.contains(&format!(":{gateway_port}'")),
        "gateway port {gateway_port}"
    );
    assert!(
        prometheus.contains(&format!(":{mailer_port}'")),
        "mailer port {mailer_port}"
    );
    assert!(
        prometheus.contains("credentials_file"),
        "the gateways want PORTICO_METRICS_TOKEN"
    );
    eprintln!("dashboard: {} queries, metrics {:?}", exprs.len(), checked);
    fleet.stop().await;
}

fn collect_exprs(value: &serde_json::Value, out: &mut Vec<String>) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, value) in map {
                match (key.as_str(), value) {
                    ("expr", serde_json::Value::String(expr)) => out.push(expr.clone()),
                    _ => collect_exprs(value, out),
                }
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| collect_exprs(v, out)),
        _ => {}
    }
}

#[tokio::test]
async fn redis_errors_are_counted_where_they_become_503() {
    let mut redis = PrivateRedis::start().await;
    let fleet = Fleet::start_with(FleetOptions {
        gateways: 1,
        mailers: 1,
        redis: FleetRedis::Given(RedisTarget::Single(redis.url())),
        ..FleetOptions::default()
    })
    .await;
    let firm = fleet.create_firm("outage");
    let email = "fay@example.com";
    fleet.add_contact(A, &firm, email).await;
    let client = sign_in(&fleet, A, &firm, email, "198.51.100.50").await;
    let errors = |text: &str, sample: &str| {
        text.lines()
            .find_map(|l| {
                l.strip_prefix(sample)
                    .and_then(|v| v.trim().parse::<u64>().ok())
            })
            .unwrap_or(0)
    };
    let gateway_before = errors(
        &fleet.gateways[A].metrics().await,
        "portico_dependency_errors_total{dependency=\"redis\"} ",
    );
    assert_eq!(gateway_before, 0);

    redis.stop();
    let home = client.get(&fleet.gateways[A].url(&firm.slug, "/")).await;
    assert_eq!(home.status(), StatusCode::SERVICE_UNAVAILABLE);
    let ready = reqwest::Client::new()
        .get(fleet.gateways[A].plain_url("/readyz"))
        .header("x-forwarded-for", "192.0.2.1")
        .send()
        .await
        .unwrap();
    assert_eq!(
        ready.status(),
        StatusCode::SERVICE_UNAVAILABLE,
        "the balancer takes it out"
    );
    let counted = errors(
        &fleet.gateways[A].metrics().await,
        "portico_dependency_errors_total{dependency=\"redis\"} ",
    );
    assert!(counted >= 1, "the 503 was counted");
    // The mailer counts the failures of its polls.
    let deadline = Instant::now() + Duration::from_secs(10);
    while errors(
        &fleet.mailers[0].metrics().await,
        "mailer_redis_errors_total ",
    ) == 0
    {
        assert!(
            Instant::now() < deadline,
            "the mailer counted no Redis error"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Back (empty: this Redis keeps nothing on disk): ready again, and sign-in works.
    redis.resume().await;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let ready = reqwest::Client::new()
            .get(fleet.gateways[A].plain_url("/readyz"))
            .header("x-forwarded-for", "192.0.2.1")
            .send()
            .await
            .unwrap();
        if ready.status() == StatusCode::OK {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the gateway did not recover: {}",
            fleet.logs()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let again = sign_in(&fleet, A, &firm, email, "198.51.100.51").await;
    assert!(portal_shows(&fleet, A, &again, &firm.slug, email).await);
    fleet.stop().await;
}

#[tokio::test]
async fn the_systemd_units_verify() {
    let Ok(found) = std::process::Command::new("systemd-analyze")
        .arg("--version")
        .output()
    else {
        eprintln!("systemd-analyze is not installed: the units are not verified here");
        return;
    };
    assert!(found.status.success());
    // The units as installed, with the paths of this checkout.
    let deploy = portico_e2e::fleet::deploy_dir();
    let bin = portico_e2e::target_dir();
    let dir = std::env::temp_dir().join(portico_e2e::unique("portico-units-"));
    std::fs::create_dir_all(&dir).unwrap();
    let mut names = Vec::new();
    for (template, instance) in [
        ("portico-gateway@.service", "portico-gateway@1.service"),
        ("portico-mailer@.service", "portico-mailer@1.service"),
        ("portico-migrate.service", "portico-migrate.service"),
    ] {
        let text = std::fs::read_to_string(deploy.join("systemd").join(template))
            .unwrap()
            .replace("/opt/portico/bin/", &format!("{}/", bin.display()))
            .replace(
                "/etc/portico/secrets.env",
                &deploy.join("env/secrets.env.example").display().to_string(),
            )
            .replace(
                "/etc/portico/",
                &format!("{}/", deploy.join("env").display()),
            );
        std::fs::write(dir.join(instance), text).unwrap();
        names.push(dir.join(instance).display().to_string());
    }
    let verified = std::process::Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .args(&names)
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        verified.status.success() && verified.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&verified.stderr)
    );
}

#[tokio::test]
async fn a_gateway_older_than_the_database_refuses_to_start() {
    use sqlx::Connection;
    let fleet = Fleet::start_with(FleetOptions {
        gateways: 1,
        mailers: 0,
        redis: FleetRedis::Shared,
        ..FleetOptions::default()
    })
    .await;
    // A newer release applied a migration this binary does not know.
    let newer = "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
                 VALUES (99999, 'from a newer release', TRUE, X'00', 0)";
    if portico_e2e::backend() == "postgres" {
        let mut db = sqlx::PgConnection::connect(fleet.database_url())
            .await
            .unwrap();
        sqlx::query(&newer.replace("X'00'", "'\\x00'::bytea"))
            .execute(&mut db)
            .await
            .unwrap();
    } else {
        let mut db = sqlx::SqliteConnection::connect(fleet.database_url())
            .await
            .unwrap();
        sqlx::query(newer).execute(&mut db).await.unwrap();
    }
    let mut vars = fleet.gateways[A].vars.clone();
    vars.insert(
        "PORTICO_BIND".into(),
        format!("127.0.0.1:{}", portico_e2e::fleet::free_port()),
    );
    let mut child = portico_e2e::binaries::gateway(&vars)
        .arg("serve")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the gateway started on a database migrated by a newer release");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    let last = stderr.lines().last().unwrap_or_default();
    assert!(!status.success());
    assert!(
        last.starts_with("gateway: DATABASE_URL: migrating the database failed")
            && last.contains("99999"),
        "{stderr}"
    );
    eprintln!("an older gateway refuses: {last}");
    // The running gateway, started before, keeps serving.
    let ready = reqwest::Client::new()
        .get(fleet.gateways[A].plain_url("/readyz"))
        .header("x-forwarded-for", "192.0.2.1")
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), StatusCode::OK);
    fleet.stop().await;
}

#[tokio::test]
async fn behind_the_example_nginx_a_rolling_restart_loses_no_request() {
    let mut fleet = Fleet::start().await;
    let Some(proxy) = portico_e2e::fleet::Proxy::start(&fleet).await else {
        eprintln!("nginx is not installed (apt-get install nginx-light): the proxy is not tested");
        return;
    };
    let firm = fleet.create_firm("proxy");
    let email = "gus@example.com";
    fleet.add_contact(A, &firm, email).await;

    // Signing in over https through the proxy: Secure __Host- cookies, as in production.
    let browser = proxy.browser();
    let login = proxy.url(&fleet, &firm.slug, "/login");
    let html = browser
        .get(&login)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = portico_e2e::csrf_in(&html).expect("a login form");
    let asked = browser
        .post(&login)
        .form(&[("email", email), ("csrf", &csrf)])
        .send()
        .await
        .unwrap();
    assert_eq!(asked.status(), StatusCode::OK, "{}", proxy.error_log());
    let link = fleet.mailed_link(email, 1).await;
    let opened = browser.get(proxy.at(&link.link)).send().await.unwrap();
    assert_eq!(opened.status(), StatusCode::SEE_OTHER);
    let cookie = opened
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|c| c.starts_with("__Host-"))
        .expect("a __Host- session cookie over https");
    assert!(
        cookie.contains("Secure") && cookie.contains("HttpOnly"),
        "{cookie}"
    );
    let home = proxy.url(&fleet, &firm.slug, "/");

    // Both gateways restarted one after the other while the client keeps asking.
    let asking = {
        let (browser, home, email) = (browser.clone(), home.clone(), email.to_string());
        tokio::spawn(async move {
            let (mut answered, mut failed) = (0usize, Vec::new());
            let started = Instant::now();
            while started.elapsed() < Duration::from_secs(12) {
                match browser.get(&home).send().await {
                    Ok(r) if r.status() == StatusCode::OK => {
                        let body = r.text().await.unwrap_or_default();
                        if body.contains(&email) {
                            answered += 1;
                        } else {
                            failed.push("200 without the client's page".to_string());
                        }
                    }
                    Ok(r) => failed.push(r.status().to_string()),
                    Err(e) => failed.push(e.to_string()),
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            (answered, failed)
        })
    };
    // As deploy/README.md says: after a gateway is ready again, wait the proxy's fail_timeout
    // and one second more before stopping the next (nginx skips a gateway it could not reach
    // that long, and counts it in whole seconds of its cached clock, so up to a second more).
    let config =
        std::fs::read_to_string(portico_e2e::fleet::deploy_dir().join("nginx/portico.conf"))
            .unwrap();
    let fail_timeout: u64 = config
        .split("fail_timeout=")
        .nth(1)
        .and_then(|rest| rest.split('s').next())
        .and_then(|secs| secs.parse().ok())
        .expect("fail_timeout=Ns in the example");
    tokio::time::sleep(Duration::from_secs(1)).await;
    let restarting = Instant::now();
    fleet.restart_gateway(A).await;
    tokio::time::sleep(Duration::from_secs(fail_timeout + 1) + Duration::from_millis(500)).await;
    fleet.restart_gateway(B).await;
    let restarted = restarting.elapsed();
    let (answered, failed) = asking.await.unwrap();
    eprintln!(
        "rolling restart of both gateways ({restarted:?}) behind the example nginx: \
         {answered} requests answered, {} failed {failed:?}",
        failed.len()
    );
    assert!(answered > 100, "{answered}");
    assert!(
        failed.is_empty(),
        "{failed:?}\n{}\n{}",
        proxy.error_log(),
        fleet.logs()
    );
    fleet.stop().await;
}

#[tokio::test]
async fn the_example_redis_node_config_runs_a_cluster_node_with_aof() {
    // deploy/redis/redis-node.conf as written, but for this machine's address, port and folder.
    let port = portico_e2e::fleet::free_port();
    let dir = std::env::temp_dir().join(portico_e2e::unique("portico-redis-node-"));
    std::fs::create_dir_all(&dir).unwrap();
    let example = portico_e2e::fleet::deploy_dir().join("redis/redis-node.conf");
    // Redis changes into `dir` as it reads the line, before any override: write this
    // machine's folder there (the line must be there to be replaced).
    let text = std::fs::read_to_string(&example).unwrap();
    let lines: Vec<String> = text
        .lines()
        .map(|line| match line.starts_with("dir ") {
            true => format!("dir {}", dir.display()),
            false => line.to_string(),
        })
        .collect();
    assert_ne!(lines.join("\n"), text.trim_end(), "the example sets no dir");
    let config = dir.join("node.conf");
    std::fs::write(&config, lines.join("\n")).unwrap();
    let mut node = std::process::Command::new("redis-server")
        .arg(&config)
        .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
        .arg("--dir")
        .arg(&dir)
        .args(["--supervised", "no", "--logfile", "redis.log"])
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("redis-server is installed");
    let ask = |command: &'static [&'static str]| {
        let output = std::process::Command::new("redis-cli")
            .args(["-p", &port.to_string()])
            .args(command)
            .output()
            .expect("redis-cli runs");
        String::from_utf8_lossy(&output.stdout).to_string()
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while ask(&["PING"]).trim() != "PONG" {
        assert!(
            Instant::now() < deadline,
            "redis-server did not start from {}: {}",
            example.display(),
            std::fs::read_to_string(dir.join("redis.log")).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let settings = ask(&["CONFIG", "GET", "*"]);
    let setting = |name: &str| {
        let mut lines = settings.lines();
        lines
            .position(|l| l == name)
            .and_then(|_| lines.next())
            .map(str::to_string)
    };
    let info = ask(&["INFO", "cluster"]);
    let _ = node.kill();
    let _ = node.wait();
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(setting("appendonly").as_deref(), Some("yes"));
    assert_eq!(setting("appendfsync").as_deref(), Some("everysec"));
    assert_eq!(setting("maxmemory-policy").as_deref(), Some("noeviction"));
    assert_eq!(
        setting("cluster-require-full-coverage").as_deref(),
        Some("no")
    );
    assert!(info.contains("cluster_enabled:1"), "{info}");
}

#[tokio::test]
async fn database_errors_are_counted_where_they_become_503() {
    if portico_e2e::backend() != "postgres" {
        eprintln!(
            "PostgreSQL only: its connections can be ended from outside (PORTICO_TEST_DB=postgres)"
        );
        return;
    }
    use sqlx::Connection;
    let fleet = Fleet::start_with(FleetOptions {
        gateways: 1,
        mailers: 1,
        redis: FleetRedis::Shared,
        ..FleetOptions::default()
    })
    .await;
    let firm = fleet.create_firm("dbdown");
    let email = "hal@example.com";
    fleet.add_contact(A, &firm, email).await;
    let client = sign_in(&fleet, A, &firm, email, "198.51.100.60").await;
    let database = fleet.database_url().rsplit('/').next().unwrap().to_string();
    let mut admin = sqlx::PgConnection::connect(&portico_e2e::postgres_admin_url())
        .await
        .unwrap();
    let ended: Vec<(bool,)> =
        sqlx::query_as("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1")
            .bind(&database)
            .fetch_all(&mut admin)
            .await
            .unwrap();
    assert!(!ended.is_empty(), "the gateway had connections");
    let mut unavailable = 0;
    for _ in 0..30 {
        let response = client.get(&fleet.gateways[A].url(&firm.slug, "/")).await;
        match response.status() {
            StatusCode::OK => {}
            StatusCode::SERVICE_UNAVAILABLE => unavailable += 1,
            other => panic!("{other}: a database outage answers 503, never anything else"),
        }
    }
    assert!(
        unavailable > 0,
        "ending the connections made no request fail"
    );
    let metrics = fleet.gateways[A].metrics().await;
    let counted = metrics
        .lines()
        .find_map(|l| l.strip_prefix("portico_dependency_errors_total{dependency=\"database\"} "))
        .and_then(|v| v.trim().parse::<u64>().ok());
    assert_eq!(counted, Some(unavailable), "each 503 counted once");
    fleet.stop().await;
}

#[tokio::test]
async fn gateways_started_together_before_any_migration() {
    let mut fleet = Fleet::start_with(FleetOptions {
        gateways: 0,
        mailers: 0,
        migrate_first: false,
        ..FleetOptions::default()
    })
    .await;
    let outcomes = fleet.start_gateways_together(2).await;
    eprintln!(
        "{}: two gateways started together on an empty database: {:?}",
        portico_e2e::backend(),
        outcomes
            .iter()
            .map(|o| o
                .as_ref()
                .map_err(|e| e.lines().last().unwrap_or_default().to_string()))
            .collect::<Vec<_>>()
    );
    if portico_e2e::backend() == "postgres" {
        // sqlx holds an advisory lock while it migrates: one migrates, the other waits.
        assert!(outcomes.iter().all(Result::is_ok), "{outcomes:?}");
    } else {
        // SQLite has no such lock: one may fail a migration the other applied first (its
        // transaction rolls back) and exit. Started again (systemd's Restart=on-failure), it
        // finds the migrations applied and serves.
        assert!(outcomes.iter().any(Result::is_ok), "{outcomes:?}");
        let failed = outcomes.iter().filter(|o| o.is_err()).count();
        let again = fleet.start_gateways_together(failed).await;
        assert!(again.iter().all(Result::is_ok), "{again:?}");
    }
    fleet.stop().await;
}
