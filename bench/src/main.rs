//! Portico's sign-in benchmark: prints figures beside their targets, never fails on them.
//!
//! ```text
//! cargo run --release -p portico-bench [-- --postgres] [--secs N] [--no-build]
//! ```
//!
//! Runs the real `gateway` binary (release build, located next to this one and rebuilt first
//! when run through cargo) as its own process, on a fresh SQLite database (or a fresh
//! PostgreSQL one with `--postgres`) and the local Redis, under a unique key prefix. Beside it
//! runs the baseline (this binary with `--baseline-server`), a bare axum handler doing one
//! HMAC-SHA256 verify, one Redis `SET` and one `GETDEL`. This process drives both over
//! loopback HTTP/1.1 keep-alive connections. See BENCH.md for what each figure means.
#![forbid(unsafe_code)]

mod baseline;

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use hyper::StatusCode;
use portico_shared::keys::Keyring;
use redis::aio::ConnectionManager;

use portico_bench::harness::{
    self, BASE_DOMAIN, Scratch, fetch_anchors, redis_cpu, take_links, wait_ready,
};
use portico_bench::load::{self, MakeReq, Plan, Req, Stats, Target};
use portico_bench::system::{self, ChildGuard};

/// Concurrent connections of the throughput phases.
const CONNECTIONS: usize = 64;
/// Concurrent connections of the known-versus-unknown latency phase.
const LOW_CONNECTIONS: usize = 2;
/// Contacts with portal access; `POST /login` cycles through them.
const KNOWN_CONTACTS: usize = 256;
/// Contacts without portal access (answered exactly like unknown addresses).
const NO_ACCESS_CONTACTS: usize = 64;
const SLUG: &str = "bench";
/// Over this share of failed requests in a phase, its figures mean nothing: the run fails.
const MAX_ERROR_RATE: f64 = 0.01;

const TARGET_CONSUME_RATIO: f64 = 0.7;
const TARGET_CONSUME_P99_MS: f64 = 10.0;
const TARGET_LOGIN_RATIO: f64 = 0.5;
const TARGET_MEDIAN_GAP_PCT: f64 = 10.0;
const TARGET_RSS_MB: f64 = 64.0;

struct Options {
    postgres: bool,
    phase: Duration,
    build: bool,
    /// Where to put a `perf record` profile of the gateway for each of its phases, and its log.
    perf: Option<PathBuf>,
}

const USAGE: &str = "usage: portico-bench [--postgres] [--secs N] [--no-build] [--perf DIR]";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--baseline-server") {
        let (Some(redis_url), Some(prefix)) = (args.get(1), args.get(2)) else {
            eprintln!("usage: portico-bench --baseline-server REDIS_URL PREFIX");
            return ExitCode::from(2);
        };
        return match baseline::serve(redis_url, prefix) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("baseline: {e:#}");
                ExitCode::FAILURE
            }
        };
    }
    let options = match parse_options(&args) {
        Ok(options) => options,
        Err(e) => {
            eprintln!("bench: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let outcome = tokio::runtime::Runtime::new()
        .context("starting the async runtime")
        .and_then(|runtime| runtime.block_on(run(options)));
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn parse_options(args: &[String]) -> Result<Options, String> {
    let mut options = Options {
        postgres: false,
        phase: Duration::from_secs(8),
        build: true,
        perf: None,
    };
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--postgres" => options.postgres = true,
            "--no-build" => options.build = false,
            "--secs" => {
                let secs: u64 = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .filter(|&s| (1..=60).contains(&s))
                    .ok_or("--secs: expected a number of seconds from 1 to 60")?;
                options.phase = Duration::from_secs(secs);
            }
            "--perf" => {
                let dir = args.next().ok_or("--perf: expected a folder")?;
                options.perf = Some(PathBuf::from(dir));
            }
            "-h" | "--help" => return Err("help".into()),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(options)
}

async fn run(options: Options) -> Result<()> {
    let gateway = harness::gateway_binary(options.build)?;
    let exe = std::env::current_exe().context("locating this binary")?;
    let (scratch, run_id) = Scratch::new(options.postgres);
    let outcome = bench(&options, &gateway, &exe, &scratch, &run_id).await;
    scratch.remove().await;
    outcome
}

/// Samples CPU time of everything taking part, around each phase.
struct Meter {
    gateway: u32,
    baseline: u32,
    redis: ConnectionManager,
    perf: Option<PathBuf>,
    /// On PostgreSQL: an admin connection and the benchmark database's name, to find the
    /// server processes serving the gateway.
    postgres: Option<(sqlx::PgConnection, String)>,
}

#[derive(Clone)]
struct CpuSnap {
    gateway: Duration,
    baseline: Duration,
    client: Duration,
    redis: f64,
    /// CPU time of each PostgreSQL backend process of the benchmark database, by pid.
    postgres: HashMap<u32, Duration>,
}

impl Meter {
    async fn snap(&mut self) -> CpuSnap {
        let postgres = match &mut self.postgres {
            Some((conn, name)) => harness::postgres_cpu(conn, name).await,
            None => HashMap::new(),
        };
        CpuSnap {
            gateway: system::cpu_time(&self.gateway.to_string()).unwrap_or_default(),
            baseline: system::cpu_time(&self.baseline.to_string()).unwrap_or_default(),
            client: system::cpu_time("self").unwrap_or_default(),
            redis: redis_cpu(&mut self.redis).await.unwrap_or(f64::NAN),
            postgres,
        }
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Server {
    Gateway,
    Baseline,
}

/// A measured phase: its requests and the CPU each process spent on them.
struct Phase {
    name: String,
    server: Server,
    connections: usize,
    stats: Stats,
    /// CPU seconds: the server under test, Redis, and this load generator.
    server_cpu: f64,
    redis_cpu: f64,
    client_cpu: f64,
    /// PostgreSQL's backends serving the gateway (None on SQLite, where it is in the gateway).
    db_cpu: Option<f64>,
}

impl Phase {
    fn per_request_us(&self, cpu_secs: f64) -> f64 {
        cpu_secs * 1e6 / self.stats.count().max(1) as f64
    }
}

async fn measure(
    meter: &mut Meter,
    name: &str,
    server: Server,
    target: &Target,
    plan: Plan,
    make: MakeReq,
) -> Result<Phase> {
    eprintln!("bench: {name}…");
    let profiler = match (&meter.perf, server) {
        (Some(dir), Server::Gateway) => Some(start_perf(dir, name, meter.gateway)?),
        _ => None,
    };
    let before = meter.snap().await;
    let stats = load::run(target, plan, make).await?;
    let after = meter.snap().await;
    if let Some(profiler) = profiler {
        stop_perf(profiler)?;
    }
    let server_cpu = match server {
        Server::Gateway => after.gateway - before.gateway,
        Server::Baseline => after.baseline - before.baseline,
    };
    Ok(Phase {
        name: name.to_string(),
        server,
        connections: plan.connections,
        stats,
        server_cpu: server_cpu.as_secs_f64(),
        redis_cpu: after.redis - before.redis,
        client_cpu: (after.client - before.client).as_secs_f64(),
        db_cpu: meter
            .postgres
            .as_ref()
            .map(|_| harness::cpu_since(&before.postgres, &after.postgres)),
    })
}

/// Starts `perf record` on the gateway; the profile goes to `{dir}/{phase}.perf.data`.
fn start_perf(dir: &Path, phase: &str, pid: u32) -> Result<ChildGuard> {
    std::fs::create_dir_all(dir)?;
    let slug: String = phase
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect::<String>()
        .split('-')
        .filter(|w| !w.is_empty())
        .take(4)
        .collect::<Vec<_>>()
        .join("-");
    let child = Command::new("perf")
        .args([
            "record",
            "-q",
            "-F",
            "250",
            "--call-graph",
            "dwarf,16384",
            "-p",
        ])
        .arg(pid.to_string())
        .arg("-o")
        .arg(dir.join(format!("{slug}.perf.data")))
        .stdout(Stdio::null())
        .spawn()
        .context("starting perf record (--perf)")?;
    // perf needs a moment to attach before the load starts.
    std::thread::sleep(Duration::from_millis(500));
    Ok(ChildGuard {
        child,
        name: "perf",
    })
}

/// Stops `perf record` with SIGINT, so it writes its file, and waits for it.
fn stop_perf(mut profiler: ChildGuard) -> Result<()> {
    Command::new("kill")
        .args(["-INT", &profiler.id().to_string()])
        .status()
        .context("stopping perf record")?;
    profiler.child.wait()?;
    Ok(())
}

fn known_email(i: usize) -> String {
    format!("client{:04}@bench.example", i % KNOWN_CONTACTS)
}

fn no_access_email(i: usize) -> String {
    format!("former{:04}@bench.example", i % NO_ACCESS_CONTACTS)
}

fn unknown_email(i: usize) -> String {
    format!("nobody{i:06}@bench.example")
}

/// The series of the interleaved phase.
const KNOWN: usize = 0;
const UNKNOWN: usize = 1;
const NO_ACCESS: usize = 2;

/// Request `seq` of the interleaved phase: every three requests carry one of each kind, in
/// an order that changes from triple to triple, so none is always first or last.
fn interleaved_kind(seq: usize) -> usize {
    const ORDERS: [[usize; 3]; 6] = [
        [KNOWN, UNKNOWN, NO_ACCESS],
        [KNOWN, NO_ACCESS, UNKNOWN],
        [UNKNOWN, KNOWN, NO_ACCESS],
        [UNKNOWN, NO_ACCESS, KNOWN],
        [NO_ACCESS, KNOWN, UNKNOWN],
        [NO_ACCESS, UNKNOWN, KNOWN],
    ];
    // splitmix64 of the triple's number: cheap, fixed, well spread.
    let mut z = (seq / 3) as u64 ^ 0x9e37_79b9_7f4a_7c15;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    ORDERS[(z % 6) as usize][seq % 3]
}

async fn bench(
    options: &Options,
    gateway: &Path,
    exe: &Path,
    scratch: &Scratch,
    run_id: &str,
) -> Result<()> {
    let started = Instant::now();
    let phase = options.phase;
    let load_before = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();

    // The database and the gateway's configuration: the bench keeps the signing keys to
    // unseal the mail jobs.
    let database_url = scratch.create().await?;
    let keys = Keyring::generate("b1");
    let port = system::free_port()?;
    let vars = scratch.gateway_env(&database_url, &keys, port);
    let gateway_cmd = |args: &[&str]| {
        let mut command = Command::new(gateway);
        command.env_clear().envs(&vars).args(args);
        command
    };
    harness::gateway_cli(gateway, &vars, &["migrate"])?;
    let api_key = harness::create_firm(gateway, &vars, SLUG, "Bench & Co")?;

    // The gateway, logging as it would by default, into a file.
    let log_path = scratch.dir.join("gateway.log");
    let log = std::fs::File::create(&log_path)?;
    let mut server = ChildGuard {
        child: gateway_cmd(&["serve"])
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .context("starting gateway serve")?,
        name: "gateway",
    };
    let api = Target {
        addr: ([127, 0, 0, 1], port).into(),
        host: format!("127.0.0.1:{port}"),
    };
    wait_ready(&mut server, &api, &log_path).await?;
    let site = Target {
        addr: api.addr,
        host: format!("{SLUG}.{BASE_DOMAIN}:{port}"),
    };

    // The baseline, in its own process too.
    let mut baseline_child = Command::new(exe)
        .args(["--baseline-server", &scratch.redis_url, &scratch.prefix])
        .stdout(Stdio::piped())
        .spawn()
        .context("starting the baseline server")?;
    let stdout = baseline_child.stdout.take().context("baseline stdout")?;
    let baseline_proc = ChildGuard {
        child: baseline_child,
        name: "baseline",
    };
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line)?;
    let baseline_addr = line
        .trim()
        .strip_prefix("listening ")
        .and_then(|a| a.parse().ok())
        .with_context(|| format!("the baseline server did not start ({line:?})"))?;
    let base = Target {
        addr: baseline_addr,
        host: baseline_addr.to_string(),
    };

    // Contacts, through the staff API.
    let key = api_key.clone();
    let contacts = load::run(
        &api,
        Plan {
            connections: 8,
            duration: Duration::from_secs(120),
            limit: KNOWN_CONTACTS + NO_ACCESS_CONTACTS,
        },
        Arc::new(move |_, i| {
            let (email, access) = if i < KNOWN_CONTACTS {
                (known_email(i), true)
            } else {
                (no_access_email(i - KNOWN_CONTACTS), false)
            };
            let body = serde_json::json!({
                "name": format!("Client {i}"),
                "email": email,
                "portal_access": access,
            });
            Req::post_json("/api/v1/contacts", &key, &body)
        }),
    )
    .await?;
    if contacts.errors > 0 || contacts.count() != KNOWN_CONTACTS + NO_ACCESS_CONTACTS {
        bail!(
            "creating contacts through the API failed: {}",
            contacts.first_error.unwrap_or_default()
        );
    }

    // One CSRF anchor cookie and token per connection, as a browser would hold them.
    let anchors = Arc::new(fetch_anchors(&site, CONNECTIONS).await?);

    let mut redis = portico_shared::redis_conn::connect(&scratch.redis_url)
        .await
        .context("connecting to Redis")?;
    let stream = format!("{}mail:jobs", scratch.prefix);
    let mut meter = Meter {
        gateway: server.id(),
        baseline: baseline_proc.id(),
        redis: redis.clone(),
        perf: options.perf.clone(),
        postgres: match &scratch.postgres {
            Some((admin, name)) => {
                use sqlx::Connection;
                Some((sqlx::PgConnection::connect(admin).await?, name.clone()))
            }
            None => None,
        },
    };

    let baseline_make = || -> MakeReq {
        let run = run_id.to_string();
        Arc::new(move |_, seq| {
            let token = baseline::token(&run, seq);
            Req::post_form(baseline::PATH, None, &[("token", token.as_str())])
        })
    };
    let login_known_make = || -> MakeReq {
        let anchors = anchors.clone();
        Arc::new(move |worker, seq| {
            let anchor = &anchors[worker % anchors.len()];
            let email = known_email(seq);
            Req::post_form(
                "/login",
                Some(&anchor.cookie),
                &[("email", email.as_str()), ("csrf", anchor.csrf.as_str())],
            )
        })
    };

    // Warm-up (not reported): first connections, caches, SQLite pages, Redis scripts.
    eprintln!("bench: warming up…");
    let warm = Plan {
        connections: CONNECTIONS,
        duration: Duration::from_secs(2).min(phase),
        limit: usize::MAX,
    };
    load::run(&base, warm, baseline_make()).await?;
    let warm_login = load::run(&site, warm, login_known_make()).await?;
    if warm_login.error_rate() > MAX_ERROR_RATE {
        bail!(
            "POST /login fails: {}",
            warm_login.first_error.unwrap_or_default()
        );
    }

    let mut phases = Vec::new();
    phases.push(
        measure(
            &mut meter,
            "baseline: HMAC verify + SET + GETDEL (before)",
            Server::Baseline,
            &base,
            Plan {
                connections: CONNECTIONS,
                duration: phase,
                limit: usize::MAX,
            },
            baseline_make(),
        )
        .await?,
    );
    phases.push(
        measure(
            &mut meter,
            "POST /login, known emails (mints links)",
            Server::Gateway,
            &site,
            Plan {
                connections: CONNECTIONS,
                duration: phase,
                limit: usize::MAX,
            },
            login_known_make(),
        )
        .await?,
    );

    // The links just mailed, unsealed with the keys the gateway was given.
    let links = Arc::new(take_links(&mut redis, &stream, &keys).await?);
    let minted = links.len();
    if minted < 1000 {
        bail!("only {minted} links reached the mail stream");
    }
    let consume_make: MakeReq = {
        let (anchors, links) = (anchors.clone(), links.clone());
        Arc::new(move |worker, seq| {
            let anchor = &anchors[worker % anchors.len()];
            let (token, code) = &links[seq];
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
    phases.push(
        measure(
            &mut meter,
            "POST /auth/magic: verify, consume, session",
            Server::Gateway,
            &site,
            Plan {
                connections: CONNECTIONS,
                duration: phase,
                limit: minted,
            },
            consume_make,
        )
        .await?,
    );
    phases.push(
        measure(
            &mut meter,
            "baseline: HMAC verify + SET + GETDEL (after)",
            Server::Baseline,
            &base,
            Plan {
                connections: CONNECTIONS,
                duration: phase,
                limit: usize::MAX,
            },
            baseline_make(),
        )
        .await?,
    );
    let interleaved_make: MakeReq = {
        let anchors = anchors.clone();
        Arc::new(move |worker, seq| {
            let anchor = &anchors[worker % anchors.len()];
            let kind = interleaved_kind(seq);
            let email = match kind {
                KNOWN => known_email(seq / 3),
                NO_ACCESS => no_access_email(seq / 3),
                _ => unknown_email(seq),
            };
            Req::post_form(
                "/login",
                Some(&anchor.cookie),
                &[("email", email.as_str()), ("csrf", anchor.csrf.as_str())],
            )
            .label(kind)
        })
    };
    phases.push(
        measure(
            &mut meter,
            "POST /login, known / unknown / no access, interleaved",
            Server::Gateway,
            &site,
            Plan {
                connections: LOW_CONNECTIONS,
                duration: phase,
                limit: usize::MAX,
            },
            interleaved_make,
        )
        .await?,
    );
    let _ = redis::cmd("XTRIM")
        .arg(&stream)
        .arg("MAXLEN")
        .arg(0)
        .query_async::<i64>(&mut redis)
        .await;

    let peak_kb = system::status_kb(server.id(), "VmHWM");
    let rss_kb = system::status_kb(server.id(), "VmRSS");
    if let Some(status) = server.exited() {
        bail!(
            "the gateway exited during the run ({status}); its log: {}",
            log_path.display()
        );
    }
    let log_bytes = std::fs::metadata(&log_path).map_or(0, |m| m.len());
    if let Some(dir) = &options.perf {
        let _ = std::fs::copy(&log_path, dir.join("gateway.log"));
    }
    drop(server);
    drop(baseline_proc);

    let report = Report {
        backend: if options.postgres {
            "PostgreSQL"
        } else {
            "SQLite"
        },
        phase,
        phases: &phases,
        minted,
        peak_kb,
        rss_kb,
        log_bytes,
        load_before: load_before.split_whitespace().take(3).collect(),
        elapsed: started.elapsed(),
    };
    print!("{}", report.render());

    let broken: Vec<String> = phases
        .iter()
        .filter(|p| p.stats.error_rate() > MAX_ERROR_RATE)
        .map(|p| {
            format!(
                "{}: {} errors, first: {}",
                p.name,
                p.stats.errors,
                p.stats.first_error.as_deref().unwrap_or("?")
            )
        })
        .collect();
    if !broken.is_empty() {
        bail!(
            "requests failed, so these figures mean nothing:\n  {}",
            broken.join("\n  ")
        );
    }
    Ok(())
}

struct Report<'a> {
    backend: &'static str,
    phase: Duration,
    phases: &'a [Phase],
    minted: usize,
    peak_kb: Option<u64>,
    rss_kb: Option<u64>,
    log_bytes: u64,
    load_before: Vec<&'a str>,
    elapsed: Duration,
}

fn verdict(pass: bool) -> &'static str {
    if pass { "PASS" } else { "MISS" }
}

impl Report<'_> {
    fn render(&self) -> String {
        let [base_before, login, consume, base_after, mixed] = self.phases else {
            return "bench: incomplete run\n".into();
        };
        let mut out = String::new();
        let _ = writeln!(
            out,
            "\nPortico sign-in benchmark: {}, {} CPUs, {} s phases, load average before the run {}",
            self.backend,
            system::cpus(),
            self.phase.as_secs(),
            self.load_before.join(" ")
        );
        let _ = writeln!(
            out,
            "\n{:<54} {:>5} {:>8} {:>8} {:>7} {:>7} {:>6}   {:>26}",
            "phase",
            "conns",
            "requests",
            "req/s",
            "p50 ms",
            "p99 ms",
            "errors",
            "CPU µs/req srv/db/redis/cli"
        );
        for p in self.phases {
            let _ = writeln!(
                out,
                "{:<54} {:>5} {:>8} {:>8.0} {:>7.2} {:>7.2} {:>6}   {:>5.0} / {:>4} / {:>4.0} / {:>4.0}",
                p.name,
                p.connections,
                p.stats.count(),
                p.stats.rps(),
                p.stats.quantile_ms(None, 0.5),
                p.stats.quantile_ms(None, 0.99),
                p.stats.errors,
                p.per_request_us(p.server_cpu),
                match (p.db_cpu, p.server) {
                    (Some(db), Server::Gateway) => format!("{:.0}", p.per_request_us(db)),
                    _ => "-".to_string(),
                },
                p.per_request_us(p.redis_cpu),
                p.per_request_us(p.client_cpu),
            );
        }
        for (label, name) in [
            (KNOWN, "known"),
            (UNKNOWN, "unknown"),
            (NO_ACCESS, "no access"),
        ] {
            let _ = writeln!(
                out,
                "{:<54} {:>5} {:>8} {:>8} {:>7.3} {:>7.2}",
                format!("  of which {name} emails"),
                "",
                mixed.stats.label_count(label),
                "",
                mixed.stats.quantile_ms(Some(label), 0.5),
                mixed.stats.quantile_ms(Some(label), 0.99),
            );
        }
        if let Some(first) = self
            .phases
            .iter()
            .find_map(|p| p.stats.first_error.as_deref())
        {
            let _ = writeln!(out, "first error: {first}");
        }

        let baseline_rps = (base_before.stats.rps() + base_after.stats.rps()) / 2.0;
        let consume_ratio = consume.stats.rps() / baseline_rps;
        let consume_p99 = consume.stats.quantile_ms(None, 0.99);
        let login_ratio = login.stats.rps() / baseline_rps;
        let known = mixed.stats.quantile_ms(Some(KNOWN), 0.5);
        let unknown = mixed.stats.quantile_ms(Some(UNKNOWN), 0.5);
        let no_access = mixed.stats.quantile_ms(Some(NO_ACCESS), 0.5);
        let gap = (known - unknown) / unknown * 100.0;
        let gap_no_access = (no_access - unknown) / unknown * 100.0;
        let peak_mb = self.peak_kb.map_or(f64::NAN, |kb| kb as f64 / 1024.0);

        let _ = writeln!(
            out,
            "\nbaseline throughput: {baseline_rps:.0} req/s (mean of before {:.0} and after {:.0})",
            base_before.stats.rps(),
            base_after.stats.rps()
        );
        let _ = writeln!(
            out,
            "\n{:<52} {:>18}  {:<14} result",
            "figure", "value", "target"
        );
        let mut row = |figure: &str, value: String, target: &str, pass: bool| {
            let _ = writeln!(
                out,
                "{figure:<52} {value:>18}  {target:<14} {}",
                verdict(pass)
            );
        };
        row(
            "consume link: throughput / baseline",
            format!("{consume_ratio:.2}"),
            ">= 0.70",
            consume_ratio >= TARGET_CONSUME_RATIO,
        );
        row(
            "consume link: p99 at 64 connections",
            format!("{consume_p99:.2} ms"),
            "<= 10 ms",
            consume_p99 <= TARGET_CONSUME_P99_MS,
        );
        row(
            "login, known emails: throughput / baseline",
            format!("{login_ratio:.2}"),
            ">= 0.50",
            login_ratio >= TARGET_LOGIN_RATIO,
        );
        row(
            "login median, known vs unknown email",
            format!("{gap:+.1} %"),
            "within 10 %",
            gap.abs() <= TARGET_MEDIAN_GAP_PCT,
        );
        row(
            "login median, no-access vs unknown email",
            format!("{gap_no_access:+.1} %"),
            "within 10 %",
            gap_no_access.abs() <= TARGET_MEDIAN_GAP_PCT,
        );
        row(
            "gateway peak RSS (VmHWM) after the load",
            format!("{peak_mb:.1} MB"),
            "<= 64 MB",
            peak_mb <= TARGET_RSS_MB,
        );
        let _ = writeln!(
            out,
            "\nlogin medians: known {known:.3} ms, unknown {unknown:.3} ms, no access {no_access:.3} ms"
        );
        let _ = writeln!(
            out,
            "links minted {}, consumed {} (each at most once); gateway RSS now {:.1} MB; gateway log {:.1} MB; run took {:.0} s",
            self.minted,
            consume.stats.count(),
            self.rss_kb.map_or(f64::NAN, |kb| kb as f64 / 1024.0),
            self.log_bytes as f64 / 1_048_576.0,
            self.elapsed.as_secs_f64()
        );
        out
    }
}
