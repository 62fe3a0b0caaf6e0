//! The console's client pages over real HTTP: the dashboard, contacts (search, filters,
//! pages, access, invitations, assignments, create/edit/delete) and conversations (inbox,
//! reply); each within the member's role and reach: a Team member sees only the clients
//! assigned to them (others answer 404), a POST the role lacks answers 403.

use portico_e2e::staff::{add_role, assign, signed_in_member, signed_in_owner};
use portico_e2e::{Browser, TestApp, TestFirm, csrf_in, decoded};
use portico_shared::email::Email;
use portico_shared::mail::Template;
use portico_shared::policy::{Action, Area, BuiltinRole, Permissions, Scope};
use portico_shared::store::{Contact, NewContact};
use reqwest::{Method, StatusCode};
use serde_json::json;

async fn contact(app: &TestApp, firm: &TestFirm, name: &str, email: &str, access: bool) -> Contact {
    app.store
        .create_contact(
            &firm.firm.id,
            &NewContact {
                name: name.into(),
                email: Email::parse(email).unwrap(),
                portal_access: access,
                account_id: None,
                permission_set: None,
            },
        )
        .await
        .expect("create contact")
}

/// The client sends a request from the portal's home page; the conversation's id.
async fn client_request(app: &TestApp, client: &Browser, slug: &str, body: &str) -> String {
    let csrf = client.csrf(&app.url(slug, "/")).await;
    let response = client
        .post_form(
            &app.url(slug, "/requests"),
            &[("csrf", &csrf), ("body", body)],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    response.headers()["location"]
        .to_str()
        .unwrap()
        .trim_start_matches("/requests/")
        .to_string()
}

/// Posts a console form from the page at `page` (for its CSRF token).
async fn post(
    app: &TestApp,
    staff: &Browser,
    slug: &str,
    page: &str,
    action: &str,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    let (_, html) = read(staff, &app.url(slug, page)).await;
    let csrf = csrf_in(&html).unwrap_or_else(|| panic!("no form on {page}: {html}"));
    let mut form = vec![("csrf", csrf.as_str())];
    form.extend_from_slice(fields);
    staff.post_form(&app.url(slug, action), &form).await
}

async fn read(browser: &Browser, url: &str) -> (StatusCode, String) {
    let (status, html) = browser.get_text(url).await;
    (status, decoded(html))
}

fn location(response: &reqwest::Response) -> String {
    response.headers()["location"].to_str().unwrap().to_string()
}

#[tokio::test]
async fn the_console_needs_a_staff_session() {
    let app = TestApp::spawn().await;
    let firm = app.create_firm("acme").await;
    let slug = firm.firm.slug.clone();
    let anonymous = app.browser();
    for path in ["/staff", "/staff/contacts", "/staff/conversations"] {
        let response = anonymous.get(&app.url(&slug, path)).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{path}");
        assert_eq!(location(&response), "/staff/login");
    }
    // A client's session is not a staff session.
    contact(&app, &firm, "Ann", "ann@example.com", true).await;
    let client = app.signed_in(&firm, "ann@example.com").await;
    let response = client.get(&app.url(&slug, "/staff")).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    app.stop().await;
}

#[tokio::test]
async fn the_dashboard_shows_what_waits_and_what_clients_did() {
    let app = TestApp::spawn().await;
    let firm = app.create_firm("acme").await;
    let slug = firm.firm.slug.clone();
    let ann = contact(&app, &firm, "Ann Archer", "ann@example.com", true).await;
    let (_, owner) = signed_in_owner(&app, &firm).await;

    let (status, page) = read(&owner, &app.url(&slug, "/staff")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("No request is waiting for an answer."));
    assert!(page.contains("No client activity"));
    assert!(page.contains("/staff/assets/console.css"));

    let client = app.signed_in(&firm, "ann@example.com").await;
    client_request(&app, &client, &slug, "Where is my tax return?").await;
    let overdue = app
        .api_ok(
            &firm,
            Method::POST,
            "/api/v1/tasks",
            Some(
                json!({"title": "Send bank statements", "due_date": "2020-01-31",
                        "assignees": [ann.id], "portal": true}),
            ),
        )
        .await;
    let done = app
        .api_ok(
            &firm,
            Method::POST,
            "/api/v1/tasks",
            Some(json!({"title": "Confirm address", "due_date": "2020-01-15",
                        "assignees": [ann.id], "portal": true})),
        )
        .await;
    let done_id = done["id"].as_str().unwrap();
    let csrf = client
        .csrf(&app.url(&slug, &format!("/tasks/{done_id}")))
        .await;
    let response = client
        .post_form(
            &app.url(&slug, &format!("/tasks/{done_id}/complete")),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let pdf = portico_e2e::sample_pdf("hi");
    firm.request_signature(&app, &ann.id, "Engagement letter", "letter.pdf", &pdf)
        .await;
    let signed = firm
        .request_signature(&app, &ann.id, "Tax authority mandate", "mandate.pdf", &pdf)
        .await;
    let declined = firm
        .request_signature(&app, &ann.id, "Marketing consent", "consent.pdf", &pdf)
        .await;
    let sign = format!("/sign/{}", signed["id"].as_str().unwrap());
    let csrf = client.csrf(&app.url(&slug, &sign)).await;
    let response = client
        .post_form(
            &app.url(&slug, &sign),
            &[("csrf", &csrf), ("name", "Ann Archer"), ("consent", "yes")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let decline = format!("/sign/{}/decline", declined["id"].as_str().unwrap());
    let response = client
        .post_form(
            &app.url(&slug, &decline),
            &[("csrf", &csrf), ("reason", "not now")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let overdue_id = overdue["id"].as_str().unwrap();
    let form = reqwest::multipart::Form::new()
        .text("csrf", csrf.clone())
        .part("file", portico_e2e::file_part("statement.pdf", &pdf));
    let response = client
        .post_multipart(&app.url(&slug, &format!("/tasks/{overdue_id}/files")), form)
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);

    let (status, page) = read(&owner, &app.url(&slug, "/staff")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Where is my tax return?"), "{page}");
    assert!(page.contains("Engagement letter"));
    assert!(page.contains("Send bank statements"));
    assert!(
        page.contains(&format!("/staff/tasks/{}", overdue["id"].as_str().unwrap())),
        "links the overdue task: {page}"
    );
    assert!(
        !page.contains("was due 2020-01-15"),
        "a completed task is not overdue"
    );
    assert!(page.contains("Ann Archer</a> signed in to the portal"));
    assert!(page.contains("Ann Archer</a> sent a request"));
    assert!(page.contains("Ann Archer</a> completed the task"));
    assert!(page.contains("Ann Archer</a> signed <a"), "{page}");
    assert!(page.contains("Ann Archer</a> declined to sign <a"));
    assert!(page.contains("Ann Archer</a> uploaded a document to <a"));
    let pending =
        &page[page.find("id=\"signatures-h\"").unwrap()..page.find("id=\"overdue-h\"").unwrap()];
    assert!(pending.contains("Engagement letter"));
    assert!(
        !pending.contains("Tax authority mandate") && !pending.contains("Marketing consent"),
        "signed and declined requests are no longer pending"
    );
    app.stop().await;
}

#[tokio::test]
async fn contacts_are_searched_by_prefix_filtered_and_paged() {
    let app = TestApp::spawn().await;
    let firm = app.create_firm("acme").await;
    let slug = firm.firm.slug.clone();
    for i in 0..30 {
        let access = i % 3 == 0;
        contact(
            &app,
            &firm,
            &format!("Person {i:02}"),
            &format!("p{i:02}@example.com"),
            access,
        )
        .await;
    }
    contact(&app, &firm, "Zoë Zimmer", "zz@zimmer.example", true).await;
    contact(&app, &firm, "Bob Baker", "zoe.b@example.com", false).await;
    let (_, owner) = signed_in_owner(&app, &firm).await;

    // Page one has 25 rows in name order and a link to the next, which has the rest.
    let (status, first) = read(&owner, &app.url(&slug, "/staff/contacts")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(first.contains("Bob Baker"));
    assert!(first.contains("Person 00"));
    assert!(!first.contains("Person 29"));
    let next = first
        .split("href=\"")
        .filter_map(|s| s.split('"').next())
        .find(|h| h.contains("after="))
        .expect("a next page link")
        .to_string();
    let (status, second) = read(&owner, &app.url(&slug, &next)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(second.contains("Person 29"));
    assert!(second.contains("Zoë Zimmer"));
    assert!(!second.contains("Person 00"), "no row twice");
    assert!(!second.contains("rel=\"next\""), "the last page");
    let listed = |html: &str| html.matches("<td><a href=\"/staff/contacts/").count();
    assert_eq!(listed(&first) + listed(&second), 32);

    // A prefix of the name, case-insensitively, or of the email; each contact once.
    let (_, found) = read(&owner, &app.url(&slug, "/staff/contacts?q=zo")).await;
    assert!(found.contains("Zoë Zimmer"), "by name");
    assert!(found.contains("Bob Baker"), "by email");
    assert_eq!(listed(&found), 2);
    let (_, found) = read(&owner, &app.url(&slug, "/staff/contacts?q=ZOË")).await;
    assert_eq!(listed(&found), 1, "{found}");
    let (_, found) = read(&owner, &app.url(&slug, "/staff/contacts?q=p1")).await;
    assert_eq!(listed(&found), 10, "p10..p19 by email");
    let (_, found) = read(&owner, &app.url(&slug, "/staff/contacts?q=nobody")).await;
    assert!(found.contains("No contact matches."));

    // Filters, alone and together with a search.
    let (_, on) = read(&owner, &app.url(&slug, "/staff/contacts?access=on")).await;
    assert_eq!(listed(&on), 11);
    let (_, off) = read(
        &owner,
        &app.url(&slug, "/staff/contacts?access=off&q=person"),
    )
    .await;
    assert_eq!(listed(&off), 20);
    let (_, never) = read(
        &owner,
        &app.url(&slug, "/staff/contacts?invite=none&access=on"),
    )
    .await;
    assert_eq!(listed(&never), 11);
    let (_, invited) = read(&owner, &app.url(&slug, "/staff/contacts?invite=invited")).await;
    assert!(invited.contains("No contact matches."));

    // Bad input is a 400 that says what is wrong.
    for (query, says) in [
        ("access=maybe", "access must be on or off"),
        (
            "invite=sometimes",
            "invite must be none, invited or accepted",
        ),
        ("after=%%%", "the page link is damaged"),
        ("after=bm90IGEgY3Vyc29y", "the page link is damaged"),
    ] {
        let (status, body) =
            read(&owner, &app.url(&slug, &format!("/staff/contacts?{query}"))).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}");
        assert!(body.contains(says), "{query}: {body}");
    }
    let long = "x".repeat(201);
    let (status, _) = read(
        &owner,
        &app.url(&slug, &format!("/staff/contacts?q={long}")),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    app.stop().await;
}

#[tokio::test]
async fn access_off_ends_the_clients_session_and_invitations_show_their_status() {
    let app = TestApp::spawn().await;
    let firm = app.create_firm("acme").await;
    let slug = firm.firm.slug.clone();
    let ann = contact(&app, &firm, "Ann", "ann@example.com", true).await;
    let (_, owner) = signed_in_owner(&app, &firm).await;
    let page = format!("/staff/contacts/{}", ann.id);

    let client = app.signed_in(&firm, "ann@example.com").await;
    assert_eq!(
        client.get(&app.url(&slug, "/")).await.status(),
        StatusCode::OK
    );
    let (_, html) = read(&owner, &app.url(&slug, &page)).await;
    assert!(html.contains("Never invited"));
    assert!(
        !html.contains(">Never</time>") && !html.contains("<dd>Never</dd>"),
        "signed in"
    );

    let response = post(
        &app,
        &owner,
        &slug,
        &page,
        &format!("{page}/access"),
        &[("access", "off")],
    )
    .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), format!("{page}?done=access_off"));
    let response = client.get(&app.url(&slug, "/")).await;
    assert_eq!(
        response.status(),
        StatusCode::SEE_OTHER,
        "the client is signed out"
    );
    assert_eq!(location(&response), "/login");
    let (_, html) = read(&owner, &app.url(&slug, &format!("{page}?done=access_off"))).await;
    assert!(html.contains("Portal access is off"));
    assert!(html.contains("Turn portal access on"));
    assert!(
        !html.contains("Send invitation"),
        "no invitation without access"
    );

    // Inviting needs access; with it the invitation is mailed and shown.
    let response = post(
        &app,
        &owner,
        &slug,
        &page,
        &format!("{page}/invitation"),
        &[],
    )
    .await;
    assert_eq!(response.status(), StatusCode::CONFLICT);
    assert!(
        decoded(response.text().await.unwrap()).contains("Turn portal access on before inviting")
    );
    let response = post(
        &app,
        &owner,
        &slug,
        &page,
        &format!("{page}/access"),
        &[("access", "on")],
    )
    .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let response = post(
        &app,
        &owner,
        &slug,
        &page,
        &format!("{page}/invitation"),
        &[],
    )
    .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let mail = app.last_link("ann@example.com").await.expect("mailed");
    assert_eq!(mail.job.template, Template::Invitation);
    let (_, html) = read(&owner, &app.url(&slug, &page)).await;
    assert!(html.contains("Invited <time"), "{html}");
    assert!(html.contains("Resend invitation"));
    let (_, list) = read(&owner, &app.url(&slug, "/staff/contacts?invite=invited")).await;
    assert!(list.contains(&page));

    // The client signs in through it: accepted.
    let fresh = app.browser();
    let response = fresh.enter_code(&app, &slug, &mail.token, &mail.code).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let (_, html) = read(&owner, &app.url(&slug, &page)).await;
    assert!(html.contains("Accepted"), "{html}");
    let (_, list) = read(&owner, &app.url(&slug, "/staff/contacts?invite=accepted")).await;
    assert!(list.contains(&page));

    let response = post(
        &app,
        &owner,
        &slug,
        &page,
        &format!("{page}/access"),
        &[("access", "sideways")],
    )
    .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(decoded(response.text().await.unwrap()).contains("access must be on or off"));
    // A form without its CSRF token is refused.
    let response = owner
        .post_form(
            &app.url(&slug, &format!("{page}/access")),
            &[("access", "off")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    app.stop().await;
}

#[tokio::test]
async fn contacts_are_created_edited_and_deleted_with_their_problems_explained() {
    let app = TestApp::spawn().await;
    let firm = app.create_firm("acme").await;
    let slug = firm.firm.slug.clone();
    let other = app.create_firm("other").await;
    let foreign = contact(&app, &other, "Foreign", "f@example.com", true).await;
    contact(&app, &firm, "Taken", "taken@example.com", false).await;
    let (_, owner) = signed_in_owner(&app, &firm).await;
    let list = "/staff/contacts";

    let response = post(
        &app,
        &owner,
        &slug,
        list,
        list,
        &[("name", "Carol"), ("email", "not-an-email")],
    )
    .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = decoded(response.text().await.unwrap());
    assert!(html.contains("Enter a valid email address"), "{html}");
    assert!(
        html.contains("value=\"Carol\""),
        "the form keeps what was typed"
    );
    let response = post(
        &app,
        &owner,
        &slug,
        list,
        list,
        &[("name", " "), ("email", "c@example.com")],
    )
    .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(decoded(response.text().await.unwrap()).contains("Enter the contact's name."));
    let response = post(
        &app,
        &owner,
        &slug,
        list,
        list,
        &[("name", "Carol"), ("email", "TAKEN@example.com")],
    )
    .await;
    assert_eq!(response.status(), StatusCode::CONFLICT);
    assert!(
        decoded(response.text().await.unwrap()).contains("already has a contact with this email")
    );

    let response = post(
        &app,
        &owner,
        &slug,
        list,
        list,
        &[
            ("name", "Carol Cole"),
            ("email", "carol@example.com"),
            ("portal_access", "on"),
        ],
    )
    .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let page = location(&response)
        .trim_end_matches("?done=created")
        .to_string();
    let (status, html) = read(&owner, &app.url(&slug, &page)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Carol Cole"));
    assert!(html.contains("<dd>On</dd>"));

    let response = post(
        &app,
        &owner,
        &slug,
        &page,
        &page,
        &[("name", "Carol Cole-Smith"), ("email", "x@")],
    )
    .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let response = post(
        &app,
        &owner,
        &slug,
        &page,
        &page,
        &[
            ("name", "Carol Cole-Smith"),
            ("email", "carol.smith@example.com"),
        ],
    )
    .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let (_, html) = read(&owner, &app.url(&slug, &page)).await;
    assert!(html.contains("Carol Cole-Smith") && html.contains("carol.smith@example.com"));
    let (_, found) = read(&owner, &app.url(&slug, "/staff/contacts?q=carol%20cole-")).await;
    assert!(found.contains(&page), "the new name is searchable");

    // Another firm's contact, or no contact at all: 404, for pages and forms alike.
    for id in [foreign.id.to_string(), "ct_nothing".to_string()] {
        let (status, _) = read(&owner, &app.url(&slug, &format!("/staff/contacts/{id}"))).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let response = post(
            &app,
            &owner,
            &slug,
            &page,
            &format!("/staff/contacts/{id}/delete"),
            &[],
        )
        .await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
    }

    let response = post(&app, &owner, &slug, &page, &format!("{page}/delete"), &[]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/staff/contacts?done=deleted");
    let (status, _) = read(&owner, &app.url(&slug, &page)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    app.stop().await;
}

#[tokio::test]
async fn a_reply_is_signed_by_its_member_and_emails_the_client() {
    let app = TestApp::spawn().await;
    let firm = app.create_firm("acme").await;
    let slug = firm.firm.slug.clone();
    contact(&app, &firm, "Ann Archer", "ann@example.com", true).await;
    let (_, owner) = signed_in_owner(&app, &firm).await;
    let (_, colleague) =
        signed_in_member(&app, &firm, "cora@firm.example", BuiltinRole::CoOwner.id()).await;
    let client = app.signed_in(&firm, "ann@example.com").await;
    let first = client_request(&app, &client, &slug, "Old question").await;
    // Times are in seconds: the second request is the newer one by a second.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let id = client_request(&app, &client, &slug, "Can we meet on Thursday?").await;
    let page = format!("/staff/conversations/{id}");

    let (status, inbox) = read(&owner, &app.url(&slug, "/staff/conversations")).await;
    assert_eq!(status, StatusCode::OK);
    let newest = inbox.find("Can we meet on Thursday?").expect("listed");
    let older = inbox.find("Old question").expect("listed");
    assert!(newest < older, "newest activity first");
    assert_eq!(inbox.matches("cc-badge cc-waiting\">Waiting<").count(), 2);

    let response = post(
        &app,
        &colleague,
        &slug,
        &page,
        &format!("{page}/messages"),
        &[("body", "   ")],
    )
    .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        decoded(response.text().await.unwrap()).contains("Write your message before sending it.")
    );
    let too_long = "x".repeat(10_001);
    let response = post(
        &app,
        &colleague,
        &slug,
        &page,
        &format!("{page}/messages"),
        &[("body", &too_long)],
    )
    .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);

    let response = post(
        &app,
        &colleague,
        &slug,
        &page,
        &format!("{page}/messages"),
        &[("body", "Thursday at 10 works.")],
    )
    .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let (_, html) = read(&owner, &app.url(&slug, &page)).await;
    assert!(html.contains("Thursday at 10 works."));
    assert!(
        html.contains("cora@firm.example <span class=\"muted\">(firm)</span>"),
        "{html}"
    );
    assert!(!html.contains("Waiting for an answer</span>"));
    let mail = app
        .mail_jobs()
        .await
        .into_iter()
        .rev()
        .find(|j| j.template == Template::RequestReply)
        .expect("the client is emailed");
    assert_eq!(mail.to.email, "ann@example.com");
    assert_eq!(mail.data["reply_excerpt"], "Thursday at 10 works.");

    let (_, waiting) = read(&owner, &app.url(&slug, "/staff/conversations?waiting=1")).await;
    assert!(waiting.contains("Old question"));
    assert!(!waiting.contains("Can we meet on Thursday?"));
    // The client sees the reply in the portal.
    let (_, thread) = read(&client, &app.url(&slug, &format!("/requests/{id}"))).await;
    assert!(thread.contains("Thursday at 10 works."));

    let (status, _) = read(&owner, &app.url(&slug, "/staff/conversations/cv_nothing")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = read(
        &owner,
        &app.url(&slug, "/staff/conversations?before=garbage!"),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let _ = first;
    app.stop().await;
}

#[tokio::test]
async fn a_team_member_sees_only_the_clients_assigned_to_them() {
    let app = TestApp::spawn().await;
    let firm = app.create_firm("acme").await;
    let slug = firm.firm.slug.clone();
    let mine = contact(&app, &firm, "Mine Client", "mine@example.com", true).await;
    let theirs = contact(&app, &firm, "Other Client", "other@example.com", true).await;
    let (member, team) =
        signed_in_member(&app, &firm, "tom@firm.example", BuiltinRole::Team.id()).await;
    assign(&app, &firm, &mine.id, std::slice::from_ref(&member.id)).await;
    let mine_client = app.signed_in(&firm, "mine@example.com").await;
    let their_client = app.signed_in(&firm, "other@example.com").await;
    let my_request = client_request(&app, &mine_client, &slug, "Mine asks").await;
    let their_request = client_request(&app, &their_client, &slug, "Other asks").await;

    let (_, list) = read(&team, &app.url(&slug, "/staff/contacts")).await;
    assert!(list.contains("Mine Client"));
    assert!(!list.contains("Other Client"));
    let (_, found) = read(&team, &app.url(&slug, "/staff/contacts?q=other")).await;
    assert!(found.contains("No contact matches."));
    let (_, dashboard) = read(&team, &app.url(&slug, "/staff")).await;
    assert!(dashboard.contains("Mine asks"));
    assert!(!dashboard.contains("Other asks"));
    assert!(!dashboard.contains("Other Client"));
    let (_, inbox) = read(&team, &app.url(&slug, "/staff/conversations")).await;
    assert!(inbox.contains("Mine asks") && !inbox.contains("Other asks"));

    // The other client's pages and forms answer as if they did not exist.
    let their_page = format!("/staff/contacts/{}", theirs.id);
    let (status, _) = read(&team, &app.url(&slug, &their_page)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = read(
        &team,
        &app.url(&slug, &format!("/staff/conversations/{their_request}")),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let my_page = format!("/staff/contacts/{}", mine.id);
    let response = post(
        &app,
        &team,
        &slug,
        &my_page,
        &format!("{their_page}/access"),
        &[("access", "off")],
    )
    .await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let response = post(
        &app,
        &team,
        &slug,
        &my_page,
        &format!("/staff/conversations/{their_request}/messages"),
        &[("body", "hello")],
    )
    .await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert!(
        app.stored_contact(&firm.firm.id, &theirs.id)
            .await
            .portal_access
    );

    // Their own client: they may edit and reply, but not delete or reassign.
    let (status, html) = read(&team, &app.url(&slug, &my_page)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Turn portal access off"));
    assert!(
        !html.contains("Delete contact"),
        "no control the role lacks"
    );
    assert!(!html.contains("Save assigned members"));
    let response = post(
        &app,
        &team,
        &slug,
        &my_page,
        &format!("{my_page}/delete"),
        &[],
    )
    .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let response = post(
        &app,
        &team,
        &slug,
        &my_page,
        &format!("{my_page}/members"),
        &[(&format!("member_{}", member.id), "on")],
    )
    .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let response = post(
        &app,
        &team,
        &slug,
        &my_page,
        &format!("/staff/conversations/{my_request}/messages"),
        &[("body", "On it.")],
    )
    .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);

    // A contact they create is theirs.
    let response = post(
        &app,
        &team,
        &slug,
        "/staff/contacts",
        "/staff/contacts",
        &[("name", "New One"), ("email", "new@example.com")],
    )
    .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let (status, _) = read(&team, &app.url(&slug, location(&response).as_str())).await;
    assert_eq!(status, StatusCode::OK);

    // The Owner assigns the other client to them too; now it is theirs as well.
    let (_, owner) = signed_in_owner(&app, &firm).await;
    let response = post(
        &app,
        &owner,
        &slug,
        &their_page,
        &format!("{their_page}/members"),
        &[(&format!("member_{}", member.id), "on")],
    )
    .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let (status, _) = read(&team, &app.url(&slug, &their_page)).await;
    assert_eq!(status, StatusCode::OK);
    let response = post(
        &app,
        &owner,
        &slug,
        &their_page,
        &format!("{their_page}/members"),
        &[("member_st_nobodynobodynobodynobod", "on")],
    )
    .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let response = post(
        &app,
        &owner,
        &slug,
        &their_page,
        &format!("{their_page}/members"),
        &[("member_junk", "on")],
    )
    .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    app.stop().await;
}

#[tokio::test]
async fn a_role_without_the_right_sees_no_control_and_its_post_is_refused() {
    let app = TestApp::spawn().await;
    let firm = app.create_firm("acme").await;
    let slug = firm.firm.slug.clone();
    let ann = contact(&app, &firm, "Ann", "ann@example.com", true).await;
    let client = app.signed_in(&firm, "ann@example.com").await;
    let request = client_request(&app, &client, &slug, "A question").await;
    let role = add_role(
        &app,
        &firm,
        "Read contacts",
        Permissions::default().with(Area::Contacts, &[Action::View], Scope::All),
    )
    .await;
    let (_, reader) = signed_in_member(&app, &firm, "rita@firm.example", &role.id).await;
    let page = format!("/staff/contacts/{}", ann.id);

    let (status, html) = read(&reader, &app.url(&slug, &page)).await;
    assert_eq!(status, StatusCode::OK);
    for control in [
        "Turn portal access",
        "Send invitation",
        "Delete contact",
        "Save details",
        "Save assigned members",
    ] {
        assert!(!html.contains(control), "{control} is not offered");
    }
    assert!(
        !html.contains("id=\"requests-h\""),
        "no conversations without the right to view them"
    );
    let (_, list) = read(&reader, &app.url(&slug, "/staff/contacts")).await;
    assert!(!list.contains("New contact"));

    for (action, fields) in [
        (
            "/staff/contacts".to_string(),
            vec![("name", "X"), ("email", "x@example.com")],
        ),
        (format!("{page}/access"), vec![("access", "off")]),
        (format!("{page}/invitation"), vec![]),
        (format!("{page}/delete"), vec![]),
        (
            page.clone(),
            vec![("name", "X"), ("email", "ann@example.com")],
        ),
        (
            format!("/staff/conversations/{request}/messages"),
            vec![("body", "hi")],
        ),
    ] {
        let response = post(&app, &reader, &slug, &page, &action, &fields).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{action}");
        assert!(decoded(response.text().await.unwrap()).contains("your role does not allow this"));
    }
    let (status, _) = read(&reader, &app.url(&slug, "/staff/conversations")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, dashboard) = read(&reader, &app.url(&slug, "/staff")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(!dashboard.contains("Requests waiting"));
    assert!(dashboard.contains("Recent client activity"));
    assert!(
        app.stored_contact(&firm.firm.id, &ann.id)
            .await
            .portal_access
    );
    app.stop().await;
}
