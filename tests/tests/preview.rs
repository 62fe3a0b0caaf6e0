//! Staff previews of a contact's portal ("view as", `/staff/contacts/{id}/preview/…`) over real
//! HTTP: after a reason, a member sees what the contact sees, with a banner and links that stay
//! in the preview; writes are refused (403) and change nothing of the client's (no session,
//! no sign-in time, no `viewed` event, no activity, no kept home page); each preview is listed
//! on the contact's page; the role and its reach decide who may (403 without `contacts: view`,
//! 404 for a contact outside an `assigned` scope).

use std::collections::BTreeSet;

use portico_e2e::staff::{add_role, assign, location, signed_in_member, signed_in_owner};
use portico_e2e::{Browser, TestApp, TestFirm, decoded, sample_pdf};
use portico_shared::ids::SigningRequestId;
use portico_shared::policy::{Action, Area, BuiltinRole, Permissions, Scope};
use portico_shared::store::Contact;
use reqwest::{Method, StatusCode};
use serde_json::json;

async fn read(browser: &Browser, url: &str) -> (StatusCode, String) {
    let (status, html) = browser.get_text(url).await;
    (status, decoded(html))
}

/// The portal paths of tasks, signing requests and requests a page links to, with the
/// preview's prefix (if any) taken off.
fn item_links(html: &str, prefix: &str) -> BTreeSet<String> {
    html.split("href=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .map(|href| href.strip_prefix(prefix).unwrap_or(href).to_string())
        .filter(|href| {
            ["/tasks/tk_", "/sign/sr_", "/requests/cv_"]
                .iter()
                .any(|kind| href.starts_with(kind))
        })
        .collect()
}

/// Home pages rendered and served from the kept pages so far, from `/metrics`.
async fn home_pages(app: &TestApp) -> (u64, u64) {
    let (status, metrics) = app.browser().get_text(&app.plain_url("/metrics")).await;
    assert_eq!(status, StatusCode::OK);
    let count = |kind: &str| {
        let line = format!("portico_home_pages_total{{kind=\"{kind}\"}} ");
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(line.as_str()))
            .map_or(0, |n| n.trim().parse().unwrap())
    };
    (count("render"), count("cache"))
}

/// Asks for a preview of `contact` with `reason` from the contact's console page.
async fn start_preview(
    app: &TestApp,
    staff: &Browser,
    firm: &TestFirm,
    contact: &Contact,
    reason: &str,
) -> reqwest::Response {
    // The account page has a form for every member, whatever their reach.
    staff
        .staff_post(
            app,
            &firm.firm.slug,
            "/staff/account",
            &format!("/staff/contacts/{}/previews", contact.id),
            &[("reason", reason)],
        )
        .await
}

/// A firm where Ann has a shared task with a checklist, a pending signing request and a
/// request of her own, and Bob a shared task of his; plus an unshared task of Ann's.
struct Scene {
    app: TestApp,
    firm: TestFirm,
    ann: Contact,
    ann_task: String,
    signing: String,
    conversation: String,
}

async fn scene() -> Scene {
    let app = TestApp::spawn().await;
    let firm = app.create_firm("acme").await;
    let ann = app.add_contact(&firm, "ann@example.com", true).await;
    let bob = app.add_contact(&firm, "bob@example.com", true).await;
    let task = |title: &str, portal: bool, who: &Contact| json!({"title": title, "portal": portal, "assignees": [who.id], "checklist": ["Payslips"]});
    let ann_task = app
        .api_ok(
            &firm,
            Method::POST,
            "/api/v1/tasks",
            Some(task("Tax return 2026", true, &ann)),
        )
        .await["id"]
        .as_str()
        .unwrap()
        .to_string();
    for (title, portal, who) in [
        ("Internal review", false, &ann),
        ("Bob's payroll", true, &bob),
    ] {
        app.api_ok(
            &firm,
            Method::POST,
            "/api/v1/tasks",
            Some(task(title, portal, who)),
        )
        .await;
    }
    let pdf = sample_pdf("Engagement letter");
    let signing = firm
        .request_signature(&app, &ann.id, "Engagement letter", "letter.pdf", &pdf)
        .await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let conversation = app
        .store
        .start_conversation(&firm.firm.id, &ann.id, "Question on VAT", "Question on VAT")
        .await
        .expect("start a conversation")
        .id
        .to_string();
    Scene {
        app,
        firm,
        ann,
        ann_task,
        signing,
        conversation,
    }
}

#[tokio::test]
async fn a_preview_shows_what_the_contact_sees_and_changes_nothing() {
    let Scene {
        app,
        firm,
        ann,
        ann_task,
        signing,
        conversation,
    } = scene().await;
    let slug = firm.firm.slug.clone();
    let (_, owner) = signed_in_owner(&app, &firm).await;
    let prefix = format!("/staff/contacts/{}/preview", ann.id);
    let url = |path: &str| app.url(&slug, &format!("{prefix}{path}"));

    // Without a reason given, the preview sends the member to the contact's page for one.
    let response = owner.get(&url("/")).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        location(&response),
        format!("/staff/contacts/{}?done=preview_reason#preview", ann.id)
    );

    let response = start_preview(
        &app,
        &owner,
        &firm,
        &ann,
        "  Checking before the invitation ",
    )
    .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), format!("{prefix}/"));
    assert!(
        response.headers().get("set-cookie").is_none(),
        "a preview sets no cookie"
    );
    let before = home_pages(&app).await;
    let activity = |app: &TestApp| {
        let firm = firm.firm.id.clone();
        let store = app.store.clone();
        async move {
            store
                .recent_activity(&firm, None, 0, 100)
                .await
                .unwrap()
                .len()
        }
    };
    // Only Ann's request so far.
    let activity_before = activity(&app).await;

    // Home: the banner, the contact's items (not Bob's, not the unshared one), links in the
    // preview, the request form shown disabled, no sign-out.
    for path in ["/", ""] {
        let response = owner.get(&url(path)).await;
        assert_eq!(response.status(), StatusCode::OK, "{path:?}");
        assert!(response.headers().get("set-cookie").is_none());
        let home = decoded(response.text().await.unwrap());
        assert!(home.contains("You are previewing Test Client's portal — read only"));
        assert!(home.contains(&format!("href=\"/staff/contacts/{}\"", ann.id)));
        assert!(home.contains("Tax return 2026") && home.contains("Engagement letter"));
        assert!(home.contains("Question on VAT"));
        assert!(!home.contains("Bob's payroll") && !home.contains("Internal review"));
        assert!(home.contains(&format!("action=\"{prefix}/requests\"")));
        assert!(home.contains("<fieldset class=\"read-only\" disabled>"));
        assert!(!home.contains("action=\"/logout\""));
        for link in ["/tasks/", "/sign/", "/requests/", "/settings"] {
            assert!(
                !home.contains(&format!("href=\"{link}")),
                "a link to {link} leaves the preview"
            );
        }
    }
    assert_eq!(
        home_pages(&app).await,
        before,
        "a preview neither renders into nor reads the kept home pages"
    );

    // Every page the contact could open, in the preview.
    for path in [
        format!("/tasks/{ann_task}"),
        format!("/sign/{signing}"),
        format!("/requests/{conversation}"),
        "/settings".to_string(),
        "/companies".to_string(),
    ] {
        let (status, html) = read(&owner, &url(&path)).await;
        assert_eq!(status, StatusCode::OK, "{path}: {html}");
        assert!(html.contains("read only"), "{path} has the banner");
        assert!(html.contains("class=\"preview-banner\""));
    }
    let (_, task) = read(&owner, &url(&format!("/tasks/{ann_task}"))).await;
    assert!(task.contains(&format!("action=\"{prefix}/tasks/{ann_task}/complete\"")));
    // The document's page images and its download stay inside the preview.
    app.rendered_pages(&portico_e2e::sha256_hex(&sample_pdf("Engagement letter")))
        .await;
    let (_, sign) = read(&owner, &url(&format!("/sign/{signing}"))).await;
    assert!(
        sign.contains(&format!("src=\"{prefix}/sign/{signing}/pages/1\"")),
        "{sign}"
    );
    assert!(sign.contains(&format!(
        "href=\"{prefix}/sign/{signing}/document?download=1\""
    )));
    let image = owner.get(&url(&format!("/sign/{signing}/pages/1"))).await;
    assert_eq!(image.status(), StatusCode::OK);
    assert_eq!(image.headers()["content-type"], "image/png");
    let document = owner.get(&url(&format!("/sign/{signing}/document"))).await;
    assert_eq!(document.status(), StatusCode::OK);
    assert_eq!(document.headers()["content-type"], "application/pdf");
    // Billing is off at this firm: its invoices page does not exist, in the preview either.
    assert_eq!(
        owner.get(&url("/invoices")).await.status(),
        StatusCode::NOT_FOUND
    );
    // Another contact's items, or no page at all: 404, as for the contact.
    for path in [
        "/tasks/tk_nope",
        "/sign/sr_nope",
        "/requests/cv_nope",
        "/nowhere",
    ] {
        assert_eq!(
            owner.get(&url(path)).await.status(),
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }

    // Writes are refused, whatever the path, with a page that says why.
    let csrf = owner
        .csrf(&app.url(&slug, &format!("/staff/contacts/{}", ann.id)))
        .await;
    for path in [
        format!("/tasks/{ann_task}/complete"),
        format!("/tasks/{ann_task}/checklist/ci_x"),
        format!("/sign/{signing}"),
        format!("/sign/{signing}/decline"),
        format!("/requests/{conversation}/messages"),
        "/requests".to_string(),
        "/settings".to_string(),
        "/companies/switch".to_string(),
        "/logout".to_string(),
        "/".to_string(),
        String::new(),
    ] {
        let response = owner
            .post_form(
                &url(&path),
                &[
                    ("csrf", &csrf),
                    ("body", "x"),
                    ("name", "Ann"),
                    ("consent", "yes"),
                ],
            )
            .await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "POST {path:?}");
        let page = decoded(response.text().await.unwrap());
        assert!(page.contains("read-only preview"), "{page}");
    }
    for method in [Method::PUT, Method::DELETE, Method::PATCH] {
        let response = owner
            .client
            .request(method.clone(), url(&format!("/tasks/{ann_task}")))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{method}");
    }

    // Nothing of the client's changed.
    let stored = app.stored_contact(&firm.firm.id, &ann.id).await;
    assert_eq!(stored.last_login_at, None, "no sign-in noted");
    assert_eq!(stored.auth_epoch, ann.auth_epoch);
    let signing_id = SigningRequestId::parse(&signing).unwrap();
    let kinds: Vec<String> = app
        .store
        .signing_events(&signing_id)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(kinds, ["created"], "no viewed event");
    assert_eq!(activity(&app).await, activity_before, "no activity");
    let (status, task) = app
        .api(
            &firm.api_key,
            Method::GET,
            &format!("/api/v1/tasks/{ann_task}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(task["status"], "open");

    // The contact's own home page lists the same items the preview did.
    let (_, preview_home) = read(&owner, &url("/")).await;
    let client = app.signed_in(&firm, "ann@example.com").await;
    let (status, own_home) = read(&client, &app.url(&slug, "/")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(!own_home.contains("preview-banner"));
    let seen = item_links(&own_home, "");
    assert_eq!(seen.len(), 3, "{seen:?}");
    assert_eq!(item_links(&preview_home, &prefix), seen);
}

#[tokio::test]
async fn each_preview_is_recorded_and_listed_newest_first() {
    let Scene { app, firm, ann, .. } = scene().await;
    let slug = firm.firm.slug.clone();
    let (_, owner) = signed_in_owner(&app, &firm).await;
    let page = app.url(&slug, &format!("/staff/contacts/{}", ann.id));

    let (_, html) = read(&owner, &page).await;
    assert!(html.contains("Nobody has previewed this contact's portal yet."));
    for reason in ["First look", "Second look"] {
        let response = start_preview(&app, &owner, &firm, &ann, reason).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
    }
    let (_, html) = read(&owner, &page).await;
    let first = html
        .find("First look")
        .expect("the first preview is listed");
    let second = html
        .find("Second look")
        .expect("the second preview is listed");
    assert!(second < first, "newest first");
    assert!(html.contains(&format!("owner@{slug}.example: Second look")));

    // The staff API lists them too, newest first.
    let listed = app
        .api_ok(
            &firm,
            Method::GET,
            &format!("/api/v1/contacts/{}/previews", ann.id),
            None,
        )
        .await;
    let reasons: Vec<&str> = listed["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["reason"].as_str().unwrap())
        .collect();
    assert_eq!(reasons, ["Second look", "First look"]);
    assert_eq!(listed["data"][0]["member"], format!("owner@{slug}.example"));
    assert_eq!(listed["data"][0]["as_set"], serde_json::Value::Null);
    let (status, _) = app
        .api(
            &firm.api_key,
            Method::GET,
            "/api/v1/contacts/ct_nobody/previews",
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let stored = app
        .store
        .contact_previews(&firm.firm.id, &ann.id, 10)
        .await
        .unwrap();
    assert_eq!(stored.len(), 2);
    assert_eq!(stored[0].reason, "Second look");
    // A preview is good for a while only: none counts from a time after it.
    let owner_member = portico_e2e::staff::owner(&app, &firm).await;
    let later = stored[0].created_at + 1;
    let current = app
        .store
        .current_preview(&firm.firm.id, &ann.id, &owner_member.id, later)
        .await
        .unwrap();
    assert_eq!(current, None);
}

#[tokio::test]
async fn a_preview_needs_a_reason() {
    let Scene { app, firm, ann, .. } = scene().await;
    let (_, owner) = signed_in_owner(&app, &firm).await;
    let long = "x".repeat(501);
    for (reason, problem) in [
        ("", "Give a reason"),
        ("   ", "Give a reason"),
        (long.as_str(), "at most 500 characters"),
        ("two\nlines", "on one line"),
    ] {
        let response = start_preview(&app, &owner, &firm, &ann, reason).await;
        assert_eq!(
            response.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{reason:?}"
        );
        let html = decoded(response.text().await.unwrap());
        assert!(html.contains(problem), "{reason:?}: {html}");
        assert!(html.contains("aria-invalid=\"true\" aria-describedby=\"preview-error\""));
    }
    // A form without its CSRF token is refused before anything.
    let response = owner
        .post_form(
            &app.url(
                &firm.firm.slug,
                &format!("/staff/contacts/{}/previews", ann.id),
            ),
            &[("reason", "no token")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let recorded = app
        .store
        .contact_previews(&firm.firm.id, &ann.id, 10)
        .await
        .unwrap();
    assert!(recorded.is_empty(), "{recorded:?}");
    let response = owner
        .get(&app.url(
            &firm.firm.slug,
            &format!("/staff/contacts/{}/preview/", ann.id),
        ))
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "still no preview");
}

#[tokio::test]
async fn the_role_and_its_reach_decide_who_may_preview() {
    let Scene { app, firm, ann, .. } = scene().await;
    let slug = firm.firm.slug.clone();
    let preview = app.url(&slug, &format!("/staff/contacts/{}/preview/", ann.id));

    // A team member works on their assigned clients only: Ann is someone else's (404).
    let (member, team) =
        signed_in_member(&app, &firm, "tom@firm.example", BuiltinRole::Team.id()).await;
    let response = start_preview(&app, &team, &firm, &ann, "Curious").await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(team.get(&preview).await.status(), StatusCode::NOT_FOUND);
    // Assigned to Ann, they may.
    assign(&app, &firm, &ann.id, std::slice::from_ref(&member.id)).await;
    let response = start_preview(&app, &team, &firm, &ann, "Her return").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(team.get(&preview).await.status(), StatusCode::OK);
    // Another member's preview does not open it for the Owner.
    let (_, owner) = signed_in_owner(&app, &firm).await;
    assert_eq!(owner.get(&preview).await.status(), StatusCode::SEE_OTHER);

    // A role that may not view contacts: 403, to ask and to look.
    let role = add_role(
        &app,
        &firm,
        "Tasks only",
        Permissions::default().with(Area::Tasks, &[Action::View], Scope::All),
    )
    .await;
    let (_, tasks_only) = signed_in_member(&app, &firm, "tia@firm.example", &role.id).await;
    let csrf = tasks_only.csrf(&app.url(&slug, "/staff/tasks")).await;
    let response = tasks_only
        .post_form(
            &app.url(&slug, &format!("/staff/contacts/{}/previews", ann.id)),
            &[("csrf", &csrf), ("reason", "Let me see")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        tasks_only.get(&preview).await.status(),
        StatusCode::FORBIDDEN
    );

    // Signed out of the console: sent to sign in; another firm's contact: 404.
    let response = app.browser().get(&preview).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert!(
        location(&response).starts_with("/staff/login"),
        "{}",
        location(&response)
    );
    let other = app.create_firm("other").await;
    let (_, other_owner) = signed_in_owner(&app, &other).await;
    let elsewhere = app.url(
        &other.firm.slug,
        &format!("/staff/contacts/{}/preview/", ann.id),
    );
    assert_eq!(
        other_owner.get(&elsewhere).await.status(),
        StatusCode::NOT_FOUND
    );
    let bad_id = app.url(&slug, "/staff/contacts/not-an-id/preview/");
    assert_eq!(owner.get(&bad_id).await.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_permission_set_can_be_tried_out_before_it_is_assigned() {
    let Scene { app, firm, ann, .. } = scene().await;
    let slug = firm.firm.slug.clone();
    let (_, owner) = signed_in_owner(&app, &firm).await;
    let contact_page = format!("/staff/contacts/{}", ann.id);

    // The contact page offers the set asked for, chosen.
    let (_, html) = read(
        &owner,
        &app.url(&slug, &format!("{contact_page}?as_set=client_staff")),
    )
    .await;
    assert!(
        html.contains("<option value=\"client_staff\" selected>"),
        "{html}"
    );

    let response = owner
        .staff_post(
            &app,
            &slug,
            "/staff/account",
            &format!("{contact_page}/previews"),
            &[
                ("reason", "Before making her client staff"),
                ("as_set", "client_staff"),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let (status, home) = read(&owner, &app.url(&slug, &format!("{contact_page}/preview/"))).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        home.contains("Shown as if they held the permission set “Client staff”."),
        "{home}"
    );
    let (_, page) = read(&owner, &app.url(&slug, &contact_page)).await;
    assert!(
        page.contains(
            "Before making her client staff <span class=\"muted\">(as Client staff)</span>"
        ),
        "{page}"
    );
    // The contact's own set is untouched.
    let stored = app.stored_contact(&firm.firm.id, &ann.id).await;
    assert_eq!(stored.permission_set, ann.permission_set);

    // A set that is no set, or not the firm's: 422, nothing recorded.
    for as_set in ["owner", "ps_doesnotexist"] {
        let response = owner
            .staff_post(
                &app,
                &slug,
                "/staff/account",
                &format!("{contact_page}/previews"),
                &[("reason", "Trying"), ("as_set", as_set)],
            )
            .await;
        assert_eq!(
            response.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{as_set}"
        );
    }
    let recorded = app
        .store
        .contact_previews(&firm.firm.id, &ann.id, 10)
        .await
        .unwrap();
    assert_eq!(recorded.len(), 1);
    assert_eq!(recorded[0].as_set.as_deref(), Some("client_staff"));
}

#[tokio::test]
async fn a_contact_without_portal_access_can_be_previewed_before_the_invitation() {
    let app = TestApp::spawn().await;
    let firm = app.create_firm("acme").await;
    let cleo = app.add_contact(&firm, "cleo@example.com", false).await;
    let (_, owner) = signed_in_owner(&app, &firm).await;
    let response = start_preview(&app, &owner, &firm, &cleo, "Before the invitation").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let (status, home) = read(
        &owner,
        &app.url(
            &firm.firm.slug,
            &format!("/staff/contacts/{}/preview/", cleo.id),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(home.contains("You are previewing Test Client's portal — read only"));
    // Previewing grants nothing: her access is still off.
    assert!(
        !app.stored_contact(&firm.firm.id, &cleo.id)
            .await
            .portal_access
    );
}
