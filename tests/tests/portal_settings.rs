//! The firm's portal settings through the API, and what clients then see.

use portico_e2e::TestApp;
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
