//! Migration 0011 on a database as 0001–0010 left it: `staff` rows become members (the
//! earliest owner the Owner, other owners Co-owners, staff Team members, ids kept), and API
//! keys are named `legacy`, with the Owner role, acting for the Owner. Then the real migrator
//! accepts the result as migrated and the store works on it.

use portico_e2e::migrations::{SeedIds, migrations_up_to};
use portico_e2e::scratch::Scratch;
use portico_shared::policy::{Action, Area, Intent, decide};
use portico_shared::token::ApiKey;

fn seed_ids() -> SeedIds {
    use portico_shared::ids::{ApiKeyId, FirmId, MemberId};
    SeedIds::new(vec![
        ("fm_two_owners", FirmId::new().to_string()),
        ("fm_only_staff", FirmId::new().to_string()),
        ("st_second_owner", MemberId::new().to_string()),
        ("st_first_owner", MemberId::new().to_string()),
        ("st_early_staff", MemberId::new().to_string()),
        ("st_lone_staff", MemberId::new().to_string()),
        ("ak_two_owners", ApiKeyId::new().to_string()),
        ("ak_only_staff", ApiKeyId::new().to_string()),
    ])
}

/// The expected rows, names replaced by ids, sorted.
fn rows(ids: &SeedIds, rows: &[(&str, &str, &str, &str)]) -> Vec<Row> {
    let mut rows: Vec<Row> = rows
        .iter()
        .map(|(a, b, c, d)| (ids.get(a), ids.get(b), ids.get(c), ids.get(d)))
        .collect();
    rows.sort();
    rows
}

/// Firms as they could stand before 0011, and the keys the CLI had made for them.
const SEED: &str = "
INSERT INTO firms (id, slug, name, created_at) VALUES
    ('fm_two_owners', 'two-owners', 'Two Owners', 1),
    ('fm_only_staff', 'only-staff', 'Only Staff', 1);
INSERT INTO staff (id, firm_id, email, email_norm, role, created_at) VALUES
    ('st_second_owner', 'fm_two_owners', 'Bea@Example.com', 'bea@example.com', 'owner', 20),
    ('st_first_owner', 'fm_two_owners', 'ann@example.com', 'ann@example.com', 'owner', 10),
    ('st_early_staff', 'fm_two_owners', 'cid@example.com', 'cid@example.com', 'staff', 5),
    ('st_lone_staff', 'fm_only_staff', 'dot@example.com', 'dot@example.com', 'staff', 7);
INSERT INTO api_keys (id, firm_id, prefix, key_hash, created_at) VALUES
    ('ak_two_owners', 'fm_two_owners', 'pk_aaaaaaa', 'hash-two-owners', 30),
    ('ak_only_staff', 'fm_only_staff', 'pk_bbbbbbb', 'hash-only-staff', 30);
";

/// What 0011 must make of [`SEED`]: members (id, firm, email, role), keys (id, name, role,
/// member).
const MEMBERS: &[(&str, &str, &str, &str)] = &[
    ("st_early_staff", "fm_two_owners", "cid@example.com", "team"),
    (
        "st_first_owner",
        "fm_two_owners",
        "ann@example.com",
        "owner",
    ),
    ("st_lone_staff", "fm_only_staff", "dot@example.com", "owner"),
    (
        "st_second_owner",
        "fm_two_owners",
        "Bea@Example.com",
        "co_owner",
    ),
];
const KEYS: &[(&str, &str, &str, &str)] = &[
    ("ak_only_staff", "legacy", "owner", "st_lone_staff"),
    ("ak_two_owners", "legacy", "owner", "st_first_owner"),
];

type Row = (String, String, String, String);

macro_rules! migrate_and_check {
    ($pool:expr, $ids:expr) => {{
        let pool = $pool;
        let ids: &SeedIds = $ids;
        for (_, sql) in migrations_up_to(10) {
            sqlx::raw_sql(&sql).execute(&pool).await.unwrap();
        }
        sqlx::raw_sql(&ids.fill(SEED)).execute(&pool).await.unwrap();
        let (_, team) = migrations_up_to(11).pop().unwrap();
        sqlx::raw_sql(&team).execute(&pool).await.unwrap();

        let mut members: Vec<Row> =
            sqlx::query_as("SELECT id, firm_id, email, role_id FROM members")
                .fetch_all(&pool)
                .await
                .unwrap();
        members.sort();
        assert_eq!(members, rows(ids, MEMBERS), "ids kept, roles as ranked");
        let mut keys: Vec<Row> =
            sqlx::query_as("SELECT id, name, role_id, member_id FROM api_keys")
                .fetch_all(&pool)
                .await
                .unwrap();
        keys.sort();
        assert_eq!(keys, rows(ids, KEYS), "legacy keys act for the Owner");
        let (two_owners,): (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM members m JOIN members o ON o.firm_id = m.firm_id \
             WHERE m.role_id = 'owner' AND o.role_id = 'owner' AND o.id <> m.id",
        )
        .fetch_one(&pool)
        .await
        .unwrap();
        assert_eq!(two_owners, 0, "one Owner per firm");

        // The migrator takes the database as 0001–0011 left it, and applies the rest.
        portico_e2e::apply_rest_after!(pool, 11);
        pool.close().await;
    }};
}

#[tokio::test]
async fn staff_become_members_and_keys_act_for_the_owner() {
    let scratch = Scratch::new().await;
    let url = scratch.database_url().to_string();
    let ids = seed_ids();
    portico_e2e::on_raw_pool!(&url, migrate_and_check, &ids);

    // The gateway's own store, and its migrator, take it from here.
    let store = portico_shared::store::open(&url).await.unwrap();
    store.migrate().await.unwrap();
    let auth = store
        .authenticate_api_key("hash-two-owners")
        .await
        .unwrap()
        .expect("the legacy key still authenticates");
    assert_eq!(auth.key_role.id, "owner");
    assert_eq!(auth.member.member.id.to_string(), ids.get("st_first_owner"));
    assert!(auth.member.role.is_owner());
    let actor = portico_shared::policy::Actor::new(
        auth.member.member.id.clone(),
        &auth.member.role,
        Some(&auth.key_role),
    );
    assert!(decide(&actor, Intent::Act(Area::ApiKeys, Action::Delete)).allowed());
    assert!(decide(&actor, Intent::TransferOwnership).allowed());
    let lone = store
        .authenticate_api_key("hash-only-staff")
        .await
        .unwrap()
        .expect("the key of a firm that had only staff");
    assert_eq!(lone.member.member.id.to_string(), ids.get("st_lone_staff"));
    assert!(
        lone.member.role.is_owner(),
        "its only member became the Owner"
    );
    // A key made now still works beside the legacy ones.
    let key = ApiKey::generate();
    store.add_api_key(&auth.firm.id, &key.hash()).await.unwrap();
    assert!(
        store
            .authenticate_api_key(&key.hash().hash)
            .await
            .unwrap()
            .is_some()
    );
    store.close().await;
    scratch.remove().await;
}
