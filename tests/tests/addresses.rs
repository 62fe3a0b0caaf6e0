//! Email addresses as they enter: only bare addresses are accepted, everywhere (staff API,
//! login, the CLI), with a 422 or a form error naming the field; internationalised domains
//! compare in their ASCII form; addresses stored before these rules are listed by
//! `gateway contacts check`, not deleted, and cannot be invited or signed in with until staff
//! correct them.

use portico_e2e::binaries::run_gateway;
use portico_e2e::{TestApp, backend};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const REFUSED: [&str; 8] = [
    "Eve <ann@example.com>",
    "ann@[127.0.0.1]",
    "\"ann lee\"@example.com",
    "ann lee@example.com",
    "ann@example.com\r\nBcc: eve@example.com",
    "ann\u{7}@example.com",
    "ann@localhost",
    "ann@example\u{3002}com",
];

fn assert_email_refused(status: StatusCode, body: &Value, address: &str) {
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{address:?}: {body}"
    );
    assert_eq!(body["error"]["field"], "email", "{address:?}: {body}");
}

#[tokio::test]
async fn the_staff_api_takes_bare_addresses_only() {
    let app = TestApp::spawn().await;
    let firm = app.create_firm("addr").await;
    for address in REFUSED {
        let (status, body) = app
            .api(
                &firm.api_key,
                Method::POST,
                "/api/v1/contacts",
                Some(json!({ "name": "Eve", "email": address })),
            )
            .await;
        assert_email_refused(status, &body, address);
    }
    let ann = app.add_contact(&firm, "ann@example.com", true).await;
    for address in REFUSED {
        let (status, body) = app
            .api(
                &firm.api_key,
                Method::PATCH,
                &format!("/api/v1/contacts/{}", ann.id),
                Some(json!({ "email": address })),
            )
            .await;
        assert_email_refused(status, &body, address);
    }
    assert_eq!(
        app.stored_contact(&firm.firm.id, &ann.id).await.email,
        "ann@example.com"
    );

    // An internationalised domain is accepted, and is the same address as its ASCII form.
    let (status, body) = app
        .api(
            &firm.api_key,
            Method::POST,
            "/api/v1/contacts",
            Some(json!({ "name": "Jörg", "email": "joerg@münchen.example" })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["email"], "joerg@münchen.example");
    let (status, body) = app
        .api(
            &firm.api_key,
            Method::POST,
            "/api/v1/contacts",
            Some(json!({ "name": "Jörg", "email": "Joerg@xn--mnchen-3ya.example" })),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"]["code"], "email_taken");
    app.stop().await;
}

#[tokio::test]
async fn the_login_form_refuses_anything_but_a_bare_address() {
    let app = TestApp::spawn().await;
    let firm = app.create_firm("addr").await;
    app.add_contact(&firm, "ann@example.com", true).await;
    let browser = app.browser();
    for address in [
        "Eve <ann@example.com>",
        "ann@[127.0.0.1]",
        "\"ann\"@example.com",
    ] {
        let response = browser.request_link(&app, &firm.firm.slug, address).await;
        assert_eq!(
            response.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{address:?}"
        );
        let html = response.text().await.unwrap();
        assert!(html.contains("valid email address"), "{address:?}: {html}");
    }
    assert!(
        app.mail_jobs().await.is_empty(),
        "no mail for a refused address"
    );
    // The same person typing the bare address gets their link.
    let response = browser
        .request_link(&app, &firm.firm.slug, "ann@example.com")
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(app.last_link("ann@example.com").await.is_some());
    app.stop().await;
}

/// Writes an address as an older release could have stored it, past today's checks.
async fn store_legacy_address(app: &TestApp, contact_id: &str, email: &str) {
    let sql = "UPDATE contacts SET email = $1, email_norm = $2 WHERE id = $3";
    let url = &app.config.database_url;
    if backend() == "postgres" {
        let pool = sqlx::PgPool::connect(url).await.unwrap();
        sqlx::query(sql)
            .bind(email)
            .bind(email.to_lowercase())
            .bind(contact_id)
            .execute(&pool)
            .await
            .unwrap();
        pool.close().await;
    } else {
        let pool = sqlx::SqlitePool::connect(url).await.unwrap();
        sqlx::query(sql)
            .bind(email)
            .bind(email.to_lowercase())
            .bind(contact_id)
            .execute(&pool)
            .await
            .unwrap();
        pool.close().await;
    }
}

#[tokio::test]
async fn stored_addresses_that_no_longer_parse_are_listed_and_wait_for_staff() {
    let app = TestApp::spawn().await;
    let firm = app.create_firm("legacy").await;
    let eve = app.add_contact(&firm, "eve@example.com", true).await;
    app.add_contact(&firm, "bob@example.com", true).await;

    let check = run_gateway(&app.vars, &["contacts", "check"]);
    assert!(check.status.success(), "{check:?}");
    assert!(
        String::from_utf8_lossy(&check.stdout).contains("2 contacts checked, 0 with"),
        "{check:?}"
    );

    store_legacy_address(&app, eve.id.as_str(), "Eve <ann@example.com>").await;
    let check = run_gateway(&app.vars, &["contacts", "check"]);
    assert_eq!(check.status.code(), Some(1), "{check:?}");
    let stdout = String::from_utf8_lossy(&check.stdout);
    let line = stdout
        .lines()
        .find(|l| l.contains(eve.id.as_str()))
        .unwrap_or_else(|| panic!("Eve is listed: {stdout}"));
    assert!(line.starts_with(&firm.firm.slug), "{line}");
    assert!(!line.contains("ann@"), "the address is masked: {line}");
    assert!(stdout.contains("2 contacts checked, 1 with"), "{stdout}");
    // Listed, not changed.
    assert_eq!(
        app.stored_contact(&firm.firm.id, &eve.id).await.email,
        "Eve <ann@example.com>"
    );

    // Such a contact is not invited, and nobody signs in as them.
    let (status, body) = app
        .api(
            &firm.api_key,
            Method::POST,
            &format!("/api/v1/contacts/{}/invitation", eve.id),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"]["code"], "email_invalid");
    let browser = app.browser();
    browser
        .request_link(&app, &firm.firm.slug, "ann@example.com")
        .await;
    assert!(
        app.mail_jobs().await.is_empty(),
        "no link for the stored address"
    );

    // Staff correct it; the contact is invited and the check passes again.
    let (status, body) = app
        .api(
            &firm.api_key,
            Method::PATCH,
            &format!("/api/v1/contacts/{}", eve.id),
            Some(json!({ "email": "eve@example.com" })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = app
        .api(
            &firm.api_key,
            Method::POST,
            &format!("/api/v1/contacts/{}/invitation", eve.id),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let check = run_gateway(&app.vars, &["contacts", "check"]);
    assert!(check.status.success(), "{check:?}");
    app.stop().await;
}
