//! Magic-link sign-in as clients (and scanners, and attackers) experience it.

use std::time::Duration;

use portico_e2e::{Browser, TestApp, without_csrf};
use portico_shared::ids::{ContactId, FirmId};
use portico_shared::keys::Keyring;
use portico_shared::store::ContactPatch;
use portico_shared::token::{LinkPurpose, mint_link};
use reqwest::StatusCode;

fn location(response: &reqwest::Response) -> String {
    response
        .headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default()
}

async fn signed_in_as(browser: &Browser, app: &TestApp, slug: &str, email: &str) -> bool {
    let (status, html) = browser.get_text(&app.url(slug, "/")).await;
    status == StatusCode::OK && html.contains(email)
}

/// Grants or revokes a contact's portal access, as staff do.
async fn set_access(app: &TestApp, firm_id: &FirmId, contact_id: &ContactId, access: bool) {
    let patch = ContactPatch {
        portal_access: Some(access),
        ..Default::default()
    };
    app.store
        .update_contact(firm_id, contact_id, &patch)
        .await
        .unwrap();
}

#[tokio::test]
async fn same_browser_signs_in_with_one_click() {
    let app = TestApp::spawn().await;
    let firm = app.create_firm("acme").await;
    app.add_contact(&firm, "ann@example.com", true).await;
    let browser = app.browser();

    let response = browser
        .request_link(&app, &firm.firm.slug, "ann@example.com")
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let mail = app
        .last_link("ann@example.com")
        .await
        .expect("a link was mailed");
    assert!(
        mail.link
            .starts_with(&app.url(&firm.firm.slug, "/auth/magic?token="))
    );
    assert_eq!(mail.code.len(), 9, "code is written ABCD-EFGH");

    let response = browser.get(&mail.link).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/");
    assert!(signed_in_as(&browser, &app, &firm.firm.slug, "ann@example.com").await);

    // Single use: the same link again is refused with the friendly page.
    let (status, html) = browser.get_text(&mail.link).await;
    assert_eq!(status, StatusCode::GONE);
    assert!(html.contains("This link cannot be used"));
    assert!(html.contains("action=\"/login\""), "offers a new link");
    app.stop().await;
}

#[tokio::test]
async fn another_browser_needs_the_code_in_any_case_with_or_without_dash() {
    let app = TestApp::spawn().await;
    let firm = app.create_firm("acme").await;
    let slug = firm.firm.slug.clone();
    app.add_contact(&firm, "ann@example.com", true).await;

    for typed in [
        |c: &str| c.to_string(),
        |c: &str| c.to_lowercase(),
        |c: &str| c.replace('-', ""),
        |c: &str| format!(" {} ", c.replace('-', " ").to_lowercase()),
    ] {
        app.browser()
            .request_link(&app, &slug, "ann@example.com")
            .await;
        let mail = app.last_link("ann@example.com").await.unwrap();
        let phone = app.browser();
        // Opening the link elsewhere shows the code form and signs nobody in.
        let (status, html) = phone.get_text(&mail.link).await;
        assert_eq!(status, StatusCode::OK);
        assert!(html.contains("name=\"code\""));
        assert!(!signed_in_as(&phone, &app, &slug, "ann@example.com").await);
        let response = phone
            .enter_code(&app, &slug, &mail.token, &typed(&mail.code))
            .await;
        assert_eq!(
            response.status(),
            StatusCode::SEE_OTHER,
            "code {:?}",
            typed(&mail.code)
        );
        assert!(signed_in_as(&phone, &app, &slug, "ann@example.com").await);
    }
    app.stop().await;
}

#[tokio::test]
async fn scanners_that_open_links_and_submit_forms_use_nothing_up() {
    let app = TestApp::spawn().await;
    let firm = app.create_firm("acme").await;
    let slug = firm.firm.slug.clone();
    app.add_contact(&firm, "ann@example.com", true).await;
    let client = app.browser();
    client.request_link(&app, &slug, "ann@example.com").await;
    let mail = app.last_link("ann@example.com").await.unwrap();

    // A scanner: HEAD, GET, then submits the page's form without a code, or with junk.
    let scanner = app.browser();
    let head = scanner.client.head(&mail.link).send().await.unwrap();
    assert_eq!(head.status(), StatusCode::OK);
    let (_, html) = scanner.get_text(&mail.link).await;
    let csrf = portico_e2e::csrf_in(&html).unwrap();
    for code in ["", "AAAA"] {
        let response = scanner
            .post_form(
                &app.url(&slug, "/auth/magic"),
                &[("token", &mail.token), ("code", code), ("csrf", &csrf)],
            )
            .await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    }
    assert!(!signed_in_as(&scanner, &app, &slug, "ann@example.com").await);

    // Even a HEAD from the client's own browser does not consume it…
    let head = client.client.head(&mail.link).send().await.unwrap();
    assert_eq!(head.status(), StatusCode::OK);
    // …and the client's own click still works afterwards.
    let response = client.get(&mail.link).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert!(signed_in_as(&client, &app, &slug, "ann@example.com").await);
    app.stop().await;
}

#[tokio::test]
async fn five_wrong_codes_void_the_link() {
    let app = TestApp::spawn().await;
    let firm = app.create_firm("acme").await;
    let slug = firm.firm.slug.clone();
    app.add_contact(&firm, "ann@example.com", true).await;
    app.browser()
        .request_link(&app, &slug, "ann@example.com")
        .await;
    let mail = app.last_link("ann@example.com").await.unwrap();
    let wrong = if mail.code.starts_with('A') {
        "BBBB-BBBB"
    } else {
        "AAAA-AAAA"
    };

    let attacker = app.browser();
    for attempt in 1..=4 {
        let response = attacker.enter_code(&app, &slug, &mail.token, wrong).await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let html = response.text().await.unwrap();
        assert!(html.contains("does not match"), "attempt {attempt}");
    }
    let response = attacker.enter_code(&app, &slug, &mail.token, wrong).await;
    assert_eq!(response.status(), StatusCode::GONE);
    assert!(response.text().await.unwrap().contains("too many times"));
    // The right code no longer helps.
    let response = app
        .browser()
        .enter_code(&app, &slug, &mail.token, &mail.code)
        .await;
    assert_eq!(response.status(), StatusCode::GONE);
    app.stop().await;
}

#[tokio::test]
async fn sixteen_concurrent_consumptions_give_exactly_one_session() {
    let app = TestApp::spawn().await;
    let firm = app.create_firm("acme").await;
    let slug = firm.firm.slug.clone();
    app.add_contact(&firm, "ann@example.com", true).await;
    app.browser()
        .request_link(&app, &slug, "ann@example.com")
        .await;
    let mail = app.last_link("ann@example.com").await.unwrap();

    let mut browsers = Vec::new();
    for _ in 0..16 {
        let b = app.browser();
        let csrf = b.csrf(&app.url(&slug, "/login")).await;
        browsers.push((b, csrf));
    }
    let url = app.url(&slug, "/auth/magic");
    let attempts = browsers.iter().map(|(b, csrf)| {
        let (url, token, code) = (url.clone(), mail.token.clone(), mail.code.clone());
        async move {
            b.post_form(&url, &[("token", &token), ("code", &code), ("csrf", csrf)])
                .await
                .status()
        }
    });
    let statuses = futures::future::join_all(attempts).await;
    let winners = statuses
        .iter()
        .filter(|s| **s == StatusCode::SEE_OTHER)
        .count();
    assert_eq!(winners, 1, "{statuses:?}");
    assert_eq!(
        statuses.iter().filter(|s| **s == StatusCode::GONE).count(),
        15
    );
    let mut sessions = 0;
    for (b, _) in &browsers {
        if signed_in_as(b, &app, &slug, "ann@example.com").await {
            sessions += 1;
        }
    }
    assert_eq!(sessions, 1);
    app.stop().await;
}

/// Sign-ins arriving together are written as one group: each is still admitted or refused on
/// its own contact's access, and each admitted one has its last-login time.
#[tokio::test]
async fn simultaneous_sign_ins_are_each_checked_against_their_own_access() {
    let app = TestApp::spawn().await;
    let firm = app.create_firm("acme").await;
    let slug = firm.firm.slug.clone();
    let mut clients = Vec::new();
    for i in 0..24 {
        let email = format!("client{i}@example.com");
        let contact = app.add_contact(&firm, &email, true).await;
        let browser = app.browser();
        browser.request_link(&app, &slug, &email).await;
        let mail = app.last_link(&email).await.unwrap();
        clients.push((contact, browser, mail));
    }
    // Every third client loses access after the link was mailed.
    let revoked = |i: usize| i % 3 == 1;
    for (_, (contact, _, _)) in clients.iter().enumerate().filter(|(i, _)| revoked(*i)) {
        set_access(&app, &firm.firm.id, &contact.id, false).await;
    }
    let clicks = clients
        .iter()
        .map(|(_, browser, mail)| browser.get(&mail.link));
    let statuses: Vec<StatusCode> = futures::future::join_all(clicks)
        .await
        .iter()
        .map(|r| r.status())
        .collect();
    for (i, (contact, browser, _)) in clients.iter().enumerate() {
        let stored = app.stored_contact(&firm.firm.id, &contact.id).await;
        if revoked(i) {
            assert_eq!(statuses[i], StatusCode::GONE, "client {i}");
            assert_eq!(stored.last_login_at, None, "client {i}");
        } else {
            assert_eq!(statuses[i], StatusCode::SEE_OTHER, "client {i}");
            assert!(stored.last_login_at.is_some(), "client {i}");
            assert!(signed_in_as(browser, &app, &slug, &contact.email).await);
        }
    }
    app.stop().await;
}

#[tokio::test]
async fn forged_altered_foreign_retired_and_expired_tokens_are_refused() {
    let app = TestApp::spawn().await;
    let firm = app.create_firm("acme").await;
    let other = app.create_firm("other").await;
    let slug = firm.firm.slug.clone();
    let ann = app.add_contact(&firm, "ann@example.com", true).await;
    app.browser()
        .request_link(&app, &slug, "ann@example.com")
        .await;
    let mail = app.last_link("ann@example.com").await.unwrap();
    let browser = app.browser();

    // A bit flipped in the tag, the body, the key id.
    for index in [mail.token.len() - 3, mail.token.len() / 2, 1] {
        let mut bytes = mail.token.clone().into_bytes();
        bytes[index] ^= 0x01;
        let flipped = String::from_utf8(bytes).unwrap();
        let (status, _) = browser
            .get_text(&format!(
                "{}?token={flipped}",
                app.url(&slug, "/auth/magic")
            ))
            .await;
        assert_eq!(status, StatusCode::GONE, "flipped at {index}");
    }
    // The token on another firm's host.
    let (status, _) = browser
        .get_text(&format!(
            "{}?token={}",
            app.url(&other.firm.slug, "/auth/magic"),
            mail.token
        ))
        .await;
    assert_eq!(status, StatusCode::GONE);
    let response = browser
        .enter_code(&app, &other.firm.slug, &mail.token, &mail.code)
        .await;
    assert_eq!(response.status(), StatusCode::GONE);

    // Signed by a key the gateway does not (or no longer) hold.
    let retired = Keyring::generate("t0");
    let foreign = mint_link(&retired, &firm.firm.id, LinkPurpose::Login, i64::MAX / 2);
    let response = browser
        .enter_code(&app, &slug, foreign.token.expose(), &foreign.code.display())
        .await;
    assert_eq!(response.status(), StatusCode::GONE);

    // Expired: signed with the gateway's own key, but already past its time.
    let expired = mint_link(app.keys(), &firm.firm.id, LinkPurpose::Login, 1_000);
    let response = browser
        .enter_code(&app, &slug, expired.token.expose(), &expired.code.display())
        .await;
    assert_eq!(response.status(), StatusCode::GONE);

    // None of that touched the real link.
    let response = browser
        .enter_code(&app, &slug, &mail.token, &mail.code)
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(ann.email, "ann@example.com");
    app.stop().await;
}

#[tokio::test]
async fn links_expire_with_their_ttl() {
    let app = TestApp::spawn_with(&[("PORTICO_LINK_TTL", "1s")]).await;
    let firm = app.create_firm("acme").await;
    let slug = firm.firm.slug.clone();
    app.add_contact(&firm, "ann@example.com", true).await;
    let browser = app.browser();
    browser.request_link(&app, &slug, "ann@example.com").await;
    let mail = app.last_link("ann@example.com").await.unwrap();
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let (status, html) = browser.get_text(&mail.link).await;
    assert_eq!(status, StatusCode::GONE);
    assert!(html.contains("new sign-in link"));
    app.stop().await;
}

#[tokio::test]
async fn known_unknown_and_no_access_emails_get_identical_answers() {
    let app = TestApp::spawn().await;
    let firm = app.create_firm("acme").await;
    let slug = firm.firm.slug.clone();
    app.add_contact(&firm, "ann@example.com", true).await;
    app.add_contact(&firm, "cleo@example.com", false).await;

    let mut pages = Vec::new();
    for email in ["ann@example.com", "nobody@example.com", "cleo@example.com"] {
        let browser = app.browser();
        let response = browser.request_link(&app, &slug, email).await;
        let status = response.status();
        let mut headers: Vec<String> = response
            .headers()
            .iter()
            .filter(|(name, _)| {
                // The body (and so its length) differs by the address typed, compared below.
                !["date", "x-request-id", "set-cookie", "content-length"].contains(&name.as_str())
            })
            .map(|(n, v)| format!("{n}: {}", v.to_str().unwrap()))
            .collect();
        headers.sort();
        let cookies: Vec<String> = response
            .headers()
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().split('=').next().unwrap().to_string())
            .collect();
        let body = response.text().await.unwrap();
        pages.push((
            status,
            headers,
            cookies,
            without_csrf(&body).replace(email, "EMAIL"),
        ));
    }
    assert_eq!(pages[0], pages[1], "known vs unknown");
    assert_eq!(pages[0], pages[2], "known vs no access");
    let jobs = app.mail_jobs().await;
    assert_eq!(
        jobs.len(),
        1,
        "only the known email with access gets a mail"
    );
    assert_eq!(jobs[0].to.email, "ann@example.com");

    // The other two cost the same writes, on keys that are overwritten and never read: no
    // link a code could consume, and a decoy stream that stays at one entry.
    for email in ["nobody2@example.com", "nobody3@example.com"] {
        app.browser().request_link(&app, &slug, email).await;
    }
    let prefix = &app.config.redis_prefix;
    let mut redis = app.redis.clone();
    let links: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}link:*"))
        .query_async(&mut redis)
        .await
        .unwrap();
    assert_eq!(links.len(), 1, "only ann's link: {links:?}");
    let decoys: usize = redis::cmd("XLEN")
        .arg(format!("{prefix}decoy:mail"))
        .query_async(&mut redis)
        .await
        .unwrap();
    assert_eq!(decoys, 1);
    assert_eq!(app.mail_jobs().await.len(), 1);
    app.stop().await;
}

#[tokio::test]
async fn per_email_limit_answers_429_with_retry_after_for_known_and_unknown() {
    let app = TestApp::spawn_with(&[("PORTICO_LOGIN_PER_EMAIL", "2/15min")]).await;
    let firm = app.create_firm("acme").await;
    let slug = firm.firm.slug.clone();
    app.add_contact(&firm, "ann@example.com", true).await;
    for email in ["ann@example.com", "nobody@example.com"] {
        for _ in 0..2 {
            let r = app.browser().request_link(&app, &slug, email).await;
            assert_eq!(r.status(), StatusCode::OK);
        }
        let r = app
            .browser()
            .request_link(&app, &slug, &email.to_uppercase())
            .await;
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS, "{email}");
        let retry: u64 = r.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=900).contains(&retry), "{retry}");
        let html = r.text().await.unwrap();
        assert!(html.contains("try again in"), "{html}");
    }
    assert_eq!(
        app.mail_jobs().await.len(),
        2,
        "no link minted past the limit"
    );
    app.stop().await;
}

#[tokio::test]
async fn per_ip_limit_answers_429_and_trusts_forwarded_for_only_from_proxies() {
    // Not behind a proxy: X-Forwarded-For is ignored, everything counts against 127.0.0.1.
    let app = TestApp::spawn_with(&[("PORTICO_LOGIN_PER_IP", "3/min")]).await;
    let firm = app.create_firm("acme").await;
    let slug = firm.firm.slug.clone();
    let browser = app.browser();
    let login = app.url(&slug, "/login");
    let csrf = browser.csrf(&login).await;
    let mut statuses = Vec::new();
    for i in 0..4 {
        let r = browser
            .client
            .post(&login)
            .header("x-forwarded-for", format!("203.0.113.{i}"))
            .form(&[("email", "x@example.com"), ("csrf", &csrf)])
            .send()
            .await
            .unwrap();
        statuses.push(r.status());
        if r.status() == StatusCode::TOO_MANY_REQUESTS {
            assert!(r.headers().contains_key("retry-after"));
            assert!(r.text().await.unwrap().contains("try again"));
        }
    }
    assert_eq!(statuses[..3], [StatusCode::OK; 3]);
    assert_eq!(statuses[3], StatusCode::TOO_MANY_REQUESTS);
    app.stop().await;

    // Behind a trusted proxy (loopback): each forwarded client has its own bucket.
    let app = TestApp::spawn_with(&[
        ("PORTICO_LOGIN_PER_IP", "3/min"),
        ("PORTICO_TRUSTED_PROXIES", "127.0.0.1/32"),
        ("PORTICO_METRICS_TOKEN", "metrics-token-0123456789"),
    ])
    .await;
    let firm = app.create_firm("acme").await;
    let login = app.url(&firm.firm.slug, "/login");
    let browser = app.browser();
    let csrf = browser.csrf(&login).await;
    for i in 0..6 {
        let r = browser
            .client
            .post(&login)
            .header("x-forwarded-for", format!("203.0.113.{i}"))
            .form(&[("email", "x@example.com"), ("csrf", &csrf)])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "client {i}");
    }
    app.stop().await;
}

#[tokio::test]
async fn revoking_access_deleting_or_readdressing_a_contact_ends_sessions_and_voids_links() {
    let app = TestApp::spawn().await;
    let firm = app.create_firm("acme").await;
    let slug = firm.firm.slug.clone();
    for change in ["revoke", "delete", "email"] {
        let email = format!("{change}@example.com");
        let contact = app.add_contact(&firm, &email, true).await;
        let browser = app.browser();
        browser.request_link(&app, &slug, &email).await;
        let first = app.last_link(&email).await.unwrap();
        browser.get(&first.link).await;
        assert!(signed_in_as(&browser, &app, &slug, &email).await);
        browser.request_link(&app, &slug, &email).await;
        let unused = app.last_link(&email).await.unwrap();

        match change {
            "revoke" => set_access(&app, &firm.firm.id, &contact.id, false).await,
            "delete" => {
                app.store
                    .delete_contact(&firm.firm.id, &contact.id)
                    .await
                    .unwrap();
            }
            _ => {
                let patch = ContactPatch {
                    email: Some(portico_shared::email::Email::parse("moved@example.com").unwrap()),
                    ..Default::default()
                };
                app.store
                    .update_contact(&firm.firm.id, &contact.id, &patch)
                    .await
                    .unwrap();
            }
        }
        let response = browser.get(&app.url(&slug, "/")).await;
        assert_eq!(
            response.status(),
            StatusCode::SEE_OTHER,
            "{change}: session ended"
        );
        assert_eq!(location(&response), "/login");
        if change == "revoke" {
            // Even with access granted again, the old link stays void.
            set_access(&app, &firm.firm.id, &contact.id, true).await;
        }
        let response = app
            .browser()
            .enter_code(&app, &slug, &unused.token, &unused.code)
            .await;
        assert_eq!(response.status(), StatusCode::GONE, "{change}: link void");
    }
    app.stop().await;
}

#[tokio::test]
async fn logout_ends_the_session_and_needs_a_csrf_token() {
    let app = TestApp::spawn().await;
    let firm = app.create_firm("acme").await;
    let slug = firm.firm.slug.clone();
    app.add_contact(&firm, "ann@example.com", true).await;
    let browser = app.browser();
    browser.request_link(&app, &slug, "ann@example.com").await;
    let mail = app.last_link("ann@example.com").await.unwrap();
    browser.get(&mail.link).await;
    assert!(signed_in_as(&browser, &app, &slug, "ann@example.com").await);

    let response = browser.post_form(&app.url(&slug, "/logout"), &[]).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN, "no CSRF token");
    let response = browser
        .post_form(&app.url(&slug, "/logout"), &[("csrf", "t1.forged")])
        .await;
    assert_eq!(
        response.status(),
        StatusCode::FORBIDDEN,
        "forged CSRF token"
    );
    assert!(signed_in_as(&browser, &app, &slug, "ann@example.com").await);

    let csrf = browser.csrf(&app.url(&slug, "/")).await;
    let response = browser
        .client
        .post(app.url(&slug, "/logout"))
        .header("origin", "https://evil.example")
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        StatusCode::FORBIDDEN,
        "cross-site origin"
    );

    let response = browser
        .post_form(&app.url(&slug, "/logout"), &[("csrf", &csrf)])
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert!(!signed_in_as(&browser, &app, &slug, "ann@example.com").await);
    let (_, html) = browser
        .get_text(&app.url(&slug, "/login?signed_out=1"))
        .await;
    assert!(html.contains("You have signed out"));
    app.stop().await;
}

#[tokio::test]
async fn a_session_of_one_firm_is_nothing_on_another_firms_host() {
    let app = TestApp::spawn().await;
    let acme = app.create_firm("acme").await;
    let other = app.create_firm("other").await;
    app.add_contact(&acme, "ann@example.com", true).await;
    app.add_contact(&other, "ann@example.com", true).await;
    let browser = app.browser();
    browser
        .request_link(&app, &acme.firm.slug, "ann@example.com")
        .await;
    browser
        .get(&app.last_link("ann@example.com").await.unwrap().link)
        .await;
    assert!(signed_in_as(&browser, &app, &acme.firm.slug, "ann@example.com").await);
    // Cookies are host-only, and a session names its firm.
    let response = browser.get(&app.url(&other.firm.slug, "/")).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    // An unknown host is a 404 page.
    let (status, html) = browser.get_text(&app.url("nosuchfirm", "/login")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(html.contains("No portal here"));
    app.stop().await;
}

#[tokio::test]
async fn invitations_ask_for_the_code_and_a_resend_replaces_the_earlier() {
    let app = TestApp::spawn().await;
    let firm = app.create_firm("acme").await;
    let slug = firm.firm.slug.clone();
    let ann = app.add_contact(&firm, "ann@example.com", true).await;
    let ben = app.add_contact(&firm, "ben@example.com", true).await;
    let path = format!("/api/v1/contacts/{}/invitation", ann.id);
    let (status, body) = app
        .api(&firm.api_key, reqwest::Method::POST, &path, None)
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let first = app.last_link("ann@example.com").await.unwrap();
    assert_eq!(
        first.job.template,
        portico_shared::mail::Template::Invitation
    );
    let (_, body) = app
        .api(&firm.api_key, reqwest::Method::POST, &path, None)
        .await;
    assert_eq!(body["send_count"], 2);
    let second = app.last_link("ann@example.com").await.unwrap();
    assert_ne!(first.token, second.token);

    // Ben is signed in on this browser; opening Ann's invitation asks to switch.
    let browser = app.browser();
    browser.request_link(&app, &slug, "ben@example.com").await;
    browser
        .get(&app.last_link("ben@example.com").await.unwrap().link)
        .await;
    assert!(signed_in_as(&browser, &app, &slug, "ben@example.com").await);
    let (status, html) = browser.get_text(&second.link).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "an invitation never signs in on GET"
    );
    assert!(html.contains("Welcome to"));
    assert!(html.contains("You are signed in as <strong>ben@example.com</strong>"));
    assert!(html.contains("Sign out and continue"));

    // The replaced invitation is void; the new one works with its code.
    let response = browser
        .enter_code(&app, &slug, &first.token, &first.code)
        .await;
    assert_eq!(response.status(), StatusCode::GONE);
    let response = browser
        .enter_code(&app, &slug, &second.token, &second.code)
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert!(signed_in_as(&browser, &app, &slug, "ann@example.com").await);
    let ann = app.stored_contact(&firm.firm.id, &ann.id).await;
    assert!(ann.last_login_at.is_some());
    assert_ne!(ben.id, ann.id);
    app.stop().await;
}

#[tokio::test]
async fn secure_cookies_and_token_page_headers() {
    let app = TestApp::spawn_with(&[("PORTICO_COOKIE_SECURE", "true")]).await;
    let firm = app.create_firm("acme").await;
    let slug = firm.firm.slug.clone();
    app.add_contact(&firm, "ann@example.com", true).await;
    // reqwest would not send Secure cookies over plain HTTP, so read the headers directly.
    let client = app.browser();
    let login = client.get(&app.url(&slug, "/login")).await;
    let csrf_cookie = login.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(
        csrf_cookie.starts_with("__Host-portico_csrf="),
        "{csrf_cookie}"
    );
    for attr in ["HttpOnly", "SameSite=Lax", "Secure", "Path=/"] {
        assert!(csrf_cookie.contains(attr), "{csrf_cookie} lacks {attr}");
    }
    assert!(!csrf_cookie.contains("Domain"), "host-only");

    let plain = app.browser();
    let mail_code = {
        let csrf = plain.csrf(&app.url(&slug, "/login")).await;
        let anchor = csrf_cookie.split(';').next().unwrap().to_string();
        let r = plain
            .client
            .post(app.url(&slug, "/login"))
            .header("cookie", &anchor)
            .form(&[("email", "ann@example.com"), ("csrf", &csrf)])
            .send()
            .await
            .unwrap();
        assert_eq!(
            r.status(),
            StatusCode::FORBIDDEN,
            "a token for another anchor is refused"
        );
        // Same browser identity as the token: use the cookie the token was made for.
        let page = plain
            .client
            .get(app.url(&slug, "/login"))
            .header("cookie", &anchor)
            .send()
            .await
            .unwrap();
        let csrf = portico_e2e::csrf_in(&page.text().await.unwrap()).unwrap();
        let r = plain
            .client
            .post(app.url(&slug, "/login"))
            .header("cookie", &anchor)
            .form(&[("email", "ann@example.com"), ("csrf", &csrf)])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let binding = r.headers()["set-cookie"].to_str().unwrap().to_string();
        assert!(binding.starts_with("__Host-portico_binding="), "{binding}");
        assert!(binding.contains("Max-Age=3600"));
        let mail = app.last_link("ann@example.com").await.unwrap();
        let page = plain
            .client
            .get(&mail.link)
            .header("cookie", &anchor)
            .send()
            .await
            .unwrap();
        assert_eq!(page.headers()["referrer-policy"], "no-referrer");
        assert_eq!(page.headers()["cache-control"], "no-store");
        let page = plain
            .client
            .post(app.url(&slug, "/auth/magic"))
            .header("cookie", &anchor)
            .form(&[
                ("token", mail.token.as_str()),
                ("code", mail.code.as_str()),
                ("csrf", csrf.as_str()),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), StatusCode::SEE_OTHER);
        page.headers()
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().to_string())
            .find(|c| c.starts_with("__Host-portico_session="))
            .expect("a session cookie")
    };
    for attr in ["HttpOnly", "SameSite=Lax", "Secure", "Path=/"] {
        assert!(mail_code.contains(attr), "{mail_code} lacks {attr}");
    }
    app.stop().await;
}

#[tokio::test]
async fn sessions_rotate_at_sign_in_and_expire_when_idle() {
    let app = TestApp::spawn_with(&[("PORTICO_SESSION_IDLE", "2s")]).await;
    let firm = app.create_firm("acme").await;
    let slug = firm.firm.slug.clone();
    app.add_contact(&firm, "ann@example.com", true).await;
    let browser = app.browser();
    browser.request_link(&app, &slug, "ann@example.com").await;
    let r = browser
        .get(&app.last_link("ann@example.com").await.unwrap().link)
        .await;
    let first = session_cookie(&r);
    browser.request_link(&app, &slug, "ann@example.com").await;
    let r = browser
        .get(&app.last_link("ann@example.com").await.unwrap().link)
        .await;
    let second = session_cookie(&r);
    assert_ne!(first, second, "a new session id at every sign-in");
    assert!(signed_in_as(&browser, &app, &slug, "ann@example.com").await);
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert!(
        signed_in_as(&browser, &app, &slug, "ann@example.com").await,
        "activity extends"
    );
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert!(
        !signed_in_as(&browser, &app, &slug, "ann@example.com").await,
        "idle expiry"
    );
    app.stop().await;
}

fn session_cookie(response: &reqwest::Response) -> String {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|c| c.starts_with("portico_session="))
        .expect("a session cookie")
}

#[tokio::test]
async fn sessions_end_at_their_absolute_lifetime_despite_activity() {
    let app = TestApp::spawn_with(&[
        ("PORTICO_SESSION_IDLE", "2s"),
        ("PORTICO_SESSION_ABSOLUTE", "3s"),
    ])
    .await;
    let firm = app.create_firm("acme").await;
    let slug = firm.firm.slug.clone();
    app.add_contact(&firm, "ann@example.com", true).await;
    let browser = app.browser();
    browser.request_link(&app, &slug, "ann@example.com").await;
    browser
        .get(&app.last_link("ann@example.com").await.unwrap().link)
        .await;
    for _ in 0..2 {
        tokio::time::sleep(Duration::from_millis(1000)).await;
        assert!(signed_in_as(&browser, &app, &slug, "ann@example.com").await);
    }
    tokio::time::sleep(Duration::from_millis(1300)).await;
    assert!(
        !signed_in_as(&browser, &app, &slug, "ann@example.com").await,
        "absolute expiry"
    );
    app.stop().await;
}

#[tokio::test]
async fn older_links_stay_valid_unless_configured_otherwise() {
    for voids in [false, true] {
        let setting = voids.to_string();
        let app = TestApp::spawn_with(&[("PORTICO_NEW_LINK_VOIDS_OLD", setting.as_str())]).await;
        let firm = app.create_firm("acme").await;
        let slug = firm.firm.slug.clone();
        app.add_contact(&firm, "ann@example.com", true).await;
        app.browser()
            .request_link(&app, &slug, "ann@example.com")
            .await;
        let older = app.last_link("ann@example.com").await.unwrap();
        app.browser()
            .request_link(&app, &slug, "ann@example.com")
            .await;
        let newer = app.last_link("ann@example.com").await.unwrap();
        let response = app
            .browser()
            .enter_code(&app, &slug, &older.token, &older.code)
            .await;
        let expected = if voids {
            StatusCode::GONE
        } else {
            StatusCode::SEE_OTHER
        };
        assert_eq!(
            response.status(),
            expected,
            "PORTICO_NEW_LINK_VOIDS_OLD={voids}"
        );
        let response = app
            .browser()
            .enter_code(&app, &slug, &newer.token, &newer.code)
            .await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        app.stop().await;
    }
}
