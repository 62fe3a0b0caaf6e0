//! Sign-in benchmark: prints figures, never fails on them.
//!
//! `cargo run --release -p portico-bench --bin bench-signin [-- --postgres]`
//!
//! Runs the release `gateway` binary as its own process on a fresh SQLite database (or a fresh
//! PostgreSQL one), and, as a baseline measured in the same run, a bare axum handler (also its
//! own process: this binary with `--baseline PORT`) doing one HMAC-SHA256 verify, one Redis SET
//! and one GETDEL. Load comes from this process over loopback HTTP.
#![forbid(unsafe_code)]

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use portico_shared::keys::Keyring;
use portico_shared::mail::{LinkSecrets, MailJob};
use redis::AsyncCommands;

const CONNECTIONS: usize = 64;
const PHASE: Duration = Duration::from_secs(5);

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--baseline") {
        let port: u16 = args.get(2).context("--baseline PORT")?.parse()?;
        return tokio::runtime::Runtime::new()?.block_on(baseline_server(port));
    }
    let postgres = args.iter().any(|a| a == "--postgres");
    tokio::runtime::Runtime::new()?.block_on(run(postgres))
}

/// The baseline: what any link consumption must at least do.
async fn baseline_server(port: u16) -> Result<()> {
    use axum::routing::post;
    let key = Arc::new(ring::hmac::Key::new(
        ring::hmac::HMAC_SHA256,
        b"baseline-key-baseline-key-32byte",
    ));
    let tag = ring::hmac::sign(&key, b"token-body").as_ref().to_vec();
    let redis = portico_shared::redis_conn::connect("redis://127.0.0.1:6379").await?;
    let app = axum::Router::new().route(
        "/",
        post(move || {
            let (key, tag, mut redis) = (key.clone(), tag.clone(), redis.clone());
            async move {
                if ring::hmac::verify(&key, b"token-body", &tag).is_err() {
                    return "bad";
                }
                let id = portico_shared::secret::random_string::<16>();
                let k = format!("benchbase:{id}");
                let _: () = redis.set_ex(&k, "v", 60).await.unwrap_or(());
                let _: Option<String> = redis.get_del(&k).await.unwrap_or(None);
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    axum::serve(listener, app).await?;
    Ok(())
}

struct Stats {
    count: usize,
    errors: usize,
    elapsed: Duration,
    latencies: Vec<Duration>,
}

impl Stats {
    fn rps(&self) -> f64 {
        self.count as f64 / self.elapsed.as_secs_f64()
    }
    fn pct(&self, p: f64) -> Duration {
        let mut l = self.latencies.clone();
        l.sort();
        l.get(((l.len() as f64 - 1.0) * p) as usize)
            .copied()
            .unwrap_or_default()
    }
}

/// Runs `work(i)` from `connections` concurrent workers for `duration` (or until `limit`).
async fn load<F, Fut>(connections: usize, duration: Duration, limit: usize, work: F) -> Stats
where
    F: Fn(usize, usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let work = Arc::new(work);
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for worker in 0..connections {
        let (work, next) = (work.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut errors = 0;
            while started.elapsed() < duration {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= limit {
                    break;
                }
                let t = Instant::now();
                if work(worker, i).await {
                    latencies.push(t.elapsed());
                } else {
                    errors += 1;
                }
            }
            (latencies, errors)
        }));
    }
    let mut stats = Stats {
        count: 0,
        errors: 0,
        elapsed: Duration::ZERO,
        latencies: Vec::new(),
    };
    for task in tasks {
        let (latencies, errors) = task.await.expect("worker");
        stats.count += latencies.len();
        stats.errors += errors;
        stats.latencies.extend(latencies);
    }
    stats.elapsed = started.elapsed();
    stats
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("port")
}

struct Guard(Child);
impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn peak_rss_mb(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .map(str::to_string)
        })
        .and_then(|l| {
            l.split_whitespace()
                .nth(1)
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

async fn wait_port(port: u16) -> Result<()> {
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    bail!("nothing listens on port {port}")
}

fn csrf_of(html: &str) -> String {
    let start = html.find("name=\"csrf\" value=\"").expect("csrf field") + 19;
    html[start..start + html[start..].find('"').unwrap()].to_string()
}

async fn run(postgres: bool) -> Result<()> {
    let exe = std::env::current_exe()?;
    let gateway = exe.parent().context("binary folder")?.join("gateway");
    if !gateway.exists() {
        bail!(
            "{} is missing: cargo build --release -p portico-gateway -p portico-bench",
            gateway.display()
        );
    }
    let dir = std::env::temp_dir().join(format!("portico-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let database_url = if postgres {
        let name = format!("portico_bench_{}", std::process::id());
        let status = Command::new("psql")
            .args([
                "-h",
                "127.0.0.1",
                "-U",
                "postgres",
                "-qc",
                &format!("CREATE DATABASE {name}"),
            ])
            .status()?;
        if !status.success() {
            bail!("cannot create the PostgreSQL database");
        }
        format!("postgres://postgres@127.0.0.1:5432/{name}")
    } else {
        format!("sqlite://{}/bench.db", dir.display())
    };
    let keys = Keyring::generate("b1");
    let port = free_port();
    let prefix = format!("bench{}:", std::process::id());
    let vars: HashMap<&str, String> = HashMap::from([
        ("DATABASE_URL", database_url.clone()),
        ("PORTICO_REDIS_PREFIX", prefix.clone()),
        ("PORTICO_BIND", format!("127.0.0.1:{port}")),
        ("PORTICO_BASE_DOMAIN", "bench.test".into()),
        ("PORTICO_PUBLIC_SCHEME", "http".into()),
        ("PORTICO_PUBLIC_PORT", port.to_string()),
        ("PORTICO_COOKIE_SECURE", "false".into()),
        ("PORTICO_SIGNING_KEYS", keys.to_config_string()),
        ("PORTICO_LOGIN_PER_IP", "1000000000/min".into()),
        ("PORTICO_LOGIN_PER_EMAIL", "1000000000/15min".into()),
        ("PORTICO_DATA_DIR", dir.display().to_string()),
        ("RUST_LOG", "warn".into()),
    ]);
    let out = Command::new(&gateway)
        .envs(&vars)
        .args([
            "firm",
            "create",
            "--slug",
            "bench",
            "--name",
            "Bench",
            "--owner-email",
            "o@bench.test",
        ])
        .output()?;
    if !out.status.success() {
        bail!(
            "firm create failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let api_key = stdout
        .split_whitespace()
        .find(|w| w.starts_with("pk_"))
        .context("api key")?
        .to_string();
    let server = Guard(
        Command::new(&gateway)
            .envs(&vars)
            .arg("serve")
            .stdout(Stdio::null())
            .spawn()?,
    );
    wait_port(port).await?;
    let base_port = free_port();
    let _baseline = Guard(
        Command::new(&exe)
            .args(["--baseline", &base_port.to_string()])
            .spawn()?,
    );
    wait_port(base_port).await?;

    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(CONNECTIONS)
        .resolve("bench.bench.test", ([127, 0, 0, 1], port).into())
        .build()?;
    let site = format!("http://bench.bench.test:{port}");
    const CONTACTS: usize = 500;
    for i in 0..CONTACTS {
        let r = client
            .post(format!("http://127.0.0.1:{port}/api/v1/contacts"))
            .bearer_auth(&api_key)
            .json(&serde_json::json!({"name": format!("C{i}"), "email": format!("c{i}@bench.test"), "portal_access": true}))
            .send()
            .await?;
        if !r.status().is_success() {
            bail!("creating contacts: {}", r.status());
        }
    }
    // One CSRF anchor and token per worker.
    let mut anchors = Vec::new();
    for _ in 0..CONNECTIONS {
        let r = client.get(format!("{site}/login")).send().await?;
        let cookie = r
            .headers()
            .get("set-cookie")
            .context("csrf cookie")?
            .to_str()?
            .split(';')
            .next()
            .unwrap()
            .to_string();
        let token = csrf_of(&r.text().await?);
        anchors.push((cookie, token));
    }
    let anchors = Arc::new(anchors);

    println!(
        "Portico sign-in benchmark ({}, {CONNECTIONS} connections, {}s phases)",
        if postgres { "PostgreSQL" } else { "SQLite" },
        PHASE.as_secs()
    );

    // Baseline.
    let c = client.clone();
    let base = load(CONNECTIONS, PHASE, usize::MAX, move |_, _| {
        let c = c.clone();
        async move {
            c.post(format!("http://127.0.0.1:{base_port}/"))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
        }
    })
    .await;

    // POST /login for known emails: mints links, enqueues jobs.
    let (c, a, s) = (client.clone(), anchors.clone(), site.clone());
    let login_known = load(CONNECTIONS, PHASE, usize::MAX, move |w, i| {
        let (c, a, s) = (c.clone(), a.clone(), s.clone());
        async move {
            let (cookie, token) = &a[w];
            let email = format!("c{}@bench.test", i % CONTACTS);
            c.post(format!("{s}/login"))
                .header("cookie", cookie)
                .form(&[("email", email.as_str()), ("csrf", token)])
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
        }
    })
    .await;

    // Links off the stream, unsealed with the keys the gateway was given.
    let mut redis = portico_shared::redis_conn::connect("redis://127.0.0.1:6379").await?;
    let stream = format!("{prefix}mail:jobs");
    let reply: redis::streams::StreamRangeReply = redis::cmd("XRANGE")
        .arg(&stream)
        .arg("-")
        .arg("+")
        .query_async(&mut redis)
        .await?;
    let links: Vec<(String, String)> = reply
        .ids
        .iter()
        .filter_map(|e| {
            let json: String = e.get("job")?;
            let job = MailJob::from_json(&json).ok()?;
            let secrets: LinkSecrets = job.unseal(&keys).ok()?;
            Some((
                secrets.link.split_once("token=")?.1.to_string(),
                secrets.code,
            ))
        })
        .collect();
    let _: () = redis.del(&stream).await?;
    let links = Arc::new(links);

    // POST /auth/magic: verify, atomic consume, session write.
    let (c, a, s, l) = (client.clone(), anchors.clone(), site.clone(), links.clone());
    let consume = load(CONNECTIONS, PHASE, links.len(), move |w, i| {
        let (c, a, s, l) = (c.clone(), a.clone(), s.clone(), l.clone());
        async move {
            let (cookie, token) = &a[w];
            let (link, code) = &l[i];
            c.post(format!("{s}/auth/magic"))
                .header("cookie", cookie)
                .form(&[
                    ("token", link.as_str()),
                    ("code", code.as_str()),
                    ("csrf", token.as_str()),
                ])
                .send()
                .await
                .is_ok_and(|r| r.status() == reqwest::StatusCode::SEE_OTHER)
        }
    })
    .await;

    // Known vs unknown emails, interleaved, at low concurrency: the enumeration timing oracle.
    let (c, a, s) = (client.clone(), anchors.clone(), site.clone());
    let known_unknown = load(4, Duration::from_secs(4), 8_000, move |w, i| {
        let (c, a, s) = (c.clone(), a.clone(), s.clone());
        async move {
            let (cookie, token) = &a[w];
            let email = if i % 2 == 0 {
                format!("c{}@bench.test", i % CONTACTS)
            } else {
                format!("nobody{i}@bench.test")
            };
            c.post(format!("{s}/login"))
                .header("cookie", cookie)
                .form(&[("email", email.as_str()), ("csrf", token)])
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
        }
    })
    .await;
    // `load` records latencies in completion order per worker; split again by parity of the
    // request index is not kept, so measure the two separately but interleaved in time:
    let (known_med, unknown_med) = interleaved_medians(&client, &site, &anchors).await;
    let rss = peak_rss_mb(server.0.id());
    let _: () = redis.del(&stream).await?;

    let row = |name: &str, s: &Stats| {
        println!(
            "  {name:<38} {:>8.0} req/s   p50 {:>6.2} ms   p99 {:>6.2} ms   errors {}",
            s.rps(),
            s.pct(0.5).as_secs_f64() * 1e3,
            s.pct(0.99).as_secs_f64() * 1e3,
            s.errors
        );
    };
    row("baseline (HMAC + SET + GETDEL)", &base);
    row("POST /auth/magic (consume a link)", &consume);
    row("POST /login, known emails", &login_known);
    row("POST /login, known+unknown (4 conns)", &known_unknown);
    let verdict = |ok: bool| if ok { "PASS" } else { "MISS" };
    let consume_ratio = consume.rps() / base.rps();
    let login_ratio = login_known.rps() / base.rps();
    let p99 = consume.pct(0.99).as_secs_f64() * 1e3;
    let gap = (known_med - unknown_med).abs() / unknown_med * 100.0;
    println!("Targets:");
    println!(
        "  consume throughput / baseline   {consume_ratio:.2}  (target >= 0.70) {}",
        verdict(consume_ratio >= 0.7)
    );
    println!(
        "  consume p99                     {p99:.2} ms  (target <= 10 ms) {}",
        verdict(p99 <= 10.0)
    );
    println!(
        "  login (known) / baseline        {login_ratio:.2}  (target >= 0.50) {}",
        verdict(login_ratio >= 0.5)
    );
    println!(
        "  login median known vs unknown   {:.3} ms vs {:.3} ms, gap {gap:.1} %  (target <= 10 %) {}",
        known_med,
        unknown_med,
        verdict(gap <= 10.0)
    );
    println!(
        "  gateway peak RSS                {rss:.1} MB  (target <= 64 MB) {}",
        verdict(rss <= 64.0)
    );
    println!(
        "  links consumed {} of {} minted; a link consumed twice would have shown as an error",
        consume.count,
        links.len()
    );
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
    if postgres && let Some(name) = database_url.rsplit('/').next() {
        let _ = Command::new("psql")
            .args([
                "-h",
                "127.0.0.1",
                "-U",
                "postgres",
                "-qc",
                &format!("DROP DATABASE {name} WITH (FORCE)"),
            ])
            .status();
    }
    Ok(())
}

/// Medians of `POST /login` for a known and an unknown address, alternating one request each
/// on one connection so both see the same machine state.
async fn interleaved_medians(
    client: &reqwest::Client,
    site: &str,
    anchors: &[(String, String)],
) -> (f64, f64) {
    let (cookie, token) = &anchors[0];
    let mut known = Vec::new();
    let mut unknown = Vec::new();
    for i in 0..2_000 {
        for (is_known, list) in [(true, &mut known), (false, &mut unknown)] {
            let email = if is_known {
                format!("c{}@bench.test", i % 500)
            } else {
                format!("nobody{i}@bench.test")
            };
            let t = Instant::now();
            let ok = client
                .post(format!("{site}/login"))
                .header("cookie", cookie)
                .form(&[("email", email.as_str()), ("csrf", token)])
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            if ok {
                list.push(t.elapsed().as_secs_f64() * 1e3);
            }
        }
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(|a, b| a.partial_cmp(b).unwrap());
        v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
    };
    (median(&mut known), median(&mut unknown))
}
