//! The staff console in headless Chromium at a phone's width (390 px): sign in with one click
//! from the emailed link, the team page and the account page without sideways scrolling and
//! without browser-console errors (CSP included); screenshots land in `target/screenshots/`.
//!
//! Needs `chromium` and `chromedriver`, as `browser.rs`; skipped with `PORTICO_SKIP_BROWSER=1`.

use std::io::Write;

use fantoccini::Locator;
use portico_e2e::TestApp;
use portico_e2e::chrome::{Chrome, skip_requested};
use portico_e2e::staff::{add_member, owner};

/// Whether the page is wider than the window (something would scroll sideways).
async fn overflows(chrome: &Chrome) -> (i64, i64) {
    let answer = chrome
        .client
        .execute(
            "return [document.documentElement.scrollWidth, window.innerWidth];",
            vec![],
        )
        .await
        .unwrap();
    let pair = answer.as_array().unwrap();
    (pair[0].as_i64().unwrap(), pair[1].as_i64().unwrap())
}

#[tokio::test]
async fn the_console_fits_a_phone_and_signs_in_with_one_click() {
    if skip_requested() {
        let _ = writeln!(
            std::io::stderr(),
            "staff browser test SKIPPED (PORTICO_SKIP_BROWSER=1)"
        );
        return;
    }
    let chrome = Chrome::start().await;
    chrome.client.set_window_size(390, 844).await.unwrap();
    let app = TestApp::spawn().await;
    let firm = app.create_firm("acme").await;
    let slug = firm.firm.slug.clone();
    let owner = owner(&app, &firm).await;
    add_member(
        &app,
        &firm,
        "tess.with.a.rather.long.address@example.com",
        "team",
    )
    .await;
    app.api_ok(
        &firm,
        reqwest::Method::POST,
        "/api/v1/team/invitations",
        Some(serde_json::json!({"email": "nia@example.com", "role_id": "co_owner"})),
    )
    .await;

    chrome
        .client
        .goto(&app.url(&slug, "/staff/login"))
        .await
        .unwrap();
    chrome
        .client
        .find(Locator::Css("#email"))
        .await
        .unwrap()
        .send_keys(&owner.email)
        .await
        .unwrap();
    chrome
        .client
        .find(Locator::Css("main form button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    chrome.assert_no_console_errors("staff login").await;
    chrome.screenshot("staff-login-sent-390").await;
    let mail = app.last_link(&owner.email).await.expect("a staff link");
    chrome.client.goto(&mail.link).await.unwrap();
    // Signed in, the link lands on `/staff`, the dashboard, which is not part of this branch
    // (its 404 is drained here, not counted against the pages below).
    let cookies = chrome.client.get_all_cookies().await.unwrap();
    assert!(
        cookies.iter().any(|c| c.name().contains("staff")),
        "{cookies:?}"
    );
    let _ = chrome.console().await;
    chrome
        .client
        .goto(&app.url(&slug, "/staff/team"))
        .await
        .unwrap();
    let main = chrome
        .client
        .find(Locator::Css("main"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(main.contains("Invite someone"), "{main}");
    for (page, name) in [
        ("/staff/team", "staff-team-390"),
        ("/staff/account", "staff-account-390"),
    ] {
        chrome.client.goto(&app.url(&slug, page)).await.unwrap();
        let (scroll, inner) = overflows(&chrome).await;
        assert!(
            scroll <= inner,
            "{page} scrolls sideways: {scroll} > {inner}"
        );
        chrome.assert_no_console_errors(page).await;
        chrome.screenshot(name).await;
    }
    chrome.quit().await;
    app.stop().await;
}
