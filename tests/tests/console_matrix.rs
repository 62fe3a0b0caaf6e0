//! Roles over the console: what each role may do in each area through the console's own forms
//! (a table written out here, not derived from the policy code), that a refused POST changes
//! nothing and an allowed one does what it says, the "assigned clients only" scope of a Team
//! member on the console's item pages, and that a control the role does not allow is not on
//! the page. The API's half of the matrix is `roles_api.rs`.

use std::collections::BTreeSet;

use portico_e2e::staff::{
    add_member, add_role, assign, location, owner, staff_browser, stored_member,
};
use portico_e2e::{Browser, TestApp, TestFirm, csrf_in, file_part, sample_pdf, unique};
use portico_shared::client_access::{Capability, SetBase};
use portico_shared::email::Email;
use portico_shared::ids::{ContactId, MemberId, TaskId};
use portico_shared::policy::{Action, Area, Permissions, Scope};
use portico_shared::store::{
    AccountQuery, Member, NewInvoice, NewTask, PageQuery, PermissionSet, SetContent,
};
use portico_shared::token::ApiKey;
use reqwest::{Method, StatusCode};
use serde_json::json;

/// The expected outcome of one action in one area.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Expect {
    /// Allowed: the page opens (200) or the form is done (303), and its effect is stored.
    Yes,
    /// Refused: 403, and nothing changed.
    No,
    /// The console has no form or page for this action in this area (the reason is written
    /// beside the row).
    NoRoute(&'static str),
}
use Expect::{No, Yes};

const SIGNING_FIXED: Expect =
    Expect::NoRoute("a signing request is not changed or withdrawn from the console");
const CLIENTS_START_CONVERSATIONS: Expect = Expect::NoRoute(
    "clients start conversations; the firm replies, which is an edit (as over the API)",
);
const NO_CONVERSATION_DELETE: Expect = Expect::NoRoute("conversations are never deleted");
const NO_INVOICE_DELETE: Expect = Expect::NoRoute("invoices are voided (an edit), not deleted");
const SETTINGS_ONE_FORM: Expect = Expect::NoRoute(
    "the portal's settings exist once per firm: they are only seen and edited (the logo too)",
);
const KEYS_FIXED: Expect = Expect::NoRoute("an API key is made and revoked, never changed");

/// The custom role of the matrix: reads every client's contacts and tasks, the client
/// accounts and the permission sets, and holds create on conversations, which lets nobody
/// reply (a reply is an edit, as over the API).
fn reader() -> Permissions {
    Permissions::default()
        .with(Area::Contacts, &[Action::View], Scope::All)
        .with(Area::Tasks, &[Action::View], Scope::All)
        .with(Area::Conversations, &[Action::Create], Scope::All)
        .with(Area::Accounts, &[Action::View], Scope::All)
        .with(Area::ClientPermissions, &[Action::View], Scope::All)
}

/// Area, action, and the outcome for: Owner, Co-owner, Team member, the reader.
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
    ("tasks", "edit", [Yes, Yes, Yes, No]),
    ("tasks", "delete", [Yes, Yes, No, No]),
    ("signing", "view", [Yes, Yes, Yes, No]),
    ("signing", "create", [Yes, Yes, Yes, No]),
    ("signing", "edit", [SIGNING_FIXED; 4]),
    ("signing", "delete", [SIGNING_FIXED; 4]),
    ("conversations", "view", [Yes, Yes, Yes, No]),
    ("conversations", "create", [CLIENTS_START_CONVERSATIONS; 4]),
    ("conversations", "edit", [Yes, Yes, Yes, No]),
    ("conversations", "delete", [NO_CONVERSATION_DELETE; 4]),
    ("invoices", "view", [Yes, Yes, Yes, No]),
    ("invoices", "create", [Yes, Yes, No, No]),
    ("invoices", "edit", [Yes, Yes, No, No]),
    ("invoices", "delete", [NO_INVOICE_DELETE; 4]),
    ("portal_settings", "view", [Yes, Yes, No, No]),
    ("portal_settings", "create", [SETTINGS_ONE_FORM; 4]),
    ("portal_settings", "edit", [Yes, Yes, No, No]),
    ("portal_settings", "delete", [SETTINGS_ONE_FORM; 4]),
    ("client_permissions", "view", [Yes, Yes, No, Yes]),
    ("client_permissions", "create", [Yes, Yes, No, No]),
    ("client_permissions", "edit", [Yes, Yes, No, No]),
    ("client_permissions", "delete", [Yes, Yes, No, No]),
    ("team", "view", [Yes, Yes, No, No]),
    ("team", "create", [Yes, Yes, No, No]),
    ("team", "edit", [Yes, Yes, No, No]),
    ("team", "delete", [Yes, Yes, No, No]),
    ("roles", "view", [Yes, Yes, No, No]),
    ("roles", "create", [Yes, Yes, No, No]),
    ("roles", "edit", [Yes, Yes, No, No]),
    ("roles", "delete", [Yes, Yes, No, No]),
    ("api_keys", "view", [Yes, Yes, No, No]),
    ("api_keys", "create", [Yes, Yes, No, No]),
    ("api_keys", "edit", [KEYS_FIXED; 4]),
    ("api_keys", "delete", [Yes, Yes, No, No]),
];

/// What every probe works on: a firm with billing and e-signing on, a contact every member
/// of the matrix is assigned to, and a role granting nothing (which anyone may hand out).
struct Fixture {
    firm: TestFirm,
    contact: ContactId,
    contact_email: String,
    empty_role: String,
}

/// How a probe went: the status, and whether the effect it looks for is stored.
struct Probe {
    status: StatusCode,
    body: String,
    changed: bool,
}

impl Fixture {
    fn slug(&self) -> &str {
        &self.firm.firm.slug
    }
}

async fn send(
    browser: &Browser,
    app: &TestApp,
    fx: &Fixture,
    path: &str,
    fields: &[(&str, &str)],
) -> (StatusCode, String) {
    // Any console page carries the session's token; the account page opens for everyone.
    let response = browser
        .staff_post(app, fx.slug(), "/staff/account", path, fields)
        .await;
    let status = response.status();
    let body = format!("{} {}", location(&response), response.text().await.unwrap());
    (status, body)
}

async fn open(browser: &Browser, app: &TestApp, fx: &Fixture, path: &str) -> (StatusCode, String) {
    browser.get_text(&app.url(fx.slug(), path)).await
}

/// A custom permission set of the fixture's firm.
async fn new_permission_set(app: &TestApp, fx: &Fixture) -> PermissionSet {
    let content = SetContent {
        name: unique("Set"),
        base: SetBase::ClientManager,
        off: [Capability::Invoices].into_iter().collect(),
    };
    app.store
        .create_permission_set(&fx.firm.firm.id, &content)
        .await
        .unwrap()
}

/// A contact of the fixture's firm that every member of the matrix looks after.
async fn shared_contact(app: &TestApp, fx: &Fixture) -> (ContactId, String) {
    let email = format!("{}@client.example.com", unique("c"));
    let contact = app.add_contact(&fx.firm, &email, true).await;
    let everyone = app
        .store
        .contact_members(&fx.firm.firm.id, &fx.contact)
        .await
        .unwrap();
    assign(app, &fx.firm, &contact.id, &everyone).await;
    (contact.id, email)
}

async fn new_task(app: &TestApp, fx: &Fixture, title: &str) -> TaskId {
    let new = NewTask {
        title: title.to_string(),
        description: String::new(),
        due_date: None,
        portal: false,
        assignees: vec![fx.contact.clone()],
        checklist: vec![],
        account_id: None,
    };
    let (detail, _) = app.store.create_task(&fx.firm.firm.id, &new).await.unwrap();
    detail.task.id
}

async fn task_count(app: &TestApp, fx: &Fixture) -> usize {
    app.store
        .contact_tasks(&fx.firm.firm.id, &fx.contact, 1000)
        .await
        .unwrap()
        .len()
}

async fn signing_count(app: &TestApp, fx: &Fixture) -> usize {
    app.store
        .contact_signing_requests(&fx.firm.firm.id, &fx.contact, 1000)
        .await
        .unwrap()
        .len()
}

async fn invoices(app: &TestApp, fx: &Fixture) -> Vec<portico_shared::store::Invoice> {
    app.store
        .list_invoices(
            &fx.firm.firm.id,
            &PageQuery {
                after: None,
                limit: 1000,
                contact_id: Some(fx.contact.clone()),
                status: None,
                assigned_to: None,
            },
        )
        .await
        .unwrap()
}

async fn new_invoice(app: &TestApp, fx: &Fixture) -> portico_shared::store::Invoice {
    app.store
        .create_invoice(
            &fx.firm.firm.id,
            &NewInvoice {
                contact_id: fx.contact.clone(),
                number: unique("inv"),
                amount_minor: 1000,
                currency: "EUR".into(),
                issued_date: "2026-01-10".into(),
                due_date: "2099-02-10".into(),
                status: portico_shared::status::InvoiceStatus::Open,
                pay_url: None,
                description: String::new(),
                account_id: None,
            },
        )
        .await
        .unwrap()
}

async fn conversation(app: &TestApp, fx: &Fixture, contact: &ContactId) -> String {
    app.store
        .start_conversation(&fx.firm.firm.id, contact, "A question", "Hello?")
        .await
        .unwrap()
        .id
        .to_string()
}

async fn message_count(app: &TestApp, fx: &Fixture, id: &str) -> usize {
    let id = portico_shared::ids::ConversationId::parse(id).unwrap();
    let (_, messages) = app
        .store
        .conversation(&fx.firm.firm.id, None, &id)
        .await
        .unwrap()
        .expect("the conversation");
    messages.len()
}

async fn signing_request(app: &TestApp, fx: &Fixture) -> String {
    let request = fx
        .firm
        .request_signature(app, &fx.contact, "Letter", "l.pdf", &sample_pdf("x"))
        .await;
    request["id"].as_str().unwrap().to_string()
}

async fn display_name(app: &TestApp, fx: &Fixture) -> Option<String> {
    app.store
        .firm_by_id(&fx.firm.firm.id)
        .await
        .unwrap()
        .unwrap()
        .display_name
}

async fn custom_role(app: &TestApp, fx: &Fixture) -> String {
    add_role(app, &fx.firm, &unique("role"), Permissions::default())
        .await
        .id
}

async fn role_name(app: &TestApp, fx: &Fixture, id: &str) -> Option<String> {
    app.store
        .role(&fx.firm.firm.id, id)
        .await
        .unwrap()
        .map(|r| r.name)
}

async fn spare_key(app: &TestApp, fx: &Fixture) -> String {
    let owner = owner(app, &fx.firm).await;
    let key = ApiKey::generate();
    app.store
        .create_api_key(
            &fx.firm.firm.id,
            "spare",
            &fx.empty_role,
            &owner.id,
            &key.hash(),
        )
        .await
        .unwrap()
        .id
        .to_string()
}

/// Whether the key is revoked: the store lists the keys still in force only.
async fn key_revoked(app: &TestApp, fx: &Fixture, id: &str) -> bool {
    !app.store
        .api_keys(&fx.firm.firm.id)
        .await
        .unwrap()
        .iter()
        .any(|k| k.id.to_string() == id)
}

/// Does `action` in `area` through the console as `browser`'s member; `None` where the
/// console has no page or form for it.
async fn probe(
    app: &TestApp,
    fx: &Fixture,
    browser: &Browser,
    area: Area,
    action: Action,
) -> Option<Probe> {
    use Action::{Create, Delete, Edit, View};
    let firm = &fx.firm.firm.id;
    let c = &fx.contact;
    let done = |(status, body): (StatusCode, String), changed: bool| Probe {
        status,
        body,
        changed,
    };
    Some(match (area, action) {
        (Area::Contacts, View) => {
            let seen = open(browser, app, fx, &format!("/staff/contacts/{c}")).await;
            let changed = seen.1.contains(&fx.contact_email);
            done(seen, changed)
        }
        (Area::Contacts, Create) => {
            let email = format!("{}@client.example.com", unique("new"));
            let fields = [("name", "New client"), ("email", &email)];
            let answer = send(browser, app, fx, "/staff/contacts", &fields).await;
            let email = Email::parse(&email).unwrap();
            let stored = app.store.contact_by_email(firm, &email).await.unwrap();
            done(answer, stored.is_some())
        }
        (Area::Contacts, Edit) => {
            let (id, email) = shared_contact(app, fx).await;
            let fields = [("name", "Renamed"), ("email", email.as_str())];
            let answer = send(browser, app, fx, &format!("/staff/contacts/{id}"), &fields).await;
            let changed = app.stored_contact(firm, &id).await.name == "Renamed";
            done(answer, changed)
        }
        (Area::Contacts, Delete) => {
            let (id, _) = shared_contact(app, fx).await;
            let path = format!("/staff/contacts/{id}/delete");
            let answer = send(browser, app, fx, &path, &[]).await;
            let gone = app.store.contact(firm, &id).await.unwrap().is_none();
            done(answer, gone)
        }
        (Area::Tasks, View) => {
            let title = unique("Send receipts");
            let task = new_task(app, fx, &title).await;
            let seen = open(browser, app, fx, &format!("/staff/tasks/{task}")).await;
            let changed = seen.1.contains(&title);
            done(seen, changed)
        }
        (Area::Tasks, Create) => {
            let before = task_count(app, fx).await;
            let title = unique("Mine");
            let fields = [("title", title.as_str()), ("assignees", &fx.contact_email)];
            let answer = send(browser, app, fx, "/staff/tasks", &fields).await;
            done(answer, task_count(app, fx).await == before + 1)
        }
        (Area::Tasks, Edit) => {
            let task = new_task(app, fx, "Before").await;
            let fields = [("title", "Changed"), ("assignees", &fx.contact_email)];
            let answer = send(browser, app, fx, &format!("/staff/tasks/{task}"), &fields).await;
            let stored = app.store.task(firm, &task).await.unwrap().unwrap();
            done(answer, stored.task.title == "Changed")
        }
        (Area::Tasks, Delete) => {
            let task = new_task(app, fx, "Doomed").await;
            let path = format!("/staff/tasks/{task}/delete");
            let answer = send(browser, app, fx, &path, &[]).await;
            let gone = app.store.task(firm, &task).await.unwrap().is_none();
            done(answer, gone)
        }
        (Area::Signing, View) => {
            let id = signing_request(app, fx).await;
            let seen = open(browser, app, fx, &format!("/staff/signing/{id}")).await;
            let changed = seen.1.contains("Letter");
            done(seen, changed)
        }
        (Area::Signing, Create) => {
            let before = signing_count(app, fx).await;
            let csrf = browser.csrf(&app.url(fx.slug(), "/staff/account")).await;
            let form = reqwest::multipart::Form::new()
                .text("csrf", csrf)
                .text("contact", fx.contact_email.clone())
                .text("title", "Engagement letter")
                .part("file", file_part("letter.pdf", &sample_pdf("Sign here")));
            let response = browser
                .post_multipart(&app.url(fx.slug(), "/staff/signing"), form)
                .await;
            let status = response.status();
            let body = response.text().await.unwrap();
            done((status, body), signing_count(app, fx).await == before + 1)
        }
        (Area::Conversations, View) => {
            let id = conversation(app, fx, c).await;
            let seen = open(browser, app, fx, &format!("/staff/conversations/{id}")).await;
            let changed = seen.1.contains("A question");
            done(seen, changed)
        }
        (Area::Conversations, Edit) => {
            let id = conversation(app, fx, c).await;
            let path = format!("/staff/conversations/{id}/messages");
            let answer = send(browser, app, fx, &path, &[("body", "On it.")]).await;
            done(answer, message_count(app, fx, &id).await == 2)
        }
        (Area::Invoices, View) => {
            let invoice = new_invoice(app, fx).await;
            let seen = open(browser, app, fx, "/staff/invoices").await;
            let changed = seen.1.contains(&invoice.number);
            done(seen, changed)
        }
        (Area::Invoices, Create) => {
            let number = unique("inv");
            let fields = [
                ("contact", fx.contact_email.as_str()),
                ("number", &number),
                ("amount", "10.00"),
                ("currency", "EUR"),
                ("issued_date", "2026-01-10"),
                ("due_date", "2099-02-10"),
                ("status", "open"),
            ];
            let answer = send(browser, app, fx, "/staff/invoices", &fields).await;
            let made = invoices(app, fx).await.iter().any(|i| i.number == number);
            done(answer, made)
        }
        (Area::Invoices, Edit) => {
            let invoice = new_invoice(app, fx).await;
            let path = format!("/staff/invoices/{}/status", invoice.id);
            let answer = send(browser, app, fx, &path, &[("status", "paid")]).await;
            let stored = app.store.invoice(firm, &invoice.id).await.unwrap().unwrap();
            done(answer, stored.status.as_str() == "paid")
        }
        (Area::PortalSettings, View) => {
            let seen = open(browser, app, fx, "/staff/settings/portal").await;
            let changed = seen.1.contains("brand_color");
            done(seen, changed)
        }
        (Area::PortalSettings, Edit) => {
            let name = unique("Acme");
            let fields = [
                ("display_name", name.as_str()),
                ("brand_color", "#1d4ed8"),
                ("billing_enabled", "on"),
                ("esign_enabled", "on"),
            ];
            let answer = send(browser, app, fx, "/staff/settings/portal", &fields).await;
            done(
                answer,
                display_name(app, fx).await.as_deref() == Some(&name),
            )
        }
        (Area::Team, View) => {
            let seen = open(browser, app, fx, "/staff/team").await;
            let owner_email = format!("owner@{}.example", fx.slug());
            let changed = seen.1.contains(&owner_email);
            done(seen, changed)
        }
        (Area::Team, Create) => {
            let email = format!("{}@firm.example.com", unique("new"));
            let fields = [("email", email.as_str()), ("role_id", "team")];
            let answer = send(browser, app, fx, "/staff/team/invitations", &fields).await;
            let invited = app
                .store
                .team_invitations(firm)
                .await
                .unwrap()
                .iter()
                .any(|i| i.email == email);
            done(answer, invited)
        }
        (Area::Team, Edit) => {
            let email = format!("{}@firm.example.com", unique("m"));
            let member = add_member(app, &fx.firm, &email, "team").await;
            let path = format!("/staff/team/members/{}/role", member.id);
            let answer = send(browser, app, fx, &path, &[("role_id", &fx.empty_role)]).await;
            let now = stored_member(app, &fx.firm, member.id.as_str())
                .await
                .unwrap();
            done(answer, now.role_id == fx.empty_role)
        }
        (Area::Team, Delete) => {
            let email = format!("{}@firm.example.com", unique("m"));
            let member = add_member(app, &fx.firm, &email, "team").await;
            let path = format!("/staff/team/members/{}/remove", member.id);
            let answer = send(browser, app, fx, &path, &[]).await;
            let gone = stored_member(app, &fx.firm, member.id.as_str())
                .await
                .is_none();
            done(answer, gone)
        }
        (Area::Roles, View) => {
            let role = custom_role(app, fx).await;
            let name = role_name(app, fx, &role).await.unwrap();
            let seen = open(browser, app, fx, "/staff/roles").await;
            let changed = seen.1.contains(&name);
            done(seen, changed)
        }
        (Area::Roles, Create) => {
            let name = unique("Clerk");
            let fields = [("name", name.as_str()), ("grant.tasks.view", "on")];
            let answer = send(browser, app, fx, "/staff/roles", &fields).await;
            let made = app
                .store
                .roles(firm)
                .await
                .unwrap()
                .iter()
                .any(|r| r.name == name);
            done(answer, made)
        }
        (Area::Roles, Edit) => {
            let role = custom_role(app, fx).await;
            let name = unique("Renamed");
            let path = format!("/staff/roles/{role}");
            let answer = send(browser, app, fx, &path, &[("name", &name)]).await;
            done(answer, role_name(app, fx, &role).await == Some(name))
        }
        (Area::Roles, Delete) => {
            let role = custom_role(app, fx).await;
            let path = format!("/staff/roles/{role}/delete");
            let answer = send(browser, app, fx, &path, &[]).await;
            done(answer, role_name(app, fx, &role).await.is_none())
        }
        (Area::Accounts, View) => {
            let name = unique("Household");
            let account = app.store.create_account(firm, &name).await.unwrap();
            let seen = open(browser, app, fx, &format!("/staff/accounts/{}", account.id)).await;
            let changed = seen.1.contains(&name);
            done(seen, changed)
        }
        (Area::Accounts, Create) => {
            let name = unique("Baker Ltd");
            let answer = send(browser, app, fx, "/staff/accounts", &[("name", &name)]).await;
            let made = app
                .store
                .list_accounts(
                    firm,
                    &AccountQuery {
                        limit: 500,
                        ..AccountQuery::default()
                    },
                )
                .await
                .unwrap()
                .iter()
                .any(|a| a.name == name);
            done(answer, made)
        }
        (Area::Accounts, Edit) => {
            let account = app.store.create_account(firm, "Before").await.unwrap();
            let name = unique("Renamed");
            let path = format!("/staff/accounts/{}", account.id);
            let answer = send(browser, app, fx, &path, &[("name", &name)]).await;
            let now = app.store.account(firm, &account.id).await.unwrap().unwrap();
            done(answer, now.name == name)
        }
        (Area::Accounts, Delete) => {
            let account = app.store.create_account(firm, "Empty").await.unwrap();
            let path = format!("/staff/accounts/{}/delete", account.id);
            let answer = send(browser, app, fx, &path, &[]).await;
            let gone = app
                .store
                .account(firm, &account.id)
                .await
                .unwrap()
                .is_none();
            done(answer, gone)
        }
        (Area::ClientPermissions, View) => {
            let set = new_permission_set(app, fx).await;
            let seen = open(browser, app, fx, "/staff/permission-sets").await;
            let changed = seen.1.contains(&set.name);
            done(seen, changed)
        }
        (Area::ClientPermissions, Create) => {
            let name = unique("Bookkeeper");
            let fields = [
                ("name", name.as_str()),
                ("base", "client_staff"),
                ("on.upload", "on"),
            ];
            let answer = send(browser, app, fx, "/staff/permission-sets", &fields).await;
            let made = app
                .store
                .permission_sets(firm)
                .await
                .unwrap()
                .into_iter()
                .find(|s| s.name == name);
            // Every capability left unticked is off.
            let as_asked = made.is_some_and(|s| {
                s.base == SetBase::ClientStaff
                    && s.off.len() == Capability::ALL.len() - 1
                    && !s.off.contains(&Capability::Upload)
            });
            done(answer, as_asked)
        }
        (Area::ClientPermissions, Edit) => {
            let set = new_permission_set(app, fx).await;
            let name = unique("Renamed");
            let fields = [("name", name.as_str()), ("base", "client_manager")];
            let path = format!("/staff/permission-sets/{}", set.id);
            let answer = send(browser, app, fx, &path, &fields).await;
            let now = app
                .store
                .permission_set(firm, &set.id)
                .await
                .unwrap()
                .unwrap();
            done(answer, now.name == name)
        }
        (Area::ClientPermissions, Delete) => {
            let set = new_permission_set(app, fx).await;
            let path = format!("/staff/permission-sets/{}/delete", set.id);
            let answer = send(browser, app, fx, &path, &[]).await;
            let gone = app
                .store
                .permission_set(firm, &set.id)
                .await
                .unwrap()
                .is_none();
            done(answer, gone)
        }
        (Area::ApiKeys, View) => {
            spare_key(app, fx).await;
            let seen = open(browser, app, fx, "/staff/api-keys").await;
            let changed = seen.1.contains("spare");
            done(seen, changed)
        }
        (Area::ApiKeys, Create) => {
            let name = unique("robot");
            let fields = [("name", name.as_str()), ("role_id", &fx.empty_role)];
            let answer = send(browser, app, fx, "/staff/api-keys", &fields).await;
            let made = app
                .store
                .api_keys(firm)
                .await
                .unwrap()
                .iter()
                .any(|k| k.name == name);
            done(answer, made)
        }
        (Area::ApiKeys, Delete) => {
            let id = spare_key(app, fx).await;
            let path = format!("/staff/api-keys/{id}/revoke");
            let answer = send(browser, app, fx, &path, &[]).await;
            done(answer, key_revoked(app, fx, &id).await)
        }
        _ => return None,
    })
}

/// The column names, for the messages.
const ROLES: [&str; 4] = ["Owner", "Co-owner", "Team member", "the reader"];

#[tokio::test]
async fn each_role_may_do_exactly_what_the_table_says_through_the_console() {
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
    assert_eq!(TABLE.len(), Area::ALL.len() * Action::ALL.len());

    let app = TestApp::spawn().await;
    let firm = app.create_firm("matrix").await;
    let (status, body) = app
        .api(
            &firm.api_key,
            Method::PATCH,
            "/api/v1/portal",
            Some(json!({"billing_enabled": true, "esign_enabled": true})),
        )
        .await;
    assert!(status.is_success(), "{status} {body}");
    let contact_email = format!("{}@client.example.com", unique("ann"));
    let contact = app.add_contact(&firm, &contact_email, true).await.id;
    let reader_role = add_role(&app, &firm, "Reader", reader()).await.id;
    let empty_role = add_role(&app, &firm, "Nothing", Permissions::default())
        .await
        .id;
    let members: Vec<Member> = vec![
        owner(&app, &firm).await,
        add_member(&app, &firm, "co@firm.example.com", "co_owner").await,
        add_member(&app, &firm, "team@firm.example.com", "team").await,
        add_member(&app, &firm, "reader@firm.example.com", &reader_role).await,
    ];
    let ids: Vec<MemberId> = members.iter().map(|m| m.id.clone()).collect();
    assign(&app, &firm, &contact, &ids).await;
    let mut browsers = Vec::new();
    for member in &members {
        browsers.push(staff_browser(&app, &firm, member).await);
    }
    let fx = Fixture {
        firm,
        contact,
        contact_email,
        empty_role,
    };

    let mut wrong = Vec::new();
    for (area_name, action_name, expected) in TABLE {
        let area = Area::parse(area_name).unwrap();
        let action = Action::parse(action_name).unwrap();
        for (column, browser) in browsers.iter().enumerate() {
            let who = ROLES[column];
            let got = probe(&app, &fx, browser, area, action).await;
            let Some(got) = got else {
                if !matches!(expected[column], Expect::NoRoute(_)) {
                    wrong.push(format!(
                        "{area_name} {action_name} as {who}: expected {:?}, the console has no probe",
                        expected[column]
                    ));
                }
                continue;
            };
            let outcome = match got.status {
                s if s.is_success() || s == StatusCode::SEE_OTHER => Yes,
                StatusCode::FORBIDDEN => No,
                other => panic!("{area_name} {action_name} as {who}: {other} {}", got.body),
            };
            if outcome != expected[column] {
                wrong.push(format!(
                    "{area_name} {action_name} as {who}: expected {:?}, got {outcome:?} ({})",
                    expected[column], got.status
                ));
            } else if outcome == Yes && !got.changed {
                wrong.push(format!(
                    "{area_name} {action_name} as {who}: answered {} but did not happen: {}",
                    got.status, got.body
                ));
            } else if outcome == No && got.changed {
                wrong.push(format!(
                    "{area_name} {action_name} as {who}: refused, but it happened anyway"
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    app.stop().await;
}

#[tokio::test]
async fn a_team_member_reaches_only_the_items_of_their_assigned_clients() {
    let app = TestApp::spawn().await;
    let firm = app.create_firm("reach").await;
    let team = add_member(&app, &firm, "team@firm.example.com", "team").await;
    let other = add_member(&app, &firm, "other@firm.example.com", "team").await;
    let browser = staff_browser(&app, &firm, &team).await;
    let mine = app
        .add_contact(&firm, "mine@client.example.com", true)
        .await;
    let theirs = app
        .add_contact(&firm, "theirs@client.example.com", true)
        .await;
    assign(&app, &firm, &mine.id, std::slice::from_ref(&team.id)).await;
    assign(&app, &firm, &theirs.id, std::slice::from_ref(&other.id)).await;
    let fx = Fixture {
        firm,
        contact: mine.id.clone(),
        contact_email: mine.email.clone(),
        empty_role: String::new(),
    };

    // Every kind of item, once for each contact.
    let mut pages = Vec::new();
    for contact in [&mine.id, &theirs.id] {
        let task = app
            .store
            .create_task(
                &fx.firm.firm.id,
                &NewTask {
                    title: "Receipts".into(),
                    description: String::new(),
                    due_date: None,
                    portal: false,
                    assignees: vec![contact.clone()],
                    checklist: vec![],
                    account_id: None,
                },
            )
            .await
            .unwrap()
            .0
            .task
            .id;
        let signing = fx
            .firm
            .request_signature(&app, contact, "Letter", "l.pdf", &sample_pdf("x"))
            .await["id"]
            .as_str()
            .unwrap()
            .to_string();
        let conversation = conversation(&app, &fx, contact).await;
        pages.push([
            format!("/staff/contacts/{contact}"),
            format!("/staff/tasks/{task}"),
            format!("/staff/tasks/{task}/edit"),
            format!("/staff/signing/{signing}"),
            format!("/staff/conversations/{conversation}"),
        ]);
    }
    for page in &pages[0] {
        let (status, _) = open(&browser, &app, &fx, page).await;
        assert_eq!(status, StatusCode::OK, "{page} of an assigned client");
    }
    for page in &pages[1] {
        let (status, body) = open(&browser, &app, &fx, page).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{page} of another's client");
        assert!(!body.contains("theirs@client"), "{page} tells nothing");
    }
    // The forms on them too: the other's client's items are not there to change (404).
    let theirs_task = pages[1][1].trim_start_matches("/staff/tasks/").to_string();
    let conversation = pages[1][4].clone();
    for (path, fields) in [
        (
            format!("/staff/contacts/{}", theirs.id),
            vec![("name", "Mine now"), ("email", "theirs@client.example.com")],
        ),
        (
            format!("/staff/tasks/{theirs_task}"),
            vec![
                ("title", "Mine now"),
                ("assignees", "mine@client.example.com"),
            ],
        ),
        (format!("{conversation}/messages"), vec![("body", "Hello")]),
    ] {
        let (status, _) = send(&browser, &app, &fx, &path, &fields).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
    }
    assert_eq!(
        app.stored_contact(&fx.firm.firm.id, &theirs.id).await.name,
        "Test Client"
    );
    // The lists show the member's own clients' items only.
    for list in [
        "/staff/contacts",
        "/staff/tasks",
        "/staff/signing",
        "/staff/conversations",
    ] {
        let (status, body) = open(&browser, &app, &fx, list).await;
        assert_eq!(status, StatusCode::OK, "{list}");
        for page in &pages[1] {
            assert!(!body.contains(page.as_str()), "{list} links to {page}");
        }
    }
    app.stop().await;
}

#[tokio::test]
async fn a_control_the_role_does_not_allow_is_not_on_the_page() {
    let app = TestApp::spawn().await;
    let firm = app.create_firm("controls").await;
    let (status, body) = app
        .api(
            &firm.api_key,
            Method::PATCH,
            "/api/v1/portal",
            Some(json!({"billing_enabled": true, "esign_enabled": true})),
        )
        .await;
    assert!(status.is_success(), "{status} {body}");
    // A role that sees every area and may change nothing.
    let mut everything_seen = Permissions::default();
    for area in Area::ALL {
        everything_seen = everything_seen.with(area, &[Action::View], Scope::All);
    }
    let viewer_role = add_role(&app, &firm, "Viewer", everything_seen).await.id;
    let viewer = add_member(&app, &firm, "viewer@firm.example.com", &viewer_role).await;
    let owner_member = owner(&app, &firm).await;
    let contact = app.add_contact(&firm, "ann@client.example.com", true).await;
    let fx = Fixture {
        firm,
        contact: contact.id.clone(),
        contact_email: contact.email.clone(),
        empty_role: String::new(),
    };
    let task = new_task(&app, &fx, "Receipts").await;
    let conversation = conversation(&app, &fx, &contact.id).await;
    let invoice = new_invoice(&app, &fx).await;
    let role = custom_role(&app, &fx).await;
    let set = new_permission_set(&app, &fx).await;
    let c = &contact.id;
    let account = &contact.account_id;

    // Per area: a page both may open, and the form (or link) of an action only the Owner has.
    let controls: Vec<(&str, String, String)> = vec![
        (
            "contacts",
            format!("/staff/contacts/{c}"),
            format!("action=\"/staff/contacts/{c}/delete\""),
        ),
        (
            "tasks",
            format!("/staff/tasks/{task}"),
            format!("action=\"/staff/tasks/{task}/delete\""),
        ),
        (
            "signing",
            "/staff/signing".into(),
            "/staff/signing/new".into(),
        ),
        (
            "conversations",
            conversation_path(&conversation),
            format!("action=\"/staff/conversations/{conversation}/messages\""),
        ),
        (
            "invoices",
            "/staff/invoices".into(),
            format!("action=\"/staff/invoices/{}/status\"", invoice.id),
        ),
        (
            "portal_settings",
            "/staff/settings/portal".into(),
            "action=\"/staff/settings/portal\"".into(),
        ),
        (
            "team",
            "/staff/team".into(),
            "action=\"/staff/team/invitations\"".into(),
        ),
        (
            "roles",
            format!("/staff/roles/{role}"),
            format!("action=\"/staff/roles/{role}/delete\""),
        ),
        (
            "api_keys",
            "/staff/api-keys".into(),
            "action=\"/staff/api-keys\"".into(),
        ),
        (
            "accounts",
            format!("/staff/accounts/{account}"),
            format!("action=\"/staff/accounts/{account}/contacts\""),
        ),
        (
            "accounts",
            "/staff/accounts".into(),
            "action=\"/staff/accounts\"".into(),
        ),
        (
            "client_permissions",
            format!("/staff/permission-sets/{}", set.id),
            format!("action=\"/staff/permission-sets/{}/delete\"", set.id),
        ),
        (
            "client_permissions",
            format!("/staff/contacts/{c}/placement"),
            "name=\"permission_set\"".into(),
        ),
    ];
    let owner_browser = staff_browser(&app, &fx.firm, &owner_member).await;
    let viewer_browser = staff_browser(&app, &fx.firm, &viewer).await;
    for (area, page, control) in &controls {
        let (status, html) = open(&owner_browser, &app, &fx, page).await;
        assert_eq!(status, StatusCode::OK, "{area}: {page} for the Owner");
        assert!(
            html.contains(control.as_str()),
            "{area}: the Owner has {control}"
        );
        let (status, html) = open(&viewer_browser, &app, &fx, page).await;
        assert_eq!(status, StatusCode::OK, "{area}: {page} for the viewer");
        assert!(
            !html.contains(control.as_str()),
            "{area}: a viewer is shown {control}"
        );
        // The page still carries a token for the forms the viewer has (signing out).
        assert!(csrf_in(&html).is_some(), "{area}: {page}");
    }
    app.stop().await;
}

fn conversation_path(id: &str) -> String {
    format!("/staff/conversations/{id}")
}

#[tokio::test]
async fn replying_to_a_conversation_takes_the_edit_right_as_over_the_api() {
    let app = TestApp::spawn().await;
    let firm = app.create_firm("reply").await;
    let contact = app.add_contact(&firm, "ann@client.example.com", true).await;
    let grants =
        |actions: &[Action]| Permissions::default().with(Area::Conversations, actions, Scope::All);
    let editor = add_role(
        &app,
        &firm,
        "Answers",
        grants(&[Action::View, Action::Edit]),
    )
    .await;
    let creator = add_role(
        &app,
        &firm,
        "Starts",
        grants(&[Action::View, Action::Create]),
    )
    .await;
    let editor = add_member(&app, &firm, "editor@firm.example.com", &editor.id).await;
    let creator = add_member(&app, &firm, "creator@firm.example.com", &creator.id).await;
    let fx = Fixture {
        firm,
        contact: contact.id.clone(),
        contact_email: contact.email.clone(),
        empty_role: String::new(),
    };
    let id = conversation(&app, &fx, &contact.id).await;
    let page = format!("/staff/conversations/{id}");
    let form = format!("action=\"{page}/messages\"");

    // Over the API and in the console alike: edit replies, create alone does not.
    for (member, allowed) in [(&editor, true), (&creator, false)] {
        let browser = staff_browser(&app, &fx.firm, member).await;
        let (status, html) = open(&browser, &app, &fx, &page).await;
        assert_eq!(status, StatusCode::OK, "{}", member.email);
        assert_eq!(
            html.contains(&form),
            allowed,
            "the reply form for {}",
            member.email
        );
        let before = message_count(&app, &fx, &id).await;
        let (status, body) = send(
            &browser,
            &app,
            &fx,
            &format!("{page}/messages"),
            &[("body", "Hi")],
        )
        .await;
        let expected = if allowed {
            StatusCode::SEE_OTHER
        } else {
            StatusCode::FORBIDDEN
        };
        assert_eq!(status, expected, "{}: {body}", member.email);
        let after = message_count(&app, &fx, &id).await;
        assert_eq!(after, before + usize::from(allowed), "{}", member.email);

        let key = portico_e2e::staff::member_key(&app, &fx.firm, member, &member.role_id).await;
        let (status, answer) = app
            .api(
                &key,
                Method::POST,
                &format!("/api/v1/conversations/{id}/messages"),
                Some(json!({"body": "Hi"})),
            )
            .await;
        assert_eq!(
            status.is_success(),
            allowed,
            "API as {}: {status} {answer}",
            member.email
        );
    }
    app.stop().await;
}
