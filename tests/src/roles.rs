//! Team members with roles, and API keys acting for them, made straight through the store:
//! what the role and scope tests start from.

use portico_shared::ids::MemberId;
use portico_shared::policy::Permissions;
use portico_shared::token::ApiKey;

use crate::{TestApp, TestFirm, staff, unique};

/// A member of a test firm and an API key acting for them.
pub struct TestMember {
    pub id: MemberId,
    pub key: String,
}

/// The firm's Owner (every test firm has one, made with the firm).
pub async fn owner(app: &TestApp, firm: &TestFirm) -> MemberId {
    staff::owner(app, firm).await.id
}

/// A new member holding `role_id`, made the way the console makes them: an invitation,
/// sent and accepted.
pub async fn add_member(app: &TestApp, firm: &TestFirm, role_id: &str) -> MemberId {
    let email = format!("{}@staff.example.com", unique("m"));
    staff::add_member(app, firm, &email, role_id).await.id
}

/// An API key with `role_id`, acting for `member`; the key as its holder sends it.
pub async fn add_key(app: &TestApp, firm: &TestFirm, member: &MemberId, role_id: &str) -> String {
    let key = ApiKey::generate();
    app.state()
        .store
        .create_api_key(&firm.firm.id, "test", role_id, member, &key.hash())
        .await
        .unwrap();
    key.expose().to_string()
}

/// A new member holding `role_id`, with a key of the same role.
pub async fn member_with_key(app: &TestApp, firm: &TestFirm, role_id: &str) -> TestMember {
    let id = add_member(app, firm, role_id).await;
    let key = add_key(app, firm, &id, role_id).await;
    TestMember { id, key }
}

/// A custom role of the firm; its id.
pub async fn custom_role(app: &TestApp, firm: &TestFirm, permissions: &Permissions) -> String {
    app.state()
        .store
        .create_role(&firm.firm.id, &unique("role"), permissions)
        .await
        .unwrap()
        .id
}

pub use crate::staff::assign;
