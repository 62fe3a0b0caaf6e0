//! Sign-in hardening: the one-click binding ends on the server, Redis records that were copied
//! or edited are refused, and the per-address limits hurt the asker, not the owner.

use std::time::Duration;

use portico_e2e::{Browser, TestApp};
use reqwest::StatusCode;

async fn signed_in_as(browser: &Browser, app: &TestApp, slug: &str, email: &str) -> bool {
    let (status, html) = browser.get_text(&app.url(slug, "/")).await;
    status == StatusCode::OK && html.contains(email)
}

/// Every key under the app's prefix that starts with `kind:` (e.g. `session`, `link`).
async fn redis_keys(app: &TestApp, kind: &str) -> Vec<String> {
    let mut redis = app.redis.clone();
    let mut keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{}{kind}:*", app.config.redis_prefix))
        .query_async(&mut redis)
        .await
        .unwrap();
    keys.sort();
    keys
}

#[tokio::test]
async fn one_click_ends_when_the_binding_does_and_the_code_still_works() {
    let app = TestApp::spawn_with(&[("PORTICO_LOGIN_ONE_CLICK", "1s")]).await;
    let firm = app.create_firm("bind").await;
    let slug = firm.firm.slug.clone();
    app.add_contact(&firm, "ann@example.com", true).await;

    // Within the window, the asking browser signs in with one click (as before).
    let browser = app.browser();
    browser.request_link(&app, &slug, "ann@example.com").await;
    let mail = app.last_link("ann@example.com").await.unwrap();
    let response = browser.get(&mail.link).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert!(signed_in_as(&browser, &app, &slug, "ann@example.com").await);

    // Past it, even the asking browser (binding cookie and all) is asked for the code: a
    // leaked link is no longer one click away for whoever asked for it.
    let asker = app.browser();
    asker.request_link(&app, &slug, "ann@example.com").await;
    let mail = app.last_link("ann@example.com").await.unwrap();
    tokio::time::sleep(Duration::from_millis(2200)).await;
    let response = asker.get(&mail.link).await;
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "the code page, not a sign-in"
    );
    let html = response.text().await.unwrap();
    assert!(html.contains("name=\"code\""), "{html}");
    assert!(!signed_in_as(&asker, &app, &slug, "ann@example.com").await);
    // The link is not used up: the code from the email signs in.
    let response = asker.enter_code(&app, &slug, &mail.token, &mail.code).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert!(signed_in_as(&asker, &app, &slug, "ann@example.com").await);
    app.stop().await;
}

#[tokio::test]
async fn a_session_record_copied_over_another_is_no_session() {
    let app = TestApp::spawn().await;
    let firm = app.create_firm("copy").await;
    let slug = firm.firm.slug.clone();
    app.add_contact(&firm, "eve@example.com", true).await;
    let ann_contact = app.add_contact(&firm, "ann@example.com", true).await;
    let eve = app.signed_in(&firm, "eve@example.com").await;
    let eve_key = redis_keys(&app, "session").await;
    assert_eq!(eve_key.len(), 1);
    let mut redis = app.redis.clone();
    let eve_record: String = redis::cmd("GET")
        .arg(&eve_key[0])
        .query_async(&mut redis)
        .await
        .unwrap();
    let ann = app.signed_in(&firm, "ann@example.com").await;
    let ann_key: Vec<String> = redis_keys(&app, "session")
        .await
        .into_iter()
        .filter(|k| !eve_key.contains(k))
        .collect();
    assert_eq!(ann_key.len(), 1);

    // Eve, who can write to Redis, copies Ann's session record over her own session's key.
    let record: String = redis::cmd("GET")
        .arg(&ann_key[0])
        .query_async(&mut redis)
        .await
        .unwrap();
    let () = redis::cmd("SET")
        .arg(&eve_key[0])
        .arg(&record)
        .query_async(&mut redis)
        .await
        .unwrap();
    assert!(!signed_in_as(&eve, &app, &slug, "ann@example.com").await);
    let response = eve.get(&app.url(&slug, "/")).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "sent to sign in");

    // Editing her own record to name Ann does not work either.
    let ann_id = ann_contact.id.clone();
    let mut own: serde_json::Value = serde_json::from_str(&eve_record).unwrap();
    own["c"] = serde_json::json!(ann_id);
    let () = redis::cmd("SET")
        .arg(&eve_key[0])
        .arg(own.to_string())
        .query_async(&mut redis)
        .await
        .unwrap();
    assert!(!signed_in_as(&eve, &app, &slug, "ann@example.com").await);
    // Ann's own session is untouched.
    assert!(signed_in_as(&ann, &app, &slug, "ann@example.com").await);
    app.stop().await;
}

#[tokio::test]
async fn a_link_record_edited_to_name_someone_else_signs_nobody_in() {
    let app = TestApp::spawn().await;
    let firm = app.create_firm("edit").await;
    let slug = firm.firm.slug.clone();
    app.add_contact(&firm, "eve@example.com", true).await;
    let ann = app.add_contact(&firm, "ann@example.com", true).await;
    let eve = app.browser();
    eve.request_link(&app, &slug, "eve@example.com").await;
    let mail = app.last_link("eve@example.com").await.unwrap();
    let links = redis_keys(&app, "link").await;
    assert_eq!(links.len(), 1);
    let mut redis = app.redis.clone();
    let () = redis::cmd("HSET")
        .arg(&links[0])
        .arg("contact")
        .arg(ann.id.as_str())
        .query_async(&mut redis)
        .await
        .unwrap();
    // Neither the one click nor the code signs Eve in as Ann.
    let response = eve.get(&mail.link).await;
    assert_ne!(response.status(), StatusCode::SEE_OTHER);
    let response = eve.enter_code(&app, &slug, &mail.token, &mail.code).await;
    assert_ne!(response.status(), StatusCode::SEE_OTHER);
    assert!(!signed_in_as(&eve, &app, &slug, "ann@example.com").await);
    app.stop().await;
}

/// Posts the login form for `email` as if from `ip` (through the trusted loopback proxy).
async fn ask_from(
    app: &TestApp,
    browser: &Browser,
    slug: &str,
    email: &str,
    ip: &str,
) -> StatusCode {
    let login = app.url(slug, "/login");
    let csrf = browser.csrf(&login).await;
    browser
        .client
        .post(&login)
        .header("x-forwarded-for", ip)
        .form(&[("email", email), ("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap()
        .status()
}

#[tokio::test]
async fn the_per_address_limit_counts_the_asking_network_not_the_owner() {
    let app = TestApp::spawn_with(&[
        ("PORTICO_LOGIN_PER_EMAIL", "2/15min"),
        ("PORTICO_TRUSTED_PROXIES", "127.0.0.1"),
        ("PORTICO_METRICS_TOKEN", "metrics-token-0123456789"),
    ])
    .await;
    let firm = app.create_firm("lock").await;
    let slug = firm.firm.slug.clone();
    app.add_contact(&firm, "ann@example.com", true).await;
    let attacker = app.browser();
    let mut statuses = Vec::new();
    for _ in 0..3 {
        statuses.push(ask_from(&app, &attacker, &slug, "ann@example.com", "198.51.100.7").await);
    }
    assert_eq!(
        statuses,
        [
            StatusCode::OK,
            StatusCode::OK,
            StatusCode::TOO_MANY_REQUESTS
        ]
    );
    // An IPv6 attacker hopping inside its /64 is one asker.
    let v6 = ["2001:db8:5:6::1", "2001:db8:5:6::2", "2001:db8:5:6::3"];
    let mut statuses = Vec::new();
    for ip in v6 {
        statuses.push(ask_from(&app, &attacker, &slug, "ann@example.com", ip).await);
    }
    assert_eq!(statuses[2], StatusCode::TOO_MANY_REQUESTS);
    // Ann, asking from her own network, is not locked out.
    let owner = app.browser();
    assert_eq!(
        ask_from(&app, &owner, &slug, "ann@example.com", "203.0.113.20").await,
        StatusCode::OK
    );
    app.stop().await;
}

#[tokio::test]
async fn sign_in_mails_per_address_and_day_are_capped_with_the_same_answer() {
    let token = "metrics-token-0123456789";
    let app = TestApp::spawn_with(&[
        ("PORTICO_LOGIN_MAILS_PER_DAY", "3"),
        ("PORTICO_TRUSTED_PROXIES", "127.0.0.1"),
        ("PORTICO_METRICS_TOKEN", token),
    ])
    .await;
    let firm = app.create_firm("cap").await;
    let slug = firm.firm.slug.clone();
    app.add_contact(&firm, "ann@example.com", true).await;
    let browser = app.browser();
    let mut pages = Vec::new();
    for i in 0..5 {
        let ip = format!("198.51.100.{}", i + 1);
        let login = app.url(&slug, "/login");
        let csrf = browser.csrf(&login).await;
        let response = browser
            .client
            .post(&login)
            .header("x-forwarded-for", ip)
            .form(&[("email", "ann@example.com"), ("csrf", csrf.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        pages.push(portico_e2e::without_csrf(&response.text().await.unwrap()));
    }
    assert!(
        pages.windows(2).all(|w| w[0] == w[1]),
        "the same page each time"
    );
    let mails = app
        .mail_jobs()
        .await
        .into_iter()
        .filter(|j| j.to.email == "ann@example.com")
        .count();
    assert_eq!(mails, 3, "no mail past the day's cap");
    let metrics = reqwest::Client::new()
        .get(app.plain_url("/metrics"))
        .bearer_auth(token)
        .header("x-forwarded-for", "203.0.113.1")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("portico_rate_limit_hits_total{kind=\"mails_per_day\"} 2"),
        "{metrics}"
    );
    // Another firm's mails to the same address are counted apart.
    let other = app.create_firm("cap2").await;
    app.add_contact(&other, "ann@example.com", true).await;
    browser
        .request_link(&app, &other.firm.slug, "ann@example.com")
        .await;
    assert_eq!(app.mail_jobs().await.len(), 4);
    app.stop().await;
}
