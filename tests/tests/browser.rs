//! A client's path through the portal in headless Chromium (real gateway, Redis and database;
//! Chromium through chromedriver): sign in through the emailed link with one click, work through
//! a task (uploading a document to it), sign a document, send a request, switch company, sign
//! in on a second device with the code typed loosely, and sign out; then look at invoices,
//! switch the portal to German in the settings and see the pages follow. Every page is checked
//! for browser-console errors (CSP violations
//! included), and a PNG screenshot of each lands in `target/screenshots/`.
//!
//! Needs `chromium` and `chromedriver` (Debian: `apt-get install chromium chromium-driver`);
//! fails when they are missing unless `PORTICO_SKIP_BROWSER=1`. See `tests/src/chrome.rs`.

use std::io::Write;

use fantoccini::Locator;
use portico_e2e::chrome::{Chrome, skip_requested};
use portico_e2e::{TestApp, sample_pdf};
use reqwest::Method;
use serde_json::json;

/// The page's main text once it contains `needle` (a click's navigation may still be under
/// way), failing after a few seconds with what the page says instead.
async fn wait_text(chrome: &Chrome, needle: &str) -> String {
    let mut last = String::new();
    for _ in 0..50 {
        if let Ok(main) = chrome.client.find(Locator::Css("main")).await
            && let Ok(text) = main.text().await
        {
            if text.contains(needle) {
                return text;
            }
            last = text;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the page never said {needle:?}; it says:\n{last}");
}

/// A screenshot of the page, once the console is known to be free of errors.
async fn page_done(chrome: &Chrome, name: &str) {
    chrome.assert_no_console_errors(name).await;
    chrome.screenshot(name).await;
}

async fn click(chrome: &Chrome, css: &str) {
    chrome
        .client
        .find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .click()
        .await
        .unwrap();
}

async fn type_into(chrome: &Chrome, css: &str, value: &str) {
    chrome
        .client
        .find(Locator::Css(css))
        .await
        .unwrap()
        .send_keys(value)
        .await
        .unwrap();
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
    let signing = acme
        .request_signature(
            &app,
            &ann.id,
            "Engagement letter 2026",
            "engagement.pdf",
            &sample_pdf("Engagement letter"),
        )
        .await;
    let signing_id = signing["id"].as_str().unwrap().to_string();
    let upload = std::env::temp_dir().join(format!("{}.pdf", portico_e2e::unique("statement-")));
    std::fs::write(&upload, sample_pdf("Bank statement")).unwrap();
    let slug = acme.firm.slug.clone();

    chrome.client.goto(&app.url(&slug, "/login")).await.unwrap();
    wait_text(&chrome, "Sign in to Acme Accounting").await;
    page_done(&chrome, "01-login").await;
    type_into(&chrome, "#email", "ann@example.com").await;
    // The field still has the focus: this one shows the focus ring.
    page_done(&chrome, "01-login-filled").await;
    click(&chrome, "form button[type=submit]").await;
    wait_text(&chrome, "Check your email").await;
    page_done(&chrome, "02-check-email").await;

    // The emailed link, opened in the same browser: one click.
    let mail = app.last_link("ann@example.com").await.unwrap();
    chrome.client.goto(&mail.link).await.unwrap();
    let home = wait_text(&chrome, "Welcome, Test Client").await;
    assert!(home.contains("Send your 2026 bank statements"));
    let url = chrome.client.current_url().await.unwrap();
    assert_eq!(
        url.as_str(),
        app.url(&slug, "/"),
        "the link lands on the home page"
    );
    page_done(&chrome, "03-home").await;

    click(&chrome, "a.task-title[href^='/tasks/']").await;
    wait_text(&chrome, "One PDF per account").await;
    click(&chrome, ".check-item form button").await;
    wait_text(&chrome, "1 of 2").await;
    page_done(&chrome, "04-task").await;
    // A document, chosen in the file input and sent by the form's own button (no script).
    type_into(&chrome, "#file", upload.to_str().unwrap()).await;
    click(&chrome, "form.upload button").await;
    let file_name = upload.file_name().unwrap().to_str().unwrap().to_string();
    wait_text(&chrome, &file_name).await;
    page_done(&chrome, "04-task-uploaded").await;
    let _ = std::fs::remove_file(&upload);
    click(&chrome, "form[action$='/complete'] button").await;
    wait_text(&chrome, "Completed").await;
    page_done(&chrome, "05-task-completed").await;

    // The signing request on the home page, read in its frame, signed.
    chrome.client.goto(&app.url(&slug, "/")).await.unwrap();
    wait_text(&chrome, "Engagement letter 2026").await;
    click(&chrome, &format!("a[href='/sign/{signing_id}']")).await;
    wait_text(&chrome, "I agree to sign electronically").await;
    page_done(&chrome, "05-sign").await;
    type_into(&chrome, "#sign-name", "Ann Example").await;
    click(&chrome, "#consent").await;
    click(
        &chrome,
        &format!("form[action='/sign/{signing_id}'] button"),
    )
    .await;
    let signed = wait_text(&chrome, "You signed this document as").await;
    assert!(signed.contains("Ann Example"), "{signed}");
    assert!(signed.contains("Audit trail"));
    page_done(&chrome, "05-signed").await;

    chrome.client.goto(&app.url(&slug, "/")).await.unwrap();
    type_into(
        &chrome,
        "#request-body",
        "Could we move Thursday's meeting to 3pm?",
    )
    .await;
    click(&chrome, "form[action='/requests'] button").await;
    wait_text(&chrome, "Could we move Thursday's meeting to 3pm?").await;
    page_done(&chrome, "06-request").await;

    click(&chrome, ".switcher").await;
    wait_text(&chrome, "Your companies").await;
    page_done(&chrome, "07-companies").await;
    click(&chrome, "form[action='/companies/switch'] button").await;
    wait_text(&chrome, "Welcome").await;
    let url = chrome.client.current_url().await.unwrap();
    assert!(
        url.as_str().starts_with(&app.url(&north.firm.slug, "/")),
        "{url}"
    );
    wait_text(&chrome, "Welcome").await;
    page_done(&chrome, "08-switched").await;

    // A second browser (another device) needs the code, typed loosely.
    let phone = Chrome::start().await;
    app.browser()
        .request_link(&app, &slug, "ann@example.com")
        .await;
    let mail = app.last_link("ann@example.com").await.unwrap();
    phone.client.goto(&mail.link).await.unwrap();
    wait_text(&phone, "Enter your code").await;
    page_done(&phone, "09-code").await;
    // Typed as people do: lower case, without the dash.
    let typed = mail.code.replace('-', "").to_lowercase();
    assert_ne!(typed, mail.code);
    type_into(&phone, "#code", &typed).await;
    click(&phone, "form button[type=submit]").await;
    wait_text(&phone, "Welcome, Test Client").await;
    page_done(&phone, "09-home-second-device").await;
    click(&phone, "header form[action='/logout'] button").await;
    wait_text(&phone, "You have signed out").await;
    page_done(&phone, "10-signed-out").await;
    // Signed out for real: the home page sends this browser to the sign-in form.
    phone.client.goto(&app.url(&slug, "/")).await.unwrap();
    wait_text(&phone, "Sign in to Acme Accounting").await;
    phone
        .assert_no_console_errors("the home page, signed out")
        .await;

    // The used link is refused with the friendly page.
    phone.client.goto(&mail.link).await.unwrap();
    wait_text(&phone, "This link cannot be used").await;
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
    wait_text(&chrome, "Invoice 2026-0042").await;
    wait_text(&chrome, "€1,299.00").await;
    page_done(&chrome, "12-invoices").await;

    chrome
        .client
        .goto(&app.url(&slug, "/settings"))
        .await
        .unwrap();
    wait_text(&chrome, "Email me when").await;
    page_done(&chrome, "13-settings").await;
    click(&chrome, "#language option[value='de']").await;
    click(&chrome, "form[action='/settings'] button[type=submit]").await;
    wait_text(&chrome, "Ihre Einstellungen wurden gespeichert").await;
    page_done(&chrome, "14-settings-saved-de").await;
    chrome.client.goto(&app.url(&slug, "/")).await.unwrap();
    wait_text(&chrome, "Send your 2026 bank statements").await;
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
    wait_text(&chrome, "Rechnung 2026-0042").await;
    wait_text(&chrome, "1.299,00").await;
    page_done(&chrome, "16-invoices-de").await;
    // The signed document's audit trail, its times written the German way.
    chrome
        .client
        .goto(&app.url(&slug, &format!("/sign/{signing_id}")))
        .await
        .unwrap();
    wait_text(&chrome, "Sie haben dieses Dokument als").await;
    wait_text(&chrome, "Uhr UTC").await;
    page_done(&chrome, "17-signed-de").await;

    chrome.quit().await;
    app.stop().await;
}
