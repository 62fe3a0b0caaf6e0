//! Invoices: staff publish them through the API, the client sees their own at `/invoices` when
//! the firm has billing enabled; nobody else's, and nothing at all when billing is off.

use portico_e2e::{TestApp, TestFirm};
use portico_shared::ids::ContactId;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

fn invoice(contact_id: &ContactId, number: &str) -> Value {
    json!({
        "contact_id": contact_id,
        "number": number,
        "amount": 123_456,
        "currency": "EUR",
        "issued_date": "2026-01-10",
        "due_date": "2099-02-10",
        "pay_url": "https://pay.example.com/inv/1?x=1",
        "description": "Annual accounts 2025",
    })
}

async fn enable_billing(app: &TestApp, firm: &TestFirm, on: bool) {
    let (status, _) = app
        .api(
            &firm.api_key,
            Method::PATCH,
            "/api/v1/portal",
            Some(json!({ "billing_enabled": on })),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn invoices_are_validated_listed_and_updated_through_the_api() {
    let app = TestApp::spawn().await;
    let firm = app.create_firm("acme").await;
    let other = app.create_firm("other").await;
    let ann = app.add_contact(&firm, "ann@example.com", true).await;
    let bob = app.add_contact(&firm, "bob@example.com", true).await;
    let theirs = app.add_contact(&other, "cat@example.com", true).await;
    let key = &firm.api_key;

    let mut bad = Vec::new();
    let with = |field: &str, value: Value| {
        let mut body = invoice(&ann.id, "A-1");
        body[field] = value;
        body
    };
    bad.push((with("currency", json!("XYZ")), "currency"));
    bad.push((with("currency", json!("eur")), "currency"));
    bad.push((with("currency", json!("EURO")), "currency"));
    bad.push((with("amount", json!(-1)), "amount"));
    bad.push((with("amount", json!(12.5)), "amount"));
    bad.push((with("amount", json!("100")), "amount"));
    bad.push((with("pay_url", json!("http://pay.example.com")), "pay_url"));
    bad.push((with("pay_url", json!("javascript:alert(1)")), "pay_url"));
    bad.push((
        with("pay_url", json!("https://u:p@pay.example.com")),
        "pay_url",
    ));
    bad.push((with("issued_date", json!("10/01/2026")), "issued_date"));
    bad.push((with("due_date", json!("2025-12-31")), "due_date"));
    bad.push((with("status", json!("late")), "status"));
    bad.push((with("number", json!("  ")), "number"));
    bad.push((with("number", json!("x".repeat(65))), "number"));
    bad.push((with("contact_id", json!("nobody")), "contact_id"));
    // A contact of another firm is as unknown as no contact at all.
    bad.push((with("contact_id", json!(theirs.id)), "contact_id"));
    for (body, field) in bad {
        let (status, error) = app
            .api(key, Method::POST, "/api/v1/invoices", Some(body.clone()))
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {error}");
        assert_eq!(error["error"]["field"], field, "{body}: {error}");
    }

    let (status, created) = app
        .api(
            key,
            Method::POST,
            "/api/v1/invoices",
            Some(invoice(&ann.id, "A-1")),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["amount"], 123_456);
    assert_eq!(created["currency"], "EUR");
    assert_eq!(created["status"], "open");
    assert_eq!(created["pay_url"], "https://pay.example.com/inv/1?x=1");
    let id = created["id"].as_str().unwrap().to_string();

    let (status, error) = app
        .api(
            key,
            Method::POST,
            "/api/v1/invoices",
            Some(invoice(&bob.id, "A-1")),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{error}");
    assert_eq!(error["error"]["code"], "number_taken");
    // The same number is fine at another firm.
    let (status, _) = app
        .api(
            &other.api_key,
            Method::POST,
            "/api/v1/invoices",
            Some(invoice(&theirs.id, "A-1")),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);

    for n in 2..=4 {
        let mut body = invoice(&bob.id, &format!("B-{n}"));
        body["status"] = json!("paid");
        let (status, _) = app
            .api(key, Method::POST, "/api/v1/invoices", Some(body))
            .await;
        assert_eq!(status, StatusCode::CREATED);
    }

    // Pages of two, filtered by contact and status.
    let (_, first) = app
        .api(key, Method::GET, "/api/v1/invoices?limit=2", None)
        .await;
    assert_eq!(first["data"].as_array().unwrap().len(), 2);
    let cursor = first["next_cursor"].as_str().unwrap();
    let (_, second) = app
        .api(
            key,
            Method::GET,
            &format!("/api/v1/invoices?limit=2&cursor={cursor}"),
            None,
        )
        .await;
    assert_eq!(second["data"].as_array().unwrap().len(), 2);
    assert!(second["next_cursor"].is_null());
    let (_, bobs) = app
        .api(
            key,
            Method::GET,
            &format!("/api/v1/invoices?contact_id={}", bob.id),
            None,
        )
        .await;
    assert_eq!(bobs["data"].as_array().unwrap().len(), 3);
    let (_, open) = app
        .api(key, Method::GET, "/api/v1/invoices?status=open", None)
        .await;
    assert_eq!(open["data"].as_array().unwrap().len(), 1);
    assert_eq!(open["data"][0]["id"], id.as_str());
    let (status, error) = app
        .api(key, Method::GET, "/api/v1/invoices?status=late", None)
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error["error"]["field"], "status");

    let path = format!("/api/v1/invoices/{id}");
    let (status, shown) = app.api(key, Method::GET, &path, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(shown["number"], "A-1");
    let (status, error) = app
        .api(key, Method::PATCH, &path, Some(json!({"status": "late"})))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error["error"]["field"], "status");
    let (status, paid) = app
        .api(key, Method::PATCH, &path, Some(json!({"status": "paid"})))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(paid["status"], "paid");

    // Another firm's key cannot see or touch it.
    for method in [Method::GET, Method::PATCH] {
        let body = (method == Method::PATCH).then(|| json!({"status": "void"}));
        let (status, error) = app.api(&other.api_key, method, &path, body).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{error}");
    }
    let (_, still) = app.api(key, Method::GET, &path, None).await;
    assert_eq!(still["status"], "paid");
    let (status, _) = app
        .api(key, Method::GET, "/api/v1/invoices/iv_nonsense", None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    app.stop().await;
}

#[tokio::test]
async fn clients_see_only_their_own_invoices_when_billing_is_enabled() {
    let app = TestApp::spawn().await;
    let firm = app.create_firm("acme").await;
    let other = app.create_firm("other").await;
    let slug = firm.firm.slug.clone();
    let ann = app.add_contact(&firm, "ann@example.com", true).await;
    let bob = app.add_contact(&firm, "bob@example.com", true).await;
    // Ann is a client of the other firm too, with an invoice there.
    let ann_elsewhere = app.add_contact(&other, "ann@example.com", true).await;
    let key = &firm.api_key;

    let browser = app.signed_in(&firm, "ann@example.com").await;
    // Billing is off by default: no page, no menu entry.
    let (status, _) = browser.get_text(&app.url(&slug, "/invoices")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, home) = browser.get_text(&app.url(&slug, "/")).await;
    assert!(!home.contains("href=\"/invoices\""), "{home}");

    enable_billing(&app, &firm, true).await;
    let (status, empty) = browser.get_text(&app.url(&slug, "/invoices")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(empty.contains("No invoices yet"), "{empty}");
    assert!(
        empty.contains("href=\"/invoices\""),
        "the menu links the page"
    );

    let mut overdue = invoice(&ann.id, "A-OLD");
    overdue["due_date"] = json!("2026-01-20");
    overdue["pay_url"] = Value::Null;
    let mut jpy = invoice(&ann.id, "A-YEN");
    jpy["currency"] = json!("JPY");
    jpy["amount"] = json!(5000);
    let mut paid = invoice(&ann.id, "A-PAID");
    paid["status"] = json!("paid");
    paid["pay_url"] = json!("https://pay.example.com/paid-already");
    for body in [
        invoice(&ann.id, "A-1"),
        overdue,
        jpy,
        paid,
        invoice(&bob.id, "B-1"),
    ] {
        let (status, created) = app
            .api(key, Method::POST, "/api/v1/invoices", Some(body))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
    }
    let (status, _) = app
        .api(
            &other.api_key,
            Method::POST,
            "/api/v1/invoices",
            Some(invoice(&ann_elsewhere.id, "ELSEWHERE-1")),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);

    let (status, page) = browser.get_text(&app.url(&slug, "/invoices")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Invoice A-1"));
    assert!(page.contains("€1,234.56"), "{page}");
    assert!(page.contains("¥5,000"), "{page}");
    assert!(page.contains("Due 10 Feb 2099"), "{page}");
    assert!(page.contains("Overdue: due 20 Jan 2026"), "{page}");
    assert!(page.contains("Paid"));
    assert!(page.contains("Annual accounts 2025"));
    // A Pay link for the open invoice with a pay_url; none for the paid one.
    assert!(page.contains("pay.example.com"), "{page}");
    assert!(!page.contains("paid-already"), "{page}");
    assert_eq!(
        page.matches("class=\"button-small pay\"").count(),
        2,
        "{page}"
    );
    // Not Bob's, not the other firm's.
    assert!(!page.contains("B-1"));
    assert!(!page.contains("ELSEWHERE-1"));

    // Turning billing off hides the page again at once.
    enable_billing(&app, &firm, false).await;
    let (status, _) = browser.get_text(&app.url(&slug, "/invoices")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // Signed out, the page asks for sign-in rather than showing anything.
    enable_billing(&app, &firm, true).await;
    let stranger = app.browser();
    let response = stranger.get(&app.url(&slug, "/invoices")).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    app.stop().await;
}

#[tokio::test]
async fn the_invoice_page_speaks_german() {
    let app = TestApp::spawn().await;
    let firm = app.create_firm("acme").await;
    let slug = firm.firm.slug.clone();
    let ann = app.add_contact(&firm, "ann@example.com", true).await;
    enable_billing(&app, &firm, true).await;
    let mut body = invoice(&ann.id, "R-7");
    body["due_date"] = json!("2099-03-05");
    app.api(&firm.api_key, Method::POST, "/api/v1/invoices", Some(body))
        .await;
    let browser = app.signed_in(&firm, "ann@example.com").await;
    let response = browser
        .client
        .get(app.url(&slug, "/invoices"))
        .header("accept-language", "de-DE,de;q=0.9,en;q=0.5")
        .send()
        .await
        .unwrap();
    let page = response.text().await.unwrap();
    assert!(page.contains("<html lang=\"de\">"), "{page}");
    assert!(page.contains("Rechnung R-7"), "{page}");
    assert!(page.contains("1.234,56\u{a0}€"), "{page}");
    assert!(page.contains("Fällig am 5. März 2099"), "{page}");
    assert!(page.contains(">Bezahlen<"), "{page}");
    app.stop().await;
}
