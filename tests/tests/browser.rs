//! A client's path through the portal in headless Chromium (real gateway, Redis and database;
//! Chromium through chromedriver): sign in through the emailed link with one click, work through
//! a task (uploading a document to it), sign a document (reading its pages as images, on a
//! phone-wide window too), send a request, switch company, sign
//! in on a second device with the code typed loosely, and sign out; then look at invoices,
//! switch the portal to German in the settings and see the pages follow. Every page is checked
//! for browser-console errors (CSP violations
//! included), and a PNG screenshot of each lands in `target/screenshots/`.
//!
//! Needs `chromium` and `chromedriver` (Debian: `apt-get install chromium chromium-driver`);
//! fails when they are missing unless `PORTICO_SKIP_BROWSER=1`. See `tests/src/chrome.rs`.

use std::io::Write;

use fantoccini::Locator;
use portico_e2e::axe::{DESKTOP, PHONE, set_viewport};
use portico_e2e::chrome::{Chrome, skip_requested};
use portico_e2e::{TestApp, multi_page_pdf, sample_pdf, sha256_hex};
use portico_shared::store::PageImages;
use reqwest::Method;
use serde_json::json;

/// The sign page's image of page `page`, scrolled into view (pages after the first load
/// lazily), once it has loaded: its alt text, natural and shown width, and its column's width. Fails when it does not
/// load within a few seconds.
async fn page_image_shown(chrome: &Chrome, page: usize) -> serde_json::Value {
    let script = format!(
        "const img = document.querySelectorAll('.document-pages img')[{}]; \
         if (!img) return null; img.scrollIntoView(); \
         return {{ alt: img.alt, natural: img.complete ? img.naturalWidth : 0, \
         width: img.getBoundingClientRect().width, column: img.parentElement.clientWidth }};",
        page - 1
    );
    let mut last = serde_json::Value::Null;
    for _ in 0..50 {
        last = chrome.client.execute(&script, vec![]).await.unwrap();
        if last["natural"].as_u64().is_some_and(|w| w > 0) {
            return last;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("page image {page} never loaded: {last}");
}

/// A screenshot of the page, once the console is known to be free of errors.
async fn page_done(chrome: &Chrome, name: &str) {
    chrome.assert_no_console_errors(name).await;
    chrome.screenshot(name).await;
}

#[tokio::test]
async fn a_client_signs_in_and_works_through_the_portal_in_chromium() {
    if skip_requested() {
        // Straight to stderr: the test harness would swallow `eprintln!` of a passing test.
        let _ = writeln!(
            std::io::stderr(),
            "browser test SKIPPED (PORTICO_SKIP_BROWSER=1): pages not checked in Chromium"
        );
        return;
    }
    // First, so that missing binaries fail the test before anything else is set up.
    let chrome = Chrome::start().await;
    let app = TestApp::spawn().await;
    let acme = app.create_firm("acme").await;
    let north = app.create_firm("north").await;
    let ann = app.add_contact(&acme, "ann@example.com", true).await;
    app.add_contact(&north, "ann@example.com", true).await;
    app.api(
        &acme.api_key,
        Method::PATCH,
        "/api/v1/portal",
        Some(json!({"display_name": "Acme Accounting", "brand_color": "#0f766e"})),
    )
    .await;
    app.api(
        &acme.api_key,
        Method::POST,
        "/api/v1/tasks",
        Some(json!({
            "title": "Send your 2026 bank statements",
            "description": "One PDF per account, January to December.",
            "due_date": "2026-12-31",
            "portal": true,
            "assignees": [ann.id],
            "checklist": ["Current account", "Savings account"],
        })),
    )
    .await;
    let letter = multi_page_pdf("Engagement letter 2026", 3);
    let signing = acme
        .request_signature(
            &app,
            &ann.id,
            "Engagement letter 2026",
            "engagement.pdf",
            &letter,
        )
        .await;
    let signing_id = signing["id"].as_str().unwrap().to_string();
    assert!(matches!(
        app.rendered_pages(&sha256_hex(&letter)).await,
        PageImages::Ready { rendered: 3, .. }
    ));
    let upload = std::env::temp_dir().join(format!("{}.pdf", portico_e2e::unique("statement-")));
    std::fs::write(&upload, sample_pdf("Bank statement")).unwrap();
    let slug = acme.firm.slug.clone();

    chrome.client.goto(&app.url(&slug, "/login")).await.unwrap();
    chrome.wait_text("Sign in to Acme Accounting").await;
    page_done(&chrome, "01-login").await;
    chrome.type_into("#email", "ann@example.com").await;
    // The field still has the focus: this one shows the focus ring.
    page_done(&chrome, "01-login-filled").await;
    chrome.click("form button[type=submit]").await;
    chrome.wait_text("Check your email").await;
    page_done(&chrome, "02-check-email").await;

    // The emailed link, opened in the same browser: one click.
    let mail = app.last_link("ann@example.com").await.unwrap();
    chrome.client.goto(&mail.link).await.unwrap();
    let home = chrome.wait_text("Welcome, Test Client").await;
    assert!(home.contains("Send your 2026 bank statements"));
    let url = chrome.client.current_url().await.unwrap();
    assert_eq!(
        url.as_str(),
        app.url(&slug, "/"),
        "the link lands on the home page"
    );
    page_done(&chrome, "03-home").await;

    chrome.click("a.task-title[href^='/tasks/']").await;
    chrome.wait_text("One PDF per account").await;
    chrome.click(".check-item form button").await;
    chrome.wait_text("1 of 2").await;
    page_done(&chrome, "04-task").await;
    // A document, chosen in the file input and sent by the form's own button (no script).
    chrome.type_into("#file", upload.to_str().unwrap()).await;
    chrome.click("form.upload button").await;
    let file_name = upload.file_name().unwrap().to_str().unwrap().to_string();
    chrome.wait_text(&file_name).await;
    page_done(&chrome, "04-task-uploaded").await;
    let _ = std::fs::remove_file(&upload);
    chrome.click("form[action$='/complete'] button").await;
    chrome.wait_text("Completed").await;
    page_done(&chrome, "05-task-completed").await;

    // The signing request on the home page, read page by page on a phone, signed.
    chrome.client.goto(&app.url(&slug, "/")).await.unwrap();
    chrome.wait_text("Engagement letter 2026").await;
    chrome.click(&format!("a[href='/sign/{signing_id}']")).await;
    chrome.wait_text("I agree to sign electronically").await;
    page_done(&chrome, "05-sign").await;
    set_viewport(&chrome, PHONE).await;
    for page in 1..=3 {
        let shown = page_image_shown(&chrome, page).await;
        assert_eq!(shown["alt"], format!("Page {page} of 3"));
        // As wide as the card's text, which fits the phone.
        let width = shown["width"].as_f64().unwrap();
        let column = shown["column"].as_f64().unwrap();
        assert!(
            (width - column).abs() < 1.0 && width > 250.0 && width <= 390.0,
            "page {page}: {shown}"
        );
    }
    chrome
        .client
        .execute("window.scrollTo(0, 0);", vec![])
        .await
        .unwrap();
    page_done(&chrome, "05-sign-phone").await;
    set_viewport(&chrome, DESKTOP).await;
    chrome.type_into("#sign-name", "Ann Example").await;
    chrome.click("#consent").await;
    chrome
        .click(&format!("form[action='/sign/{signing_id}'] button"))
        .await;
    let signed = chrome.wait_text("You signed this document as").await;
    assert!(signed.contains("Ann Example"), "{signed}");
    assert!(signed.contains("Audit trail"));
    page_done(&chrome, "05-signed").await;

    chrome.client.goto(&app.url(&slug, "/")).await.unwrap();
    chrome
        .type_into("#request-body", "Could we move Thursday's meeting to 3pm?")
        .await;
    chrome.click("form[action='/requests'] button").await;
    chrome
        .wait_text("Could we move Thursday's meeting to 3pm?")
        .await;
    page_done(&chrome, "06-request").await;

    chrome.click(".switcher").await;
    chrome.wait_text("Your companies").await;
    page_done(&chrome, "07-companies").await;
    chrome
        .click("form[action='/companies/switch'] button")
        .await;
    chrome.wait_text("Welcome").await;
    let url = chrome.client.current_url().await.unwrap();
    assert!(
        url.as_str().starts_with(&app.url(&north.firm.slug, "/")),
        "{url}"
    );
    chrome.wait_text("Welcome").await;
    page_done(&chrome, "08-switched").await;

    // A second browser (another device) needs the code, typed loosely.
    let phone = Chrome::start().await;
    app.browser()
        .request_link(&app, &slug, "ann@example.com")
        .await;
    let mail = app.last_link("ann@example.com").await.unwrap();
    phone.client.goto(&mail.link).await.unwrap();
    phone.wait_text("Enter your code").await;
    page_done(&phone, "09-code").await;
    // Typed as people do: lower case, without the dash.
    let typed = mail.code.replace('-', "").to_lowercase();
    assert_ne!(typed, mail.code);
    phone.type_into("#code", &typed).await;
    phone.click("form button[type=submit]").await;
    phone.wait_text("Welcome, Test Client").await;
    page_done(&phone, "09-home-second-device").await;
    phone.click("header form[action='/logout'] button").await;
    phone.wait_text("You have signed out").await;
    page_done(&phone, "10-signed-out").await;
    // Signed out for real: the home page sends this browser to the sign-in form.
    phone.client.goto(&app.url(&slug, "/")).await.unwrap();
    phone.wait_text("Sign in to Acme Accounting").await;
    phone
        .assert_no_console_errors("the home page, signed out")
        .await;

    // The used link is refused with the friendly page.
    phone.client.goto(&mail.link).await.unwrap();
    phone.wait_text("This link cannot be used").await;
    page_done(&phone, "11-link-used").await;

    // The console check above is not vacuous: an inline style, which the policy forbids,
    // shows up as a Content-Security-Policy error.
    phone
        .client
        .execute(
            "const s = document.createElement('style'); s.textContent = 'main { color: red }'; \
             document.head.appendChild(s);",
            vec![],
        )
        .await
        .unwrap();
    let mut seen = Vec::new();
    for _ in 0..20 {
        seen.extend(phone.console().await);
        if seen
            .iter()
            .any(|e| e.message.contains("Content Security Policy"))
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(
        seen.iter()
            .any(|e| e.message.contains("Content Security Policy")),
        "an inline style was not reported as a CSP violation: {seen:#?}"
    );
    phone.quit().await;

    // Billing on, an invoice, and a logo in the header; then Ann switches to German.
    app.api(
        &acme.api_key,
        Method::PATCH,
        "/api/v1/portal",
        Some(json!({"billing_enabled": true})),
    )
    .await;
    let (status, _) = app
        .api(
            &acme.api_key,
            Method::POST,
            "/api/v1/invoices",
            Some(json!({
                "contact_id": ann.id,
                "number": "2026-0042",
                "amount": 129_900,
                "currency": "EUR",
                "issued_date": "2026-01-05",
                "due_date": "2099-02-05",
                "pay_url": "https://pay.example.com/2026-0042",
                "description": "Annual accounts 2025",
            })),
        )
        .await;
    assert_eq!(status, reqwest::StatusCode::CREATED);
    let logo = reqwest::Client::new()
        .put(app.plain_url("/api/v1/portal/logo"))
        .bearer_auth(&acme.api_key)
        .header("content-type", "image/png")
        .body(include_bytes!("../fixtures/logo.png").to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(logo.status(), reqwest::StatusCode::OK);

    chrome
        .client
        .goto(&app.url(&slug, "/invoices"))
        .await
        .unwrap();
    chrome.wait_text("Invoice 2026-0042").await;
    chrome.wait_text("€1,299.00").await;
    page_done(&chrome, "12-invoices").await;

    chrome
        .client
        .goto(&app.url(&slug, "/settings"))
        .await
        .unwrap();
    chrome.wait_text("Email me when").await;
    page_done(&chrome, "13-settings").await;
    chrome.click("#language option[value='de']").await;
    chrome
        .click("form[action='/settings'] button[type=submit]")
        .await;
    chrome
        .wait_text("Ihre Einstellungen wurden gespeichert")
        .await;
    page_done(&chrome, "14-settings-saved-de").await;
    chrome.client.goto(&app.url(&slug, "/")).await.unwrap();
    chrome.wait_text("Send your 2026 bank statements").await;
    let header = chrome
        .client
        .find(Locator::Css("header"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        header.contains("Einstellungen") && header.contains("Abmelden"),
        "{header}"
    );
    let lang = chrome
        .client
        .find(Locator::Css("html"))
        .await
        .unwrap()
        .attr("lang")
        .await
        .unwrap();
    assert_eq!(lang.as_deref(), Some("de"));
    page_done(&chrome, "15-home-de").await;
    chrome
        .client
        .goto(&app.url(&slug, "/invoices"))
        .await
        .unwrap();
    chrome.wait_text("Rechnung 2026-0042").await;
    chrome.wait_text("1.299,00").await;
    page_done(&chrome, "16-invoices-de").await;
    // The signed document's audit trail, its times written the German way.
    chrome
        .client
        .goto(&app.url(&slug, &format!("/sign/{signing_id}")))
        .await
        .unwrap();
    chrome.wait_text("Sie haben dieses Dokument als").await;
    chrome.wait_text("Uhr UTC").await;
    page_done(&chrome, "17-signed-de").await;

    chrome.quit().await;
    app.stop().await;
}
