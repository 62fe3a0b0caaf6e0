//! The portal home benchmark: prints figures beside their targets, never fails on them.
//!
//! ```text
//! cargo run --release -p portico-bench --bin portal_bench [-- --postgres] [--secs N] [--no-build]
//!     [--perf DIR]
//! ```
//!
//! In one run, on a fresh SQLite database (or a fresh PostgreSQL one with `--postgres`):
//! 1. seeds 10,000 firms, 50,000 contacts and 1,000,000 tasks (with assignees, checklists,
//!    conversations and signing requests) straight through SQL; one client of firm `bench`
//!    has 50 shared tasks, one client of firm `small` has 5;
//! 2. runs the real `gateway` binary (release build, rebuilt first under cargo), signs both
//!    clients in through the real flow, and checks their home pages;
//! 3. measures `GET /healthz`, `GET /` of the 50-task client, and `GET /healthz` again, each
//!    on 32 keep-alive connections;
//! 4. runs a second gateway that logs its SQL, takes one `GET /` of each client, and prints
//!    the plan of every statement it ran against the seeded database; then one of each of the
//!    client's other pages (a task, a request, a signing request, People), and prints how many
//!    statements each page ran for each client. Both clients are client managers: the 50-task
//!    client of an account of [`ACCOUNT_SIZE`] contacts, the 5-task client of one of their
//!    own, so the counts show that no page's statements grow with the account.
//!
//! See BENCH.md ("Portal home benchmark") for what each figure means.

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
use portico_bench::harness::{self, Deployment, sign_in};
use portico_bench::load::{self, Conn, MakeReq, Plan, Req, Target};
use portico_bench::meter::{self, Meter, Phase};
use portico_bench::plans::{statements_by_request, unbounded};
use portico_bench::system::{self, stop_gently};
use portico_shared::ids::{
    ChecklistItemId, ClientAccountId, ContactId, ConversationId, FirmId, MessageId,
    SigningRequestId, TaskId,
};

/// Concurrent connections of the measured phases.
const CONNECTIONS: usize = 32;
const FIRMS: usize = 10_000;
const TASKS: usize = 1_000_000;
const CONTACTS_PER_FIRM: usize = 5;
/// The measured client's shared tasks, of which the first `CLIENT_OPEN` are open.
const CLIENT_TASKS: usize = 50;
const CLIENT_OPEN: usize = 30;
/// Tasks assigned to the measured client but not shared: they must never show.
const CLIENT_UNSHARED: usize = 10;
/// The second client's shared tasks (3 open, 2 completed), to show the query count is the same.
const SMALL_TASKS: usize = 5;
/// Contacts in the measured client's account (the client and colleagues with no work of
/// their own, so the page shows what it showed before accounts); the small client's has one.
const ACCOUNT_SIZE: usize = 20;
const SLUG: &str = "bench";
const SMALL_SLUG: &str = "small";
const CLIENT_EMAIL: &str = "client@bench.example";
const SMALL_EMAIL: &str = "client@small.example";
/// Over this share of failed requests in a phase, its figures mean nothing: the run fails.
const MAX_ERROR_RATE: f64 = 0.01;

const TARGET_P99_MS: f64 = 20.0;
const TARGET_RATIO: f64 = 0.25;

/// The portal home benchmark: prints figures beside their targets, never fails on them (see
/// BENCH.md).
#[derive(Parser)]
#[command(name = "portal_bench")]
struct Cli {
    #[command(flatten)]
    common: CommonOptions,
}

fn main() -> ExitCode {
    cli::main("portal_bench", |cli: Cli| async move {
        let options = &cli.common;
        harness::gateway_bench(options, async |deployment| bench(options, deployment).await).await
    })
}

fn log(message: &str) {
    eprintln!("portal_bench: {message}");
}

async fn bench(options: &CommonOptions, deployment: &Deployment<'_>) -> Result<()> {
    let started = Instant::now();
    let load_before = system::load_average();
    let scratch = deployment.scratch;
    let database_url = deployment.database_url.as_str();
    // The two firms whose clients sign in are made by the CLI, like any real firm.
    deployment.create_firm(SLUG, "Bench and Co")?;
    deployment.create_firm(SMALL_SLUG, "Small and Co")?;

    log("seeding…");
    let mut db = Db::connect(database_url).await?;
    let seeded = seed(&mut db).await?;
    let mut counts = Vec::new();
    for table in SEEDED_TABLES {
        counts.push((table, db.count(table).await?));
    }
    let db_size = db.size(database_url).await;
    db.close().await;

    // The gateway, logging as it would by default, into a file.
    let server = deployment.start(&[], "gateway.log").await?;
    let api = server.api();

    let mut redis = portico_shared::redis_conn::connect(&scratch.redis_url)
        .await
        .context("connecting to Redis")?;
    let stream = portico_shared::redis_conn::RedisKeys::new(&scratch.prefix).mail_stream();
    let keys = &deployment.keys;
    let client = sign_in(&server.site(SLUG), &mut redis, &stream, keys, CLIENT_EMAIL).await?;
    let small = sign_in(
        &server.site(SMALL_SLUG),
        &mut redis,
        &stream,
        keys,
        SMALL_EMAIL,
    )
    .await?;
    check_home(&server.site(SLUG), &client, &seeded.client).await?;
    check_home(&server.site(SMALL_SLUG), &small, &seeded.small).await?;

    // A second gateway on the same database, Redis and keys (so the same session cookie
    // works), with the page cache off: what a page costs when anything on it has changed.
    let render_server = deployment
        .start(&[("PORTICO_HOME_CACHE", "off")], "gateway-render.log")
        .await?;

    let mut meter =
        Meter::new("portal_bench", scratch, redis.clone(), options.perf.clone()).await?;
    let measured = meter::Server::gateway(server.process.id());
    let measured_render = meter::Server::gateway(render_server.process.id());
    let healthz: MakeReq = Arc::new(|_, _| Req::get("/healthz"));
    let home: MakeReq = {
        let cookie = client.clone();
        // Every answer must carry the client's first open task, so an error page or an empty
        // list is never counted.
        let title: Arc<str> = seeded.client.open[0].as_str().into();
        Arc::new(move |_, _| {
            let mut req = Req::get("/").must_contain(title.clone());
            req.cookie = Some(cookie.clone());
            req
        })
    };
    let plan = Plan {
        connections: CONNECTIONS,
        duration: options.phase(),
        limit: usize::MAX,
    };
    let warm = Plan {
        duration: Duration::from_secs(2).min(options.phase()),
        ..plan
    };
    log("warming up…");
    load::run(&api, warm, healthz.clone()).await?;
    for target in [server.site(SLUG), render_server.site(SLUG)] {
        let warm_home = load::run(&target, warm, home.clone()).await?;
        if warm_home.error_rate() > MAX_ERROR_RATE {
            bail!("GET / fails: {}", warm_home.first_error.unwrap_or_default());
        }
    }
    let mut phases = Vec::new();
    for (name, server, target, make) in [
        ("GET /healthz (before)", measured, api.clone(), &healthz),
        (
            "GET / (50 shared tasks)",
            measured,
            server.site(SLUG),
            &home,
        ),
        (
            "GET / rendered every time",
            measured_render,
            render_server.site(SLUG),
            &home,
        ),
        ("GET /healthz (after)", measured, api.clone(), &healthz),
    ] {
        phases.push(
            meter
                .measure(name, server, &target, plan, make.clone())
                .await?,
        );
    }
    drop(render_server);
    let used = server.finish(options.perf.as_deref())?;
    drop(meter);

    // The queries of one GET / of each client, from a gateway that logs its SQL.
    log("collecting the SQL of GET /…");
    let mut plan_server = deployment
        .start(
            &[
                ("RUST_LOG", "info,sqlx::query=debug"),
                ("PORTICO_LOG_FORMAT", "json"),
            ],
            "gateway-sql.log",
        )
        .await?;
    let mut conn = Conn::open(plan_server.api().addr).await?;
    for (request_id, slug, cookie) in [("plan-50", SLUG, &client), ("plan-5", SMALL_SLUG, &small)] {
        let mut req = Req::get("/").header("x-request-id", request_id);
        req.cookie = Some(cookie.clone());
        let answer = conn.send(&plan_server.site(slug), &req).await?;
        if answer.status != StatusCode::OK {
            bail!("GET / for the query log answered {}", answer.status);
        }
    }
    // Each other page once per client, the account of ACCOUNT_SIZE against the account of one.
    let pages = page_kinds(&seeded)?;
    for (kind, big_path, small_path) in &pages {
        for (who, slug, cookie, path) in [
            ("big", SLUG, &client, big_path),
            ("small", SMALL_SLUG, &small, small_path),
        ] {
            let mut req = Req::get(path).header("x-request-id", &format!("page-{kind}-{who}"));
            req.cookie = Some(cookie.clone());
            let answer = conn.send(&plan_server.site(slug), &req).await?;
            if answer.status != StatusCode::OK {
                bail!("GET {path} for the query log answered {}", answer.status);
            }
        }
    }
    drop(conn);
    // SIGTERM: the gateway drains and flushes its log before exiting.
    stop_gently(&mut plan_server.process)?;
    let statements = statements_by_request(&plan_server.log)?;
    let of = |id: &str| statements.get(id).cloned().unwrap_or_default();
    let (big, small_list) = (of("plan-50"), of("plan-5"));
    let per_page: Vec<(String, usize, usize)> = pages
        .iter()
        .map(|(kind, _, _)| {
            let count = |who: &str| of(&format!("page-{kind}-{who}")).len();
            (kind.to_string(), count("big"), count("small"))
        })
        .collect();
    if big.is_empty() {
        bail!(
            "no SQL statements were logged for GET /; the log: {}",
            plan_server.log.display()
        );
    }
    let mut distinct: Vec<String> = Vec::new();
    for sql in big.iter().chain(&small_list) {
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

    let report = Report {
        backend: options.backend(),
        phase: options.phase(),
        load_before,
        seeded: &seeded,
        counts: &counts,
        db_size,
        phases: &phases,
        peak_kb: used.peak_kb,
        big: &big,
        small: &small_list,
        distinct: &distinct,
        plans: &plans,
        per_page: &per_page,
        elapsed: started.elapsed(),
    };
    print!("{}", report.render());

    meter::ensure_meaningful(&phases, MAX_ERROR_RATE)
}

/// The pages besides `GET /` whose statements are counted: (kind, the measured client's path,
/// the small client's path), both clients client managers of their accounts.
fn page_kinds(seeded: &Seeded) -> Result<Vec<(&'static str, String, String)>> {
    let kinds = ["GET /tasks/{id}", "GET /requests/{id}", "GET /sign/{id}"];
    let (big, small) = (&seeded.client.pages, &seeded.small.pages);
    if big.len() != kinds.len() || small.len() != kinds.len() {
        bail!("the seed made pages {big:?} and {small:?}, not one of each of {kinds:?}");
    }
    let mut pages: Vec<_> = kinds
        .into_iter()
        .zip(big.iter().zip(small))
        .map(|(kind, (b, s))| (kind, b.clone(), s.clone()))
        .collect();
    pages.push(("GET /people", "/people".into(), "/people".into()));
    Ok(pages)
}

/// Fetches the home page once and checks it shows what the client may see and nothing else.
async fn check_home(site: &Target, cookie: &str, client: &ClientTasks) -> Result<()> {
    let mut conn = Conn::open(site.addr).await?;
    let mut req = Req::get("/");
    req.cookie = Some(cookie.to_string());
    let answer = conn.send(site, &req).await?;
    if answer.status != StatusCode::OK {
        bail!("GET / on {} answered {}", site.host, answer.status);
    }
    let html = answer.text();
    if let Some(missing) = client.open.iter().find(|t| !html.contains(t.as_str())) {
        bail!("GET / on {} lacks the open task {missing:?}", site.host);
    }
    if !client.completed.iter().any(|t| html.contains(t.as_str())) {
        bail!("GET / on {} shows none of the completed tasks", site.host);
    }
    if let Some(leak) = client.unshared.iter().find(|t| html.contains(t.as_str())) {
        bail!("GET / on {} shows the unshared task {leak:?}", site.host);
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Seeding.

/// Tables in the order their rows go in (parents first), with the columns seeded.
const SEEDED: [(&str, &str); 9] = [
    ("firms", "id, slug, name, created_at"),
    (
        "client_accounts",
        "id, firm_id, name, name_norm, created_at, updated_at",
    ),
    (
        "contacts",
        "id, firm_id, name, email, email_norm, portal_access, created_at, updated_at, \
         account_id, permission_set",
    ),
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
        "id, firm_id, contact_id, subject, status, created_at, last_message_at",
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
];
const SEEDED_TABLES: [&str; 9] = [
    "firms",
    "client_accounts",
    "contacts",
    "tasks",
    "task_assignees",
    "checklist_items",
    "conversations",
    "messages",
    "signing_requests",
];
const FIRMS_T: usize = 0;
const ACCOUNTS_T: usize = 1;
const CONTACTS_T: usize = 2;
const TASKS_T: usize = 3;
const ASSIGNEES_T: usize = 4;
const ITEMS_T: usize = 5;
const CONVERSATIONS_T: usize = 6;
const MESSAGES_T: usize = 7;
const SIGNING_T: usize = 8;
/// Titles of one signed-in client's tasks, to check the page against, and an item of each
/// kind for the other pages.
#[derive(Default)]
struct ClientTasks {
    open: Vec<String>,
    completed: Vec<String>,
    unshared: Vec<String>,
    /// `/tasks/{id}` of an open task, `/requests/{id}`, `/sign/{id}` of a signed request (a
    /// pending one would hash its document, which the seed does not store).
    pages: Vec<String>,
}

struct Seeded {
    client: ClientTasks,
    small: ClientTasks,
    elapsed: Duration,
    /// PostgreSQL: the time of `VACUUM ANALYZE` after the load; SQLite: of the WAL checkpoint.
    settle: Duration,
}

/// Tasks per firm: 20 to 180 (100 on average), adjusted to exactly [`TASKS`] in all. The
/// measured firm has its client's 60 tasks and 50 of other contacts.
fn tasks_per_firm(rng: &mut Rng) -> Vec<usize> {
    let mut counts: Vec<usize> = (0..FIRMS)
        .map(|f| match f {
            0 => CLIENT_TASKS + CLIENT_UNSHARED + 50,
            1 => 100,
            _ => 20 + rng.below(161) as usize,
        })
        .collect();
    let mut total: usize = counts.iter().sum();
    let mut f = 2;
    while total != TASKS {
        if total < TASKS {
            counts[f] += 1;
            total += 1;
        } else if counts[f] > 20 {
            counts[f] -= 1;
            total -= 1;
        }
        f = if f + 1 == FIRMS { 2 } else { f + 1 };
    }
    counts
}

/// A task's shape: to whom, shared or not, open or done, its title and due date.
struct TaskShape {
    contact: usize,
    shared: bool,
    completed: bool,
    title: String,
    due_in_days: Option<i64>,
    items: usize,
}

fn task_shape(rng: &mut Rng, firm: usize, k: usize) -> TaskShape {
    // The measured client (contact 0 of firm 0): 50 shared (30 open, 20 completed), then 10
    // unshared; its open tasks are due from 10 days ago to 20 days ahead, every sixth undated.
    if firm == 0 && k < CLIENT_TASKS + CLIENT_UNSHARED {
        let shared = k < CLIENT_TASKS;
        return TaskShape {
            contact: 0,
            shared,
            completed: shared && k >= CLIENT_OPEN,
            title: if shared {
                format!("Client task {k:02} quarterly records")
            } else {
                format!("Internal note {k:02} not for the client")
            },
            due_in_days: (k % 6 != 5).then_some(k as i64 - 10),
            items: 1 + k % 4,
        };
    }
    if firm == 1 && k < SMALL_TASKS {
        return TaskShape {
            contact: 0,
            shared: true,
            completed: k >= 3,
            title: format!("Small client task {k} annual accounts"),
            due_in_days: Some(k as i64 * 7),
            items: 2,
        };
    }
    // Everyone else: the firm's other contacts (all five in the other firms), 60 % shared,
    // 40 % completed, 70 % with a due date within four months either way, 1 in 5 with a
    // three-item checklist.
    let contact = if firm < 2 {
        1 + k % (CONTACTS_PER_FIRM - 1)
    } else {
        k % CONTACTS_PER_FIRM
    };
    TaskShape {
        contact,
        shared: rng.chance(60),
        completed: rng.chance(40),
        title: format!("Task {k} of firm {firm}"),
        due_in_days: rng.chance(70).then(|| rng.below(241) as i64 - 120),
        items: if rng.chance(20) { 3 } else { 0 },
    }
}

async fn seed(db: &mut Db) -> Result<Seeded> {
    let started = Instant::now();
    let firm_ids = [db.firm_id(SLUG).await?, db.firm_id(SMALL_SLUG).await?];
    let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs() as i64;
    let today = now / 86_400;
    let mut rng = Rng(0x5eed);
    let counts = tasks_per_firm(&mut rng);
    let (mut client, mut small) = (ClientTasks::default(), ClientTasks::default());

    let mut triggers_skipped = false;
    match db {
        Db::Sqlite(_) => db.exec("BEGIN").await?,
        Db::Postgres(_) => {
            db.exec("BEGIN; SET LOCAL synchronous_commit = off").await?;
            // Rows go in parents first and consistent by construction: skip the per-row
            // foreign-key triggers when allowed (a superuser), check them otherwise. That
            // skips the schema's own triggers too; what they keep is derived after the load.
            triggers_skipped = db
                .exec("SAVEPOINT fk; SET LOCAL session_replication_role = replica")
                .await
                .is_ok();
            if !triggers_skipped {
                db.exec("ROLLBACK TO SAVEPOINT fk").await?;
            }
        }
    }
    let mut seeder = Seeder::new(db, &SEEDED);
    for (firm, &task_count) in counts.iter().enumerate() {
        let firm_id = match firm_ids.get(firm) {
            Some(id) => id.clone(),
            None => {
                let id = FirmId::new().to_string();
                let created = now - rng.below(5 * 365 * 86_400) as i64;
                let row = format!(
                    "({}, {}, {}, {created})",
                    q(&id),
                    q(&format!("firm{firm:05}")),
                    q(&format!("Firm {firm}"))
                );
                seeder.push(FIRMS_T, row).await?;
                id
            }
        };
        let mut contacts = Vec::with_capacity(CONTACTS_PER_FIRM);
        // The measured client's account holds its colleagues too, who come after the firm's
        // five contacts and have no work; elsewhere accounts of two, two and one contacts,
        // the first of each its client manager.
        let colleagues = if firm == 0 { ACCOUNT_SIZE - 1 } else { 0 };
        let (mut account, mut clients_account) = (String::new(), String::new());
        for j in 0..CONTACTS_PER_FIRM + colleagues {
            let id = ContactId::new().to_string();
            let email = match (firm, j) {
                (0, 0) => CLIENT_EMAIL.to_string(),
                (1, 0) => SMALL_EMAIL.to_string(),
                _ => format!("contact{j}.firm{firm:05}@example.com"),
            };
            // Colleagues draw nothing from the generator, so every other row is as before.
            let colleague = j >= CONTACTS_PER_FIRM;
            let access = j == 0 || colleague || rng.chance(70);
            let created = if colleague {
                now
            } else {
                now - rng.below(3 * 365 * 86_400) as i64
            };
            let first_of_account = match firm {
                0 | 1 => j < CONTACTS_PER_FIRM,
                _ => j % 2 == 0,
            };
            if first_of_account {
                account = ClientAccountId::new().to_string();
                let name = format!("Account {j} of firm {firm}");
                let row = format!(
                    "({}, {}, {}, {}, {created}, {created})",
                    q(&account),
                    q(&firm_id),
                    q(&name),
                    q(&name.to_lowercase())
                );
                seeder.push(ACCOUNTS_T, row).await?;
                if j == 0 {
                    clients_account = account.clone();
                }
            }
            let row = format!(
                "({}, {}, {}, {}, {}, {}, {created}, {created}, {}, {})",
                q(&id),
                q(&firm_id),
                q(&format!("Contact {j} of firm {firm}")),
                q(&email),
                q(&email.to_lowercase()),
                b(access),
                q(if colleague {
                    &clients_account
                } else {
                    &account
                }),
                q(if first_of_account {
                    "client_manager"
                } else {
                    "client_staff"
                })
            );
            seeder.push(CONTACTS_T, row).await?;
            contacts.push(id);
        }
        for k in 0..task_count {
            let shape = task_shape(&mut rng, firm, k);
            let id = TaskId::new().to_string();
            let created = now - 86_400 - rng.below(365 * 86_400) as i64;
            let completed_at = shape
                .completed
                .then(|| created + rng.below((now - created) as u64) as i64);
            let due = shape.due_in_days.map(|d| iso_date(today + d));
            let row = format!(
                "({}, {}, {}, {}, {}, {}, {}, {}, {}, {created}, {})",
                q(&id),
                q(&firm_id),
                q(&shape.title),
                q("Please send the documents listed below."),
                q_opt(due.as_deref()),
                b(shape.shared),
                q(if shape.completed { "completed" } else { "open" }),
                completed_at.map_or("NULL".into(), |t| t.to_string()),
                if shape.completed {
                    q(&contacts[shape.contact])
                } else {
                    "NULL".into()
                },
                completed_at.unwrap_or(created),
            );
            seeder.push(TASKS_T, row).await?;
            let row = format!(
                "({}, {}, {})",
                q(&id),
                q(&contacts[shape.contact]),
                q(&firm_id)
            );
            seeder.push(ASSIGNEES_T, row).await?;
            for position in 0..shape.items {
                let done = shape.completed || position == 0 && rng.chance(50);
                let row = format!(
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
                );
                seeder.push(ITEMS_T, row).await?;
            }
            let titles = match firm {
                0 => Some(&mut client),
                1 => Some(&mut small),
                _ => None,
            };
            if let Some(titles) = titles.filter(|_| shape.contact == 0) {
                if shape.shared && !shape.completed && titles.pages.is_empty() {
                    titles.pages.push(format!("/tasks/{id}"));
                }
                match (shape.shared, shape.completed) {
                    (false, _) => titles.unshared.push(shape.title),
                    (true, false) => titles.open.push(shape.title),
                    (true, true) => titles.completed.push(shape.title),
                }
            }
        }
        // Conversations: three of the measured client's, one of the small client's, one of
        // contact 1 elsewhere; two messages each.
        let (talker, conversations) = match firm {
            0 => (0, 3),
            1 => (0, 1),
            _ => (1, 1),
        };
        for c in 0..conversations {
            let id = ConversationId::new().to_string();
            let created = now - rng.below(90 * 86_400) as i64;
            let row = format!(
                "({}, {}, {}, {}, {}, {created}, {})",
                q(&id),
                q(&firm_id),
                q(&contacts[talker]),
                q(&format!("Question {c} about the invoice")),
                q(if c == 2 { "closed" } else { "open" }),
                created + 3600
            );
            seeder.push(CONVERSATIONS_T, row).await?;
            let client = match firm {
                0 => Some(&mut client),
                1 => Some(&mut small),
                _ => None,
            };
            if let Some(client) = client.filter(|_| c == 0) {
                client.pages.push(format!("/requests/{id}"));
            }
            for (seq, author) in ["client", "staff"].into_iter().enumerate() {
                let row = format!(
                    "({}, {}, {seq}, {}, {}, {})",
                    q(MessageId::new().as_str()),
                    q(&id),
                    q(author),
                    q("Could you have a look at this, please?"),
                    created + 3600 * seq as i64
                );
                seeder.push(MESSAGES_T, row).await?;
            }
        }
        // Signing requests: the measured client has two pending and one signed; elsewhere each
        // contact has two, one in three still pending, so a firm holds ten and a read bounded
        // only by the firm shows in the plans.
        let signing: Vec<(usize, &str)> = match firm {
            0 => vec![(0, "pending"), (0, "pending"), (0, "signed")],
            1 => vec![(0, "pending"), (0, "signed")],
            _ => (0..2 * CONTACTS_PER_FIRM)
                .map(|n| {
                    let status = if rng.chance(33) { "pending" } else { "signed" };
                    (n % CONTACTS_PER_FIRM, status)
                })
                .collect(),
        };
        for (n, &(signer, status)) in signing.iter().enumerate() {
            let created = now - rng.below(30 * 86_400) as i64;
            let id = SigningRequestId::new();
            let client = match firm {
                0 => Some(&mut client),
                1 => Some(&mut small),
                _ => None,
            };
            if let Some(client) = client.filter(|_| signer == 0 && status == "signed") {
                client.pages.push(format!("/sign/{id}"));
            }
            let row = format!(
                "({}, {}, {}, {}, {}, 48213, {}, {}, {}, {created})",
                q(id.as_str()),
                q(&firm_id),
                q(&contacts[signer]),
                q(&format!("Engagement letter {n}")),
                q("engagement.pdf"),
                q(&"ab".repeat(32)),
                q(status),
                if status == "signed" {
                    (created + 600).to_string()
                } else {
                    "NULL".into()
                }
            );
            seeder.push(SIGNING_T, row).await?;
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

    // Settle as a live database would be: PostgreSQL's autovacuum would have analyzed and
    // vacuumed the new rows; SQLite's WAL would have been checkpointed into the file. SQLite
    // gets no ANALYZE, because the gateway never runs one.
    let settling = Instant::now();
    match db {
        Db::Sqlite(_) => db.exec("PRAGMA wal_checkpoint(TRUNCATE)").await?,
        Db::Postgres(_) => db.exec("VACUUM ANALYZE").await?,
    }
    Ok(Seeded {
        client,
        small,
        elapsed,
        settle: settling.elapsed(),
    })
}

// ---------------------------------------------------------------------------------------
// The report.

struct Report<'a> {
    backend: &'static str,
    phase: Duration,
    load_before: String,
    seeded: &'a Seeded,
    counts: &'a [(&'a str, i64)],
    db_size: Option<u64>,
    phases: &'a [Phase],
    peak_kb: Option<u64>,
    big: &'a [String],
    small: &'a [String],
    distinct: &'a [String],
    plans: &'a [Vec<String>],
    /// Statements per page: (page, the client of an account of ACCOUNT_SIZE, of one).
    per_page: &'a [(String, usize, usize)],
    elapsed: Duration,
}

impl Report<'_> {
    fn render(&self) -> String {
        let mut out = String::new();
        meter::write_heading(
            &mut out,
            "Portico portal home benchmark",
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
        let _ = writeln!(
            out,
            "measured client: {} open + {} completed shared tasks (and {} unshared, never shown)",
            self.seeded.client.open.len(),
            self.seeded.client.completed.len(),
            self.seeded.client.unshared.len()
        );

        meter::write_phases(&mut out, self.phases, 28, "gw");
        meter::write_first_error(&mut out, self.phases);

        let [before, home, rendered, after] = self.phases else {
            return out + "incomplete run\n";
        };
        let healthz_rps = (before.stats.rps() + after.stats.rps()) / 2.0;
        let ratio = home.stats.rps() / healthz_rps;
        let p99 = home.stats.quantile_ms(None, 0.99);
        let scans: Vec<(usize, &String)> = self
            .plans
            .iter()
            .enumerate()
            .flat_map(|(n, plan)| {
                plan.iter()
                    .filter(|l| unbounded(l, plan).is_some())
                    .map(move |l| (n, l))
            })
            .collect();
        let bounded = self.big.len() == self.small.len();

        let _ = writeln!(
            out,
            "\n/healthz throughput: {healthz_rps:.0} req/s (mean of before {:.0} and after {:.0})",
            before.stats.rps(),
            after.stats.rps()
        );
        let mut row = meter::Figures::new(&mut out, 12, 12);
        row.row(
            "GET /: p99 at 32 connections",
            format!("{p99:.2} ms"),
            "<= 20 ms",
            p99 <= TARGET_P99_MS,
        );
        row.row(
            "GET /: throughput / GET /healthz",
            format!("{ratio:.2}"),
            ">= 0.25",
            ratio >= TARGET_RATIO,
        );
        row.row(
            "SQL statements per GET /, 50 vs 5 shared tasks",
            format!("{} vs {}", self.big.len(), self.small.len()),
            "equal",
            bounded,
        );
        row.row(
            "plan lines reading a whole table, index or firm",
            scans.len().to_string(),
            "0",
            scans.is_empty(),
        );
        for (page, big, small) in self.per_page {
            row.row(
                &format!("SQL statements per {page}, account of {ACCOUNT_SIZE} vs 1"),
                format!("{big} vs {small}"),
                "equal",
                big == small,
            );
        }
        let _ = writeln!(
            out,
            "(with the page cache off, as after any change to the page: {:.2} of /healthz, p99 {:.2} ms)",
            rendered.stats.rps() / healthz_rps,
            rendered.stats.quantile_ms(None, 0.99)
        );
        let _ = writeln!(
            out,
            "\ngateway peak RSS {:.1} MB; run took {:.0} s",
            self.peak_kb.map_or(f64::NAN, |kb| kb as f64 / 1024.0),
            self.elapsed.as_secs_f64()
        );

        let _ = writeln!(
            out,
            "\nQuery plans of the {} distinct statements of GET / (against the seeded database):",
            self.distinct.len()
        );
        for (n, (sql, plan)) in self.distinct.iter().zip(self.plans).enumerate() {
            let runs = |list: &[String]| list.iter().filter(|s| *s == sql).count();
            let _ = writeln!(
                out,
                "\n[{}] runs per GET /: {} (50 tasks), {} (5 tasks)\n    {sql}",
                n + 1,
                runs(self.big),
                runs(self.small)
            );
            for line in plan {
                match unbounded(line, plan) {
                    Some(why) => writeln!(out, "    | {line}   <-- {why}"),
                    None => writeln!(out, "    | {line}"),
                }
                .ok();
            }
        }
        out
    }
}
