//! Helpers for the staff console and the team: members made through the store's own
//! invitation path, staff sign-in as a browser does it, and API keys acting for a member.

use portico_shared::email::Email;
use portico_shared::now_unix;
use portico_shared::store::Member;
use portico_shared::token::ApiKey;
use reqwest::StatusCode;

use crate::{Browser, TestApp, TestFirm};

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
