//! Staff members for console tests: a member with a given role, made through the store's own
//! invitation flow (invite, send, accept), and a [`Browser`] signed in as them through a real
//! staff session (the same `sessions::start` the staff sign-in ends with).

use std::sync::Arc;

use portico_gateway::services::sessions::{self, Audience};
use portico_shared::email::Email;
use portico_shared::now_unix;
use portico_shared::policy::BuiltinRole;
use portico_shared::store::Member;
use reqwest::cookie::Jar;
use reqwest::redirect::Policy;

use crate::{Browser, TestApp, TestFirm};

/// The firm's Owner (made with the firm).
pub async fn owner(app: &TestApp, firm: &TestFirm) -> Member {
    app.store
        .members(&firm.firm.id)
        .await
        .expect("members")
        .into_iter()
        .find(|m| m.role_id == BuiltinRole::Owner.id())
        .expect("the firm has an Owner")
}

/// A new member of `firm` with `role_id`, who accepted an invitation from the Owner.
pub async fn member_with_role(
    app: &TestApp,
    firm: &TestFirm,
    email: &str,
    role_id: &str,
) -> Member {
    let owner = owner(app, firm).await;
    let firm_id = &firm.firm.id;
    let invitation = app
        .store
        .create_team_invitation(firm_id, &Email::parse(email).unwrap(), role_id, &owner.id)
        .await
        .expect("invite");
    let sent = app
        .store
        .record_team_invitation_sent(firm_id, &invitation.id, now_unix() + 3600)
        .await
        .expect("send")
        .expect("open invitation");
    app.store
        .accept_team_invitation(firm_id, &invitation.id, sent.version)
        .await
        .expect("accept")
        .expect("accepted")
}

/// A browser with a staff session of `member` in its cookie jar.
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
    .expect("staff session");
    let jar = Arc::new(Jar::default());
    let site = app.url(&firm.firm.slug, "/").parse().expect("firm URL");
    jar.add_cookie_str(
        &format!("{}={}; Path=/", cookie.name(), cookie.value()),
        &site,
    );
    let client = reqwest::Client::builder()
        .cookie_provider(jar)
        .redirect(Policy::none())
        .dns_resolver(Arc::new(crate::ToGateway(app.addr)))
        .build()
        .expect("HTTP client");
    Browser { client }
}
