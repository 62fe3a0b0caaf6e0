//! Client accounts and permission sets in the portal (SPEC §13): who sees what, and what a
//! set that switches a capability off neither shows nor accepts.
//!
//! The isolation matrix walks every permission set of [`SETS`] (the two built-ins and one
//! custom set per capability switched off) × every portal route × items that are the viewer's
//! own, a colleague's in the same account, shared with the account as a whole, another
//! account's, and another firm's. What each set may do is written out in [`SETS`] by hand,
//! not read from the code under test.

use std::collections::BTreeSet;
use std::io::Write;

use fantoccini::Locator;
use portico_e2e::axe::{self, assert_accessible};
use portico_e2e::chrome::{Chrome, skip_requested};
use portico_e2e::{Browser, TestApp, TestFirm, csrf_in, file_part};
use portico_shared::client_access::PermissionSetRef;
use portico_shared::email::Email;
use portico_shared::ids::ClientAccountId;
use portico_shared::store::{Contact, NewContact};
use reqwest::{Method, StatusCode};
use serde_json::json;

/// A set of the matrix: its label, the base it is made from, the capabilities it switches
/// off (none for the built-ins, which are then named by their base), whether it sees the
/// account's items, and what it may do, in the order of [`CAPABILITIES`].
struct SetRow {
    label: &'static str,
    base: &'static str,
    off: &'static [&'static str],
    sees_account: bool,
    allows: [bool; 7],
}

const CAPABILITIES: [&str; 7] = [
    "invoices",
    "upload",
    "complete_tasks",
    "sign",
    "start_requests",
    "see_completed",
    "manage_people",
];
const INVOICES: usize = 0;
const UPLOAD: usize = 1;
const COMPLETE: usize = 2;
const SIGN: usize = 3;
const START: usize = 4;
const COMPLETED: usize = 5;
const PEOPLE: usize = 6;

const SETS: [SetRow; 9] = [
    SetRow {
        label: "manager",
        base: "client_manager",
        off: &[],
        sees_account: true,
        allows: [true, true, true, true, true, true, true],
    },
    SetRow {
        label: "staff",
        base: "client_staff",
        off: &[],
        sees_account: false,
        allows: [true, true, true, true, true, true, false],
    },
    SetRow {
        label: "no-invoices",
        base: "client_manager",
        off: &["invoices"],
        sees_account: true,
        allows: [false, true, true, true, true, true, true],
    },
    SetRow {
        label: "no-upload",
        base: "client_manager",
        off: &["upload"],
        sees_account: true,
        allows: [true, false, true, true, true, true, true],
    },
    SetRow {
        label: "no-complete",
        base: "client_manager",
        off: &["complete_tasks"],
        sees_account: true,
        allows: [true, true, false, true, true, true, true],
    },
    SetRow {
        label: "no-sign",
        base: "client_manager",
        off: &["sign"],
        sees_account: true,
        allows: [true, true, true, false, true, true, true],
    },
    SetRow {
        label: "no-start",
        base: "client_manager",
        off: &["start_requests"],
        sees_account: true,
        allows: [true, true, true, true, false, true, true],
    },
    SetRow {
        label: "no-completed",
        base: "client_manager",
        off: &["see_completed"],
        sees_account: true,
        allows: [true, true, true, true, true, false, true],
    },
    SetRow {
        label: "no-people",
        base: "client_manager",
        off: &["manage_people"],
        sees_account: true,
        allows: [true, true, true, true, true, true, false],
    },
];

/// Whose an item is, seen from the viewer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Owner {
    /// Assigned to the viewer.
    Own,
    /// Assigned to a client staff colleague in the viewer's account.
    Colleague,
    /// Shared with the viewer's account as a whole, assigned to nobody (tasks), or to a
    /// colleague and shared with the account (the other kinds).
    Account,
    /// Assigned to a contact of another account of the same firm.
    OtherAccount,
    /// Of another firm (asked for on the viewer's firm's host).
    OtherFirm,
}

const OWNERS: [Owner; 5] = [
    Owner::Own,
    Owner::Colleague,
    Owner::Account,
    Owner::OtherAccount,
    Owner::OtherFirm,
];

impl Owner {
    fn visible_to(self, set: &SetRow) -> bool {
        match self {
            Owner::Own => true,
            Owner::Colleague | Owner::Account => set.sees_account,
            Owner::OtherAccount | Owner::OtherFirm => false,
        }
    }
}

/// The items one owner has, as made for one set's row.
struct Items {
    open_task: String,
    open_title: String,
    item: String,
    done_task: String,
    done_title: String,
    signing: String,
    signing_title: String,
    conversation: String,
    subject: String,
    invoice_number: String,
}

/// A viewer of the matrix, with a colleague in the same account.
struct Team {
    viewer: Contact,
    colleague: Contact,
    browser: Browser,
}

/// Everyone the matrix needs: firm A with an account of a viewer's colleagues, another
/// account, and firm B.
struct World {
    app: TestApp,
    firm: TestFirm,
    other_firm: TestFirm,
    /// The client manager of the scenarios' account (the matrix makes an account per set).
    mia: Contact,
    /// Client staff of Mia's account.
    colleague: Contact,
    /// A contact of another account of firm A.
    stranger: Contact,
    /// A contact of firm B.
    foreigner: Contact,
}

impl World {
    async fn new() -> World {
        // Room for the matrix's uploads and people POSTs, which are counted like any others.
        let app = TestApp::spawn_with(&[
            ("PORTICO_UPLOAD_RATE", "1000/h"),
            ("PORTICO_LOGIN_PER_IP", "1000/min"),
        ])
        .await;
        let firm = app.create_firm("acme").await;
        let other_firm = app.create_firm("other").await;
        for f in [&firm, &other_firm] {
            app.api_ok(
                f,
                Method::PATCH,
                "/api/v1/portal",
                Some(json!({"billing_enabled": true, "esign_enabled": true})),
            )
            .await;
        }
        // The viewers' account: Mia's personal one, which her colleagues join.
        let mia = add_contact(&app, &firm, "Mia Miller", "mia@example.com", None, None).await;
        let colleague = add_contact(
            &app,
            &firm,
            "Cleo Colleague",
            "cleo@example.com",
            Some(mia.account_id.as_str()),
            None,
        )
        .await;
        assert_eq!(
            colleague.permission_set, "client_staff",
            "joining makes client staff"
        );
        let stranger =
            add_contact(&app, &firm, "Sam Stranger", "sam@example.com", None, None).await;
        let foreigner = add_contact(
            &app,
            &other_firm,
            "Fay Foreign",
            "fay@example.com",
            None,
            None,
        )
        .await;
        World {
            app,
            firm,
            other_firm,
            mia,
            colleague,
            stranger,
            foreigner,
        }
    }

    fn url(&self, path: &str) -> String {
        self.app.url(&self.firm.firm.slug, path)
    }

    fn account(&self) -> &str {
        self.colleague.account_id.as_str()
    }

    /// A team of its own for a set's row (so no row's items crowd another's lists): client
    /// staff in a new account, and a viewer holding `set` in the same account, signed in.
    async fn viewer(&self, set: &SetRow, n: usize) -> Team {
        let colleague = add_contact(
            &self.app,
            &self.firm,
            &format!("Colleague {}", set.label),
            &format!("colleague{n}@example.com"),
            None,
            None,
        )
        .await;
        set_permission_set(&self.app, &self.firm, &colleague, "client_staff").await;
        let permission_set = if set.off.is_empty() {
            set.base.to_string()
        } else {
            create_permission_set(&self.app, &self.firm, set).await
        };
        let email = format!("viewer{n}@example.com");
        let viewer = add_contact(
            &self.app,
            &self.firm,
            &format!("Viewer {}", set.label),
            &email,
            Some(colleague.account_id.as_str()),
            Some(&permission_set),
        )
        .await;
        let browser = self.app.signed_in(&self.firm, &email).await;
        Team {
            viewer,
            colleague,
            browser,
        }
    }

    /// Fresh items of `owner` for this set's row, titled after both.
    async fn items(&self, set: &SetRow, owner: Owner, team: &Team) -> Items {
        let account = team.colleague.account_id.as_str();
        let (firm, contact, account) = match owner {
            Owner::Own => (&self.firm, &team.viewer, None),
            Owner::Colleague => (&self.firm, &team.colleague, None),
            Owner::Account => (&self.firm, &team.colleague, Some(account)),
            Owner::OtherAccount => (&self.firm, &self.stranger, None),
            Owner::OtherFirm => (&self.other_firm, &self.foreigner, None),
        };
        let app = &self.app;
        let tag = format!("{}-{owner:?}", set.label);
        // An account-wide task is assigned to nobody: only the account shares it.
        let assignees = if owner == Owner::Account {
            json!([])
        } else {
            json!([contact.id])
        };
        let task = |title: &str| {
            json!({"title": title, "portal": true, "assignees": assignees,
                "checklist": ["Passport copy"]})
        };
        let open_title = format!("Open task {tag}");
        let open = app
            .api_ok(firm, Method::POST, "/api/v1/tasks", Some(task(&open_title)))
            .await;
        let done_title = format!("Done task {tag}");
        let done = app
            .api_ok(firm, Method::POST, "/api/v1/tasks", Some(task(&done_title)))
            .await;
        let done_path = format!("/api/v1/tasks/{}", done["id"].as_str().unwrap());
        let completed = json!({"status": "completed"});
        app.api_ok(firm, Method::PATCH, &done_path, Some(completed))
            .await;
        let signing_title = format!("Letter {tag}");
        let pdf = portico_e2e::sample_pdf(&signing_title);
        let signing = firm
            .request_signature(app, &contact.id, &signing_title, "letter.pdf", &pdf)
            .await;
        let subject = format!("Question {tag}");
        let conversation = app
            .store
            .start_conversation(
                &firm.firm.id,
                &contact.id,
                &subject,
                &format!("{subject}\nPlease help."),
            )
            .await
            .expect("a conversation");
        let invoice_number = format!("INV-{tag}");
        let invoice = json!({"contact_id": contact.id, "number": invoice_number,
            "amount": 1000, "currency": "EUR", "issued_date": "2026-01-10",
            "due_date": "2099-02-10", "description": "Fees"});
        let invoice = app
            .api_ok(firm, Method::POST, "/api/v1/invoices", Some(invoice))
            .await;
        let id = |v: &serde_json::Value| v["id"].as_str().unwrap().to_string();
        if let Some(account) = account {
            for (table, item) in [
                ("tasks", id(&open)),
                ("tasks", id(&done)),
                ("signing_requests", id(&signing)),
                ("invoices", id(&invoice)),
                ("conversations", conversation.id.to_string()),
            ] {
                share_with_account(app, table, &item, account).await;
            }
        }
        Items {
            open_task: open["id"].as_str().unwrap().to_string(),
            open_title,
            item: open["checklist"][0]["id"].as_str().unwrap().to_string(),
            done_task: done["id"].as_str().unwrap().to_string(),
            done_title,
            signing: signing["id"].as_str().unwrap().to_string(),
            signing_title,
            conversation: conversation.id.to_string(),
            subject,
            invoice_number,
        }
    }
}

// ---------------------------------------------------------------------------------------
// Staff-side setup. Contacts join accounts through the store; custom sets and who holds them
// go through the staff API; account-wide sharing is written as rows (conversations have no
// staff route for it, and the other kinds' routes are tested with the staff API), in the same
// database the gateway reads.

/// The same statement on whichever database the test runs.
async fn sql(app: &TestApp, statement: &str, binds: &[&str]) {
    let url = &app.config.database_url;
    if url.starts_with("sqlite:") {
        let pool = sqlx::SqlitePool::connect(url).await.expect("open SQLite");
        let mut query = sqlx::query(statement);
        for bind in binds {
            query = query.bind(*bind);
        }
        query.execute(&pool).await.expect(statement);
        pool.close().await;
    } else {
        let pool = sqlx::PgPool::connect(url).await.expect("open PostgreSQL");
        let mut query = sqlx::query(statement);
        for bind in binds {
            query = query.bind(*bind);
        }
        query.execute(&pool).await.expect(statement);
        pool.close().await;
    }
}

/// A contact of `firm` with portal access: in `account` (a new personal account when
/// `None`) with `permission_set` (the default for joining when `None`).
async fn add_contact(
    app: &TestApp,
    firm: &TestFirm,
    name: &str,
    email: &str,
    account: Option<&str>,
    permission_set: Option<&str>,
) -> Contact {
    app.store
        .create_contact(
            &firm.firm.id,
            &NewContact {
                name: name.to_string(),
                email: Email::parse(email).unwrap(),
                portal_access: true,
                account_id: account.map(|a| ClientAccountId::parse(a).expect("an account id")),
                permission_set: permission_set
                    .map(|s| PermissionSetRef::parse(s).expect("a set name or id")),
            },
        )
        .await
        .expect("create contact")
}

/// A custom set of `firm` made from the row's base with the row's capabilities off, through
/// the staff API.
async fn create_permission_set(app: &TestApp, firm: &TestFirm, set: &SetRow) -> String {
    let body = json!({"name": set.label, "base": set.base, "off": set.off});
    let created = app
        .api_ok(firm, Method::POST, "/api/v1/permission-sets", Some(body))
        .await;
    created["id"].as_str().expect("a set id").to_string()
}

/// Switches capabilities of a custom set off, as staff editing the set do.
async fn switch_off(app: &TestApp, firm: &TestFirm, set: &str, off: &[&str]) {
    let path = format!("/api/v1/permission-sets/{set}");
    app.api_ok(firm, Method::PATCH, &path, Some(json!({"off": off})))
        .await;
}

/// Shares an item (`table`: tasks, invoices, signing_requests, conversations) with an account.
async fn share_with_account(app: &TestApp, table: &str, id: &str, account: &str) {
    let statement = format!("UPDATE {table} SET account_id = $2 WHERE id = $1");
    sql(app, &statement, &[id, account]).await;
}

/// Gives a contact another set, as staff do through the staff API.
async fn set_permission_set(app: &TestApp, firm: &TestFirm, contact: &Contact, set: &str) {
    let path = format!("/api/v1/contacts/{}", contact.id);
    let body = json!({"permission_set": set});
    app.api_ok(firm, Method::PATCH, &path, Some(body)).await;
}

// ---------------------------------------------------------------------------------------
// Asking the portal.

/// One answer of the matrix that differs from the table.
fn check(failures: &mut Vec<String>, what: String, got: StatusCode, want: StatusCode) {
    if got != want {
        failures.push(format!("{what}: got {got}, want {want}"));
    }
}

fn ok_or_404(allowed: bool, ok: StatusCode) -> StatusCode {
    if allowed { ok } else { StatusCode::NOT_FOUND }
}

async fn post(browser: &Browser, url: &str, csrf: &str, fields: &[(&str, &str)]) -> StatusCode {
    let mut form = vec![("csrf", csrf)];
    form.extend_from_slice(fields);
    browser.post_form(url, &form).await.status()
}

#[tokio::test]
async fn every_set_meets_every_route_as_its_table_says() {
    let world = World::new().await;
    let mut failures = Vec::new();
    for (n, set) in SETS.iter().enumerate() {
        let team = world.viewer(set, n).await;
        let browser = team.browser.clone();
        let can = |capability: usize| set.allows[capability];
        let mut items = Vec::new();
        for owner in OWNERS {
            items.push((owner, world.items(set, owner, &team).await));
        }
        let (status, home) = browser.get_text(&world.url("/")).await;
        assert_eq!(status, StatusCode::OK, "{}: home", set.label);
        let csrf = csrf_in(&home).expect("a CSRF token on the home page");
        let label = set.label;

        // The home page shows what is visible, and only that.
        for (owner, item) in &items {
            let visible = owner.visible_to(set);
            for (title, shown) in [
                (&item.open_title, visible),
                (&item.done_title, visible && can(COMPLETED)),
                (&item.signing_title, visible),
                (&item.subject, visible),
            ] {
                if home.contains(title.as_str()) != shown {
                    failures.push(format!("{label}: home shows {title:?}: {}", !shown));
                }
            }
        }
        for (section, capability) in [
            ("action=\"/requests\"", START),
            ("href=\"/people\"", PEOPLE),
        ] {
            if home.contains(section) != can(capability) {
                failures.push(format!("{label}: home has {section}: {}", !can(capability)));
            }
        }
        if home.contains("href=\"/invoices\"") != can(INVOICES) {
            failures.push(format!("{label}: invoices in the menu: {}", !can(INVOICES)));
        }

        for (owner, item) in &items {
            let visible = owner.visible_to(set);
            let what = |route: &str| format!("{label} × {route} × {owner:?}");
            let task = format!("/tasks/{}", item.open_task);
            let (status, page) = browser.get_text(&world.url(&task)).await;
            check(
                &mut failures,
                what("GET /tasks/{id}"),
                status,
                ok_or_404(visible, StatusCode::OK),
            );
            if status == StatusCode::OK {
                for (control, capability) in [
                    ("/complete\"", COMPLETE),
                    ("/checklist/", COMPLETE),
                    ("enctype=\"multipart/form-data\"", UPLOAD),
                ] {
                    if page.contains(control) != can(capability) {
                        failures.push(format!(
                            "{}: shows {control}: {}",
                            what("task page"),
                            !can(capability)
                        ));
                    }
                }
            }
            let done = format!("/tasks/{}", item.done_task);
            let status = browser.get(&world.url(&done)).await.status();
            check(
                &mut failures,
                what("GET /tasks/{completed}"),
                status,
                ok_or_404(visible && can(COMPLETED), StatusCode::OK),
            );
            let status = post(
                &browser,
                &world.url(&format!("{task}/checklist/{}", item.item)),
                &csrf,
                &[("done", "true")],
            )
            .await;
            check(
                &mut failures,
                what("POST /tasks/{id}/checklist/{item}"),
                status,
                ok_or_404(visible && can(COMPLETE), StatusCode::SEE_OTHER),
            );
            // An empty file: refused (422) where uploading is allowed, so nothing is stored.
            let form = reqwest::multipart::Form::new()
                .text("csrf", csrf.clone())
                .part("file", file_part("empty.pdf", b""));
            let status = browser
                .post_multipart(&world.url(&format!("{task}/files")), form)
                .await
                .status();
            check(
                &mut failures,
                what("POST /tasks/{id}/files"),
                status,
                ok_or_404(visible && can(UPLOAD), StatusCode::UNPROCESSABLE_ENTITY),
            );

            let sign = format!("/sign/{}", item.signing);
            let (status, page) = browser.get_text(&world.url(&sign)).await;
            check(
                &mut failures,
                what("GET /sign/{id}"),
                status,
                ok_or_404(visible, StatusCode::OK),
            );
            let signs = *owner == Owner::Own && can(SIGN);
            if status == StatusCode::OK && page.contains(&format!("action=\"{sign}\"")) != signs {
                failures.push(format!(
                    "{}: sign form shown: {}",
                    what("sign page"),
                    !signs
                ));
            }
            let status = browser
                .get(&world.url(&format!("{sign}/document")))
                .await
                .status();
            check(
                &mut failures,
                what("GET /sign/{id}/document"),
                status,
                ok_or_404(visible, StatusCode::OK),
            );
            // Without a name: refused (422) by whoever may sign it, so it stays pending.
            let status = post(
                &browser,
                &world.url(&sign),
                &csrf,
                &[("name", ""), ("consent", "yes")],
            )
            .await;
            check(
                &mut failures,
                what("POST /sign/{id}"),
                status,
                ok_or_404(signs, StatusCode::UNPROCESSABLE_ENTITY),
            );
            let too_long = "x".repeat(2001);
            let status = post(
                &browser,
                &world.url(&format!("{sign}/decline")),
                &csrf,
                &[("reason", &too_long)],
            )
            .await;
            check(
                &mut failures,
                what("POST /sign/{id}/decline"),
                status,
                ok_or_404(signs, StatusCode::UNPROCESSABLE_ENTITY),
            );

            let request = format!("/requests/{}", item.conversation);
            let status = browser.get(&world.url(&request)).await.status();
            check(
                &mut failures,
                what("GET /requests/{id}"),
                status,
                ok_or_404(visible, StatusCode::OK),
            );
            // An empty reply: refused (422) on a thread the viewer sees, 404 on any other.
            let status = post(
                &browser,
                &world.url(&format!("{request}/messages")),
                &csrf,
                &[("body", " ")],
            )
            .await;
            check(
                &mut failures,
                what("POST /requests/{id}/messages"),
                status,
                ok_or_404(visible, StatusCode::UNPROCESSABLE_ENTITY),
            );
        }

        let (status, invoices) = browser.get_text(&world.url("/invoices")).await;
        check(
            &mut failures,
            format!("{label} × GET /invoices"),
            status,
            ok_or_404(can(INVOICES), StatusCode::OK),
        );
        if status == StatusCode::OK {
            for (owner, item) in &items {
                if invoices.contains(&item.invoice_number) != owner.visible_to(set) {
                    failures.push(format!(
                        "{label} × /invoices × {owner:?}: listed: {}",
                        !owner.visible_to(set)
                    ));
                }
            }
        }
        let status = post(
            &browser,
            &world.url("/requests"),
            &csrf,
            &[("body", "A new question")],
        )
        .await;
        check(
            &mut failures,
            format!("{label} × POST /requests"),
            status,
            ok_or_404(can(START), StatusCode::SEE_OTHER),
        );
        let status = browser.get(&world.url("/people")).await.status();
        check(
            &mut failures,
            format!("{label} × GET /people"),
            status,
            ok_or_404(can(PEOPLE), StatusCode::OK),
        );
        let status = post(
            &browser,
            &world.url("/people"),
            &csrf,
            &[("name", "New"), ("email", "not an address")],
        )
        .await;
        check(
            &mut failures,
            format!("{label} × POST /people"),
            status,
            ok_or_404(can(PEOPLE), StatusCode::UNPROCESSABLE_ENTITY),
        );
        for (target, reachable) in [
            (&team.colleague, true),
            (&world.stranger, false),
            (&world.foreigner, false),
        ] {
            let path = format!("/people/{}/access", target.id);
            let status = post(&browser, &world.url(&path), &csrf, &[("access", "on")]).await;
            check(
                &mut failures,
                format!("{label} × POST /people/{{id}}/access × {}", target.name),
                status,
                ok_or_404(can(PEOPLE) && reachable, StatusCode::SEE_OTHER),
            );
        }
        for path in ["/settings", "/companies"] {
            let status = browser.get(&world.url(path)).await.status();
            check(
                &mut failures,
                format!("{label} × GET {path}"),
                status,
                StatusCode::OK,
            );
        }

        // Completing last: it changes the task.
        for (owner, item) in &items {
            let status = post(
                &browser,
                &world.url(&format!("/tasks/{}/complete", item.open_task)),
                &csrf,
                &[],
            )
            .await;
            check(
                &mut failures,
                format!("{label} × POST /tasks/{{id}}/complete × {owner:?}"),
                status,
                ok_or_404(
                    owner.visible_to(set) && can(COMPLETE),
                    StatusCode::SEE_OTHER,
                ),
            );
        }
    }
    assert!(
        failures.is_empty(),
        "{} cells differ from the table:\n{}",
        failures.len(),
        failures.join("\n")
    );
    world.app.stop().await;
}

/// The table itself: every custom set switches exactly the capability its row says off.
#[test]
fn the_table_switches_off_what_each_row_names() {
    for set in &SETS {
        let off: BTreeSet<&str> = set.off.iter().copied().collect();
        for (n, capability) in CAPABILITIES.iter().enumerate() {
            let built_in_staff_people = set.base == "client_staff" && n == PEOPLE;
            let expected = !off.contains(capability) && !built_in_staff_people;
            assert_eq!(set.allows[n], expected, "{} × {capability}", set.label);
        }
        assert_eq!(
            set.sees_account,
            set.base == "client_manager",
            "{}",
            set.label
        );
    }
}

/// A signed-in browser of `email` at `world`'s firm, with the CSRF token of its forms.
async fn signed_in(world: &World, email: &str) -> (Browser, String) {
    let browser = world.app.signed_in(&world.firm, email).await;
    let csrf = browser.csrf(&world.url("/settings")).await;
    (browser, csrf)
}

#[tokio::test]
async fn a_manager_invites_a_colleague_grants_access_and_the_colleague_signs_in() {
    let world = World::new().await;
    let app = &world.app;
    // Mia manages the account that Cleo (client staff) is in.
    let (mia, csrf) = signed_in(&world, "mia@example.com").await;
    let (status, people) = mia.get_text(&world.url("/people")).await;
    assert_eq!(status, StatusCode::OK);
    for shown in [
        "Mia Miller",
        "(you)",
        "Client manager",
        "Cleo Colleague",
        "Client staff",
    ] {
        assert!(people.contains(shown), "{shown} on the People page");
    }
    assert!(
        !people.contains("Sam Stranger"),
        "another account's contact"
    );
    assert!(
        !people.contains(&format!("/people/{}/access", world.mia.id)),
        "no control for the manager herself"
    );
    assert!(
        people.contains(&format!("/people/{}/access", world.colleague.id)),
        "a control for client staff"
    );

    // An invitation: Ned joins the account as client staff and is mailed an invitation.
    let invite = |name: &'static str, email: &'static str| {
        let csrf = csrf.clone();
        let url = world.url("/people");
        let mia = mia.clone();
        async move {
            mia.post_form(&url, &[("csrf", &csrf), ("name", name), ("email", email)])
                .await
        }
    };
    let jobs_before = app.mail_jobs().await.len();
    for (name, email, problem) in [
        ("", "ned@example.com", "Enter their name."),
        (
            "Ned",
            "Ned <ned@example.com>",
            "Enter a valid email address",
        ),
        ("Sam", "SAM@example.com", "cannot be added to your account"),
        ("Cleo", "cleo@example.com", "already in your account"),
    ] {
        let answer = invite(name, email).await;
        assert_eq!(answer.status(), StatusCode::UNPROCESSABLE_ENTITY, "{email}");
        let page = answer.text().await.unwrap();
        assert!(page.contains(problem), "{email}: {problem}");
        // Refusing an address of another account says nothing about that account.
        assert!(!page.contains("Sam Stranger"), "{email}");
    }
    assert_eq!(
        app.mail_jobs().await.len(),
        jobs_before,
        "no mail for a refused invitation"
    );
    let answer = invite("Ned Newman", "ned@example.com").await;
    assert_eq!(answer.status(), StatusCode::SEE_OTHER);
    assert_eq!(answer.headers()["location"], "/people?done=invited");
    let invitation = app
        .last_link("ned@example.com")
        .await
        .expect("an invitation");
    assert_eq!(
        invitation.job.template,
        portico_shared::mail::Template::Invitation
    );
    let ned = app
        .store
        .contact_by_email(
            &world.firm.firm.id,
            &Email::parse("ned@example.com").unwrap(),
        )
        .await
        .unwrap()
        .expect("Ned is a contact now");
    assert_eq!(ned.account_id, world.colleague.account_id);
    assert_eq!(ned.permission_set, "client_staff");
    let (_, people) = mia.get_text(&world.url("/people?done=invited")).await;
    assert!(people.contains("Invitation sent."));
    assert!(people.contains("Ned Newman") && people.contains("Never signed in"));

    // Ned signs in; Mia revokes his access, which ends his session at once; she grants it
    // again, and he signs in again.
    let (ned_browser, _) = signed_in(&world, "ned@example.com").await;
    assert_eq!(
        ned_browser.get(&world.url("/")).await.status(),
        StatusCode::OK
    );
    let access = |on: &'static str| {
        let url = world.url(&format!("/people/{}/access", ned.id));
        let (mia, csrf) = (mia.clone(), csrf.clone());
        async move {
            mia.post_form(&url, &[("csrf", &csrf), ("access", on)])
                .await
                .status()
        }
    };
    assert_eq!(access("off").await, StatusCode::SEE_OTHER);
    let refused = ned_browser.get(&world.url("/")).await;
    assert_eq!(
        refused.status(),
        StatusCode::SEE_OTHER,
        "revoked: signed out"
    );
    assert!(
        refused.headers()["location"]
            .to_str()
            .unwrap()
            .starts_with("/login")
    );
    let (_, people) = mia.get_text(&world.url("/people")).await;
    assert!(people.contains("No access"));
    assert_eq!(access("on").await, StatusCode::SEE_OTHER);
    let (ned_again, _) = signed_in(&world, "ned@example.com").await;
    let (status, home) = ned_again.get_text(&world.url("/")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(home.contains("Ned Newman"));
    // Ned is client staff: no People page for him.
    assert_eq!(
        ned_again.get(&world.url("/people")).await.status(),
        StatusCode::NOT_FOUND
    );
    assert!(!home.contains("href=\"/people\""));

    // Never her own access, nor another manager's (403: they are listed, without a control);
    // never anyone outside the account or firm (404); nonsense is refused.
    let (mia_contact, other_manager) = {
        let mia_contact = app
            .store
            .contact_by_email(
                &world.firm.firm.id,
                &Email::parse("mia@example.com").unwrap(),
            )
            .await
            .unwrap()
            .unwrap();
        let boss = add_contact(
            app,
            &world.firm,
            "Bo Boss",
            "bo@example.com",
            Some(world.account()),
            Some("client_manager"),
        )
        .await;
        (mia_contact, boss)
    };
    for (target, field, expected) in [
        (mia_contact.id.to_string(), "off", StatusCode::FORBIDDEN),
        (other_manager.id.to_string(), "off", StatusCode::FORBIDDEN),
        (world.stranger.id.to_string(), "off", StatusCode::NOT_FOUND),
        (world.foreigner.id.to_string(), "off", StatusCode::NOT_FOUND),
        ("ct_nonsense".to_string(), "off", StatusCode::NOT_FOUND),
        (
            ned.id.to_string(),
            "maybe",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
    ] {
        let url = world.url(&format!("/people/{target}/access"));
        let status = mia
            .post_form(&url, &[("csrf", &csrf), ("access", field)])
            .await
            .status();
        assert_eq!(status, expected, "{target} {field}");
    }
    for contact in [
        &mia_contact,
        &other_manager,
        &world.stranger,
        &world.foreigner,
    ] {
        let firm = &contact.firm_id;
        let now = app.stored_contact(firm, &contact.id).await;
        assert!(now.portal_access, "{} keeps access", contact.name);
        assert_eq!(
            now.permission_set, contact.permission_set,
            "{} keeps the set",
            contact.name
        );
    }
    // Without the form's token nothing changes.
    let url = world.url(&format!("/people/{}/access", ned.id));
    let status = mia.post_form(&url, &[("access", "off")]).await.status();
    assert_eq!(status, StatusCode::FORBIDDEN, "CSRF");
    assert!(
        app.stored_contact(&world.firm.firm.id, &ned.id)
            .await
            .portal_access
    );
    world.app.stop().await;
}

#[tokio::test]
async fn client_staff_see_an_account_item_only_once_it_is_assigned_to_them() {
    let world = World::new().await;
    let app = &world.app;
    let task = app
        .api_ok(
            &world.firm,
            Method::POST,
            "/api/v1/tasks",
            Some(json!({"title": "Household budget 2026", "portal": true, "assignees": []})),
        )
        .await;
    let task_id = task["id"].as_str().unwrap().to_string();
    share_with_account(app, "tasks", &task_id, world.account()).await;
    let (mia, _) = signed_in(&world, "mia@example.com").await;
    let (cleo, _) = signed_in(&world, "cleo@example.com").await;
    let (sam, _) = signed_in(&world, "sam@example.com").await;
    let page = format!("/tasks/{task_id}");
    let sees = |browser: &Browser| {
        let (home, page) = (world.url("/"), world.url(&page));
        let browser = browser.clone();
        async move {
            let (_, home) = browser.get_text(&home).await;
            let status = browser.get(&page).await.status();
            (home.contains("Household budget 2026"), status)
        }
    };
    let (seen, hidden) = ((true, StatusCode::OK), (false, StatusCode::NOT_FOUND));
    for (who, browser, expected) in [
        ("the manager", &mia, seen),
        ("client staff", &cleo, hidden),
        ("another account", &sam, hidden),
    ] {
        assert_eq!(
            sees(browser).await,
            expected,
            "{who}, shared with the account"
        );
    }
    app.api_ok(
        &world.firm,
        Method::PATCH,
        &format!("/api/v1/tasks/{task_id}"),
        Some(json!({"assignees": [world.colleague.id]})),
    )
    .await;
    for (who, browser, expected) in [
        ("the manager", &mia, seen),
        ("client staff", &cleo, seen),
        ("another account", &sam, hidden),
    ] {
        assert_eq!(
            sees(browser).await,
            expected,
            "{who}, assigned to client staff"
        );
    }

    // Items of a contact elsewhere, shared with the account: its manager sees them by the
    // account alone; its client staff do not; their own contact still does.
    let invoice = json!({"contact_id": world.stranger.id, "number": "INV-SHARED",
        "amount": 1000, "currency": "EUR", "issued_date": "2026-01-10",
        "due_date": "2099-02-10", "description": "Fees"});
    let invoice = app
        .api_ok(&world.firm, Method::POST, "/api/v1/invoices", Some(invoice))
        .await;
    let conversation = app
        .store
        .start_conversation(
            &world.firm.firm.id,
            &world.stranger.id,
            "Shared question",
            "Hi",
        )
        .await
        .unwrap();
    let invoice_id = invoice["id"].as_str().unwrap();
    share_with_account(app, "invoices", invoice_id, world.account()).await;
    let conversation_id = conversation.id.to_string();
    share_with_account(app, "conversations", &conversation_id, world.account()).await;
    let thread = format!("/requests/{conversation_id}");
    for (who, browser, sees) in [
        ("the manager", &mia, true),
        ("client staff", &cleo, false),
        ("its contact", &sam, true),
    ] {
        let (_, invoices) = browser.get_text(&world.url("/invoices")).await;
        assert_eq!(invoices.contains("INV-SHARED"), sees, "{who}: the invoice");
        let (_, home) = browser.get_text(&world.url("/")).await;
        assert_eq!(home.contains("Shared question"), sees, "{who}: the request");
        let status = browser.get(&world.url(&thread)).await.status();
        assert_eq!(status == StatusCode::OK, sees, "{who}: the thread");
    }

    // Cleo uploads a document; her manager downloads it, nobody outside the account can.
    let csrf = cleo.csrf(&world.url(&page)).await;
    let form = reqwest::multipart::Form::new().text("csrf", csrf).part(
        "file",
        file_part("budget.pdf", &portico_e2e::sample_pdf("Budget")),
    );
    let answer = cleo
        .post_multipart(&world.url(&format!("{page}/files")), form)
        .await;
    assert_eq!(answer.status(), StatusCode::SEE_OTHER);
    let (_, detail) = mia.get_text(&world.url(&page)).await;
    let start = detail
        .find(&format!("{page}/files/"))
        .expect("the file is listed");
    let link: String = detail[start..].chars().take_while(|c| *c != '"').collect();
    assert_eq!(mia.get(&world.url(&link)).await.status(), StatusCode::OK);
    assert_eq!(
        sam.get(&world.url(&link)).await.status(),
        StatusCode::NOT_FOUND
    );
    world.app.stop().await;
}

#[tokio::test]
async fn a_manager_reads_a_colleagues_document_but_only_its_signer_signs_it() {
    let world = World::new().await;
    let app = &world.app;
    let signing = world
        .firm
        .request_signature(
            app,
            &world.colleague.id,
            "Contract of Cleo",
            "contract.pdf",
            &portico_e2e::sample_pdf("Contract"),
        )
        .await;
    let id = signing["id"].as_str().unwrap().to_string();
    let (mia, mia_csrf) = signed_in(&world, "mia@example.com").await;
    let (_, home) = mia.get_text(&world.url("/")).await;
    let home = portico_e2e::decoded(home);
    assert!(
        home.contains("Contract of Cleo"),
        "pending, on the manager's home page"
    );
    assert!(
        home.contains("waiting for Cleo Colleague to sign") && !home.contains("your signature"),
        "the manager's home page names whose signature it waits for: {home}"
    );
    let (status, page) = mia.get_text(&world.url(&format!("/sign/{id}"))).await;
    assert_eq!(status, StatusCode::OK);
    let page = portico_e2e::decoded(page);
    assert!(
        !page.contains(&format!("action=\"/sign/{id}")),
        "neither the sign form nor the decline form: {page}"
    );
    assert!(!page.contains("name=\"consent\""));
    assert!(
        page.contains("Waiting for Cleo Colleague to sign")
            && page.contains("only Cleo Colleague can sign it"),
        "{page}"
    );
    let form = [
        ("csrf", mia_csrf.as_str()),
        ("name", "Mia Miller"),
        ("consent", "yes"),
    ];
    let status = mia
        .post_form(&world.url(&format!("/sign/{id}")), &form)
        .await
        .status();
    assert_eq!(status, StatusCode::NOT_FOUND, "only its signer signs");
    let decline = [("csrf", mia_csrf.as_str()), ("reason", "Not mine")];
    let status = mia
        .post_form(&world.url(&format!("/sign/{id}/decline")), &decline)
        .await
        .status();
    assert_eq!(status, StatusCode::NOT_FOUND, "nor declines it");
    let trail = || async {
        let detail = app
            .api_ok(
                &world.firm,
                Method::GET,
                &format!("/api/v1/signing-requests/{id}"),
                None,
            )
            .await;
        detail["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["kind"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        trail().await,
        ["created"],
        "the manager's reading is not the signer's"
    );

    let (cleo, cleo_csrf) = signed_in(&world, "cleo@example.com").await;
    let (_, home) = cleo.get_text(&world.url("/")).await;
    assert!(
        home.contains("waiting for your signature"),
        "the signer's own row: {home}"
    );
    let (status, page) = cleo.get_text(&world.url(&format!("/sign/{id}"))).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("name=\"consent\""), "the signer signs here");
    let form = [
        ("csrf", cleo_csrf.as_str()),
        ("name", "Cleo Colleague"),
        ("consent", "yes"),
    ];
    let status = cleo
        .post_form(&world.url(&format!("/sign/{id}")), &form)
        .await
        .status();
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(trail().await, ["created", "viewed", "signed"]);
    let (_, page) = mia.get_text(&world.url(&format!("/sign/{id}"))).await;
    let page = portico_e2e::decoded(page);
    assert!(
        page.contains("Cleo Colleague signed this document as <strong>Cleo Colleague</strong>")
            && !page.contains("You signed"),
        "the manager reads whose signature it is: {page}"
    );
    assert!(
        page.contains("Cleo Colleague (cleo@example.com)") && !page.contains("(mia@example.com)"),
        "the signer named is Cleo, not the reader: {page}"
    );
    let (_, page) = cleo.get_text(&world.url(&format!("/sign/{id}"))).await;
    assert!(page.contains("You signed this document as"), "{page}");

    // The manager's kept home page follows a colleague's new name.
    world
        .firm
        .request_signature(
            app,
            &world.colleague.id,
            "Second contract",
            "second.pdf",
            &portico_e2e::sample_pdf("Second"),
        )
        .await;
    let (_, home) = mia.get_text(&world.url("/")).await;
    assert!(
        decoded_has(&home, "waiting for Cleo Colleague to sign"),
        "{home}"
    );
    let (_, again) = mia.get_text(&world.url("/")).await;
    assert!(decoded_has(&again, "waiting for Cleo Colleague to sign"));
    app.api_ok(
        &world.firm,
        Method::PATCH,
        &format!("/api/v1/contacts/{}", world.colleague.id),
        Some(json!({"name": "Cleo Renamed"})),
    )
    .await;
    let (_, home) = mia.get_text(&world.url("/")).await;
    assert!(
        decoded_has(&home, "waiting for Cleo Renamed to sign"),
        "renaming a contact is on the next page: {home}"
    );
    world.app.stop().await;
}

fn decoded_has(html: &str, text: &str) -> bool {
    portico_e2e::decoded(html.to_string()).contains(text)
}

#[tokio::test]
async fn switching_a_capability_off_hides_it_on_the_next_request() {
    let world = World::new().await;
    let app = &world.app;
    let manager = &SETS[0];
    let set = create_permission_set(
        app,
        &world.firm,
        &SetRow {
            label: "Household",
            ..SetRow { ..*manager }
        },
    )
    .await;
    let mia = app
        .store
        .contact_by_email(
            &world.firm.firm.id,
            &Email::parse("mia@example.com").unwrap(),
        )
        .await
        .unwrap()
        .unwrap();
    set_permission_set(app, &world.firm, &mia, &set).await;
    for (title, who) in [
        ("Own task of Mia", &mia.id),
        ("Task of Cleo", &world.colleague.id),
    ] {
        let task = app
            .api_ok(
                &world.firm,
                Method::POST,
                "/api/v1/tasks",
                Some(json!({"title": title, "portal": true, "assignees": [who]})),
            )
            .await;
        let path = format!("/api/v1/tasks/{}", task["id"].as_str().unwrap());
        if who == &mia.id {
            let done = json!({"status": "completed"});
            app.api_ok(&world.firm, Method::PATCH, &path, Some(done))
                .await;
        }
    }
    let (browser, csrf) = signed_in(&world, "mia@example.com").await;
    let home = || async {
        let (status, page) = browser.get_text(&world.url("/")).await;
        assert_eq!(status, StatusCode::OK);
        page
    };
    let kept_before = app.kept_home_pages().await;
    let first = home().await;
    let again = home().await;
    assert_eq!(
        app.kept_home_pages().await,
        kept_before + 1,
        "the page was kept"
    );
    assert_eq!(
        portico_e2e::without_csrf(&first),
        portico_e2e::without_csrf(&again)
    );
    for shown in [
        "Own task of Mia",
        "Task of Cleo",
        "action=\"/requests\"",
        "href=\"/invoices\"",
    ] {
        assert!(first.contains(shown), "{shown} before");
    }

    // Staff edit the set: no requests, no completed items, no invoices.
    switch_off(
        app,
        &world.firm,
        &set,
        &["start_requests", "see_completed", "invoices"],
    )
    .await;
    let after = home().await;
    for hidden in [
        "Own task of Mia",
        "action=\"/requests\"",
        "href=\"/invoices\"",
    ] {
        assert!(!after.contains(hidden), "{hidden} after switching off");
    }
    assert!(after.contains("Task of Cleo"), "what stays on stays");
    let post = browser
        .post_form(
            &world.url("/requests"),
            &[("csrf", &csrf), ("body", "Hello")],
        )
        .await;
    assert_eq!(post.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        browser.get(&world.url("/invoices")).await.status(),
        StatusCode::NOT_FOUND
    );

    // Staff give her the built-in client staff set: her colleague's task goes too.
    set_permission_set(app, &world.firm, &mia, "client_staff").await;
    let staff = home().await;
    assert!(
        !staff.contains("Task of Cleo"),
        "client staff see only their own"
    );
    assert!(
        staff.contains("Own task of Mia"),
        "completed items are back"
    );
    assert_eq!(
        browser.get(&world.url("/people")).await.status(),
        StatusCode::NOT_FOUND
    );
    world.app.stop().await;
}

/// Signs `email` in to `world`'s firm in Chromium through the code page, as on another device.
async fn sign_in_chrome(chrome: &Chrome, world: &World, email: &str) {
    let app = &world.app;
    let slug = world.firm.firm.slug.clone();
    app.browser().request_link(app, &slug, email).await;
    let mail = app.last_link(email).await.unwrap();
    chrome.client.goto(&mail.link).await.unwrap();
    chrome.wait_text("Enter your code").await;
    chrome.type_into("#code", &mail.code).await;
    chrome.click("form button[type=submit]").await;
    chrome.wait_text("Welcome").await;
}

#[tokio::test]
async fn the_people_page_passes_axe_at_desktop_and_phone_width() {
    if skip_requested() {
        let _ = writeln!(
            std::io::stderr(),
            "People page browser test SKIPPED (PORTICO_SKIP_BROWSER=1)"
        );
        return;
    }
    axe::axe_source();
    let chrome = Chrome::start().await;
    let world = World::new().await;
    let app = &world.app;
    // A full account: a long name and address, and one person who never signed in.
    add_contact(
        app,
        &world.firm,
        "Maximiliane Theodora von Hohenzollern-Sigmaringen",
        "maximiliane.theodora.von.hohenzollern@sigmaringen-household.example.com",
        Some(world.account()),
        None,
    )
    .await;
    sign_in_chrome(&chrome, &world, "mia@example.com").await;

    chrome.client.goto(&world.url("/people")).await.unwrap();
    chrome.wait_text("People in your account").await;
    assert_accessible(&chrome, "people").await;
    chrome.type_into("#person-name", "Ned Newman").await;
    chrome.type_into("#person-email", "not an address").await;
    chrome
        .click("form[action='/people'] button[type=submit]")
        .await;
    chrome
        .client
        .wait()
        .for_element(Locator::Css("#email-error"))
        .await
        .unwrap();
    assert_accessible(&chrome, "people-error").await;
    chrome.quit().await;
    world.app.stop().await;
}

#[tokio::test]
async fn a_managers_view_of_a_colleagues_signing_request_passes_axe() {
    if skip_requested() {
        let _ = writeln!(
            std::io::stderr(),
            "colleague's signing request browser test SKIPPED (PORTICO_SKIP_BROWSER=1)"
        );
        return;
    }
    axe::axe_source();
    let chrome = Chrome::start().await;
    let world = World::new().await;
    let signing = world
        .firm
        .request_signature(
            &world.app,
            &world.colleague.id,
            "Contract of Cleo",
            "contract.pdf",
            &portico_e2e::sample_pdf("Contract"),
        )
        .await;
    let id = signing["id"].as_str().unwrap().to_string();
    sign_in_chrome(&chrome, &world, "mia@example.com").await;
    chrome.wait_text("waiting for Cleo Colleague to sign").await;
    assert_accessible(&chrome, "home-colleague-signing").await;
    chrome
        .client
        .goto(&world.url(&format!("/sign/{id}")))
        .await
        .unwrap();
    chrome.wait_text("Waiting for Cleo Colleague to sign").await;
    assert_accessible(&chrome, "sign-colleague").await;
    chrome.quit().await;
    world.app.stop().await;
}
