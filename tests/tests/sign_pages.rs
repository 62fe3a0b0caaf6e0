//! The sign page shows the document as page images rendered on the server (poppler's
//! `pdftoppm`, in a separate process with time, memory and page bounds), so a client reads
//! what they sign on any device. Rendered once per document, in the background, when the
//! request is made, or the first time a sign page finds none (documents stored earlier); a
//! document that cannot be rendered keeps its download; the images reach only the signer and
//! are swept with the document.

use std::time::Duration;

use portico_e2e::{Browser, TestApp, TestFirm, multi_page_pdf, sha256_hex, staff};
use portico_shared::ids::ContactId;
use portico_shared::store::{EventOrigin, NewSigningRequest, PageImages};
use reqwest::{Method, StatusCode};

async fn ask_to_sign(app: &TestApp, firm: &TestFirm, contact: &ContactId, pdf: &[u8]) -> String {
    firm.request_signature(app, contact, "Engagement letter", "letter.pdf", pdf)
        .await["id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Width and height of a PNG, from its header.
fn png_size(png: &[u8]) -> (u32, u32) {
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    let word = |at: usize| u32::from_be_bytes(png[at..at + 4].try_into().unwrap());
    (word(16), word(20))
}

async fn page_image(browser: &Browser, app: &TestApp, slug: &str, path: &str) -> reqwest::Response {
    browser.get(&app.url(slug, path)).await
}

#[tokio::test]
async fn a_multi_page_document_shows_one_image_per_page_to_its_signer_only() {
    let app = TestApp::spawn().await;
    let firm = app.create_firm("acme").await;
    let other = app.create_firm("other").await;
    let slug = firm.firm.slug.clone();
    let ann = app.add_contact(&firm, "ann@example.com", true).await;
    app.add_contact(&firm, "bob@example.com", true).await;
    app.add_contact(&other, "ann@example.com", true).await;
    let pdf = multi_page_pdf("Engagement letter", 3);
    let id = ask_to_sign(&app, &firm, &ann.id, &pdf).await;

    // Rendered in the background after the request was made, once.
    let sha = sha256_hex(&pdf);
    assert_eq!(
        app.rendered_pages(&sha).await,
        PageImages::Ready {
            page_count: 3,
            rendered: 3
        }
    );

    let ann_browser = app.signed_in(&firm, "ann@example.com").await;
    let (status, page) = ann_browser
        .get_text(&app.url(&slug, &format!("/sign/{id}")))
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(!page.contains("<iframe"), "{page}");
    for n in 1..=3 {
        let lazy = if n == 1 { "" } else { " loading=\"lazy\"" };
        let img = format!("<img src=\"/sign/{id}/pages/{n}\" alt=\"Page {n} of 3\"{lazy}>");
        assert!(page.contains(&img), "{img} in {page}");
    }
    assert!(!page.contains("Showing the first"), "{page}");
    // The images come before the download link.
    let last_image = page.find(&format!("/sign/{id}/pages/3")).unwrap();
    let download = page
        .find(&format!("/sign/{id}/document?download=1"))
        .unwrap();
    assert!(last_image < download);

    let mut images = Vec::new();
    for n in 1..=3 {
        let response =
            page_image(&ann_browser, &app, &slug, &format!("/sign/{id}/pages/{n}")).await;
        assert_eq!(response.status(), StatusCode::OK, "page {n}");
        let headers = response.headers().clone();
        assert_eq!(headers["content-type"], "image/png");
        assert_eq!(headers["x-content-type-options"], "nosniff");
        let cache = headers["cache-control"].to_str().unwrap();
        assert!(cache.starts_with("private, max-age="), "{cache}");
        let csp = headers["content-security-policy"].to_str().unwrap();
        assert!(csp.starts_with("default-src 'none'"), "{csp}");
        let png = response.bytes().await.unwrap().to_vec();
        // Letter size, scaled so that its longest side is 1200 px.
        let (width, height) = png_size(&png);
        assert_eq!(height, 1200, "page {n}");
        assert!((920..=935).contains(&width), "page {n}: {width}");
        images.push(png);
    }
    assert_ne!(images[0], images[1], "each page has its own image");
    assert_ne!(images[1], images[2], "each page has its own image");

    // No such page, or no page number at all.
    for path in [
        "pages/4",
        "pages/0",
        "pages/-1",
        "pages/one",
        "pages/99999999999",
    ] {
        let response = page_image(&ann_browser, &app, &slug, &format!("/sign/{id}/{path}")).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
    }

    // Bob (same firm), Ann at another firm's host, and nobody signed in get nothing.
    let bob = app.signed_in(&firm, "bob@example.com").await;
    let response = page_image(&bob, &app, &slug, &format!("/sign/{id}/pages/1")).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let elsewhere = app.signed_in(&other, "ann@example.com").await;
    let response = page_image(
        &elsewhere,
        &app,
        &other.firm.slug,
        &format!("/sign/{id}/pages/1"),
    )
    .await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let response = page_image(&app.browser(), &app, &slug, &format!("/sign/{id}/pages/1")).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert!(
        response.headers()["location"]
            .to_str()
            .unwrap()
            .contains("/login")
    );

    // Signed, the page keeps showing what was signed.
    let csrf = ann_browser
        .csrf(&app.url(&slug, &format!("/sign/{id}")))
        .await;
    let response = ann_browser
        .post_form(
            &app.url(&slug, &format!("/sign/{id}")),
            &[
                ("csrf", csrf.as_str()),
                ("name", "Ann Lee"),
                ("consent", "yes"),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let (_, page) = ann_browser
        .get_text(&app.url(&slug, &format!("/sign/{id}")))
        .await;
    assert!(page.contains("You signed this document"), "{page}");
    assert!(
        page.contains(&format!("<img src=\"/sign/{id}/pages/1\"")),
        "{page}"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_document_that_cannot_be_rendered_keeps_its_download_and_is_not_tried_again() {
    let app = TestApp::spawn().await;
    let firm = app.create_firm("acme").await;
    let slug = firm.firm.slug.clone();
    let ann = app.add_contact(&firm, "ann@example.com", true).await;
    // It starts like a PDF, so the upload takes it; nothing after that is one.
    let junk = b"%PDF-1.7\nthis is not a document at all\n".repeat(20);
    let id = ask_to_sign(&app, &firm, &ann.id, &junk).await;
    let sha = sha256_hex(&junk);
    assert_eq!(
        app.rendered_pages(&sha).await,
        PageImages::Failed { page_count: None }
    );

    let browser = app.signed_in(&firm, "ann@example.com").await;
    for _ in 0..2 {
        let (status, page) = browser
            .get_text(&app.url(&slug, &format!("/sign/{id}")))
            .await;
        assert_eq!(status, StatusCode::OK, "{page}");
        assert!(
            page.contains("This document cannot be shown here"),
            "{page}"
        );
        assert!(
            page.contains(&format!("/sign/{id}/document?download=1")),
            "{page}"
        );
        assert!(!page.contains("<img src=\"/sign/"), "{page}");
        // Seen again, it is still the failure: no new attempt is started.
        assert_eq!(
            app.store.page_images(&sha).await.unwrap(),
            Some(PageImages::Failed { page_count: None })
        );
    }
    let response = browser
        .get(&app.url(&slug, &format!("/sign/{id}/pages/1")))
        .await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    // The document itself is still there to download.
    let response = browser
        .get(&app.url(&slug, &format!("/sign/{id}/document?download=1")))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.bytes().await.unwrap().as_ref(), junk.as_slice());
    app.stop().await;
}

#[tokio::test]
async fn a_long_document_shows_its_first_pages_and_says_the_rest_are_in_the_download() {
    let app = TestApp::spawn_with(&[("PORTICO_PREVIEW_PAGES", "2")]).await;
    let firm = app.create_firm("acme").await;
    let slug = firm.firm.slug.clone();
    let ann = app.add_contact(&firm, "ann@example.com", true).await;
    let pdf = multi_page_pdf("Annual accounts", 5);
    let id = ask_to_sign(&app, &firm, &ann.id, &pdf).await;
    assert_eq!(
        app.rendered_pages(&sha256_hex(&pdf)).await,
        PageImages::Ready {
            page_count: 5,
            rendered: 2
        }
    );
    let browser = app.signed_in(&firm, "ann@example.com").await;
    let (_, page) = browser
        .get_text(&app.url(&slug, &format!("/sign/{id}")))
        .await;
    assert!(page.contains("alt=\"Page 1 of 5\""), "{page}");
    assert!(page.contains("alt=\"Page 2 of 5\""), "{page}");
    assert!(!page.contains(&format!("/sign/{id}/pages/3")), "{page}");
    assert!(
        page.contains("Showing the first 2 of 5 pages; download the document for the rest."),
        "{page}"
    );
    let third = browser
        .get(&app.url(&slug, &format!("/sign/{id}/pages/3")))
        .await;
    assert_eq!(third.status(), StatusCode::NOT_FOUND);
    app.stop().await;
}

#[tokio::test]
async fn a_document_stored_before_page_images_gets_them_when_its_sign_page_is_first_shown() {
    let app = TestApp::spawn().await;
    let firm = app.create_firm("acme").await;
    let slug = firm.firm.slug.clone();
    let ann = app.add_contact(&firm, "ann@example.com", true).await;
    // Stored the way the gateway did before it rendered pages: the file and the row only.
    let pdf = multi_page_pdf("Older letter", 2);
    let sha = sha256_hex(&pdf);
    let path = app.state().blobs().path(&sha).unwrap();
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, &pdf).unwrap();
    let request = app
        .store
        .create_signing_request(
            &firm.firm.id,
            &NewSigningRequest {
                contact_id: ann.id.clone(),
                title: "Older letter".into(),
                document_name: "older.pdf".into(),
                document_size: pdf.len() as i64,
                document_sha256: sha.clone(),
                account_id: None,
            },
            &EventOrigin {
                ip: None,
                user_agent: None,
                document_sha256: sha.clone(),
            },
        )
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(app.store.page_images(&sha).await.unwrap(), None);

    let browser = app.signed_in(&firm, "ann@example.com").await;
    let sign = app.url(&slug, &format!("/sign/{}", request.id));
    let (status, page) = browser.get_text(&sign).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("are being prepared"), "{page}");
    assert!(page.contains("/document?download=1"), "{page}");
    assert_eq!(
        app.rendered_pages(&sha).await,
        PageImages::Ready {
            page_count: 2,
            rendered: 2
        }
    );
    let (_, page) = browser.get_text(&sign).await;
    assert!(page.contains("alt=\"Page 2 of 2\""), "{page}");
    app.stop().await;
}

#[tokio::test]
async fn one_renderer_claims_a_document_and_a_stale_claim_is_taken_over() {
    let app = TestApp::spawn().await;
    let sha = sha256_hex(b"claimed content");
    let now = portico_shared::now_unix();
    assert!(app.store.claim_page_images(&sha, now - 120).await.unwrap());
    // Held and fresh: nobody else may start.
    assert!(!app.store.claim_page_images(&sha, now - 120).await.unwrap());
    // Held since before the stale line (its gateway died): taken over.
    assert!(app.store.claim_page_images(&sha, now + 1).await.unwrap());
    // Done: never again, however old.
    app.store.fail_page_images(&sha, Some(3)).await.unwrap();
    assert!(!app.store.claim_page_images(&sha, now + 3600).await.unwrap());
    assert_eq!(
        app.store.page_images(&sha).await.unwrap(),
        Some(PageImages::Failed {
            page_count: Some(3)
        })
    );
    // Pages of a claim that is gone (swept meanwhile) are not stored.
    let gone = sha256_hex(b"swept content");
    assert!(
        !app.store
            .finish_page_images(&gone, 1, &[vec![1, 2, 3]])
            .await
            .unwrap()
    );
    assert_eq!(app.store.stored_page_image(&gone, 1).await.unwrap(), None);
    app.stop().await;
}

#[tokio::test]
async fn sweeping_a_document_sweeps_its_page_images() {
    let app = TestApp::spawn().await;
    let firm = app.create_firm("acme").await;
    let ann = app.add_contact(&firm, "ann@example.com", true).await;
    let bob = app.add_contact(&firm, "bob@example.com", true).await;
    let anns = multi_page_pdf("Ann's letter", 2);
    let bobs = multi_page_pdf("Bob's letter", 2);
    ask_to_sign(&app, &firm, &ann.id, &anns).await;
    ask_to_sign(&app, &firm, &bob.id, &bobs).await;
    for pdf in [&anns, &bobs] {
        assert!(matches!(
            app.rendered_pages(&sha256_hex(pdf)).await,
            PageImages::Ready { rendered: 2, .. }
        ));
    }
    // Bob goes, and his signing request with him; the rows go now, the content at the sweep.
    app.api_ok(
        &firm,
        Method::DELETE,
        &format!("/api/v1/contacts/{}", bob.id),
        None,
    )
    .await;
    let bobs_sha = sha256_hex(&bobs);
    assert!(
        app.store
            .stored_page_image(&bobs_sha, 1)
            .await
            .unwrap()
            .is_some()
    );

    let sweep = app
        .state()
        .blobs()
        .sweep(&*app.store, Duration::from_secs(3600))
        .await
        .unwrap();
    assert_eq!(sweep.page_images, 1);
    assert_eq!(app.store.page_images(&bobs_sha).await.unwrap(), None);
    assert_eq!(
        app.store.stored_page_image(&bobs_sha, 1).await.unwrap(),
        None
    );
    assert_eq!(
        app.store.stored_page_image(&bobs_sha, 2).await.unwrap(),
        None
    );
    // Ann's document is still named: its pages stay.
    let anns_sha = sha256_hex(&anns);
    assert!(matches!(
        app.store.page_images(&anns_sha).await.unwrap(),
        Some(PageImages::Ready { rendered: 2, .. })
    ));
    assert!(
        app.store
            .stored_page_image(&anns_sha, 2)
            .await
            .unwrap()
            .is_some()
    );
    // Nothing more to sweep.
    let again = app
        .state()
        .blobs()
        .sweep(&*app.store, Duration::from_secs(3600))
        .await
        .unwrap();
    assert_eq!(again.page_images, 0);
    app.stop().await;
}

#[tokio::test]
async fn the_favicon_answers_on_portal_and_console_hosts() {
    let app = TestApp::spawn().await;
    let firm = app.create_firm("acme").await;
    let slug = firm.firm.slug.clone();
    let browser = app.browser();
    let response = browser.get(&app.url(&slug, "/favicon.ico")).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "image/x-icon");
    assert!(
        response.headers()["cache-control"]
            .to_str()
            .unwrap()
            .starts_with("public, max-age=")
    );
    let ico = response.bytes().await.unwrap();
    assert_eq!(&ico[..4], &[0, 0, 1, 0], "an ICO header");
    let response = browser.get(&app.url(&slug, "/assets/favicon.svg")).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "image/svg+xml");
    assert!(response.text().await.unwrap().starts_with("<svg"));
    // Both layouts link it.
    for path in ["/login", "/staff/login"] {
        let (status, page) = browser.get_text(&app.url(&slug, path)).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert!(
            page.contains(
                "<link rel=\"icon\" href=\"/assets/favicon.svg\" type=\"image/svg+xml\">"
            ),
            "{path}: {page}"
        );
    }
    // A host that is no firm's still gets the icon, not a 404.
    let response = browser.get(&app.url("no-such-firm", "/favicon.ico")).await;
    assert_eq!(response.status(), StatusCode::OK);
    app.stop().await;
}

#[tokio::test]
async fn staff_see_the_pages_the_client_reads_within_their_scope() {
    let app = TestApp::spawn().await;
    let firm = app.create_firm("acme").await;
    let other = app.create_firm("other").await;
    let ann = app.add_contact(&firm, "ann@example.com", true).await;
    let pdf = multi_page_pdf("Engagement letter", 2);
    let id = ask_to_sign(&app, &firm, &ann.id, &pdf).await;
    assert!(matches!(
        app.rendered_pages(&sha256_hex(&pdf)).await,
        PageImages::Ready { rendered: 2, .. }
    ));
    let slug = firm.firm.slug.clone();
    let (_, owner) = staff::signed_in_owner(&app, &firm).await;
    let (status, page) = owner
        .get_text(&app.url(&slug, &format!("/staff/signing/{id}")))
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    for n in 1..=2 {
        let img = format!("<img src=\"/staff/signing/{id}/pages/{n}\" alt=\"Page {n} of 2\"");
        assert!(page.contains(&img), "{img} in {page}");
    }
    let response = owner
        .get(&app.url(&slug, &format!("/staff/signing/{id}/pages/2")))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "image/png");
    let png = response.bytes().await.unwrap();
    assert_eq!(
        png.as_ref(),
        app.store
            .stored_page_image(&sha256_hex(&pdf), 2)
            .await
            .unwrap()
            .unwrap()
            .as_slice()
    );
    for path in ["pages/3", "pages/0", "pages/x"] {
        let response = owner
            .get(&app.url(&slug, &format!("/staff/signing/{id}/{path}")))
            .await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
    }
    // A team member sees the signing requests of the clients assigned to them only.
    let (member, sam) = staff::signed_in_member(&app, &firm, "sam@acme.example", "team").await;
    let response = sam
        .get(&app.url(&slug, &format!("/staff/signing/{id}/pages/1")))
        .await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    staff::assign(&app, &firm, &ann.id, std::slice::from_ref(&member.id)).await;
    let response = sam
        .get(&app.url(&slug, &format!("/staff/signing/{id}/pages/1")))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    // Another firm's owner does not reach it.
    let (_, stranger) = staff::signed_in_owner(&app, &other).await;
    let response = stranger
        .get(&app.url(&other.firm.slug, &format!("/staff/signing/{id}/pages/1")))
        .await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    // Signed out: the staff sign-in, not the image.
    let response = app
        .browser()
        .get(&app.url(&slug, &format!("/staff/signing/{id}/pages/1")))
        .await;
    assert_ne!(response.status(), StatusCode::OK);
    app.stop().await;
}
