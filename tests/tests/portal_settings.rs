//! The firm's portal settings through the API, and what clients then see.

use portico_e2e::TestApp;
use portico_e2e::openapi_check::check_answer;
use reqwest::{Method, StatusCode};
use serde_json::json;

#[tokio::test]
async fn portal_settings_are_validated_and_shown_to_clients() {
    let app = TestApp::spawn().await;
    let firm = app.create_firm("acme").await;
    let other = app.create_firm("other").await;
    let key = &firm.api_key;
    let (status, portal) = app.api(key, Method::GET, "/api/v1/portal", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(portal["display_name"], firm.firm.name.as_str());
    assert_eq!(portal["billing_enabled"], false);
    assert_eq!(portal["esign_enabled"], true);

    let bad = [
        (json!({"brand_color": "blue"}), "brand_color"),
        (json!({"brand_color": "#12345g"}), "brand_color"),
        (json!({"display_name": "  "}), "display_name"),
        (
            json!({"menu_links": [{"label": "x", "url": "javascript:alert(1)"}]}),
            "menu_links",
        ),
        (
            json!({"menu_links": [{"label": "x", "url": "http://example.com"}]}),
            "menu_links",
        ),
        (
            json!({"menu_links": [{"label": "x", "url": "https://user:pw@example.com"}]}),
            "menu_links",
        ),
        (
            json!({"menu_links": [{"label": "", "url": "https://example.com"}]}),
            "menu_links",
        ),
    ];
    for (body, field) in bad {
        let (status, error) = app
            .api(key, Method::PATCH, "/api/v1/portal", Some(body.clone()))
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(error["error"]["field"], field, "{body}: {error}");
    }
    let (status, portal) = app
        .api(
            key,
            Method::PATCH,
            "/api/v1/portal",
            Some(json!({
                "display_name": "Acme Accounting",
                "brand_color": "#0F766E",
                "menu_links": [{"label": "Book a call", "url": "https://acme.example/book"}],
                "billing_enabled": true,
            })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{portal}");
    assert_eq!(portal["brand_color"], "#0f766e");
    assert_eq!(portal["billing_enabled"], true);

    let browser = app.browser();
    let (_, login) = browser.get_text(&app.url(&firm.firm.slug, "/login")).await;
    assert!(login.contains("Sign in to Acme Accounting"));
    // minijinja escapes "/" in attributes as &#x2f;, which browsers read back as "/".
    assert!(login.contains("Book a call") && login.contains("acme.example"));
    let (_, css) = browser
        .get_text(&app.url(&firm.firm.slug, "/assets/brand.css"))
        .await;
    assert!(css.contains("--brand: #0f766e"));
    // Another firm is untouched.
    let (_, theirs) = app
        .api(&other.api_key, Method::GET, "/api/v1/portal", None)
        .await;
    assert_eq!(theirs["brand_color"], "#1d4ed8");
    assert_eq!(theirs["menu_links"], json!([]));
    app.stop().await;
}

const LOGO: &[u8] = include_bytes!("../fixtures/logo.png");

/// `PUT /api/v1/portal/logo` with `bytes` as the body.
async fn put_logo(
    app: &TestApp,
    key: &str,
    content_type: &str,
    bytes: Vec<u8>,
) -> (StatusCode, serde_json::Value) {
    let response = reqwest::Client::new()
        .put(app.plain_url("/api/v1/portal/logo"))
        .bearer_auth(key)
        .header("content-type", content_type)
        .body(bytes)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let body = response.json().await.unwrap();
    check_answer(app, "PUT", "/api/v1/portal/logo", status.as_u16(), &body).await;
    (status, body)
}

#[tokio::test]
async fn a_logo_is_checked_stored_served_and_shown() {
    let app = TestApp::spawn().await;
    let firm = app.create_firm("acme").await;
    let other = app.create_firm("other").await;
    let key = &firm.api_key;
    let slug = firm.firm.slug.clone();

    let svg = b"<svg xmlns=\"http://www.w3.org/2000/svg\"><script>alert(1)</script></svg>".to_vec();
    let mut big = LOGO.to_vec();
    big.resize(512 * 1024 + 1, 0);
    let mut huge = LOGO.to_vec();
    huge.resize(2 * 1024 * 1024, 0);
    let refused = [
        (
            "image/svg+xml",
            svg.clone(),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        // The bytes decide, not the label.
        ("image/png", svg, StatusCode::UNPROCESSABLE_ENTITY),
        (
            "image/jpeg",
            LOGO.to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "text/plain",
            LOGO.to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        ("image/png", Vec::new(), StatusCode::UNPROCESSABLE_ENTITY),
        ("image/png", big, StatusCode::PAYLOAD_TOO_LARGE),
        ("image/png", huge, StatusCode::PAYLOAD_TOO_LARGE),
    ];
    for (content_type, bytes, expected) in refused {
        let size = bytes.len();
        let (status, error) = put_logo(&app, key, content_type, bytes).await;
        assert_eq!(status, expected, "{content_type}, {size} bytes: {error}");
        assert_eq!(error["error"]["field"], "logo", "{error}");
    }
    let (status, error) = app
        .api(
            key,
            Method::PATCH,
            "/api/v1/portal",
            Some(json!({"logo": "https://example.com/logo.png"})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error["error"]["field"], "logo");
    let browser = app.browser();
    let response = browser.get(&app.url(&slug, "/assets/logo")).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);

    let (status, portal) = put_logo(&app, key, "image/png", LOGO.to_vec()).await;
    assert_eq!(status, StatusCode::OK, "{portal}");
    assert!(
        portal["logo"]["url"]
            .as_str()
            .unwrap()
            .ends_with("/assets/logo")
    );
    let response = browser.get(&app.url(&slug, "/assets/logo")).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "image/png");
    assert_eq!(response.headers()["x-content-type-options"], "nosniff");
    assert!(
        response.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("max-age")
    );
    let etag = response.headers()["etag"].clone();
    assert_eq!(response.bytes().await.unwrap().as_ref(), LOGO);
    let response = browser
        .client
        .get(app.url(&slug, "/assets/logo"))
        .header("if-none-match", etag)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_MODIFIED);
    // Another firm's host has no logo.
    let response = browser
        .get(&app.url(&other.firm.slug, "/assets/logo"))
        .await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);

    let (_, login) = browser.get_text(&app.url(&slug, "/login")).await;
    assert!(login.contains("class=\"logo\""), "{login}");
    assert!(login.contains(&format!("alt=\"{}\"", firm.firm.name.replace('&', "&amp;"))));

    let (status, portal) = app
        .api(key, Method::DELETE, "/api/v1/portal/logo", None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(portal["logo"].is_null());
    let response = browser.get(&app.url(&slug, "/assets/logo")).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let (_, login) = browser.get_text(&app.url(&slug, "/login")).await;
    assert!(!login.contains("class=\"logo\""));
    app.stop().await;
}
