//! Roles over the JSON API: what each role may do in each area (a table written out here, not
//! derived from the policy code), the "assigned clients only" scope on every list and item
//! route, no escalation through roles or keys, and the roles and keys routes' own rules.

use std::collections::BTreeSet;

use portico_e2e::roles::{TestMember, add_key, add_member, assign, custom_role, member_with_key};
use portico_e2e::{TestApp, TestFirm, file_part, sample_pdf, unique};
use portico_shared::ids::{ContactId, MemberId, TaskId};
use portico_shared::policy::{Action, Area, Permissions, Scope};
use portico_shared::store::NewFile;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// The expected outcome of one action in one area.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Expect {
    /// Allowed: the route answers with a success.
    Yes,
    /// Refused: 403 `forbidden`.
    No,
    /// The API has no route for this action in this area (the console's, or none).
    NoRoute,
}
use Expect::{No, NoRoute, Yes};

/// The custom role of the matrix: a billing clerk who reads contacts and conversations of
/// every client, works on the tasks of their assigned clients, runs invoices, reads the
/// portal's settings, the client accounts and the roles, reads and edits client permission
/// sets, and may see and make API keys.
fn clerk() -> Permissions {
    use Action::{Create, Delete, Edit, View};
    Permissions::default()
        .with(Area::Contacts, &[View], Scope::All)
        .with(Area::Tasks, &[View, Edit], Scope::Assigned)
        .with(Area::Conversations, &[View], Scope::All)
        .with(Area::Invoices, &[View, Create, Edit, Delete], Scope::All)
        .with(Area::PortalSettings, &[View], Scope::All)
        .with(Area::Roles, &[View], Scope::All)
        .with(Area::ApiKeys, &[View, Create], Scope::All)
        .with(Area::Accounts, &[View], Scope::All)
        .with(Area::ClientPermissions, &[View, Edit], Scope::All)
}

/// Area, action, and the outcome for: Owner, Co-owner, Team member, the clerk.
const TABLE: &[(&str, &str, [Expect; 4])] = &[
    ("contacts", "view", [Yes, Yes, Yes, Yes]),
    ("contacts", "create", [Yes, Yes, Yes, No]),
    ("contacts", "edit", [Yes, Yes, Yes, No]),
    ("contacts", "delete", [Yes, Yes, No, No]),
    ("accounts", "view", [Yes, Yes, No, Yes]),
    ("accounts", "create", [Yes, Yes, No, No]),
    ("accounts", "edit", [Yes, Yes, No, No]),
    ("accounts", "delete", [Yes, Yes, No, No]),
    ("tasks", "view", [Yes, Yes, Yes, Yes]),
    ("tasks", "create", [Yes, Yes, Yes, No]),
    ("tasks", "edit", [Yes, Yes, Yes, Yes]),
    ("tasks", "delete", [Yes, Yes, No, No]),
    ("signing", "view", [Yes, Yes, Yes, No]),
    ("signing", "create", [Yes, Yes, Yes, No]),
    ("signing", "edit", [NoRoute; 4]),
    ("signing", "delete", [NoRoute; 4]),
    ("conversations", "view", [Yes, Yes, Yes, Yes]),
    ("conversations", "create", [NoRoute; 4]),
    ("conversations", "edit", [Yes, Yes, Yes, No]),
    ("conversations", "delete", [NoRoute; 4]),
    ("invoices", "view", [Yes, Yes, Yes, Yes]),
    ("invoices", "create", [Yes, Yes, No, Yes]),
    ("invoices", "edit", [Yes, Yes, No, Yes]),
    ("invoices", "delete", [NoRoute; 4]),
    ("portal_settings", "view", [Yes, Yes, No, Yes]),
    ("portal_settings", "create", [NoRoute; 4]),
    ("portal_settings", "edit", [Yes, Yes, No, No]),
    ("portal_settings", "delete", [NoRoute; 4]),
    ("client_permissions", "view", [Yes, Yes, No, Yes]),
    ("client_permissions", "create", [Yes, Yes, No, No]),
    ("client_permissions", "edit", [Yes, Yes, No, Yes]),
    ("client_permissions", "delete", [Yes, Yes, No, No]),
    ("team", "view", [NoRoute; 4]),
    ("team", "create", [NoRoute; 4]),
    ("team", "edit", [NoRoute; 4]),
    ("team", "delete", [NoRoute; 4]),
    ("roles", "view", [Yes, Yes, No, Yes]),
    ("roles", "create", [Yes, Yes, No, No]),
    ("roles", "edit", [Yes, Yes, No, No]),
    ("roles", "delete", [Yes, Yes, No, No]),
    ("api_keys", "view", [Yes, Yes, No, Yes]),
    ("api_keys", "create", [Yes, Yes, No, Yes]),
    ("api_keys", "delete", [Yes, Yes, No, No]),
    ("api_keys", "edit", [NoRoute; 4]),
];

/// What every probe works on: a firm, its Owner's key, and a contact that every member of
/// the matrix is assigned to.
struct Fixture {
    firm: TestFirm,
    contact: ContactId,
    /// A role granting nothing, which anyone who may make keys or roles may hand out.
    empty_role: String,
}

async fn ok(app: &TestApp, key: &str, method: Method, path: &str, body: Option<Value>) -> Value {
    let (status, answer) = app.api(key, method, path, body).await;
    assert!(status.is_success(), "{path}: {status} {answer}");
    answer
}

fn id_of(value: &Value) -> String {
    value["id"].as_str().expect("an id").to_string()
}

fn invoice(contact: &ContactId) -> Value {
    json!({
        "contact_id": contact,
        "number": unique("inv"),
        "amount": 1000,
        "currency": "EUR",
        "issued_date": "2026-01-10",
        "due_date": "2099-02-10",
    })
}

async fn new_task(app: &TestApp, fx: &Fixture, contact: &ContactId) -> String {
    let task = ok(
        app,
        &fx.firm.api_key,
        Method::POST,
        "/api/v1/tasks",
        Some(json!({"title": "Send receipts", "assignees": [contact], "portal": true})),
    )
    .await;
    id_of(&task)
}

async fn new_conversation(app: &TestApp, fx: &Fixture, contact: &ContactId) -> String {
    app.state()
        .store
        .start_conversation(&fx.firm.firm.id, contact, "A question", "Hello?")
        .await
        .unwrap()
        .id
        .to_string()
}

async fn new_contact(app: &TestApp, key: &str) -> Value {
    let email = format!("{}@client.example.com", unique("c"));
    ok(
        app,
        key,
        Method::POST,
        "/api/v1/contacts",
        Some(json!({"name": "Client", "email": email, "portal_access": true})),
    )
    .await
}

async fn new_account(app: &TestApp, key: &str) -> String {
    let body = json!({"name": unique("Household")});
    id_of(&ok(app, key, Method::POST, "/api/v1/accounts", Some(body)).await)
}

async fn new_permission_set(app: &TestApp, key: &str) -> String {
    let body = json!({"name": unique("set"), "base": "client_manager", "off": ["manage_people"]});
    id_of(
        &ok(
            app,
            key,
            Method::POST,
            "/api/v1/permission-sets",
            Some(body),
        )
        .await,
    )
}

async fn signing_form(contact: &ContactId) -> reqwest::multipart::Form {
    reqwest::multipart::Form::new()
        .text("contact_id", contact.to_string())
        .text("title", "Engagement letter")
        .part("file", file_part("letter.pdf", &sample_pdf("Sign here")))
}

/// Does `action` in `area` as `key`; the status, or `None` where the API has no route.
async fn probe(
    app: &TestApp,
    fx: &Fixture,
    key: &str,
    area: Area,
    action: Action,
) -> Option<StatusCode> {
    use Action::{Create, Delete, Edit, View};
    let owner = fx.firm.api_key.as_str();
    let c = &fx.contact;
    let call = |method: Method, path: String, body: Option<Value>| async move {
        let (status, answer) = app.api(key, method, &path, body).await;
        if status == StatusCode::FORBIDDEN {
            assert_eq!(answer["error"]["code"], "forbidden", "{path}: {answer}");
        }
        status
    };
    let status = match (area, action) {
        (Area::Contacts, View) => call(Method::GET, format!("/api/v1/contacts/{c}"), None).await,
        (Area::Contacts, Create) => {
            let email = format!("{}@client.example.com", unique("c"));
            let body = json!({"name": "New", "email": email});
            call(Method::POST, "/api/v1/contacts".into(), Some(body)).await
        }
        (Area::Contacts, Edit) => {
            let body = json!({"name": "Renamed"});
            call(Method::PATCH, format!("/api/v1/contacts/{c}"), Some(body)).await
        }
        (Area::Contacts, Delete) => {
            let fresh = new_contact(app, owner).await;
            let fresh = ContactId::parse(&id_of(&fresh)).unwrap();
            let everyone = app
                .state()
                .store
                .contact_members(&fx.firm.firm.id, c)
                .await
                .unwrap();
            assign(app, &fx.firm, &fresh, &everyone).await;
            call(Method::DELETE, format!("/api/v1/contacts/{fresh}"), None).await
        }
        (Area::Tasks, View) => {
            let task = new_task(app, fx, c).await;
            call(Method::GET, format!("/api/v1/tasks/{task}"), None).await
        }
        (Area::Tasks, Create) => {
            let body = json!({"title": "Mine", "assignees": [c]});
            call(Method::POST, "/api/v1/tasks".into(), Some(body)).await
        }
        (Area::Tasks, Edit) => {
            let task = new_task(app, fx, c).await;
            let body = json!({"title": "Changed"});
            call(Method::PATCH, format!("/api/v1/tasks/{task}"), Some(body)).await
        }
        (Area::Tasks, Delete) => {
            let task = new_task(app, fx, c).await;
            call(Method::DELETE, format!("/api/v1/tasks/{task}"), None).await
        }
        (Area::Signing, View) => {
            let request = fx
                .firm
                .request_signature(app, c, "Letter", "l.pdf", &sample_pdf("x"))
                .await;
            let path = format!("/api/v1/signing-requests/{}", id_of(&request));
            call(Method::GET, path, None).await
        }
        (Area::Signing, Create) => {
            let (status, answer) = app
                .api_multipart(key, "/api/v1/signing-requests", signing_form(c).await)
                .await;
            if status == StatusCode::FORBIDDEN {
                assert_eq!(answer["error"]["code"], "forbidden");
            }
            status
        }
        (Area::Conversations, View) => {
            let conversation = new_conversation(app, fx, c).await;
            call(
                Method::GET,
                format!("/api/v1/conversations/{conversation}"),
                None,
            )
            .await
        }
        (Area::Conversations, Edit) => {
            let conversation = new_conversation(app, fx, c).await;
            let path = format!("/api/v1/conversations/{conversation}/messages");
            call(Method::POST, path, Some(json!({"body": "On it."}))).await
        }
        (Area::Invoices, View) => call(Method::GET, "/api/v1/invoices".into(), None).await,
        (Area::Invoices, Create) => {
            call(Method::POST, "/api/v1/invoices".into(), Some(invoice(c))).await
        }
        (Area::Invoices, Edit) => {
            let made = ok(
                app,
                owner,
                Method::POST,
                "/api/v1/invoices",
                Some(invoice(c)),
            )
            .await;
            let path = format!("/api/v1/invoices/{}", id_of(&made));
            call(Method::PATCH, path, Some(json!({"status": "paid"}))).await
        }
        (Area::PortalSettings, View) => call(Method::GET, "/api/v1/portal".into(), None).await,
        (Area::PortalSettings, Edit) => {
            let body = json!({"display_name": "Acme & Co"});
            call(Method::PATCH, "/api/v1/portal".into(), Some(body)).await
        }
        (Area::Roles, View) => call(Method::GET, "/api/v1/roles".into(), None).await,
        (Area::Roles, Create) => {
            let body = json!({"name": unique("role"), "permissions": {}});
            call(Method::POST, "/api/v1/roles".into(), Some(body)).await
        }
        (Area::Roles, Edit) => {
            let role = custom_role(app, &fx.firm, &Permissions::default()).await;
            let body = json!({"name": unique("renamed")});
            call(Method::PATCH, format!("/api/v1/roles/{role}"), Some(body)).await
        }
        (Area::Roles, Delete) => {
            let role = custom_role(app, &fx.firm, &Permissions::default()).await;
            call(Method::DELETE, format!("/api/v1/roles/{role}"), None).await
        }
        (Area::Accounts, View) => {
            let account = new_account(app, owner).await;
            call(Method::GET, format!("/api/v1/accounts/{account}"), None).await
        }
        (Area::Accounts, Create) => {
            let body = json!({"name": "Baker Ltd"});
            call(Method::POST, "/api/v1/accounts".into(), Some(body)).await
        }
        (Area::Accounts, Edit) => {
            let account = new_account(app, owner).await;
            let body = json!({"name": "Baker & Sons Ltd"});
            call(
                Method::PATCH,
                format!("/api/v1/accounts/{account}"),
                Some(body),
            )
            .await
        }
        (Area::Accounts, Delete) => {
            let account = new_account(app, owner).await;
            call(Method::DELETE, format!("/api/v1/accounts/{account}"), None).await
        }
        (Area::ClientPermissions, View) => {
            call(Method::GET, "/api/v1/permission-sets".into(), None).await
        }
        (Area::ClientPermissions, Create) => {
            let body = json!({"name": unique("set"), "base": "client_staff", "off": ["sign"]});
            call(Method::POST, "/api/v1/permission-sets".into(), Some(body)).await
        }
        (Area::ClientPermissions, Edit) => {
            let set = new_permission_set(app, owner).await;
            let body = json!({"off": ["invoices"]});
            call(
                Method::PATCH,
                format!("/api/v1/permission-sets/{set}"),
                Some(body),
            )
            .await
        }
        (Area::ClientPermissions, Delete) => {
            let set = new_permission_set(app, owner).await;
            call(
                Method::DELETE,
                format!("/api/v1/permission-sets/{set}"),
                None,
            )
            .await
        }
        (Area::ApiKeys, View) => call(Method::GET, "/api/v1/api-keys".into(), None).await,
        (Area::ApiKeys, Create) => {
            let body = json!({"name": "robot", "role_id": fx.empty_role});
            call(Method::POST, "/api/v1/api-keys".into(), Some(body)).await
        }
        (Area::ApiKeys, Delete) => {
            let made = ok(
                app,
                owner,
                Method::POST,
                "/api/v1/api-keys",
                Some(json!({"name": "spare", "role_id": fx.empty_role})),
            )
            .await;
            call(
                Method::DELETE,
                format!("/api/v1/api-keys/{}", id_of(&made)),
                None,
            )
            .await
        }
        _ => return None,
    };
    Some(status)
}

#[tokio::test]
async fn each_role_may_do_exactly_what_the_table_says_in_every_area() {
    // The table names every area and every action of every area, once.
    let listed: BTreeSet<(&str, &str)> = TABLE.iter().map(|(a, x, _)| (*a, *x)).collect();
    assert_eq!(listed.len(), TABLE.len(), "a row is listed twice");
    for area in Area::ALL {
        for action in Action::ALL {
            assert!(
                listed.contains(&(area.as_str(), action.as_str())),
                "the table has no row for {} {}",
                area.as_str(),
                action.as_str()
            );
        }
    }

    let app = TestApp::spawn().await;
    let firm = app.create_firm("matrix").await;
    ok(
        &app,
        &firm.api_key,
        Method::PATCH,
        "/api/v1/portal",
        Some(json!({"billing_enabled": true})),
    )
    .await;
    let contact = ContactId::parse(&id_of(&new_contact(&app, &firm.api_key).await)).unwrap();
    let clerk_role = custom_role(&app, &firm, &clerk()).await;
    let empty_role = custom_role(&app, &firm, &Permissions::default()).await;
    let owner_id = portico_e2e::roles::owner(&app, &firm).await;
    let members: Vec<TestMember> = vec![
        TestMember {
            id: owner_id,
            key: firm.api_key.clone(),
        },
        member_with_key(&app, &firm, "co_owner").await,
        member_with_key(&app, &firm, "team").await,
        member_with_key(&app, &firm, &clerk_role).await,
    ];
    let ids: Vec<MemberId> = members.iter().map(|m| m.id.clone()).collect();
    assign(&app, &firm, &contact, &ids).await;
    let fx = Fixture {
        firm,
        contact,
        empty_role,
    };

    let mut wrong = Vec::new();
    for (area_name, action_name, expected) in TABLE {
        let area = Area::parse(area_name).unwrap();
        let action = Action::parse(action_name).unwrap();
        for (column, member) in members.iter().enumerate() {
            let got = probe(&app, &fx, &member.key, area, action).await;
            let outcome = match got {
                None => NoRoute,
                Some(status) if status.is_success() => Yes,
                Some(StatusCode::FORBIDDEN) => No,
                Some(other) => panic!("{area_name} {action_name} as #{column}: {other}"),
            };
            if outcome != expected[column] {
                wrong.push(format!(
                    "{area_name} {action_name} as role #{column}: expected {:?}, got {outcome:?}",
                    expected[column]
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    app.stop().await;
}

/// A GET whose answer may be bytes: just its status.
async fn status_of(app: &TestApp, key: &str, path: &str) -> StatusCode {
    reqwest::Client::new()
        .get(app.plain_url(path))
        .bearer_auth(key)
        .send()
        .await
        .unwrap()
        .status()
}

fn ids_in(page: &Value) -> Vec<String> {
    page["data"].as_array().unwrap().iter().map(id_of).collect()
}

#[tokio::test]
async fn a_role_scoped_to_assigned_clients_reaches_only_their_work() {
    let app = TestApp::spawn().await;
    let firm = app.create_firm("scope").await;
    let owner = firm.api_key.clone();
    let team = member_with_key(&app, &firm, "team").await;
    let other = add_member(&app, &firm, "team").await;
    let mine = ContactId::parse(&id_of(&new_contact(&app, &owner).await)).unwrap();
    let theirs = ContactId::parse(&id_of(&new_contact(&app, &owner).await)).unwrap();
    assign(&app, &firm, &mine, std::slice::from_ref(&team.id)).await;
    assign(&app, &firm, &theirs, std::slice::from_ref(&other)).await;
    let fx = Fixture {
        firm,
        contact: mine.clone(),
        empty_role: String::new(),
    };

    let my_task = new_task(&app, &fx, &mine).await;
    let their_task = new_task(&app, &fx, &theirs).await;
    // A task shared by both is reached through the one assignee that is mine.
    let shared = ok(
        &app,
        &owner,
        Method::POST,
        "/api/v1/tasks",
        Some(json!({"title": "Both", "assignees": [mine, theirs]})),
    )
    .await;
    let pdf = sample_pdf("scope");
    let my_request = id_of(
        &fx.firm
            .request_signature(&app, &mine, "Mine", "m.pdf", &pdf)
            .await,
    );
    let their_request = id_of(
        &fx.firm
            .request_signature(&app, &theirs, "Theirs", "t.pdf", &pdf)
            .await,
    );
    let my_conversation = new_conversation(&app, &fx, &mine).await;
    let their_conversation = new_conversation(&app, &fx, &theirs).await;
    for (task, contact) in [(&my_task, &mine), (&their_task, &theirs)] {
        app.state()
            .store
            .add_task_file(
                &fx.firm.firm.id,
                contact,
                &TaskId::parse(task).unwrap(),
                &NewFile {
                    file_name: "receipt.pdf".into(),
                    content_type: "application/pdf".into(),
                    size: 3,
                    sha256: portico_e2e::sha256_hex(b"abc"),
                },
            )
            .await
            .unwrap()
            .unwrap();
    }

    // Lists hold only the work of my clients.
    let key = team.key.as_str();
    let served = &app;
    // Sorted: rows made in the same second come in the order of their random ids.
    let list = |path: &'static str| async move {
        let mut ids = ids_in(&ok(served, key, Method::GET, path, None).await);
        ids.sort();
        ids
    };
    assert_eq!(list("/api/v1/contacts").await, vec![mine.to_string()]);
    let mut expected = vec![my_task.clone(), id_of(&shared)];
    expected.sort();
    assert_eq!(list("/api/v1/tasks").await, expected);
    assert_eq!(
        list("/api/v1/signing-requests").await,
        vec![my_request.clone()]
    );
    assert_eq!(
        list("/api/v1/conversations").await,
        vec![my_conversation.clone()]
    );
    // Filtering by another's client finds only the work shared with one of mine.
    let page = ok(
        &app,
        key,
        Method::GET,
        &format!("/api/v1/tasks?contact_id={theirs}"),
        None,
    )
    .await;
    assert_eq!(ids_in(&page), vec![id_of(&shared)]);
    let page = ok(
        &app,
        key,
        Method::GET,
        &format!("/api/v1/signing-requests?contact_id={theirs}"),
        None,
    )
    .await;
    assert_eq!(ids_in(&page), Vec::<String>::new());

    // Every item route: mine answer, theirs are not there.
    let my_file = ok(
        &app,
        key,
        Method::GET,
        &format!("/api/v1/tasks/{my_task}"),
        None,
    )
    .await;
    assert_eq!(my_file["files"].as_array().unwrap().len(), 1);
    let their_file = ok(
        &app,
        &owner,
        Method::GET,
        &format!("/api/v1/tasks/{their_task}"),
        None,
    )
    .await["files"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let reads = [
        (
            format!("/api/v1/contacts/{mine}"),
            format!("/api/v1/contacts/{theirs}"),
        ),
        (
            format!("/api/v1/tasks/{my_task}"),
            format!("/api/v1/tasks/{their_task}"),
        ),
        (
            format!("/api/v1/tasks/{}", id_of(&shared)),
            format!("/api/v1/tasks/{their_task}/files/{their_file}"),
        ),
        (
            format!("/api/v1/signing-requests/{my_request}"),
            format!("/api/v1/signing-requests/{their_request}"),
        ),
        (
            format!("/api/v1/signing-requests/{my_request}/document"),
            format!("/api/v1/signing-requests/{their_request}/document"),
        ),
        (
            format!("/api/v1/conversations/{my_conversation}"),
            format!("/api/v1/conversations/{their_conversation}"),
        ),
    ];
    for (own, foreign) in &reads {
        assert_eq!(status_of(&app, key, own).await, StatusCode::OK, "{own}");
        let (status, answer) = app.api(key, Method::GET, foreign, None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{foreign}: {answer}");
        assert_eq!(answer["error"]["code"], "not_found");
    }
    // Writes to theirs: 404, and nothing changed.
    let writes = [
        (
            Method::PATCH,
            format!("/api/v1/contacts/{theirs}"),
            Some(json!({"name": "X"})),
        ),
        (
            Method::POST,
            format!("/api/v1/contacts/{theirs}/invitation"),
            None,
        ),
        (
            Method::PATCH,
            format!("/api/v1/tasks/{their_task}"),
            Some(json!({"title": "X"})),
        ),
        (
            Method::POST,
            format!("/api/v1/conversations/{their_conversation}/messages"),
            Some(json!({"body": "X"})),
        ),
    ];
    for (method, path, body) in writes {
        let (status, answer) = app.api(key, method, &path, body).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {answer}");
    }
    let theirs_now = ok(
        &app,
        &owner,
        Method::GET,
        &format!("/api/v1/contacts/{theirs}"),
        None,
    )
    .await;
    assert_eq!(theirs_now["name"], "Client");
    let task_now = ok(
        &app,
        &owner,
        Method::GET,
        &format!("/api/v1/tasks/{their_task}"),
        None,
    )
    .await;
    assert_eq!(task_now["title"], "Send receipts");
    // Mine: writes go through, and the reply names its member.
    ok(
        &app,
        key,
        Method::PATCH,
        &format!("/api/v1/tasks/{my_task}"),
        Some(json!({"title": "Done soon"})),
    )
    .await;
    let reply = ok(
        &app,
        key,
        Method::POST,
        &format!("/api/v1/conversations/{my_conversation}/messages"),
        Some(json!({"body": "Looking into it."})),
    )
    .await;
    assert_eq!(reply["member_id"], team.id.to_string());
    let thread = ok(
        &app,
        key,
        Method::GET,
        &format!("/api/v1/conversations/{my_conversation}"),
        None,
    )
    .await;
    let messages = thread["messages"].as_array().unwrap();
    assert!(
        messages[0].get("member_id").is_none(),
        "a client's message names no member"
    );
    assert_eq!(messages[1]["member_id"], team.id.to_string());

    // Making work for another's client is refused like an unknown contact.
    let (status, answer) = app
        .api(
            key,
            Method::POST,
            "/api/v1/tasks",
            Some(json!({"title": "X", "assignees": [theirs]})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    assert_eq!(answer["error"]["field"], "assignees");
    let unknown = ContactId::new();
    let (_, unknown_answer) = app
        .api(
            key,
            Method::POST,
            "/api/v1/tasks",
            Some(json!({"title": "X", "assignees": [unknown]})),
        )
        .await;
    assert_eq!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .replace(theirs.as_str(), "ID"),
        unknown_answer["error"]["message"]
            .as_str()
            .unwrap()
            .replace(unknown.as_str(), "ID"),
    );
    let (status, answer) = app
        .api(
            key,
            Method::PATCH,
            &format!("/api/v1/tasks/{my_task}"),
            Some(json!({"assignees": [theirs]})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    assert_eq!(answer["error"]["field"], "assignees");
    let (status, answer) = app
        .api_multipart(key, "/api/v1/signing-requests", signing_form(&theirs).await)
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    assert_eq!(answer["error"]["field"], "contact_id");
    assert_eq!(
        answer["error"]["message"],
        format!("{:?} is not a contact of this firm", theirs.as_str())
    );
    // The task shared by both shows only my client to me, and my list of assignees replaces
    // only what I see: their client stays on it.
    let shared_path = format!("/api/v1/tasks/{}", id_of(&shared));
    let seen = ok(&app, key, Method::GET, &shared_path, None).await;
    assert_eq!(seen["assignees"], json!([mine]), "{seen}");
    let listed = ok(&app, key, Method::GET, "/api/v1/tasks", None).await;
    let row = listed["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == shared["id"])
        .unwrap()
        .clone();
    assert_eq!(row["assignees"], json!([mine]));
    let mine_again = new_contact(&app, key).await;
    let patched = ok(
        &app,
        key,
        Method::PATCH,
        &shared_path,
        Some(json!({"assignees": [mine_again["id"]]})),
    )
    .await;
    assert_eq!(patched["assignees"], json!([mine_again["id"]]));
    let mut expected = vec![json!(theirs), mine_again["id"].clone()];
    expected.sort_by_key(|v| v.as_str().unwrap().to_string());
    let everyone = ok(&app, &owner, Method::GET, &shared_path, None).await;
    assert_eq!(everyone["assignees"], json!(expected), "{everyone}");

    // A contact the member makes stays in their sight.
    let made = new_contact(&app, key).await;
    assert_eq!(made["assigned_staff"], json!([team.id]));
    assert_eq!(list("/api/v1/contacts").await.len(), 3);
    app.stop().await;
}

#[tokio::test]
async fn nobody_mints_a_role_or_key_above_their_own() {
    let app = TestApp::spawn().await;
    let firm = app.create_firm("escalate").await;
    use Action::{Create, Delete, Edit, View};
    let admin_lite = Permissions::default()
        .with(Area::Roles, &[View, Create, Edit, Delete], Scope::All)
        .with(Area::ApiKeys, &[View, Create, Delete], Scope::All)
        .with(Area::Tasks, &[View], Scope::Assigned);
    let role = custom_role(&app, &firm, &admin_lite).await;
    let admin = member_with_key(&app, &firm, &role).await;
    let key = admin.key.as_str();

    // A role: no wider scope, no more actions, no other areas than held.
    for permissions in [
        json!({"tasks": {"actions": ["view"], "scope": "all"}}),
        json!({"tasks": {"actions": ["view", "delete"], "scope": "assigned"}}),
        json!({"invoices": {"actions": ["view"]}}),
    ] {
        let body = json!({"name": unique("up"), "permissions": permissions});
        let (status, answer) = app
            .api(key, Method::POST, "/api/v1/roles", Some(body))
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{permissions}: {answer}");
        assert_eq!(answer["error"]["code"], "forbidden");
        let body = json!({"permissions": permissions});
        let (status, _) = app
            .api(
                key,
                Method::PATCH,
                &format!("/api/v1/roles/{role}"),
                Some(body),
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{permissions}");
    }
    let same = json!({
        "name": "Helper",
        "permissions": {"tasks": {"actions": ["view"], "scope": "assigned"}, "roles": {"actions": ["view"]}},
    });
    let made = ok(&app, key, Method::POST, "/api/v1/roles", Some(same)).await;
    assert_eq!(made["builtin"], false);
    assert_eq!(
        made["permissions"],
        json!({"roles": {"actions": ["view"], "scope": "all"}, "tasks": {"actions": ["view"], "scope": "assigned"}})
    );

    // A key: never with a role above the caller's.
    for above in ["owner", "co_owner", "team"] {
        let body = json!({"name": "robot", "role_id": above});
        let (status, answer) = app
            .api(key, Method::POST, "/api/v1/api-keys", Some(body))
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{above}: {answer}");
    }
    let made_key = ok(
        &app,
        key,
        Method::POST,
        "/api/v1/api-keys",
        Some(json!({"name": "robot", "role_id": id_of(&made)})),
    )
    .await;
    assert_eq!(made_key["member_id"], admin.id.to_string());
    let secret = made_key["key"].as_str().unwrap().to_string();
    assert!(secret.starts_with(made_key["prefix"].as_str().unwrap()));
    let listed = ok(&app, key, Method::GET, "/api/v1/api-keys", None).await;
    assert!(
        listed["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|k| k.get("key").is_none())
    );
    ok(&app, &secret, Method::GET, "/api/v1/roles", None).await;
    let (status, _) = app
        .api(&secret, Method::GET, "/api/v1/api-keys", None)
        .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "the new key holds only its own role"
    );
    ok(
        &app,
        key,
        Method::DELETE,
        &format!("/api/v1/api-keys/{}", id_of(&made_key)),
        None,
    )
    .await;
    let (status, _) = app.api(&secret, Method::GET, "/api/v1/roles", None).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "a revoked key stops working"
    );
    // ...and never another member's key that can do more than the caller: the Owner's stays.
    let listed = ok(&app, key, Method::GET, "/api/v1/api-keys", None).await;
    let owners = listed["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["role_id"] == "owner" && k["revoked_at"].is_null())
        .expect("the Owner's key is listed")
        .clone();
    let path = format!("/api/v1/api-keys/{}", id_of(&owners));
    let (status, answer) = app.api(key, Method::DELETE, &path, None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{answer}");
    assert_eq!(answer["error"]["code"], "forbidden");
    ok(&app, &firm.api_key, Method::GET, "/api/v1/firm", None).await;

    // A key never does more than its member: an Owner-role key of a Team member...
    let team = add_member(&app, &firm, "team").await;
    let wide = add_key(&app, &firm, &team, "owner").await;
    let (status, _) = app.api(&wide, Method::GET, "/api/v1/roles", None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let contact = new_contact(&app, &firm.api_key).await;
    let page = ok(&app, &wide, Method::GET, "/api/v1/contacts", None).await;
    assert!(
        ids_in(&page).is_empty(),
        "the member's scope holds for the key: {page}"
    );
    let path = format!("/api/v1/contacts/{}", id_of(&contact));
    let (status, _) = app.api(&wide, Method::GET, &path, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // ...and a key follows its member's role when it is narrowed.
    let billing = Permissions::default().with(Area::Invoices, &[View, Create], Scope::All);
    let billing_role = custom_role(&app, &firm, &billing).await;
    let clerk = member_with_key(&app, &firm, &billing_role).await;
    ok(&app, &clerk.key, Method::GET, "/api/v1/invoices", None).await;
    ok(
        &app,
        &firm.api_key,
        Method::PATCH,
        &format!("/api/v1/roles/{billing_role}"),
        Some(json!({"permissions": {}})),
    )
    .await;
    let (status, _) = app
        .api(&clerk.key, Method::GET, "/api/v1/invoices", None)
        .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "the narrowed role applies at once"
    );
    // ...and when the member is given a narrower role: a Co-owner's Owner-role key.
    let co_owner = add_member(&app, &firm, "co_owner").await;
    let owner_key = add_key(&app, &firm, &co_owner, "owner").await;
    ok(&app, &owner_key, Method::GET, "/api/v1/roles", None).await;
    ok(&app, &owner_key, Method::GET, &path, None).await;
    app.state()
        .store
        .set_member_role(&firm.firm.id, &co_owner, "team")
        .await
        .unwrap();
    let (status, _) = app
        .api(&owner_key, Method::GET, "/api/v1/roles", None)
        .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "the member is a Team member now"
    );
    let (status, _) = app.api(&owner_key, Method::GET, &path, None).await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "and reaches only assigned clients"
    );
    app.stop().await;
}

#[tokio::test]
async fn roles_routes_keep_built_ins_and_held_roles_and_refuse_bad_input() {
    let app = TestApp::spawn().await;
    let firm = app.create_firm("roles").await;
    let key = firm.api_key.as_str();

    let listed = ok(&app, key, Method::GET, "/api/v1/roles", None).await;
    let builtins: Vec<(&str, bool)> = listed["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["id"].as_str().unwrap(), r["builtin"].as_bool().unwrap()))
        .collect();
    assert_eq!(
        builtins,
        [("owner", true), ("co_owner", true), ("team", true)]
    );
    let team = ok(&app, key, Method::GET, "/api/v1/roles/team", None).await;
    assert_eq!(team["name"], "Team member");
    assert_eq!(
        team["permissions"]["contacts"],
        json!({"actions": ["view", "create", "edit"], "scope": "assigned"})
    );
    assert_eq!(
        team["permissions"]["invoices"],
        json!({"actions": ["view"], "scope": "all"})
    );
    assert!(team["permissions"].get("roles").is_none());

    for builtin in ["owner", "co_owner", "team"] {
        let path = format!("/api/v1/roles/{builtin}");
        let (status, answer) = app
            .api(key, Method::PATCH, &path, Some(json!({"name": "Boss"})))
            .await;
        assert_eq!(status, StatusCode::CONFLICT, "{answer}");
        assert_eq!(answer["error"]["code"], "builtin_role");
        let (status, answer) = app.api(key, Method::DELETE, &path, None).await;
        assert_eq!(status, StatusCode::CONFLICT, "{answer}");
    }

    let made = ok(
        &app,
        key,
        Method::POST,
        "/api/v1/roles",
        Some(json!({"name": "Reception", "permissions": {"contacts": {"actions": ["view"], "scope": "assigned"}}})),
    )
    .await;
    let role = id_of(&made);
    let (status, answer) = app
        .api(
            key,
            Method::POST,
            "/api/v1/roles",
            Some(json!({"name": "Reception"})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{answer}");
    assert_eq!(answer["error"]["code"], "name_taken");
    let (status, _) = app
        .api(
            key,
            Method::POST,
            "/api/v1/roles",
            Some(json!({"name": "co-OWNER"})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "a built-in's name is taken");

    // Held by a member: not deleted. Once nobody holds it: deleted, then gone.
    let holder = add_member(&app, &firm, &role).await;
    let path = format!("/api/v1/roles/{role}");
    let (status, answer) = app.api(key, Method::DELETE, &path, None).await;
    assert_eq!(status, StatusCode::CONFLICT, "{answer}");
    assert_eq!(answer["error"]["code"], "role_in_use");
    app.state()
        .store
        .set_member_role(&firm.firm.id, &holder, "team")
        .await
        .unwrap();
    let (status, _) = app.api(key, Method::DELETE, &path, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    for method in [Method::GET, Method::DELETE] {
        let (status, _) = app.api(key, method, &path, None).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
    for missing in [
        "/api/v1/roles/nope",
        "/api/v1/roles/rl_AAAAAAAAAAAAAAAAAAAAAA",
    ] {
        let (status, _) = app.api(key, Method::GET, missing, None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{missing}");
    }

    // Bad inputs: 422 on the field at fault.
    let bad_roles = [
        (json!({"name": "", "permissions": {}}), "name"),
        (json!({"name": "x".repeat(101)}), "name"),
        (
            json!({"name": "A", "permissions": {"nope": {"actions": ["view"]}}}),
            "permissions",
        ),
        (
            json!({"name": "A", "permissions": {"tasks": {"actions": ["fly"]}}}),
            "permissions",
        ),
        (
            json!({"name": "A", "permissions": {"tasks": {"actions": ["view"], "scope": "some"}}}),
            "permissions",
        ),
        (
            json!({"name": "A", "permissions": {"invoices": {"actions": ["view"], "scope": "assigned"}}}),
            "permissions",
        ),
        (
            json!({"name": "A", "permissions": {"tasks": {"actions": "view"}}}),
            "body",
        ),
        (json!({"name": "A", "extra": true}), "body"),
    ];
    for (body, field) in bad_roles {
        let (status, answer) = app
            .api(key, Method::POST, "/api/v1/roles", Some(body.clone()))
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {answer}");
        assert_eq!(answer["error"]["field"], field, "{body}: {answer}");
    }
    let bad_keys = [
        (json!({"name": "robot", "role_id": "boss"}), "role_id"),
        (
            json!({"name": "robot", "role_id": "rl_AAAAAAAAAAAAAAAAAAAAAA"}),
            "role_id",
        ),
        (json!({"name": " ", "role_id": "team"}), "name"),
        (json!({"name": "robot"}), "body"),
    ];
    for (body, field) in bad_keys {
        let (status, answer) = app
            .api(key, Method::POST, "/api/v1/api-keys", Some(body.clone()))
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {answer}");
        assert_eq!(answer["error"]["field"], field, "{body}: {answer}");
    }
    let (status, _) = app
        .api(key, Method::DELETE, "/api/v1/api-keys/nope", None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    app.stop().await;
}

#[tokio::test]
async fn contacts_carry_their_assigned_staff() {
    let app = TestApp::spawn().await;
    let firm = app.create_firm("assigned").await;
    let key = firm.api_key.as_str();
    let ann = add_member(&app, &firm, "team").await;
    let bob = add_member(&app, &firm, "team").await;
    let other_firm = app.create_firm("elsewhere").await;
    let stranger = add_member(&app, &other_firm, "team").await;

    let made = ok(
        &app,
        key,
        Method::POST,
        "/api/v1/contacts",
        Some(
            json!({"name": "Cleo", "email": "cleo@example.com", "assigned_staff": [bob, ann, ann]}),
        ),
    )
    .await;
    let mut both = vec![ann.to_string(), bob.to_string()];
    both.sort();
    assert_eq!(made["assigned_staff"], json!(both));
    let path = format!("/api/v1/contacts/{}", id_of(&made));
    assert_eq!(
        ok(&app, key, Method::GET, &path, None).await["assigned_staff"],
        json!(both)
    );
    let page = ok(&app, key, Method::GET, "/api/v1/contacts", None).await;
    assert_eq!(page["data"][0]["assigned_staff"], json!(both));

    let changed = ok(
        &app,
        key,
        Method::PATCH,
        &path,
        Some(json!({"assigned_staff": [bob]})),
    )
    .await;
    assert_eq!(changed["assigned_staff"], json!([bob]));
    let renamed = ok(
        &app,
        key,
        Method::PATCH,
        &path,
        Some(json!({"name": "Cleo B."})),
    )
    .await;
    assert_eq!(
        renamed["assigned_staff"],
        json!([bob]),
        "left out: unchanged"
    );
    let cleared = ok(
        &app,
        key,
        Method::PATCH,
        &path,
        Some(json!({"assigned_staff": []})),
    )
    .await;
    assert_eq!(cleared["assigned_staff"], json!([]));

    for bad in [
        json!([stranger]),
        json!(["garbage"]),
        json!([MemberId::new()]),
        json!("x"),
    ] {
        let (status, answer) = app
            .api(
                key,
                Method::PATCH,
                &path,
                Some(json!({"assigned_staff": bad})),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {answer}");
        let (status, answer) = app
            .api(
                key,
                Method::POST,
                "/api/v1/contacts",
                Some(json!({"name": "D", "email": unique("d") + "@example.com", "assigned_staff": bad})),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {answer}");
    }
    // A refused create left no contact behind.
    let page = ok(&app, key, Method::GET, "/api/v1/contacts", None).await;
    assert_eq!(page["data"].as_array().unwrap().len(), 1);
    app.stop().await;
}
