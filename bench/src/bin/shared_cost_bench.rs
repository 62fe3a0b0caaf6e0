//! What a request costs the shared components: prints figures beside their targets, never
//! fails on them.
//!
//! ```text
//! cargo run --release -p portico-bench --bin shared_cost_bench [-- --postgres] [--secs N]
//!     [--no-build] [--cluster]
//! ```
//!
//! For `POST /login`, `POST /auth/magic`, the kept `GET /` and the `GET /` rendered every time,
//! the CPU µs per request of Redis, of the database (PostgreSQL's backends; on SQLite that
//! work is inside the serving process) and of the serving process, for the real gateway and
//! for its bare twin (this binary with `--bare-server`, [`portico_bench::bare`]): the same
//! Redis commands and SQL through the same functions, the same template, the same bytes,
//! without the gateway's middleware, extractors, cache, metrics and logging. Phases alternate
//! twin and gateway, two rounds each, since this machine changes speed within a session, and
//! both sides of a route are loaded at the same rate (a share of the slower one's throughput),
//! since a server's CPU per request falls as its load rises. The mailer and its bare twin
//! ([`portico_bench::bare_mailer`]) drain the same number of login jobs into one `smtp-sink`. The
//! Redis commands (`INFO commandstats`) and, on PostgreSQL, the committed transactions
//! (`pg_stat_database`) of each phase are counted per request and set side by side: a
//! mismatch is printed as one.
//!
//! Redis is a `redis-server` of the run's own on a free loopback port, so that its CPU time and
//! command counts are this run's alone. See BENCH.md ("Shared components per request").

// The futures of the whole gateway, nested in the benchmark's, are deeper than rustc's
// default limit lets it lay out (a clean build overflows it).
#![recursion_limit = "256"]
#![forbid(unsafe_code)]

use std::fmt::Write as _;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, ExitCode, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Parser;
use hyper::StatusCode;
use portico_bench::cli::{self, CommonOptions};
use portico_bench::counts::{RedisCommands, redis_reads};
use portico_bench::harness::{self, Deployment, Scratch, fetch_anchors, sign_in, take_links};
use portico_bench::load::{self, Conn, MakeReq, Plan, Req, Target};
use portico_bench::meter::{self, Meter, Phase, Server};
use portico_bench::redis_cluster::LocalCluster;
use portico_bench::system::{self, ChildGuard};
use portico_bench::{bare, bare_mailer};
use portico_bench::{mail, plans};
use portico_shared::config::RedisTopology;
use portico_shared::keys::Keyring;
use portico_shared::redis_conn::{RedisConn, RedisKeys};

// The twin is measured against the gateway, which allocates with mimalloc.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const CONNECTIONS: usize = 32;
/// Contacts with portal access; `POST /login` cycles through them.
const CONTACTS: usize = 256;
/// Shared tasks of the client whose home page is measured (as in portal_bench).
const CLIENT_TASKS: usize = 50;
/// Twin, gateway, twin, gateway…
const ROUNDS: usize = 2;
const SLUG: &str = "bench";
const MAX_ERROR_RATE: f64 = 0.01;

/// Counts per request that differ by less are the same work (rounding of the per-request
/// division); the worker's reads and housekeeping add a few hundredths per mail.
const SAME_WORK: f64 = 0.005;

const TARGET_SHARED_RATIO: f64 = 1.25;
const TARGET_PROCESS_RATIO: f64 = 2.0;

/// What a request costs the shared components, against a bare twin (see BENCH.md).
#[derive(Parser)]
#[command(name = "shared_cost_bench")]
struct Cli {
    #[command(flatten)]
    common: CommonOptions,
    /// Run on a Redis Cluster of 6 local nodes (3 primaries) instead of one Redis server
    #[arg(long)]
    cluster: bool,
    /// Login-link jobs per mailer phase
    #[arg(long, value_name = "N", default_value_t = 10_000)]
    mails: usize,
    /// Sends in flight of the mailer and its twin (`MAILER_CONCURRENCY`)
    #[arg(
        long,
        value_name = "N",
        default_value_t = 32,
        value_parser = clap::value_parser!(u16).range(1..=1024),
    )]
    mailer_in_flight: u16,
    /// Measure only the mailer and its twin
    #[arg(long)]
    mailer_only: bool,
    /// Serve the bare twin of firm SLUG's routes instead (the benchmark starts this binary so,
    /// with the gateway's environment)
    #[arg(long, hide = true, value_name = "SLUG")]
    bare_server: Option<String>,
    /// Run the bare twin of the mailer instead (started so by the benchmark, with the
    /// mailer's environment)
    #[arg(long, hide = true)]
    bare_mailer: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(slug) = cli.bare_server.as_deref() {
        return cli::run("bare", bare::serve(slug));
    }
    if cli.bare_mailer {
        // On one thread, as the mailer runs.
        return match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(runtime) => match runtime.block_on(bare_mailer::serve()) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("bare mailer: {e:#}");
                    ExitCode::FAILURE
                }
            },
            Err(e) => {
                eprintln!("bare mailer: {e}");
                ExitCode::FAILURE
            }
        };
    }
    cli::run("shared_cost_bench", run(cli))
}

fn email(i: usize) -> String {
    format!("client{:04}@bench.example", i % CONTACTS)
}

async fn run(cli: Cli) -> Result<()> {
    let options = &cli.common;
    let (smtp_sink, _) = mail::postfix_tools()?;
    let binary = harness::sibling_binary("portico-gateway", "gateway", options.build.build())?;
    let mailer = harness::sibling_binary("portico-mailer", "mailer", options.build.build())?;
    let redis_servers = RedisServers::start(cli.cluster)?;
    let mailers = Mailers {
        binary: mailer,
        smtp_sink,
        jobs: cli.mails,
        in_flight: cli.mailer_in_flight.into(),
    };
    if cli.mailer_only {
        return Scratch::run_on(false, Some(redis_servers.topology()), async |scratch| {
            let started = Instant::now();
            let load_before = system::load_average();
            let mut redis = scratch.redis().await?;
            let mut nodes = redis_servers.connections().await?;
            let mail_phases = mailers
                .measure(scratch, &Keyring::generate("b1"), &mut redis, &mut nodes)
                .await?;
            let report = Report {
                backend: "no database",
                phase: options.phase(),
                phases: &[],
                works: &[],
                same_bytes: &[],
                statements: &[],
                mail_phases: &mail_phases,
                mail_in_flight: mailers.in_flight,
                redis_servers: redis_servers.describe(),
                load_before,
                elapsed: started.elapsed(),
            };
            print!("{}", report.render());
            Ok(())
        })
        .await;
    }
    Scratch::run_on(
        options.postgres,
        Some(redis_servers.topology()),
        async |scratch| {
            let deployment = Deployment::create(binary, scratch).await?;
            bench(options, &deployment, &mailers, &redis_servers).await
        },
    )
    .await
}

/// The Redis of the run's own: one `redis-server` on a free loopback port, without
/// persistence, or a cluster of six (`--cluster`). Its CPU time and command counts are this
/// run's alone, summed over all nodes of a cluster (replicas included: replication is part of
/// what a request costs a cluster).
enum RedisServers {
    Single(PrivateRedis),
    Cluster(LocalCluster),
}

impl RedisServers {
    fn start(cluster: bool) -> Result<RedisServers> {
        Ok(if cluster {
            RedisServers::Cluster(LocalCluster::start()?)
        } else {
            RedisServers::Single(PrivateRedis::start()?)
        })
    }

    fn topology(&self) -> RedisTopology {
        match self {
            RedisServers::Single(server) => RedisTopology::Single(server.url()),
            RedisServers::Cluster(cluster) => RedisTopology::Cluster(cluster.nodes()),
        }
    }

    /// A connection to each server (each node of a cluster alone), for their `INFO`.
    async fn connections(&self) -> Result<Vec<RedisConn>> {
        let urls = match self {
            RedisServers::Single(server) => vec![server.url()],
            RedisServers::Cluster(cluster) => cluster.nodes(),
        };
        let mut connections = Vec::new();
        for url in urls {
            connections.push(portico_shared::redis_conn::connect(&url).await?);
        }
        Ok(connections)
    }

    fn describe(&self) -> &'static str {
        match self {
            RedisServers::Single(_) => "one local server of the run's own",
            RedisServers::Cluster(_) => {
                "a Redis Cluster of 6 local nodes (3 primaries, 3 replicas) of the run's own; \
                 CPU, commands and reads summed over all nodes"
            }
        }
    }
}

/// A `redis-server` of the run's own, on a free loopback port, without persistence.
struct PrivateRedis {
    port: u16,
    _process: ChildGuard,
}

impl PrivateRedis {
    fn start() -> Result<PrivateRedis> {
        let port = system::free_port()?;
        let process = ChildGuard {
            child: Command::new("redis-server")
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .args(["--save", "", "--appendonly", "no"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .context("starting redis-server (Debian package redis-server)")?,
            name: "redis-server",
        };
        let deadline = Instant::now() + Duration::from_secs(5);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if Instant::now() > deadline {
                bail!("redis-server did not listen on port {port}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(PrivateRedis {
            port,
            _process: process,
        })
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }
}

/// The routes measured, in the order of the report.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum Route {
    Login,
    Magic,
    KeptHome,
    RenderedHome,
}

impl Route {
    const ALL: [Route; 4] = [
        Route::Login,
        Route::Magic,
        Route::KeptHome,
        Route::RenderedHome,
    ];

    /// The route in request ids.
    fn tag(self) -> &'static str {
        match self {
            Route::Login => "login",
            Route::Magic => "magic",
            Route::KeptHome => "kept",
            Route::RenderedHome => "rendered",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Route::Login => "POST /login",
            Route::Magic => "POST /auth/magic",
            Route::KeptHome => "GET / kept",
            Route::RenderedHome => "GET / rendered",
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Side {
    Bare,
    Gateway,
}

impl Side {
    fn name(self) -> &'static str {
        match self {
            Side::Bare => "bare",
            Side::Gateway => "gateway",
        }
    }
}

/// Runs of each route: a calibration of each side, then [`ROUNDS`] of each.
const RUNS_PER_ROUTE: usize = 2 + 2 * ROUNDS;
/// The measured phases of a route run at this share of the slower side's calibrated
/// throughput, the same rate for both sides.
const PACE_SHARE: f64 = 0.7;
const CALIBRATION: Duration = Duration::from_millis(1500);

/// A route's phases: first an unpaced calibration run of each side (not reported), then
/// [`ROUNDS`] rounds of twin and gateway, each paced at [`PACE_SHARE`] of the slower side's
/// calibrated throughput: Redis's and PostgreSQL's CPU per request falls as their load rises
/// (one wake-up serves more commands), so both sides are loaded at the same rate. `make`
/// gives the requests of each side's run (numbered from 0 over the route's runs).
async fn measure_route(
    counter: &mut Counter,
    route: Route,
    sides: [(Side, Server, &Target); 2],
    plan: Plan,
    make: &dyn Fn(Side, usize) -> MakeReq,
) -> Result<Vec<Measured>> {
    let mut slowest = f64::INFINITY;
    for (run, (side, _, target)) in sides.iter().enumerate() {
        let calibration = Plan {
            duration: CALIBRATION,
            ..plan
        };
        let stats = load::run(target, calibration, make(*side, run)).await?;
        if stats.error_rate() > MAX_ERROR_RATE {
            bail!(
                "{} on the {}: {}",
                route.name(),
                side.name(),
                stats.first_error.unwrap_or_default()
            );
        }
        slowest = slowest.min(stats.rps());
    }
    let rate = slowest * PACE_SHARE;
    let mut measured = Vec::new();
    for round in 1..=ROUNDS {
        for (n, &(side, server, target)) in sides.iter().enumerate() {
            let run = 2 * round + n;
            measured.push(
                counter
                    .measure(
                        (route, side, round),
                        server,
                        target,
                        plan,
                        rate,
                        make(side, run),
                    )
                    .await?,
            );
        }
    }
    Ok(measured)
}

/// One measured phase with the work the shared components did for it.
struct Measured {
    phase: Phase,
    work: Work,
}

/// What a phase was and what the shared components did for it.
struct Work {
    route: Route,
    side: Side,
    redis: RedisCommands,
    /// Read events Redis processed (wake-ups that read commands).
    redis_reads: u64,
}

/// Counts the shared components' work around each measured phase.
struct Counter {
    meter: Meter,
    /// Each Redis server alone (every node of a cluster).
    redis: Vec<RedisConn>,
}

impl Counter {
    async fn measure(
        &mut self,
        (route, side, round): (Route, Side, usize),
        server: Server,
        target: &Target,
        plan: Plan,
        rate: f64,
        make: MakeReq,
    ) -> Result<Measured> {
        let redis_before = RedisCommands::snap(&mut self.redis).await?;
        let reads_before = redis_reads(&mut self.redis).await?;
        let name = format!("R{round} {} {}", side.name(), route.name());
        let phase = self
            .meter
            .measure_paced(&name, server, target, plan, Some(rate), make)
            .await?;
        let reads_after = redis_reads(&mut self.redis).await?;
        let redis_after = RedisCommands::snap(&mut self.redis).await?;
        Ok(Measured {
            phase,
            work: Work {
                route,
                side,
                redis: redis_after.since(&redis_before, &[]),
                // Less the reads of the meter's two INFO commands and of the last count's own.
                redis_reads: (reads_after - reads_before).saturating_sub(3),
            },
        })
    }
}

async fn bench(
    options: &CommonOptions,
    deployment: &Deployment<'_>,
    mailers: &Mailers,
    redis_servers: &RedisServers,
) -> Result<()> {
    let started = Instant::now();
    let load_before = system::load_average();
    let scratch = deployment.scratch;
    let api_key = deployment.create_firm(SLUG, "Bench & Co")?;
    let gateway = deployment.start(&[], "gateway.log").await?;
    let rendering = deployment
        .start(&[("PORTICO_HOME_CACHE", "off")], "gateway-render.log")
        .await?;
    let site = gateway.site(SLUG);
    let render_site = rendering.site(SLUG);

    // Contacts, and the first one's shared tasks, through the staff API.
    let api = gateway.api();
    let mut conn = Conn::open(api.addr).await?;
    let mut client_id = String::new();
    for i in 0..CONTACTS {
        let body = serde_json::json!({
            "name": format!("Client {i}"),
            "email": email(i),
            "portal_access": true,
        });
        let answer = conn
            .send(&api, &Req::post_json("/api/v1/contacts", &api_key, &body))
            .await?;
        if answer.status != StatusCode::CREATED {
            bail!("creating a contact answered {}", answer.status);
        }
        if i == 0 {
            let created: serde_json::Value = serde_json::from_slice(&answer.body)?;
            client_id = created["id"].as_str().context("contact id")?.to_string();
        }
    }
    for t in 0..CLIENT_TASKS {
        let body = serde_json::json!({
            "title": format!("Task {t:02} of the measured client"),
            "portal": true,
            "assignees": [client_id],
            "due_date": (t % 3 != 0).then(|| format!("2027-01-{:02}", 1 + t % 28)),
            "checklist": if t % 5 == 0 { vec!["one", "two", "three"] } else { vec![] },
        });
        let answer = conn
            .send(&api, &Req::post_json("/api/v1/tasks", &api_key, &body))
            .await?;
        if answer.status != StatusCode::CREATED {
            bail!(
                "creating a task answered {}: {}",
                answer.status,
                answer.text()
            );
        }
    }

    let mut redis = scratch
        .redis()
        .await
        .context("connecting to the run's Redis")?;
    // The task notifications are not sign-in links: off the stream before any sign-in.
    let stream = RedisKeys::new(&scratch.prefix).mail_stream();
    redis::cmd("DEL")
        .arg(&stream)
        .query_async::<i64>(&mut redis)
        .await?;
    let session = sign_in(&site, &mut redis, &stream, &deployment.keys, &email(0)).await?;

    // The twin, on the same database, Redis prefix and keys, logging nothing.
    let (twin, twin_site) = start_twin(deployment, &site, &[], None)?;

    let anchors = Arc::new(fetch_anchors(&site, CONNECTIONS).await?);
    let login_make = || -> MakeReq {
        let anchors = anchors.clone();
        Arc::new(move |worker, seq| {
            let anchor = &anchors[worker % anchors.len()];
            let email = email(seq);
            Req::post_form(
                "/login",
                Some(&anchor.cookie),
                &[("email", email.as_str()), ("csrf", anchor.csrf.as_str())],
            )
        })
    };
    let home_make = |path: &'static str| -> MakeReq {
        let session = session.clone();
        let first_task: Arc<str> = Arc::from("Task 00 of the measured client");
        Arc::new(move |_, _| {
            let mut req = Req::get(path).must_contain(first_task.clone());
            req.cookie = Some(session.clone());
            req
        })
    };

    let same_bytes = compare_answers(
        &[(&site, &render_site), (&twin_site, &twin_site)],
        &anchors[0],
        &session,
    )
    .await?;
    // Links minted for the comparison are taken with the rest below.

    let mut nodes = redis_servers.connections().await?;
    let mut counter = Counter {
        meter: Meter::new("shared_cost_bench", scratch, redis.clone(), None)
            .await?
            .on_redis_servers(nodes.clone()),
        redis: nodes.clone(),
    };
    let (gateway_server, render_server, twin_server) = (
        Server::gateway(gateway.process.id()),
        Server::gateway(rendering.process.id()),
        Server::beside(twin.id()),
    );
    let server_of = |route: Route, side: Side| match (route, side) {
        (Route::RenderedHome, Side::Gateway) => render_server,
        (_, Side::Gateway) => gateway_server,
        (_, Side::Bare) => twin_server,
    };
    let target_of = |route: Route, side: Side| match (route, side) {
        (Route::RenderedHome, Side::Gateway) => &render_site,
        (_, Side::Gateway) => &site,
        (_, Side::Bare) => &twin_site,
    };

    eprintln!("shared_cost_bench: warming up…");
    let warm = Plan {
        connections: CONNECTIONS,
        duration: Duration::from_secs(1),
        limit: usize::MAX,
    };
    for side in [Side::Bare, Side::Gateway] {
        load::run(target_of(Route::Login, side), warm, login_make()).await?;
        load::run(target_of(Route::KeptHome, side), warm, home_make("/")).await?;
    }
    load::run(&twin_site, warm, home_make(bare::RENDERED_HOME)).await?;
    load::run(&render_site, warm, home_make("/")).await?;

    let phase = Plan {
        connections: CONNECTIONS,
        duration: options.phase(),
        limit: usize::MAX,
    };
    let sides = |route: Route| {
        [Side::Bare, Side::Gateway]
            .map(|side| (side, server_of(route, side), target_of(route, side)))
    };
    let mut measured = Vec::new();
    let login = measure_route(
        &mut counter,
        Route::Login,
        sides(Route::Login),
        phase,
        &|_, _| login_make(),
    )
    .await?;
    measured.extend(login);

    // Every link minted so far (both sides mint into the same stream with the same keys),
    // a disjoint share for each run of POST /auth/magic (calibration runs included).
    let mut links = take_links(&mut redis, &stream, &deployment.keys).await?;
    let counted_links = links.split_off(links.len().saturating_sub(2 * COUNTED));
    let links = Arc::new(links);
    let share = links.len() / RUNS_PER_ROUTE;
    if share < 100 {
        bail!("only {} links reached the mail stream", links.len());
    }
    let magic_make = |_: Side, run: usize| -> MakeReq {
        let (anchors, links) = (anchors.clone(), links.clone());
        let offset = run * share;
        Arc::new(move |worker, seq| {
            let anchor = &anchors[worker % anchors.len()];
            let (token, code) = &links[offset + seq];
            Req::post_form(
                "/auth/magic",
                Some(&anchor.cookie),
                &[
                    ("token", token.as_str()),
                    ("code", code.as_str()),
                    ("csrf", anchor.csrf.as_str()),
                ],
            )
            .expect(StatusCode::SEE_OTHER)
        })
    };
    let plan = Plan {
        limit: share,
        ..phase
    };
    measured.extend(
        measure_route(
            &mut counter,
            Route::Magic,
            sides(Route::Magic),
            plan,
            &magic_make,
        )
        .await?,
    );
    measured.extend(
        measure_route(
            &mut counter,
            Route::KeptHome,
            sides(Route::KeptHome),
            phase,
            &|_, _| home_make("/"),
        )
        .await?,
    );
    measured.extend(
        measure_route(
            &mut counter,
            Route::RenderedHome,
            sides(Route::RenderedHome),
            phase,
            &|side, _| match side {
                Side::Bare => home_make(bare::RENDERED_HOME),
                Side::Gateway => home_make("/"),
            },
        )
        .await?,
    );
    drop(twin);
    let statements =
        count_statements(deployment, &site, &anchors[0], &session, &counted_links).await?;
    let mail_phases = mailers
        .measure(scratch, &deployment.keys, &mut redis, &mut nodes)
        .await?;
    let (phases, works): (Vec<Phase>, Vec<Work>) =
        measured.into_iter().map(|m| (m.phase, m.work)).unzip();
    let report = Report {
        backend: options.backend(),
        phase: options.phase(),
        phases: &phases,
        works: &works,
        same_bytes: &same_bytes,
        statements: &statements,
        mail_phases: &mail_phases,
        mail_in_flight: mailers.in_flight,
        redis_servers: redis_servers.describe(),
        load_before,
        elapsed: started.elapsed(),
    };
    print!("{}", report.render());
    meter::ensure_meaningful(&phases, MAX_ERROR_RATE)
}

/// Starts the bare twin with the gateway's environment (less `RUST_LOG`) and `vars`, its
/// stderr into `log` if given; returns it and its address under the firm's host.
fn start_twin(
    deployment: &Deployment<'_>,
    site: &Target,
    vars: &[(&'static str, &str)],
    log: Option<&std::path::Path>,
) -> Result<(ChildGuard, Target)> {
    let scratch = deployment.scratch;
    let mut env = scratch.gateway_env(&deployment.database_url, &deployment.keys, site.addr.port());
    env.remove("RUST_LOG");
    env.extend(vars.iter().map(|&(name, value)| (name, value.to_string())));
    let mut command = Command::new(std::env::current_exe().context("locating this binary")?);
    command
        .env_clear()
        .envs(env)
        .args(["--bare-server", SLUG])
        .stdout(Stdio::piped());
    if let Some(log) = log {
        command.stderr(std::fs::File::create(log)?);
    }
    let mut child = command.spawn().context("starting the bare twin")?;
    let stdout = child.stdout.take().context("the twin's stdout")?;
    let twin = ChildGuard {
        child,
        name: "bare twin",
    };
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line)?;
    let addr = line
        .trim()
        .strip_prefix("listening ")
        .and_then(|a| a.parse().ok())
        .with_context(|| format!("the bare twin did not start ({line:?})"))?;
    Ok((
        twin,
        Target {
            addr,
            host: site.host.clone(),
        },
    ))
}

/// Requests of each route and side whose SQL statements are counted.
const COUNTED: usize = 20;

/// The SQL statements one side ran for a route's counted requests.
struct Statements {
    /// Statements per request (the first request left out: a cold firm cache).
    counts: Vec<usize>,
    /// Each distinct statement, in order of first use.
    texts: Vec<String>,
}

impl Statements {
    fn of(by_request: &std::collections::HashMap<String, Vec<String>>, tag: &str) -> Statements {
        let mut counts = Vec::new();
        let mut texts: Vec<String> = Vec::new();
        for i in 1..COUNTED {
            let statements = by_request
                .get(&format!("{tag}-{i}"))
                .map(Vec::as_slice)
                .unwrap_or_default();
            counts.push(statements.len());
            for text in statements {
                if !texts.contains(text) {
                    texts.push(text.clone());
                }
            }
        }
        Statements { counts, texts }
    }

    fn per_request(&self) -> f64 {
        self.counts.iter().sum::<usize>() as f64 / self.counts.len().max(1) as f64
    }
}

struct StatementCount {
    route: Route,
    bare: Statements,
    gateway: Statements,
}

/// The SQL statements of each route, on the gateway and on the twin, read from their logs as
/// `portal_bench` reads them (`plans::statements_by_request`): both run again with
/// `sqlx::query` at debug (two gateways, the kept page's and the rendered one's, and a twin),
/// take [`COUNTED`] requests of each route one at a time, each with its own `x-request-id`,
/// and are stopped so that they flush their logs. Left out on both sides: the sign-in's write,
/// which the sign-in writer's own task runs outside the request (one at a time, it writes
/// each sign-in alone).
async fn count_statements(
    deployment: &Deployment<'_>,
    site: &Target,
    anchor: &harness::Anchor,
    session: &str,
    links: &[(String, String)],
) -> Result<Vec<StatementCount>> {
    eprintln!("shared_cost_bench: counting SQL statements…");
    let logging = [
        ("RUST_LOG", "info,sqlx::query=debug"),
        ("PORTICO_LOG_FORMAT", "json"),
    ];
    let dir = &deployment.scratch.dir;
    let mut gateway = deployment.start(&logging, "count-gateway.log").await?;
    let mut rendering = deployment
        .start(
            &[logging[0], logging[1], ("PORTICO_HOME_CACHE", "off")],
            "count-gateway-render.log",
        )
        .await?;
    let twin_log = dir.join("count-bare.log");
    let (mut twin, twin_site) = start_twin(deployment, site, &logging, Some(&twin_log))?;
    let (gateway_site, render_site) = (gateway.site(SLUG), rendering.site(SLUG));
    for (side, (kept, rendered)) in [
        (Side::Bare, (&twin_site, &twin_site)),
        (Side::Gateway, (&gateway_site, &render_site)),
    ] {
        for route in Route::ALL {
            let target = if route == Route::RenderedHome {
                rendered
            } else {
                kept
            };
            let mut conn = Conn::open(target.addr).await?;
            for i in 0..COUNTED {
                let request = match route {
                    Route::Login => Req::post_form(
                        "/login",
                        Some(&anchor.cookie),
                        &[("email", &email(i)), ("csrf", &anchor.csrf)],
                    ),
                    Route::Magic => {
                        let (token, code) =
                            &links[i + if side == Side::Bare { 0 } else { COUNTED }];
                        Req::post_form(
                            "/auth/magic",
                            Some(&anchor.cookie),
                            &[("token", token), ("code", code), ("csrf", &anchor.csrf)],
                        )
                        .expect(StatusCode::SEE_OTHER)
                    }
                    Route::KeptHome | Route::RenderedHome => {
                        let path = match (route, side) {
                            (Route::RenderedHome, Side::Bare) => bare::RENDERED_HOME,
                            _ => "/",
                        };
                        let mut home = Req::get(path);
                        home.cookie = Some(session.to_string());
                        home
                    }
                };
                let request = request.header("x-request-id", &format!("{}-{i}", route.tag()));
                let answer = conn.send(target, &request).await?;
                if !request.accepts(&answer) {
                    bail!(
                        "counting statements: {} on the {} answered {}",
                        route.name(),
                        side.name(),
                        answer.status
                    );
                }
            }
        }
    }
    system::stop_gently(&mut twin)?;
    system::stop_gently(&mut gateway.process)?;
    system::stop_gently(&mut rendering.process)?;
    let bare_log = plans::statements_by_request(&twin_log)?;
    let gateway_log = plans::statements_by_request(&gateway.log)?;
    let render_log = plans::statements_by_request(&rendering.log)?;
    Ok(Route::ALL
        .into_iter()
        .map(|route| StatementCount {
            route,
            bare: Statements::of(&bare_log, route.tag()),
            gateway: Statements::of(
                if route == Route::RenderedHome {
                    &render_log
                } else {
                    &gateway_log
                },
                route.tag(),
            ),
        })
        .collect())
}

/// One answer of each route from the gateway and from the twin, compared: `(route, what
/// differs or "same")`. `sites` are the gateway's (kept, rendering) and the twin's.
async fn compare_answers(
    sites: &[(&Target, &Target); 2],
    anchor: &harness::Anchor,
    session: &str,
) -> Result<Vec<(Route, String)>> {
    let mut answers: Vec<Vec<load::Answer>> = Vec::new();
    for (side, (site, render_site)) in sites.iter().enumerate() {
        let mut conn = Conn::open(site.addr).await?;
        let login = Req::post_form(
            "/login",
            Some(&anchor.cookie),
            &[("email", &email(1)), ("csrf", &anchor.csrf)],
        );
        let mut home = Req::get("/");
        home.cookie = Some(session.to_string());
        let mut rendered = Req::get(if side == 0 { "/" } else { bare::RENDERED_HOME });
        rendered.cookie = Some(session.to_string());
        let mut render_conn = Conn::open(render_site.addr).await?;
        answers.push(vec![
            conn.send(site, &login).await?,
            // A wrong code: the same 4xx page work on both sides is not compared; a bad
            // token is, and it answers the same status on both.
            conn.send(
                site,
                &Req::post_form(
                    "/auth/magic",
                    Some(&anchor.cookie),
                    &[
                        ("token", "b1.x.y"),
                        ("code", "ABCD-EFGH"),
                        ("csrf", &anchor.csrf),
                    ],
                ),
            )
            .await?,
            conn.send(site, &home).await?,
            render_conn.send(render_site, &rendered).await?,
        ]);
    }
    Ok(Route::ALL
        .iter()
        .zip(answers[0].iter().zip(&answers[1]))
        .map(|(&route, (gateway, twin))| {
            let verdict = if gateway.status != twin.status {
                format!("status {} vs {}", gateway.status, twin.status)
            } else if route == Route::Magic {
                format!("status {} on both (body not compared)", gateway.status)
            } else if gateway.body == twin.body {
                format!("same body ({} bytes)", gateway.body.len())
            } else {
                format!(
                    "bodies differ: {} vs {} bytes",
                    gateway.body.len(),
                    twin.body.len()
                )
            };
            (route, verdict)
        })
        .collect())
}

struct Report<'a> {
    backend: &'static str,
    phase: Duration,
    phases: &'a [Phase],
    works: &'a [Work],
    same_bytes: &'a [(Route, String)],
    statements: &'a [StatementCount],
    mail_phases: &'a [MailPhase],
    mail_in_flight: usize,
    redis_servers: &'static str,
    load_before: String,
    elapsed: Duration,
}

/// The mailer's figures against its twin's.
fn write_mail_figures(figures: &mut meter::Figures<'_>, bare: &PerMail, mailer: &PerMail) {
    let redis = mailer.redis_us / bare.redis_us;
    figures.row(
        "mailer, per mail: Redis CPU / bare's",
        format!("{redis:.2}"),
        "<= 1.25",
        redis <= TARGET_SHARED_RATIO,
    );
    let process = mailer.process_us / bare.process_us;
    figures.row(
        "mailer, per mail: process CPU / bare's",
        format!("{process:.2}"),
        "<= 2",
        process <= TARGET_PROCESS_RATIO,
    );
}

/// Per mail, over all the rounds of one side: CPU µs of the mailer (or its twin), Redis and
/// the sink; Redis commands.
struct PerMail {
    process_us: f64,
    system_us: f64,
    redis_us: f64,
    sink_us: f64,
    commands: RedisCommands,
    mails: usize,
}

impl PerMail {
    fn of(phases: &[&MailPhase]) -> PerMail {
        let mails: usize = phases.iter().map(|p| p.mails).sum();
        let per = |total: f64| total * 1e6 / mails.max(1) as f64;
        let mut commands = RedisCommands::default();
        for p in phases {
            commands.add(&p.redis);
        }
        PerMail {
            process_us: per(phases.iter().map(|p| p.process_cpu).sum()),
            system_us: per(phases.iter().map(|p| p.process_system).sum()),
            redis_us: per(phases.iter().map(|p| p.redis_cpu).sum()),
            sink_us: per(phases.iter().map(|p| p.sink_cpu).sum()),
            commands,
            mails,
        }
    }

    fn commands_per_mail(&self) -> f64 {
        self.commands.total() as f64 / self.mails.max(1) as f64
    }
}

/// Per request, over all the rounds of one route and side: CPU µs of the server, the
/// database, Redis; Redis commands; database transactions.
struct PerRequest {
    server_us: f64,
    db_us: Option<f64>,
    redis_us: f64,
    redis_commands: f64,
    /// Commands per read event of Redis: how many travel together.
    commands_per_read: f64,
    commands: RedisCommands,
    requests: usize,
}

fn per_request(measured: &[(&Phase, &Work)]) -> PerRequest {
    let requests: usize = measured.iter().map(|(p, _)| p.stats.count()).sum();
    let per = |total: f64| total * 1e6 / requests.max(1) as f64;
    let mut commands = RedisCommands::default();
    for (_, w) in measured {
        commands.add(&w.redis);
    }
    let db_cpu: Option<f64> = measured.iter().map(|(p, _)| p.db_cpu).sum();
    PerRequest {
        server_us: per(measured.iter().map(|(p, _)| p.server_cpu).sum()),
        db_us: db_cpu.map(per),
        redis_us: per(measured.iter().map(|(p, _)| p.redis_cpu).sum()),
        redis_commands: commands.total() as f64 / requests.max(1) as f64,
        commands_per_read: commands.total() as f64
            / measured
                .iter()
                .map(|(_, w)| w.redis_reads)
                .sum::<u64>()
                .max(1) as f64,
        commands,
        requests,
    }
}

impl Report<'_> {
    /// The mailer's runs, and per mail over the rounds (twin, mailer), if there were any.
    fn write_mail(&self, out: &mut String) -> Option<(PerMail, PerMail)> {
        if self.mail_phases.is_empty() {
            return None;
        }
        let _ = writeln!(
            out,
            "\nmailer: {} sends in flight, login-link jobs into one smtp-sink; CPU µs per mail, \
             the process's with its system part (the Redis commands leave out the enqueue)",
            self.mail_in_flight
        );
        let _ = writeln!(
            out,
            "{:<22} {:>7} {:>8} {:>8} {:>6} {:>8} {:>7} {:>7} {:>9}",
            "run", "mails", "mails/s", "proc µs", "sys", "redis µs", "sink µs", "cmds", "cmds/read"
        );
        for p in self.mail_phases {
            let per = |cpu: f64| cpu * 1e6 / p.mails.max(1) as f64;
            let _ = writeln!(
                out,
                "{:<22} {:>7} {:>8.0} {:>8.0} {:>6.0} {:>8.0} {:>7.0} {:>7.2} {:>9.2}",
                format!("R{} {} mailer", p.round, p.side.name()),
                p.mails,
                p.mails as f64 / p.elapsed.as_secs_f64(),
                per(p.process_cpu),
                per(p.process_system),
                per(p.redis_cpu),
                per(p.sink_cpu),
                p.redis.total() as f64 / p.mails.max(1) as f64,
                p.redis.total() as f64 / p.redis_reads.max(1) as f64,
            );
        }
        let of = |side: Side| {
            let phases: Vec<&MailPhase> =
                self.mail_phases.iter().filter(|p| p.side == side).collect();
            PerMail::of(&phases)
        };
        let (bare, mailer) = (of(Side::Bare), of(Side::Gateway));
        for (name, p) in [("bare", &bare), ("mailer", &mailer)] {
            let _ = writeln!(
                out,
                "{:<22} {:>7} {:>8} {:>8.0} {:>6.0} {:>8.0} {:>7.0} {:>7.2}   {}",
                format!("all rounds, {name}"),
                p.mails,
                "",
                p.process_us,
                p.system_us,
                p.redis_us,
                p.sink_us,
                p.commands_per_mail(),
                p.commands.per_request(p.mails)
            );
        }
        let same = (bare.commands_per_mail() - mailer.commands_per_mail()).abs() < SAME_WORK;
        let _ = writeln!(
            out,
            "mailer, per mail: Redis commands {:.2} vs {:.2} {}",
            bare.commands_per_mail(),
            mailer.commands_per_mail(),
            if same { "(same)" } else { "MISMATCH" }
        );
        Some((bare, mailer))
    }

    fn render(&self) -> String {
        let mut out = String::new();
        meter::write_heading(
            &mut out,
            "Shared components per request",
            self.backend,
            self.phase,
            &self.load_before,
        );
        let _ = writeln!(
            out,
            "Redis: {}. Phases in the order run (R1, R2 = rounds); both sides of a route paced \
             at {PACE_SHARE} of the slower one's throughput.",
            self.redis_servers
        );
        if self.phases.is_empty() {
            let mail = self.write_mail(&mut out);
            let mut figures = meter::Figures::wide(&mut out, 44, 8, 8);
            if let Some((bare, mailer)) = mail {
                write_mail_figures(&mut figures, &bare, &mailer);
            }
            return out;
        }
        meter::write_phases(&mut out, self.phases, 34, "srv");
        meter::write_first_error(&mut out, self.phases);

        let sqlite = self.backend == "SQLite";
        let _ = writeln!(
            out,
            "\nper request, all rounds: CPU µs of the serving process / database / Redis; \
             Redis commands, and commands per Redis read event (how many travel together); \
             SQL statements (counted apart, {COUNTED} requests one at a time){}",
            if sqlite {
                "; SQLite: the database's work is inside the serving process (srv)"
            } else {
                ""
            }
        );
        let _ = writeln!(
            out,
            "{:<18} {:<8} {:>8} {:>8} {:>7} {:>8} {:>9} {:>8}   answers",
            "route", "side", "srv µs", "db µs", "redis µs", "cmds", "cmds/read", "SQL"
        );
        let mut rows = Vec::new();
        for route in Route::ALL {
            let of = |side: Side| {
                let m: Vec<(&Phase, &Work)> = self
                    .phases
                    .iter()
                    .zip(self.works)
                    .filter(|(_, w)| w.route == route && w.side == side)
                    .collect();
                per_request(&m)
            };
            let (bare, gateway) = (of(Side::Bare), of(Side::Gateway));
            let same = self
                .same_bytes
                .iter()
                .find(|(r, _)| *r == route)
                .map_or("-", |(_, s)| s.as_str());
            let sql = self.statements.iter().find(|c| c.route == route);
            for (side, p) in [(Side::Bare, &bare), (Side::Gateway, &gateway)] {
                let statements = sql.map(|c| match side {
                    Side::Bare => c.bare.per_request(),
                    Side::Gateway => c.gateway.per_request(),
                });
                let _ = writeln!(
                    out,
                    "{:<18} {:<8} {:>8.0} {:>8} {:>8.0} {:>8.2} {:>9.2} {:>8}   {}",
                    route.name(),
                    side.name(),
                    p.server_us,
                    p.db_us.map_or("-".into(), |v| format!("{v:.0}")),
                    p.redis_us,
                    p.redis_commands,
                    p.commands_per_read,
                    statements.map_or("-".into(), |v| format!("{v:.2}")),
                    if side == Side::Gateway { same } else { "" },
                );
            }
            rows.push((route, bare, gateway));
        }

        let _ = writeln!(
            out,
            "\nequivalence: the work the shared components did per request"
        );
        for (route, bare, gateway) in &rows {
            let commands_match = (bare.redis_commands - gateway.redis_commands).abs() < SAME_WORK;
            let _ = writeln!(
                out,
                "{:<18} Redis commands {:.2} vs {:.2} {}",
                route.name(),
                bare.redis_commands,
                gateway.redis_commands,
                if commands_match { "(same)" } else { "MISMATCH" }
            );
            if !commands_match {
                let _ = writeln!(
                    out,
                    "{:<18}   bare:    {}\n{:<18}   gateway: {}",
                    "",
                    bare.commands.per_request(bare.requests),
                    "",
                    gateway.commands.per_request(gateway.requests)
                );
            }
            if let Some(count) = self.statements.iter().find(|c| c.route == *route) {
                let (b, g) = (count.bare.per_request(), count.gateway.per_request());
                let same_texts = count.bare.texts == count.gateway.texts;
                let _ = writeln!(
                    out,
                    "{:<18} SQL statements {b:.2} vs {g:.2} {}",
                    "",
                    match ((b - g).abs() < SAME_WORK, same_texts) {
                        (true, true) => "(same, and the same statements)",
                        (true, false) => "(same number) but other statements: MISMATCH",
                        _ => "MISMATCH",
                    }
                );
                if !same_texts || (b - g).abs() >= SAME_WORK {
                    for (name, texts) in [
                        ("bare", &count.bare.texts),
                        ("gateway", &count.gateway.texts),
                    ] {
                        for text in texts {
                            let short: String = text.chars().take(110).collect();
                            let _ = writeln!(out, "{:<18}   {name}: {short}", "");
                        }
                    }
                }
            }
        }

        if sqlite {
            let _ = writeln!(
                out,
                "\nSQLite: no database figure; its CPU is in the process figures"
            );
        }
        let mail = self.write_mail(&mut out);
        let mut figures = meter::Figures::wide(&mut out, 44, 8, 8);
        for (route, bare, gateway) in &rows {
            let ratio = |g: f64, b: f64| g / b;
            let redis = ratio(gateway.redis_us, bare.redis_us);
            figures.row(
                &format!("{}: Redis CPU / bare's", route.name()),
                format!("{redis:.2}"),
                "<= 1.25",
                redis <= TARGET_SHARED_RATIO,
            );
            if let (Some(g), Some(b)) = (gateway.db_us, bare.db_us) {
                let db = ratio(g, b);
                figures.row(
                    &format!("{}: database CPU / bare's", route.name()),
                    format!("{db:.2}"),
                    "<= 1.25",
                    db <= TARGET_SHARED_RATIO,
                );
            }
            let process = ratio(gateway.server_us, bare.server_us);
            figures.row(
                &format!("{}: process CPU / bare's", route.name()),
                format!("{process:.2}"),
                "<= 2",
                process <= TARGET_PROCESS_RATIO,
            );
        }
        if let Some((bare, mailer)) = mail {
            write_mail_figures(&mut figures, &bare, &mailer);
        }
        let _ = writeln!(out, "\nrun took {:.0} s", self.elapsed.as_secs_f64());
        out
    }
}

/// The mailer and its bare twin, each draining the same number of login jobs into one
/// `smtp-sink`, alternated.
struct Mailers {
    binary: PathBuf,
    smtp_sink: PathBuf,
    jobs: usize,
    /// Sends in flight, for the mailer (`MAILER_CONCURRENCY`) and its twin alike.
    in_flight: usize,
}

/// Commands of a mail phase that are not the mailer's work: the enqueue (the gateway's part)
/// and the benchmark's look at the stream's length.
const MAIL_PHASE_OWN_COMMANDS: [&str; 2] = ["xadd", "xinfo|stream"];

/// One mailer run: its mails, and the CPU seconds each process spent on them.
struct MailPhase {
    side: Side,
    round: usize,
    mails: usize,
    elapsed: Duration,
    process_cpu: f64,
    /// The system (kernel) part of `process_cpu`.
    process_system: f64,
    redis_cpu: f64,
    sink_cpu: f64,
    redis: RedisCommands,
    /// Read events Redis processed, the enqueue's and the stream looks' included.
    redis_reads: u64,
}

impl Mailers {
    async fn measure(
        &self,
        scratch: &Scratch,
        keys: &Keyring,
        redis: &mut RedisConn,
        servers: &mut [RedisConn],
    ) -> Result<Vec<MailPhase>> {
        let (sink, port) = mail::start_sink(&self.smtp_sink).await?;
        let smtp_url = format!("smtp://127.0.0.1:{port}");
        let mut phases = Vec::new();
        // A short first run of each warms the sink and Redis; not reported.
        for (round, jobs) in [(0, 500), (1, self.jobs), (2, self.jobs)] {
            for side in [Side::Bare, Side::Gateway] {
                let phase = self
                    .run(
                        scratch,
                        keys,
                        (&mut *redis, &mut *servers),
                        (side, round, jobs),
                        &smtp_url,
                        sink.id(),
                    )
                    .await?;
                if round > 0 {
                    phases.push(phase);
                }
            }
        }
        Ok(phases)
    }

    /// Starts the mailer (or its twin) on a prefix of its own, puts `jobs` login jobs on its
    /// stream, and measures until the stream is empty.
    async fn run(
        &self,
        scratch: &Scratch,
        keys: &Keyring,
        (redis, servers): (&mut RedisConn, &mut [RedisConn]),
        (side, round, jobs): (Side, usize, usize),
        smtp_url: &str,
        sink_pid: u32,
    ) -> Result<MailPhase> {
        eprintln!("shared_cost_bench: R{round} {} mailer…", side.name());
        let prefix = scratch.sub_prefix(&format!("m{round}{}", side.name()));
        let log = scratch
            .dir
            .join(format!("mailer-{round}-{}.log", side.name()));
        let mut command = match side {
            Side::Gateway => Command::new(&self.binary),
            Side::Bare => {
                let mut twin = Command::new(std::env::current_exe()?);
                twin.arg("--bare-mailer");
                twin
            }
        };
        let file = std::fs::File::create(&log)?;
        let process = ChildGuard {
            child: command
                .env_clear()
                .env("PATH", std::env::var("PATH").unwrap_or_default())
                .env(scratch.redis_env().0, scratch.redis_env().1)
                .env("PORTICO_REDIS_PREFIX", &prefix)
                .env("PORTICO_SIGNING_KEYS", keys.to_config_string())
                .env("PORTICO_DATA_DIR", &scratch.dir)
                .env("PORTICO_LOG_FORMAT", "json")
                .env("MAIL_FROM", "Portico <no-reply@portal.test>")
                .env("MAILER_CONCURRENCY", self.in_flight.to_string())
                .env("SMTP_URL", smtp_url)
                .env(
                    "RUST_LOG",
                    std::env::var("RUST_LOG").unwrap_or("info".into()),
                )
                .stdout(file.try_clone()?)
                .stderr(file)
                .spawn()
                .context("starting a mailer")?,
            name: "mailer",
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            if text.contains("mailer started") || text.starts_with("started") {
                break;
            }
            if Instant::now() > deadline {
                bail!("the {} mailer did not start: {text}", side.name());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let batch = mail::login_jobs(keys, &prefix, jobs);
        let stream = RedisKeys::new(&prefix).mail_stream();
        let pid = process.id().to_string();
        let cpu = |pid: &str| system::cpu_time(pid).map_or(f64::NAN, |t| t.as_secs_f64());
        let system = |pid: &str| system::cpu_times(pid).map_or(f64::NAN, |t| t.1.as_secs_f64());
        let (process_before, sink_before) = (cpu(&pid), cpu(&sink_pid.to_string()));
        let system_before = system(&pid);
        let redis_before = meter::redis_cpu_of(servers).await;
        let commands_before = RedisCommands::snap(servers).await?;
        let reads_before = redis_reads(servers).await?;
        let started = Instant::now();
        mail::enqueue(redis, &prefix, &batch).await?;
        loop {
            let length: i64 = match redis::cmd("XINFO")
                .arg("STREAM")
                .arg(&stream)
                .query_async::<redis::Value>(redis)
                .await?
            {
                redis::Value::Map(fields) => fields
                    .iter()
                    .find(|(k, _)| matches!(k, redis::Value::BulkString(b) if b == b"length"))
                    .and_then(|(_, v)| match v {
                        redis::Value::Int(n) => Some(*n),
                        _ => None,
                    })
                    .unwrap_or(-1),
                redis::Value::Array(items) => items
                    .chunks(2)
                    .find(|kv| matches!(&kv[0], redis::Value::BulkString(b) if b == b"length"))
                    .and_then(|kv| match kv.get(1) {
                        Some(redis::Value::Int(n)) => Some(*n),
                        _ => None,
                    })
                    .unwrap_or(-1),
                _ => -1,
            };
            if length == 0 {
                break;
            }
            if started.elapsed() > Duration::from_secs(120) {
                bail!(
                    "the {} mailer left {length} of {jobs} jobs after 2 minutes (log: {})",
                    side.name(),
                    log.display()
                );
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let elapsed = started.elapsed();
        let reads = redis_reads(servers).await? - reads_before;
        let commands = RedisCommands::snap(servers)
            .await?
            .since(&commands_before, &MAIL_PHASE_OWN_COMMANDS);
        let phase = MailPhase {
            side,
            round,
            mails: jobs,
            elapsed,
            process_cpu: cpu(&pid) - process_before,
            process_system: system(&pid) - system_before,
            redis_cpu: meter::redis_cpu_of(servers).await - redis_before,
            sink_cpu: cpu(&sink_pid.to_string()) - sink_before,
            redis: commands,
            redis_reads: reads,
        };
        let mut process = process;
        system::stop_gently(&mut process)?;
        // Best effort: on a cluster a SCAN sees one node and an UNLINK of keys in several
        // slots is refused; the run's own Redis goes away with the run anyway.
        let _ = harness::delete_prefix(redis, &prefix).await;
        Ok(phase)
    }
}
