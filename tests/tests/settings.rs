//! The client's settings page: name, notification preferences and language, saved per firm;
//! the page language that follows them; and emails that respect the preferences.

use portico_e2e::{Browser, TestApp, csrf_in};
use portico_shared::ids::SigningRequestId;
use portico_shared::mail::Template;
use reqwest::{Method, StatusCode};
use serde_json::json;

async fn save(
    app: &TestApp,
    browser: &Browser,
    slug: &str,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    let csrf = browser.csrf(&app.url(slug, "/settings")).await;
    let mut form = vec![("csrf", csrf.as_str())];
    form.extend_from_slice(fields);
    browser.post_form(&app.url(slug, "/settings"), &form).await
}

#[tokio::test]
async fn settings_are_validated_saved_and_shown() {
    let app = TestApp::spawn().await;
    let firm = app.create_firm("acme").await;
    let other = app.create_firm("other").await;
    let slug = firm.firm.slug.clone();
    let ann = app.add_contact(&firm, "ann@example.com", true).await;
    let ann_elsewhere = app.add_contact(&other, "ann@example.com", true).await;
    let browser = app.signed_in(&firm, "ann@example.com").await;

    let (status, page) = browser.get_text(&app.url(&slug, "/settings")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains("href=\"/settings\""),
        "the header links the page"
    );
    assert!(page.contains("value=\"Test Client\""));
    // Every email is on until the client turns it off.
    assert_eq!(page.matches(" checked").count(), 3, "{page}");
    assert!(page.contains("<option value=\"en\" selected"), "{page}");

    // No CSRF token: refused, nothing saved.
    let response = browser
        .post_form(
            &app.url(&slug, "/settings"),
            &[("name", "Mallory"), ("language", "en")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    // A wrong one, too.
    let response = browser
        .post_form(
            &app.url(&slug, "/settings"),
            &[("csrf", "t1.AAAA"), ("name", "Mallory"), ("language", "en")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);

    let long = "x".repeat(101);
    for (fields, message) in [
        (
            vec![("name", "   "), ("language", "en")],
            "Enter your name.",
        ),
        (
            vec![("name", long.as_str()), ("language", "en")],
            "please keep it to 100 characters",
        ),
        (
            vec![("name", "Ann Lee"), ("language", "fr")],
            "Choose one of the languages listed.",
        ),
        (
            vec![("name", "Ann Lee")],
            "Choose one of the languages listed.",
        ),
    ] {
        let response = save(&app, &browser, &slug, &fields).await;
        assert_eq!(
            response.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{fields:?}"
        );
        let html = response.text().await.unwrap();
        assert!(html.contains(message), "{fields:?}: {html}");
        assert!(html.contains("aria-invalid=\"true\""));
        // What was typed stays in the form.
        assert!(html.contains(&format!("value=\"{}\"", fields[0].1)));
    }
    let unchanged = app.stored_contact(&firm.firm.id, &ann.id).await;
    assert_eq!(unchanged.name, "Test Client");
    assert_eq!(unchanged.language, None);

    let response = save(
        &app,
        &browser,
        &slug,
        &[
            ("name", "  Ann Lee  "),
            ("language", "en"),
            ("notify_request_reply", "on"),
        ],
    )
    .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let location = response.headers()["location"].to_str().unwrap().to_string();
    assert_eq!(location, "/settings?saved=1");
    let (_, page) = browser.get_text(&app.url(&slug, &location)).await;
    assert!(page.contains("Your settings have been saved."));
    assert!(page.contains("value=\"Ann Lee\""));
    assert_eq!(page.matches(" checked").count(), 1, "{page}");
    assert!(page.contains("name=\"notify_request_reply\" value=\"on\" checked"));
    let saved = app.stored_contact(&firm.firm.id, &ann.id).await;
    assert_eq!(saved.name, "Ann Lee");
    assert_eq!(saved.language.as_deref(), Some("en"));
    assert!(!saved.notify_task_shared && !saved.notify_signature_requested);
    assert!(saved.notify_request_reply);
    // The header greets the new name.
    let (_, home) = browser.get_text(&app.url(&slug, "/")).await;
    assert!(home.contains("Ann Lee"));

    // Settings are per firm: Ann at the other firm is untouched.
    let elsewhere = app.stored_contact(&other.firm.id, &ann_elsewhere.id).await;
    assert_eq!(elsewhere.name, "Test Client");
    assert!(elsewhere.notify_task_shared);

    // Signed out, the page and the form want a sign-in.
    let stranger = app.browser();
    let response = stranger.get(&app.url(&slug, "/settings")).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    app.stop().await;
}

#[tokio::test]
async fn pages_speak_the_saved_language_else_the_browsers() {
    let app = TestApp::spawn().await;
    let firm = app.create_firm("acme").await;
    let slug = firm.firm.slug.clone();
    app.add_contact(&firm, "ann@example.com", true).await;

    // Signed out: the browser's Accept-Language decides.
    let browser = app.browser();
    let german = |path: &str| {
        browser
            .client
            .get(app.url(&slug, path))
            .header("accept-language", "de-AT, en;q=0.5")
            .send()
    };
    let login = german("/login").await.unwrap().text().await.unwrap();
    assert!(login.contains("<html lang=\"de\">"), "{login}");
    let name = firm.firm.name.replace('&', "&amp;");
    assert!(login.contains(&format!("Bei {name} anmelden")), "{login}");
    assert!(login.contains("Anmeldelink per E-Mail senden"));
    let missing = german("/no-such-page").await.unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    let missing = missing.text().await.unwrap();
    assert!(missing.contains("Seite nicht gefunden"), "{missing}");
    let (_, english) = browser.get_text(&app.url(&slug, "/login")).await;
    assert!(english.contains("<html lang=\"en\">"));
    assert!(english.contains("Email me a sign-in link"));
    // An unsupported language falls back to English.
    let french = browser
        .client
        .get(app.url(&slug, "/login"))
        .header("accept-language", "fr-FR")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(french.contains("<html lang=\"en\">"));

    // Signed in with German saved: German whatever the browser says.
    let ann = app.signed_in(&firm, "ann@example.com").await;
    let response = save(
        &app,
        &ann,
        &slug,
        &[
            ("name", "Ann"),
            ("language", "de"),
            ("notify_task_shared", "on"),
        ],
    )
    .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let (_, page) = ann.get_text(&app.url(&slug, "/settings?saved=1")).await;
    assert!(page.contains("<html lang=\"de\">"), "{page}");
    assert!(
        page.contains("Ihre Einstellungen wurden gespeichert."),
        "{page}"
    );
    assert!(page.contains(">Einstellungen<"));
    assert!(page.contains("<option value=\"de\" selected"));
    let (_, home) = ann.get_text(&app.url(&slug, "/")).await;
    for german in [
        "Willkommen, Ann",
        "Zu unterschreiben",
        "Offene Aufgaben",
        "Anfrage senden",
    ] {
        assert!(home.contains(german), "{german} on the German home page");
    }
    assert!(
        !home.contains("Tasks to do"),
        "no English left on the home page"
    );
    let english_browser = ann
        .client
        .get(app.url(&slug, "/no-such-page"))
        .header("accept-language", "en")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        english_browser.contains("Seite nicht gefunden"),
        "{english_browser}"
    );
    // A form error is in German too.
    let response = save(&app, &ann, &slug, &[("name", ""), ("language", "de")]).await;
    let html = response.text().await.unwrap();
    assert!(html.contains("Geben Sie Ihren Namen ein."), "{html}");
    // The CSRF token on the German page works as any other.
    assert!(csrf_in(&html).is_some());
    app.stop().await;
}

#[tokio::test]
async fn emails_respect_each_contacts_preferences() {
    let app = TestApp::spawn().await;
    let firm = app.create_firm("acme").await;
    let slug = firm.firm.slug.clone();
    let ann = app.add_contact(&firm, "ann@example.com", true).await;
    let bob = app.add_contact(&firm, "bob@example.com", true).await;
    let ann_browser = app.signed_in(&firm, "ann@example.com").await;
    // Ann turns off "task shared" and "signature requested"; Bob keeps the defaults.
    let response = save(
        &app,
        &ann_browser,
        &slug,
        &[
            ("name", "Ann"),
            ("language", "de"),
            ("notify_request_reply", "on"),
        ],
    )
    .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let before = app.mail_jobs().await.len();

    let (status, _) = app
        .api(
            &firm.api_key,
            Method::POST,
            "/api/v1/tasks",
            Some(json!({"title": "Send receipts", "portal": true, "assignees": [ann.id, bob.id]})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let jobs = app.mail_jobs().await;
    let new: Vec<_> = jobs[before..].iter().collect();
    assert_eq!(new.len(), 1, "{new:?}");
    assert_eq!(new[0].template, Template::TaskShared);
    assert_eq!(new[0].to.email, "bob@example.com");
    assert_eq!(new[0].data["language"], "en");

    // A reply still reaches Ann, who kept that one on, with her language.
    let csrf = ann_browser.csrf(&app.url(&slug, "/")).await;
    let response = ann_browser
        .post_form(
            &app.url(&slug, "/requests"),
            &[("csrf", &csrf), ("body", "A question")],
        )
        .await;
    let id = response.headers()["location"]
        .to_str()
        .unwrap()
        .trim_start_matches("/requests/")
        .to_string();
    let (status, _) = app
        .api(
            &firm.api_key,
            Method::POST,
            &format!("/api/v1/conversations/{id}/messages"),
            Some(json!({"body": "An answer"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let last = app.mail_jobs().await.pop().unwrap();
    assert_eq!(last.template, Template::RequestReply);
    assert_eq!(last.to.email, "ann@example.com");
    assert_eq!(last.data["language"], "de");

    // Signature requests (called by the signing code) ask the same question.
    let state = app.state();
    let firm_now = app.store.firm_by_id(&firm.firm.id).await.unwrap().unwrap();
    let before = app.mail_jobs().await.len();
    let request = SigningRequestId::parse("sr_0123456789abcdefghijkl").unwrap();
    let queued = portico_gateway::services::notify::signature_requested(
        state,
        &firm_now,
        &ann.id,
        &request,
        "Engagement letter",
    )
    .await
    .unwrap();
    assert!(!queued, "Ann turned signature emails off");
    let queued = portico_gateway::services::notify::signature_requested(
        state,
        &firm_now,
        &bob.id,
        &request,
        "Engagement letter",
    )
    .await
    .unwrap();
    assert!(queued);
    let jobs = app.mail_jobs().await;
    assert_eq!(jobs.len(), before + 1);
    let job = jobs.last().unwrap();
    assert_eq!(job.template, Template::SignatureRequested);
    assert_eq!(job.to.email, "bob@example.com");
    assert_eq!(job.data["document_title"], "Engagement letter");
    assert_eq!(
        job.data["sign_url"],
        app.url(&slug, "/sign/sr_0123456789abcdefghijkl")
    );

    // Bob turning "reply" off stops those too.
    let bob_browser = app.signed_in(&firm, "bob@example.com").await;
    save(
        &app,
        &bob_browser,
        &slug,
        &[("name", "Bob"), ("language", "en")],
    )
    .await;
    let csrf = bob_browser.csrf(&app.url(&slug, "/")).await;
    let response = bob_browser
        .post_form(
            &app.url(&slug, "/requests"),
            &[("csrf", &csrf), ("body", "Bob asks")],
        )
        .await;
    let id = response.headers()["location"]
        .to_str()
        .unwrap()
        .trim_start_matches("/requests/")
        .to_string();
    let before = app.mail_jobs().await.len();
    app.api(
        &firm.api_key,
        Method::POST,
        &format!("/api/v1/conversations/{id}/messages"),
        Some(json!({"body": "Answer"})),
    )
    .await;
    assert_eq!(app.mail_jobs().await.len(), before);
    app.stop().await;
}
