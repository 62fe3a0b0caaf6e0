//! The staff console in one headless Chromium, through its real forms: the Owner signs in,
//! makes a custom role and invites a member with it; the member accepts the invitation with
//! its code, gives a contact portal access and shares a task with a checklist; the client signs
//! in to the portal and sees the task; the member sees no delete button their role lacks.
//! On the way, every console page (each with content) passes axe-core's WCAG 2.1 A/AA rules
//! and fits a 390 px phone (`portico_e2e::axe::assert_accessible`).
//!
//! Screenshots land in `target/screenshots/accessibility/console-*` (the scans, both widths)
//! and `target/screenshots/console-*` (the scenario's steps).
//!
//! Needs `chromium`, `chromedriver` and axe-core in `tests/axe/node_modules/` (`./dev test`
//! installs all three); skipped only with `PORTICO_SKIP_BROWSER=1`. Runs once, on SQLite.

use std::io::Write;
use std::time::Duration;

use fantoccini::Locator;
use portico_e2e::axe::{self, assert_accessible};
use portico_e2e::chrome::{Chrome, skip_requested};
use portico_e2e::staff::owner;
use portico_e2e::{TestApp, sample_pdf};
use reqwest::{Method, StatusCode};
use serde_json::json;

/// Picks the option of the `<select>` at `css` whose text is `text`.
async fn choose(chrome: &Chrome, css: &str, text: &str) {
    chrome
        .client
        .find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .select_by_label(text)
        .await
        .unwrap_or_else(|e| panic!("choose {text:?} in {css}: {e}"));
}

async fn open(chrome: &Chrome, url: &str, needle: &str) -> String {
    chrome.client.goto(url).await.unwrap();
    chrome.wait_text(needle).await
}

/// Submits the form of the button at `css` without the browser's own checks (as an old
/// browser, or a hand-made request, would), and waits for the page's error message.
async fn submit_for_error(chrome: &Chrome, css: &str) -> String {
    chrome
        .client
        .execute(
            "document.querySelectorAll('form').forEach(function (f) { f.noValidate = true; });",
            vec![],
        )
        .await
        .unwrap();
    chrome.click(css).await;
    let alert = chrome
        .client
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css("main [role=alert]"))
        .await
        .unwrap_or_else(|e| panic!("no error message after submitting {css}: {e}"));
    alert.text().await.unwrap()
}

/// How many elements match `css` on the page.
async fn count(chrome: &Chrome, css: &str) -> usize {
    chrome
        .client
        .find_all(Locator::Css(css))
        .await
        .map(|found| found.len())
        .unwrap_or_default()
}

/// The id at the end of the current URL's path (`/staff/roles/{id}` → `{id}`).
async fn last_segment(chrome: &Chrome) -> String {
    let url = chrome.client.current_url().await.unwrap();
    url.path()
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_string()
}

#[tokio::test]
async fn the_console_works_in_chromium_and_every_page_passes_axe() {
    if skip_requested() {
        let _ = writeln!(
            std::io::stderr(),
            "console browser test SKIPPED (PORTICO_SKIP_BROWSER=1): pages not scanned"
        );
        return;
    }
    // axe-core and the browser first, so that a missing one fails before anything else.
    axe::axe_source();
    let chrome = Chrome::start().await;

    // ---- content for every page ----
    let app = TestApp::spawn().await;
    let acme = app.create_firm("acme").await;
    let slug = acme.firm.slug.clone();
    let url = |path: &str| app.url(&slug, path);
    let boss = owner(&app, &acme).await;
    app.api_ok(
        &acme,
        Method::PATCH,
        "/api/v1/portal",
        Some(json!({
            "display_name": "Acme Accounting & Tax Advisers",
            "brand_color": "#0f766e",
            "billing_enabled": true,
            "menu_links": [{"label": "Our website", "url": "https://acme.example.com/"}],
        })),
    )
    .await;
    let ann = app.add_contact(&acme, "ann@example.com", true).await;
    // Bob has no portal access yet: the member gives it to him.
    app.add_contact(&acme, "bob.with.a.long.address@example.com", false)
        .await;
    app.add_contact(&acme, "cleo@example.com", false).await;
    let (status, task) = app
        .api(
            &acme.api_key,
            Method::POST,
            "/api/v1/tasks",
            Some(json!({
                "title": "Send your 2026 bank statements",
                "description": "One PDF per account, January to December.",
                "due_date": "2026-01-31",
                "portal": true,
                "assignees": [ann.id],
                "checklist": ["Current account", "Savings account"],
            })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{task}");
    let task_id = task["id"].as_str().expect("a task id").to_string();
    let signing = acme
        .request_signature(
            &app,
            &ann.id,
            "Engagement letter 2026",
            "engagement.pdf",
            &sample_pdf("Engagement letter"),
        )
        .await;
    let signing_id = signing["id"].as_str().expect("a signing id").to_string();
    for (number, due) in [("2026-0042", "2099-02-05"), ("2025-0107", "2025-03-01")] {
        let (status, body) = app
            .api(
                &acme.api_key,
                Method::POST,
                "/api/v1/invoices",
                Some(json!({
                    "contact_id": ann.id,
                    "number": number,
                    "amount": 129_900,
                    "currency": "EUR",
                    "issued_date": "2025-01-05",
                    "due_date": due,
                    "pay_url": "https://pay.example.com/x",
                    "description": "Annual accounts",
                })),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    // Ann asks something from her portal; the Owner answers it in the console below.
    let client = app.signed_in(&acme, "ann@example.com").await;
    let csrf = client.csrf(&url("/")).await;
    let asked = client
        .post_form(
            &url("/requests"),
            &[
                ("body", "Could we move Thursday's meeting?"),
                ("csrf", &csrf),
            ],
        )
        .await;
    assert_eq!(asked.status(), StatusCode::SEE_OTHER, "request sent");
    let thread = asked
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .expect("the request's page")
        .to_string();
    let conversation_id = thread.rsplit('/').next().unwrap().to_string();

    // ---- signed out: the staff sign-in pages ----
    open(&chrome, &url("/staff/login"), "Staff sign-in").await;
    assert_accessible(&chrome, "console-01-login").await;
    chrome.type_into("#email", "not an address").await;
    chrome.click("main form button[type=submit]").await;
    chrome
        .client
        .wait()
        .for_element(Locator::Css("#email-error"))
        .await
        .unwrap();
    assert_accessible(&chrome, "console-01-login-error").await;
    chrome
        .client
        .find(Locator::Css("#email"))
        .await
        .unwrap()
        .clear()
        .await
        .unwrap();
    chrome.type_into("#email", &boss.email).await;
    chrome.click("main form button[type=submit]").await;
    chrome.wait_text("Check your email").await;
    assert_accessible(&chrome, "console-02-login-sent").await;
    open(
        &chrome,
        &url("/staff/auth/magic?token=not-a-real-token"),
        "This link no longer works",
    )
    .await;
    assert_accessible(&chrome, "console-03-link-invalid").await;

    // The Owner opens the mailed link in the browser that asked for it: signed in at once.
    let mail = app.last_link(&boss.email).await.expect("a staff link");
    open(&chrome, &mail.link, "Dashboard").await;
    chrome.screenshot("console-owner-signed-in").await;
    assert_accessible(&chrome, "console-04-dashboard").await;

    // ---- the Owner makes a custom role ----
    open(&chrome, &url("/staff/roles/new"), "New role").await;
    assert_accessible(&chrome, "console-05-role-new").await;
    chrome.type_into("#name", "Bookkeeper").await;
    for grant in [
        "contacts-view",
        "contacts-edit",
        "tasks-view",
        "tasks-create",
        "tasks-edit",
        "conversations-view",
    ] {
        chrome.click(&format!("#grant-{grant}")).await;
    }
    chrome.click("main form button[type=submit]").await;
    chrome.wait_text("Save role").await;
    let role_id = last_segment(&chrome).await;
    assert!(!role_id.is_empty() && role_id != "roles", "{role_id}");
    chrome.screenshot("console-role-created").await;
    assert_accessible(&chrome, "console-06-role").await;
    open(&chrome, &url("/staff/roles"), "Bookkeeper").await;
    assert_accessible(&chrome, "console-07-roles").await;

    // ---- …and invites a member with it ----
    open(&chrome, &url("/staff/team"), "Invite someone").await;
    chrome.type_into("#invite-email", "mia@example.com").await;
    choose(&chrome, "#invite-role", "Bookkeeper").await;
    chrome
        .click("form[action='/staff/team/invitations'] button")
        .await;
    chrome.wait_text("mia@example.com").await;
    chrome.screenshot("console-member-invited").await;
    assert_accessible(&chrome, "console-08-team").await;

    // ---- the Owner's other pages, each with content ----
    open(&chrome, &url("/staff/api-keys"), "API keys").await;
    chrome.type_into("#key-name", "Practice system").await;
    chrome.click("form[action='/staff/api-keys'] button").await;
    chrome.wait_text("Your new key").await;
    assert_accessible(&chrome, "console-09-api-key-created").await;
    open(&chrome, &url("/staff/api-keys"), "Practice system").await;
    assert_accessible(&chrome, "console-09-api-keys").await;

    open(&chrome, &url("/staff/contacts"), "ann@example.com").await;
    assert_accessible(&chrome, "console-10-contacts").await;
    open(
        &chrome,
        &url(&format!("/staff/contacts/{}", ann.id)),
        "Portal access",
    )
    .await;
    assert_accessible(&chrome, "console-11-contact").await;

    // ---- the Owner previews Ann's portal: a reason first, then her pages with the banner ----
    let refused = submit_for_error(&chrome, "form[action$='/previews'] button").await;
    assert!(refused.contains("Give a reason"), "{refused}");
    assert_accessible(&chrome, "console-11-preview-reason-error").await;
    chrome
        .type_into("#preview-reason", "Checking her documents before our call")
        .await;
    chrome.click("form[action$='/previews'] button").await;
    chrome.wait_text("Welcome, Test Client").await;
    assert_eq!(
        count(&chrome, "aside.preview-banner").await,
        1,
        "the banner"
    );
    assert_eq!(
        count(&chrome, "fieldset.read-only[disabled]").await,
        1,
        "the form"
    );
    chrome.screenshot("console-preview-home").await;
    assert_accessible(&chrome, "console-11-preview-home").await;
    open(
        &chrome,
        &url(&format!(
            "/staff/contacts/{}/preview/tasks/{task_id}",
            ann.id
        )),
        "Savings account",
    )
    .await;
    assert_accessible(&chrome, "console-11-preview-task").await;
    open(
        &chrome,
        &url(&format!("/staff/contacts/{}", ann.id)),
        "Checking her documents before our call",
    )
    .await;

    open(
        &chrome,
        &url(&format!("/staff/conversations/{conversation_id}")),
        "Could we move Thursday's meeting?",
    )
    .await;
    chrome
        .type_into("#body", "Thursday at 3pm works for us.")
        .await;
    chrome.click("main form button[type=submit]").await;
    chrome.wait_text("Thursday at 3pm works for us.").await;
    assert_accessible(&chrome, "console-12-conversation").await;
    open(&chrome, &url("/staff/conversations"), "Thursday").await;
    assert_accessible(&chrome, "console-13-conversations").await;

    open(
        &chrome,
        &url("/staff/tasks"),
        "Send your 2026 bank statements",
    )
    .await;
    assert_accessible(&chrome, "console-14-tasks").await;
    open(
        &chrome,
        &url(&format!("/staff/tasks/{task_id}")),
        "Savings account",
    )
    .await;
    assert_accessible(&chrome, "console-15-task").await;
    open(
        &chrome,
        &url(&format!("/staff/tasks/{task_id}/edit")),
        "Save task",
    )
    .await;
    assert_accessible(&chrome, "console-16-task-edit").await;
    open(&chrome, &url("/staff/tasks/new"), "Create task").await;
    assert_accessible(&chrome, "console-16-task-new").await;

    open(&chrome, &url("/staff/signing"), "Engagement letter 2026").await;
    assert_accessible(&chrome, "console-17-signing").await;
    open(
        &chrome,
        &url(&format!("/staff/signing/{signing_id}")),
        "Engagement letter 2026",
    )
    .await;
    assert_accessible(&chrome, "console-18-signing-request").await;
    open(&chrome, &url("/staff/signing/new"), "Title").await;
    assert_accessible(&chrome, "console-19-signing-new").await;

    open(&chrome, &url("/staff/invoices"), "2026-0042").await;
    assert_accessible(&chrome, "console-20-invoices").await;
    open(&chrome, &url("/staff/invoices/new"), "Invoice number").await;
    assert_accessible(&chrome, "console-21-invoice-new").await;

    open(&chrome, &url("/staff/settings/portal"), "Brand colour").await;
    assert_accessible(&chrome, "console-22-portal-settings").await;
    open(&chrome, &url("/staff/account"), "You sign in with").await;
    assert_accessible(&chrome, "console-23-account").await;

    // ---- client accounts and permission sets ----
    open(&chrome, &url("/staff/accounts"), "Client accounts").await;
    chrome.type_into("#name", "Archer Household").await;
    chrome.click("form[action='/staff/accounts'] button").await;
    chrome.wait_text("The account was created.").await;
    assert_accessible(&chrome, "console-24-client-account").await;
    chrome.type_into("#email", "ann@example.com").await;
    chrome.click("form[action$='/contacts'] button").await;
    chrome
        .wait_text("The contact now belongs to this account.")
        .await;
    chrome.screenshot("console-client-account").await;
    assert_accessible(&chrome, "console-25-client-account-contacts").await;
    open(&chrome, &url("/staff/accounts"), "Archer Household").await;
    assert_accessible(&chrome, "console-26-client-accounts").await;
    open(
        &chrome,
        &url(&format!("/staff/contacts/{}/placement", ann.id)),
        "Account and permission set",
    )
    .await;
    assert_accessible(&chrome, "console-27-placement").await;
    open(
        &chrome,
        &url("/staff/permission-sets/new"),
        "New permission set",
    )
    .await;
    chrome.type_into("#name", "Bookkeeping only").await;
    chrome.click("#on-invoices").await;
    chrome.click("main form button[type=submit]").await;
    chrome.wait_text("Save set").await;
    assert_accessible(&chrome, "console-28-permission-set").await;
    open(&chrome, &url("/staff/permission-sets"), "Bookkeeping only").await;
    assert_accessible(&chrome, "console-29-permission-sets").await;

    // ---- the forms again, each refusing what was typed, with its message ----
    open(&chrome, &url("/staff/contacts"), "New contact").await;
    chrome.type_into("#new-name", "Ann Again").await;
    chrome.type_into("#new-email", "not an address").await;
    submit_for_error(
        &chrome,
        "form[method=post][action='/staff/contacts'] button",
    )
    .await;
    assert_accessible(&chrome, "console-40-contact-new-error").await;
    open(
        &chrome,
        &url(&format!("/staff/contacts/{}", ann.id)),
        "Portal access",
    )
    .await;
    chrome
        .client
        .find(Locator::Css("#edit-email"))
        .await
        .unwrap()
        .clear()
        .await
        .unwrap();
    submit_for_error(
        &chrome,
        &format!("form[action='/staff/contacts/{}'] button", ann.id),
    )
    .await;
    assert_accessible(&chrome, "console-41-contact-edit-error").await;
    open(&chrome, &url("/staff/tasks/new"), "Create task").await;
    chrome.type_into("#title", "For nobody").await;
    chrome.type_into("#assignees", "nobody@example.com").await;
    submit_for_error(&chrome, "main form button[type=submit]").await;
    assert_accessible(&chrome, "console-42-task-new-error").await;
    open(&chrome, &url("/staff/signing/new"), "Title").await;
    submit_for_error(&chrome, "main form button[type=submit]").await;
    assert_accessible(&chrome, "console-43-signing-new-error").await;
    open(&chrome, &url("/staff/invoices/new"), "Invoice number").await;
    chrome.type_into("#amount", "a lot").await;
    submit_for_error(&chrome, "main form button[type=submit]").await;
    assert_accessible(&chrome, "console-44-invoice-new-error").await;
    open(&chrome, &url("/staff/roles/new"), "New role").await;
    submit_for_error(&chrome, "main form button[type=submit]").await;
    assert_accessible(&chrome, "console-45-role-new-error").await;
    open(&chrome, &url("/staff/api-keys"), "API keys").await;
    submit_for_error(&chrome, "form[action='/staff/api-keys'] button").await;
    assert_accessible(&chrome, "console-46-api-key-error").await;
    open(&chrome, &url("/staff/settings/portal"), "Brand colour").await;
    chrome
        .client
        .find(Locator::Css("#brand_color"))
        .await
        .unwrap()
        .clear()
        .await
        .unwrap();
    chrome.type_into("#brand_color", "blue").await;
    submit_for_error(
        &chrome,
        "form[action='/staff/settings/portal'] button[type=submit]",
    )
    .await;
    assert_accessible(&chrome, "console-47-portal-settings-error").await;
    open(
        &chrome,
        &url(&format!("/staff/conversations/{conversation_id}")),
        "Could we move Thursday's meeting?",
    )
    .await;
    submit_for_error(&chrome, "main form button[type=submit]").await;
    assert_accessible(&chrome, "console-48-conversation-reply-error").await;
    open(&chrome, &url("/staff/account"), "You sign in with").await;
    chrome.type_into("#email", "not an address").await;
    submit_for_error(&chrome, "form:has(#email) button[type=submit]").await;
    assert_accessible(&chrome, "console-49-account-error").await;
    open(&chrome, &url("/staff/team"), "Invite someone").await;
    chrome.type_into("#invite-email", "not an address").await;
    submit_for_error(&chrome, "form[action='/staff/team/invitations'] button").await;
    assert_accessible(&chrome, "console-50-team-invite-error").await;
    open(&chrome, &url("/staff/accounts"), "New account").await;
    submit_for_error(&chrome, "form[action='/staff/accounts'] button").await;
    assert_accessible(&chrome, "console-51-client-account-error").await;
    open(
        &chrome,
        &url("/staff/permission-sets/new"),
        "New permission set",
    )
    .await;
    submit_for_error(&chrome, "main form button[type=submit]").await;
    assert_accessible(&chrome, "console-52-permission-set-error").await;

    chrome
        .client
        .goto(&url("/staff/tasks/no-such-task"))
        .await
        .unwrap();
    chrome
        .client
        .wait()
        .for_element(Locator::Css("main h1"))
        .await
        .unwrap();
    assert_accessible(&chrome, "console-24-not-found").await;

    // ---- the member accepts the invitation ----
    let invitation = app
        .last_link("mia@example.com")
        .await
        .expect("an invitation was mailed");
    // Still signed in as the Owner here: the page says so and changes nothing.
    open(&chrome, &invitation.link, "signed in as someone else").await;
    assert_accessible(&chrome, "console-25-other-member").await;
    chrome.click("form[action='/staff/logout'] button").await;
    chrome.wait_text("You are signed out").await;
    open(&chrome, &invitation.link, "Join the team").await;
    assert_accessible(&chrome, "console-26-invitation-code").await;
    chrome.type_into("#code", "AAAA-AAAA").await;
    chrome.click("main form button[type=submit]").await;
    chrome
        .client
        .wait()
        .for_element(Locator::Css("#code-error"))
        .await
        .unwrap();
    assert_accessible(&chrome, "console-26-invitation-code-error").await;
    chrome.type_into("#code", &invitation.code).await;
    chrome.click("main form button[type=submit]").await;
    chrome.wait_text("Dashboard").await;
    chrome.screenshot("console-member-joined").await;
    let who = chrome
        .client
        .find(Locator::Css("header .who"))
        .await
        .unwrap()
        .attr("title")
        .await
        .unwrap();
    assert_eq!(who.as_deref(), Some("mia@example.com"));
    assert_accessible(&chrome, "console-27-member-dashboard").await;

    // The member gives Bob portal access…
    open(
        &chrome,
        &url("/staff/contacts?q=bob.with"),
        "bob.with.a.long.address",
    )
    .await;
    chrome.click("main table a[href^='/staff/contacts/']").await;
    chrome.wait_text("Turn portal access on").await;
    let bob_page = chrome.client.current_url().await.unwrap().to_string();
    chrome.click("form[action$='/access'] button").await;
    chrome.wait_text("Turn portal access off").await;
    chrome.screenshot("console-member-granted-access").await;
    // …and the delete button their role lacks is not there.
    assert_eq!(
        count(&chrome, "form[action$='/delete']").await,
        0,
        "a delete form on {bob_page} for a member without contacts.delete"
    );
    assert_accessible(&chrome, "console-28-member-contact").await;

    // The member shares a task with a checklist with Bob.
    open(&chrome, &url("/staff/tasks/new"), "Create task").await;
    chrome
        .type_into("#title", "Sign and return the 2026 engagement")
        .await;
    chrome
        .type_into("#description", "Two things before we start the year.")
        .await;
    chrome
        .type_into("#assignees", "bob.with.a.long.address@example.com")
        .await;
    chrome
        .type_into("#checklist", "Read the letter\nSign page 3")
        .await;
    chrome.click("#portal").await;
    chrome.click("main form button[type=submit]").await;
    chrome.wait_text("Sign page 3").await;
    let page = chrome.wait_text("Shared to the portal").await;
    assert!(!page.contains("Delete task"), "{page}");
    assert_eq!(
        count(&chrome, "form[action$='/delete']").await,
        0,
        "a delete form for a member without tasks.delete"
    );
    chrome.screenshot("console-member-task-shared").await;
    let member_task = chrome.client.current_url().await.unwrap().to_string();
    assert_accessible(&chrome, "console-29-member-task").await;
    // The button is not there, and the request it would make is refused anyway: the same form,
    // made by hand in this page with its CSRF token, answers 403.
    chrome
        .client
        .execute(
            "const f = document.createElement('form'); f.method = 'post'; \
             f.action = location.pathname + '/delete'; \
             const c = document.querySelector('input[name=csrf]').cloneNode(); \
             f.appendChild(c); document.body.appendChild(f); f.submit();",
            vec![],
        )
        .await
        .unwrap();
    chrome.wait_text("Not allowed").await;
    chrome.screenshot("console-member-delete-refused").await;
    open(&chrome, &member_task, "Sign page 3").await;

    // A section the role lacks answers with the console's 403 page.
    let main = open(&chrome, &url("/staff/roles"), "Not allowed").await;
    assert!(!main.contains("Bookkeeper"), "{main}");
    assert_accessible(&chrome, "console-30-forbidden").await;

    // ---- the client signs in to the portal and sees the task ----
    open(&chrome, &url("/login"), "Sign in to").await;
    chrome
        .type_into("#email", "bob.with.a.long.address@example.com")
        .await;
    chrome.click("main form button[type=submit]").await;
    chrome.wait_text("Check your email").await;
    let mail = app
        .last_link("bob.with.a.long.address@example.com")
        .await
        .expect("a portal link for Bob");
    open(&chrome, &mail.link, "Sign and return the 2026 engagement").await;
    chrome.screenshot("console-client-sees-task").await;
    chrome.click("main a[href^='/tasks/']").await;
    let page = chrome.wait_text("Sign page 3").await;
    assert!(page.contains("Read the letter"), "{page}");
    chrome.screenshot("console-client-task").await;

    let _ = writeln!(
        std::io::stderr(),
        "console browser: screenshots in {} and {}",
        axe::screenshots().display(),
        portico_e2e::chrome::screenshot_dir().display()
    );
    chrome.quit().await;
    app.stop().await;
}
