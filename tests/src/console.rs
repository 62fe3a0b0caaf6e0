//! Staff in the console, for tests written before staff sign-in exists: a member made through
//! the store (an invitation accepted at its current version, as sign-in will do), and a
//! [`Browser`] holding a staff session started for them by the gateway's own session service.

use std::net::SocketAddr;
use std::sync::Arc;

use portico_gateway::services::sessions::{self, Audience};
use portico_shared::email::Email;
use portico_shared::ids::{ContactId, MemberId};
use portico_shared::now_unix;
use portico_shared::policy::{BuiltinRole, Permissions};
use portico_shared::store::Member;
use reqwest::redirect::Policy;

use crate::{Browser, TestApp, TestFirm};

/// The firm's Owner (made with the firm).
pub async fn owner(app: &TestApp, firm: &TestFirm) -> Member {
    app.store
        .members(&firm.firm.id)
        .await
        .expect("list members")
        .into_iter()
        .find(|m| m.role_id == BuiltinRole::Owner.id())
        .expect("the firm has an Owner")
}

/// A new member of `firm` with the role `role_id` (built-in or custom).
pub async fn add_member(app: &TestApp, firm: &TestFirm, email: &str, role_id: &str) -> Member {
    let owner = owner(app, firm).await;
    let invitation = app
        .store
        .create_team_invitation(
            &firm.firm.id,
            &Email::parse(email).expect("a valid email"),
            role_id,
            &owner.id,
        )
        .await
        .expect("invite a member");
    let sent = app
        .store
        .record_team_invitation_sent(&firm.firm.id, &invitation.id, now_unix() + 3600)
        .await
        .expect("note the invitation sent")
        .expect("the invitation is open");
    app.store
        .accept_team_invitation(&firm.firm.id, &invitation.id, sent.version)
        .await
        .expect("accept the invitation")
        .expect("the invitation is accepted")
}

/// A custom role of `firm` granting `permissions`; its id.
pub async fn add_role(app: &TestApp, firm: &TestFirm, name: &str, permissions: Permissions) -> String {
    app.store
        .create_role(&firm.firm.id, name, &permissions)
        .await
        .expect("create a role")
        .id
}

/// Assigns `contact` to `members` (replacing earlier assignments).
pub async fn assign(app: &TestApp, firm: &TestFirm, contact: &ContactId, members: &[MemberId]) {
    app.store
        .set_contact_members(&firm.firm.id, contact, members)
        .await
        .expect("assign members");
}

struct ToGateway(SocketAddr);

impl reqwest::dns::Resolve for ToGateway {
    fn resolve(&self, _name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let addr = self.0;
        Box::pin(async move {
            let addrs: reqwest::dns::Addrs = Box::new(std::iter::once(addr));
            Ok(addrs)
        })
    }
}

/// A browser signed in to `firm`'s console as `member`.
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
    jar.add_cookie_str(&format!("{}={}; Path=/", cookie.name(), cookie.value()), &origin);
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
