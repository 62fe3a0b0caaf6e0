//! The kept home page (gateway/src/page_cache.rs): served again only while nothing it shows has
//! changed, with the CSRF token of the browser asking, and never to anyone else.

use portico_e2e::{Browser, TestApp, csrf_in, sample_pdf};
use reqwest::{Method, StatusCode};
use serde_json::json;

async fn home(browser: &Browser, url: &str) -> String {
    let (status, page) = browser.get_text(url).await;
    assert_eq!(status, StatusCode::OK);
    page
}

#[tokio::test]
async fn a_kept_home_page_changes_with_every_write_it_shows() {
    let app = TestApp::spawn().await;
    let firm = app.create_firm("acme").await;
    let slug = firm.firm.slug.clone();
    let home_url = app.url(&slug, "/");
    let ann = app.add_contact(&firm, "ann@example.com", true).await;
    app.add_contact(&firm, "ben@example.com", true).await;
    let ann_here = app.signed_in(&firm, "ann@example.com").await;
    let ann_elsewhere = app.signed_in(&firm, "ann@example.com").await;
    let ben = app.signed_in(&firm, "ben@example.com").await;
    let task = app
        .api_ok(
            &firm,
            Method::POST,
            "/api/v1/tasks",
            Some(json!({"title": "Alpha return", "portal": true, "assignees": [ann.id]})),
        )
        .await;
    let task_path = format!("/api/v1/tasks/{}", task["id"].as_str().unwrap());

    // Rendered once, then kept: the second answer is the same page.
    let (_, first) = ann_here.get_text(&home_url).await;
    let before = app.kept_home_pages().await;
    let (_, again) = ann_here.get_text(&home_url).await;
    assert_eq!(
        app.kept_home_pages().await,
        before + 1,
        "served from the cache"
    );
    assert_eq!(first, again);
    assert!(again.contains("Alpha return"));

    // Another browser of the same client gets the same page with its own token, and each
    // token is accepted from its own browser only.
    let (_, other) = ann_elsewhere.get_text(&home_url).await;
    assert_eq!(app.kept_home_pages().await, before + 2);
    let (here_token, other_token) = (csrf_in(&again).unwrap(), csrf_in(&other).unwrap());
    assert_ne!(here_token, other_token);
    assert_eq!(again.replace(&here_token, &other_token), other);
    let ask = app.url(&slug, "/requests");
    let asked = [("csrf", other_token.as_str()), ("body", "A question")];
    let refused = ann_here.post_form(&ask, &asked).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let taken = ann_elsewhere.post_form(&ask, &asked).await;
    assert_eq!(taken.status(), StatusCode::SEE_OTHER);
    let (_, with_request) = ann_here.get_text(&home_url).await;
    assert!(with_request.contains("A question"), "a new request shows");

    // Another client of the same firm never gets Ann's page.
    let (_, bens) = ben.get_text(&home_url).await;
    assert!(!bens.contains("Alpha return"));
    assert!(!bens.contains("ann@example.com"));

    // Each staff change shows on the very next request.
    let contact_path = format!("/api/v1/contacts/{}", ann.id);
    let changes = [
        (
            &task_path,
            json!({"title": "Beta return"}),
            "Beta return",
            true,
        ),
        (&task_path, json!({"portal": false}), "Beta return", false),
        (&task_path, json!({"portal": true}), "Beta return", true),
        (&task_path, json!({"assignees": []}), "Beta return", false),
        (
            &"/api/v1/portal".to_string(),
            json!({"display_name": "Acme Tax"}),
            "Acme Tax",
            true,
        ),
        (
            &contact_path,
            json!({"name": "Ann Example-Smith"}),
            "Ann Example-Smith",
            true,
        ),
    ];
    for (path, change, text, shown) in changes {
        app.api_ok(&firm, Method::PATCH, path, Some(change.clone()))
            .await;
        let page = home(&ann_here, &home_url).await;
        assert_eq!(page.contains(text), shown, "after PATCH {path} {change}");
    }
    let pdf = sample_pdf("x");
    firm.request_signature(&app, &ann.id, "Engagement letter", "letter.pdf", &pdf)
        .await;
    let page = home(&ann_here, &home_url).await;
    assert!(page.contains("Engagement letter"), "a new signing request");

    // Revoked: the next request is signed out, cached page or not.
    app.api_ok(
        &firm,
        Method::PATCH,
        &contact_path,
        Some(json!({"portal_access": false})),
    )
    .await;
    let response = ann_here.get(&home_url).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    app.stop().await;
}

#[tokio::test]
async fn with_the_cache_off_every_home_page_is_rendered() {
    let app = TestApp::spawn_with(&[("PORTICO_HOME_CACHE", "off")]).await;
    let firm = app.create_firm("acme").await;
    app.add_contact(&firm, "ann@example.com", true).await;
    let ann = app.signed_in(&firm, "ann@example.com").await;
    let home_url = app.url(&firm.firm.slug, "/");
    let first = home(&ann, &home_url).await;
    assert_eq!(home(&ann, &home_url).await, first);
    assert_eq!(app.kept_home_pages().await, 0);
    app.stop().await;
}

/// Every write in a firm bumps one version row. Writes running at once must still all land
/// and all show. (On PostgreSQL the bump is deferred to commit so that it cannot take part in
/// a deadlock; this load did not produce one with immediate triggers either.)
#[tokio::test]
async fn concurrent_writes_in_one_firm_all_land() {
    let app = TestApp::spawn().await;
    let firm = app.create_firm("acme").await;
    let ann = app.add_contact(&firm, "ann@example.com", true).await;
    let ben = app.add_contact(&firm, "ben@example.com", true).await;
    let mut paths = Vec::new();
    for n in 0..8 {
        let task = app
            .api_ok(
                &firm,
                Method::POST,
                "/api/v1/tasks",
                Some(json!({"title": format!("Task {n}"), "portal": true, "assignees": [ann.id]})),
            )
            .await;
        paths.push(format!("/api/v1/tasks/{}", task["id"].as_str().unwrap()));
    }
    // Each task moves from Ann to both and is renamed, twice over, while new tasks go in.
    let writes = paths.iter().cycle().take(16).enumerate().map(|(n, path)| {
        let body = json!({"title": format!("Renamed {n}"), "assignees": [ann.id, ben.id]});
        app.api(&firm.api_key, Method::PATCH, path, Some(body))
    });
    let creates = (0..8).map(|n| {
        let body = json!({"title": format!("New {n}"), "portal": true, "assignees": [ben.id]});
        app.api(&firm.api_key, Method::POST, "/api/v1/tasks", Some(body))
    });
    let (patched, created) = futures::join!(
        futures::future::join_all(writes),
        futures::future::join_all(creates)
    );
    for (status, body) in patched.into_iter().chain(created) {
        assert!(status.is_success(), "{status} {body}");
    }
    let ben_browser = app.signed_in(&firm, "ben@example.com").await;
    let page = home(&ben_browser, &app.url(&firm.firm.slug, "/")).await;
    assert_eq!(
        page.matches("class=\"task-row\"").count(),
        16,
        "8 renamed + 8 new"
    );
    app.stop().await;
}
