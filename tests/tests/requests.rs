//! Requests: a client asks, staff answer through the API, the client replies; nobody else
//! can read or write the conversation.

use portico_e2e::{Browser, TestApp, csrf_in};
use portico_shared::mail::Template;
use reqwest::{Method, StatusCode};
use serde_json::json;

async fn send_request(
    app: &TestApp,
    browser: &Browser,
    slug: &str,
    body: &str,
) -> reqwest::Response {
    let csrf = browser.csrf(&app.url(slug, "/")).await;
    browser
        .post_form(
            &app.url(slug, "/requests"),
            &[("csrf", &csrf), ("body", body)],
        )
        .await
}

#[tokio::test]
async fn a_request_becomes_a_conversation_with_the_firm() {
    let app = TestApp::spawn().await;
    let firm = app.create_firm("acme").await;
    let slug = firm.firm.slug.clone();
    let ann = app.add_contact(&firm, "ann@example.com", true).await;
    let browser = app.signed_in(&firm, "ann@example.com").await;

    let (_, home) = browser.get_text(&app.url(&slug, "/")).await;
    assert!(home.contains("Send a request"));
    let response = send_request(&app, &browser, &slug, "   ").await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("Write your message before sending it.")
    );
    let too_long = "x".repeat(10_001);
    let response = send_request(&app, &browser, &slug, &too_long).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);

    let response = send_request(
        &app,
        &browser,
        &slug,
        "Can we move our meeting?\nThursday works better.",
    )
    .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let thread = response.headers()["location"].to_str().unwrap().to_string();
    let id = thread.trim_start_matches("/requests/").to_string();
    let (status, page) = browser.get_text(&app.url(&slug, &thread)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Can we move our meeting?"));
    let (_, home) = browser.get_text(&app.url(&slug, "/")).await;
    assert!(
        home.contains(&format!("/requests/{id}")),
        "listed on the home page"
    );

    // Staff read and answer.
    let (_, list) = app
        .api(
            &firm.api_key,
            Method::GET,
            &format!("/api/v1/conversations?contact_id={}", ann.id),
            None,
        )
        .await;
    assert_eq!(list["data"][0]["id"], id.as_str());
    assert_eq!(list["data"][0]["subject"], "Can we move our meeting?");
    let path = format!("/api/v1/conversations/{id}/messages");
    let (status, error) = app
        .api(
            &firm.api_key,
            Method::POST,
            &path,
            Some(json!({"body": ""})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{error}");
    let (status, _) = app
        .api(
            &firm.api_key,
            Method::POST,
            &path,
            Some(json!({"body": "Thursday at 10 it is."})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let job = app.mail_jobs().await.into_iter().last().unwrap();
    assert_eq!(job.template, Template::RequestReply);
    assert_eq!(job.to.email, "ann@example.com");
    assert_eq!(job.data["reply_excerpt"], "Thursday at 10 it is.");

    let (_, page) = browser.get_text(&app.url(&slug, &thread)).await;
    assert!(page.contains("Thursday at 10 it is."));
    let csrf = csrf_in(&page).unwrap();
    let reply = app.url(&slug, &format!("{thread}/messages"));
    let response = browser
        .post_form(&reply, &[("csrf", &csrf), ("body", "Thanks!")])
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let response = browser
        .post_form(&reply, &[("csrf", &csrf), ("body", "")])
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let response = browser.post_form(&reply, &[("body", "no token")]).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);

    let (_, staff_view) = app
        .api(
            &firm.api_key,
            Method::GET,
            &format!("/api/v1/conversations/{id}"),
            None,
        )
        .await;
    let authors: Vec<&str> = staff_view["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["author"].as_str().unwrap())
        .collect();
    assert_eq!(authors, ["client", "staff", "client"]);
    app.stop().await;
}

#[tokio::test]
async fn conversations_are_private_to_their_contact_and_firm() {
    let app = TestApp::spawn().await;
    let firm = app.create_firm("acme").await;
    let other = app.create_firm("other").await;
    let slug = firm.firm.slug.clone();
    app.add_contact(&firm, "ann@example.com", true).await;
    app.add_contact(&firm, "ben@example.com", true).await;
    app.add_contact(&other, "ann@example.com", true).await;

    let ben = app.signed_in(&firm, "ben@example.com").await;
    let r = send_request(&app, &ben, &slug, "Ben's private question").await;
    let bens = r.headers()["location"].to_str().unwrap().to_string();
    let ann_elsewhere = app.signed_in(&other, "ann@example.com").await;
    let r = send_request(
        &app,
        &ann_elsewhere,
        &other.firm.slug,
        "Ann at the other firm",
    )
    .await;
    let foreign = r.headers()["location"].to_str().unwrap().to_string();

    let ann = app.signed_in(&firm, "ann@example.com").await;
    let csrf = ann.csrf(&app.url(&slug, "/")).await;
    for (case, thread) in [("another contact's", &bens), ("another firm's", &foreign)] {
        let (status, html) = ann.get_text(&app.url(&slug, thread)).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{case}");
        assert!(!html.contains("private question") && !html.contains("other firm"));
        let r = ann
            .post_form(
                &app.url(&slug, &format!("{thread}/messages")),
                &[("csrf", &csrf), ("body", "hi")],
            )
            .await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{case}");
    }
    let foreign_id = foreign.trim_start_matches("/requests/");
    for (method, path) in [
        (Method::GET, format!("/api/v1/conversations/{foreign_id}")),
        (
            Method::POST,
            format!("/api/v1/conversations/{foreign_id}/messages"),
        ),
    ] {
        let body = (method == Method::POST).then(|| json!({"body": "x"}));
        let (status, _) = app.api(&firm.api_key, method, &path, body).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
    let (_, list) = app
        .api(&firm.api_key, Method::GET, "/api/v1/conversations", None)
        .await;
    assert_eq!(
        list["data"].as_array().unwrap().len(),
        1,
        "only this firm's"
    );
    app.stop().await;
}
