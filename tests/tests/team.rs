//! The team (SPEC §12): invitations accepted only with the invited address, corrected, resent
//! and revoked before that; roles given only within the giver's own; ownership moved only by
//! the Owner; the console's team page and the API's team routes, refused where the role says.

use portico_e2e::staff::{add_member, member_key, owner, stored_member};
use portico_e2e::{TestApp, TestFirm};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

fn location(response: &reqwest::Response) -> String {
    response.headers()["location"].to_str().unwrap().to_string()
}

async fn invite(app: &TestApp, firm: &TestFirm, email: &str, role_id: &str) -> Value {
    let (status, body) = app
        .api(
            &firm.api_key,
            Method::POST,
            "/api/v1/team/invitations",
            Some(json!({"email": email, "role_id": role_id})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body
}

async fn member_by_email(app: &TestApp, firm: &TestFirm, email: &str) -> Option<Value> {
    let list = app
        .api_ok(firm, Method::GET, "/api/v1/team/members", None)
        .await;
    list["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["email"] == email)
        .cloned()
}

#[tokio::test]
async fn an_invitation_is_accepted_with_its_code_and_makes_exactly_that_member() {
    let app = TestApp::spawn().await;
    let firm = app.create_firm("acme").await;
    let slug = firm.firm.slug.clone();
    let invitation = invite(&app, &firm, "nia@example.com", "co_owner").await;
    assert_eq!(invitation["status"], "open");
    assert_eq!(invitation["send_count"], 1);
    let mail = app
        .last_link("nia@example.com")
        .await
        .expect("invitation mailed");
    assert_eq!(mail.job.template.name(), "team_invitation");

    // Opening it asks for the code, even in a browser with a binding cookie of its own.
    let browser = app.browser();
    browser
        .request_staff_link(&app, &slug, "someone@example.com")
        .await;
    let response = browser.get(&mail.link).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["referrer-policy"], "no-referrer");
    let html = response.text().await.unwrap();
    assert!(html.contains("Join the team of"), "{html}");
    assert!(
        member_by_email(&app, &firm, "nia@example.com")
            .await
            .is_none()
    );

    let response = browser
        .enter_staff_code(&app, &slug, &mail.token, &mail.code)
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/staff");
    let member = member_by_email(&app, &firm, "nia@example.com")
        .await
        .expect("a member now");
    assert_eq!(member["role_id"], "co_owner");
    assert!(member["last_login_at"].is_string());
    assert_eq!(
        browser.staff_email(&app, &slug).await.as_deref(),
        Some("nia@example.com")
    );
    let list = app
        .api_ok(&firm, Method::GET, "/api/v1/team/invitations", None)
        .await;
    assert_eq!(list["data"][0]["status"], "accepted");
    // Used once.
    let response = app
        .browser()
        .enter_staff_code(&app, &slug, &mail.token, &mail.code)
        .await;
    assert_eq!(response.status(), StatusCode::GONE);
    app.stop().await;
}

#[tokio::test]
async fn an_invitation_opened_while_signed_in_as_another_member_changes_nothing() {
    let app = TestApp::spawn().await;
    let firm = app.create_firm("acme").await;
    let slug = firm.firm.slug.clone();
    let owner = owner(&app, &firm).await;
    let browser = app.staff_signed_in(&firm, &owner.email).await;
    invite(&app, &firm, "nia@example.com", "team").await;
    let mail = app.last_link("nia@example.com").await.unwrap();

    let response = browser.get(&mail.link).await;
    assert_eq!(response.status(), StatusCode::CONFLICT);
    let html = response.text().await.unwrap();
    assert!(html.contains("signed in as someone else"), "{html}");
    assert!(html.contains(&owner.email));
    // Typing the code anyway: refused the same way, before the link is spent.
    let csrf = portico_e2e::csrf_in(&html).unwrap();
    let response = browser
        .post_form(
            &app.url(&slug, "/staff/auth/magic"),
            &[
                ("token", mail.token.as_str()),
                ("code", mail.code.as_str()),
                ("csrf", csrf.as_str()),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::CONFLICT);
    // Nothing changed: the Owner is still signed in, the invitation still open and usable.
    assert_eq!(
        browser.staff_email(&app, &slug).await.as_deref(),
        Some(owner.email.as_str())
    );
    assert!(
        member_by_email(&app, &firm, "nia@example.com")
            .await
            .is_none()
    );
    let list = app
        .api_ok(&firm, Method::GET, "/api/v1/team/invitations", None)
        .await;
    assert_eq!(list["data"][0]["status"], "open");
    // After signing out, the same link and code work.
    browser.staff_logout(&app, &slug).await;
    let response = browser
        .enter_staff_code(&app, &slug, &mail.token, &mail.code)
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        browser.staff_email(&app, &slug).await.as_deref(),
        Some("nia@example.com")
    );
    app.stop().await;
}

#[tokio::test]
async fn a_corrected_or_resent_invitation_refuses_its_earlier_links() {
    let app = TestApp::spawn().await;
    let firm = app.create_firm("acme").await;
    let slug = firm.firm.slug.clone();
    let invitation = invite(&app, &firm, "nia@exmaple.com", "team").await;
    let id = invitation["id"].as_str().unwrap().to_string();
    let typo = app.last_link("nia@exmaple.com").await.unwrap();

    // Corrected address and role: a new link to the right address.
    let corrected = app
        .api_ok(
            &firm,
            Method::PATCH,
            &format!("/api/v1/team/invitations/{id}"),
            Some(json!({"email": "nia@example.com", "role_id": "co_owner"})),
        )
        .await;
    assert_eq!(corrected["email"], "nia@example.com");
    assert_eq!(corrected["role_id"], "co_owner");
    assert_eq!(corrected["send_count"], 2);
    let first = app.last_link("nia@example.com").await.unwrap();
    // Resent: another new link.
    let resent = app
        .api_ok(
            &firm,
            Method::PATCH,
            &format!("/api/v1/team/invitations/{id}"),
            Some(json!({"resend": true})),
        )
        .await;
    assert_eq!(resent["send_count"], 3);
    let latest = app.last_link("nia@example.com").await.unwrap();
    assert_ne!(first.token, latest.token);

    for old in [&typo, &first] {
        let response = app
            .browser()
            .enter_staff_code(&app, &slug, &old.token, &old.code)
            .await;
        assert_eq!(response.status(), StatusCode::GONE);
    }
    assert!(
        member_by_email(&app, &firm, "nia@exmaple.com")
            .await
            .is_none()
    );
    let browser = app.browser();
    let response = browser
        .enter_staff_code(&app, &slug, &latest.token, &latest.code)
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let member = member_by_email(&app, &firm, "nia@example.com")
        .await
        .unwrap();
    assert_eq!(member["role_id"], "co_owner");
    // Accepted: no more corrections.
    let (status, body) = app
        .api(
            &firm.api_key,
            Method::PATCH,
            &format!("/api/v1/team/invitations/{id}"),
            Some(json!({"resend": true})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    app.stop().await;
}

#[tokio::test]
async fn a_revoked_invitation_no_longer_works() {
    let app = TestApp::spawn().await;
    let firm = app.create_firm("acme").await;
    let slug = firm.firm.slug.clone();
    let invitation = invite(&app, &firm, "nia@example.com", "team").await;
    let id = invitation["id"].as_str().unwrap();
    let mail = app.last_link("nia@example.com").await.unwrap();
    let (status, _) = app
        .api(
            &firm.api_key,
            Method::DELETE,
            &format!("/api/v1/team/invitations/{id}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let response = app
        .browser()
        .enter_staff_code(&app, &slug, &mail.token, &mail.code)
        .await;
    assert_eq!(response.status(), StatusCode::GONE);
    assert!(
        member_by_email(&app, &firm, "nia@example.com")
            .await
            .is_none()
    );
    let (status, body) = app
        .api(
            &firm.api_key,
            Method::DELETE,
            &format!("/api/v1/team/invitations/{id}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    // The address may be invited again.
    invite(&app, &firm, "nia@example.com", "team").await;
    app.stop().await;
}

#[tokio::test]
async fn only_the_owner_transfers_ownership_and_the_owner_is_never_removed() {
    let app = TestApp::spawn().await;
    let firm = app.create_firm("acme").await;
    let owner = owner(&app, &firm).await;
    let co = add_member(&app, &firm, "co@example.com", "co_owner").await;
    let co_key = member_key(&app, &firm, &co, "co_owner").await;

    // A Co-owner can neither take nor give ownership, nor remove or demote the Owner.
    for (method, path, body) in [
        (
            Method::PATCH,
            format!("/api/v1/team/members/{}", co.id),
            Some(json!({"role_id": "owner"})),
        ),
        (
            Method::PATCH,
            format!("/api/v1/team/members/{}", owner.id),
            Some(json!({"role_id": "owner"})),
        ),
    ] {
        let (status, answer) = app.api(&co_key, method, &path, body).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}: {answer}");
        assert_eq!(answer["error"]["code"], "forbidden");
    }
    let (status, answer) = app
        .api(
            &co_key,
            Method::DELETE,
            &format!("/api/v1/team/members/{}", owner.id),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{answer}");
    let (status, answer) = app
        .api(
            &co_key,
            Method::PATCH,
            &format!("/api/v1/team/members/{}", owner.id),
            Some(json!({"role_id": "team"})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{answer}");
    // The Owner's key may not remove the Owner either.
    let (status, _) = app
        .api(
            &firm.api_key,
            Method::DELETE,
            &format!("/api/v1/team/members/{}", owner.id),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);

    // The Owner transfers: the Co-owner is the Owner, the Owner a Co-owner.
    let answer = app
        .api_ok(
            &firm,
            Method::PATCH,
            &format!("/api/v1/team/members/{}", co.id),
            Some(json!({"role_id": "owner"})),
        )
        .await;
    assert_eq!(answer["role_id"], "owner");
    let old = stored_member(&app, &firm, owner.id.as_str()).await.unwrap();
    assert_eq!(old.role_id, "co_owner");
    app.stop().await;
}

#[tokio::test]
async fn ownership_moves_in_the_console_by_the_owner_only() {
    let app = TestApp::spawn().await;
    let firm = app.create_firm("acme").await;
    let slug = firm.firm.slug.clone();
    let owner = owner(&app, &firm).await;
    let co = add_member(&app, &firm, "co@example.com", "co_owner").await;
    let co_browser = app.staff_signed_in(&firm, "co@example.com").await;
    let (status, page) = co_browser.get_text(&app.url(&slug, "/staff/team")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(!page.contains("Make Owner"), "not offered to a Co-owner");
    let r = co_browser
        .staff_post(
            &app,
            &slug,
            "/staff/team",
            &format!("/staff/team/members/{}/transfer", co.id),
            &[],
        )
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    let owner_browser = app.staff_signed_in(&firm, &owner.email).await;
    let (_, page) = owner_browser.get_text(&app.url(&slug, "/staff/team")).await;
    assert!(page.contains(&format!("/staff/team/members/{}/transfer", co.id)));
    assert!(!page.contains(&format!("/staff/team/members/{}/transfer", owner.id)));
    assert!(!page.contains(&format!("/staff/team/members/{}/remove", owner.id)));
    let r = owner_browser
        .staff_post(
            &app,
            &slug,
            "/staff/team",
            &format!("/staff/team/members/{}/transfer", co.id),
            &[],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let back = location(&r);
    assert_eq!(
        stored_member(&app, &firm, co.id.as_str())
            .await
            .unwrap()
            .role_id,
        "owner"
    );
    // The former Owner is a Co-owner now, on their next request.
    let (_, page) = owner_browser.get_text(&app.url(&slug, &back)).await;
    assert!(page.contains("Ownership transferred"));
    assert!(!page.contains("Make Owner"));
    app.stop().await;
}

#[tokio::test]
async fn the_team_page_shows_only_what_the_role_allows_and_refuses_the_rest() {
    let app = TestApp::spawn().await;
    let firm = app.create_firm("acme").await;
    let slug = firm.firm.slug.clone();
    let owner = owner(&app, &firm).await;
    let tess = add_member(&app, &firm, "tess@example.com", "team").await;

    // A Team member: no team section, and every team form refused.
    let browser = app.staff_signed_in(&firm, "tess@example.com").await;
    let (status, page) = browser.get_text(&app.url(&slug, "/staff/account")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(!page.contains("href=\"/staff/team\""), "no Team in the nav");
    let r = browser.get(&app.url(&slug, "/staff/team")).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    for (action, fields) in [
        (
            "/staff/team/invitations".to_string(),
            vec![("email", "x@example.com"), ("role_id", "team")],
        ),
        (format!("/staff/team/members/{}/remove", owner.id), vec![]),
        (
            format!("/staff/team/members/{}/role", tess.id),
            vec![("role_id", "co_owner")],
        ),
    ] {
        let r = browser
            .staff_post(&app, &slug, "/staff/account", &action, &fields)
            .await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{action}");
    }
    assert!(app.last_link("x@example.com").await.is_none());

    // The Owner sees every form, invites, changes a role and removes a member.
    let owner_browser = app.staff_signed_in(&firm, &owner.email).await;
    let (status, page) = owner_browser.get_text(&app.url(&slug, "/staff/team")).await;
    assert_eq!(status, StatusCode::OK);
    for needle in [
        "tess@example.com",
        "Team member",
        "Invite someone",
        "Change role",
        "aria-current=\"page\"",
        "/staff/assets/console.css",
    ] {
        assert!(page.contains(needle), "{needle}");
    }
    assert!(
        !page.contains("<option value=\"owner\""),
        "Owner is never offered"
    );
    let r = owner_browser
        .staff_post(
            &app,
            &slug,
            "/staff/team",
            "/staff/team/invitations",
            &[("email", "nia@example.com"), ("role_id", "team")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(app.last_link("nia@example.com").await.is_some());
    // Bad input: a page that says why, not a 500.
    for (fields, status) in [
        (
            vec![("email", "nope"), ("role_id", "team")],
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            vec![("email", "z@example.com"), ("role_id", "owner")],
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            vec![("email", "z@example.com"), ("role_id", "rl_nope")],
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            vec![("email", "nia@example.com"), ("role_id", "team")],
            StatusCode::CONFLICT,
        ),
        (
            vec![("email", "tess@example.com"), ("role_id", "team")],
            StatusCode::CONFLICT,
        ),
    ] {
        let r = owner_browser
            .staff_post(
                &app,
                &slug,
                "/staff/team",
                "/staff/team/invitations",
                &fields,
            )
            .await;
        assert_eq!(r.status(), status, "{fields:?}");
    }
    let r = owner_browser
        .staff_post(
            &app,
            &slug,
            "/staff/team",
            &format!("/staff/team/members/{}/role", tess.id),
            &[("role_id", "co_owner")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        stored_member(&app, &firm, tess.id.as_str())
            .await
            .unwrap()
            .role_id,
        "co_owner"
    );
    // The role change applies on Tess's next request: the team page opens for her now.
    assert_eq!(
        browser.get(&app.url(&slug, "/staff/team")).await.status(),
        StatusCode::OK
    );
    let r = owner_browser
        .staff_post(
            &app,
            &slug,
            "/staff/team",
            &format!("/staff/team/members/{}/remove", tess.id),
            &[],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(stored_member(&app, &firm, tess.id.as_str()).await.is_none());
    assert_eq!(browser.staff_email(&app, &slug).await, None);
    // An unknown member: 404.
    let r = owner_browser
        .staff_post(
            &app,
            &slug,
            "/staff/team",
            "/staff/team/members/st_nobody/remove",
            &[],
        )
        .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    app.stop().await;
}

#[tokio::test]
async fn the_api_refuses_missing_permissions_grants_beyond_the_role_and_bad_input() {
    let app = TestApp::spawn().await;
    let firm = app.create_firm("acme").await;
    let tess = add_member(&app, &firm, "tess@example.com", "team").await;
    let tess_key = member_key(&app, &firm, &tess, "team").await;

    // A Team member's key: no team area at all.
    for (method, path, body) in [
        (Method::GET, "/api/v1/team/members", None),
        (Method::GET, "/api/v1/team/invitations", None),
        (
            Method::POST,
            "/api/v1/team/invitations",
            Some(json!({"email": "x@example.com", "role_id": "team"})),
        ),
    ] {
        let (status, answer) = app.api(&tess_key, method, path, body).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}: {answer}");
        assert_eq!(answer["error"]["code"], "forbidden");
    }
    // Removing a member or revoking an invitation without the right: 403 whether or not the
    // id exists, so the answer says nothing about which ids do.
    let pending = invite(&app, &firm, "pending@example.com", "team").await;
    let pending_id = pending["id"].as_str().unwrap().to_string();
    let owner_id = owner(&app, &firm).await.id;
    for path in [
        format!("/api/v1/team/members/{owner_id}"),
        "/api/v1/team/members/st_nobodynobodynobodynobod".to_string(),
        format!("/api/v1/team/invitations/{pending_id}"),
        "/api/v1/team/invitations/ti_nobodynobodynobodynobod".to_string(),
    ] {
        let (status, answer) = app.api(&tess_key, Method::DELETE, &path, None).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}: {answer}");
    }

    // A custom role that may manage the team but holds little else cannot hand out more.
    let owner = owner(&app, &firm).await;
    let permissions = portico_shared::policy::Permissions::default().with(
        portico_shared::policy::Area::Team,
        &portico_shared::policy::Action::ALL,
        portico_shared::policy::Scope::All,
    );
    let role = app
        .store
        .create_role(&firm.firm.id, "Team admin", &permissions)
        .await
        .unwrap();
    let admin = add_member(&app, &firm, "admin@example.com", &role.id).await;
    let admin_key = member_key(&app, &firm, &admin, &role.id).await;
    let (status, answer) = app
        .api(
            &admin_key,
            Method::POST,
            "/api/v1/team/invitations",
            Some(json!({"email": "x@example.com", "role_id": "co_owner"})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{answer}");
    let (status, answer) = app
        .api(
            &admin_key,
            Method::PATCH,
            &format!("/api/v1/team/members/{}", tess.id),
            Some(json!({"role_id": role.id})),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "taking away more than held: {answer}"
    );
    let (status, _) = app
        .api(
            &admin_key,
            Method::POST,
            "/api/v1/team/invitations",
            Some(json!({"email": "x@example.com", "role_id": role.id})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "its own role it may give");
    assert!(app.last_link("x@example.com").await.is_some());
    let _ = owner;

    // Bad input: 422 with the field named; unknown ids 404.
    for body in [
        json!({"email": "nope", "role_id": "team"}),
        json!({"email": "y@example.com", "role_id": "owner"}),
        json!({"email": "y@example.com", "role_id": "rl_missing"}),
        json!({"email": "y@example.com"}),
        json!({"email": "y@example.com", "role_id": "team", "extra": 1}),
    ] {
        let (status, answer) = app
            .api(
                &firm.api_key,
                Method::POST,
                "/api/v1/team/invitations",
                Some(body.clone()),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {answer}");
    }
    let (status, answer) = app
        .api(
            &firm.api_key,
            Method::POST,
            "/api/v1/team/invitations",
            Some(json!({"email": "tess@example.com", "role_id": "team"})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "a member's address: {answer}");
    let (status, _) = app
        .api(
            &firm.api_key,
            Method::PATCH,
            &format!("/api/v1/team/members/{}", tess.id),
            Some(json!({"role_id": "rl_missing"})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    for (method, path, body) in [
        (
            Method::PATCH,
            "/api/v1/team/members/st_nobody",
            Some(json!({"role_id": "team"})),
        ),
        (Method::DELETE, "/api/v1/team/members/st_nobody", None),
        (
            Method::PATCH,
            "/api/v1/team/invitations/ti_nobody",
            Some(json!({"resend": true})),
        ),
        (Method::DELETE, "/api/v1/team/invitations/ti_nobody", None),
    ] {
        let (status, answer) = app.api(&firm.api_key, method, path, body).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {answer}");
    }
    // Another firm's member is not found either.
    let other = app.create_firm("other").await;
    let (status, _) = app
        .api(
            &other.api_key,
            Method::DELETE,
            &format!("/api/v1/team/members/{}", tess.id),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // The Owner's key changes Tess's role and removes her.
    let answer = app
        .api_ok(
            &firm,
            Method::PATCH,
            &format!("/api/v1/team/members/{}", tess.id),
            Some(json!({"role_id": "co_owner"})),
        )
        .await;
    assert_eq!(answer["role_id"], "co_owner");
    let (status, _) = app
        .api(
            &firm.api_key,
            Method::DELETE,
            &format!("/api/v1/team/members/{}", tess.id),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    app.stop().await;
}
