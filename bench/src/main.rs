//! Portico's sign-in benchmark: prints figures beside their targets, never fails on them.
//!
//! ```text
//! cargo run --release -p portico-bench [-- --postgres] [--secs N] [--no-build] [--perf DIR]
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

use std::fmt::Write as _;
use std::io::{BufRead, BufReader};
use std::process::{Command, ExitCode, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Parser;
use hyper::StatusCode;

use portico_bench::cli::{self, CommonOptions};
use portico_bench::harness::{self, Deployment, GatewayUse, fetch_anchors, take_links};
use portico_bench::load::{self, MakeReq, Plan, Req, Target};
use portico_bench::meter::{self, Meter, Phase};
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

/// Portico's sign-in benchmark: prints figures beside their targets, never fails on them (see
/// BENCH.md).
#[derive(Parser)]
#[command(name = "portico-bench")]
struct Cli {
    #[command(flatten)]
    common: CommonOptions,
    /// Serve the baseline handler instead (the benchmark starts this binary so, as its own
    /// process)
    #[arg(long, hide = true, num_args = 2, value_names = ["REDIS_URL", "PREFIX"])]
    baseline_server: Option<Vec<String>>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some([redis_url, prefix]) = cli.baseline_server.as_deref() {
        return cli::run("baseline", baseline::serve(redis_url, prefix));
    }
    let options = &cli.common;
    cli::run(
        "bench",
        harness::gateway_bench(options, async |deployment| bench(options, deployment).await),
    )
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

/// Runs the phases on `deployment`, whose keys the bench keeps to unseal the mail jobs.
async fn bench(options: &CommonOptions, deployment: &Deployment<'_>) -> Result<()> {
    let started = Instant::now();
    let phase = options.phase();
    let load_before = system::load_average();
    let scratch = deployment.scratch;
    let api_key = deployment.create_firm(SLUG, "Bench & Co")?;

    // The gateway, logging as it would by default, into a file.
    let server = deployment.start(&[], "gateway.log").await?;
    let api = server.api();
    let site = server.site(SLUG);

    // The baseline, in its own process too.
    let exe = std::env::current_exe().context("locating this binary")?;
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
    let stream = portico_shared::redis_conn::RedisKeys::new(&scratch.prefix).mail_stream();
    let mut meter = Meter::new("bench", scratch, redis.clone(), options.perf.clone()).await?;
    let (gateway_server, baseline_server) = (
        meter::Server::gateway(server.process.id()),
        meter::Server::other(baseline_proc.id()),
    );

    let baseline_make = || -> MakeReq {
        let run = scratch.run_id.clone();
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

    // A throughput phase: every connection, the phase's length, at most `limit` requests.
    let throughput = |limit| Plan {
        connections: CONNECTIONS,
        duration: phase,
        limit,
    };
    let mut phases = Vec::new();
    phases.push(
        meter
            .measure(
                "baseline: HMAC verify + SET + GETDEL (before)",
                baseline_server,
                &base,
                throughput(usize::MAX),
                baseline_make(),
            )
            .await?,
    );
    phases.push(
        meter
            .measure(
                "POST /login, known emails (mints links)",
                gateway_server,
                &site,
                throughput(usize::MAX),
                login_known_make(),
            )
            .await?,
    );

    // The links just mailed, unsealed with the keys the gateway was given.
    let links = Arc::new(take_links(&mut redis, &stream, &deployment.keys).await?);
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
        meter
            .measure(
                "POST /auth/magic: verify, consume, session",
                gateway_server,
                &site,
                throughput(minted),
                consume_make,
            )
            .await?,
    );
    phases.push(
        meter
            .measure(
                "baseline: HMAC verify + SET + GETDEL (after)",
                baseline_server,
                &base,
                throughput(usize::MAX),
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
        meter
            .measure(
                "POST /login, known / unknown / no access, interleaved",
                gateway_server,
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

    let used = server.finish(options.perf.as_deref())?;
    drop(baseline_proc);

    let report = Report {
        backend: options.backend(),
        phase,
        phases: &phases,
        minted,
        used,
        load_before,
        elapsed: started.elapsed(),
    };
    print!("{}", report.render());

    meter::ensure_meaningful(&phases, MAX_ERROR_RATE)
}

struct Report<'a> {
    backend: &'static str,
    phase: Duration,
    phases: &'a [Phase],
    minted: usize,
    used: GatewayUse,
    load_before: String,
    elapsed: Duration,
}

impl Report<'_> {
    fn render(&self) -> String {
        let [base_before, login, consume, base_after, mixed] = self.phases else {
            return "bench: incomplete run\n".into();
        };
        let mut out = String::new();
        meter::write_heading(
            &mut out,
            "Portico sign-in benchmark",
            self.backend,
            self.phase,
            &self.load_before,
        );
        meter::write_phases(&mut out, self.phases, 54, "srv");
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
        meter::write_first_error(&mut out, self.phases);

        let baseline_rps = (base_before.stats.rps() + base_after.stats.rps()) / 2.0;
        let consume_ratio = consume.stats.rps() / baseline_rps;
        let consume_p99 = consume.stats.quantile_ms(None, 0.99);
        let login_ratio = login.stats.rps() / baseline_rps;
        let known = mixed.stats.quantile_ms(Some(KNOWN), 0.5);
        let unknown = mixed.stats.quantile_ms(Some(UNKNOWN), 0.5);
        let no_access = mixed.stats.quantile_ms(Some(NO_ACCESS), 0.5);
        let gap = (known - unknown) / unknown * 100.0;
        let gap_no_access = (no_access - unknown) / unknown * 100.0;
        let peak_mb = self.used.peak_kb.map_or(f64::NAN, |kb| kb as f64 / 1024.0);

        let _ = writeln!(
            out,
            "\nbaseline throughput: {baseline_rps:.0} req/s (mean of before {:.0} and after {:.0})",
            base_before.stats.rps(),
            base_after.stats.rps()
        );
        let mut row = meter::Figures::new(&mut out, 18, 14);
        row.row(
            "consume link: throughput / baseline",
            format!("{consume_ratio:.2}"),
            ">= 0.70",
            consume_ratio >= TARGET_CONSUME_RATIO,
        );
        row.row(
            "consume link: p99 at 64 connections",
            format!("{consume_p99:.2} ms"),
            "<= 10 ms",
            consume_p99 <= TARGET_CONSUME_P99_MS,
        );
        row.row(
            "login, known emails: throughput / baseline",
            format!("{login_ratio:.2}"),
            ">= 0.50",
            login_ratio >= TARGET_LOGIN_RATIO,
        );
        row.row(
            "login median, known vs unknown email",
            format!("{gap:+.1} %"),
            "within 10 %",
            gap.abs() <= TARGET_MEDIAN_GAP_PCT,
        );
        row.row(
            "login median, no-access vs unknown email",
            format!("{gap_no_access:+.1} %"),
            "within 10 %",
            gap_no_access.abs() <= TARGET_MEDIAN_GAP_PCT,
        );
        row.row(
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
            self.used.rss_kb.map_or(f64::NAN, |kb| kb as f64 / 1024.0),
            self.used.log_bytes as f64 / 1_048_576.0,
            self.elapsed.as_secs_f64()
        );
        out
    }
}
