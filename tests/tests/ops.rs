//! Health, readiness, metrics, security headers, and surviving a Redis outage.

use std::time::Duration;

use portico_e2e::TestApp;
use portico_e2e::private_redis::PrivateRedis;
use reqwest::StatusCode;

#[tokio::test]
async fn health_readiness_and_metrics() {
    let app = TestApp::spawn().await;
    let firm = app.create_firm("acme").await;
    app.add_contact(&firm, "ann@example.com", true).await;
    let browser = app.browser();
    browser
        .request_link(&app, &firm.firm.slug, "ann@example.com")
        .await;
    browser
        .get(&app.last_link("ann@example.com").await.unwrap().link)
        .await;

    let (status, body) = browser.get_text(&app.plain_url("/healthz")).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "ok\n"));
    let (status, body) = browser.get_text(&app.plain_url("/readyz")).await;
    assert_eq!(status, StatusCode::OK);
    let ready: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(ready["database"], "ok");
    assert_eq!(ready["redis"], "ok");
    assert_eq!(ready["database_backend"], portico_e2e::backend());

    let (status, metrics) = browser.get_text(&app.plain_url("/metrics")).await;
    assert_eq!(status, StatusCode::OK);
    for expected in [
        "portico_links_issued_total{kind=\"login\"} 1",
        "portico_links_consumed_total{kind=\"binding\"} 1",
        "portico_sessions_started_total 1",
        "portico_mail_queue_depth 1",
        "portico_http_request_duration_seconds_bucket",
        "route=\"/auth/magic\"",
    ] {
        assert!(
            metrics.contains(expected),
            "metrics lack {expected}:\n{metrics}"
        );
    }
    assert!(!metrics.contains("token="), "no raw URLs in labels");
    // A request relayed by a proxy on this machine is not a local scraper.
    let relayed = reqwest::Client::new()
        .get(app.plain_url("/metrics"))
        .header("x-forwarded-for", "203.0.113.7")
        .send()
        .await
        .unwrap();
    assert_eq!(relayed.status(), StatusCode::NOT_FOUND);
    app.stop().await;
}

#[tokio::test]
async fn with_a_metrics_token_metrics_want_it() {
    let token = "scrape-0123456789abcdef";
    let app = TestApp::spawn_with(&[("PORTICO_METRICS_TOKEN", token)]).await;
    let client = reqwest::Client::new();
    let url = app.plain_url("/metrics");
    for given in [None, Some("Bearer wrong-0123456789abcdef"), Some(token)] {
        let mut request = client.get(&url);
        if let Some(value) = given {
            request = request.header("authorization", value);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{given:?}");
        assert_eq!(response.headers()["www-authenticate"], "Bearer");
    }
    let response = client.get(&url).bearer_auth(token).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.text().await.unwrap().contains("portico_"));
    app.stop().await;
}

#[tokio::test]
async fn every_page_carries_the_security_headers() {
    let app = TestApp::spawn().await;
    let firm = app.create_firm("acme").await;
    let browser = app.browser();
    for url in [
        app.url(&firm.firm.slug, "/login"),
        app.url("nosuch", "/"),
        app.plain_url("/api/v1/firm"),
    ] {
        let response = browser.get(&url).await;
        let h = response.headers();
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(
            csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"),
            "{url}"
        );
        assert!(!csp.contains("unsafe-inline"));
        assert_eq!(h["x-frame-options"], "DENY");
        assert_eq!(h["x-content-type-options"], "nosniff");
        assert_eq!(h["referrer-policy"], "no-referrer");
        assert!(h.contains_key("x-request-id"));
    }
    let css = browser
        .get(&app.url(&firm.firm.slug, "/assets/brand.css"))
        .await;
    assert_eq!(css.headers()["content-type"], "text/css; charset=utf-8");
    assert!(css.text().await.unwrap().contains("--brand: #1d4ed8"));
    app.stop().await;
}

#[tokio::test]
async fn redis_outage_answers_503_and_recovers_by_itself() {
    let mut redis = PrivateRedis::start().await;
    let url = redis.url();
    let app = TestApp::spawn_with(&[("REDIS_URL", url.as_str())]).await;
    let firm = app.create_firm("acme").await;
    let slug = firm.firm.slug.clone();
    app.add_contact(&firm, "ann@example.com", true).await;
    let browser = app.browser();
    browser.request_link(&app, &slug, "ann@example.com").await;
    browser
        .get(&app.last_link("ann@example.com").await.unwrap().link)
        .await;
    let (status, _) = browser.get_text(&app.url(&slug, "/")).await;
    assert_eq!(status, StatusCode::OK);

    let login = app.url(&slug, "/login");
    let csrf = browser.csrf(&login).await;
    redis.stop();
    let (status, html) = browser.get_text(&app.url(&slug, "/")).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(html.contains("Briefly unavailable"), "{html}");
    let response = browser
        .post_form(&login, &[("email", "ann@example.com"), ("csrf", &csrf)])
        .await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(response.headers().contains_key("retry-after"));
    let (status, _) = browser.get_text(&app.plain_url("/readyz")).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    let (status, _) = browser.get_text(&app.plain_url("/healthz")).await;
    assert_eq!(status, StatusCode::OK, "the process itself is fine");

    redis.resume().await;
    // The connection manager reconnects on its own; allow it a few seconds.
    let mut recovered = false;
    for _ in 0..50 {
        let response = browser.request_link(&app, &slug, "ann@example.com").await;
        if response.status() == StatusCode::OK {
            recovered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        recovered,
        "the gateway did not recover after Redis came back"
    );
    // Redis lost its data (no persistence): the old session is gone; a new link works.
    let mail = app.last_link("ann@example.com").await.unwrap();
    let response = browser.get(&mail.link).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let (status, _) = browser.get_text(&app.url(&slug, "/")).await;
    assert_eq!(status, StatusCode::OK);
    app.stop().await;
}

/// PostgreSQL ending the gateway's connections (a restart does the same): the pages answer a
/// brief 503, never a 500, and the gateway reconnects by itself.
#[tokio::test]
async fn database_connections_ended_answer_503_and_recover_by_itself() {
    if portico_e2e::backend() != "postgres" {
        return;
    }
    let app = TestApp::spawn().await;
    let firm = app.create_firm("acme").await;
    let slug = firm.firm.slug.clone();
    app.add_contact(&firm, "ann@example.com", true).await;
    let browser = app.signed_in(&firm, "ann@example.com").await;
    let home = app.url(&slug, "/");
    // Several pages at once, so the pool holds several connections.
    let pages = (0..8).map(|_| browser.get_text(&home));
    for (status, _) in futures::future::join_all(pages).await {
        assert_eq!(status, StatusCode::OK);
    }

    let database = app.vars["DATABASE_URL"]
        .rsplit_once('/')
        .unwrap()
        .1
        .to_string();
    let mut admin =
        <sqlx::PgConnection as sqlx::Connection>::connect(&portico_e2e::postgres_admin_url())
            .await
            .unwrap();
    let ended: Vec<(bool,)> =
        sqlx::query_as("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1")
            .bind(&database)
            .fetch_all(&mut admin)
            .await
            .unwrap();
    assert!(!ended.is_empty(), "the gateway had connections");

    let mut statuses = Vec::new();
    for _ in 0..30 {
        let (status, _) = browser.get_text(&home).await;
        statuses.push(status);
    }
    assert!(
        statuses
            .iter()
            .all(|s| *s == StatusCode::OK || *s == StatusCode::SERVICE_UNAVAILABLE),
        "{statuses:?}"
    );
    assert!(
        statuses[statuses.len() - 10..]
            .iter()
            .all(|s| *s == StatusCode::OK),
        "recovered: {statuses:?}"
    );
    app.stop().await;
}
