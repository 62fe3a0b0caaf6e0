//! The console's work pages over real HTTP: tasks, signing requests, invoices and portal
//! settings, as members with different roles use them, and what clients then see.

use portico_e2e::staff::{
    add_member as member, add_role as role, assign, location, owner,
    staff_browser as signed_in_staff,
};
use portico_e2e::{Browser, TestApp, TestFirm, decoded, file_part, sample_pdf};
use portico_shared::mail::Template;
use portico_shared::policy::{Action, Area, Permissions, Scope};
use reqwest::{Method, StatusCode};
use serde_json::json;

/// Posts a console form, with the CSRF token read from the page at `form_page`.
async fn post(
    browser: &Browser,
    app: &TestApp,
    firm: &TestFirm,
    form_page: &str,
    action: &str,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    let csrf = browser.csrf(&app.url(&firm.firm.slug, form_page)).await;
    let mut form = vec![("csrf", csrf.as_str())];
    form.extend_from_slice(fields);
    browser
        .post_form(&app.url(&firm.firm.slug, action), &form)
        .await
}

async fn text_of(
    browser: &Browser,
    app: &TestApp,
    firm: &TestFirm,
    path: &str,
) -> (StatusCode, String) {
    let (status, html) = browser.get_text(&app.url(&firm.firm.slug, path)).await;
    (status, decoded(html))
}

async fn body(response: reqwest::Response) -> String {
    decoded(response.text().await.unwrap())
}

#[tokio::test]
async fn a_task_shared_with_a_checklist_reaches_the_client_until_it_is_unshared() {
    let app = TestApp::spawn().await;
    let firm = app.create_firm("acme").await;
    app.add_contact(&firm, "ann@example.com", true).await;
    let owner = owner(&app, &firm).await;
    let staff = signed_in_staff(&app, &firm, &owner).await;

    let (status, page) = text_of(&staff, &app, &firm, "/staff/tasks").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("No tasks here yet"));
    assert!(
        page.contains("href=\"/staff/tasks/new\""),
        "the owner may create"
    );

    let created = post(
        &staff,
        &app,
        &firm,
        "/staff/tasks/new",
        "/staff/tasks",
        &[
            ("title", "Send your 2026 payslips"),
            ("description", "All twelve, please."),
            ("due_date", "2030-01-31"),
            ("assignees", "Ann@Example.com"),
            ("checklist", "January to June\n\nJuly to December\n"),
            ("portal", "on"),
        ],
    )
    .await;
    assert_eq!(created.status(), StatusCode::SEE_OTHER);
    let task_page = location(&created);
    assert!(task_page.starts_with("/staff/tasks/tk_"), "{task_page}");
    let task_id = task_page
        .trim_start_matches("/staff/tasks/")
        .split('?')
        .next()
        .unwrap()
        .to_string();

    let (_, page) = text_of(&staff, &app, &firm, &task_page).await;
    assert!(page.contains("Task created."));
    assert!(page.contains("Send your 2026 payslips"));
    assert!(page.contains("ann@example.com"));
    assert!(page.contains("January to June") && page.contains("July to December"));
    assert!(page.contains("Shared to the portal"));
    assert!(page.contains("Delete task"), "the owner may delete");

    // Emailed as the API does.
    let job = app
        .mail_jobs()
        .await
        .into_iter()
        .last()
        .expect("a mail job");
    assert_eq!(job.template, Template::TaskShared);
    assert_eq!(job.to.email, "ann@example.com");
    assert_eq!(job.data["checklist_items"], 2);

    let client = app.signed_in(&firm, "ann@example.com").await;
    let (_, home) = client.get_text(&app.url(&firm.firm.slug, "/")).await;
    assert!(home.contains("Send your 2026 payslips"), "{home}");
    let (status, task) = client
        .get_text(&app.url(&firm.firm.slug, &format!("/tasks/{task_id}")))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(task.contains("January to June"));

    // The list shows it, filtered by status.
    let (_, list) = text_of(&staff, &app, &firm, "/staff/tasks?status=open").await;
    assert!(list.contains("Send your 2026 payslips"));
    assert!(list.contains("0 of 2 items done"));
    let (_, done) = text_of(&staff, &app, &firm, "/staff/tasks?status=completed").await;
    assert!(!done.contains("Send your 2026 payslips"));

    // Unshared: gone from the portal.
    let unshared = post(
        &staff,
        &app,
        &firm,
        &task_page,
        &format!("/staff/tasks/{task_id}/portal"),
        &[("portal", "false")],
    )
    .await;
    assert_eq!(unshared.status(), StatusCode::SEE_OTHER);
    let (_, home) = client.get_text(&app.url(&firm.firm.slug, "/")).await;
    assert!(!home.contains("Send your 2026 payslips"));
    let (status, _) = client
        .get_text(&app.url(&firm.firm.slug, &format!("/tasks/{task_id}")))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Edited: the title changes, the checklist stays as it was.
    let saved = post(
        &staff,
        &app,
        &firm,
        &format!("/staff/tasks/{task_id}/edit"),
        &format!("/staff/tasks/{task_id}"),
        &[
            ("title", "Send your payslips"),
            ("description", ""),
            ("due_date", ""),
            ("assignees", "ann@example.com"),
            ("checklist", "January to June\nJuly to December"),
        ],
    )
    .await;
    assert_eq!(saved.status(), StatusCode::SEE_OTHER);
    let (_, page) = text_of(&staff, &app, &firm, &format!("/staff/tasks/{task_id}")).await;
    assert!(page.contains("Send your payslips") && page.contains("No due date"));
    assert!(page.contains("Not shared"));

    // Deleted.
    let deleted = post(
        &staff,
        &app,
        &firm,
        &format!("/staff/tasks/{task_id}"),
        &format!("/staff/tasks/{task_id}/delete"),
        &[],
    )
    .await;
    assert_eq!(deleted.status(), StatusCode::SEE_OTHER);
    let (status, _) = text_of(&staff, &app, &firm, &format!("/staff/tasks/{task_id}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    app.stop().await;
}

#[tokio::test]
async fn task_forms_refuse_bad_input_with_a_message() {
    let app = TestApp::spawn().await;
    let firm = app.create_firm("acme").await;
    app.add_contact(&firm, "ann@example.com", true).await;
    let other = app.create_firm("other").await;
    app.add_contact(&other, "zed@example.com", true).await;
    let owner = owner(&app, &firm).await;
    let staff = signed_in_staff(&app, &firm, &owner).await;
    let cases: [(&[(&str, &str)], &str); 5] = [
        (&[("title", "  ")], "title must not be empty"),
        (
            &[("title", "x"), ("due_date", "31/12/2026")],
            "due_date must be a date like 2026-12-31",
        ),
        (
            &[("title", "x"), ("assignees", "not-an-address")],
            "is not an email address",
        ),
        (
            &[("title", "x"), ("assignees", "zed@example.com")],
            "zed@example.com is not one of your contacts",
        ),
        (
            &[("title", "x"), ("checklist", &"y".repeat(201))],
            "checklist must be at most 200 characters",
        ),
    ];
    for (fields, message) in cases {
        let response = post(
            &staff,
            &app,
            &firm,
            "/staff/tasks/new",
            "/staff/tasks",
            fields,
        )
        .await;
        assert_eq!(
            response.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{fields:?}"
        );
        let page = body(response).await;
        assert!(page.contains(message), "{message}: {page}");
        assert!(page.contains("role=\"alert\""));
    }
    // Without the CSRF token: refused.
    let response = staff
        .post_form(&app.url(&firm.firm.slug, "/staff/tasks"), &[("title", "x")])
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    // Ids that are not tasks, and tasks of another firm.
    let (_, theirs) = app
        .api(
            &other.api_key,
            Method::POST,
            "/api/v1/tasks",
            Some(json!({"title": "Theirs"})),
        )
        .await;
    for path in [
        "/staff/tasks/nonsense".to_string(),
        format!("/staff/tasks/{}", theirs["id"].as_str().unwrap()),
        "/staff/tasks?before=garbage&status=nonsense".to_string(),
    ] {
        let (status, _) = text_of(&staff, &app, &firm, &path).await;
        let expected = if path.contains('?') {
            StatusCode::OK
        } else {
            StatusCode::NOT_FOUND
        };
        assert_eq!(status, expected, "{path}");
    }
    // Signed out: sent to sign in.
    let response = app
        .browser()
        .get(&app.url(&firm.firm.slug, "/staff/tasks"))
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/staff/login");
    app.stop().await;
}

#[tokio::test]
async fn a_team_member_works_on_their_clients_tasks_only_and_cannot_delete() {
    let app = TestApp::spawn().await;
    let firm = app.create_firm("acme").await;
    let ann = app.add_contact(&firm, "ann@example.com", true).await;
    let bob = app.add_contact(&firm, "bob@example.com", true).await;
    let tess = member(&app, &firm, "tess@acme.example", "team").await;
    assign(&app, &firm, &ann.id, std::slice::from_ref(&tess.id)).await;
    let staff = signed_in_staff(&app, &firm, &tess).await;
    let task = |title: &str, who: &str| json!({"title": title, "assignees": [who], "portal": true});
    let mine = app
        .api_ok(
            &firm,
            Method::POST,
            "/api/v1/tasks",
            Some(task("Ann's return", ann.id.as_str())),
        )
        .await;
    let theirs = app
        .api_ok(
            &firm,
            Method::POST,
            "/api/v1/tasks",
            Some(task("Bob's return", bob.id.as_str())),
        )
        .await;
    let mine = mine["id"].as_str().unwrap();
    let theirs = theirs["id"].as_str().unwrap();

    let (_, list) = text_of(&staff, &app, &firm, "/staff/tasks").await;
    assert!(
        list.contains("Ann&#x27;s return") || list.contains("Ann's return"),
        "{list}"
    );
    assert!(!list.contains("Bob"), "{list}");
    for path in [
        format!("/staff/tasks/{theirs}"),
        format!("/staff/tasks/{theirs}/edit"),
    ] {
        let (status, _) = text_of(&staff, &app, &firm, &path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
    }
    let (status, page) = text_of(&staff, &app, &firm, &format!("/staff/tasks/{mine}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Edit task"), "team members edit");
    assert!(
        !page.contains("Delete task"),
        "no delete button without the permission"
    );

    // Delete is refused (403) though the button is hidden; out of scope it is 404.
    let refused = post(
        &staff,
        &app,
        &firm,
        &format!("/staff/tasks/{mine}"),
        &format!("/staff/tasks/{mine}/delete"),
        &[],
    )
    .await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let hidden = post(
        &staff,
        &app,
        &firm,
        &format!("/staff/tasks/{mine}"),
        &format!("/staff/tasks/{theirs}/portal"),
        &[("portal", "false")],
    )
    .await;
    assert_eq!(hidden.status(), StatusCode::NOT_FOUND);

    // A contact outside the scope is refused like an unknown one.
    for email in ["bob@example.com", "nobody@example.com"] {
        let response = post(
            &staff,
            &app,
            &firm,
            "/staff/tasks/new",
            "/staff/tasks",
            &[("title", "Hi"), ("assignees", email)],
        )
        .await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let page = body(response).await;
        assert!(
            page.contains(&format!("{email} is not one of your contacts")),
            "{page}"
        );
    }
    // A "new task" link from a contact's page fills the contact in, only if it is theirs.
    let (_, form) = text_of(
        &staff,
        &app,
        &firm,
        &format!("/staff/tasks/new?contact={}", ann.id),
    )
    .await;
    assert!(form.contains(">ann@example.com</textarea>"), "{form}");
    let (_, form) = text_of(
        &staff,
        &app,
        &firm,
        &format!("/staff/tasks/new?contact={}", bob.id),
    )
    .await;
    assert!(!form.contains("bob@example.com"));
    let (_, form) = text_of(
        &staff,
        &app,
        &firm,
        &format!("/staff/signing/new?contact={}", ann.id),
    )
    .await;
    assert!(form.contains("value=\"ann@example.com\""));
    let created = post(
        &staff,
        &app,
        &firm,
        "/staff/tasks/new",
        "/staff/tasks",
        &[("title", "For Ann"), ("assignees", "ann@example.com")],
    )
    .await;
    assert_eq!(created.status(), StatusCode::SEE_OTHER);

    // A role that only views tasks sees no New button and is refused the POST.
    let viewer = role(
        &app,
        &firm,
        "Viewer",
        Permissions::default().with(Area::Tasks, &[Action::View], Scope::All),
    )
    .await;
    let vera = member(&app, &firm, "vera@acme.example", &viewer.id).await;
    let vera = signed_in_staff(&app, &firm, &vera).await;
    let (_, list) = text_of(&vera, &app, &firm, "/staff/tasks").await;
    assert!(list.contains("Bob"), "scope all");
    assert!(!list.contains("/staff/tasks/new"));
    let (status, _) = text_of(&vera, &app, &firm, "/staff/tasks/new").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let refused = post(
        &vera,
        &app,
        &firm,
        "/staff/tasks",
        "/staff/tasks",
        &[("title", "Nope")],
    )
    .await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let (_, page) = text_of(&vera, &app, &firm, &format!("/staff/tasks/{theirs}")).await;
    assert!(
        !page.contains("Edit task")
            && !page.contains("Share to portal")
            && !page.contains("Stop sharing")
    );
    app.stop().await;
}

/// Uploads a document for signature through the console form.
async fn ask_signature(
    staff: &Browser,
    app: &TestApp,
    firm: &TestFirm,
    contact: &str,
    title: &str,
    name: &str,
    bytes: &[u8],
) -> reqwest::Response {
    let csrf = staff
        .csrf(&app.url(&firm.firm.slug, "/staff/signing/new"))
        .await;
    let form = reqwest::multipart::Form::new()
        .text("csrf", csrf)
        .text("contact", contact.to_string())
        .text("title", title.to_string())
        .part("file", file_part(name, bytes));
    staff
        .post_multipart(&app.url(&firm.firm.slug, "/staff/signing"), form)
        .await
}

#[tokio::test]
async fn a_pdf_sent_for_signature_shows_its_audit_trail_once_the_client_signs() {
    let app = TestApp::spawn().await;
    let firm = app.create_firm("acme").await;
    let slug = firm.firm.slug.clone();
    app.add_contact(&firm, "ann@example.com", true).await;
    let owner = owner(&app, &firm).await;
    let staff = signed_in_staff(&app, &firm, &owner).await;
    let pdf = sample_pdf("Engagement letter");

    let sent = ask_signature(
        &staff,
        &app,
        &firm,
        "ann@example.com",
        "Engagement letter",
        "letter.pdf",
        &pdf,
    )
    .await;
    assert_eq!(sent.status(), StatusCode::SEE_OTHER);
    let page_url = location(&sent);
    let id = page_url
        .trim_start_matches("/staff/signing/")
        .split('?')
        .next()
        .unwrap()
        .to_string();
    let job = app
        .mail_jobs()
        .await
        .into_iter()
        .last()
        .expect("a mail job");
    assert_eq!(job.template, Template::SignatureRequested);
    assert_eq!(job.to.email, "ann@example.com");

    let (_, page) = text_of(&staff, &app, &firm, &page_url).await;
    assert!(page.contains("Signing request sent."));
    assert!(page.contains("Waiting for signature"));
    assert!(page.contains("Sent for signature"));
    let (_, list) = text_of(&staff, &app, &firm, "/staff/signing?status=pending").await;
    assert!(list.contains("Engagement letter") && list.contains("ann@example.com"));

    // The client signs in the portal.
    let client = app.signed_in(&firm, "ann@example.com").await;
    let sign_url = app.url(&slug, &format!("/sign/{id}"));
    let csrf = client.csrf(&sign_url).await;
    let signed = client
        .post_form(
            &sign_url,
            &[("csrf", &csrf), ("name", "Ann Example"), ("consent", "yes")],
        )
        .await;
    assert!(
        signed.status().is_redirection() || signed.status().is_success(),
        "{}",
        signed.status()
    );

    let (_, page) = text_of(&staff, &app, &firm, &format!("/staff/signing/{id}")).await;
    for seen in [
        "Signed as",
        "Ann Example",
        "Viewed by the client",
        "Sent for signature",
        "(by the firm)",
    ] {
        assert!(page.contains(seen), "{seen}: {page}");
    }
    assert!(page.contains(&portico_e2e::sha256_hex(&pdf)));
    let (_, list) = text_of(&staff, &app, &firm, "/staff/signing?status=signed").await;
    assert!(list.contains("Engagement letter"));
    let (_, list) = text_of(&staff, &app, &firm, "/staff/signing?status=pending").await;
    assert!(!list.contains("Engagement letter"));

    let download = staff
        .get(&app.url(&slug, &format!("/staff/signing/{id}/document")))
        .await;
    assert_eq!(download.status(), StatusCode::OK);
    assert!(download.headers().get("repr-digest").is_some());
    assert_eq!(download.bytes().await.unwrap().as_ref(), pdf.as_slice());
    app.stop().await;
}

#[tokio::test]
async fn signing_uploads_refuse_what_is_not_a_pdf_for_a_contact_in_scope() {
    let app = TestApp::spawn().await;
    let firm = app.create_firm("acme").await;
    let ann = app.add_contact(&firm, "ann@example.com", true).await;
    let bob = app.add_contact(&firm, "bob@example.com", true).await;
    let tess = member(&app, &firm, "tess@acme.example", "team").await;
    assign(&app, &firm, &ann.id, std::slice::from_ref(&tess.id)).await;
    let staff = signed_in_staff(&app, &firm, &tess).await;
    let pdf = sample_pdf("Letter");

    // (contact email, title, file name, file bytes, expected status, expected text)
    type Case<'a> = (&'a str, &'a str, &'a str, &'a [u8], StatusCode, &'a str);
    let cases: [Case; 5] = [
        (
            "ann@example.com",
            "Letter",
            "letter.pdf",
            b"<html>not a pdf</html>",
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "file must be a PDF document",
        ),
        (
            "ann@example.com",
            "  ",
            "letter.pdf",
            &pdf,
            StatusCode::UNPROCESSABLE_ENTITY,
            "title must be 1 to 200 characters",
        ),
        (
            "bob@example.com",
            "Letter",
            "letter.pdf",
            &pdf,
            StatusCode::UNPROCESSABLE_ENTITY,
            "bob@example.com is not one of your contacts",
        ),
        (
            "nobody@example.com",
            "Letter",
            "letter.pdf",
            &pdf,
            StatusCode::UNPROCESSABLE_ENTITY,
            "nobody@example.com is not one of your contacts",
        ),
        (
            "",
            "Letter",
            "letter.pdf",
            &pdf,
            StatusCode::UNPROCESSABLE_ENTITY,
            "name the contact who should sign",
        ),
    ];
    for (contact, title, name, bytes, status, message) in cases {
        let response = ask_signature(&staff, &app, &firm, contact, title, name, bytes).await;
        assert_eq!(response.status(), status, "{contact} {title}");
        let page = body(response).await;
        assert!(page.contains(message), "{message}: {page}");
    }

    // Bob's request (made by the owner) is out of the member's sight.
    let theirs = firm
        .request_signature(&app, &bob.id, "Bob's letter", "b.pdf", &pdf)
        .await;
    let theirs = theirs["id"].as_str().unwrap();
    for path in [
        format!("/staff/signing/{theirs}"),
        format!("/staff/signing/{theirs}/document"),
    ] {
        let (status, _) = text_of(&staff, &app, &firm, &path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
    }
    let mine = ask_signature(
        &staff,
        &app,
        &firm,
        "ann@example.com",
        "Ann's letter",
        "a.pdf",
        &pdf,
    )
    .await;
    assert_eq!(mine.status(), StatusCode::SEE_OTHER);
    let (_, list) = text_of(&staff, &app, &firm, "/staff/signing").await;
    assert!(list.contains("Ann") && !list.contains("Bob"), "{list}");

    // Without the signing create permission: no button, and the POST is refused.
    let viewer = role(
        &app,
        &firm,
        "Viewer",
        Permissions::default().with(Area::Signing, &[Action::View], Scope::All),
    )
    .await;
    let vera = member(&app, &firm, "vera@acme.example", &viewer.id).await;
    let vera = signed_in_staff(&app, &firm, &vera).await;
    let (_, list) = text_of(&vera, &app, &firm, "/staff/signing").await;
    assert!(list.contains("Bob") && !list.contains("/staff/signing/new"));
    let csrf = vera.csrf(&app.url(&firm.firm.slug, "/staff/signing")).await;
    let form = reqwest::multipart::Form::new()
        .text("csrf", csrf)
        .text("contact", "bob@example.com")
        .text("title", "x")
        .part("file", file_part("x.pdf", &pdf));
    let refused = vera
        .post_multipart(&app.url(&firm.firm.slug, "/staff/signing"), form)
        .await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    // Nor any console page of an area the role lacks.
    let (status, _) = text_of(&vera, &app, &firm, "/staff/tasks").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    app.stop().await;
}

#[tokio::test]
async fn portal_settings_change_what_the_client_sees() {
    let app = TestApp::spawn().await;
    let firm = app.create_firm("acme").await;
    let slug = firm.firm.slug.clone();
    app.add_contact(&firm, "ann@example.com", true).await;
    let owner = owner(&app, &firm).await;
    let staff = signed_in_staff(&app, &firm, &owner).await;
    let settings = "/staff/settings/portal";

    let (status, page) = text_of(&staff, &app, &firm, settings).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("Save settings") && page.contains("Upload a logo"));

    // Bad input: refused with a message, nothing saved.
    let good: Vec<(&str, &str)> = vec![
        ("display_name", "Acme Client Hub"),
        ("brand_color", "#0B5A3C"),
        ("link_label_1", "Book a call"),
        ("link_url_1", "https://calendar.example.com/acme"),
        ("billing_enabled", "on"),
        ("esign_enabled", "on"),
    ];
    let with = |name: &'static str, value: &'static str| {
        let mut fields = good.clone();
        fields.retain(|(n, _)| *n != name);
        fields.push((name, value));
        fields
    };
    let bad = [
        (
            with("brand_color", "blue"),
            "brand_color must be a colour like #1d4ed8",
        ),
        (
            with("brand_color", "#12345"),
            "brand_color must be a colour like #1d4ed8",
        ),
        (
            with("link_url_1", "http://calendar.example.com"),
            "is not an https:// link",
        ),
        (
            with("link_url_1", "javascript:alert(1)"),
            "is not an https:// link",
        ),
        (with("link_url_1", ""), "is not an https:// link"),
        (
            with("link_label_1", ""),
            "each label must be 1 to 40 characters",
        ),
        (
            with("display_name", " "),
            "display_name must be 1 to 120 characters",
        ),
    ];
    for (fields, message) in &bad {
        let response = post(&staff, &app, &firm, settings, settings, fields).await;
        assert_eq!(
            response.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{fields:?}"
        );
        let page = body(response).await;
        assert!(page.contains(message), "{message}: {page}");
    }
    // The field at fault is marked for assistive technology, not by colour alone.
    let response = post(&staff, &app, &firm, settings, settings, &bad[0].0).await;
    let raw = response.text().await.unwrap();
    assert!(raw.contains("aria-invalid=\"true\""), "{raw}");
    assert!(raw.contains("id=\"form-error\""));
    let client = app.signed_in(&firm, "ann@example.com").await;
    let (_, home) = client.get_text(&app.url(&slug, "/")).await;
    assert!(!home.contains("Acme Client Hub"));

    let saved = post(&staff, &app, &firm, settings, settings, &good).await;
    assert_eq!(saved.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&saved), "/staff/settings/portal?done=saved");
    let (_, page) = text_of(&staff, &app, &firm, &location(&saved)).await;
    assert!(page.contains("Portal settings saved."));
    assert!(page.contains("value=\"#0b5a3c\""));

    let (_, home) = client.get_text(&app.url(&slug, "/")).await;
    let home = decoded(home);
    assert!(home.contains("Acme Client Hub"), "{home}");
    assert!(home.contains("https://calendar.example.com/acme") && home.contains("Book a call"));
    let (_, brand) = client.get_text(&app.url(&slug, "/assets/brand.css")).await;
    assert!(brand.contains("#0b5a3c"), "{brand}");
    let (status, _) = client.get_text(&app.url(&slug, "/invoices")).await;
    assert_eq!(status, StatusCode::OK, "billing on");

    // The logo: a PNG is taken, anything else refused; removed again.
    let upload = |bytes: Vec<u8>| {
        let staff = staff.clone();
        let url = app.url(&slug, settings);
        let action = app.url(&slug, "/staff/settings/portal/logo");
        async move {
            let csrf = staff.csrf(&url).await;
            let form = reqwest::multipart::Form::new()
                .text("csrf", csrf)
                .part("logo", file_part("logo.png", &bytes));
            staff.post_multipart(&action, form).await
        }
    };
    let refused = upload(b"<svg onload=alert(1)></svg>".to_vec()).await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        body(refused)
            .await
            .contains("the logo must be a PNG, JPEG or WebP image")
    );
    let too_big = upload(vec![0x89; 600 * 1024]).await;
    assert_eq!(too_big.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.extend_from_slice(&[0; 64]);
    let taken = upload(png.clone()).await;
    assert_eq!(taken.status(), StatusCode::SEE_OTHER);
    let logo = client.get(&app.url(&slug, "/assets/logo")).await;
    assert_eq!(logo.status(), StatusCode::OK);
    assert_eq!(logo.bytes().await.unwrap().as_ref(), png.as_slice());
    let (_, page) = text_of(&staff, &app, &firm, settings).await;
    assert!(page.contains("Remove logo"));
    let removed = post(
        &staff,
        &app,
        &firm,
        settings,
        "/staff/settings/portal/logo/delete",
        &[],
    )
    .await;
    assert_eq!(removed.status(), StatusCode::SEE_OTHER);
    let logo = client.get(&app.url(&slug, "/assets/logo")).await;
    assert_eq!(logo.status(), StatusCode::NOT_FOUND);

    // A team member has no portal settings at all; a viewer sees them but changes nothing.
    let tess = member(&app, &firm, "tess@acme.example", "team").await;
    let tess = signed_in_staff(&app, &firm, &tess).await;
    let (status, _) = text_of(&tess, &app, &firm, settings).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let viewer = role(
        &app,
        &firm,
        "Viewer",
        Permissions::default().with(Area::PortalSettings, &[Action::View], Scope::All),
    )
    .await;
    let vera = member(&app, &firm, "vera@acme.example", &viewer.id).await;
    let vera = signed_in_staff(&app, &firm, &vera).await;
    let (status, page) = text_of(&vera, &app, &firm, settings).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains("Acme Client Hub")
            && !page.contains("Save settings")
            && !page.contains("Upload a logo")
    );
    for action in [settings, "/staff/settings/portal/logo/delete"] {
        let refused = post(&vera, &app, &firm, settings, action, &good).await;
        assert_eq!(refused.status(), StatusCode::FORBIDDEN, "{action}");
    }
    app.stop().await;
}

#[tokio::test]
async fn invoices_are_published_to_the_client_and_bad_ones_refused() {
    let app = TestApp::spawn().await;
    let firm = app.create_firm("acme").await;
    let slug = firm.firm.slug.clone();
    app.add_contact(&firm, "ann@example.com", true).await;
    app.api_ok(
        &firm,
        Method::PATCH,
        "/api/v1/portal",
        Some(json!({"billing_enabled": true})),
    )
    .await;
    let owner = owner(&app, &firm).await;
    let staff = signed_in_staff(&app, &firm, &owner).await;

    let (status, page) = text_of(&staff, &app, &firm, "/staff/invoices").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("No invoices here yet") && page.contains("/staff/invoices/new"));
    let good: Vec<(&str, &str)> = vec![
        ("contact", "ann@example.com"),
        ("number", "INV-2026-001"),
        ("amount", "1234.5"),
        ("currency", "EUR"),
        ("issued_date", "2026-01-10"),
        ("due_date", "2026-02-10"),
        ("status", "open"),
        ("pay_url", "https://pay.example.com/inv-1"),
        ("description", "Annual accounts"),
    ];
    let with = |name: &'static str, value: &'static str| {
        let mut fields = good.clone();
        fields.retain(|(n, _)| *n != name);
        fields.push((name, value));
        fields
    };
    let bad = [
        (
            with("amount", "12.345"),
            "amount must be a number like 1234.50",
        ),
        (with("amount", "-5"), "amount must be a number like 1234.50"),
        (with("currency", "eur"), "currency must be an ISO 4217 code"),
        (
            with("pay_url", "http://pay.example.com"),
            "pay_url must be an https:// link",
        ),
        (
            with("due_date", "2026-01-01"),
            "due_date must not be before issued_date",
        ),
        (
            with("issued_date", "yesterday"),
            "issued_date must be a date like 2026-12-31",
        ),
        (
            with("contact", "nobody@example.com"),
            "nobody@example.com is not one of your contacts",
        ),
        (with("contact", ""), "name the contact to bill"),
        (with("number", ""), "number must not be empty"),
        (with("status", "lost"), "status must be open, paid or void"),
    ];
    for (fields, message) in &bad {
        let response = post(
            &staff,
            &app,
            &firm,
            "/staff/invoices/new",
            "/staff/invoices",
            fields,
        )
        .await;
        assert_eq!(
            response.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{fields:?}"
        );
        let page = body(response).await;
        assert!(page.contains(message), "{message}: {page}");
    }
    // The field at fault is marked (through the template's macro, unescaped).
    let response = post(
        &staff,
        &app,
        &firm,
        "/staff/invoices/new",
        "/staff/invoices",
        &bad[0].0,
    )
    .await;
    let raw = response.text().await.unwrap();
    assert!(raw.contains("name=\"amount\" value=\"12.345\" required inputmode=\"decimal\" aria-describedby=\"amount-hint form-error\" aria-invalid=\"true\">"), "{raw}");
    let created = post(
        &staff,
        &app,
        &firm,
        "/staff/invoices/new",
        "/staff/invoices",
        &good,
    )
    .await;
    assert_eq!(created.status(), StatusCode::SEE_OTHER);
    let (_, list) = text_of(&staff, &app, &firm, "/staff/invoices").await;
    assert!(
        list.contains("INV-2026-001") && list.contains("ann@example.com"),
        "{list}"
    );
    assert!(
        list.contains("1,234.50") || list.contains("1234.50"),
        "{list}"
    );
    let again = post(
        &staff,
        &app,
        &firm,
        "/staff/invoices/new",
        "/staff/invoices",
        &good,
    )
    .await;
    assert_eq!(again.status(), StatusCode::CONFLICT);
    assert!(
        body(again)
            .await
            .contains("already has an invoice with this number")
    );
    let (_, invoices) = app
        .api(&firm.api_key, Method::GET, "/api/v1/invoices", None)
        .await;
    assert_eq!(invoices["data"][0]["amount"], 123_450);

    let client = app.signed_in(&firm, "ann@example.com").await;
    let (_, page) = client.get_text(&app.url(&slug, "/invoices")).await;
    assert!(page.contains("INV-2026-001"), "{page}");

    // Its status changes as the API's PATCH does; bad values and ids are refused.
    let id = invoices["data"][0]["id"].as_str().unwrap().to_string();
    let action = format!("/staff/invoices/{id}/status");
    let paid = post(
        &staff,
        &app,
        &firm,
        "/staff/invoices",
        &action,
        &[("status", "paid")],
    )
    .await;
    assert_eq!(paid.status(), StatusCode::SEE_OTHER);
    let (_, list) = text_of(&staff, &app, &firm, "/staff/invoices?status=paid").await;
    assert!(list.contains("INV-2026-001"));
    let (_, invoice) = app
        .api(
            &firm.api_key,
            Method::GET,
            &format!("/api/v1/invoices/{id}"),
            None,
        )
        .await;
    assert_eq!(invoice["status"], "paid");
    let bad = post(
        &staff,
        &app,
        &firm,
        "/staff/invoices",
        &action,
        &[("status", "lost")],
    )
    .await;
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        body(bad)
            .await
            .contains("status must be open, paid or void")
    );
    let unknown = post(
        &staff,
        &app,
        &firm,
        "/staff/invoices",
        "/staff/invoices/in_nothing/status",
        &[("status", "paid")],
    )
    .await;
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);

    // A team member views invoices but may not publish them.
    let tess = member(&app, &firm, "tess@acme.example", "team").await;
    let tess = signed_in_staff(&app, &firm, &tess).await;
    let (status, page) = text_of(&tess, &app, &firm, "/staff/invoices").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("INV-2026-001") && !page.contains("/staff/invoices/new"));
    let refused = post(
        &tess,
        &app,
        &firm,
        "/staff/invoices",
        "/staff/invoices",
        &with("number", "INV-2"),
    )
    .await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert!(!page.contains("Change status"));
    let refused = post(
        &tess,
        &app,
        &firm,
        "/staff/invoices",
        &action,
        &[("status", "void")],
    )
    .await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    app.stop().await;
}

#[tokio::test]
async fn a_task_page_offers_the_clients_documents_for_download() {
    let app = TestApp::spawn().await;
    let firm = app.create_firm("acme").await;
    let slug = firm.firm.slug.clone();
    let ann = app.add_contact(&firm, "ann@example.com", true).await;
    let task = app
        .api_ok(
            &firm,
            Method::POST,
            "/api/v1/tasks",
            Some(json!({"title": "Bank statements", "assignees": [ann.id], "portal": true})),
        )
        .await;
    let task = task["id"].as_str().unwrap();
    let client = app.signed_in(&firm, "ann@example.com").await;
    let csrf = client
        .csrf(&app.url(&slug, &format!("/tasks/{task}")))
        .await;
    let pdf = sample_pdf("Statement");
    let form = reqwest::multipart::Form::new()
        .text("csrf", csrf)
        .part("file", file_part("statement-march.pdf", &pdf));
    let uploaded = client
        .post_multipart(&app.url(&slug, &format!("/tasks/{task}/files")), form)
        .await;
    assert_eq!(uploaded.status(), StatusCode::SEE_OTHER);

    let owner = owner(&app, &firm).await;
    let staff = signed_in_staff(&app, &firm, &owner).await;
    let (_, page) = text_of(&staff, &app, &firm, &format!("/staff/tasks/{task}")).await;
    assert!(page.contains("Documents from the client (1)"), "{page}");
    assert!(page.contains("statement-march.pdf") && page.contains("from ann@example.com"));
    let start = page
        .find(&format!("/staff/tasks/{task}/files/"))
        .expect("a download link");
    let link: String = page[start..].chars().take_while(|c| *c != '"').collect();
    let download = staff.get(&app.url(&slug, &link)).await;
    assert_eq!(download.status(), StatusCode::OK);
    assert!(
        download.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment")
    );
    assert_eq!(download.bytes().await.unwrap().as_ref(), pdf.as_slice());

    // Out of a team member's scope, the document is not found either.
    let tess = member(&app, &firm, "tess@acme.example", "team").await;
    let tess = signed_in_staff(&app, &firm, &tess).await;
    let (status, _) = text_of(&tess, &app, &firm, &link).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = text_of(
        &staff,
        &app,
        &firm,
        &format!("/staff/tasks/{task}/files/tf_nothing"),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    app.stop().await;
}

#[tokio::test]
async fn lists_page_newest_first_with_a_cursor() {
    let app = TestApp::spawn().await;
    let firm = app.create_firm("acme").await;
    let ann = app.add_contact(&firm, "ann@example.com", true).await;
    for n in 1..=53 {
        let status = if n % 10 == 0 { "completed" } else { "open" };
        let task = app
            .api_ok(
                &firm,
                Method::POST,
                "/api/v1/tasks",
                Some(json!({"title": format!("Task number {n:03}"), "assignees": [ann.id]})),
            )
            .await;
        if status == "completed" {
            let path = format!("/api/v1/tasks/{}", task["id"].as_str().unwrap());
            app.api_ok(
                &firm,
                Method::PATCH,
                &path,
                Some(json!({"status": "completed"})),
            )
            .await;
        }
    }
    let owner = owner(&app, &firm).await;
    let staff = signed_in_staff(&app, &firm, &owner).await;
    // Rows made in the same second are ordered by id: every task is on exactly one page.
    let titles = |page: &str| -> Vec<String> {
        page.match_indices("Task number ")
            .map(|(at, _)| page[at..at + 15].to_string())
            .collect()
    };
    let (_, first) = text_of(&staff, &app, &firm, "/staff/tasks").await;
    assert_eq!(first.matches("class=\"item-row\"").count(), 50);
    let start = first
        .find("/staff/tasks?before=")
        .expect("a link to older tasks");
    let next: String = first[start..].chars().take_while(|c| *c != '"').collect();
    let (_, second) = text_of(&staff, &app, &firm, &next).await;
    assert_eq!(second.matches("class=\"item-row\"").count(), 3);
    assert!(!second.contains("Older tasks"));
    let mut all = titles(&first);
    all.extend(titles(&second));
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 53, "{all:?}");
    let (_, completed) = text_of(&staff, &app, &firm, "/staff/tasks?status=completed").await;
    assert_eq!(completed.matches("class=\"item-row\"").count(), 5);
    for n in ["010", "020", "030", "040", "050"] {
        assert!(completed.contains(&format!("Task number {n}")));
    }
    app.stop().await;
}

/// Asks `contact` to sign through the staff API, sharing the request with `account`.
async fn shared_signature(
    app: &TestApp,
    firm: &TestFirm,
    contact: &str,
    account: &str,
    title: &str,
) -> String {
    let form = reqwest::multipart::Form::new()
        .text("contact_id", contact.to_string())
        .text("title", title.to_string())
        .text("account_id", account.to_string())
        .part("file", file_part("letter.pdf", &sample_pdf(title)));
    let (status, body) = app
        .api_multipart(&firm.api_key, "/api/v1/signing-requests", form)
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn a_team_member_lists_what_is_shared_with_the_account_of_a_client_they_look_after() {
    let app = TestApp::spawn().await;
    let firm = app.create_firm("acme").await;
    app.api_ok(
        &firm,
        Method::PATCH,
        "/api/v1/portal",
        Some(json!({"esign_enabled": true})),
    )
    .await;
    let new_account = |name: &str| {
        let (app, firm) = (&app, &firm);
        let body = json!({"name": name});
        async move {
            app.api_ok(firm, Method::POST, "/api/v1/accounts", Some(body))
                .await["id"]
                .as_str()
                .unwrap()
                .to_string()
        }
    };
    let baker = new_account("Baker Ltd").await;
    let other = new_account("Other Ltd").await;
    let new_contact = |name: &str, account: &str, set: &str| {
        let (app, firm) = (&app, &firm);
        let body = json!({"name": name, "email": format!("{name}@clients.example.com"),
                          "account_id": account, "permission_set": set, "portal_access": true});
        async move {
            app.api_ok(firm, Method::POST, "/api/v1/contacts", Some(body))
                .await["id"]
                .as_str()
                .unwrap()
                .to_string()
        }
    };
    // Tess looks after Bob only; Bea manages Bob's account; Olga is another account's.
    let bea = new_contact("bea", &baker, "client_manager").await;
    let bob = new_contact("bob", &baker, "client_staff").await;
    let olga = new_contact("olga", &other, "client_manager").await;
    let tess = member(&app, &firm, "tess@acme.example", "team").await;
    let bob_id = portico_shared::ids::ContactId::parse(&bob).unwrap();
    assign(&app, &firm, &bob_id, std::slice::from_ref(&tess.id)).await;

    // Each account holds a shared task (overdue), a signing request and a conversation of its
    // manager's; Bea also has a task of her own, not shared with the account.
    let task = |title: &str, who: &str, account: Option<&str>| {
        let (app, firm) = (&app, &firm);
        let mut body = json!({"title": title, "assignees": [who], "portal": true,
                              "due_date": "2020-01-31"});
        if let Some(account) = account {
            body["account_id"] = json!(account);
        }
        async move {
            app.api_ok(firm, Method::POST, "/api/v1/tasks", Some(body))
                .await["id"]
                .as_str()
                .unwrap()
                .to_string()
        }
    };
    let baker_task = task("Baker year-end", &bea, Some(&baker)).await;
    let other_task = task("Other year-end", &olga, Some(&other)).await;
    let private_task = task("Bea private", &bea, None).await;
    let baker_signing = shared_signature(&app, &firm, &bea, &baker, "Baker engagement").await;
    let other_signing = shared_signature(&app, &firm, &olga, &other, "Other engagement").await;
    let conversation = |who: &str, account: &str, subject: &str| {
        let (app, firm) = (&app, &firm);
        let (who, account, subject) = (who.to_string(), account.to_string(), subject.to_string());
        async move {
            let started = app
                .state()
                .store
                .start_conversation(
                    &firm.firm.id,
                    &portico_shared::ids::ContactId::parse(&who).unwrap(),
                    &subject,
                    "A question",
                )
                .await
                .unwrap();
            let path = format!("/api/v1/conversations/{}", started.id);
            app.api_ok(
                firm,
                Method::PATCH,
                &path,
                Some(json!({"account_id": account})),
            )
            .await;
            started.id.to_string()
        }
    };
    let baker_conversation = conversation(&bea, &baker, "Baker VAT").await;
    let other_conversation = conversation(&olga, &other, "Other VAT").await;

    let staff = signed_in_staff(&app, &firm, &tess).await;
    let lists = [
        ("/staff/tasks", "Baker year-end", "Other year-end"),
        (
            "/staff/tasks?status=open",
            "Baker year-end",
            "Other year-end",
        ),
        ("/staff/signing", "Baker engagement", "Other engagement"),
        (
            "/staff/signing?status=pending",
            "Baker engagement",
            "Other engagement",
        ),
        ("/staff/conversations", "Baker VAT", "Other VAT"),
        ("/staff/conversations?waiting=1", "Baker VAT", "Other VAT"),
    ];
    for (path, shown, hidden) in lists {
        let (status, page) = text_of(&staff, &app, &firm, path).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert!(page.contains(shown), "{path} lists {shown}: {page}");
        assert!(!page.contains(hidden), "{path} hides {hidden}");
        assert!(!page.contains("Bea private"), "{path}");
    }
    // The dashboard's panels: requests waiting, signatures pending, tasks overdue.
    let (_, dashboard) = text_of(&staff, &app, &firm, "/staff").await;
    for id in [&baker_conversation, &baker_signing, &baker_task] {
        assert!(dashboard.contains(id.as_str()), "{id}: {dashboard}");
    }
    for id in [
        &other_conversation,
        &other_signing,
        &other_task,
        &private_task,
    ] {
        assert!(!dashboard.contains(id.as_str()), "{id}: {dashboard}");
    }
    // What the lists link to opens; the other account's items are 404, as if not there.
    for path in [
        format!("/staff/tasks/{baker_task}"),
        format!("/staff/signing/{baker_signing}"),
        format!("/staff/conversations/{baker_conversation}"),
    ] {
        let (status, _) = text_of(&staff, &app, &firm, &path).await;
        assert_eq!(status, StatusCode::OK, "{path}");
    }
    for path in [
        format!("/staff/tasks/{other_task}"),
        format!("/staff/tasks/{private_task}"),
        format!("/staff/signing/{other_signing}"),
        format!("/staff/conversations/{other_conversation}"),
    ] {
        let (status, _) = text_of(&staff, &app, &firm, &path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
    }
    // Tess may answer the account's conversation from its page.
    let (_, page) = text_of(
        &staff,
        &app,
        &firm,
        &format!("/staff/conversations/{baker_conversation}"),
    )
    .await;
    assert!(
        page.contains(&format!(
            "action=\"/staff/conversations/{baker_conversation}/messages\""
        )),
        "{page}"
    );

    // Unshared, the account's items leave her lists.
    app.api_ok(
        &firm,
        Method::PATCH,
        &format!("/api/v1/tasks/{baker_task}"),
        Some(json!({"account_id": null})),
    )
    .await;
    let (_, page) = text_of(&staff, &app, &firm, "/staff/tasks").await;
    assert!(!page.contains("Baker year-end"), "{page}");
    app.stop().await;
}
