//! Tasks: staff share them through the API, clients see, tick and complete them in the portal,
//! and nobody sees anyone else's.

use portico_e2e::{TestApp, TestFirm, csrf_in};
use portico_shared::ids::ContactId;
use portico_shared::mail::Template;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

async fn create_task(app: &TestApp, firm: &TestFirm, body: Value) -> Value {
    let (status, task) = app
        .api(&firm.api_key, Method::POST, "/api/v1/tasks", Some(body))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{task}");
    task
}

#[tokio::test]
async fn staff_share_a_task_and_the_client_works_through_it() {
    let app = TestApp::spawn().await;
    let firm = app.create_firm("acme").await;
    let slug = firm.firm.slug.clone();
    let ann = app.add_contact(&firm, "ann@example.com", true).await;
    let browser = app.signed_in(&firm, "ann@example.com").await;

    let (_, home) = browser.get_text(&app.url(&slug, "/")).await;
    for heading in ["Signing requests", "Tasks to do", "Completed"] {
        assert!(home.contains(heading), "{heading}");
    }
    assert!(home.contains("You are all caught up"), "empty state");

    let task = create_task(
        &app,
        &firm,
        json!({
            "title": "Upload your 2026 bank statements",
            "description": "All accounts, January to December.",
            "due_date": "2020-01-31",
            "portal": true,
            "assignees": [ann.id],
            "checklist": ["Current account", "Savings account"],
        }),
    )
    .await;
    let id = task["id"].as_str().unwrap();
    assert_eq!(task["status"], "open");
    assert_eq!(task["checklist"].as_array().unwrap().len(), 2);
    let job = app.mail_jobs().await.into_iter().last().unwrap();
    assert_eq!(job.template, Template::TaskShared);
    assert_eq!(job.to.email, "ann@example.com");
    assert_eq!(job.data["task_title"], "Upload your 2026 bank statements");
    assert!(
        job.data["task_url"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/tasks/{id}"))
    );

    let (_, home) = browser.get_text(&app.url(&slug, "/")).await;
    assert!(home.contains("Upload your 2026 bank statements"));
    assert!(home.contains("Overdue: due 31 Jan 2020"), "{home}");
    assert!(home.contains("0 of 2 done"));

    let (status, page) = browser
        .get_text(&app.url(&slug, &format!("/tasks/{id}")))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("All accounts, January to December."));
    let csrf = csrf_in(&page).unwrap();
    let item = task["checklist"][0]["id"].as_str().unwrap();
    let tick = app.url(&slug, &format!("/tasks/{id}/checklist/{item}"));
    let response = browser
        .post_form(&tick, &[("csrf", &csrf), ("done", "true")])
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let response = browser
        .post_form(&tick, &[("csrf", &csrf), ("done", "maybe")])
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let response = browser.post_form(&tick, &[("done", "true")]).await;
    assert_eq!(
        response.status(),
        StatusCode::FORBIDDEN,
        "CSRF token missing"
    );

    let (_, staff_view) = app
        .api(
            &firm.api_key,
            Method::GET,
            &format!("/api/v1/tasks/{id}"),
            None,
        )
        .await;
    assert_eq!(staff_view["checklist"][0]["done"], true);
    assert_eq!(staff_view["checklist"][0]["done_by"], ann.id.as_str());
    assert_eq!(staff_view["checklist"][1]["done"], false);

    let response = browser
        .post_form(
            &app.url(&slug, &format!("/tasks/{id}/complete")),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let (_, staff_view) = app
        .api(
            &firm.api_key,
            Method::GET,
            &format!("/api/v1/tasks/{id}"),
            None,
        )
        .await;
    assert_eq!(staff_view["status"], "completed");
    assert_eq!(staff_view["completed_by"], ann.id.as_str());
    let (_, home) = browser.get_text(&app.url(&slug, "/")).await;
    assert!(home.contains("You are all caught up"));
    assert!(home.contains("Completed "), "{home}");
    // A completed task's checklist is frozen, and completing twice is harmless.
    let response = browser
        .post_form(&tick, &[("csrf", &csrf), ("done", "false")])
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let (_, staff_view) = app
        .api(
            &firm.api_key,
            Method::GET,
            &format!("/api/v1/tasks/{id}"),
            None,
        )
        .await;
    assert_eq!(staff_view["checklist"][0]["done"], true);
    app.stop().await;
}

#[tokio::test]
async fn every_task_route_answers_404_for_what_is_not_yours() {
    let app = TestApp::spawn().await;
    let firm = app.create_firm("acme").await;
    let other_firm = app.create_firm("other").await;
    let slug = firm.firm.slug.clone();
    let ann = app.add_contact(&firm, "ann@example.com", true).await;
    let ben = app.add_contact(&firm, "ben@example.com", true).await;
    let zed = app.add_contact(&other_firm, "ann@example.com", true).await;
    let shared = |who: &ContactId| json!({"title": "T", "portal": true, "assignees": [who], "checklist": ["a"]});
    let bens = create_task(&app, &firm, shared(&ben.id)).await;
    let unshared = create_task(
        &app,
        &firm,
        json!({"title": "U", "portal": false, "assignees": [ann.id], "checklist": ["a"]}),
    )
    .await;
    let foreign = create_task(&app, &other_firm, shared(&zed.id)).await;
    let mine = create_task(&app, &firm, shared(&ann.id)).await;

    let browser = app.signed_in(&firm, "ann@example.com").await;
    let csrf = csrf_in(&browser.get_text(&app.url(&slug, "/")).await.1).unwrap();
    for (case, task) in [
        ("another contact's", &bens),
        ("unshared", &unshared),
        ("another firm's", &foreign),
    ] {
        let id = task["id"].as_str().unwrap();
        let item = task["checklist"][0]["id"].as_str().unwrap();
        let (status, html) = browser
            .get_text(&app.url(&slug, &format!("/tasks/{id}")))
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{case} task page");
        assert!(html.contains("not shared with you") || html.contains("does not exist"));
        let r = browser
            .post_form(
                &app.url(&slug, &format!("/tasks/{id}/complete")),
                &[("csrf", &csrf)],
            )
            .await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{case} complete");
        let r = browser
            .post_form(
                &app.url(&slug, &format!("/tasks/{id}/checklist/{item}")),
                &[("csrf", &csrf), ("done", "true")],
            )
            .await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{case} tick");
        // An item of another task, through my own task's URL.
        let mine_id = mine["id"].as_str().unwrap();
        let r = browser
            .post_form(
                &app.url(&slug, &format!("/tasks/{mine_id}/checklist/{item}")),
                &[("csrf", &csrf), ("done", "true")],
            )
            .await;
        assert_eq!(
            r.status(),
            StatusCode::SEE_OTHER,
            "{case}: answered like a no-op on my task"
        );
    }
    let (status, _) = browser.get_text(&app.url(&slug, "/tasks/garbage")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    for task in [&bens, &unshared, &foreign] {
        let (_, staff_view) = app
            .api(
                if task == &foreign {
                    &other_firm.api_key
                } else {
                    &firm.api_key
                },
                Method::GET,
                &format!("/api/v1/tasks/{}", task["id"].as_str().unwrap()),
                None,
            )
            .await;
        assert_eq!(staff_view["status"], "open");
        assert_eq!(
            staff_view["checklist"][0]["done"], false,
            "nothing was ticked"
        );
    }
    // An API key of one firm sees nothing of another's.
    let path = format!("/api/v1/tasks/{}", foreign["id"].as_str().unwrap());
    for method in [Method::GET, Method::PATCH, Method::DELETE] {
        let body = (method == Method::PATCH).then(|| json!({"title": "x"}));
        let (status, _) = app.api(&firm.api_key, method, &path, body).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }

    // Unsharing, and removing the assignee, take effect on the next request.
    let mine_id = mine["id"].as_str().unwrap();
    let page = app.url(&slug, &format!("/tasks/{mine_id}"));
    assert_eq!(browser.get_text(&page).await.0, StatusCode::OK);
    app.api(
        &firm.api_key,
        Method::PATCH,
        &format!("/api/v1/tasks/{mine_id}"),
        Some(json!({"portal": false})),
    )
    .await;
    assert_eq!(browser.get_text(&page).await.0, StatusCode::NOT_FOUND);
    app.api(
        &firm.api_key,
        Method::PATCH,
        &format!("/api/v1/tasks/{mine_id}"),
        Some(json!({"portal": true})),
    )
    .await;
    assert_eq!(browser.get_text(&page).await.0, StatusCode::OK);
    app.api(
        &firm.api_key,
        Method::PATCH,
        &format!("/api/v1/tasks/{mine_id}"),
        Some(json!({"assignees": [ben.id]})),
    )
    .await;
    assert_eq!(browser.get_text(&page).await.0, StatusCode::NOT_FOUND);
    app.stop().await;
}

#[tokio::test]
async fn task_api_validates_and_notifies_only_who_can_see() {
    let app = TestApp::spawn().await;
    let firm = app.create_firm("acme").await;
    let other = app.create_firm("other").await;
    let ann = app.add_contact(&firm, "ann@example.com", true).await;
    let cleo = app.add_contact(&firm, "cleo@example.com", false).await;
    let stranger = app.add_contact(&other, "x@example.com", true).await;
    let key = &firm.api_key;
    let bad = [
        (json!({"title": ""}), "title"),
        (json!({"title": "T", "due_date": "31/12/2026"}), "due_date"),
        (json!({"title": "T", "due_date": "2026-02-30"}), "due_date"),
        (json!({"title": "T", "assignees": ["nope"]}), "assignees"),
        (
            json!({"title": "T", "assignees": [stranger.id]}),
            "assignees",
        ),
        (json!({"title": "T", "checklist": [""]}), "checklist"),
        (json!({"title": "x".repeat(201)}), "title"),
    ];
    for (body, field) in bad {
        let (status, error) = app
            .api(key, Method::POST, "/api/v1/tasks", Some(body.clone()))
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {error}");
        assert_eq!(error["error"]["field"], field, "{body}: {error}");
    }
    let (status, _) = app
        .api(
            key,
            Method::POST,
            "/api/v1/tasks",
            Some(json!({"title": "T", "owner": "me"})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        app.mail_jobs().await.is_empty(),
        "nothing created, nothing sent"
    );

    // Unshared: no mail. Shared later: mail to Ann, not to Cleo (no portal access).
    let task = create_task(
        &app,
        &firm,
        json!({"title": "T", "due_date": "2026-12-31", "assignees": [ann.id, cleo.id, ann.id]}),
    )
    .await;
    assert_eq!(
        task["assignees"].as_array().unwrap().len(),
        2,
        "duplicates folded"
    );
    assert!(app.mail_jobs().await.is_empty());
    let id = task["id"].as_str().unwrap();
    let (status, task) = app
        .api(
            key,
            Method::PATCH,
            &format!("/api/v1/tasks/{id}"),
            Some(json!({"portal": true, "due_date": null})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(task["due_date"], Value::Null);
    let jobs = app.mail_jobs().await;
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].to.email, "ann@example.com");
    // Sharing again (no change) notifies nobody twice.
    app.api(
        key,
        Method::PATCH,
        &format!("/api/v1/tasks/{id}"),
        Some(json!({"portal": true, "title": "T2"})),
    )
    .await;
    assert_eq!(app.mail_jobs().await.len(), 1);

    let (status, error) = app
        .api(
            key,
            Method::PATCH,
            &format!("/api/v1/tasks/{id}"),
            Some(json!({"status": "done"})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{error}");
    let (_, list) = app
        .api(
            key,
            Method::GET,
            &format!("/api/v1/tasks?contact_id={}&status=open", ann.id),
            None,
        )
        .await;
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
    let (_, list) = app
        .api(key, Method::GET, "/api/v1/tasks?status=completed", None)
        .await;
    assert_eq!(list["data"], json!([]));
    let (status, _) = app
        .api(key, Method::DELETE, &format!("/api/v1/tasks/{id}"), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = app
        .api(key, Method::GET, &format!("/api/v1/tasks/{id}"), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    app.stop().await;
}

#[tokio::test]
async fn the_task_list_carries_each_tasks_own_assignees_and_checklist() {
    let app = TestApp::spawn().await;
    let firm = app.create_firm("acme").await;
    let ann = app.add_contact(&firm, "ann@example.com", true).await;
    let bob = app.add_contact(&firm, "bob@example.com", true).await;
    let bodies = [
        json!({"title": "A", "assignees": [ann.id], "checklist": ["a1", "a2"]}),
        json!({"title": "B", "assignees": [bob.id, ann.id], "checklist": []}),
        json!({"title": "C", "assignees": [], "checklist": ["c1", "c2", "c3"]}),
    ];
    let mut created = Vec::new();
    for body in bodies {
        created.push(create_task(&app, &firm, body).await);
    }
    let (status, list) = app
        .api(&firm.api_key, Method::GET, "/api/v1/tasks", None)
        .await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let listed = list["data"].as_array().unwrap();
    assert_eq!(listed.len(), 3);
    for task in &created {
        let same = listed.iter().find(|t| t["id"] == task["id"]).unwrap();
        assert_eq!(same["assignees"], task["assignees"], "{}", task["title"]);
        assert_eq!(same["checklist"], task["checklist"], "{}", task["title"]);
    }
    let labels = |t: &Value| -> Vec<String> {
        t["checklist"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["label"].as_str().unwrap().to_string())
            .collect()
    };
    let c = listed.iter().find(|t| t["title"] == "C").unwrap();
    assert_eq!(labels(c), ["c1", "c2", "c3"], "in position order");
    let b = listed.iter().find(|t| t["title"] == "B").unwrap();
    assert_eq!(b["assignees"].as_array().unwrap().len(), 2);
    app.stop().await;
}

/// The text of the home page's section with this heading id, up to the next section.
fn section<'a>(home: &'a str, id: &str) -> &'a str {
    let start = home
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no section {id}"));
    let rest = &home[start..];
    &rest[..rest.find("</section>").unwrap_or(rest.len())]
}

/// Where each title appears in `text`, which must show them all.
fn positions(text: &str, titles: &[&str]) -> Vec<usize> {
    titles
        .iter()
        .map(|t| text.find(t).unwrap_or_else(|| panic!("{t} missing")))
        .collect()
}

#[tokio::test]
async fn home_keeps_progress_and_order_as_tasks_change() {
    let app = TestApp::spawn().await;
    let firm = app.create_firm("acme").await;
    let slug = firm.firm.slug.clone();
    let ann = app.add_contact(&firm, "ann@example.com", true).await;
    let browser = app.signed_in(&firm, "ann@example.com").await;
    let key = &firm.api_key;
    let shared = |title: &str, due: Option<&str>, checklist: &[&str]| {
        json!({"title": title, "due_date": due, "portal": true,
               "assignees": [ann.id], "checklist": checklist})
    };
    let later = create_task(
        &app,
        &firm,
        shared(
            "Sign the engagement letter",
            Some("2030-01-02"),
            &["a", "b", "c"],
        ),
    )
    .await;
    let sooner = create_task(&app, &firm, shared("Send payroll", Some("2029-05-01"), &[])).await;
    let undated = create_task(&app, &firm, shared("Tell us about changes", None, &[])).await;
    let later_id = later["id"].as_str().unwrap();
    let home = || async { browser.get_text(&app.url(&slug, "/")).await.1 };

    // Open tasks: dated ones by due date, then the undated.
    let page = home().await;
    let todo = section(&page, "todo");
    let at = positions(
        todo,
        &[
            "Send payroll",
            "Sign the engagement letter",
            "Tell us about changes",
        ],
    );
    assert!(at[0] < at[1] && at[1] < at[2], "{todo}");
    assert!(todo.contains("0 of 3 done"), "{todo}");

    // Progress follows ticks, repeated ticks and unticks.
    let csrf = csrf_in(&page).unwrap();
    let items: Vec<&str> = later["checklist"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    for (item, done) in [
        (0, "true"),
        (0, "true"),
        (1, "true"),
        (2, "true"),
        (2, "false"),
    ] {
        let tick = app.url(
            &slug,
            &format!("/tasks/{later_id}/checklist/{}", items[item]),
        );
        let response = browser
            .post_form(&tick, &[("csrf", &csrf), ("done", done)])
            .await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
    }
    assert!(section(&home().await, "todo").contains("2 of 3 done"));

    // A replaced checklist starts unticked; an emptied one shows no progress.
    let task_path = format!("/api/v1/tasks/{later_id}");
    let patch = |body: Value| app.api(key, Method::PATCH, &task_path, Some(body));
    let (status, _) = patch(json!({"checklist": ["x", "y"]})).await;
    assert_eq!(status, StatusCode::OK);
    assert!(section(&home().await, "todo").contains("0 of 2 done"));
    let (status, _) = patch(json!({"checklist": []})).await;
    assert_eq!(status, StatusCode::OK);
    assert!(!section(&home().await, "todo").contains(" done<"));

    // Completed tasks: most recent first, and gone from the open list.
    for (task, pause) in [(&sooner, true), (&undated, false)] {
        let (status, _) = app
            .api(
                key,
                Method::PATCH,
                &format!("/api/v1/tasks/{}", task["id"].as_str().unwrap()),
                Some(json!({"status": "completed"})),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        if pause {
            // Completion times are in whole seconds.
            tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
        }
    }
    let page = home().await;
    let done = section(&page, "done");
    let at = positions(done, &["Tell us about changes", "Send payroll"]);
    assert!(at[0] < at[1], "{done}");
    assert!(!section(&page, "todo").contains("Send payroll"));

    // Deleting a task with a checklist (its items go with it) leaves the page whole.
    let (status, _) = patch(json!({"checklist": ["again"]})).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = app
        .api(
            key,
            Method::DELETE,
            &format!("/api/v1/tasks/{later_id}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let page = home().await;
    assert!(!page.contains("Sign the engagement letter"));
    assert!(section(&page, "done").contains("Send payroll"));
    app.stop().await;
}
