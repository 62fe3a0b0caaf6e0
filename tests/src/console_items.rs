//! Staff in the console for the work-page suites, until staff sign-in is there to use:
//! members made through the store (an invitation accepted at once), signed in by starting a
//! staff session directly and handing its cookie to a [`Browser`].

use std::sync::Arc;

use portico_gateway::services::sessions::{self, Audience};
use portico_shared::email::Email;
use portico_shared::ids::ContactId;
use portico_shared::policy::{Permissions, Role};
use portico_shared::store::Member;
use reqwest::redirect::Policy;

use crate::{Browser, TestApp, TestFirm};

/// The firm's Owner, as `create_firm` made them.
pub async fn owner(app: &TestApp, firm: &TestFirm) -> Member {
    let email = Email::parse(&format!("owner@{}.example", firm.firm.slug)).unwrap();
    app.store
        .member_by_email(&firm.firm.id, &email)
        .await
        .expect("read the owner")
        .expect("the firm has an Owner")
}

/// A new member with `role_id` (a built-in id or a custom role's).
pub async fn member(app: &TestApp, firm: &TestFirm, email: &str, role_id: &str) -> Member {
    let owner = owner(app, firm).await;
    let store = &app.store;
    let invitation = store
        .create_team_invitation(
            &firm.firm.id,
            &Email::parse(email).unwrap(),
            role_id,
            &owner.id,
        )
        .await
        .expect("invite");
    let sent = store
        .record_team_invitation_sent(&firm.firm.id, &invitation.id, i64::MAX / 2)
        .await
        .expect("send")
        .expect("open invitation");
    store
        .accept_team_invitation(&firm.firm.id, &invitation.id, sent.version)
        .await
        .expect("accept")
        .expect("accepted")
}

/// A custom role of the firm.
pub async fn role(app: &TestApp, firm: &TestFirm, name: &str, permissions: Permissions) -> Role {
    app.store
        .create_role(&firm.firm.id, name, &permissions)
        .await
        .expect("create role")
}

/// Makes `member` look after `contact` (scope "assigned clients").
pub async fn assign(app: &TestApp, firm: &TestFirm, contact: &ContactId, member: &Member) {
    let mut members = app
        .store
        .contact_members(&firm.firm.id, contact)
        .await
        .expect("read assignments");
    members.push(member.id.clone());
    app.store
        .set_contact_members(&firm.firm.id, contact, &members)
        .await
        .expect("assign");
}

/// A browser signed in to the console of `firm` as `member`.
pub async fn signed_in_staff(app: &TestApp, firm: &TestFirm, member: &Member) -> Browser {
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
    let url: url::Url = app.url(&firm.firm.slug, "/").parse().unwrap();
    jar.add_cookie_str(&cookie.to_string(), &url);
    let client = reqwest::Client::builder()
        .cookie_provider(jar)
        .redirect(Policy::none())
        .resolve(&app.host(&firm.firm.slug), app.addr)
        .build()
        .expect("HTTP client");
    Browser { client }
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
