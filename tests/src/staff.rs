//! Helpers for the staff console and the team: members made through the store's own
//! invitation path, custom roles and assignments, a browser with a staff session (started by
//! the gateway's own session service, as sign-in ends), staff sign-in as a browser does it,
//! and API keys acting for a member.

use std::sync::Arc;

use portico_gateway::services::sessions::{self, Audience};
use portico_shared::email::Email;
use portico_shared::ids::{ContactId, MemberId};
use portico_shared::now_unix;
use portico_shared::policy::{Permissions, Role};
use portico_shared::store::Member;
use portico_shared::token::ApiKey;
use reqwest::StatusCode;
use reqwest::redirect::Policy;

use crate::{Browser, TestApp, TestFirm, ToGateway};

/// The firm's Owner (every test firm has one: `owner@{slug}.example`).
pub async fn owner(app: &TestApp, firm: &TestFirm) -> Member {
    app.store
        .members(&firm.firm.id)
        .await
        .expect("members")
        .into_iter()
        .find(|m| m.role_id == "owner")
        .expect("the firm has an Owner")
}

/// Adds a member with `role_id`, as an accepted invitation of the Owner's.
pub async fn add_member(app: &TestApp, firm: &TestFirm, email: &str, role_id: &str) -> Member {
    let owner = owner(app, firm).await;
    let email = Email::parse(email).expect("an address");
    let invitation = app
        .store
        .create_team_invitation(&firm.firm.id, &email, role_id, &owner.id)
        .await
        .expect("invite");
    let sent = app
        .store
        .record_team_invitation_sent(&firm.firm.id, &invitation.id, now_unix() + 3600)
        .await
        .expect("record sent")
        .expect("open");
    app.store
        .accept_team_invitation(&firm.firm.id, &invitation.id, sent.version)
        .await
        .expect("accept")
        .expect("accepted")
}

/// A custom role of `firm` granting `permissions`.
pub async fn add_role(
    app: &TestApp,
    firm: &TestFirm,
    name: &str,
    permissions: Permissions,
) -> Role {
    app.store
        .create_role(&firm.firm.id, name, &permissions)
        .await
        .expect("create a role")
}

/// Assigns `contact` to `members` (replacing earlier assignments).
pub async fn assign(app: &TestApp, firm: &TestFirm, contact: &ContactId, members: &[MemberId]) {
    app.store
        .set_contact_members(&firm.firm.id, contact, members)
        .await
        .expect("assign members");
}

/// A browser signed in to `firm`'s console as `member`: a staff session started by the
/// gateway's own session service, its cookie in the browser's jar.
pub async fn staff_browser(app: &TestApp, firm: &TestFirm, member: &Member) -> Browser {
    let cookie = sessions::start(
        app.state(),
        Audience::Staff,
        None,
        &firm.firm.id,
        member.id.as_str(),
        member.auth_epoch,
    )
    .await
    .expect("start a staff session");
    let jar = Arc::new(reqwest::cookie::Jar::default());
    let origin: url::Url = app.url(&firm.firm.slug, "/").parse().expect("firm URL");
    jar.add_cookie_str(
        &format!("{}={}; Path=/", cookie.name(), cookie.value()),
        &origin,
    );
    let client = reqwest::Client::builder()
        .cookie_provider(jar)
        .redirect(Policy::none())
        .dns_resolver(Arc::new(ToGateway(app.addr)))
        .build()
        .expect("HTTP client");
    Browser { client }
}

/// A new member with `role_id`, and a browser signed in as them.
pub async fn signed_in_member(
    app: &TestApp,
    firm: &TestFirm,
    email: &str,
    role_id: &str,
) -> (Member, Browser) {
    let member = add_member(app, firm, email, role_id).await;
    let browser = staff_browser(app, firm, &member).await;
    (member, browser)
}

/// The Owner, and a browser signed in as them.
pub async fn signed_in_owner(app: &TestApp, firm: &TestFirm) -> (Member, Browser) {
    let member = owner(app, firm).await;
    let browser = staff_browser(app, firm, &member).await;
    (member, browser)
}

/// The `Location` of a redirect.
pub fn location(response: &reqwest::Response) -> String {
    response
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

/// The member as stored now, if still there.
pub async fn stored_member(app: &TestApp, firm: &TestFirm, id: &str) -> Option<Member> {
    let id = portico_shared::ids::MemberId::parse(id).expect("a member id");
    app.store.member(&firm.firm.id, &id).await.expect("member")
}

/// An API key with `role_id`, acting for `member`.
pub async fn member_key(app: &TestApp, firm: &TestFirm, member: &Member, role_id: &str) -> String {
    let key = ApiKey::generate();
    app.store
        .create_api_key(&firm.firm.id, "test", role_id, &member.id, &key.hash())
        .await
        .expect("create key");
    key.expose().to_string()
}

impl Browser {
    /// Fills in the staff login form.
    pub async fn request_staff_link(
        &self,
        app: &TestApp,
        slug: &str,
        email: &str,
    ) -> reqwest::Response {
        let login = app.url(slug, "/staff/login");
        let csrf = self.csrf(&login).await;
        self.post_form(&login, &[("email", email), ("csrf", &csrf)])
            .await
    }

    /// Opens a staff link, then types `code` into the page it shows.
    pub async fn enter_staff_code(
        &self,
        app: &TestApp,
        slug: &str,
        token: &str,
        code: &str,
    ) -> reqwest::Response {
        let page = format!("{}?token={token}", app.url(slug, "/staff/auth/magic"));
        let (_, html) = self.get_text(&page).await;
        // A page without a form (a refusal) still gives a token to post with.
        let csrf = match crate::csrf_in(&html) {
            Some(csrf) => csrf,
            None => self.csrf(&app.url(slug, "/staff/login")).await,
        };
        self.post_form(
            &app.url(slug, "/staff/auth/magic"),
            &[("token", token), ("code", code), ("csrf", &csrf)],
        )
        .await
    }

    /// Whether this browser is signed in to the console as someone (the account page opens).
    pub async fn staff_email(&self, app: &TestApp, slug: &str) -> Option<String> {
        let response = self.get(&app.url(slug, "/staff/account")).await;
        if response.status() != StatusCode::OK {
            return None;
        }
        let html = response.text().await.expect("body");
        let start = html.find("You sign in with <strong>")? + "You sign in with <strong>".len();
        let end = html[start..].find("</strong>")?;
        Some(html[start..start + end].to_string())
    }

    /// Signs out of the console with the account page's form.
    pub async fn staff_logout(&self, app: &TestApp, slug: &str) -> reqwest::Response {
        let csrf = self.csrf(&app.url(slug, "/staff/account")).await;
        self.post_form(&app.url(slug, "/staff/logout"), &[("csrf", &csrf)])
            .await
    }

    /// Posts a console form of `page` (for its CSRF token) to `action`.
    pub async fn staff_post(
        &self,
        app: &TestApp,
        slug: &str,
        page: &str,
        action: &str,
        fields: &[(&str, &str)],
    ) -> reqwest::Response {
        let csrf = self.csrf(&app.url(slug, page)).await;
        let mut form: Vec<(&str, &str)> = vec![("csrf", &csrf)];
        form.extend_from_slice(fields);
        self.post_form(&app.url(slug, action), &form).await
    }
}

impl TestApp {
    /// A browser signed in to the console as `email`, through the one-click link it asked for.
    pub async fn staff_signed_in(&self, firm: &TestFirm, email: &str) -> Browser {
        let browser = self.browser();
        browser
            .request_staff_link(self, &firm.firm.slug, email)
            .await;
        let mail = self
            .last_link(email)
            .await
            .expect("a staff login link was mailed");
        let response = browser.get(&mail.link).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "staff signed in");
        browser
    }
}
