//! Client accounts and permission sets over the staff API (SPEC §13): accounts made, renamed,
//! listed, deleted only when empty; contacts placed in accounts with a set; custom sets made,
//! changed and deleted only when unheld; items shared with an account; what each step asks of
//! the policy; and the "assigned clients" scope reaching items shared with an account.

use portico_e2e::roles::{assign, custom_role, member_with_key};
use portico_e2e::{TestApp, unique};
use portico_shared::ids::ContactId;
use portico_shared::policy::{Action, Area, Permissions, Scope};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

async fn call(
    app: &TestApp,
    key: &str,
    method: Method,
    path: &str,
    body: Value,
) -> (StatusCode, Value) {
    let body = (!body.is_null()).then_some(body);
    app.api(key, method, path, body).await
}

async fn ok(app: &TestApp, key: &str, method: Method, path: &str, body: Value) -> Value {
    let (status, answer) = call(app, key, method, path, body).await;
    assert!(status.is_success(), "{path}: {status} {answer}");
    answer
}

/// The status, and the error's code and field, of a refused call.
async fn refused(
    app: &TestApp,
    key: &str,
    method: Method,
    path: &str,
    body: Value,
) -> (StatusCode, String, String) {
    let (status, answer) = call(app, key, method, path, body).await;
    assert!(!status.is_success(), "{path} was accepted: {answer}");
    let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
    (
        status,
        text(&answer["error"]["code"]),
        text(&answer["error"]["field"]),
    )
}

fn id_of(value: &Value) -> String {
    value["id"].as_str().expect("an id").to_string()
}

fn email() -> String {
    format!("{}@client.example.com", unique("c"))
}

#[tokio::test]
async fn accounts_hold_contacts_and_are_deleted_only_when_empty() {
    let app = TestApp::spawn().await;
    let firm = app.create_firm("accounts").await;
    let other = app.create_firm("elsewhere").await;
    let key = firm.api_key.as_str();
    let post = Method::POST;

    let baker = ok(
        &app,
        key,
        post.clone(),
        "/api/v1/accounts",
        json!({"name": " Baker Ltd "}),
    )
    .await;
    assert_eq!(baker["name"], "Baker Ltd", "trimmed");
    assert_eq!(baker["contact_count"], 0);
    let baker_id = id_of(&baker);
    let acorn = ok(
        &app,
        key,
        post.clone(),
        "/api/v1/accounts",
        json!({"name": "Acorn GmbH"}),
    )
    .await;

    // A contact made without an account gets a personal one and manages it; one added to
    // an existing account without a set joins as client staff; a set may be given.
    let solo = ok(
        &app,
        key,
        post.clone(),
        "/api/v1/contacts",
        json!({"name": "Sol", "email": email()}),
    )
    .await;
    assert_eq!(solo["permission_set"], "client_manager");
    assert_ne!(solo["account_id"], baker_id);
    let bea = ok(
        &app,
        key,
        post.clone(),
        "/api/v1/contacts",
        json!({"name": "Bea", "email": email(), "account_id": baker_id}),
    )
    .await;
    assert_eq!(bea["account_id"], baker_id);
    assert_eq!(bea["permission_set"], "client_staff");
    let ben = ok(
        &app,
        key,
        post.clone(),
        "/api/v1/contacts",
        json!({"name": "Ben", "email": email(), "account_id": baker_id,
               "permission_set": "client_manager"}),
    )
    .await;
    assert_eq!(ben["permission_set"], "client_manager");

    // Moving a contact: they join the new account as client staff.
    let moved = ok(
        &app,
        key,
        Method::PATCH,
        &format!("/api/v1/contacts/{}", id_of(&solo)),
        json!({"account_id": baker_id}),
    )
    .await;
    assert_eq!(moved["account_id"], baker_id);
    assert_eq!(moved["permission_set"], "client_staff");
    let personal = solo["account_id"].as_str().unwrap();
    ok(
        &app,
        key,
        Method::DELETE,
        &format!("/api/v1/accounts/{personal}"),
        Value::Null,
    )
    .await;

    // The account's contacts by name, in pages.
    let path = format!("/api/v1/accounts/{baker_id}/contacts?limit=2");
    let first = ok(&app, key, Method::GET, &path, Value::Null).await;
    let names: Vec<&str> = first["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Bea", "Ben"]);
    let cursor = first["next_cursor"].as_str().expect("a third contact");
    let rest = ok(
        &app,
        key,
        Method::GET,
        &format!("{path}&cursor={cursor}"),
        Value::Null,
    )
    .await;
    assert_eq!(rest["data"][0]["name"], "Sol");
    assert!(rest["next_cursor"].is_null());
    let shown = ok(
        &app,
        key,
        Method::GET,
        &format!("/api/v1/accounts/{baker_id}"),
        Value::Null,
    )
    .await;
    assert_eq!(shown["contact_count"], 3);

    // Accounts by name, in pages.
    let page = ok(
        &app,
        key,
        Method::GET,
        "/api/v1/accounts?limit=1",
        Value::Null,
    )
    .await;
    assert_eq!(page["data"][0]["id"], acorn["id"]);
    let cursor = page["next_cursor"].as_str().unwrap();
    let page = ok(
        &app,
        key,
        Method::GET,
        &format!("/api/v1/accounts?limit=1&cursor={cursor}"),
        Value::Null,
    )
    .await;
    assert_eq!(page["data"][0]["id"], baker_id);

    // Renaming; deleting is refused while contacts belong to it.
    let renamed = ok(
        &app,
        key,
        Method::PATCH,
        &format!("/api/v1/accounts/{baker_id}"),
        json!({"name": "Baker & Sons"}),
    )
    .await;
    assert_eq!(renamed["name"], "Baker & Sons");
    assert_eq!(
        refused(
            &app,
            key,
            Method::DELETE,
            &format!("/api/v1/accounts/{baker_id}"),
            Value::Null
        )
        .await,
        (
            StatusCode::CONFLICT,
            "account_has_contacts".into(),
            String::new()
        )
    );
    ok(
        &app,
        key,
        Method::DELETE,
        &format!("/api/v1/accounts/{}", id_of(&acorn)),
        Value::Null,
    )
    .await;
    assert_eq!(
        refused(
            &app,
            key,
            Method::GET,
            &format!("/api/v1/accounts/{}", id_of(&acorn)),
            Value::Null
        )
        .await
        .0,
        StatusCode::NOT_FOUND
    );

    // Bad input: 422 on the field, 404 for ids that are not the firm's.
    let unprocessable = |field: &str| {
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field".to_string(),
            field.to_string(),
        )
    };
    for name in ["", "   ", "a\u{7}b"] {
        assert_eq!(
            refused(
                &app,
                key,
                post.clone(),
                "/api/v1/accounts",
                json!({"name": name})
            )
            .await,
            unprocessable("name")
        );
    }
    assert_eq!(
        refused(
            &app,
            key,
            Method::GET,
            "/api/v1/accounts?limit=0",
            Value::Null
        )
        .await,
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field".into(),
            "limit".into()
        )
    );
    assert_eq!(
        refused(
            &app,
            key,
            Method::GET,
            "/api/v1/accounts?cursor=nonsense",
            Value::Null
        )
        .await,
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field".into(),
            "cursor".into()
        )
    );
    let foreign = ok(
        &app,
        &other.api_key,
        post.clone(),
        "/api/v1/accounts",
        json!({"name": "Theirs"}),
    )
    .await;
    let foreign_id = id_of(&foreign);
    for path in [
        format!("/api/v1/accounts/{foreign_id}"),
        format!("/api/v1/accounts/{foreign_id}/contacts"),
        format!("/api/v1/accounts/{foreign_id}/items"),
        "/api/v1/accounts/not-an-id".to_string(),
    ] {
        assert_eq!(
            refused(&app, key, Method::GET, &path, Value::Null).await.0,
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
    assert_eq!(
        refused(
            &app,
            key,
            Method::PATCH,
            &format!("/api/v1/accounts/{foreign_id}"),
            json!({"name": "Mine now"})
        )
        .await
        .0,
        StatusCode::NOT_FOUND
    );
    for account_id in [foreign_id.as_str(), "ca_nope"] {
        assert_eq!(
            refused(
                &app,
                key,
                post.clone(),
                "/api/v1/contacts",
                json!({"name": "X", "email": email(), "account_id": account_id})
            )
            .await,
            unprocessable("account_id"),
        );
        assert_eq!(
            refused(
                &app,
                key,
                Method::PATCH,
                &format!("/api/v1/contacts/{}", id_of(&bea)),
                json!({"account_id": account_id})
            )
            .await,
            unprocessable("account_id"),
        );
    }
    app.stop().await;
}

#[tokio::test]
async fn permission_sets_are_made_held_and_deleted_only_when_unheld() {
    let app = TestApp::spawn().await;
    let firm = app.create_firm("sets").await;
    let other = app.create_firm("elsewhere").await;
    let key = firm.api_key.as_str();

    let listed = ok(
        &app,
        key,
        Method::GET,
        "/api/v1/permission-sets",
        Value::Null,
    )
    .await;
    let ids: Vec<&str> = listed["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        ["client_manager", "client_staff"],
        "the built-in sets, always"
    );

    let bookkeeper = ok(
        &app,
        key,
        Method::POST,
        "/api/v1/permission-sets",
        json!({"name": "Bookkeeper", "base": "client_staff", "off": ["sign", "invoices", "sign"]}),
    )
    .await;
    assert_eq!(bookkeeper["builtin"], false);
    assert_eq!(bookkeeper["base"], "client_staff");
    assert_eq!(
        bookkeeper["off"],
        json!(["invoices", "sign"]),
        "each once, in the documented order"
    );
    let set_id = id_of(&bookkeeper);
    assert!(set_id.starts_with("ps_"));

    let unprocessable = |field: &str| {
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field".to_string(),
            field.to_string(),
        )
    };
    assert_eq!(
        refused(
            &app,
            key,
            Method::POST,
            "/api/v1/permission-sets",
            json!({"name": "Bookkeeper", "base": "client_staff"})
        )
        .await,
        (StatusCode::CONFLICT, "name_taken".into(), String::new())
    );
    assert_eq!(
        refused(
            &app,
            key,
            Method::POST,
            "/api/v1/permission-sets",
            json!({"name": "Boss", "base": "owner"})
        )
        .await,
        unprocessable("base")
    );
    assert_eq!(
        refused(
            &app,
            key,
            Method::POST,
            "/api/v1/permission-sets",
            json!({"name": "Flyer", "base": "client_staff", "off": ["fly"]})
        )
        .await,
        unprocessable("off")
    );
    assert_eq!(
        refused(
            &app,
            key,
            Method::POST,
            "/api/v1/permission-sets",
            json!({"name": "", "base": "client_staff"})
        )
        .await,
        unprocessable("name")
    );
    for builtin in ["client_manager", "client_staff"] {
        let path = format!("/api/v1/permission-sets/{builtin}");
        assert_eq!(
            ok(&app, key, Method::GET, &path, Value::Null).await["builtin"],
            true
        );
        assert_eq!(
            refused(&app, key, Method::PATCH, &path, json!({"off": ["sign"]})).await,
            (StatusCode::CONFLICT, "builtin_set".into(), String::new())
        );
        assert_eq!(
            refused(&app, key, Method::DELETE, &path, Value::Null).await,
            (StatusCode::CONFLICT, "builtin_set".into(), String::new())
        );
    }

    // Editing keeps what is left out.
    let path = format!("/api/v1/permission-sets/{set_id}");
    let edited = ok(&app, key, Method::PATCH, &path, json!({"off": ["upload"]})).await;
    assert_eq!(edited["name"], "Bookkeeper");
    assert_eq!(edited["off"], json!(["upload"]));

    // A contact holds it: deleting is refused until they hold another.
    let contact = ok(
        &app,
        key,
        Method::POST,
        "/api/v1/contacts",
        json!({"name": "Kim", "email": email(), "permission_set": set_id}),
    )
    .await;
    assert_eq!(contact["permission_set"], set_id);
    assert_eq!(
        refused(&app, key, Method::DELETE, &path, Value::Null).await,
        (StatusCode::CONFLICT, "set_in_use".into(), String::new())
    );
    let contact_path = format!("/api/v1/contacts/{}", id_of(&contact));
    ok(
        &app,
        key,
        Method::PATCH,
        &contact_path,
        json!({"permission_set": "client_staff"}),
    )
    .await;
    ok(&app, key, Method::DELETE, &path, Value::Null).await;
    assert_eq!(
        refused(&app, key, Method::GET, &path, Value::Null).await.0,
        StatusCode::NOT_FOUND
    );

    // Sets that are not the firm's are refused on contacts.
    let theirs = ok(
        &app,
        &other.api_key,
        Method::POST,
        "/api/v1/permission-sets",
        json!({"name": "Theirs", "base": "client_manager"}),
    )
    .await;
    for set in [
        id_of(&theirs),
        set_id.clone(),
        "owner".into(),
        "ps_nope".into(),
    ] {
        assert_eq!(
            refused(
                &app,
                key,
                Method::PATCH,
                &contact_path,
                json!({"permission_set": set})
            )
            .await,
            unprocessable("permission_set"),
            "{set}"
        );
    }
    assert_eq!(
        refused(
            &app,
            key,
            Method::GET,
            &format!("/api/v1/permission-sets/{}", id_of(&theirs)),
            Value::Null
        )
        .await
        .0,
        StatusCode::NOT_FOUND
    );
    app.stop().await;
}

#[tokio::test]
async fn placing_a_contact_asks_the_policy_for_accounts_and_client_permissions() {
    let app = TestApp::spawn().await;
    let firm = app.create_firm("placing").await;
    let key = firm.api_key.as_str();
    let account = id_of(
        &ok(
            &app,
            key,
            Method::POST,
            "/api/v1/accounts",
            json!({"name": "Household"}),
        )
        .await,
    );
    // Contacts all over, but neither accounts nor client permissions.
    let contacts_only = Permissions::default().with(
        Area::Contacts,
        &[Action::View, Action::Create, Action::Edit],
        Scope::All,
    );
    let role = custom_role(&app, &firm, &contacts_only).await;
    let clerk = member_with_key(&app, &firm, &role).await;
    let contact = ok(
        &app,
        &clerk.key,
        Method::POST,
        "/api/v1/contacts",
        json!({"name": "Plain", "email": email()}),
    )
    .await;
    let path = format!("/api/v1/contacts/{}", id_of(&contact));
    let forbidden = (
        StatusCode::FORBIDDEN,
        "forbidden".to_string(),
        String::new(),
    );
    assert_eq!(
        refused(
            &app,
            &clerk.key,
            Method::PATCH,
            &path,
            json!({"account_id": account})
        )
        .await,
        forbidden
    );
    assert_eq!(
        refused(
            &app,
            &clerk.key,
            Method::PATCH,
            &path,
            json!({"permission_set": "client_staff"})
        )
        .await,
        forbidden
    );
    assert_eq!(
        refused(
            &app,
            &clerk.key,
            Method::POST,
            "/api/v1/contacts",
            json!({"name": "X", "email": email(), "account_id": account})
        )
        .await,
        forbidden
    );
    for path in ["/api/v1/accounts", "/api/v1/permission-sets"] {
        assert_eq!(
            refused(&app, &clerk.key, Method::GET, path, Value::Null).await,
            forbidden
        );
    }
    // Refused means unchanged.
    let after = ok(&app, key, Method::GET, &path, Value::Null).await;
    assert_eq!(after["account_id"], contact["account_id"]);
    assert_eq!(after["permission_set"], "client_manager");
    app.stop().await;
}

#[tokio::test]
async fn items_shared_with_an_account_reach_members_who_look_after_any_of_its_contacts() {
    let app = TestApp::spawn().await;
    let firm = app.create_firm("shared").await;
    let key = firm.api_key.as_str();
    ok(
        &app,
        key,
        Method::PATCH,
        "/api/v1/portal",
        json!({"billing_enabled": true}),
    )
    .await;
    let account = id_of(
        &ok(
            &app,
            key,
            Method::POST,
            "/api/v1/accounts",
            json!({"name": "Baker Ltd"}),
        )
        .await,
    );
    let owner_of_it = ok(&app, key, Method::POST, "/api/v1/contacts",
        json!({"name": "Bea", "email": email(), "account_id": account, "permission_set": "client_manager"})).await;
    let bookkeeper = ok(
        &app,
        key,
        Method::POST,
        "/api/v1/contacts",
        json!({"name": "Bob", "email": email(), "account_id": account}),
    )
    .await;
    let stranger = ok(
        &app,
        key,
        Method::POST,
        "/api/v1/contacts",
        json!({"name": "Sam", "email": email()}),
    )
    .await;

    // A task assigned to Bea and shared with the account; an invoice of Bea's shared too.
    let task = ok(&app, key, Method::POST, "/api/v1/tasks",
        json!({"title": "Year-end accounts", "assignees": [id_of(&owner_of_it)], "account_id": account, "portal": true})).await;
    assert_eq!(task["account_id"], account);
    let invoice = ok(
        &app,
        key,
        Method::POST,
        "/api/v1/invoices",
        json!({
        "contact_id": id_of(&owner_of_it), "number": unique("inv"), "amount": 1000,
        "currency": "EUR", "issued_date": "2026-01-10", "due_date": "2099-02-10",
        "account_id": account}),
    )
    .await;
    assert_eq!(invoice["account_id"], account);
    // An invoice is shared only with its own contact's account.
    let (status, answer) = call(
        &app,
        key,
        Method::POST,
        "/api/v1/invoices",
        json!({
        "contact_id": id_of(&stranger), "number": unique("inv"), "amount": 1000,
        "currency": "EUR", "issued_date": "2026-01-10", "due_date": "2099-02-10",
        "account_id": account}),
    )
    .await;
    assert_eq!(
        (status, answer["error"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("account_id"))
    );
    // A conversation Bea started, shared with her account; not with another.
    let conversation = app
        .state()
        .store
        .start_conversation(
            &firm.firm.id,
            &ContactId::parse(&id_of(&owner_of_it)).unwrap(),
            "VAT question",
            "Is it due?",
        )
        .await
        .unwrap()
        .id
        .to_string();
    let path = format!("/api/v1/conversations/{conversation}");
    let shared = ok(
        &app,
        key,
        Method::PATCH,
        &path,
        json!({"account_id": account}),
    )
    .await;
    assert_eq!(shared["account_id"], account);
    let elsewhere = id_of(
        &ok(
            &app,
            key,
            Method::POST,
            "/api/v1/accounts",
            json!({"name": "Other"}),
        )
        .await,
    );
    for wrong in [elsewhere.as_str(), "ca_nope"] {
        let (status, answer) = call(
            &app,
            key,
            Method::PATCH,
            &path,
            json!({"account_id": wrong}),
        )
        .await;
        assert_eq!(
            (status, answer["error"]["field"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("account_id")),
            "{wrong}"
        );
    }
    assert_eq!(
        refused(
            &app,
            key,
            Method::PATCH,
            "/api/v1/conversations/cv_nope",
            json!({"account_id": null})
        )
        .await
        .0,
        StatusCode::NOT_FOUND
    );
    let items = ok(
        &app,
        key,
        Method::GET,
        &format!("/api/v1/accounts/{account}/items"),
        Value::Null,
    )
    .await;
    let kinds: Vec<(&str, &str)> = items
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (i["kind"].as_str().unwrap(), i["id"].as_str().unwrap()))
        .collect();
    assert!(
        kinds.contains(&("task", task["id"].as_str().unwrap())),
        "{items}"
    );
    assert!(
        kinds.contains(&("invoice", invoice["id"].as_str().unwrap())),
        "{items}"
    );

    // A Team member looking after Bob (not Bea) reaches the task through the account; one
    // looking after the stranger does not.
    let near = member_with_key(&app, &firm, "team").await;
    let far = member_with_key(&app, &firm, "team").await;
    assign(
        &app,
        &firm,
        &ContactId::parse(&id_of(&bookkeeper)).unwrap(),
        std::slice::from_ref(&near.id),
    )
    .await;
    assign(
        &app,
        &firm,
        &ContactId::parse(&id_of(&stranger)).unwrap(),
        std::slice::from_ref(&far.id),
    )
    .await;
    let task_path = format!("/api/v1/tasks/{}", id_of(&task));
    ok(&app, &near.key, Method::GET, &task_path, Value::Null).await;
    let listed = ok(&app, &near.key, Method::GET, "/api/v1/tasks", Value::Null).await;
    assert!(
        listed["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["id"] == task["id"]),
        "{listed}"
    );
    assert_eq!(
        refused(&app, &far.key, Method::GET, &task_path, Value::Null)
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    let listed = ok(&app, &far.key, Method::GET, "/api/v1/tasks", Value::Null).await;
    assert!(
        !listed["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["id"] == task["id"]),
        "{listed}"
    );
    // A scoped member shares only with accounts they reach.
    let (status, answer) = call(
        &app,
        &far.key,
        Method::POST,
        "/api/v1/tasks",
        json!({"title": "Mine", "assignees": [id_of(&stranger)], "account_id": account}),
    )
    .await;
    assert_eq!(
        (status, answer["error"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("account_id"))
    );

    // Stopping the sharing: the near member no longer reaches it.
    let unshared = ok(
        &app,
        key,
        Method::PATCH,
        &task_path,
        json!({"account_id": null}),
    )
    .await;
    assert!(unshared["account_id"].is_null());
    assert_eq!(
        refused(&app, &near.key, Method::GET, &task_path, Value::Null)
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    let (status, answer) = call(
        &app,
        key,
        Method::PATCH,
        &task_path,
        json!({"account_id": "ca_nope"}),
    )
    .await;
    assert_eq!(
        (status, answer["error"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("account_id"))
    );
    app.stop().await;
}

#[tokio::test]
async fn a_task_shared_with_an_account_is_emailed_to_its_managers_and_assignees() {
    let app = TestApp::spawn().await;
    let firm = app.create_firm("emails").await;
    let key = firm.api_key.as_str();
    let account = id_of(
        &ok(
            &app,
            key,
            Method::POST,
            "/api/v1/accounts",
            json!({"name": "Baker Ltd"}),
        )
        .await,
    );
    let custom_manager = id_of(
        &ok(
            &app,
            key,
            Method::POST,
            "/api/v1/permission-sets",
            json!({"name": "Manager, no invoices", "base": "client_manager", "off": ["invoices"]}),
        )
        .await,
    );
    let contact = |name: &str, set: &str, access: bool| {
        json!({"name": name, "email": format!("{name}@baker.example.com"), "account_id": account,
               "permission_set": set, "portal_access": access})
    };
    let mut made = Vec::new();
    for (name, set, access) in [
        ("bea", "client_manager", true),
        ("kim", custom_manager.as_str(), true),
        ("bob", "client_staff", true),
        ("sid", "client_staff", true),
        ("max", "client_manager", false),
        ("mia", "client_manager", true),
    ] {
        made.push(
            ok(
                &app,
                key,
                Method::POST,
                "/api/v1/contacts",
                contact(name, set, access),
            )
            .await,
        );
    }
    // Mia turned task emails off.
    let mia = app
        .stored_contact(&firm.firm.id, &ContactId::parse(&id_of(&made[5])).unwrap())
        .await;
    app.store
        .update_preferences(
            &firm.firm.id,
            &mia.id,
            &portico_shared::store::Preferences {
                name: mia.name.clone(),
                language: "en".into(),
                notify_task_shared: false,
                notify_signature_requested: true,
                notify_request_reply: true,
            },
        )
        .await
        .unwrap();
    let bob = id_of(&made[2]);
    ok(
        &app,
        key,
        Method::POST,
        "/api/v1/tasks",
        json!({"title": "Year-end", "assignees": [bob], "account_id": account, "portal": true}),
    )
    .await;
    let mut to: Vec<String> = app
        .mail_jobs()
        .await
        .into_iter()
        .map(|j| j.to.email)
        .collect();
    to.sort();
    assert_eq!(
        to,
        [
            "bea@baker.example.com",
            "bob@baker.example.com",
            "kim@baker.example.com"
        ],
        "managers (by their set's base) and the assignee, with access and wanting it; \
         not Sid (client staff, not assigned), Max (no access) or Mia (turned it off)"
    );
    // Shared with the account only after it was shared to the portal: the managers are told
    // then, and nobody twice.
    let task = ok(
        &app,
        key,
        Method::POST,
        "/api/v1/tasks",
        json!({"title": "Payroll", "assignees": [bob], "portal": true}),
    )
    .await;
    assert_eq!(app.mail_jobs().await.len(), 4);
    ok(
        &app,
        key,
        Method::PATCH,
        &format!("/api/v1/tasks/{}", id_of(&task)),
        json!({"account_id": account}),
    )
    .await;
    let jobs = app.mail_jobs().await;
    let mut newly: Vec<String> = jobs[4..].iter().map(|j| j.to.email.clone()).collect();
    newly.sort();
    assert_eq!(newly, ["bea@baker.example.com", "kim@baker.example.com"]);
    app.stop().await;
}

#[tokio::test]
async fn replies_and_signing_requests_shared_with_an_account_are_emailed_to_its_managers() {
    let app = TestApp::spawn().await;
    let firm = app.create_firm("replies").await;
    let key = firm.api_key.as_str();
    ok(
        &app,
        key,
        Method::PATCH,
        "/api/v1/portal",
        json!({"esign_enabled": true}),
    )
    .await;
    let account = id_of(
        &ok(
            &app,
            key,
            Method::POST,
            "/api/v1/accounts",
            json!({"name": "Baker Ltd"}),
        )
        .await,
    );
    let custom_manager = id_of(
        &ok(
            &app,
            key,
            Method::POST,
            "/api/v1/permission-sets",
            json!({"name": "Manager, no invoices", "base": "client_manager", "off": ["invoices"]}),
        )
        .await,
    );
    let mut ids = std::collections::HashMap::new();
    for (name, set, access) in [
        ("bea", "client_manager", true),
        ("kim", custom_manager.as_str(), true),
        ("bob", "client_staff", true),
        ("sid", "client_staff", true),
        ("max", "client_manager", false),
        ("mia", "client_manager", true),
    ] {
        let made = ok(
            &app,
            key,
            Method::POST,
            "/api/v1/contacts",
            json!({"name": name, "email": format!("{name}@baker.example.com"),
                   "account_id": account, "permission_set": set, "portal_access": access}),
        )
        .await;
        ids.insert(name, ContactId::parse(&id_of(&made)).unwrap());
    }
    // Mia turned reply emails off (signature emails stay on).
    let mia = app.stored_contact(&firm.firm.id, &ids["mia"]).await;
    app.store
        .update_preferences(
            &firm.firm.id,
            &mia.id,
            &portico_shared::store::Preferences {
                name: mia.name.clone(),
                language: "en".into(),
                notify_task_shared: true,
                notify_signature_requested: true,
                notify_request_reply: false,
            },
        )
        .await
        .unwrap();
    let start = |who: &str, subject: &str| {
        let (app, firm, who, subject) = (&app, &firm, ids[who].clone(), subject.to_string());
        async move {
            app.state()
                .store
                .start_conversation(&firm.firm.id, &who, &subject, "A question")
                .await
                .unwrap()
                .id
                .to_string()
        }
    };
    // The new jobs since `before`, as (recipient, whose item the email names), sorted.
    let sent_since = |before: usize| {
        let app = &app;
        async move {
            let mut sent: Vec<(String, Option<String>)> = app.mail_jobs().await[before..]
                .iter()
                .map(|j| {
                    let whose = j.data["started_by"]
                        .as_str()
                        .or(j.data["signer_name"].as_str())
                        .map(str::to_string);
                    (j.to.email.clone(), whose)
                })
                .collect();
            sent.sort();
            sent
        }
    };
    let to = |name: &str, whose: Option<&str>| {
        (
            format!("{name}@baker.example.com"),
            whose.map(str::to_string),
        )
    };

    // Bob's request, not shared: only Bob hears of the reply.
    let bobs = start("bob", "VAT question").await;
    let before = app.mail_jobs().await.len();
    let reply = json!({"body": "Due on Friday."});
    let path = format!("/api/v1/conversations/{bobs}/messages");
    ok(&app, key, Method::POST, &path, reply.clone()).await;
    assert_eq!(sent_since(before).await, [to("bob", None)]);

    // Shared with the account: the managers too (by their set's base), each once, naming
    // Bob; not Sid (client staff), Max (no access) or Mia (turned it off).
    ok(
        &app,
        key,
        Method::PATCH,
        &format!("/api/v1/conversations/{bobs}"),
        json!({"account_id": account}),
    )
    .await;
    let before = app.mail_jobs().await.len();
    ok(&app, key, Method::POST, &path, reply.clone()).await;
    let told = [
        to("bea", Some("bob")),
        to("bob", None),
        to("kim", Some("bob")),
    ];
    assert_eq!(sent_since(before).await, told);
    // The console's reply tells the same people.
    let staff = portico_e2e::staff::signed_in_owner(&app, &firm).await.1;
    let page = app.url(&firm.firm.slug, &format!("/staff/conversations/{bobs}"));
    let csrf = staff.csrf(&page).await;
    let before = app.mail_jobs().await.len();
    let answered = staff
        .post_form(
            &app.url(
                &firm.firm.slug,
                &format!("/staff/conversations/{bobs}/messages"),
            ),
            &[("csrf", csrf.as_str()), ("body", "And from the console.")],
        )
        .await;
    assert_eq!(answered.status(), StatusCode::SEE_OTHER);
    assert_eq!(sent_since(before).await, told);

    // A manager's own shared request: she is told once, as its starter.
    let beas = start("bea", "Payroll").await;
    ok(
        &app,
        key,
        Method::PATCH,
        &format!("/api/v1/conversations/{beas}"),
        json!({"account_id": account}),
    )
    .await;
    let before = app.mail_jobs().await.len();
    let path = format!("/api/v1/conversations/{beas}/messages");
    ok(&app, key, Method::POST, &path, reply.clone()).await;
    assert_eq!(
        sent_since(before).await,
        [to("bea", None), to("kim", Some("bea"))]
    );

    // A signing request for Sid shared with the account: Sid is asked to sign; the managers
    // who want signature emails are told whose it is (Mia too: only replies are off for her).
    let before = app.mail_jobs().await.len();
    let form = reqwest::multipart::Form::new()
        .text("contact_id", ids["sid"].to_string())
        .text("title", "Engagement letter")
        .text("account_id", account.clone())
        .part(
            "file",
            portico_e2e::file_part("letter.pdf", &portico_e2e::sample_pdf("Letter")),
        );
    let (status, body) = app
        .api_multipart(key, "/api/v1/signing-requests", form)
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(
        sent_since(before).await,
        [
            to("bea", Some("sid")),
            to("kim", Some("sid")),
            to("mia", Some("sid")),
            to("sid", None)
        ]
    );
    // Not shared with the account: only its signer.
    let before = app.mail_jobs().await.len();
    let form = reqwest::multipart::Form::new()
        .text("contact_id", ids["sid"].to_string())
        .text("title", "Private letter")
        .part(
            "file",
            portico_e2e::file_part("letter.pdf", &portico_e2e::sample_pdf("Private")),
        );
    let (status, _) = app
        .api_multipart(key, "/api/v1/signing-requests", form)
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(sent_since(before).await, [to("sid", None)]);
    app.stop().await;
}
