//! What every benchmark needs: a scratch area removed afterwards (temp folder, PostgreSQL
//! database, Redis keys under a unique prefix) and the binary under test rebuilt; for those of
//! the real gateway, its database migrated, the gateway started as its own process, and the
//! sign-in flow driven as a browser would. CPU time of the processes taking part is
//! [`crate::meter`]'s.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use hyper::StatusCode;
use portico_shared::config::RedisTopology;
use portico_shared::keys::Keyring;
use portico_shared::mail::{LinkSecrets, MailJob};
use portico_shared::redis_conn::RedisConn;
use portico_shared::secret::{hex, random_bytes};

use crate::cli::CommonOptions;
use crate::load::{Conn, Req, Target};
use crate::system::{self, ChildGuard};

/// The base domain the benchmarks' gateways serve firms under (`{slug}.portico.bench`).
pub const BASE_DOMAIN: &str = "portico.bench";

/// What the run created outside its processes, removed at the end whatever happened.
pub struct Scratch {
    /// A unique id of the run, in the folder's, the prefix's and the database's names.
    pub run_id: String,
    pub dir: PathBuf,
    pub redis_url: String,
    /// The nodes of a Redis Cluster the run uses instead of `redis_url`'s server
    /// (`REDIS_CLUSTER_NODES`), if any.
    pub redis_cluster: Option<Vec<String>>,
    pub prefix: String,
    /// The admin URL and name of the PostgreSQL database made for the run.
    pub postgres: Option<(String, String)>,
}

impl Scratch {
    /// Runs `bench` with a scratch area of its own (the temp folder made, the database not yet:
    /// [`Deployment::create`]), and removes the area afterwards, whatever `bench` returned.
    pub async fn run<T>(
        postgres: bool,
        bench: impl AsyncFnOnce(&Scratch) -> Result<T>,
    ) -> Result<T> {
        Scratch::run_on(postgres, None, bench).await
    }

    /// [`Scratch::run`] on a Redis the benchmark started for itself rather than
    /// `REDIS_URL`'s: one server, or the nodes of a cluster.
    pub async fn run_on<T>(
        postgres: bool,
        redis: Option<RedisTopology>,
        bench: impl AsyncFnOnce(&Scratch) -> Result<T>,
    ) -> Result<T> {
        let mut scratch = Scratch::new(postgres);
        match redis {
            Some(RedisTopology::Single(url)) => scratch.redis_url = url,
            Some(RedisTopology::Cluster(nodes)) => {
                scratch.redis_url = nodes[0].clone();
                scratch.redis_cluster = Some(nodes);
            }
            Some(RedisTopology::Sentinel { .. }) => bail!("benchmarks run on no Sentinel"),
            None => {}
        }
        let outcome = match std::fs::create_dir_all(&scratch.dir) {
            Ok(()) => bench(&scratch).await,
            Err(e) => Err(e).with_context(|| format!("creating {}", scratch.dir.display())),
        };
        scratch.remove().await;
        outcome
    }

    /// A unique run id, and where this run may write (nothing is created yet).
    fn new(postgres: bool) -> Scratch {
        let run_id = hex(&random_bytes::<5>());
        Scratch {
            dir: std::env::temp_dir().join(format!("portico-bench-{run_id}")),
            redis_url: std::env::var("REDIS_URL")
                .unwrap_or_else(|_| "redis://127.0.0.1:6379".into()),
            redis_cluster: None,
            prefix: format!("bench{run_id}:"),
            postgres: postgres.then(|| {
                let admin = std::env::var("PORTICO_BENCH_PG_URL")
                    .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
                (admin, format!("portico_bench_{run_id}"))
            }),
            run_id,
        }
    }

    /// With `--postgres`, creates the run's database; returns the gateway's `DATABASE_URL`
    /// (a SQLite file in the temp folder otherwise).
    async fn create_database(&self) -> Result<String> {
        match &self.postgres {
            Some((admin, name)) => {
                use sqlx::Connection;
                let mut conn = sqlx::PgConnection::connect(admin)
                    .await
                    .with_context(|| format!("connecting to PostgreSQL at {admin}"))?;
                sqlx::query(&format!("CREATE DATABASE {name}"))
                    .execute(&mut conn)
                    .await
                    .context("creating the benchmark database")?;
                let (server, _) = admin
                    .rsplit_once('/')
                    .context("PostgreSQL URL has a path")?;
                Ok(format!("{server}/{name}"))
            }
            None => Ok(format!("sqlite://{}/portico.db", self.dir.display())),
        }
    }

    /// The run's Redis as its processes are told of it: `REDIS_URL`, or `REDIS_CLUSTER_NODES`.
    pub fn redis_env(&self) -> (&'static str, String) {
        match &self.redis_cluster {
            Some(nodes) => ("REDIS_CLUSTER_NODES", nodes.join(",")),
            None => ("REDIS_URL", self.redis_url.clone()),
        }
    }

    /// A connection to the run's Redis (the cluster's, if it runs on one).
    pub async fn redis(&self) -> redis::RedisResult<RedisConn> {
        match &self.redis_cluster {
            Some(nodes) => RedisConn::connect(&RedisTopology::Cluster(nodes.clone())).await,
            None => portico_shared::redis_conn::connect(&self.redis_url).await,
        }
    }

    /// A Redis key prefix inside the run's own, for one part of it (removed with the run's).
    pub fn sub_prefix(&self, part: &str) -> String {
        format!("{}{part}:", self.prefix)
    }

    /// The gateway's environment: this run's database, Redis prefix and data folder, signing
    /// keys the benchmark keeps (to unseal mail jobs), limits raised out of reach. `PATH` and
    /// `RUST_LOG` are passed through.
    pub fn gateway_env(
        &self,
        database_url: &str,
        keys: &Keyring,
        port: u16,
    ) -> HashMap<&'static str, String> {
        let mut vars = HashMap::from([
            ("DATABASE_URL", database_url.to_string()),
            self.redis_env(),
            ("PORTICO_REDIS_PREFIX", self.prefix.clone()),
            ("PORTICO_BIND", format!("127.0.0.1:{port}")),
            ("PORTICO_BASE_DOMAIN", BASE_DOMAIN.into()),
            ("PORTICO_PUBLIC_SCHEME", "http".into()),
            ("PORTICO_PUBLIC_PORT", port.to_string()),
            ("PORTICO_COOKIE_SECURE", "false".into()),
            (
                "PORTICO_DATA_DIR",
                self.dir.join("var").display().to_string(),
            ),
            ("PORTICO_SIGNING_KEYS", keys.to_config_string()),
            ("PORTICO_LOGIN_PER_IP", "1000000000/min".into()),
            ("PORTICO_LOGIN_PER_EMAIL", "1000000000/min".into()),
            ("PORTICO_LOGIN_MAILS_PER_DAY", "100000".into()),
        ]);
        for inherited in ["PATH", "RUST_LOG"] {
            if let Ok(value) = std::env::var(inherited) {
                vars.insert(inherited, value);
            }
        }
        vars
    }

    async fn remove(&self) {
        // For looking into a seeded database afterwards (query plans, timings by hand).
        if std::env::var_os("PORTICO_BENCH_KEEP").is_some() {
            eprintln!(
                "kept (PORTICO_BENCH_KEEP): {}{}",
                self.dir.display(),
                self.postgres
                    .as_ref()
                    .map(|(_, name)| format!(", database {name}"))
                    .unwrap_or_default()
            );
            return;
        }
        if let Ok(mut redis) = self.redis().await {
            let _ = delete_prefix(&mut redis, &self.prefix).await;
        }
        if let Some((admin, name)) = &self.postgres {
            use sqlx::Connection;
            if let Ok(mut conn) = sqlx::PgConnection::connect(admin).await {
                let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut conn)
                    .await;
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The frame of a benchmark of the gateway: the `gateway` binary (rebuilt first unless
/// `--no-build`) on the run's migrated database (a fresh PostgreSQL one with `--postgres`), for
/// `bench`; the scratch area is removed afterwards, whatever `bench` returned.
pub async fn gateway_bench(
    options: &CommonOptions,
    bench: impl AsyncFnOnce(&Deployment<'_>) -> Result<()>,
) -> Result<()> {
    let binary = sibling_binary("portico-gateway", "gateway", options.build.build())?;
    Scratch::run(options.postgres, async |scratch| {
        bench(&Deployment::create(binary, scratch).await?).await
    })
    .await
}

/// Locates `bin` of `package` next to this binary, rebuilding it first under cargo (into the
/// same target folder and profile, so the figures are never those of a stale build) unless
/// `build` is false.
pub fn sibling_binary(package: &str, bin: &str, build: bool) -> Result<PathBuf> {
    let exe = std::env::current_exe().context("locating this binary")?;
    let bin_dir = exe.parent().context("locating this binary's folder")?;
    if build {
        build_sibling(bin_dir, package, bin)?;
    }
    let path = bin_dir.join(bin);
    if !path.exists() {
        bail!(
            "{} is missing: build it first with cargo build --release -p {package} -p portico-bench",
            path.display()
        );
    }
    Ok(path)
}

/// Under cargo, builds `bin` of `package` into the same target folder and profile as this
/// binary (in `bin_dir`).
fn build_sibling(bin_dir: &Path, package: &str, bin: &str) -> Result<()> {
    let Ok(cargo) = std::env::var("CARGO") else {
        return Ok(());
    };
    let Some(target_dir) = bin_dir.parent().filter(|t| t.join("CACHEDIR.TAG").exists()) else {
        return Ok(());
    };
    let profile = bin_dir.file_name().and_then(|p| p.to_str()).unwrap_or("");
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.toml");
    let mut command = Command::new(cargo);
    command
        .args(["build", "-q", "-p", package, "--bin", bin])
        .arg("--manifest-path")
        .arg(&manifest)
        .env("CARGO_TARGET_DIR", target_dir);
    match profile {
        "release" => command.arg("--release"),
        "debug" => &mut command,
        other => command.args(["--profile", other]),
    };
    eprintln!("bench: building the {bin} ({profile})…");
    let status = command.status().context("running cargo build")?;
    if !status.success() {
        bail!("building the {bin} failed");
    }
    Ok(())
}

/// The gateway binary on the run's migrated database, and the signing keys every gateway of
/// the run is given: the benchmark keeps them to unseal mail jobs, and a session cookie made
/// by one gateway works on the others.
pub struct Deployment<'a> {
    pub binary: PathBuf,
    pub scratch: &'a Scratch,
    pub database_url: String,
    pub keys: Keyring,
}

impl Deployment<'_> {
    /// Creates the run's database and migrates it with `gateway migrate`.
    pub async fn create(binary: PathBuf, scratch: &Scratch) -> Result<Deployment<'_>> {
        let deployment = Deployment {
            binary,
            database_url: scratch.create_database().await?,
            scratch,
            keys: Keyring::generate("b1"),
        };
        deployment.cli(&["migrate"])?;
        Ok(deployment)
    }

    /// Runs a gateway subcommand (`migrate`, `firm create …`) to completion; returns its
    /// stdout.
    pub fn cli(&self, args: &[&str]) -> Result<String> {
        let vars = self.scratch.gateway_env(&self.database_url, &self.keys, 0);
        let output = Command::new(&self.binary)
            .env_clear()
            .envs(vars)
            .args(args)
            .output()
            .with_context(|| format!("running gateway {}", args.join(" ")))?;
        if !output.status.success() {
            bail!(
                "gateway {} failed: {}",
                args.join(" "),
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }

    /// Creates a firm with the CLI, like any real firm; returns its API key.
    pub fn create_firm(&self, slug: &str, name: &str) -> Result<String> {
        let owner = format!("owner@{slug}.example");
        let stdout = self.cli(&[
            "firm",
            "create",
            "--slug",
            slug,
            "--name",
            name,
            "--owner-email",
            &owner,
        ])?;
        stdout
            .split_whitespace()
            .find(|w| w.starts_with("pk_"))
            .map(str::to_string)
            .context("gateway firm create printed no API key")
    }

    /// Starts `gateway serve` on a free port, with `vars` on top of the usual ones, its output
    /// (the default logging unless `vars` say otherwise) going to `log_name` in the run's
    /// folder, and waits until it is ready.
    pub async fn start(&self, vars: &[(&'static str, &str)], log_name: &str) -> Result<Gateway> {
        let port = system::free_port()?;
        let mut env = self
            .scratch
            .gateway_env(&self.database_url, &self.keys, port);
        env.extend(vars.iter().map(|&(name, value)| (name, value.to_string())));
        let log = self.scratch.dir.join(log_name);
        let file = std::fs::File::create(&log)?;
        let process = ChildGuard {
            child: Command::new(&self.binary)
                .env_clear()
                .envs(env)
                .arg("serve")
                .stdout(file.try_clone()?)
                .stderr(file)
                .spawn()
                .context("starting gateway serve")?,
            name: "gateway",
        };
        let mut gateway = Gateway { process, port, log };
        gateway.wait_ready().await?;
        Ok(gateway)
    }
}

/// A running `gateway serve` of the run; killed when dropped.
pub struct Gateway {
    pub process: ChildGuard,
    pub port: u16,
    /// Its output.
    pub log: PathBuf,
}

impl Gateway {
    /// The gateway on its bare address, for the staff API and the ops routes.
    pub fn api(&self) -> Target {
        Target {
            addr: ([127, 0, 0, 1], self.port).into(),
            host: format!("127.0.0.1:{}", self.port),
        }
    }

    /// The portal of firm `slug`.
    pub fn site(&self, slug: &str) -> Target {
        Target {
            addr: ([127, 0, 0, 1], self.port).into(),
            host: format!("{slug}.{BASE_DOMAIN}:{}", self.port),
        }
    }

    async fn wait_ready(&mut self) -> Result<()> {
        let api = self.api();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.process.exited() {
                let text = std::fs::read_to_string(&self.log).unwrap_or_default();
                let tail: Vec<&str> = text.lines().rev().take(5).collect();
                bail!(
                    "{} exited at start ({status}): {}",
                    self.process.name,
                    tail.into_iter().rev().collect::<Vec<_>>().join(" | ")
                );
            }
            if let Ok(mut conn) = Conn::open(api.addr).await
                && let Ok(answer) = conn.send(&api, &Req::get("/readyz")).await
                && answer.status == StatusCode::OK
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!(
                    "the gateway is not ready after 30 s; its log: {}",
                    self.log.display()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Stops the measured gateway after its phases: fails if it died during them, keeps its log
    /// in the `--perf` folder, and returns what it used.
    pub fn finish(mut self, perf: Option<&Path>) -> Result<GatewayUse> {
        let used = GatewayUse {
            peak_kb: system::status_kb(self.process.id(), "VmHWM"),
            rss_kb: system::status_kb(self.process.id(), "VmRSS"),
            log_bytes: std::fs::metadata(&self.log).map_or(0, |m| m.len()),
        };
        if let Some(status) = self.process.exited() {
            bail!(
                "the gateway exited during the run ({status}); its log: {}",
                self.log.display()
            );
        }
        if let Some(dir) = perf {
            let _ = std::fs::copy(&self.log, dir.join("gateway.log"));
        }
        Ok(used)
    }
}

/// What a gateway used by the end of its phases.
pub struct GatewayUse {
    /// Peak resident memory (`VmHWM`), in kB.
    pub peak_kb: Option<u64>,
    /// Resident memory now (`VmRSS`), in kB.
    pub rss_kb: Option<u64>,
    /// The size of its log.
    pub log_bytes: u64,
}

/// A CSRF anchor cookie and the token bound to it (and to the firm's host).
pub struct Anchor {
    pub cookie: String,
    pub csrf: String,
}

pub async fn fetch_anchors(site: &Target, count: usize) -> Result<Vec<Anchor>> {
    fetch_anchors_at(site, "/login", count).await
}

/// `count` CSRF anchors, each from a `GET` of the sign-in page at `login`.
pub async fn fetch_anchors_at(site: &Target, login: &str, count: usize) -> Result<Vec<Anchor>> {
    let mut conn = Conn::open(site.addr).await?;
    let mut anchors = Vec::with_capacity(count);
    for _ in 0..count {
        let answer = conn.send(site, &Req::get(login)).await?;
        if answer.status != StatusCode::OK {
            bail!("GET {login} answered {}", answer.status);
        }
        let cookie = answer
            .headers
            .get_all(hyper::header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .filter_map(|v| v.split(';').next())
            .collect::<Vec<_>>()
            .join("; ");
        let html = answer.text();
        let csrf = csrf_in(&html).context("no csrf field on the login page")?;
        if cookie.is_empty() {
            bail!("GET /login set no CSRF cookie");
        }
        anchors.push(Anchor { cookie, csrf });
    }
    Ok(anchors)
}

pub fn csrf_in(html: &str) -> Option<String> {
    const FIELD: &str = "name=\"csrf\" value=\"";
    let start = html.find(FIELD)? + FIELD.len();
    let end = html[start..].find('"')?;
    Some(html[start..start + end].to_string())
}

/// Reads every job off the mail stream, unseals its link and code, and empties the stream.
pub async fn take_links(
    redis: &mut RedisConn,
    stream: &str,
    keys: &Keyring,
) -> Result<Vec<(String, String)>> {
    const PAGE: usize = 2000;
    let mut links = Vec::new();
    let mut from = "-".to_string();
    loop {
        let page: redis::streams::StreamRangeReply = redis::cmd("XRANGE")
            .arg(stream)
            .arg(&from)
            .arg("+")
            .arg("COUNT")
            .arg(PAGE)
            .query_async(redis)
            .await
            .context("reading the mail stream")?;
        for entry in &page.ids {
            let json: String = entry.get("job").context("a mail job without a job field")?;
            let job = MailJob::from_json(&json).context("a mail job that is not JSON")?;
            let secrets: LinkSecrets = job
                .unseal(keys)
                .map_err(|e| anyhow!("a mail job does not unseal: {e:?}"))?;
            let token = secrets
                .link
                .split_once("token=")
                .map(|(_, t)| t.to_string())
                .context("a mailed link without a token")?;
            links.push((token, secrets.code));
        }
        match page.ids.last() {
            Some(last) if page.ids.len() == PAGE => from = format!("({}", last.id),
            _ => break,
        }
    }
    redis::cmd("XTRIM")
        .arg(stream)
        .arg("MAXLEN")
        .arg(0)
        .query_async::<i64>(redis)
        .await
        .context("trimming the mail stream")?;
    Ok(links)
}

/// Removes every key of the run (links, sessions, counters, the stream).
pub async fn delete_prefix(redis: &mut RedisConn, prefix: &str) -> redis::RedisResult<()> {
    let mut cursor: u64 = 0;
    loop {
        let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(format!("{prefix}*"))
            .arg("COUNT")
            .arg(5000)
            .query_async(redis)
            .await?;
        if !keys.is_empty() {
            redis::cmd("UNLINK")
                .arg(&keys)
                .query_async::<i64>(redis)
                .await?;
        }
        if next == 0 {
            return Ok(());
        }
        cursor = next;
    }
}

/// Signs `email` in through the real flow, as a browser would: `GET /login` for the CSRF
/// anchor, `POST /login`, the link and code read off the mail stream and unsealed with the
/// gateway's keys, `POST /auth/magic` with the code. Returns the `Cookie` header value that
/// carries both the anchor and the session.
pub async fn sign_in(
    site: &Target,
    redis: &mut RedisConn,
    stream: &str,
    keys: &Keyring,
    email: &str,
) -> Result<String> {
    sign_in_at(site, "", redis, stream, keys, email).await
}

/// The same flow for a member of the firm's staff: `/staff/login` and `/staff/auth/magic`;
/// returns the `Cookie` header value that carries the anchor and the staff session.
pub async fn staff_sign_in(
    site: &Target,
    redis: &mut RedisConn,
    stream: &str,
    keys: &Keyring,
    email: &str,
) -> Result<String> {
    sign_in_at(site, "/staff", redis, stream, keys, email).await
}

/// The sign-in flow under `prefix` (`""` for the portal, `"/staff"` for the console).
async fn sign_in_at(
    site: &Target,
    prefix: &str,
    redis: &mut RedisConn,
    stream: &str,
    keys: &Keyring,
    email: &str,
) -> Result<String> {
    let (login, magic) = (format!("{prefix}/login"), format!("{prefix}/auth/magic"));
    let anchor = fetch_anchors_at(site, &login, 1).await?.remove(0);
    let mut conn = Conn::open(site.addr).await?;
    let answer = conn
        .send(
            site,
            &Req::post_form(
                &login,
                Some(&anchor.cookie),
                &[("email", email), ("csrf", anchor.csrf.as_str())],
            ),
        )
        .await?;
    if answer.status != StatusCode::OK {
        bail!("POST {login} for {email} answered {}", answer.status);
    }
    // The job is on the stream once POST /login has answered.
    let links = take_links(redis, stream, keys).await?;
    let [(token, code)] = links.as_slice() else {
        bail!(
            "expected one mailed link for {email}, found {}",
            links.len()
        );
    };
    let answer = conn
        .send(
            site,
            &Req::post_form(
                &magic,
                Some(&anchor.cookie),
                &[
                    ("token", token.as_str()),
                    ("code", code.as_str()),
                    ("csrf", anchor.csrf.as_str()),
                ],
            ),
        )
        .await?;
    if answer.status != StatusCode::SEE_OTHER {
        bail!("POST {magic} for {email} answered {}", answer.status);
    }
    let session: Vec<&str> = answer
        .headers
        .get_all(hyper::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .collect();
    if session.is_empty() {
        bail!("POST {magic} for {email} set no session cookie");
    }
    // The session cookies replace any anchor cookie of the same name.
    let names: Vec<&str> = session.iter().filter_map(|c| c.split('=').next()).collect();
    let mut cookies: Vec<&str> = anchor
        .cookie
        .split("; ")
        .filter(|c| !names.contains(&c.split('=').next().unwrap_or("")))
        .collect();
    cookies.extend(session);
    Ok(cookies.join("; "))
}
