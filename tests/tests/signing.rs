//! Signing requests: staff send a PDF through the API, the client reads it in the portal and
//! signs (typed name and consent) or declines, and every step lands in an audit trail with the
//! document's SHA-256 recomputed from the stored bytes. Nobody else reaches a request.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use portico_e2e::{Browser, TestApp, TestFirm, csrf_in, file_part, sample_pdf, sha256_hex};
use portico_shared::ids::ContactId;
use portico_shared::mail::Template;
use reqwest::header::USER_AGENT;
use reqwest::multipart::Form;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const UA: &str = "PorticoTest/1.0 (signing)";

async fn request_signature(
    app: &TestApp,
    firm: &TestFirm,
    contact: &ContactId,
    pdf: &[u8],
) -> Value {
    firm.request_signature(
        app,
        contact,
        "Engagement letter 2026",
        "Engagement letter.pdf",
        pdf,
    )
    .await
}

async fn staff_view(app: &TestApp, firm: &TestFirm, id: &str) -> Value {
    let (status, body) = app
        .api(
            &firm.api_key,
            Method::GET,
            &format!("/api/v1/signing-requests/{id}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

async fn get_as(browser: &Browser, url: &str, headers: &[(&str, &str)]) -> reqwest::Response {
    let mut request = browser.client.get(url).header(USER_AGENT, UA);
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    request.send().await.unwrap()
}

async fn post_as(
    browser: &Browser,
    url: &str,
    form: &[(&str, &str)],
    headers: &[(&str, &str)],
) -> (StatusCode, String) {
    let mut request = browser.client.post(url).header(USER_AGENT, UA).form(form);
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    (status, response.text().await.unwrap())
}

#[tokio::test]
async fn a_client_reads_and_signs_a_document_with_a_full_audit_trail() {
    let app = TestApp::spawn().await;
    let firm = app.create_firm("acme").await;
    let slug = firm.firm.slug.clone();
    let ann = app.add_contact(&firm, "ann@example.com", true).await;
    let browser = app.signed_in(&firm, "ann@example.com").await;
    let pdf = sample_pdf("Engagement letter");
    let sha = sha256_hex(&pdf);

    let created = request_signature(&app, &firm, &ann.id, &pdf).await;
    let id = created["id"].as_str().unwrap().to_string();
    assert_eq!(created["status"], "pending");
    assert_eq!(created["document"]["sha256"], sha.as_str());
    assert_eq!(created["document"]["size"], pdf.len());
    assert_eq!(created["events"][0]["kind"], "created");
    let job = app.mail_jobs().await.into_iter().last().unwrap();
    assert_eq!(job.template, Template::SignatureRequested);
    assert_eq!(job.to.email, "ann@example.com");
    assert_eq!(job.data["document_title"], "Engagement letter 2026");
    assert_eq!(
        job.data["sign_url"],
        app.url(&slug, &format!("/sign/{id}")).as_str()
    );

    let (_, home) = browser.get_text(&app.url(&slug, "/")).await;
    assert!(home.contains(&format!("href=\"/sign/{id}\"")), "{home}");
    assert!(home.contains("Engagement letter 2026"));
    assert!(!home.contains("Nothing to sign"));

    let sign_url = app.url(&slug, &format!("/sign/{id}"));
    let response = get_as(&browser, &sign_url, &[]).await;
    assert_eq!(response.status(), StatusCode::OK);
    let csp = response.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(!csp.contains("frame-src"), "{csp}");
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert_eq!(response.headers()["x-frame-options"], "DENY");
    let page = response.text().await.unwrap();
    // The document as page images (tests/tests/sign_pages.rs), no frame: phones show none.
    assert!(!page.contains("<iframe"), "{page}");
    assert!(page.contains("I agree to sign electronically"));
    assert!(page.contains(&format!("/sign/{id}/document?download=1")));
    let csrf = csrf_in(&page).unwrap();

    // The document: inline, framed by nobody, never sniffed.
    let response = browser
        .get(&app.url(&slug, &format!("/sign/{id}/document")))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let headers = response.headers().clone();
    assert_eq!(headers["content-type"], "application/pdf");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["x-frame-options"], "DENY");
    assert_eq!(
        headers["content-security-policy"],
        "default-src 'none'; frame-ancestors 'none'"
    );
    assert!(
        headers["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("inline; filename=\"Engagement letter.pdf\"")
    );
    assert_eq!(response.bytes().await.unwrap().as_ref(), pdf.as_slice());
    let response = browser
        .get(&app.url(&slug, &format!("/sign/{id}/document?download=1")))
        .await;
    assert!(
        response.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment;")
    );

    // Refusals re-show the form with the problem and keep what was typed.
    let (status, page) = post_as(
        &browser,
        &sign_url,
        &[("csrf", &csrf), ("name", "Ann Example")],
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        page.contains("Tick the box to agree to sign electronically."),
        "{page}"
    );
    assert!(page.contains("value=\"Ann Example\""));
    let (status, page) = post_as(
        &browser,
        &sign_url,
        &[("csrf", &csrf), ("name", "   "), ("consent", "yes")],
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("Type your full name to sign."), "{page}");
    let long = "A".repeat(201);
    let (status, _) = post_as(
        &browser,
        &sign_url,
        &[("csrf", &csrf), ("name", &long), ("consent", "yes")],
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _) = post_as(
        &browser,
        &sign_url,
        &[("name", "Ann Example"), ("consent", "yes")],
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "no CSRF token");
    assert_eq!(staff_view(&app, &firm, &id).await["status"], "pending");

    // The name need not match the contact's: the typed name is what is recorded.
    let (status, _) = post_as(
        &browser,
        &sign_url,
        &[
            ("csrf", &csrf),
            ("name", " Ann Q. Example "),
            ("consent", "yes"),
        ],
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (status, page) = browser.get_text(&sign_url).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains("You signed this document as <strong>Ann Q. Example</strong>"),
        "{page}"
    );
    assert!(page.contains("127.0.0.1"));
    assert!(page.contains(&sha));
    assert!(page.contains("Audit trail"));

    let (status, page) = post_as(
        &browser,
        &sign_url,
        &[("csrf", &csrf), ("name", "Ann Example"), ("consent", "yes")],
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "signing twice");
    assert!(page.contains("already been signed"), "{page}");
    let (status, _) = post_as(
        &browser,
        &app.url(&slug, &format!("/sign/{id}/decline")),
        &[("csrf", &csrf), ("reason", "changed my mind")],
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "declining after signing");

    let view = staff_view(&app, &firm, &id).await;
    assert_eq!(view["status"], "signed");
    assert_eq!(view["signed_name"], "Ann Q. Example");
    let events = view["events"].as_array().unwrap();
    let kinds: Vec<&str> = events.iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["created", "viewed", "signed"], "{view}");
    for event in &events[1..] {
        assert_eq!(event["contact_id"], ann.id.as_str());
        assert_eq!(event["ip"], "127.0.0.1");
        assert_eq!(event["user_agent"], UA);
        assert_eq!(event["document_sha256"], sha.as_str());
    }
    assert_eq!(events[2]["typed_name"], "Ann Q. Example");
    let (_, home) = browser.get_text(&app.url(&slug, "/")).await;
    assert!(
        home.contains("Nothing to sign"),
        "signed is no longer pending"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_client_declines_from_behind_a_trusted_proxy_and_staff_list_requests() {
    let app = TestApp::spawn_with(&[
        ("PORTICO_TRUSTED_PROXIES", "127.0.0.1"),
        ("PORTICO_METRICS_TOKEN", "metrics-token-0123456789"),
    ])
    .await;
    let firm = app.create_firm("acme").await;
    let slug = firm.firm.slug.clone();
    let ann = app.add_contact(&firm, "ann@example.com", true).await;
    let bob = app.add_contact(&firm, "bob@example.com", true).await;
    let browser = app.signed_in(&firm, "ann@example.com").await;
    let pdf = sample_pdf("Letter");
    let first = request_signature(&app, &firm, &ann.id, &pdf).await;
    let second = request_signature(&app, &firm, &ann.id, &sample_pdf("Second")).await;
    request_signature(&app, &firm, &bob.id, &pdf).await;
    let id = first["id"].as_str().unwrap();

    let proxy = [("x-forwarded-for", "203.0.113.9")];
    let sign_url = app.url(&slug, &format!("/sign/{id}"));
    let response = get_as(&browser, &sign_url, &proxy).await;
    let csrf = csrf_in(&response.text().await.unwrap()).unwrap();
    let (status, _) = post_as(
        &browser,
        &app.url(&slug, &format!("/sign/{id}/decline")),
        &[("csrf", &csrf), ("reason", "The fee is wrong")],
        &proxy,
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (_, page) = browser.get_text(&sign_url).await;
    assert!(
        page.contains("You declined to sign this document"),
        "{page}"
    );
    assert!(page.contains("The fee is wrong"));
    let (status, _) = post_as(
        &browser,
        &sign_url,
        &[("csrf", &csrf), ("name", "Ann"), ("consent", "yes")],
        &[],
    )
    .await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "a declined request cannot be signed"
    );

    let view = staff_view(&app, &firm, id).await;
    assert_eq!(view["status"], "declined");
    assert_eq!(view["decline_reason"], "The fee is wrong");
    let declined = view["events"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(declined["kind"], "declined");
    assert_eq!(declined["ip"], "203.0.113.9");
    assert_eq!(declined["reason"], "The fee is wrong");
    assert_eq!(declined["document_sha256"], sha256_hex(&pdf).as_str());

    // Lists: filters and cursor pages.
    let list = |query: String| {
        let app = &app;
        let key = firm.api_key.clone();
        async move {
            let (status, body) = app
                .api(
                    &key,
                    Method::GET,
                    &format!("/api/v1/signing-requests{query}"),
                    None,
                )
                .await;
            assert_eq!(status, StatusCode::OK, "{body}");
            body
        }
    };
    let page = list("?limit=2".into()).await;
    assert_eq!(page["data"].as_array().unwrap().len(), 2);
    let cursor = page["next_cursor"].as_str().unwrap().to_string();
    let rest = list(format!("?limit=2&cursor={cursor}")).await;
    assert_eq!(rest["data"].as_array().unwrap().len(), 1);
    assert!(rest["next_cursor"].is_null());
    let pending = list(format!("?contact_id={}&status=pending", ann.id)).await;
    let ids: Vec<&str> = pending["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [second["id"].as_str().unwrap()]);
    let declined = list("?status=declined".into()).await;
    assert_eq!(declined["data"][0]["id"], id);
    let (status, body) = app
        .api(
            &firm.api_key,
            Method::GET,
            "/api/v1/signing-requests?status=lost",
            None,
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["error"]["field"], "status");
    app.stop().await;
}

#[tokio::test]
async fn the_api_refuses_bad_requests_and_a_firm_without_esign() {
    let app = TestApp::spawn().await;
    let firm = app.create_firm("acme").await;
    let other = app.create_firm("other").await;
    let ann = app.add_contact(&firm, "ann@example.com", true).await;
    let stranger = app.add_contact(&other, "sam@example.com", true).await;
    let pdf = sample_pdf("x");
    let post = |form: Form| app.api_multipart(&firm.api_key, "/api/v1/signing-requests", form);

    let (status, body) = post(
        Form::new()
            .text("contact_id", ann.id.to_string())
            .part("file", file_part("a.pdf", &pdf)),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["error"]["field"], "title");
    let (status, body) = post(
        Form::new()
            .text("contact_id", ann.id.to_string())
            .text("title", "T"),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["error"]["field"], "file");
    let (status, body) = post(
        Form::new()
            .text("title", "T")
            .part("file", file_part("a.pdf", &pdf)),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["error"]["field"], "contact_id");
    let (status, body) = post(
        Form::new()
            .text("contact_id", ann.id.to_string())
            .text("title", "T")
            .part("file", file_part("a.pdf", b"MZ\x90\x00not a pdf")),
    )
    .await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(body["error"]["code"], "unsupported_media_type");
    for unknown in [stranger.id.as_str(), "ct_nope"] {
        let (status, body) = post(
            Form::new()
                .text("contact_id", unknown.to_string())
                .text("title", "T")
                .part("file", file_part("a.pdf", &pdf)),
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(body["error"]["field"], "contact_id");
    }
    let (status, body) = app
        .api(
            &firm.api_key,
            Method::POST,
            "/api/v1/signing-requests",
            Some(json!({"contact_id": ann.id, "title": "T"})),
        )
        .await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{body}");
    let (_, list) = app
        .api(&firm.api_key, Method::GET, "/api/v1/signing-requests", None)
        .await;
    assert_eq!(list["data"].as_array().unwrap().len(), 0);
    assert!(
        !app.config
            .data_dir
            .join("files")
            .read_dir()
            .is_ok_and(|d| d.flatten().any(|e| e.file_name() != "tmp")),
        "refused requests store no document"
    );

    // Switched off: no new requests, and the portal no longer shows the existing one.
    let created = request_signature(&app, &firm, &ann.id, &pdf).await;
    let id = created["id"].as_str().unwrap();
    let browser = app.signed_in(&firm, "ann@example.com").await;
    let sign_url = app.url(&firm.firm.slug, &format!("/sign/{id}"));
    assert_eq!(browser.get(&sign_url).await.status(), StatusCode::OK);
    let (status, _) = app
        .api(
            &firm.api_key,
            Method::PATCH,
            "/api/v1/portal",
            Some(json!({"esign_enabled": false})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = post(
        Form::new()
            .text("contact_id", ann.id.to_string())
            .text("title", "T")
            .part("file", file_part("a.pdf", &pdf)),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body["error"]["code"], "esign_disabled");
    assert_eq!(browser.get(&sign_url).await.status(), StatusCode::NOT_FOUND);
    let (_, home) = browser.get_text(&app.url(&firm.firm.slug, "/")).await;
    assert!(!home.contains(id));
    app.stop().await;
}

#[tokio::test]
async fn a_document_changed_on_disk_cannot_be_signed() {
    let app = TestApp::spawn().await;
    let firm = app.create_firm("acme").await;
    let ann = app.add_contact(&firm, "ann@example.com", true).await;
    let browser = app.signed_in(&firm, "ann@example.com").await;
    let pdf = sample_pdf("Original");
    let sha = sha256_hex(&pdf);
    let created = request_signature(&app, &firm, &ann.id, &pdf).await;
    let id = created["id"].as_str().unwrap();
    let sign_url = app.url(&firm.firm.slug, &format!("/sign/{id}"));
    let csrf = browser.csrf(&sign_url).await;

    let stored = app.config.data_dir.join("files").join(&sha[..2]).join(&sha);
    std::fs::write(&stored, sample_pdf("Tampered")).unwrap();
    let (status, page) = browser.get_text(&sign_url).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(page.contains("has changed since it was sent"), "{page}");
    let (status, _) = post_as(
        &browser,
        &sign_url,
        &[("csrf", &csrf), ("name", "Ann"), ("consent", "yes")],
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let view = staff_view(&app, &firm, id).await;
    assert_eq!(view["status"], "pending");
    let last = view["events"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["kind"], "viewed");
    assert_ne!(
        last["document_sha256"],
        sha.as_str(),
        "the trail shows the change"
    );
    app.stop().await;
}

#[tokio::test]
async fn signing_requests_of_others_answer_404() {
    let app = TestApp::spawn().await;
    let firm = app.create_firm("acme").await;
    let other = app.create_firm("other").await;
    let slug = firm.firm.slug.clone();
    let ann = app.add_contact(&firm, "ann@example.com", true).await;
    app.add_contact(&firm, "bob@example.com", true).await;
    let ann_elsewhere = app.add_contact(&other, "ann@example.com", true).await;
    let pdf = sample_pdf("Ann's");
    let id = request_signature(&app, &firm, &ann.id, &pdf).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let foreign = request_signature(&app, &other, &ann_elsewhere.id, &pdf).await["id"]
        .as_str()
        .unwrap()
        .to_string();

    let bob = app.signed_in(&firm, "bob@example.com").await;
    let ann_browser = app.signed_in(&firm, "ann@example.com").await;
    let csrf = bob.csrf(&app.url(&slug, "/")).await;
    let ann_csrf = ann_browser.csrf(&app.url(&slug, "/")).await;
    // Bob (same firm) with Ann's request; Ann with another firm's request, or no id at all.
    for (browser, csrf, request) in [
        (&bob, &csrf, id.as_str()),
        (&ann_browser, &ann_csrf, foreign.as_str()),
        (&ann_browser, &ann_csrf, "sr_nope"),
    ] {
        for path in [
            format!("/sign/{request}"),
            format!("/sign/{request}/document"),
        ] {
            let url = app.url(&slug, &path);
            assert_eq!(
                browser.get(&url).await.status(),
                StatusCode::NOT_FOUND,
                "{path}"
            );
        }
        let sign = app.url(&slug, &format!("/sign/{request}"));
        let (status, _) = post_as(
            browser,
            &sign,
            &[("csrf", csrf), ("name", "Bob"), ("consent", "yes")],
            &[],
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "sign {request}");
        let (status, _) = post_as(
            browser,
            &format!("{sign}/decline"),
            &[("csrf", csrf), ("reason", "no")],
            &[],
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "decline {request}");
    }
    // Ann's session at the other firm does not reach this firm's request.
    let elsewhere = app.signed_in(&other, "ann@example.com").await;
    let url = app.url(&other.firm.slug, &format!("/sign/{id}"));
    assert_eq!(elsewhere.get(&url).await.status(), StatusCode::NOT_FOUND);
    // Nothing happened to it, and another firm's key cannot see it.
    let view = staff_view(&app, &firm, &id).await;
    assert_eq!(view["status"], "pending");
    assert_eq!(
        view["events"].as_array().unwrap().len(),
        1,
        "no views recorded"
    );
    let (status, body) = app
        .api(
            &other.api_key,
            Method::GET,
            &format!("/api/v1/signing-requests/{id}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"]["code"], "not_found");
    let (_, list) = app
        .api(
            &other.api_key,
            Method::GET,
            "/api/v1/signing-requests",
            None,
        )
        .await;
    let ids: Vec<&str> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [foreign.as_str()]);
    app.stop().await;
}

/// `2026-03-05T14:05:09Z` → `5. März 2026, 14:05:09 Uhr UTC`, as a German reader writes it.
fn german_time(rfc3339: &str) -> String {
    const MONTHS: [&str; 12] = [
        "Jan.", "Feb.", "März", "Apr.", "Mai", "Juni", "Juli", "Aug.", "Sept.", "Okt.", "Nov.",
        "Dez.",
    ];
    let number = |range: std::ops::Range<usize>| rfc3339[range].parse::<usize>().unwrap();
    format!(
        "{}. {} {}, {} Uhr UTC",
        number(8..10),
        MONTHS[number(5..7) - 1],
        &rfc3339[0..4],
        &rfc3339[11..19]
    )
}

#[tokio::test]
async fn a_german_client_reads_the_audit_trail_with_german_dates() {
    let app = TestApp::spawn().await;
    let firm = app.create_firm("acme").await;
    let slug = firm.firm.slug.clone();
    let ann = app.add_contact(&firm, "ann@example.com", true).await;
    let browser = app.signed_in(&firm, "ann@example.com").await;
    let saved = browser
        .save_settings(&app, &slug, "Anna Schmidt", "de")
        .await;
    assert_eq!(saved.status(), StatusCode::SEE_OTHER);
    let id = request_signature(&app, &firm, &ann.id, &sample_pdf("Vertrag")).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let sign_url = app.url(&slug, &format!("/sign/{id}"));
    let (status, page) = browser.get_text(&sign_url).await;
    assert_eq!(status, StatusCode::OK);
    let created = staff_view(&app, &firm, &id).await["created_at"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        page.contains(&format!(
            "Von acme &amp; Co gesendet am {}.",
            german_time(&created)
        )),
        "{page}"
    );
    let csrf = csrf_in(&page).unwrap();
    let (status, _) = post_as(
        &browser,
        &sign_url,
        &[
            ("csrf", &csrf),
            ("name", "Anna Schmidt"),
            ("consent", "yes"),
        ],
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);

    let (_, page) = browser.get_text(&sign_url).await;
    let view = staff_view(&app, &firm, &id).await;
    let events = view["events"].as_array().unwrap();
    for event in &events[1..] {
        let when = german_time(event["at"].as_str().unwrap());
        assert!(
            page.contains(&format!("<td>{when}</td>")),
            "{when} in {page}"
        );
    }
    let signed = german_time(events.last().unwrap()["at"].as_str().unwrap());
    assert!(page.contains(&format!("<dd>{signed}</dd>")), "{page}");
    assert!(page.contains(&format!("({signed})")), "{page}");
    assert!(page.contains("<caption>Protokoll</caption>"), "{page}");
    for english in [
        " Jan 20", " Feb 20", " Mar 20", " May 20", " Oct 20", " Dec 20",
    ] {
        assert!(!page.contains(english), "{english:?} in {page}");
    }
    app.stop().await;
}

#[tokio::test]
async fn staff_download_the_document_with_its_digest_and_only_their_own() {
    let app = TestApp::spawn().await;
    let firm = app.create_firm("acme").await;
    let other = app.create_firm("other").await;
    let ann = app.add_contact(&firm, "ann@example.com", true).await;
    let pdf = sample_pdf("Engagement letter");
    let created = request_signature(&app, &firm, &ann.id, &pdf).await;
    let id = created["id"].as_str().unwrap();
    let path = format!("/api/v1/signing-requests/{id}/document");

    let response = reqwest::Client::new()
        .get(app.plain_url(&path))
        .bearer_auth(&firm.api_key)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let headers = response.headers().clone();
    assert_eq!(headers["content-type"], "application/pdf");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert!(
        headers["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment; filename=\"Engagement letter.pdf\""),
        "{headers:?}"
    );
    // RFC 9530: the base64 of the SHA-256 the request and its trail record in hex.
    let digest = headers["repr-digest"].to_str().unwrap().to_string();
    let base64 = digest
        .strip_prefix("sha-256=:")
        .and_then(|d| d.strip_suffix(':'))
        .unwrap_or_else(|| panic!("{digest}"));
    let hash = ring::digest::digest(&ring::digest::SHA256, &pdf);
    assert_eq!(base64, STANDARD.encode(hash.as_ref()));
    assert_eq!(created["document"]["sha256"], sha256_hex(&pdf).as_str());
    assert_eq!(response.bytes().await.unwrap().as_ref(), pdf.as_slice());

    // Another firm's key, an id of no request, and no key at all.
    for (key, path) in [
        (other.api_key.as_str(), path.clone()),
        (
            firm.api_key.as_str(),
            "/api/v1/signing-requests/sr_nope/document".to_string(),
        ),
    ] {
        let (status, body) = app.api(key, Method::GET, &path, None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(body["error"]["code"], "not_found");
    }
    let response = reqwest::Client::new()
        .get(app.plain_url(&path))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    app.stop().await;
}
