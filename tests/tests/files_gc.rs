//! Stored documents that no row names any more (their task, or the contact and with it their
//! signing requests, was deleted) are removed by the sweep, `gateway files gc` or the one
//! `serve` runs by itself; documents still named, and files younger than the grace period,
//! stay.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant, SystemTime};

use portico_e2e::binaries::{ChildGuard, gateway, run_gateway};
use portico_e2e::{TestApp, TestFirm, csrf_in, file_part, sample_pdf, sha256_hex};
use portico_shared::ids::ContactId;
use reqwest::multipart::Form;
use reqwest::{Method, StatusCode};
use serde_json::json;

/// Older than the default grace period (1h).
const OLD: Duration = Duration::from_secs(2 * 3600);

fn blob(app: &TestApp, bytes: &[u8]) -> PathBuf {
    let hash = sha256_hex(bytes);
    app.config
        .data_dir
        .join("files")
        .join(&hash[..2])
        .join(hash)
}

fn age(path: &Path, by: Duration) {
    std::fs::File::options()
        .write(true)
        .open(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .set_modified(SystemTime::now() - by)
        .unwrap();
}

/// A file in the store's layout that no row names.
fn plant(app: &TestApp, text: &str, older_by: Option<Duration>) -> PathBuf {
    let path = blob(app, text.as_bytes());
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, text).unwrap();
    if let Some(by) = older_by {
        age(&path, by);
    }
    path
}

async fn shared_task(app: &TestApp, firm: &TestFirm, contact: &ContactId) -> String {
    let task = app
        .api_ok(
            firm,
            Method::POST,
            "/api/v1/tasks",
            Some(json!({"title": "Statements", "portal": true, "assignees": [contact]})),
        )
        .await;
    task["id"].as_str().unwrap().to_string()
}

async fn signing_request(
    app: &TestApp,
    firm: &TestFirm,
    contact: &ContactId,
    pdf: &[u8],
) -> String {
    let created = firm
        .request_signature(app, contact, "Letter", "letter.pdf", pdf)
        .await;
    created["id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn files_gc_removes_old_unreferenced_files_and_keeps_named_and_young_ones() {
    let app = TestApp::spawn().await;
    let firm = app.create_firm("acme").await;
    let slug = firm.firm.slug.clone();
    let ann = app.add_contact(&firm, "ann@example.com", true).await;
    let bob = app.add_contact(&firm, "bob@example.com", true).await;
    let browser = app.signed_in(&firm, "ann@example.com").await;

    // Ann uploads one document to a task that will be deleted, and another to both that task
    // and one that stays.
    let doomed = shared_task(&app, &firm, &ann.id).await;
    let kept = shared_task(&app, &firm, &ann.id).await;
    let only_doomed = sample_pdf("Only on the deleted task");
    let on_both = sample_pdf("On both tasks");
    for (task, pdf) in [
        (&doomed, &only_doomed),
        (&doomed, &on_both),
        (&kept, &on_both),
    ] {
        let csrf = csrf_in(
            &browser
                .get_text(&app.url(&slug, &format!("/tasks/{task}")))
                .await
                .1,
        )
        .unwrap();
        let form = Form::new()
            .text("csrf", csrf)
            .part("file", file_part("statement.pdf", pdf));
        let response = browser
            .post_multipart(&app.url(&slug, &format!("/tasks/{task}/files")), form)
            .await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
    }
    // A signing request that stays, and one that goes with its contact.
    let anns_letter = sample_pdf("Ann's letter");
    let anns_request = signing_request(&app, &firm, &ann.id, &anns_letter).await;
    let bobs_letter = sample_pdf("Bob's letter");
    signing_request(&app, &firm, &bob.id, &bobs_letter).await;

    app.api_ok(
        &firm,
        Method::DELETE,
        &format!("/api/v1/tasks/{doomed}"),
        None,
    )
    .await;
    app.api_ok(
        &firm,
        Method::DELETE,
        &format!("/api/v1/contacts/{}", bob.id),
        None,
    )
    .await;

    let stored = [&only_doomed, &on_both, &anns_letter, &bobs_letter].map(|pdf| blob(&app, pdf));
    for path in &stored {
        assert!(path.exists(), "{}", path.display());
        age(path, OLD);
    }
    let [only_doomed_path, on_both_path, anns_path, bobs_path] = stored;
    // An orphan written a moment ago (its row may be about to commit), an old one, a file
    // the store did not name, and leftovers of uploads.
    let young_orphan = plant(&app, "young orphan", None);
    let old_orphan = plant(&app, "old orphan", Some(OLD));
    let foreign = app
        .config
        .data_dir
        .join("files")
        .join("ab")
        .join("notes.txt");
    std::fs::create_dir_all(foreign.parent().unwrap()).unwrap();
    std::fs::write(&foreign, "not a stored document").unwrap();
    age(&foreign, OLD);
    let tmp = app.config.data_dir.join("files").join("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    let stale_part = tmp.join("crashed.part");
    std::fs::write(&stale_part, "half an upload").unwrap();
    age(&stale_part, OLD);
    let live_part = tmp.join("uploading.part");
    std::fs::write(&live_part, "an upload in flight").unwrap();

    let output = run_gateway(&app.vars, &["files", "gc"]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{output:?}");
    assert!(
        stdout.starts_with("removed 3 unreferenced file(s)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("kept 2 in use and 1 younger than 3600s; removed 1 leftover upload(s)"),
        "{stdout}"
    );

    for gone in [&only_doomed_path, &bobs_path, &old_orphan, &stale_part] {
        assert!(!gone.exists(), "{} should be gone", gone.display());
    }
    // No empty folder is left behind; a folder with a file in it stays.
    for entry in std::fs::read_dir(app.config.data_dir.join("files")).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() && path.file_name().unwrap() != "tmp" {
            let files = std::fs::read_dir(&path).unwrap().count();
            assert!(files > 0, "{} is empty", path.display());
        }
    }
    assert!(foreign.parent().unwrap().exists());
    for stays in [
        &on_both_path,
        &anns_path,
        &young_orphan,
        &foreign,
        &live_part,
    ] {
        assert!(stays.exists(), "{} should stay", stays.display());
    }
    // What is still named still downloads.
    let response = reqwest::Client::new()
        .get(app.plain_url(&format!("/api/v1/signing-requests/{anns_request}/document")))
        .bearer_auth(&firm.api_key)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.bytes().await.unwrap().as_ref(),
        anns_letter.as_slice()
    );
    let task = app
        .api_ok(&firm, Method::GET, &format!("/api/v1/tasks/{kept}"), None)
        .await;
    let file = task["files"][0]["id"].as_str().unwrap();
    let response = reqwest::Client::new()
        .get(app.plain_url(&format!("/api/v1/tasks/{kept}/files/{file}")))
        .bearer_auth(&firm.api_key)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.bytes().await.unwrap().as_ref(), on_both.as_slice());

    // A second run finds nothing more to do; a bad grace is refused with its flag.
    let output = run_gateway(&app.vars, &["files", "gc"]);
    assert!(
        String::from_utf8_lossy(&output.stdout).starts_with("removed 0 unreferenced file(s)"),
        "{output:?}"
    );
    let output = run_gateway(&app.vars, &["files", "gc", "--grace", "soon"]);
    assert!(!output.status.success());
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("--grace"),
        "{output:?}"
    );
    app.stop().await;
}

#[tokio::test]
async fn serve_sweeps_by_itself_every_interval() {
    let app = TestApp::spawn().await;
    let old_orphan = plant(&app, "old orphan", Some(OLD));
    let young_orphan = plant(&app, "young orphan", None);
    let mut vars = app.vars.clone();
    vars.insert("PORTICO_FILES_GC_EVERY".into(), "1s".into());
    let _gateway = ChildGuard(
        gateway(&vars)
            .arg("serve")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let started = Instant::now();
    while old_orphan.exists() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "serve did not sweep {}",
            old_orphan.display()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(young_orphan.exists());
    app.stop().await;
}
