//! Documents on tasks: a client uploads to a shared task from its page, downloads it again,
//! and staff see it through the API. Size, type, empty files and CSRF are checked, and nobody
//! reaches a file that is not theirs.

use portico_e2e::{TestApp, TestFirm, csrf_in, file_part, sample_pdf, sha256_hex};
use portico_shared::ids::ContactId;
use reqwest::multipart::Form;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

async fn shared_task(app: &TestApp, firm: &TestFirm, assignee: &ContactId, portal: bool) -> String {
    let (status, task) = app
        .api(
            &firm.api_key,
            Method::POST,
            "/api/v1/tasks",
            Some(
                json!({"title": "Send your statements", "portal": portal, "assignees": [assignee]}),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{task}");
    task["id"].as_str().unwrap().to_string()
}

fn upload_form(csrf: &str, name: &str, bytes: &[u8]) -> Form {
    Form::new()
        .text("csrf", csrf.to_string())
        .part("file", file_part(name, bytes))
}

async fn staff_task(app: &TestApp, firm: &TestFirm, id: &str) -> Value {
    let (status, task) = app
        .api(
            &firm.api_key,
            Method::GET,
            &format!("/api/v1/tasks/{id}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    task
}

/// Every stored blob under the data folder (not the temporary files).
fn stored_blobs(app: &TestApp) -> Vec<std::path::PathBuf> {
    let root = app.config.data_dir.join("files");
    let mut found = Vec::new();
    for dir in std::fs::read_dir(&root).into_iter().flatten().flatten() {
        if dir.file_name() == "tmp" {
            continue;
        }
        for file in std::fs::read_dir(dir.path())
            .into_iter()
            .flatten()
            .flatten()
        {
            found.push(file.path());
        }
    }
    found
}

fn temp_files(app: &TestApp) -> usize {
    std::fs::read_dir(app.config.data_dir.join("files").join("tmp"))
        .map(|d| d.count())
        .unwrap_or(0)
}

#[tokio::test]
async fn a_client_uploads_a_document_and_staff_download_it() {
    let app = TestApp::spawn().await;
    let firm = app.create_firm("acme").await;
    let slug = firm.firm.slug.clone();
    let ann = app.add_contact(&firm, "ann@example.com", true).await;
    let task = shared_task(&app, &firm, &ann.id, true).await;
    let browser = app.signed_in(&firm, "ann@example.com").await;
    let page_url = app.url(&slug, &format!("/tasks/{task}"));

    let (_, page) = browser.get_text(&page_url).await;
    assert!(page.contains("enctype=\"multipart/form-data\""), "{page}");
    assert!(page.contains("<label for=\"file\">Upload a document</label>"));
    assert!(page.contains("No documents yet."));
    let csrf = csrf_in(&page).unwrap();

    let pdf = sample_pdf("Bank statement");
    let response = browser
        .post_multipart(
            &app.url(&slug, &format!("/tasks/{task}/files")),
            upload_form(&csrf, "C:\\Users\\ann\\Relevé \"2026\".pdf", &pdf),
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        response.headers()["location"],
        format!("/tasks/{task}#files").as_str()
    );

    let (_, page) = browser.get_text(&page_url).await;
    assert!(page.contains("Relevé _2026_.pdf"), "{page}");
    let start = page.find(&format!("/tasks/{task}/files/fl_")).unwrap();
    let href = &page[start..start + page[start..].find('"').unwrap()];
    let response = browser.get(&app.url(&slug, href)).await;
    assert_eq!(response.status(), StatusCode::OK);
    let headers = response.headers().clone();
    assert_eq!(headers["content-type"], "application/pdf");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(
        headers["content-disposition"],
        "attachment; filename=\"Relev_ _2026_.pdf\"; filename*=UTF-8''Relev%C3%A9%20_2026_.pdf"
    );
    assert_eq!(response.bytes().await.unwrap().as_ref(), pdf.as_slice());

    // Staff see it in the task, with the hash of the bytes, and can download it.
    let staff = staff_task(&app, &firm, &task).await;
    let files = staff["files"].as_array().unwrap();
    assert_eq!(files.len(), 1);
    assert_eq!(files[0]["file_name"], "Relevé _2026_.pdf");
    assert_eq!(files[0]["size"], pdf.len());
    assert_eq!(files[0]["sha256"], sha256_hex(&pdf).as_str());
    assert_eq!(files[0]["uploaded_by"], ann.id.as_str());
    let response = reqwest::Client::new()
        .get(app.plain_url(files[0]["download_path"].as_str().unwrap()))
        .bearer_auth(&firm.api_key)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment;")
    );
    assert_eq!(response.bytes().await.unwrap().as_ref(), pdf.as_slice());

    // The bytes are stored once, under their hash, whatever they are called.
    let response = browser
        .post_multipart(
            &app.url(&slug, &format!("/tasks/{task}/files")),
            upload_form(&csrf, "copy.pdf", &pdf),
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let csv = b"date,amount\n2026-01-31,12.50\n";
    let response = browser
        .post_multipart(
            &app.url(&slug, &format!("/tasks/{task}/files")),
            upload_form(&csrf, "transactions.CSV", csv),
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let staff = staff_task(&app, &firm, &task).await;
    assert_eq!(staff["files"].as_array().unwrap().len(), 3);
    let csv_file = staff["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["file_name"] == "transactions.CSV")
        .unwrap();
    assert_eq!(csv_file["content_type"], "text/csv; charset=utf-8");
    let blobs = stored_blobs(&app);
    assert_eq!(blobs.len(), 2, "{blobs:?}");
    assert!(
        blobs
            .iter()
            .any(|p| p.file_name().unwrap() == sha256_hex(&pdf).as_str())
    );
    assert_eq!(temp_files(&app), 0, "no temporary files are left behind");
    app.stop().await;
}

#[tokio::test]
async fn uploads_are_refused_when_too_large_of_the_wrong_type_empty_or_forged() {
    let app = TestApp::spawn_with(&[
        ("PORTICO_UPLOAD_MAX_BYTES", "1MB"),
        ("PORTICO_UPLOAD_TYPES", "pdf,png,txt"),
    ])
    .await;
    let firm = app.create_firm("acme").await;
    let slug = firm.firm.slug.clone();
    let ann = app.add_contact(&firm, "ann@example.com", true).await;
    let task = shared_task(&app, &firm, &ann.id, true).await;
    let browser = app.signed_in(&firm, "ann@example.com").await;
    let page_url = app.url(&slug, &format!("/tasks/{task}"));
    let upload_url = app.url(&slug, &format!("/tasks/{task}/files"));
    let (_, page) = browser.get_text(&page_url).await;
    assert!(
        page.contains("PDF, PNG or text files, up to 1 MB."),
        "{page}"
    );
    let csrf = csrf_in(&page).unwrap();

    let post = |form: Form| {
        let browser = browser.clone();
        let url = upload_url.clone();
        async move {
            let response = browser.post_multipart(&url, form).await;
            let status = response.status();
            (status, response.text().await.unwrap())
        }
    };

    // Exactly the limit is fine; one byte more is not.
    let mut big = b"%PDF-1.4\n".to_vec();
    big.resize(1024 * 1024, b'x');
    let (status, _) = post(upload_form(&csrf, "big.pdf", &big)).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    big.push(b'x');
    let (status, page) = post(upload_form(&csrf, "bigger.pdf", &big)).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(page.contains("File too large"), "{page}");
    assert!(page.contains("the limit is 1 MB"), "{page}");

    let (status, page) = post(upload_form(&csrf, "setup.exe", b"MZ\x90\x00\x03")).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert!(
        page.contains("Files of type .exe cannot be uploaded here"),
        "{page}"
    );
    assert!(page.contains("PDF, PNG or text"), "{page}");
    // The same refusal for a German-speaking browser, in German.
    let german = browser
        .client
        .post(&upload_url)
        .header("accept-language", "de")
        .multipart(upload_form(&csrf, "setup.exe", b"MZ\x90\x00\x03"))
        .send()
        .await
        .unwrap();
    assert_eq!(german.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let page = german.text().await.unwrap();
    assert!(page.contains("Dateityp nicht erlaubt"), "{page}");
    assert!(
        page.contains("Dateien vom Typ .exe können hier nicht hochgeladen werden"),
        "{page}"
    );
    assert!(page.contains("PDF, PNG oder"), "{page}");
    // Allowed by default, but not in this configuration.
    let (status, page) = post(upload_form(&csrf, "scan.jpg", b"\xff\xd8\xff\xe0")).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert!(page.contains(".jpg"), "{page}");
    // The name says PDF, the bytes do not.
    let (status, page) = post(upload_form(&csrf, "invoice.pdf", b"MZ\x90\x00\x03")).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert!(page.contains("its contents are not PDF"), "{page}");
    let (status, _) = post(upload_form(&csrf, "notes.txt", b"bin\0ary")).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);

    let (status, page) = post(upload_form(&csrf, "empty.pdf", b"")).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("is empty"), "{page}");
    // What a browser sends when no file was chosen.
    let (status, page) = post(upload_form(&csrf, "", b"")).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("Choose a file to upload."), "{page}");
    let (status, _) = post(Form::new().text("csrf", csrf.clone())).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

    // No token, a wrong one, or one sent after the file: refused, nothing stored.
    let pdf = sample_pdf("forged");
    let (status, page) = post(Form::new().part("file", file_part("a.pdf", &pdf))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(page.contains("This form has expired"), "{page}");
    let (status, _) = post(upload_form("t1.AAAA", "a.pdf", &pdf)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let late = Form::new()
        .part("file", file_part("a.pdf", &pdf))
        .text("csrf", csrf.clone());
    let (status, _) = post(late).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // A token of another browser is worthless here.
    let other = app.signed_in(&firm, "ann@example.com").await;
    let other_csrf = other.csrf(&page_url).await;
    let (status, _) = post(upload_form(&other_csrf, "a.pdf", &pdf)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // Not multipart at all.
    let response = browser
        .post_form(&upload_url, &[("csrf", &csrf), ("file", "x")])
        .await;
    assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);

    let staff = staff_task(&app, &firm, &task).await;
    assert_eq!(staff["files"].as_array().unwrap().len(), 1, "only big.pdf");
    assert_eq!(stored_blobs(&app).len(), 1);
    assert_eq!(temp_files(&app), 0, "refused uploads leave nothing behind");
    app.stop().await;
}

#[tokio::test]
async fn files_of_other_contacts_firms_and_unshared_tasks_answer_404() {
    let app = TestApp::spawn().await;
    let firm = app.create_firm("acme").await;
    let other_firm = app.create_firm("other").await;
    let slug = firm.firm.slug.clone();
    let ann = app.add_contact(&firm, "ann@example.com", true).await;
    app.add_contact(&firm, "bob@example.com", true).await;
    let ann_elsewhere = app.add_contact(&other_firm, "ann@example.com", true).await;
    let task = shared_task(&app, &firm, &ann.id, true).await;
    let second = shared_task(&app, &firm, &ann.id, true).await;
    let unshared = shared_task(&app, &firm, &ann.id, false).await;
    let foreign = shared_task(&app, &other_firm, &ann_elsewhere.id, true).await;

    let ann_browser = app.signed_in(&firm, "ann@example.com").await;
    let csrf = ann_browser
        .csrf(&app.url(&slug, &format!("/tasks/{task}")))
        .await;
    let pdf = sample_pdf("mine");
    let response = ann_browser
        .post_multipart(
            &app.url(&slug, &format!("/tasks/{task}/files")),
            upload_form(&csrf, "mine.pdf", &pdf),
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let file = staff_task(&app, &firm, &task).await["files"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let own = app.url(&slug, &format!("/tasks/{task}/files/{file}"));
    assert_eq!(ann_browser.get(&own).await.status(), StatusCode::OK);

    // Bob, of the same firm, is not assigned.
    let bob = app.signed_in(&firm, "bob@example.com").await;
    let bob_csrf = bob.csrf(&app.url(&slug, "/")).await;
    assert_eq!(bob.get(&own).await.status(), StatusCode::NOT_FOUND);
    let response = bob
        .post_multipart(
            &app.url(&slug, &format!("/tasks/{task}/files")),
            upload_form(&bob_csrf, "bob.pdf", &pdf),
        )
        .await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);

    // Ann, at her own firm, with another firm's task, an unshared task, a file under the
    // wrong task, or ids that are not ids.
    for (task_id, file_id) in [
        (foreign.as_str(), file.as_str()),
        (unshared.as_str(), file.as_str()),
        (second.as_str(), file.as_str()),
        (task.as_str(), "fl_nope"),
        ("tk_nope", file.as_str()),
    ] {
        let url = app.url(&slug, &format!("/tasks/{task_id}/files/{file_id}"));
        assert_eq!(
            ann_browser.get(&url).await.status(),
            StatusCode::NOT_FOUND,
            "{url}"
        );
    }
    for task_id in [&foreign, &unshared] {
        let response = ann_browser
            .post_multipart(
                &app.url(&slug, &format!("/tasks/{task_id}/files")),
                upload_form(&csrf, "x.pdf", &pdf),
            )
            .await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{task_id}");
    }
    // Ann's session at the other firm does not reach this firm's file either.
    let elsewhere = app.signed_in(&other_firm, "ann@example.com").await;
    let url = app.url(
        &other_firm.firm.slug,
        &format!("/tasks/{task}/files/{file}"),
    );
    assert_eq!(elsewhere.get(&url).await.status(), StatusCode::NOT_FOUND);

    // Unsharing the task hides its files at once.
    let (status, _) = app
        .api(
            &firm.api_key,
            Method::PATCH,
            &format!("/api/v1/tasks/{task}"),
            Some(json!({"portal": false})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ann_browser.get(&own).await.status(), StatusCode::NOT_FOUND);

    // Another firm's API key.
    let (status, body) = app
        .api(
            &other_firm.api_key,
            Method::GET,
            &format!("/api/v1/tasks/{task}/files/{file}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"]["code"], "not_found");
    let response = reqwest::Client::new()
        .get(app.plain_url(&format!("/api/v1/tasks/{task}/files/{file}")))
        .bearer_auth(&firm.api_key)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK, "staff still reach it");
    app.stop().await;
}

/// The most this process has ever held in memory (Linux: `VmHWM`), in bytes.
fn peak_memory() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    let kb: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kb * 1024
}

#[tokio::test]
async fn names_with_reordering_characters_are_stored_without_them() {
    let app = TestApp::spawn().await;
    let firm = app.create_firm("acme").await;
    let slug = firm.firm.slug.clone();
    let ann = app.add_contact(&firm, "ann@example.com", true).await;
    let task = shared_task(&app, &firm, &ann.id, true).await;
    let browser = app.signed_in(&firm, "ann@example.com").await;
    let page_url = app.url(&slug, &format!("/tasks/{task}"));
    let csrf = browser.csrf(&page_url).await;

    // U+202E shows "evil\u{202E}gnp.pdf" as "evilfdp.png"; zero-width and BOM hide in names.
    let response = browser
        .post_multipart(
            &app.url(&slug, &format!("/tasks/{task}/files")),
            upload_form(
                &csrf,
                "evil\u{202E}gnp\u{200B}\u{FEFF}.pdf",
                &sample_pdf("x"),
            ),
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let staff = staff_task(&app, &firm, &task).await;
    assert_eq!(staff["files"][0]["file_name"], "evilgnp.pdf");
    let (_, page) = browser.get_text(&page_url).await;
    assert!(page.contains("evilgnp.pdf"), "{page}");
    assert!(!page.contains('\u{202E}'), "{page}");
    app.stop().await;
}

#[tokio::test]
async fn an_oversized_csrf_field_is_refused_without_being_kept() {
    let app = TestApp::spawn().await;
    let firm = app.create_firm("acme").await;
    let slug = firm.firm.slug.clone();
    let ann = app.add_contact(&firm, "ann@example.com", true).await;
    let task = shared_task(&app, &firm, &ann.id, true).await;
    let browser = app.signed_in(&firm, "ann@example.com").await;
    let csrf = browser
        .csrf(&app.url(&slug, &format!("/tasks/{task}")))
        .await;

    // A valid token padded to 20 MB (under the 25 MB body limit): once it would have been
    // read whole into memory before its length was looked at.
    let mut padded = csrf.clone();
    padded.push_str(&" ".repeat(20 * 1024 * 1024));
    let form = upload_form(&padded, "a.pdf", &sample_pdf("a"));
    let before = peak_memory();
    let started = std::time::Instant::now();
    let response = browser
        .post_multipart(&app.url(&slug, &format!("/tasks/{task}/files")), form)
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let page = response.text().await.unwrap();
    assert!(page.contains("This form has expired"), "{page}");
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    let grown = peak_memory().saturating_sub(before);
    assert!(
        grown < 8 * 1024 * 1024,
        "the gateway kept the field: peak memory grew by {grown} bytes"
    );
    assert!(
        staff_task(&app, &firm, &task).await["files"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    app.stop().await;
}

#[tokio::test]
async fn a_client_past_the_quota_gets_507_and_nothing_is_stored() {
    let app = TestApp::spawn_with(&[("PORTICO_UPLOAD_QUOTA", "10KB")]).await;
    let firm = app.create_firm("acme").await;
    let slug = firm.firm.slug.clone();
    let ann = app.add_contact(&firm, "ann@example.com", true).await;
    let bob = app.add_contact(&firm, "bob@example.com", true).await;
    let task = shared_task(&app, &firm, &ann.id, true).await;
    let bobs = shared_task(&app, &firm, &bob.id, true).await;
    let browser = app.signed_in(&firm, "ann@example.com").await;
    let csrf = browser
        .csrf(&app.url(&slug, &format!("/tasks/{task}")))
        .await;
    let upload_url = app.url(&slug, &format!("/tasks/{task}/files"));
    let file = |n: u8| {
        let mut bytes = format!("page {n}\n").into_bytes();
        bytes.resize(4 * 1024, b'x');
        bytes
    };

    // 4 KB + 4 KB fit in 10 KB; a third 4 KB does not.
    for n in 0..2 {
        let response = browser
            .post_multipart(
                &upload_url,
                upload_form(&csrf, &format!("{n}.txt"), &file(n)),
            )
            .await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
    }
    let response = browser
        .post_multipart(&upload_url, upload_form(&csrf, "2.txt", &file(2)))
        .await;
    assert_eq!(response.status(), StatusCode::INSUFFICIENT_STORAGE);
    let page = response.text().await.unwrap();
    assert!(page.contains("No room for more documents"), "{page}");
    assert!(page.contains("take 8 KB of the 10 KB"), "{page}");
    assert_eq!(
        staff_task(&app, &firm, &task).await["files"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(stored_blobs(&app).len(), 2, "the refused file is not kept");
    assert_eq!(temp_files(&app), 0);

    // In German too.
    let german = browser
        .client
        .post(&upload_url)
        .header("accept-language", "de")
        .multipart(upload_form(&csrf, "2.txt", &file(2)))
        .send()
        .await
        .unwrap();
    assert_eq!(german.status(), StatusCode::INSUFFICIENT_STORAGE);
    let page = german.text().await.unwrap();
    assert!(page.contains("Kein Platz für weitere Dokumente"), "{page}");

    // Bob, of the same firm, has his own quota.
    let bob_browser = app.signed_in(&firm, "bob@example.com").await;
    let bob_csrf = bob_browser
        .csrf(&app.url(&slug, &format!("/tasks/{bobs}")))
        .await;
    let response = bob_browser
        .post_multipart(
            &app.url(&slug, &format!("/tasks/{bobs}/files")),
            upload_form(&bob_csrf, "bob.txt", &file(9)),
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    app.stop().await;
}

#[tokio::test]
async fn a_client_past_the_upload_rate_gets_429_with_retry_after() {
    let app = TestApp::spawn_with(&[("PORTICO_UPLOAD_RATE", "2/hour")]).await;
    let firm = app.create_firm("acme").await;
    let slug = firm.firm.slug.clone();
    let ann = app.add_contact(&firm, "ann@example.com", true).await;
    let bob = app.add_contact(&firm, "bob@example.com", true).await;
    let task = shared_task(&app, &firm, &ann.id, true).await;
    let bobs = shared_task(&app, &firm, &bob.id, true).await;
    let browser = app.signed_in(&firm, "ann@example.com").await;
    let csrf = browser
        .csrf(&app.url(&slug, &format!("/tasks/{task}")))
        .await;
    let upload_url = app.url(&slug, &format!("/tasks/{task}/files"));

    for n in 0..2 {
        let response = browser
            .post_multipart(
                &upload_url,
                upload_form(&csrf, &format!("{n}.pdf"), &sample_pdf(&n.to_string())),
            )
            .await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
    }
    let response = browser
        .post_multipart(&upload_url, upload_form(&csrf, "3.pdf", &sample_pdf("3")))
        .await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=3600).contains(&wait), "{wait}");
    let page = response.text().await.unwrap();
    assert!(page.contains("Please wait a moment"), "{page}");
    assert_eq!(
        staff_task(&app, &firm, &task).await["files"]
            .as_array()
            .unwrap()
            .len(),
        2
    );

    // Bob, of the same firm, has his own count.
    let bob_browser = app.signed_in(&firm, "bob@example.com").await;
    let bob_csrf = bob_browser
        .csrf(&app.url(&slug, &format!("/tasks/{bobs}")))
        .await;
    let response = bob_browser
        .post_multipart(
            &app.url(&slug, &format!("/tasks/{bobs}/files")),
            upload_form(&bob_csrf, "bob.pdf", &sample_pdf("bob")),
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    app.stop().await;
}
