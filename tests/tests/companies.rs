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

/// The first step, in `browser`: opens the target's handover link, which sets a nonce cookie on
/// the target's host and sends the browser back to the origin `from`; the confirmation link.
async fn open_at_target(app: &TestApp, browser: &Browser, handover: &str, from: &str) -> String {
    let response = browser.get(handover).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "{handover}");
    let confirm = location(&response);
    assert!(
        confirm.starts_with(&app.url(from, "/companies/handover/confirm?token=")),
        "the target sends the browser back to the origin: {confirm}"
    );
    confirm
}

/// The second step, in `browser`: the origin confirms and sends the browser on to the target
/// `to`; the landing link.
async fn confirm_at_origin(app: &TestApp, browser: &Browser, confirm: &str, to: &str) -> String {
    let response = browser.get(confirm).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "{confirm}");
    let land = location(&response);
    assert!(
        land.starts_with(&app.url(to, "/companies/handover/land?token=")),
        "the origin sends the browser on to land: {land}"
    );
    land
}

/// The `Set-Cookie` line of the handover nonce in a response, if any.
fn nonce_cookie(response: &reqwest::Response) -> Option<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|c| c.to_str().unwrap().to_string())
        .find(|c| c.starts_with("portico_handover="))
}

/// A page reached with a token in its URL is neither cached nor named as a referrer.
fn assert_token_page(response: &reqwest::Response) {
    let headers = response.headers();
    assert_eq!(
        headers["referrer-policy"],
        "no-referrer",
        "{}",
        response.url()
    );
    assert_eq!(headers["cache-control"], "no-store", "{}", response.url());
}

/// Sets fields of the one handover record in Redis, as someone who can write to it might.
async fn edit_handover_record(app: &TestApp, fields: &[(&str, &str)]) {
    let mut redis = app.redis.clone();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{}handover:*", app.config.redis_prefix))
        .query_async(&mut redis)
        .await
        .unwrap();
    assert_eq!(keys.len(), 1, "one handover record: {keys:?}");
    let mut hset = redis::cmd("HSET");
    hset.arg(&keys[0]);
    for (field, value) in fields {
        hset.arg(*field).arg(*value);
    }
    let _: i64 = hset.query_async(&mut redis).await.unwrap();
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

/// The switch as built: the target's link sets a nonce cookie on the target's own host and
/// sends the browser back to the origin, which confirms for the session that switched and
/// sends it on to the target's landing, which signs in where the nonce cookie matches. Each
/// step carries the token in its URL, so none is cached or named as a referrer, and each link
/// works once.
#[tokio::test]
async fn the_handover_goes_to_the_origin_and_back_in_the_browser_that_switched() {
    let app = TestApp::spawn().await;
    let acme = app.create_firm("acme").await;
    let north = app.create_firm("north").await;
    app.add_contact(&acme, "ann@example.com", true).await;
    app.add_contact(&north, "ann@example.com", true).await;
    let ann = app.signed_in(&acme, "ann@example.com").await;
    let (from, to) = (&acme.firm.slug, &north.firm.slug);

    let response = switch(&app, &ann, from, to).await;
    assert_token_page(&response);
    let handover = location(&response);
    let response = ann.get(&handover).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_token_page(&response);
    let confirm = location(&response);
    assert!(
        confirm.starts_with(&app.url(from, "/companies/handover/confirm?token=")),
        "back to the origin: {confirm}"
    );
    let nonce = nonce_cookie(&response).expect("the target sets a nonce cookie");
    for attribute in ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=60"] {
        assert!(nonce.contains(attribute), "{nonce}");
    }
    assert!(
        !nonce.to_ascii_lowercase().contains("domain="),
        "host-only, never the parent domain: {nonce}"
    );
    let response = ann.get(&confirm).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_token_page(&response);
    let land = location(&response);
    assert!(
        land.starts_with(&app.url(to, "/companies/handover/land?token=")),
        "on to land: {land}"
    );
    let response = ann.get(&land).await;
    assert_token_page(&response);
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/");
    assert!(
        nonce_cookie(&response).is_some_and(|c| c.contains("Max-Age=0")),
        "the nonce cookie is removed"
    );
    let (status, home) = ann.get_text(&app.url(to, "/")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(home.contains(&shown(&north.firm.name)));

    for link in [&handover, &confirm, &land] {
        let response = follow(&ann, link).await;
        assert_eq!(response.status(), StatusCode::GONE, "used: {link}");
        assert_token_page(&response);
    }
    app.stop().await;
}

/// A client of two firms can switch, then send a link of any step of the handover to someone
/// else (in a mail, on a sibling subdomain, in a firm's menu links). Whichever step the victim
/// opens, in a browser with no session or with their own session at the origin, they are not
/// signed in as the sender, and the handover is used up for everyone.
#[tokio::test]
async fn a_victim_who_opens_any_step_of_someone_elses_handover_is_not_signed_in() {
    let app = TestApp::spawn().await;
    let acme = app.create_firm("acme").await;
    let north = app.create_firm("north").await;
    app.add_contact(&acme, "ann@example.com", true).await;
    app.add_contact(&north, "ann@example.com", true).await;
    app.add_contact(&acme, "bob@example.com", true).await;
    let ann = app.signed_in(&acme, "ann@example.com").await;
    let (from, to) = (&acme.firm.slug, &north.firm.slug);

    for step in ["handover", "confirm", "land"] {
        for at_origin in [false, true] {
            let what = format!("{step} link, victim signed in at the origin: {at_origin}");
            let handover = location(&switch(&app, &ann, from, to).await);
            let link = match step {
                "handover" => handover,
                "confirm" => open_at_target(&app, &ann, &handover, from).await,
                _ => {
                    let confirm = open_at_target(&app, &ann, &handover, from).await;
                    confirm_at_origin(&app, &ann, &confirm, to).await
                }
            };
            let victim = if at_origin {
                app.signed_in(&acme, "bob@example.com").await
            } else {
                app.browser()
            };
            let response = follow(&victim, &link).await;
            assert_eq!(response.status(), StatusCode::GONE, "{what}");
            let html = response.text().await.unwrap();
            assert!(html.contains("Please sign in"), "{what}");
            let status = victim.get(&app.url(to, "/")).await.status();
            assert_ne!(
                status,
                StatusCode::OK,
                "{what}: the victim is not signed in"
            );

            // Used up: the sender cannot finish it either.
            let status = follow(&ann, &link).await.status();
            assert_eq!(status, StatusCode::GONE, "{what}: used up");
            let status = ann.get(&app.url(to, "/")).await.status();
            assert_ne!(status, StatusCode::OK, "{what}: used up");
        }
    }
    app.stop().await;
}

/// `Sec-Fetch-Site` proves nothing here: older browsers send none, and a sibling subdomain (any
/// firm's portal) is `same-site`. A victim's browser saying either is not signed in, while the
/// browser that switched needs no such header at all.
#[tokio::test]
async fn a_missing_or_same_site_sec_fetch_site_does_not_sign_a_victim_in() {
    let app = TestApp::spawn().await;
    let acme = app.create_firm("acme").await;
    let north = app.create_firm("north").await;
    app.add_contact(&acme, "ann@example.com", true).await;
    app.add_contact(&north, "ann@example.com", true).await;
    let ann = app.signed_in(&acme, "ann@example.com").await;
    let (from, to) = (&acme.firm.slug, &north.firm.slug);

    for site in [None, Some("same-site"), Some("same-origin")] {
        let handover = location(&switch(&app, &ann, from, to).await);
        let victim = app.browser();
        let response = follow_with(&victim, &handover, site).await;
        assert_eq!(response.status(), StatusCode::GONE, "{site:?}");
        let status = victim.get(&app.url(to, "/")).await.status();
        assert_ne!(
            status,
            StatusCode::OK,
            "{site:?}: the victim is not signed in"
        );
    }

    let handover = location(&switch(&app, &ann, from, to).await);
    let response = follow(&ann, &handover).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/");
    assert_eq!(ann.get(&app.url(to, "/")).await.status(), StatusCode::OK);
    app.stop().await;
}

/// Someone who can write to Redis edits a handover record: whom it signs in, or at which firm.
/// The record no longer verifies, and nobody is signed in.
#[tokio::test]
async fn a_handover_record_edited_in_redis_is_refused() {
    let app = TestApp::spawn().await;
    let acme = app.create_firm("acme").await;
    let north = app.create_firm("north").await;
    let west = app.create_firm("west").await;
    for firm in [&acme, &north, &west] {
        app.add_contact(firm, "ann@example.com", true).await;
    }
    let bob_north = app.add_contact(&north, "bob@example.com", true).await;
    let bob_west = app.add_contact(&west, "bob@example.com", true).await;
    let ann = app.signed_in(&acme, "ann@example.com").await;
    let from = &acme.firm.slug;

    // Whom it signs in.
    let handover = location(&switch(&app, &ann, from, &north.firm.slug).await);
    edit_handover_record(&app, &[("contact", bob_north.id.as_str())]).await;
    let response = follow(&ann, &handover).await;
    assert_eq!(response.status(), StatusCode::GONE, "contact edited");
    let status = ann.get(&app.url(&north.firm.slug, "/")).await.status();
    assert_ne!(status, StatusCode::OK, "not signed in, as Bob or anyone");

    // Which firm: moved to another firm where Bob is a client, and the link to its host.
    let handover = location(&switch(&app, &ann, from, &north.firm.slug).await);
    edit_handover_record(
        &app,
        &[
            ("firm", west.firm.id.as_str()),
            ("contact", bob_west.id.as_str()),
        ],
    )
    .await;
    let elsewhere = handover.replace(&north.firm.slug, &west.firm.slug);
    let response = follow(&ann, &elsewhere).await;
    assert_eq!(response.status(), StatusCode::GONE, "firm edited");
    let status = ann.get(&app.url(&west.firm.slug, "/")).await.status();
    assert_ne!(status, StatusCode::OK, "not signed in at the other firm");
    app.stop().await;
}

/// Access revoked after the origin confirmed, or the session that switched ended (or was
/// replaced by a new sign-in) before the origin confirmed: nobody lands signed in.
#[tokio::test]
async fn the_landing_is_refused_when_access_or_the_switching_session_ends_meanwhile() {
    let app = TestApp::spawn().await;
    let acme = app.create_firm("acme").await;
    let north = app.create_firm("north").await;
    app.add_contact(&acme, "ann@example.com", true).await;
    let ann_north = app.add_contact(&north, "ann@example.com", true).await;
    let ann = app.signed_in(&acme, "ann@example.com").await;
    let (from, to) = (&acme.firm.slug, &north.firm.slug);
    let set_access = |portal_access: bool| ContactPatch {
        portal_access: Some(portal_access),
        ..Default::default()
    };

    // Revoked between the confirmation and the landing.
    let handover = location(&switch(&app, &ann, from, to).await);
    let confirm = open_at_target(&app, &ann, &handover, from).await;
    let land = confirm_at_origin(&app, &ann, &confirm, to).await;
    app.store
        .update_contact(&north.firm.id, &ann_north.id, &set_access(false))
        .await
        .unwrap();
    assert_eq!(ann.get(&land).await.status(), StatusCode::GONE, "revoked");
    let status = ann.get(&app.url(to, "/")).await.status();
    assert_ne!(status, StatusCode::OK, "revoked: not signed in");
    app.store
        .update_contact(&north.firm.id, &ann_north.id, &set_access(true))
        .await
        .unwrap();

    // Signed out at the origin before it confirmed, then signed in again there.
    let first = location(&switch(&app, &ann, from, to).await);
    let second = location(&switch(&app, &ann, from, to).await);
    let first = open_at_target(&app, &ann, &first, from).await;
    let csrf = ann.csrf(&app.url(from, "/")).await;
    ann.post_form(&app.url(from, "/logout"), &[("csrf", &csrf)])
        .await;
    let status = follow(&ann, &first).await.status();
    assert_eq!(status, StatusCode::GONE, "signed out at the origin");
    ann.request_link(&app, from, "ann@example.com").await;
    let mail = app.last_link("ann@example.com").await.unwrap();
    assert_eq!(ann.get(&mail.link).await.status(), StatusCode::SEE_OTHER);
    let response = follow(&ann, &second).await;
    assert_eq!(
        response.status(),
        StatusCode::GONE,
        "another session at the origin"
    );
    let status = ann.get(&app.url(to, "/")).await.status();
    assert_ne!(status, StatusCode::OK, "not signed in");
    app.stop().await;
}

/// Of 16 concurrent landings in the browser that switched, exactly one signs in.
#[tokio::test]
async fn concurrent_landings_sign_in_once() {
    let app = TestApp::spawn().await;
    let acme = app.create_firm("acme").await;
    let north = app.create_firm("north").await;
    app.add_contact(&acme, "ann@example.com", true).await;
    app.add_contact(&north, "ann@example.com", true).await;
    let ann = app.signed_in(&acme, "ann@example.com").await;
    let (from, to) = (&acme.firm.slug, &north.firm.slug);

    let handover = location(&switch(&app, &ann, from, to).await);
    let confirm = open_at_target(&app, &ann, &handover, from).await;
    let land = confirm_at_origin(&app, &ann, &confirm, to).await;
    let mut landings = tokio::task::JoinSet::new();
    for _ in 0..16 {
        let (ann, land) = (ann.clone(), land.clone());
        landings.spawn(async move { ann.get(&land).await.status() });
    }
    let statuses = landings.join_all().await;
    let signed_in = statuses
        .iter()
        .filter(|s| **s == StatusCode::SEE_OTHER)
        .count();
    assert_eq!(signed_in, 1, "{statuses:?}");
    assert!(
        statuses
            .iter()
            .all(|s| *s == StatusCode::SEE_OTHER || *s == StatusCode::GONE),
        "{statuses:?}"
    );
    app.stop().await;
}
