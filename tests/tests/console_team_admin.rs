//! The console's roles and API keys pages over real HTTP: what each role is offered and
//! refused, privilege escalation refused, built-in and held roles kept, role edits applied on
//! the next request, and a key shown once that works on the API until revoked.

use portico_e2e::staff::{add_member as member_with_role, owner, staff_browser};
use portico_e2e::{Browser, TestApp, TestFirm, csrf_in};
use portico_shared::policy::{Action, Area, Permissions, Scope};
use reqwest::StatusCode;

async fn post(
    browser: &Browser,
    app: &TestApp,
    firm: &TestFirm,
    page: &str,
    path: &str,
    form: &[(&str, &str)],
) -> (StatusCode, String, String) {
    let (_, html) = browser.get_text(&app.url(&firm.firm.slug, page)).await;
    let csrf = csrf_in(&html).unwrap_or_default();
    let mut fields: Vec<(&str, &str)> = form.to_vec();
    fields.push(("csrf", &csrf));
    let response = browser
        .post_form(&app.url(&firm.firm.slug, path), &fields)
        .await;
    let status = response.status();
    let location = response
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    (status, location, response.text().await.unwrap_or_default())
}

#[tokio::test]
async fn the_owner_creates_edits_and_deletes_a_role_and_bad_input_is_explained() {
    let app = TestApp::spawn().await;
    let firm = app.create_firm("roles").await;
    let owner = owner(&app, &firm).await;
    let browser = staff_browser(&app, &firm, &owner).await;

    let (status, html) = browser
        .get_text(&app.url(&firm.firm.slug, "/staff/roles"))
        .await;
    assert_eq!(status, StatusCode::OK);
    for name in ["Owner", "Co-owner", "Team member", "New role"] {
        assert!(html.contains(name), "roles page shows {name}");
    }

    let (status, location, _) = post(
        &browser,
        &app,
        &firm,
        "/staff/roles/new",
        "/staff/roles",
        &[
            ("name", "Bookkeeper"),
            ("grant.tasks.view", "on"),
            ("grant.tasks.edit", "on"),
            ("scope.tasks", "assigned"),
            ("grant.invoices.view", "on"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "created");
    let id = location
        .strip_prefix("/staff/roles/")
        .and_then(|rest| rest.split('?').next())
        .expect("redirect to the role")
        .to_string();
    let stored = app
        .store
        .role(&firm.firm.id, &id)
        .await
        .unwrap()
        .expect("stored");
    assert_eq!(
        stored.permissions,
        Permissions::default()
            .with(Area::Tasks, &[Action::View, Action::Edit], Scope::Assigned)
            .with(Area::Invoices, &[Action::View], Scope::All)
    );

    // Bad input: shown again with the reason, nothing stored.
    for (form, reason) in [
        (vec![("name", "   ")], "must not be empty"),
        (vec![("name", "Owner")], "already has a role of this name"),
        (
            vec![("name", "Bookkeeper")],
            "already has a role of this name",
        ),
        (
            vec![
                ("name", "Odd"),
                ("grant.invoices.view", "on"),
                ("scope.invoices", "assigned"),
            ],
            "scope",
        ),
    ] {
        let (status, _, html) = post(
            &browser,
            &app,
            &firm,
            "/staff/roles/new",
            "/staff/roles",
            &form,
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{form:?}");
        assert!(html.contains(reason), "{form:?} explained: {reason}");
    }
    assert_eq!(app.store.roles(&firm.firm.id).await.unwrap().len(), 4);

    // Built-in roles cannot be edited or deleted.
    let (status, _, _) = post(
        &browser,
        &app,
        &firm,
        "/staff/roles/team",
        "/staff/roles/team",
        &[("name", "Team")],
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, _, _) = post(
        &browser,
        &app,
        &firm,
        "/staff/roles/team",
        "/staff/roles/team/delete",
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);

    // A role still held is kept; once nobody holds it, it goes.
    let held = member_with_role(&app, &firm, "bea@example.com", &id).await;
    let role_page = format!("/staff/roles/{id}");
    let delete = format!("/staff/roles/{id}/delete");
    let (status, _, html) = post(&browser, &app, &firm, &role_page, &delete, &[]).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(html.contains("still has this role"));
    app.store
        .remove_member(&firm.firm.id, &held.id)
        .await
        .unwrap();
    let (status, location, _) = post(&browser, &app, &firm, &role_page, &delete, &[]).await;
    assert_eq!(
        (status, location.as_str()),
        (StatusCode::SEE_OTHER, "/staff/roles?deleted=1")
    );
    assert!(app.store.role(&firm.firm.id, &id).await.unwrap().is_none());

    // Another firm's role, or junk, is not found.
    let other = app.create_firm("other").await;
    let theirs = app
        .store
        .create_role(&other.firm.id, "Theirs", &Permissions::default())
        .await
        .unwrap();
    let (status, _) = browser
        .get_text(&app.url(&firm.firm.slug, &format!("/staff/roles/{}", theirs.id)))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = browser
        .get_text(&app.url(&firm.firm.slug, "/staff/roles/rl_x"))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    app.stop().await;
}

#[tokio::test]
async fn a_role_manager_cannot_grant_more_than_they_hold_and_role_edits_apply_at_once() {
    let app = TestApp::spawn().await;
    let firm = app.create_firm("escalate").await;
    let limited = Permissions::default()
        .with(
            Area::Roles,
            &[Action::View, Action::Create, Action::Edit],
            Scope::All,
        )
        .with(Area::ApiKeys, &[Action::View, Action::Create], Scope::All)
        .with(Area::Tasks, &[Action::View], Scope::Assigned);
    let role = app
        .store
        .create_role(&firm.firm.id, "Role admin", &limited)
        .await
        .unwrap();
    let member = member_with_role(&app, &firm, "rita@example.com", &role.id).await;
    let browser = staff_browser(&app, &firm, &member).await;

    // Within their own grants: allowed.
    let (status, _, _) = post(
        &browser,
        &app,
        &firm,
        "/staff/roles/new",
        "/staff/roles",
        &[
            ("name", "Viewer"),
            ("grant.tasks.view", "on"),
            ("scope.tasks", "assigned"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    // Wider scope, another action, another area: refused, nothing stored.
    for form in [
        vec![
            ("name", "Wider"),
            ("grant.tasks.view", "on"),
            ("scope.tasks", "all"),
        ],
        vec![
            ("name", "More"),
            ("grant.tasks.delete", "on"),
            ("scope.tasks", "assigned"),
        ],
        vec![("name", "Elsewhere"), ("grant.team.view", "on")],
    ] {
        let (status, _, _) = post(
            &browser,
            &app,
            &firm,
            "/staff/roles/new",
            "/staff/roles",
            &form,
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{form:?}");
    }
    assert_eq!(app.store.roles(&firm.firm.id).await.unwrap().len(), 5);
    // Nor a key above their role: the Owner role is not offered, and refused when posted.
    let (_, html) = browser
        .get_text(&app.url(&firm.firm.slug, "/staff/api-keys"))
        .await;
    assert!(!html.contains("value=\"owner\""), "Owner not offered");
    assert!(
        html.contains(&format!("value=\"{}\"", role.id)),
        "own role offered"
    );
    let (status, _, _) = post(
        &browser,
        &app,
        &firm,
        "/staff/api-keys",
        "/staff/api-keys",
        &[("name", "k"), ("role_id", "owner")],
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // No delete button for a role they may not delete, and the POST is refused anyway.
    let (_, html) = browser
        .get_text(&app.url(&firm.firm.slug, &format!("/staff/roles/{}", role.id)))
        .await;
    assert!(!html.contains("Delete role"));
    let delete = format!("/staff/roles/{}/delete", role.id);
    let (status, _, _) = post(&browser, &app, &firm, "/staff/roles", &delete, &[]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // Only the sections they may view are offered.
    assert!(html.contains(">Roles</a>") && html.contains(">API keys</a>"));
    assert!(!html.contains(">Team</a>") && !html.contains(">Invoices</a>"));

    // The Owner narrows the role: the member's next request already has the narrower role.
    let owner_browser = staff_browser(&app, &firm, &owner(&app, &firm).await).await;
    let page = format!("/staff/roles/{}", role.id);
    let (status, _, _) = post(
        &owner_browser,
        &app,
        &firm,
        &page,
        &page,
        &[
            ("name", "Role admin"),
            ("grant.tasks.view", "on"),
            ("scope.tasks", "assigned"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (status, _) = browser
        .get_text(&app.url(&firm.firm.slug, "/staff/roles"))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    app.stop().await;
}

#[tokio::test]
async fn an_api_key_is_shown_once_works_until_revoked_and_team_members_get_no_keys() {
    let app = TestApp::spawn().await;
    let firm = app.create_firm("keys").await;
    let browser = staff_browser(&app, &firm, &owner(&app, &firm).await).await;
    let (status, _, html) = post(
        &browser,
        &app,
        &firm,
        "/staff/api-keys",
        "/staff/api-keys",
        &[("name", "Practice system"), ("role_id", "team")],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let key = html
        .split("<code class=\"secret\">")
        .nth(1)
        .and_then(|rest| rest.split("</code>").next())
        .expect("the key is shown")
        .to_string();
    let (status, _) = app
        .api(&key, reqwest::Method::GET, "/api/v1/firm", None)
        .await;
    assert_eq!(status, StatusCode::OK, "the new key works");
    let (_, listed) = browser
        .get_text(&app.url(&firm.firm.slug, "/staff/api-keys"))
        .await;
    assert!(
        listed.contains("Practice system") && !listed.contains(&key),
        "listed, never shown again"
    );

    // Bad input.
    for (form, reason) in [
        (vec![("name", ""), ("role_id", "team")], "must not be empty"),
        (
            vec![("name", "x"), ("role_id", "rl_nothing")],
            "is not a role of this firm",
        ),
    ] {
        let (status, _, html) = post(
            &browser,
            &app,
            &firm,
            "/staff/api-keys",
            "/staff/api-keys",
            &form,
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{form:?}");
        assert!(html.contains(reason), "{form:?}");
    }

    let record = app
        .store
        .api_keys(&firm.firm.id)
        .await
        .unwrap()
        .into_iter()
        .find(|k| k.name == "Practice system")
        .unwrap();
    let (status, _, _) = post(
        &browser,
        &app,
        &firm,
        "/staff/api-keys",
        &format!("/staff/api-keys/{}/revoke", record.id),
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (status, _) = app
        .api(&key, reqwest::Method::GET, "/api/v1/firm", None)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "revoked");

    // A Team member has no API keys area: not offered, refused.
    let member = member_with_role(&app, &firm, "tom@example.com", "team").await;
    let team = staff_browser(&app, &firm, &member).await;
    let (status, html) = team
        .get_text(&app.url(&firm.firm.slug, "/staff/api-keys"))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(
        html.contains("Not allowed") && html.contains("your role does not allow this"),
        "the console's own error page says why: {html}"
    );
    let (status, _, _) = post(
        &team,
        &app,
        &firm,
        "/staff/roles",
        "/staff/api-keys",
        &[("name", "k"), ("role_id", "team")],
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    app.stop().await;
}

#[tokio::test]
async fn console_pages_need_a_staff_session_of_the_hosts_firm() {
    let app = TestApp::spawn().await;
    let firm = app.create_firm("gate").await;
    let other = app.create_firm("elsewhere").await;
    let nobody = app.browser();
    let response = nobody.get(&app.url(&firm.firm.slug, "/staff/roles")).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.headers()["location"], "/staff/login");
    // A client's session is no staff session.
    app.add_contact(&firm, "client@example.com", true).await;
    let client = app.signed_in(&firm, "client@example.com").await;
    let response = client.get(&app.url(&firm.firm.slug, "/staff/roles")).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    // Another firm's staff session does not open this firm's console.
    let theirs = staff_browser(&app, &other, &owner(&app, &other).await).await;
    let response = theirs.get(&app.url(&firm.firm.slug, "/staff/roles")).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    // A removed member is signed out on their next request.
    let member = member_with_role(&app, &firm, "gone@example.com", "co_owner").await;
    let browser = staff_browser(&app, &firm, &member).await;
    let (status, _) = browser
        .get_text(&app.url(&firm.firm.slug, "/staff/roles"))
        .await;
    assert_eq!(status, StatusCode::OK);
    app.store
        .remove_member(&firm.firm.id, &member.id)
        .await
        .unwrap();
    let response = browser.get(&app.url(&firm.firm.slug, "/staff/roles")).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    app.stop().await;
}
