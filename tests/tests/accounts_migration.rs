//! Migration 0014 on a database as 0001–0013 left it: every contact gets a personal client
//! account of its own (named after it, in its firm), and is its `client_manager`; items are
//! shared with no account. Then the real migrator accepts the result as migrated, the store
//! reads the migrated contacts, and the new triggers keep the kept home pages honest.

use std::collections::BTreeSet;

use portico_e2e::migrations::{SeedIds, migrations_up_to};
use portico_e2e::scratch::Scratch;
use portico_shared::client_access::ClientAccess;
use portico_shared::ids::{ClientAccountId, ContactId, FirmId, TaskId};

fn seed_ids() -> SeedIds {
    SeedIds::new(vec![
        ("fm_acme", FirmId::new().to_string()),
        ("fm_north", FirmId::new().to_string()),
        ("ct_ann", ContactId::new().to_string()),
        ("ct_bob", ContactId::new().to_string()),
        ("ct_north_ann", ContactId::new().to_string()),
        ("tk_returns", TaskId::new().to_string()),
    ])
}

/// Two firms as they could stand before 0014; the same person is a client of both.
const SEED: &str = "
INSERT INTO firms (id, slug, name, created_at) VALUES
    ('fm_acme', 'acme', 'Acme', 1),
    ('fm_north', 'north', 'North', 1);
INSERT INTO contacts (id, firm_id, name, email, email_norm, portal_access, created_at, updated_at,
                      name_norm) VALUES
    ('ct_ann', 'fm_acme', '  Ann Archer ', 'ann@example.com', 'ann@example.com', TRUE, 10, 11,
     'ann archer'),
    ('ct_bob', 'fm_acme', 'Bob Baker', 'bob@example.com', 'bob@example.com', FALSE, 20, 20,
     'bob baker'),
    ('ct_north_ann', 'fm_north', 'Ann A.', 'ann@example.com', 'ann@example.com', TRUE, 30, 30,
     'ann a.');
INSERT INTO tasks (id, firm_id, title, portal, created_at, updated_at) VALUES
    ('tk_returns', 'fm_acme', 'Tax returns', TRUE, 40, 40);
INSERT INTO task_assignees (task_id, contact_id, firm_id) VALUES
    ('tk_returns', 'ct_ann', 'fm_acme');
";

/// (contact, its firm, account firm, account name, account name_norm, permission set)
type Row = (String, String, String, String, String, String);

macro_rules! migrate_and_check {
    ($pool:expr, $ids:expr) => {{
        let pool = $pool;
        let ids: &SeedIds = $ids;
        for (_, sql) in migrations_up_to(13) {
            sqlx::raw_sql(&sql).execute(&pool).await.unwrap();
        }
        sqlx::raw_sql(&ids.fill(SEED)).execute(&pool).await.unwrap();
        let (_, accounts) = migrations_up_to(14).pop().unwrap();
        sqlx::raw_sql(&accounts).execute(&pool).await.unwrap();

        let mut rows: Vec<Row> = sqlx::query_as(
            "SELECT c.id, c.firm_id, a.firm_id, a.name, a.name_norm, c.permission_set \
             FROM contacts c JOIN client_accounts a ON a.id = c.account_id",
        )
        .fetch_all(&pool)
        .await
        .unwrap();
        rows.sort();
        let mut expected: Vec<Row> = [
            ("ct_ann", "fm_acme", "  Ann Archer ", "ann archer"),
            ("ct_bob", "fm_acme", "Bob Baker", "bob baker"),
            ("ct_north_ann", "fm_north", "Ann A.", "ann a."),
        ]
        .iter()
        .map(|(contact, firm, name, norm)| {
            (
                ids.get(contact),
                ids.get(firm),
                ids.get(firm),
                name.to_string(),
                norm.to_string(),
                "client_manager".to_string(),
            )
        })
        .collect();
        expected.sort();
        assert_eq!(
            rows, expected,
            "one account per contact, in its firm, named after it"
        );

        let accounts: Vec<(String,)> = sqlx::query_as("SELECT id FROM client_accounts")
            .fetch_all(&pool)
            .await
            .unwrap();
        assert_eq!(accounts.len(), 3, "no account beyond the contacts' own");
        let distinct: BTreeSet<&String> = accounts.iter().map(|(id,)| id).collect();
        assert_eq!(distinct.len(), 3, "each contact's account is its own");
        for (id,) in &accounts {
            assert!(
                ClientAccountId::parse(id).is_some(),
                "{id} has the shape the store reads"
            );
        }
        let (shared,): (i64,) = sqlx::query_as(
            "SELECT (SELECT COUNT(*) FROM tasks WHERE account_id IS NOT NULL) \
                  + (SELECT COUNT(*) FROM invoices WHERE account_id IS NOT NULL) \
                  + (SELECT COUNT(*) FROM conversations WHERE account_id IS NOT NULL) \
                  + (SELECT COUNT(*) FROM signing_requests WHERE account_id IS NOT NULL)",
        )
        .fetch_one(&pool)
        .await
        .unwrap();
        assert_eq!(shared, 0, "existing items stay assigned to contacts only");

        // The migrator takes the database as 0001–0014 left it, and applies the rest.
        portico_e2e::apply_rest_after!(pool, 14);
        pool.close().await;
    }};
}

#[tokio::test]
async fn every_contact_becomes_manager_of_a_personal_account() {
    let scratch = Scratch::new().await;
    let url = scratch.database_url().to_string();
    let ids = seed_ids();
    portico_e2e::on_raw_pool!(&url, migrate_and_check, &ids);

    // The gateway's own store reads the migrated contacts, with their resolved access.
    let store = portico_shared::store::open(&url).await.unwrap();
    store.migrate().await.unwrap();
    let acme = FirmId::parse(&ids.get("fm_acme")).unwrap();
    let north = FirmId::parse(&ids.get("fm_north")).unwrap();
    let ann = ContactId::parse(&ids.get("ct_ann")).unwrap();
    let bob = ContactId::parse(&ids.get("ct_bob")).unwrap();
    let session = store
        .session_contact(&acme, &ann)
        .await
        .unwrap()
        .expect("the migrated contact signs in");
    assert_eq!(session.access, ClientAccess::manager());
    assert_eq!(session.contact.permission_set, "client_manager");
    assert!(session.other_companies, "the same address at North");
    let bob_contact = store.contact(&acme, &bob).await.unwrap().unwrap();
    assert_ne!(bob_contact.account_id, session.contact.account_id);
    assert!(
        store.session_contact(&north, &ann).await.unwrap().is_none(),
        "still one firm's contact"
    );

    // Moving a contact into a colleague's account changes what a manager's page shows: the
    // firm's portal version moves (migration 0014's trigger), and they join as client staff.
    let before = session.portal_version.expect("acme has a version row");
    let patch = portico_shared::store::ContactPatch {
        account_id: Some(session.contact.account_id.clone()),
        ..Default::default()
    };
    let moved = store
        .update_contact(&acme, &bob, &patch)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(moved.account_id, session.contact.account_id);
    assert_eq!(moved.permission_set, "client_staff");
    let after = store
        .session_contact(&acme, &ann)
        .await
        .unwrap()
        .unwrap()
        .portal_version
        .unwrap();
    assert!(after > before, "moving a contact bumps the portal version");
    store.close().await;
    scratch.remove().await;
}
