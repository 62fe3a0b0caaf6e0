//! The staff JSON API: keys, tenancy, contacts, invitations and error shapes.

use portico_e2e::TestApp;
use portico_e2e::openapi_check::check_answer;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

fn assert_error(status: StatusCode, body: &Value, expected: StatusCode, code: &str) {
    assert_eq!(status, expected, "{body}");
    assert_eq!(body["error"]["code"], code, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{body}"
    );
}

#[tokio::test]
async fn keys_are_required_and_scoped_to_one_firm() {
    let app = TestApp::spawn().await;
    let acme = app.create_firm("acme").await;
    let other = app.create_firm("other").await;

    let client = reqwest::Client::new();
    let response = client
        .get(app.plain_url("/api/v1/firm"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["www-authenticate"], "Bearer");
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    check_answer(&app, "GET", "/api/v1/firm", status.as_u16(), &body).await;
    assert_error(status, &body, StatusCode::UNAUTHORIZED, "unauthorized");
    let (status, body) = app.api("pk_wrong", Method::GET, "/api/v1/firm", None).await;
    assert_error(status, &body, StatusCode::UNAUTHORIZED, "unauthorized");

    let (status, body) = app
        .api(&acme.api_key, Method::GET, "/api/v1/firm", None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["slug"], acme.firm.slug.as_str());
    assert!(
        body["portal_url"]
            .as_str()
            .unwrap()
            .contains(&acme.firm.slug)
    );

    let theirs = app.add_contact(&other, "ann@example.com", true).await;
    for method in [Method::GET, Method::PATCH, Method::DELETE] {
        let body = (method == Method::PATCH).then(|| json!({"name": "Mallory"}));
        let path = format!("/api/v1/contacts/{}", theirs.id);
        let (status, body) = app.api(&acme.api_key, method.clone(), &path, body).await;
        assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
    }
    let path = format!("/api/v1/contacts/{}/invitation", theirs.id);
    let (status, body) = app.api(&acme.api_key, Method::POST, &path, None).await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
    let (_, list) = app
        .api(&acme.api_key, Method::GET, "/api/v1/contacts", None)
        .await;
    assert_eq!(list["data"], json!([]));
    // Untouched.
    let theirs = app.stored_contact(&other.firm.id, &theirs.id).await;
    assert_eq!(theirs.name, "Test Client");
    app.stop().await;
}

#[tokio::test]
async fn contacts_crud_with_case_insensitive_unique_emails() {
    let app = TestApp::spawn().await;
    let firm = app.create_firm("acme").await;
    let key = &firm.api_key;

    let (status, ann) = app
        .api(
            key,
            Method::POST,
            "/api/v1/contacts",
            Some(json!({"name": " Ann Lee ", "email": "Ann@Example.com", "portal_access": true})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{ann}");
    assert_eq!(ann["name"], "Ann Lee");
    assert_eq!(ann["portal_access"], true);
    let id = ann["id"].as_str().unwrap().to_string();
    assert!(id.starts_with("ct_") && id.len() == 25, "opaque id {id}");

    let (status, body) = app
        .api(
            key,
            Method::POST,
            "/api/v1/contacts",
            Some(json!({"name": "Dup", "email": "ann@EXAMPLE.com"})),
        )
        .await;
    assert_error(status, &body, StatusCode::CONFLICT, "email_taken");

    let (status, body) = app
        .api(key, Method::GET, &format!("/api/v1/contacts/{id}"), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["email"], "Ann@Example.com");
    assert_eq!(body["last_login_at"], Value::Null);

    let (status, body) = app
        .api(
            key,
            Method::PATCH,
            &format!("/api/v1/contacts/{id}"),
            Some(json!({"name": "Ann B. Lee", "portal_access": false})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["name"], "Ann B. Lee");
    assert_eq!(body["portal_access"], false);

    let (status, body) = app
        .api(
            key,
            Method::POST,
            &format!("/api/v1/contacts/{id}/invitation"),
            None,
        )
        .await;
    assert_error(status, &body, StatusCode::CONFLICT, "no_portal_access");

    let (status, _) = app
        .api(key, Method::DELETE, &format!("/api/v1/contacts/{id}"), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = app
        .api(key, Method::GET, &format!("/api/v1/contacts/{id}"), None)
        .await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
    let (status, body) = app
        .api(key, Method::GET, "/api/v1/contacts/not-an-id", None)
        .await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
    app.stop().await;
}

#[tokio::test]
async fn lists_paginate_with_a_cursor_and_filter() {
    let app = TestApp::spawn().await;
    let firm = app.create_firm("acme").await;
    for i in 0..7 {
        app.add_contact(&firm, &format!("c{i}@example.com"), i % 2 == 0)
            .await;
    }
    let mut seen = Vec::new();
    let mut path = "/api/v1/contacts?limit=3".to_string();
    loop {
        let (status, page) = app.api(&firm.api_key, Method::GET, &path, None).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        for c in page["data"].as_array().unwrap() {
            seen.push(c["email"].as_str().unwrap().to_string());
        }
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("/api/v1/contacts?limit=3&cursor={cursor}"),
            None => break,
        }
    }
    seen.sort();
    assert_eq!(seen.len(), 7);
    seen.dedup();
    assert_eq!(seen.len(), 7, "no contact twice");

    let (_, page) = app
        .api(
            &firm.api_key,
            Method::GET,
            "/api/v1/contacts?portal_access=true",
            None,
        )
        .await;
    assert_eq!(page["data"].as_array().unwrap().len(), 4);
    let (_, page) = app
        .api(
            &firm.api_key,
            Method::GET,
            "/api/v1/contacts?email=C3@example.com",
            None,
        )
        .await;
    assert_eq!(page["data"][0]["email"], "c3@example.com");

    for bad in [
        "limit=0",
        "limit=1000",
        "cursor=%%%",
        "cursor=bm90LWEtY3Vyc29y",
        "limit=ten",
        "email=nope",
    ] {
        let (status, body) = app
            .api(
                &firm.api_key,
                Method::GET,
                &format!("/api/v1/contacts?{bad}"),
                None,
            )
            .await;
        assert_error(
            status,
            &body,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
        );
    }
    app.stop().await;
}

#[tokio::test]
async fn bad_bodies_get_json_errors_with_the_right_status() {
    let app = TestApp::spawn().await;
    let firm = app.create_firm("acme").await;
    let client = reqwest::Client::new();
    let url = app.plain_url("/api/v1/contacts");
    let send = |body: &'static str, content_type: Option<&'static str>| {
        let mut request = client.post(&url).bearer_auth(&firm.api_key).body(body);
        if let Some(ct) = content_type {
            request = request.header("content-type", ct);
        }
        let app = &app;
        async move {
            let response = request.send().await.unwrap();
            let status = response.status();
            let body = response.json::<Value>().await.unwrap();
            check_answer(app, "POST", "/api/v1/contacts", status.as_u16(), &body).await;
            (status, body)
        }
    };
    let json_ct = Some("application/json");
    let (status, body) = send("{not json", json_ct).await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "bad_request");
    let (status, body) = send(r#"{"name": "x"}"#, json_ct).await;
    assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_field",
    );
    let (status, body) = send(
        r#"{"name": "x", "email": "x@example.com", "admin": true}"#,
        json_ct,
    )
    .await;
    assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_field",
    );
    let (status, body) = send(r#"{"name": "", "email": "x@example.com"}"#, json_ct).await;
    assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_field",
    );
    assert_eq!(body["error"]["field"], "name");
    let (status, body) = send(r#"{"name": "X", "email": "not-an-email"}"#, json_ct).await;
    assert_eq!(body["error"]["field"], "email");
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, body) = send(r#"{"name": "X", "email": "x@example.com"}"#, None).await;
    assert_error(
        status,
        &body,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    );
    let huge: &'static str = Box::leak(
        format!(
            r#"{{"name": "{}", "email": "x@example.com"}}"#,
            "a".repeat(2 * 1024 * 1024)
        )
        .into_boxed_str(),
    );
    let (status, body) = send(huge, json_ct).await;
    assert_error(status, &body, StatusCode::PAYLOAD_TOO_LARGE, "too_large");

    let (status, body) = app
        .api(&firm.api_key, Method::GET, "/api/v1/nothing-here", None)
        .await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
    app.stop().await;
}

#[tokio::test]
async fn granting_access_and_inviting_lets_the_client_in() {
    let app = TestApp::spawn().await;
    let firm = app.create_firm("acme").await;
    let key = &firm.api_key;
    let (_, ann) = app
        .api(
            key,
            Method::POST,
            "/api/v1/contacts",
            Some(json!({"name": "Ann", "email": "ann@example.com"})),
        )
        .await;
    let id = ann["id"].as_str().unwrap();
    // No access yet: the login page mails nothing.
    app.browser()
        .request_link(&app, &firm.firm.slug, "ann@example.com")
        .await;
    assert!(app.last_link("ann@example.com").await.is_none());

    app.api(
        key,
        Method::PATCH,
        &format!("/api/v1/contacts/{id}"),
        Some(json!({"portal_access": true})),
    )
    .await;
    let (status, invitation) = app
        .api(
            key,
            Method::POST,
            &format!("/api/v1/contacts/{id}/invitation"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{invitation}");
    assert_eq!(invitation["sent_to"], "ann@example.com");
    let mail = app.last_link("ann@example.com").await.unwrap();
    assert_eq!(mail.job.firm.name, firm.firm.name);
    assert_eq!(mail.job.data["link_ttl_days"], 7);
    let browser = app.browser();
    let response = browser
        .enter_code(&app, &firm.firm.slug, &mail.token, &mail.code)
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let (_, body) = app
        .api(key, Method::GET, &format!("/api/v1/contacts/{id}"), None)
        .await;
    assert!(body["last_login_at"].as_str().is_some(), "{body}");
    app.stop().await;
}

#[tokio::test]
async fn a_contact_filter_that_names_no_contact_lists_nothing_after_the_other_checks() {
    let app = TestApp::spawn().await;
    let firm = app.create_firm("acme").await;
    let ann = app.add_contact(&firm, "ann@example.com", true).await;
    app.api_ok(
        &firm,
        Method::POST,
        "/api/v1/tasks",
        Some(json!({"title": "T", "portal": true, "assignees": [ann.id]})),
    )
    .await;
    for list in ["tasks", "conversations", "invoices", "signing-requests"] {
        for junk in ["nope", "tk_0123456789abcdefghijkl", ""] {
            let path = format!("/api/v1/{list}?contact_id={junk}");
            let (status, body) = app.api(&firm.api_key, Method::GET, &path, None).await;
            assert_eq!(status, StatusCode::OK, "{path}: {body}");
            assert_eq!(body, json!({"data": [], "next_cursor": null}), "{path}");
        }
        let path = format!("/api/v1/{list}?contact_id=nope&cursor=junk");
        let (status, body) = app.api(&firm.api_key, Method::GET, &path, None).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{path}: {body}");
        assert_eq!(body["error"]["field"], "cursor", "{path}");
        let path = format!("/api/v1/{list}?contact_id=nope&status=lost");
        let (status, body) = app.api(&firm.api_key, Method::GET, &path, None).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{path}: {body}");
        assert_eq!(body["error"]["field"], "status", "{path}");
    }
    let path = format!("/api/v1/tasks?contact_id={}", ann.id);
    let (_, body) = app.api(&firm.api_key, Method::GET, &path, None).await;
    assert_eq!(body["data"].as_array().unwrap().len(), 1, "{body}");
}
