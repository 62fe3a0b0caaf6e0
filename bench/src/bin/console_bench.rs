//! The staff console benchmark: prints figures beside their targets, never fails on them.
//!
//! ```text
//! cargo run --release -p portico-bench --bin console_bench [-- --postgres] [--secs N]
//!     [--contacts N] [--tasks N] [--search QUERY] [--filter QUERY] [--no-build] [--perf DIR]
//! ```
//!
//! In one run, on a fresh SQLite database (or a fresh PostgreSQL one with `--postgres`):
//! 1. seeds firm `bench` with 100,000 contacts (some with portal access, some invited, some
//!    accepted) and 1,000,000 tasks (with assignees), conversations, signing requests and
//!    client activity, a Team member with one contact in a hundred assigned to them; and firm
//!    `small` of the same shape at a hundredth of the size, straight through SQL;
//! 2. runs the real `gateway` binary (release build, rebuilt first under cargo) with the portal
//!    page cache off, signs a client of each firm in to the portal and their Owner and Team
//!    member in to the console, through the real flows;
//! 3. measures, at 8 and then 32 keep-alive connections, the client's `GET /` rendered every
//!    time (the baseline) and each console page: the contact list's first page, a search by
//!    email prefix, a filter, a contact's page and the dashboard (as the Owner), and the
//!    contact list and dashboard as the Team member (scope: assigned clients);
//! 4. runs a second gateway that logs its SQL, takes each console page once in each firm, and
//!    prints the plan of every statement they ran against the seeded database.
//!
//! See BENCH.md ("Console benchmark") for what each figure means.

// The futures of the whole gateway, nested in the benchmark's, are deeper than rustc's
// default limit lets it lay out (a clean build overflows it).
#![recursion_limit = "256"]
#![forbid(unsafe_code)]

use std::fmt::Write as _;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use clap::Parser;
use hyper::StatusCode;
use portico_bench::cli::{self, CommonOptions};
use portico_bench::db::{self, Db, Rng, Seeder, b, iso_date, q, q_opt};
use portico_bench::harness::{self, Deployment, sign_in, staff_sign_in};
use portico_bench::load::{self, Conn, MakeReq, Plan, Req, Target};
use portico_bench::meter::{self, Meter, Phase};
use portico_bench::plans::{firm_range, firm_wide_per_row, statements_by_request, unbounded};
use portico_bench::system::{self, stop_gently};
use portico_shared::ids::{
    ChecklistItemId, ContactId, ConversationId, CustomRoleId, FirmId, MemberId, MessageId,
    SigningRequestId, TaskId, new_id,
};

/// The connection counts every page is measured at.
const CONNECTIONS: [usize; 2] = [8, 32];
const SLUG: &str = "bench";
const SMALL_SLUG: &str = "small";
/// The small firm has this fraction of the big one's contacts and tasks.
const SMALL_DIVISOR: u64 = 100;
/// The portal client's shared tasks (of which the first `CLIENT_OPEN` are open) and unshared
/// ones, in the big firm; the small firm's client has `SMALL_CLIENT_TASKS`, all shared.
const CLIENT_TASKS: usize = 50;
const CLIENT_OPEN: usize = 30;
const CLIENT_UNSHARED: usize = 10;
const SMALL_CLIENT_TASKS: usize = 5;
/// One contact in this many is assigned to the Team member.
const ASSIGNED_EVERY: usize = 100;
/// One contact in this many has a conversation; one in `SIGNING_EVERY` a signing request.
const CONVERSATION_EVERY: usize = 20;
const SIGNING_EVERY: usize = 10;
/// Firms around the two measured, with this many contacts each.
const FILLER_FIRMS: usize = 2_000;
const FILLER_CONTACTS: usize = 5;
/// Client actions recorded per contact, over the last 60 days.
const ACTIVITY_PER_CONTACT: usize = 2;

/// The staff console benchmark: prints figures beside their targets, never fails on them (see
/// BENCH.md).
#[derive(Parser)]
#[command(name = "console_bench")]
struct Cli {
    #[command(flatten)]
    common: CommonOptions,
    /// Contacts of the big firm (the small firm has a hundredth of them)
    #[arg(
        long,
        value_name = "N",
        default_value_t = 100_000,
        value_parser = clap::value_parser!(u64).range(200..=10_000_000),
    )]
    contacts: u64,
    /// Tasks of the big firm (the small firm has a hundredth of them)
    #[arg(
        long,
        value_name = "N",
        default_value_t = 1_000_000,
        value_parser = clap::value_parser!(u64).range(200..=100_000_000),
    )]
    tasks: u64,
    /// The query string of the contact list searched by a prefix of an email address
    #[arg(long, value_name = "QUERY", default_value = "q=a.mar")]
    search: String,
    /// The query string of the filtered contact list (with access, invited, not yet signed in)
    #[arg(long, value_name = "QUERY", default_value = "access=on&invite=invited")]
    filter: String,
}

fn main() -> ExitCode {
    cli::main("console_bench", |cli: Cli| async move {
        harness::gateway_bench(&cli.common, async |deployment| {
            bench(&cli, deployment).await
        })
        .await
    })
}

fn log(message: &str) {
    eprintln!("console_bench: {message}");
}

/// Who signs in where, per firm.
struct Cookies {
    client: String,
    owner: String,
    member: String,
}

/// A console page as measured: who asks for which path, and what the answer must contain.
#[derive(Clone)]
struct Page {
    name: &'static str,
    /// The path, per firm (big, small).
    paths: [String; 2],
    /// As the Team member (scope: assigned clients) rather than the Owner.
    as_member: bool,
    /// Text the big firm's answer must contain.
    must_contain: String,
}

async fn bench(cli: &Cli, deployment: &Deployment<'_>) -> Result<()> {
    let options = &cli.common;
    let started = Instant::now();
    let load_before = system::load_average();
    let scratch = deployment.scratch;
    let database_url = deployment.database_url.as_str();
    // The two firms and their Owners are made by the CLI, like any real firm.
    deployment.create_firm(SLUG, "Bench and Co")?;
    deployment.create_firm(SMALL_SLUG, "Small and Co")?;

    log("seeding…");
    let mut db = Db::connect(database_url).await?;
    let sizes = [
        (cli.contacts as usize, cli.tasks as usize),
        (
            (cli.contacts / SMALL_DIVISOR) as usize,
            (cli.tasks / SMALL_DIVISOR) as usize,
        ),
    ];
    let search_prefix = query_value(&cli.search, "q").unwrap_or_default();
    let seeded = seed(&mut db, sizes, &search_prefix).await?;
    let mut counts = Vec::new();
    for (table, _) in SEEDED {
        counts.push((table, db.count(table).await?));
    }
    let db_size = db.size(database_url).await;
    db.close().await;

    // One gateway serves both the baseline and the console, with the portal's page cache off:
    // every `GET /` is rendered, as after any change to the page.
    let server = deployment
        .start(&[("PORTICO_HOME_CACHE", "off")], "gateway.log")
        .await?;
    let mut redis = portico_shared::redis_conn::connect(&scratch.redis_url)
        .await
        .context("connecting to Redis")?;
    let stream = portico_shared::redis_conn::RedisKeys::new(&scratch.prefix).mail_stream();
    let keys = &deployment.keys;
    let mut cookies = Vec::new();
    for (slug, firm) in [(SLUG, &seeded.firms[0]), (SMALL_SLUG, &seeded.firms[1])] {
        let site = server.site(slug);
        cookies.push(Cookies {
            client: sign_in(&site, &mut redis, &stream, keys, &firm.client_email).await?,
            owner: staff_sign_in(
                &site,
                &mut redis,
                &stream,
                keys,
                &format!("owner@{slug}.example"),
            )
            .await?,
            member: staff_sign_in(&site, &mut redis, &stream, keys, &firm.member_email).await?,
        });
    }

    let pages = pages(cli, &seeded);
    // Pages this build does not serve (404) are left out and named in the report.
    let mut measured_pages = Vec::new();
    let mut missing = Vec::new();
    for page in &pages {
        let cookie = page_cookie(page, &cookies[0]);
        let answer = get_once(&server.site(SLUG), &page.paths[0], cookie).await?;
        match answer.status {
            StatusCode::OK if answer.text().contains(&page.must_contain) => {
                measured_pages.push(page.clone());
            }
            StatusCode::NOT_FOUND => missing.push(format!("{} ({})", page.name, page.paths[0])),
            status => bail!(
                "GET {} answered {status}{}",
                page.paths[0],
                if status == StatusCode::OK {
                    format!(" without {:?}", page.must_contain)
                } else {
                    String::new()
                }
            ),
        }
    }
    let home = home_request(&cookies[0].client, &seeded.firms[0].client_open);
    let answer = get_once(&server.site(SLUG), "/", &cookies[0].client).await?;
    if !home(0, 0).accepts(&answer) {
        bail!(
            "the client's GET / answered {} without its first open task",
            answer.status
        );
    }

    let mut meter = Meter::new(
        "console_bench",
        scratch,
        redis.clone(),
        options.perf.clone(),
    )
    .await?;
    let gateway = meter::Server::gateway(server.process.id());
    let site = server.site(SLUG);
    let mut requests: Vec<(String, MakeReq)> = vec![("portal GET / (rendered)".into(), home)];
    for page in &measured_pages {
        let mut req = Req::get(&page.paths[0]).must_contain(page.must_contain.as_str().into());
        req.cookie = Some(page_cookie(page, &cookies[0]).to_string());
        let req = Arc::new(req);
        let make: MakeReq = Arc::new(move |_, _| clone_req(&req));
        requests.push((page.name.to_string(), make));
    }
    // Each page answered once above; failures under load are the phases' to count.
    log("warming up…");
    for (_, make) in &requests {
        let warm = Plan {
            connections: CONNECTIONS[0],
            duration: Duration::from_secs(1),
            limit: usize::MAX,
        };
        load::run(&site, warm, make.clone()).await?;
    }
    let mut phases = Vec::new();
    for connections in CONNECTIONS {
        let plan = Plan {
            connections,
            duration: options.phase(),
            limit: usize::MAX,
        };
        for (name, make) in &requests {
            phases.push(
                meter
                    .measure(name, gateway, &site, plan, make.clone())
                    .await?,
            );
        }
    }
    let used = server.finish(options.perf.as_deref())?;
    drop(meter);

    // The queries of each console page in each firm, from a gateway that logs its SQL.
    log("collecting the SQL of each page…");
    let mut plan_server = deployment
        .start(
            &[
                ("RUST_LOG", "info,sqlx::query=debug"),
                ("PORTICO_LOG_FORMAT", "json"),
                ("PORTICO_HOME_CACHE", "off"),
            ],
            "gateway-sql.log",
        )
        .await?;
    let mut conn = Conn::open(plan_server.api().addr).await?;
    // A first request in each firm, unlogged, so what a fresh gateway reads once (the firm by
    // its host) is not counted as a page's.
    for (f, slug) in [SLUG, SMALL_SLUG].into_iter().enumerate() {
        let mut req = Req::get("/staff");
        req.cookie = Some(cookies[f].owner.clone());
        conn.send(&plan_server.site(slug), &req).await?;
    }
    for (p, page) in measured_pages.iter().enumerate() {
        for (f, slug) in [SLUG, SMALL_SLUG].into_iter().enumerate() {
            let mut req = Req::get(&page.paths[f]).header("x-request-id", &format!("plan-{p}-{f}"));
            req.cookie = Some(page_cookie(page, &cookies[f]).to_string());
            let answer = conn.send(&plan_server.site(slug), &req).await?;
            if answer.status != StatusCode::OK {
                bail!("GET {} in {slug} answered {}", page.paths[f], answer.status);
            }
        }
    }
    drop(conn);
    // SIGTERM: the gateway drains and flushes its log before exiting.
    stop_gently(&mut plan_server.process)?;
    let logged = statements_by_request(&plan_server.log)?;
    let statements: Vec<[Vec<String>; 2]> = (0..measured_pages.len())
        .map(|p| {
            [0, 1].map(|f| {
                logged
                    .get(&format!("plan-{p}-{f}"))
                    .cloned()
                    .unwrap_or_default()
            })
        })
        .collect();
    if !measured_pages.is_empty() && statements.iter().all(|[big, _]| big.is_empty()) {
        bail!(
            "no SQL statements were logged for the console pages; the log: {}",
            plan_server.log.display()
        );
    }
    let mut distinct: Vec<String> = Vec::new();
    for sql in statements.iter().flatten().flatten() {
        if !distinct.contains(sql) {
            distinct.push(sql.clone());
        }
    }
    let mut db = Db::connect(database_url).await?;
    let mut plans = Vec::new();
    for (n, sql) in distinct.iter().enumerate() {
        plans.push(db.explain(n, sql).await?);
    }
    db.close().await;
    log("measuring the floor of the Team member's pages…");
    let mut db = Db::connect_as_gateway(database_url).await?;
    let floors = floors(&mut db, &seeded.firms[0].member_email).await?;
    db.close().await;

    let report = Report {
        backend: options.backend(),
        phase: options.phase(),
        load_before,
        seeded: &seeded,
        counts: &counts,
        db_size,
        phases: &phases,
        pages: &measured_pages,
        missing: &missing,
        peak_kb: used.peak_kb,
        statements: &statements,
        distinct: &distinct,
        plans: &plans,
        floors: &floors,
        elapsed: started.elapsed(),
    };
    print!("{}", report.render());
    // A page that fails under load (a 503 when it outlasts the gateway's timeout) is a figure
    // too: it is printed as a miss, not turned into a failed run.
    Ok(())
}

/// What a page scoped to a member's clients cannot avoid reading while the database keeps
/// nothing sorted by member: one row per client (or per task) the member looks after, whatever
/// the page shows. Measured as the bare statement, folded to one answer row (`MIN`) so that
/// only the reading is counted: no sorting, transfer, rendering or HTTP.
struct Floor {
    page: &'static str,
    what: &'static str,
    cpu_us: f64,
    rows: usize,
}

async fn floors(db: &mut Db, member_email: &str) -> Result<Vec<Floor>> {
    let member = db
        .text("SELECT id FROM members WHERE email_norm = $1", member_email)
        .await?;
    let firm = db.firm_id(SLUG).await?;
    let today = iso_date(SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs() as i64 / 86_400);
    let binds = [member.as_str(), firm.as_str(), today.as_str()];
    let wall = Duration::from_millis(1500);
    let mut floors = Vec::new();
    for (page, what, read, from) in [
        (
            "contacts, first page (assigned)",
            "the name of each of the member's contacts",
            "MIN(c.name_norm)",
            "FROM contact_members cm CROSS JOIN contacts c \
             WHERE cm.member_id = $1 AND c.id = cm.contact_id",
        ),
        (
            "dashboard (assigned)",
            "the status and due date of each task of the member's contacts (overdue panel)",
            "MIN(t.due_date)",
            "FROM contact_members cm CROSS JOIN task_assignees a CROSS JOIN tasks t \
             WHERE cm.member_id = $1 AND a.firm_id = $2 AND a.contact_id = cm.contact_id \
             AND t.id = a.task_id AND t.status = 'open' AND t.due_date < $3",
        ),
    ] {
        let used = &binds[..db::max_placeholder(from)];
        let (cpu_us, _) = db
            .cpu_per_run(&format!("SELECT {read} {from}"), used, wall)
            .await?;
        let (_, rows) = db
            .cpu_per_run(&format!("SELECT 1 {from}"), used, Duration::ZERO)
            .await?;
        floors.push(Floor {
            page,
            what,
            cpu_us,
            rows,
        });
    }
    Ok(floors)
}

/// The console pages measured, with what each must show in the big firm.
fn pages(cli: &Cli, seeded: &Seeded) -> Vec<Page> {
    let [big, small] = &seeded.firms;
    let both = |path: &str| [path.to_string(), path.to_string()];
    vec![
        Page {
            name: "contacts, first page",
            paths: both("/staff/contacts"),
            as_member: false,
            must_contain: big.first_name.clone(),
        },
        Page {
            name: "contacts, email prefix search",
            paths: both(&format!("/staff/contacts?{}", cli.search)),
            as_member: false,
            must_contain: big.first_found_email.clone(),
        },
        Page {
            name: "contacts, filter",
            paths: both(&format!("/staff/contacts?{}", cli.filter)),
            as_member: false,
            must_contain: big.first_filtered_name.clone(),
        },
        Page {
            name: "a contact's page",
            paths: [
                format!("/staff/contacts/{}", big.client_id),
                format!("/staff/contacts/{}", small.client_id),
            ],
            as_member: false,
            must_contain: big.client_email.clone(),
        },
        Page {
            name: "dashboard",
            paths: both("/staff"),
            as_member: false,
            must_contain: "Bench and Co".into(),
        },
        Page {
            name: "contacts, first page (assigned)",
            paths: both("/staff/contacts"),
            as_member: true,
            must_contain: big.first_assigned_name.clone(),
        },
        Page {
            name: "dashboard (assigned)",
            paths: both("/staff"),
            as_member: true,
            must_contain: "Bench and Co".into(),
        },
    ]
}

fn page_cookie<'c>(page: &Page, cookies: &'c Cookies) -> &'c str {
    if page.as_member {
        &cookies.member
    } else {
        &cookies.owner
    }
}

/// The value of `name` in a query string such as `q=a.mar&x=1`.
fn query_value(query: &str, name: &str) -> Option<String> {
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.to_lowercase())
}

fn clone_req(req: &Req) -> Req {
    let mut copy = Req::get(&req.path);
    copy.cookie = req.cookie.clone();
    copy.must_contain = req.must_contain.clone();
    copy
}

/// The client's home page, which must carry their first open task, so an error page or an
/// empty list is never counted.
fn home_request(cookie: &str, first_open: &str) -> MakeReq {
    let cookie = cookie.to_string();
    let title: Arc<str> = first_open.into();
    Arc::new(move |_, _| {
        let mut req = Req::get("/").must_contain(title.clone());
        req.cookie = Some(cookie.clone());
        req
    })
}

async fn get_once(site: &Target, path: &str, cookie: &str) -> Result<load::Answer> {
    let mut conn = Conn::open(site.addr).await?;
    let mut req = Req::get(path);
    req.cookie = Some(cookie.to_string());
    conn.send(site, &req).await
}

// ---------------------------------------------------------------------------------------
// Seeding.

/// Tables in the order their rows go in (parents first), with the columns seeded.
const SEEDED: [(&str, &str); 15] = [
    ("firms", "id, slug, name, created_at"),
    (
        "roles",
        "id, firm_id, name, permissions, created_at, updated_at",
    ),
    (
        "members",
        "id, firm_id, name, email, email_norm, role_id, created_at, updated_at",
    ),
    (
        "contacts",
        "id, firm_id, name, name_norm, email, email_norm, portal_access, invite_state, \
         last_login_at, created_at, updated_at",
    ),
    (
        "invitations",
        "contact_id, firm_id, sent_at, expires_at, send_count, accepted_at",
    ),
    ("contact_members", "contact_id, member_id, firm_id"),
    (
        "tasks",
        "id, firm_id, title, description, due_date, portal, status, completed_at, \
         completed_by, created_at, updated_at",
    ),
    ("task_assignees", "task_id, contact_id, firm_id"),
    (
        "checklist_items",
        "id, task_id, position, label, done, done_at",
    ),
    (
        "conversations",
        "id, firm_id, contact_id, subject, status, awaiting_reply, created_at, last_message_at",
    ),
    (
        "messages",
        "id, conversation_id, seq, author, body, created_at",
    ),
    (
        "signing_requests",
        "id, firm_id, contact_id, title, document_name, document_size, document_sha256, \
         status, completed_at, created_at",
    ),
    (
        "activity",
        "id, firm_id, contact_id, kind, subject_id, subject, created_at",
    ),
    (
        "permission_sets",
        "id, firm_id, name, base, off, created_at, updated_at",
    ),
    (
        "previews",
        "id, firm_id, contact_id, member_id, member_label, reason, seq, created_at",
    ),
];
const FIRMS_T: usize = 0;
const ROLES_T: usize = 1;
const MEMBERS_T: usize = 2;
const CONTACTS_T: usize = 3;
const INVITATIONS_T: usize = 4;
const ASSIGNED_T: usize = 5;
const TASKS_T: usize = 6;
const ASSIGNEES_T: usize = 7;
const ITEMS_T: usize = 8;
const CONVERSATIONS_T: usize = 9;
const MESSAGES_T: usize = 10;
const SIGNING_T: usize = 11;
const ACTIVITY_T: usize = 12;
const PERMISSION_SETS_T: usize = 13;
const PREVIEWS_T: usize = 14;

const FIRST_NAMES: [&str; 20] = [
    "Adam", "Alice", "Ben", "Chloe", "David", "Emma", "Farid", "Grace", "Hugo", "Ines", "Jack",
    "Karin", "Liam", "Mia", "Noah", "Olga", "Paul", "Rosa", "Sam", "Tara",
];
const LAST_NAMES: [&str; 40] = [
    "Abbott", "Baker", "Bianchi", "Brown", "Costa", "Dubois", "Evans", "Fischer", "Garcia",
    "Hansen", "Ivanova", "Jensen", "Kowalski", "Larsen", "Lopez", "Marquez", "Marsh", "Martin",
    "Meyer", "Moreau", "Nagy", "Novak", "Olsen", "Peters", "Quinn", "Rossi", "Santos", "Schmidt",
    "Silva", "Smith", "Tanaka", "Torres", "Umar", "Vogel", "Walsh", "Weber", "Xu", "Young",
    "Zhang", "Zimmer",
];

/// What one firm was seeded with, to check its pages against.
#[derive(Default)]
struct SeededFirm {
    contacts: usize,
    tasks: usize,
    client_id: String,
    client_email: String,
    /// The portal client's first open shared task, which their `GET /` must show.
    client_open: String,
    member_email: String,
    /// The name the contact list starts with; the first email the search finds; the first name
    /// of the filtered list; the first of the Team member's contacts.
    first_name: String,
    first_found_email: String,
    first_filtered_name: String,
    first_assigned_name: String,
}

struct Seeded {
    firms: [SeededFirm; 2],
    elapsed: Duration,
    /// PostgreSQL: the time of `VACUUM ANALYZE` after the load; SQLite: of the WAL checkpoint.
    settle: Duration,
}

/// The smallest `(key, shown)` so far, by key.
fn keep_min(best: &mut Option<(String, String)>, key: &str, shown: &str) {
    if best.as_ref().is_none_or(|(k, _)| key < k.as_str()) {
        *best = Some((key.to_string(), shown.to_string()));
    }
}

async fn seed(db: &mut Db, sizes: [(usize, usize); 2], search: &str) -> Result<Seeded> {
    let started = Instant::now();
    let slugs = [SLUG, SMALL_SLUG];
    let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs() as i64;
    let today = now / 86_400;
    let mut rng = Rng(0xc0_501e);

    let mut triggers_skipped = false;
    match db {
        Db::Sqlite(_) => db.exec("BEGIN").await?,
        Db::Postgres(_) => {
            db.exec("BEGIN; SET LOCAL synchronous_commit = off").await?;
            // As portal_bench: skip the per-row foreign-key triggers when allowed; what the
            // schema's own triggers keep is derived after the load.
            triggers_skipped = db
                .exec("SAVEPOINT fk; SET LOCAL session_replication_role = replica")
                .await
                .is_ok();
            if !triggers_skipped {
                db.exec("ROLLBACK TO SAVEPOINT fk").await?;
            }
        }
    }
    let mut firm_ids = Vec::new();
    for slug in slugs {
        firm_ids.push(db.firm_id(slug).await?);
    }
    let mut seeder = Seeder::new(db, &SEEDED);
    // Other firms around the two measured, each with a custom role, an Owner and a few
    // contacts assigned to them, a custom permission set and a recorded preview, so the tables
    // of firms, roles, members, assignments, sets and previews have a live database's size (on
    // tiny tables PostgreSQL reads everything, rightly).
    for n in 0..FILLER_FIRMS {
        let firm_id = FirmId::new().to_string();
        let created = now - rng.below(5 * 365 * 86_400) as i64;
        seeder
            .push(
                FIRMS_T,
                format!(
                    "({}, {}, {}, {created})",
                    q(&firm_id),
                    q(&format!("firm{n:05}")),
                    q(&format!("Firm {n}"))
                ),
            )
            .await?;
        seeder
            .push(
                ROLES_T,
                format!(
                    "({}, {}, 'Bookkeeper', {}, {created}, {created})",
                    q(CustomRoleId::new().as_str()),
                    q(&firm_id),
                    q(r#"{"contacts":{"actions":["view"],"scope":"assigned"}}"#)
                ),
            )
            .await?;
        let member_id = MemberId::new().to_string();
        let email = format!("owner@firm{n:05}.example");
        seeder
            .push(
                MEMBERS_T,
                format!(
                    "({}, {}, 'Owner', {}, {}, 'owner', {created}, {created})",
                    q(&member_id),
                    q(&firm_id),
                    q(&email),
                    q(&email)
                ),
            )
            .await?;
        for c in 0..FILLER_CONTACTS {
            let id = ContactId::new().to_string();
            let name = format!("Contact {c} of firm {n}");
            let email = format!("contact{c}.firm{n:05}@example.com");
            seeder
                .push(
                    CONTACTS_T,
                    format!(
                        "({}, {}, {}, {}, {}, {}, FALSE, 'none', NULL, {created}, {created})",
                        q(&id),
                        q(&firm_id),
                        q(&name),
                        q(&name.to_lowercase()),
                        q(&email),
                        q(&email)
                    ),
                )
                .await?;
            seeder
                .push(
                    ASSIGNED_T,
                    format!("({}, {}, {})", q(&id), q(&member_id), q(&firm_id)),
                )
                .await?;
            if c == 0 {
                seeder
                    .push(
                        PREVIEWS_T,
                        format!(
                            "({}, {}, {}, {}, 'Owner', 'Before the invitation', 1, {created})",
                            q(&format!("pv_{}", &id[3..])),
                            q(&firm_id),
                            q(&id),
                            q(&member_id)
                        ),
                    )
                    .await?;
            }
        }
        seeder
            .push(
                PERMISSION_SETS_T,
                format!(
                    "({}, {}, 'No invoices', 'client_staff', {}, {created}, {created})",
                    q(&format!("ps_{}", &firm_id[3..])),
                    q(&firm_id),
                    q(r#"["invoices"]"#)
                ),
            )
            .await?;
    }
    let mut firms: [SeededFirm; 2] = Default::default();
    for (f, ((contact_count, task_count), firm_id)) in sizes.into_iter().zip(&firm_ids).enumerate()
    {
        let slug = slugs[f];
        let out = &mut firms[f];
        out.contacts = contact_count;
        out.tasks = task_count;
        out.member_email = format!("member@{slug}.example");
        let member_id = MemberId::new().to_string();
        seeder
            .push(
                MEMBERS_T,
                format!(
                    "({}, {}, 'Terry Member', {}, {}, 'team', {now}, {now})",
                    q(&member_id),
                    q(firm_id),
                    q(&out.member_email),
                    q(&out.member_email)
                ),
            )
            .await?;

        let (mut first, mut found, mut filtered, mut assigned) = (None, None, None, None);
        let mut contacts = Vec::with_capacity(contact_count);
        for c in 0..contact_count {
            let id = ContactId::new().to_string();
            let (name, email, access, invite) = if c == 0 {
                // The portal client: signed in through their invitation.
                let email = format!("client@{slug}.example");
                ("Zoe Client".to_string(), email, true, "accepted")
            } else {
                let first = FIRST_NAMES[rng.below(FIRST_NAMES.len() as u64) as usize];
                let last = LAST_NAMES[rng.below(LAST_NAMES.len() as u64) as usize];
                let email = format!(
                    "{}.{}{c}@example.com",
                    first[..1].to_lowercase(),
                    last.to_lowercase()
                );
                // Inviting needs access: 60 % have it (a tenth of them never invited, a fifth
                // invited, the rest signed in through their invitation); of the others, a few
                // had it and signed in before it was turned off.
                let access = rng.chance(60);
                let invite = match (access, rng.below(20)) {
                    (true, 0 | 1) => "none",
                    (true, 2..=5) => "invited",
                    (true, _) => "accepted",
                    (false, 0..=2) => "accepted",
                    (false, _) => "none",
                };
                (format!("{first} {last}"), email, access, invite)
            };
            let name_norm = name.to_lowercase();
            let email_norm = email.to_lowercase();
            let created = now - 86_400 - rng.below(3 * 365 * 86_400) as i64;
            let last_login = (invite == "accepted").then(|| now - rng.below(60 * 86_400) as i64);
            seeder
                .push(
                    CONTACTS_T,
                    format!(
                        "({}, {}, {}, {}, {}, {}, {}, {}, {}, {created}, {created})",
                        q(&id),
                        q(firm_id),
                        q(&name),
                        q(&name_norm),
                        q(&email),
                        q(&email_norm),
                        b(access),
                        q(invite),
                        last_login.map_or("NULL".into(), |t| t.to_string())
                    ),
                )
                .await?;
            if invite != "none" {
                let sent = created + 3600;
                seeder
                    .push(
                        INVITATIONS_T,
                        format!(
                            "({}, {}, {sent}, {}, 1, {})",
                            q(&id),
                            q(firm_id),
                            sent + 7 * 86_400,
                            if invite == "accepted" {
                                (sent + 600).to_string()
                            } else {
                                "NULL".into()
                            }
                        ),
                    )
                    .await?;
            }
            if c % ASSIGNED_EVERY == 0 {
                seeder
                    .push(
                        ASSIGNED_T,
                        format!("({}, {}, {})", q(&id), q(&member_id), q(firm_id)),
                    )
                    .await?;
                keep_min(&mut assigned, &format!("{name_norm}\u{0}{id}"), &name);
            }
            keep_min(&mut first, &format!("{name_norm}\u{0}{id}"), &name);
            if access && invite == "invited" {
                keep_min(&mut filtered, &format!("{name_norm}\u{0}{id}"), &name);
            }
            if !search.is_empty()
                && email_norm.starts_with(search)
                && !name_norm.starts_with(search)
            {
                keep_min(&mut found, &email_norm, &email);
            }
            if c == 0 {
                out.client_id = id.clone();
                out.client_email = email;
            }
            contacts.push(id);
        }
        let shown = |best: Option<(String, String)>| best.map(|(_, s)| s).unwrap_or_default();
        out.first_name = shown(first);
        out.first_found_email = shown(found);
        out.first_filtered_name = shown(filtered);
        out.first_assigned_name = shown(assigned);

        // Tasks: the portal client's first (shared, then unshared), then everyone else's.
        let client_tasks = if f == 0 {
            CLIENT_TASKS + CLIENT_UNSHARED
        } else {
            SMALL_CLIENT_TASKS
        };
        for k in 0..task_count {
            let id = TaskId::new().to_string();
            let created = now - 86_400 - rng.below(365 * 86_400) as i64;
            let (contact, title, shared, completed, due_in_days, items) = if k < client_tasks {
                let shared = k < CLIENT_TASKS || f == 1;
                let open = if f == 0 { CLIENT_OPEN } else { 3 };
                let title = if shared {
                    format!("Client task {k:02} quarterly records")
                } else {
                    format!("Internal note {k:02} not for the client")
                };
                let due = (k % 6 != 5).then_some(k as i64 - 10);
                (0, title, shared, shared && k >= open, due, 1 + k % 4)
            } else {
                // 60 % shared, 40 % completed, 70 % with a due date within four months either
                // way (so many open tasks are overdue), 1 in 10 with a three-item checklist.
                let contact = 1 + k % (contact_count - 1);
                let due = rng.chance(70).then(|| rng.below(241) as i64 - 120);
                let items = if rng.chance(10) { 3 } else { 0 };
                (
                    contact,
                    format!("Task {k} for contact {contact}"),
                    rng.chance(60),
                    rng.chance(40),
                    due,
                    items,
                )
            };
            if k == 0 {
                out.client_open = title.clone();
            }
            let completed_at =
                completed.then(|| created + rng.below((now - created) as u64) as i64);
            let due = due_in_days.map(|d| iso_date(today + d));
            seeder
                .push(
                    TASKS_T,
                    format!(
                        "({}, {}, {}, {}, {}, {}, {}, {}, {}, {created}, {})",
                        q(&id),
                        q(firm_id),
                        q(&title),
                        q("Please send the documents listed below."),
                        q_opt(due.as_deref()),
                        b(shared),
                        q(if completed { "completed" } else { "open" }),
                        completed_at.map_or("NULL".into(), |t| t.to_string()),
                        if completed {
                            q(&contacts[contact])
                        } else {
                            "NULL".into()
                        },
                        completed_at.unwrap_or(created),
                    ),
                )
                .await?;
            seeder
                .push(
                    ASSIGNEES_T,
                    format!("({}, {}, {})", q(&id), q(&contacts[contact]), q(firm_id)),
                )
                .await?;
            for position in 0..items {
                let done = completed || position == 0 && rng.chance(50);
                seeder
                    .push(
                        ITEMS_T,
                        format!(
                            "({}, {}, {position}, {}, {}, {})",
                            q(ChecklistItemId::new().as_str()),
                            q(&id),
                            q(&format!("Document {}", position + 1)),
                            b(done),
                            if done {
                                completed_at.unwrap_or(now).to_string()
                            } else {
                                "NULL".into()
                            }
                        ),
                    )
                    .await?;
            }
        }

        for (c, contact) in contacts.iter().enumerate() {
            // Conversations: three of the portal client's, then one contact in twenty; half of
            // them wait for the firm's answer (the client wrote last).
            let conversations = match c {
                0 => 3,
                _ if c % CONVERSATION_EVERY == 1 => 1,
                _ => 0,
            };
            for n in 0..conversations {
                let id = ConversationId::new().to_string();
                let created = now - rng.below(90 * 86_400) as i64;
                let waiting = rng.chance(50);
                seeder
                    .push(
                        CONVERSATIONS_T,
                        format!(
                            "({}, {}, {}, {}, {}, {}, {created}, {})",
                            q(&id),
                            q(firm_id),
                            q(contact),
                            q(&format!("Question {n} about the invoice")),
                            q(if n == 2 { "closed" } else { "open" }),
                            b(waiting),
                            created + 3600
                        ),
                    )
                    .await?;
                let authors = if waiting {
                    ["staff", "client"]
                } else {
                    ["client", "staff"]
                };
                for (seq, author) in authors.into_iter().enumerate() {
                    seeder
                        .push(
                            MESSAGES_T,
                            format!(
                                "({}, {}, {seq}, {}, {}, {})",
                                q(MessageId::new().as_str()),
                                q(&id),
                                q(author),
                                q("Could you have a look at this, please?"),
                                created + 3600 * seq as i64
                            ),
                        )
                        .await?;
                }
            }
            // Signing requests: the client has two pending and one signed; one contact in ten
            // has one, a third of them pending.
            let signing: Vec<&str> = match c {
                0 => vec!["pending", "pending", "signed"],
                _ if c % SIGNING_EVERY == 2 => {
                    vec![if rng.chance(33) { "pending" } else { "signed" }]
                }
                _ => Vec::new(),
            };
            for (n, status) in signing.into_iter().enumerate() {
                let created = now - rng.below(30 * 86_400) as i64;
                seeder
                    .push(
                        SIGNING_T,
                        format!(
                            "({}, {}, {}, {}, {}, 48213, {}, {}, {}, {created})",
                            q(SigningRequestId::new().as_str()),
                            q(firm_id),
                            q(contact),
                            q(&format!("Engagement letter {n}")),
                            q("engagement.pdf"),
                            q(&"ab".repeat(32)),
                            q(status),
                            if status == "signed" {
                                (created + 600).to_string()
                            } else {
                                "NULL".into()
                            }
                        ),
                    )
                    .await?;
            }
            // What the client did lately.
            for _ in 0..ACTIVITY_PER_CONTACT {
                let created = now - rng.below(60 * 86_400) as i64;
                let (kind, subject) = match rng.below(6) {
                    0 => ("signed_in", ""),
                    1 => ("task_completed", "Quarterly records"),
                    2 => ("document_uploaded", "Quarterly records"),
                    3 => ("signed", "Engagement letter"),
                    4 => ("declined", "Engagement letter"),
                    _ => ("request_sent", "Question about the invoice"),
                };
                seeder
                    .push(
                        ACTIVITY_T,
                        format!(
                            "({}, {}, {}, {}, NULL, {}, {created})",
                            q(&new_id("ac")),
                            q(firm_id),
                            q(contact),
                            q(kind),
                            q(subject)
                        ),
                    )
                    .await?;
            }
        }
    }
    seeder.flush().await?;
    if triggers_skipped {
        // What the triggers of migrations 0008 (checklist counts) and 0010 (portal versions)
        // would have written.
        db.exec(
            "UPDATE tasks SET checklist_total = counts.total, checklist_done = counts.done \
             FROM (SELECT task_id, COUNT(*) AS total, COUNT(*) FILTER (WHERE done) AS done \
                   FROM checklist_items GROUP BY task_id) counts \
             WHERE counts.task_id = tasks.id; \
             INSERT INTO portal_versions (firm_id) SELECT id FROM firms ON CONFLICT DO NOTHING",
        )
        .await?;
    }
    db.give_personal_accounts().await?;
    db.exec("COMMIT").await?;
    let elapsed = started.elapsed();

    // Settle as a live database would be (see portal_bench): autovacuum's analyze on
    // PostgreSQL, the WAL checkpointed on SQLite (which the gateway never ANALYZEs).
    let settling = Instant::now();
    match db {
        Db::Sqlite(_) => db.exec("PRAGMA wal_checkpoint(TRUNCATE)").await?,
        Db::Postgres(_) => db.exec("VACUUM ANALYZE").await?,
    }
    Ok(Seeded {
        firms,
        elapsed,
        settle: settling.elapsed(),
    })
}

// ---------------------------------------------------------------------------------------
// The report.

/// Why line `i` of `plan` reads more than a page needs, if it does.
fn flag(plan: &[String], i: usize) -> Option<&'static str> {
    unbounded(&plan[i], plan)
        .or_else(|| firm_wide_per_row(plan, i))
        .or_else(|| firm_range(plan, i))
}

struct Report<'a> {
    backend: &'static str,
    phase: Duration,
    load_before: String,
    seeded: &'a Seeded,
    counts: &'a [(&'a str, i64)],
    db_size: Option<u64>,
    /// The baseline then each page, at each connection count in turn.
    phases: &'a [Phase],
    pages: &'a [Page],
    /// Pages this build does not serve.
    missing: &'a [String],
    peak_kb: Option<u64>,
    /// Per page, the statements of one request in the big and in the small firm.
    statements: &'a [[Vec<String>; 2]],
    distinct: &'a [String],
    plans: &'a [Vec<String>],
    floors: &'a [Floor],
    elapsed: Duration,
}

impl Report<'_> {
    /// CPU µs per request of the gateway and the database (PostgreSQL's backends; on SQLite
    /// that work is the gateway's own).
    fn cpu(phase: &Phase) -> f64 {
        phase.per_request_us(phase.server_cpu + phase.db_cpu.unwrap_or(0.0))
    }

    fn render(&self) -> String {
        let mut out = String::new();
        meter::write_heading(
            &mut out,
            "Portico staff console benchmark",
            self.backend,
            self.phase,
            &self.load_before,
        );
        db::write_seed_summary(
            &mut out,
            self.backend,
            self.seeded.elapsed,
            self.seeded.settle,
            self.db_size,
            self.counts,
        );
        let [big, small] = &self.seeded.firms;
        let _ = writeln!(
            out,
            "firm {SLUG}: {} contacts, {} tasks; firm {SMALL_SLUG}: {} contacts, {} tasks; \
             the Team member of each is assigned one contact in {ASSIGNED_EVERY}; \
             {FILLER_FIRMS} other firms of {FILLER_CONTACTS} contacts",
            big.contacts, big.tasks, small.contacts, small.tasks
        );
        for missing in self.missing {
            let _ = writeln!(out, "not served by this build (404), left out: {missing}");
        }

        meter::write_phases(&mut out, self.phases, 34, "gw");
        meter::write_first_error(&mut out, self.phases);

        let per_level = self.pages.len() + 1;
        if self.phases.len() != per_level * CONNECTIONS.len() {
            return out + "incomplete run\n";
        }
        let levels: Vec<&[Phase]> = self.phases.chunks(per_level).collect();
        let scans: usize = self
            .plans
            .iter()
            .map(|plan| (0..plan.len()).filter(|&i| flag(plan, i).is_some()).count())
            .sum();

        let baseline: Vec<f64> = levels.iter().map(|level| Self::cpu(&level[0])).collect();
        let _ = writeln!(
            out,
            "\nportal GET / rendered every time (the baseline), CPU µs gw+db per request: {}",
            CONNECTIONS
                .iter()
                .zip(&baseline)
                .map(|(c, us)| format!("{us:.0} at {c} connections"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let mut row = meter::Figures::wide(&mut out, 66, 12, 16);
        for (p, page) in self.pages.iter().enumerate() {
            let [on_big, on_small] = &self.statements[p];
            row.row(
                &format!("SQL statements, {}: big vs small firm", page.name),
                format!("{} vs {}", on_big.len(), on_small.len()),
                "equal",
                on_big.len() == on_small.len() && !on_big.is_empty(),
            );
        }
        row.row(
            "plan lines reading a whole table, index or firm",
            scans.to_string(),
            "0",
            scans == 0,
        );
        let failed: usize = self.phases.iter().map(|p| p.stats.errors).sum();
        row.row(
            "failed requests (any phase; the first error is above)",
            failed.to_string(),
            "0",
            failed == 0,
        );
        for (p, page) in self.pages.iter().enumerate() {
            let ratios: Vec<f64> = levels
                .iter()
                .zip(&baseline)
                .map(|(level, base)| Self::cpu(&level[p + 1]) / base)
                .collect();
            row.row(
                &format!("CPU gw+db / portal GET /, {}", page.name),
                ratios
                    .iter()
                    .map(|r| format!("{r:.2}"))
                    .collect::<Vec<_>>()
                    .join(" | "),
                "<= 1 (8 | 32)",
                ratios.iter().all(|r| *r <= 1.0),
            );
        }
        let _ = writeln!(
            out,
            "\nFloor of the Team member's pages: the one statement each cannot avoid while \
             nothing is kept sorted by member, run bare through one connection set up as the \
             gateway's (no sort, no rendering, no HTTP), CPU µs of the database and its caller \
             per run, beside the portal's GET / at 8 connections:"
        );
        for floor in self.floors {
            let _ = writeln!(
                out,
                "  {}: reading {} ({} rows): {:.0} µs = {:.2} × portal GET /",
                floor.page,
                floor.what,
                floor.rows,
                floor.cpu_us,
                floor.cpu_us / baseline[0]
            );
        }
        let _ = writeln!(
            out,
            "\ngateway peak RSS {:.1} MB; run took {:.0} s",
            self.peak_kb.map_or(f64::NAN, |kb| kb as f64 / 1024.0),
            self.elapsed.as_secs_f64()
        );

        let _ = writeln!(
            out,
            "\nQuery plans of the {} distinct statements of the console pages (against the \
             seeded database):",
            self.distinct.len()
        );
        for (n, (sql, plan)) in self.distinct.iter().zip(self.plans).enumerate() {
            let runs: Vec<String> = self
                .pages
                .iter()
                .zip(self.statements)
                .filter_map(|(page, [on_big, on_small])| {
                    let count = |list: &[String]| list.iter().filter(|s| *s == sql).count();
                    let (b, s) = (count(on_big), count(on_small));
                    (b + s > 0).then(|| format!("{} {b}/{s}", page.name))
                })
                .collect();
            let _ = writeln!(
                out,
                "\n[{}] runs per page (big/small firm): {}\n    {sql}",
                n + 1,
                runs.join("; ")
            );
            for (i, line) in plan.iter().enumerate() {
                match flag(plan, i) {
                    Some(why) => writeln!(out, "    | {line}   <-- {why}"),
                    None => writeln!(out, "    | {line}"),
                }
                .ok();
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_are_read_lower_cased() {
        assert_eq!(query_value("q=A.Mar&x=1", "q").as_deref(), Some("a.mar"));
        assert_eq!(query_value("access=off", "q"), None);
    }

    #[test]
    fn the_smallest_key_is_kept() {
        let mut best = None;
        keep_min(&mut best, "b", "B");
        keep_min(&mut best, "a", "A");
        keep_min(&mut best, "c", "C");
        assert_eq!(best, Some(("a".into(), "A".into())));
    }
}
