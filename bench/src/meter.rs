//! Measured phases: a load run against one server, with the CPU time each process taking part
//! spent on it (the server under test, PostgreSQL's backends, Redis, this load generator) and,
//! with `--perf DIR`, a `perf record` profile of the gateway.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use portico_shared::redis_conn::RedisConn;

use crate::harness::Scratch;
use crate::load::{self, MakeReq, Plan, Stats, Target};
use crate::system::{self, ChildGuard};

/// The server a phase loads.
#[derive(Clone, Copy)]
pub struct Server {
    pid: u32,
    /// The gateway: `--perf` profiles it.
    gateway: bool,
    /// PostgreSQL's backends of the benchmark database work for it (their CPU is counted).
    database: bool,
}

impl Server {
    pub fn gateway(pid: u32) -> Server {
        Server {
            pid,
            gateway: true,
            database: true,
        }
    }

    /// A server beside the gateway (the sign-in benchmark's baseline): not profiled, and no
    /// database CPU is counted for it.
    pub fn other(pid: u32) -> Server {
        Server {
            pid,
            gateway: false,
            database: false,
        }
    }

    /// A server beside the gateway that uses the same database (a bare twin of its routes):
    /// not profiled, its database CPU counted like the gateway's.
    pub fn beside(pid: u32) -> Server {
        Server {
            pid,
            gateway: false,
            database: true,
        }
    }
}

/// Samples CPU time of everything taking part, around each phase.
pub struct Meter {
    /// The binary's name, for its progress lines.
    name: &'static str,
    /// Every Redis server taking part (the nodes of a cluster): their CPU is summed.
    redis: Vec<RedisConn>,
    perf: Option<PathBuf>,
    /// On PostgreSQL: an admin connection and the benchmark database's name, to find the
    /// server processes serving the gateway.
    postgres: Option<(sqlx::PgConnection, String)>,
}

struct CpuSnap {
    server: Duration,
    client: Duration,
    redis: f64,
    /// CPU time of each PostgreSQL backend process of the benchmark database, by pid.
    postgres: HashMap<u32, Duration>,
}

/// A measured phase: its requests and the CPU each process spent on them.
pub struct Phase {
    pub name: String,
    pub connections: usize,
    pub stats: Stats,
    /// CPU seconds: the server under test, Redis, and this load generator.
    pub server_cpu: f64,
    pub redis_cpu: f64,
    pub client_cpu: f64,
    /// PostgreSQL's backends serving the gateway (None on SQLite, where that work is the
    /// gateway's own, and for a server other than the gateway).
    pub db_cpu: Option<f64>,
}

impl Phase {
    pub fn per_request_us(&self, cpu_secs: f64) -> f64 {
        cpu_secs * 1e6 / self.stats.count().max(1) as f64
    }
}

impl Meter {
    /// A meter for the run in `scratch`; `perf` is the `--perf` folder.
    pub async fn new(
        name: &'static str,
        scratch: &Scratch,
        redis: RedisConn,
        perf: Option<PathBuf>,
    ) -> Result<Meter> {
        let postgres = match &scratch.postgres {
            Some((admin, database)) => {
                use sqlx::Connection;
                Some((sqlx::PgConnection::connect(admin).await?, database.clone()))
            }
            None => None,
        };
        Ok(Meter {
            name,
            redis: vec![redis],
            perf,
            postgres,
        })
    }

    /// Counts the CPU of these Redis servers instead (every node of a cluster).
    pub fn on_redis_servers(mut self, servers: Vec<RedisConn>) -> Meter {
        self.redis = servers;
        self
    }

    async fn snap(&mut self, server: Server) -> CpuSnap {
        let postgres = match &mut self.postgres {
            Some((conn, name)) => postgres_cpu(conn, name).await,
            None => HashMap::new(),
        };
        CpuSnap {
            server: system::cpu_time(&server.pid.to_string()).unwrap_or_default(),
            client: system::cpu_time("self").unwrap_or_default(),
            redis: redis_cpu_of(&mut self.redis).await,
            postgres,
        }
    }

    /// Runs `plan` of `make`'s requests against `target`, served by `server`.
    pub async fn measure(
        &mut self,
        name: &str,
        server: Server,
        target: &Target,
        plan: Plan,
        make: MakeReq,
    ) -> Result<Phase> {
        self.measure_paced(name, server, target, plan, None, make)
            .await
    }

    /// [`Meter::measure`] with the load paced at `rate` requests per second, if given
    /// ([`load::run_paced`]).
    pub async fn measure_paced(
        &mut self,
        name: &str,
        server: Server,
        target: &Target,
        plan: Plan,
        rate: Option<f64>,
        make: MakeReq,
    ) -> Result<Phase> {
        eprintln!("{}: {name}…", self.name);
        let profiler = match &self.perf {
            Some(dir) if server.gateway => Some(start_perf(dir, name, server.pid)?),
            _ => None,
        };
        let before = self.snap(server).await;
        let stats = load::run_paced(target, plan, rate, make).await?;
        let after = self.snap(server).await;
        if let Some(profiler) = profiler {
            stop_perf(profiler)?;
        }
        Ok(Phase {
            name: name.to_string(),
            connections: plan.connections,
            stats,
            server_cpu: (after.server - before.server).as_secs_f64(),
            redis_cpu: after.redis - before.redis,
            client_cpu: (after.client - before.client).as_secs_f64(),
            db_cpu: self
                .postgres
                .as_ref()
                .filter(|_| server.database)
                .map(|_| cpu_since(&before.postgres, &after.postgres)),
        })
    }
}

/// Fails the run when a phase has more than `max_rate` failed requests: its figures mean
/// nothing then.
pub fn ensure_meaningful(phases: &[Phase], max_rate: f64) -> Result<()> {
    let broken: Vec<String> = phases
        .iter()
        .filter(|p| p.stats.error_rate() > max_rate)
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

/// Starts `perf record` on the gateway; the profile goes to `{dir}/{phase}.perf.data`, the
/// phase's name cut to its first four words.
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

/// The CPU seconds of all these Redis servers together (NaN when one does not answer).
pub async fn redis_cpu_of(servers: &mut [RedisConn]) -> f64 {
    let mut total = 0.0;
    for server in servers {
        total += redis_cpu(server).await.unwrap_or(f64::NAN);
    }
    total
}

/// Redis's own CPU seconds (user + system), from `INFO cpu`.
pub async fn redis_cpu(redis: &mut RedisConn) -> Option<f64> {
    let info: String = redis::cmd("INFO")
        .arg("cpu")
        .query_async(redis)
        .await
        .ok()?;
    let field = |name: &str| -> Option<f64> {
        info.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
            .and_then(|v| v.trim().parse().ok())
    };
    Some(field("used_cpu_user")? + field("used_cpu_sys")?)
}

/// CPU time of each PostgreSQL server process connected to database `name`, by pid.
async fn postgres_cpu(admin: &mut sqlx::PgConnection, name: &str) -> HashMap<u32, Duration> {
    let pids: Vec<i32> = sqlx::query_scalar("SELECT pid FROM pg_stat_activity WHERE datname = $1")
        .bind(name)
        .fetch_all(&mut *admin)
        .await
        .unwrap_or_default();
    pids.into_iter()
        .filter_map(|pid| Some((pid as u32, system::cpu_time(&pid.to_string())?)))
        .collect()
}

/// CPU seconds the processes of `after` spent since `before` (a process new since then
/// counts from zero).
fn cpu_since(before: &HashMap<u32, Duration>, after: &HashMap<u32, Duration>) -> f64 {
    after
        .iter()
        .map(|(pid, cpu)| {
            let start = before.get(pid).copied().unwrap_or_default();
            cpu.saturating_sub(start).as_secs_f64()
        })
        .sum()
}

// The parts of a report both gateway benchmarks print.

/// The report's first line: what ran, on what machine, how loaded it was.
pub fn write_heading(
    out: &mut String,
    title: &str,
    backend: &str,
    phase: Duration,
    load_before: &str,
) {
    let _ = writeln!(
        out,
        "\n{title}: {backend}, {} CPUs, {} s phases, load average before the run {}",
        system::cpus(),
        phase.as_secs(),
        load_before
    );
}

/// One line per phase: requests, rate, latency and the CPU each process spent per request.
/// `name_width` fits the longest phase name; `server` labels the first CPU column.
pub fn write_phases(out: &mut String, phases: &[Phase], name_width: usize, server: &str) {
    let _ = writeln!(
        out,
        "\n{:<name_width$} {:>5} {:>8} {:>8} {:>7} {:>7} {:>6}   {:>26}",
        "phase",
        "conns",
        "requests",
        "req/s",
        "p50 ms",
        "p99 ms",
        "errors",
        format!("CPU µs/req {server}/db/redis/cli"),
    );
    for p in phases {
        let _ = writeln!(
            out,
            "{:<name_width$} {:>5} {:>8} {:>8.0} {:>7.2} {:>7.2} {:>6}   {:>5.0} / {:>4} / {:>4.0} / {:>4.0}",
            p.name,
            p.connections,
            p.stats.count(),
            p.stats.rps(),
            p.stats.quantile_ms(None, 0.5),
            p.stats.quantile_ms(None, 0.99),
            p.stats.errors,
            p.per_request_us(p.server_cpu),
            p.db_cpu
                .map_or("-".to_string(), |db| format!("{:.0}", p.per_request_us(db))),
            p.per_request_us(p.redis_cpu),
            p.per_request_us(p.client_cpu),
        );
    }
}

/// The first failed request's error, if any phase had one.
pub fn write_first_error(out: &mut String, phases: &[Phase]) {
    if let Some(first) = phases.iter().find_map(|p| p.stats.first_error.as_deref()) {
        let _ = writeln!(out, "first error: {first}");
    }
}

/// The figures table: each figure beside its target, with PASS or MISS.
pub struct Figures<'a> {
    out: &'a mut String,
    figure_width: usize,
    value_width: usize,
    target_width: usize,
}

impl<'a> Figures<'a> {
    /// Starts the table (its heading line) in `out`.
    pub fn new(out: &'a mut String, value_width: usize, target_width: usize) -> Figures<'a> {
        Figures::wide(out, 52, value_width, target_width)
    }

    /// A table whose figure names are up to `figure_width` wide.
    pub fn wide(
        out: &'a mut String,
        figure_width: usize,
        value_width: usize,
        target_width: usize,
    ) -> Figures<'a> {
        let _ = writeln!(
            out,
            "\n{:<figure_width$} {:>value_width$}  {:<target_width$} result",
            "figure", "value", "target"
        );
        Figures {
            out,
            figure_width,
            value_width,
            target_width,
        }
    }

    pub fn row(&mut self, figure: &str, value: String, target: &str, pass: bool) {
        let (figure_width, value_width, target_width) =
            (self.figure_width, self.value_width, self.target_width);
        let _ = writeln!(
            self.out,
            "{figure:<figure_width$} {value:>value_width$}  {target:<target_width$} {}",
            if pass { "PASS" } else { "MISS" }
        );
    }
}
