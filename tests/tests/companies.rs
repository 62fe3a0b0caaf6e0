//! Company switching: a client of several firms moves between their portals without a new
//! email, and only to firms where they still have access.

use portico_e2e::{Browser, TestApp};
use portico_shared::store::ContactPatch;
use reqwest::StatusCode;

/// A firm name as it appears in HTML.
fn shown(name: &str) -> String {
    name.replace('&', "&amp;")
}

fn location(response: &reqwest::Response) -> String {
    response.headers()["location"].to_str().unwrap().to_string()
}

/// Follows the handover's own redirects (target → origin → target) as a browser does, sending
/// `Sec-Fetch-Site: {site}` when given; the first answer that is not one of them.
async fn follow_with(browser: &Browser, url: &str, site: Option<&str>) -> reqwest::Response {
    let mut url = url.to_string();
    for _ in 0..5 {
        let mut request = browser.client.get(&url);
        if let Some(site) = site {
            request = request.header("sec-fetch-site", site);
        }
        let response = request.send().await.expect("GET");
        let next = response
            .headers()
            .get("location")
            .and_then(|l| l.to_str().ok())
            .filter(|l| response.status().is_redirection() && l.contains("/companies/handover"))
            .map(str::to_string);
        match next {
            Some(next) => url = next,
            None => return response,
        }
    }
    panic!("the handover redirects in a circle: {url}");
}

async fn follow(browser: &Browser, url: &str) -> reqwest::Response {
    follow_with(browser, url, None).await
}

async fn switch(app: &TestApp, browser: &Browser, from: &str, to: &str) -> reqwest::Response {
    let csrf = browser.csrf(&app.url(from, "/companies")).await;
    browser
        .post_form(
            &app.url(from, "/companies/switch"),
            &[("csrf", &csrf), ("firm", to)],
        )
        .await
}

#[tokio::test]
async fn a_client_switches_company_without_a_new_email() {
    let app = TestApp::spawn().await;
    let acme = app.create_firm("acme").await;
    let north = app.create_firm("north").await;
    app.add_contact(&acme, "ann@example.com", true).await;
    app.add_contact(&north, "Ann@Example.com", true).await;
    let browser = app.signed_in(&acme, "ann@example.com").await;

    let (_, home) = browser.get_text(&app.url(&acme.firm.slug, "/")).await;
    assert!(home.contains("Switch company"));
    let (_, companies) = browser
        .get_text(&app.url(&acme.firm.slug, "/companies"))
        .await;
    assert!(
        companies.contains(&shown(&acme.firm.name)) && companies.contains(&shown(&north.firm.name))
    );
    assert!(companies.contains("You are here"));

    let response = switch(&app, &browser, &acme.firm.slug, &north.firm.slug).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let handover = location(&response);
    assert!(
        handover.starts_with(&app.url(&north.firm.slug, "/companies/handover?token=")),
        "{handover}"
    );
    let jobs_before = app.mail_jobs().await.len();
    let response = follow(&browser, &handover).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/");
    let (status, home) = browser.get_text(&app.url(&north.firm.slug, "/")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(home.contains(&shown(&north.firm.name)) && home.contains("Ann@Example.com"));
    assert_eq!(app.mail_jobs().await.len(), jobs_before, "no email needed");
    // Still signed in at the first firm too.
    assert_eq!(
        browser.get_text(&app.url(&acme.firm.slug, "/")).await.0,
        StatusCode::OK
    );

    // The handover token is single use, and only for its firm.
    let replay = app.browser();
    let (status, html) = replay.get_text(&handover).await;
    assert_eq!(status, StatusCode::GONE);
    assert!(html.contains("Please sign in"));
    let response = switch(&app, &browser, &acme.firm.slug, &north.firm.slug).await;
    let elsewhere = location(&response).replace(&north.firm.slug, &acme.firm.slug);
    let (status, _) = replay.get_text(&elsewhere).await;
    assert_eq!(status, StatusCode::GONE);
    app.stop().await;
}

#[tokio::test]
async fn switching_is_refused_without_access_or_when_access_is_revoked_meanwhile() {
    let app = TestApp::spawn().await;
    let acme = app.create_firm("acme").await;
    let north = app.create_firm("north").await;
    let closed = app.create_firm("closed").await;
    let single = app.create_firm("single").await;
    app.add_contact(&acme, "ann@example.com", true).await;
    let ann_north = app.add_contact(&north, "ann@example.com", true).await;
    app.add_contact(&closed, "ann@example.com", false).await;
    app.add_contact(&single, "solo@example.com", true).await;
    let browser = app.signed_in(&acme, "ann@example.com").await;

    for slug in [
        closed.firm.slug.as_str(),
        single.firm.slug.as_str(),
        "nosuchfirm",
        "",
    ] {
        let response = switch(&app, &browser, &acme.firm.slug, slug).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{slug:?}");
    }
    let (_, companies) = browser
        .get_text(&app.url(&acme.firm.slug, "/companies"))
        .await;
    assert!(
        !companies.contains(&closed.firm.name),
        "no access, not listed"
    );
    let response = browser
        .post_form(
            &app.url(&acme.firm.slug, "/companies/switch"),
            &[("firm", north.firm.slug.as_str())],
        )
        .await;
    assert_eq!(
        response.status(),
        StatusCode::FORBIDDEN,
        "CSRF token missing"
    );

    // Access revoked between the switch and the landing.
    let response = switch(&app, &browser, &acme.firm.slug, &north.firm.slug).await;
    let handover = location(&response);
    let patch = ContactPatch {
        portal_access: Some(false),
        ..Default::default()
    };
    app.store
        .update_contact(&north.firm.id, &ann_north.id, &patch)
        .await
        .unwrap();
    let status = follow(&browser, &handover).await.status();
    assert_eq!(status, StatusCode::GONE);
    assert_eq!(
        browser.get(&app.url(&north.firm.slug, "/")).await.status(),
        StatusCode::SEE_OTHER
    );

    // A client of one firm sees no switcher.
    let solo = app.signed_in(&single, "solo@example.com").await;
    let (_, home) = solo.get_text(&app.url(&single.firm.slug, "/")).await;
    assert!(!home.contains("Switch company"));
    app.stop().await;
}

/// A handover link opened anywhere but as the redirect of a switch (a link someone was sent,
/// which browsers mark `Sec-Fetch-Site: cross-site` or `none`) signs nobody in, and is used up.
#[tokio::test]
async fn a_handover_link_opened_from_elsewhere_signs_nobody_in() {
    let app = TestApp::spawn().await;
    let acme = app.create_firm("acme").await;
    let north = app.create_firm("north").await;
    app.add_contact(&acme, "ann@example.com", true).await;
    app.add_contact(&north, "ann@example.com", true).await;
    let ann = app.signed_in(&acme, "ann@example.com").await;
    let (from, to) = (&acme.firm.slug, &north.firm.slug);

    for site in ["cross-site", "none"] {
        let handover = location(&switch(&app, &ann, from, to).await);
        let victim = app.browser();
        let response = follow_with(&victim, &handover, Some(site)).await;
        assert_eq!(response.status(), StatusCode::GONE, "{site}");
        let cookies = response.headers().get_all("set-cookie");
        assert!(
            cookies
                .iter()
                .all(|c| !c.to_str().unwrap().contains("session=")),
            "{site}: no session cookie"
        );
        let (status, _) = victim.get_text(&app.url(to, "/")).await;
        assert_ne!(status, StatusCode::OK, "{site}: not signed in");
        // Used up, even by the right browser.
        let response = follow_with(&ann, &handover, Some("same-site")).await;
        assert_eq!(response.status(), StatusCode::GONE);
    }

    // The real thing: the redirect of a switch, same-site.
    let handover = location(&switch(&app, &ann, from, to).await);
    let response = follow_with(&ann, &handover, Some("same-site")).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(ann.get_text(&app.url(to, "/")).await.0, StatusCode::OK);
    app.stop().await;
}
