//! Several gateways and mailers on one database and one Redis, as real processes started from
//! the deployment example's own environment files (`deploy/env/gateway.env`,
//! `deploy/env/mailer.env`), so the example cannot rot.
//!
//! What a test may change in those files is a short, fixed list: the machine-specific keys
//! ([`GATEWAY_MACHINE_KEYS`], [`MAILER_MACHINE_KEYS`], and the Redis topology keys
//! [`REDIS_KEYS`]) and the secrets the files must not hold ([`SECRET_KEYS`], which an operator
//! keeps in `secrets.env`). Every other setting is used as written. A [`Fleet`] plays the
//! reverse proxy itself: every request it makes comes from loopback (the trusted proxy) and
//! carries `X-Forwarded-For`, and a [`Visitor`]'s cookies are kept as a browser talking https
//! to the proxy would keep them (`Secure`, `__Host-`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use portico_shared::keys::Keyring;
use reqwest::StatusCode;
use reqwest::header::HeaderValue;
use reqwest::redirect::Policy;
use serde_json::Value;

use crate::binaries::{gateway, mailer, run_gateway};
use crate::redis_topology::{RedisCluster, RedisSentinelSet, ask};
use crate::smtp_sink::{Received, SmtpSink};
use crate::{Scratch, ToGateway, unique};

/// Keys of `gateway.env` that differ from machine to machine; a test sets its own.
pub const GATEWAY_MACHINE_KEYS: &[&str] = &[
    "PORTICO_BIND",
    "PORTICO_DATA_DIR",
    "PORTICO_TRUSTED_PROXIES",
    "PORTICO_REDIS_PREFIX",
];

/// Keys of `mailer.env` that differ from machine to machine; a test sets its own.
pub const MAILER_MACHINE_KEYS: &[&str] = &[
    "MAILER_METRICS_BIND",
    "SMTP_URL",
    "PORTICO_DATA_DIR",
    "PORTICO_REDIS_PREFIX",
];

/// How a process finds Redis: exactly one of these ways is set by a test (the file names one).
pub const REDIS_KEYS: &[&str] = &[
    "REDIS_URL",
    "REDIS_CLUSTER_NODES",
    "REDIS_SENTINELS",
    "REDIS_SENTINEL_SERVICE",
];

/// Kept in `secrets.env`, never in `gateway.env` or `mailer.env`.
pub const SECRET_KEYS: &[&str] = &[
    "DATABASE_URL",
    "PORTICO_SIGNING_KEYS",
    "PORTICO_METRICS_TOKEN",
];

/// The address every test request comes from: the reverse proxy on loopback.
const PROXY: &str = "127.0.0.1";

/// The host name the units' `%H` stands for in tests.
const HOST: &str = "fleet";

pub const GATEWAY_UNIT: &str = "portico-gateway@.service";
pub const MAILER_UNIT: &str = "portico-mailer@.service";
pub const MIGRATE_UNIT: &str = "portico-migrate.service";

/// The workspace's `deploy/` folder.
pub fn deploy_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits in the workspace")
        .join("deploy")
}

/// Parses an environment file as systemd's `EnvironmentFile=` and compose's `env_file:` both
/// read it: `KEY=VALUE` lines, blank lines and `#` comments. Anything those two might read
/// differently (quotes, `export`, continuation lines, a key twice) is refused, so the example
/// means the same thing to both.
pub fn parse_env(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut vars: Vec<(String, String)> = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let at = |what: &str| format!("line {}: {what}: {line:?}", number + 1);
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (key, value) = line
            .split_once('=')
            .ok_or_else(|| at("expected KEY=VALUE"))?;
        let key_ok = key.chars().next().is_some_and(|c| c.is_ascii_uppercase())
            && key
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
        if !key_ok {
            return Err(at("a key is upper-case letters, digits and _"));
        }
        if value.starts_with(['"', '\'']) || value.ends_with('\\') || value.contains(" #") {
            return Err(at(
                "no quotes, continuations or trailing comments (systemd and compose differ)",
            ));
        }
        if vars.iter().any(|(k, _)| k == key) {
            return Err(at("set twice"));
        }
        vars.push((key.to_string(), value.to_string()));
    }
    Ok(vars)
}

/// Reads and parses `deploy/env/{name}`.
pub fn env_file(name: &str) -> HashMap<String, String> {
    let path = deploy_dir().join("env").join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    parse_env(&text)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .into_iter()
        .collect()
}

/// What a systemd unit of the example starts: the binary's name and arguments of its
/// `ExecStart=`, its `Environment=` settings and its `EnvironmentFile=`s, in order.
#[derive(Debug)]
pub struct Unit {
    pub binary: String,
    pub args: Vec<String>,
    pub environment: Vec<(String, String)>,
    pub env_files: Vec<String>,
}

/// Reads `deploy/systemd/{name}`.
pub fn unit(name: &str) -> Unit {
    let path = deploy_dir().join("systemd").join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let mut unit = Unit {
        binary: String::new(),
        args: Vec::new(),
        environment: Vec::new(),
        env_files: Vec::new(),
    };
    for line in text.lines().map(str::trim) {
        if let Some(command) = line.strip_prefix("ExecStart=") {
            let mut words = command.split_whitespace();
            let binary = words.next().expect("ExecStart names a binary");
            unit.binary = binary.rsplit('/').next().unwrap_or(binary).to_string();
            unit.args = words.map(str::to_string).collect();
        } else if let Some(setting) = line.strip_prefix("Environment=") {
            let (key, value) = setting.split_once('=').expect("Environment=KEY=VALUE");
            unit.environment.push((key.to_string(), value.to_string()));
        } else if let Some(file) = line.strip_prefix("EnvironmentFile=") {
            unit.env_files.push(file.to_string());
        }
    }
    assert!(!unit.binary.is_empty(), "{name} has no ExecStart");
    unit
}

impl Unit {
    /// The environment the unit gives instance `instance` on a host called `host`: its
    /// `Environment=` lines, then its files in order (later ones win, as in systemd), each
    /// `/etc/portico/X` read from `deploy/env/X`. `secrets.env` must be among them, read
    /// after the settings; the test supplies the secrets itself. An optional file (`-`) that
    /// the example does not ship (a per-instance file) is absent, as on a fresh machine.
    pub fn settings(&self, instance: &str, host: &str) -> HashMap<String, String> {
        let mut vars: HashMap<String, String> = self
            .environment
            .iter()
            .map(|(k, v)| (k.clone(), v.replace("%i", instance).replace("%H", host)))
            .collect();
        let mut secrets_read = false;
        for file in &self.env_files {
            let (optional, path) = match file.strip_prefix('-') {
                Some(path) => (true, path),
                None => (false, file.as_str()),
            };
            let name = path.strip_prefix("/etc/portico/").unwrap_or_else(|| {
                panic!("{file}: the example keeps its settings in /etc/portico")
            });
            if name == "secrets.env" {
                assert!(!vars.is_empty(), "secrets.env is read after the settings");
                secrets_read = true;
                continue;
            }
            let shipped = deploy_dir().join("env").join(name);
            if optional && !shipped.exists() {
                continue;
            }
            vars.extend(env_file(name));
        }
        assert!(
            secrets_read,
            "the unit does not read /etc/portico/secrets.env"
        );
        vars
    }
}

/// Where the processes of a test find Redis.
#[derive(Clone, Debug)]
pub enum RedisTarget {
    /// One server: `REDIS_URL`.
    Single(String),
    /// Seed nodes of a Redis Cluster: `REDIS_CLUSTER_NODES`.
    Cluster(Vec<String>),
    /// Sentinels (`host:port`) and the master's name: `REDIS_SENTINELS`,
    /// `REDIS_SENTINEL_SERVICE`.
    Sentinel { sentinels: String, service: String },
}

impl RedisTarget {
    fn vars(&self) -> Vec<(&'static str, String)> {
        match self {
            RedisTarget::Single(url) => vec![("REDIS_URL", url.clone())],
            RedisTarget::Cluster(seeds) => vec![("REDIS_CLUSTER_NODES", seeds.join(","))],
            RedisTarget::Sentinel { sentinels, service } => vec![
                ("REDIS_SENTINELS", sentinels.clone()),
                ("REDIS_SENTINEL_SERVICE", service.clone()),
            ],
        }
    }
}

/// The variables a process of the example gets on a test machine: the file as written, with
/// exactly the `machine` keys (each of which the file must set, so the documented list cannot
/// drift from the file), the Redis topology and the `secrets` replaced.
pub fn example_vars(
    file: &HashMap<String, String>,
    machine_keys: &[&str],
    machine: &[(&str, String)],
    redis: &RedisTarget,
    secrets: &[(&str, String)],
) -> HashMap<String, String> {
    for key in SECRET_KEYS {
        assert!(
            !file.contains_key(*key),
            "{key} is a secret: it belongs in secrets.env, not in the example's env file"
        );
    }
    assert!(
        REDIS_KEYS.iter().any(|k| file.contains_key(*k)),
        "the env file names no Redis"
    );
    let mut vars = file.clone();
    for (key, value) in machine {
        assert!(
            machine_keys.contains(key),
            "{key} is not a documented machine-specific key"
        );
        assert!(
            file.contains_key(*key),
            "the env file does not set the machine-specific key {key}"
        );
        vars.insert(key.to_string(), value.clone());
    }
    for key in REDIS_KEYS {
        vars.remove(*key);
    }
    for (key, value) in redis.vars() {
        vars.insert(key.to_string(), value);
    }
    for (key, value) in secrets {
        assert!(
            SECRET_KEYS.contains(key),
            "{key} is not a documented secret"
        );
        vars.insert(key.to_string(), value.clone());
    }
    vars
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A process of the fleet; killed when dropped. Its stderr (the log) goes to a file.
pub struct Process {
    pub name: String,
    child: Child,
    log: PathBuf,
}

impl Process {
    fn spawn(name: &str, mut command: std::process::Command, logs: &Path) -> Process {
        let log = logs.join(format!("{name}.log"));
        // Appended: a restarted process keeps its earlier lines.
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .expect("a log file");
        let child = command
            .stdout(Stdio::null())
            .stderr(Stdio::from(file))
            .spawn()
            .unwrap_or_else(|e| panic!("{name} starts: {e}"));
        Process {
            name: name.to_string(),
            child,
            log,
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// SIGKILL: the process gets no chance to finish anything.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, then waits up to `timeout` for the exit status.
    pub async fn terminate(&mut self, timeout: Duration) -> std::process::ExitStatus {
        let sent = std::process::Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(sent.success());
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "{} did not exit within {timeout:?} of SIGTERM",
                self.name
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A gateway of the fleet, started with `gateway serve` from `gateway.env`.
pub struct FleetGateway {
    pub port: u16,
    pub vars: HashMap<String, String>,
    pub process: Process,
    base_domain: String,
}

impl FleetGateway {
    /// `http://{slug}.{base}:{port}{path}`: the firm's portal, reached on this gateway.
    pub fn url(&self, slug: &str, path: &str) -> String {
        format!("http://{slug}.{}:{}{path}", self.base_domain, self.port)
    }

    /// The bare address (the API, `/readyz`, `/metrics`).
    pub fn plain_url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// A public URL (`https://acme.portal.example.com/…`, as mailed) sent to this gateway,
    /// as the proxy would after ending TLS.
    pub fn at(&self, public: &str) -> String {
        let mut url = url::Url::parse(public).expect("a URL");
        url.set_scheme("http").expect("http");
        url.set_port(Some(self.port)).expect("a port");
        url.to_string()
    }

    /// Waits until `/readyz` answers 200; an error with the log if the process exits first
    /// or `timeout` passes.
    pub async fn wait_ready(&mut self, timeout: Duration) -> Result<(), String> {
        let deadline = Instant::now() + timeout;
        loop {
            let answer = reqwest::Client::new()
                .get(self.plain_url("/readyz"))
                .header("x-forwarded-for", "192.0.2.251")
                .send()
                .await;
            if answer.is_ok_and(|r| r.status() == StatusCode::OK) {
                return Ok(());
            }
            if !self.process.is_running() || Instant::now() > deadline {
                return Err(format!(
                    "{} did not become ready: {}",
                    self.process.name,
                    self.process.log()
                ));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// `/metrics`, with the token from `secrets`, asked as the scraper does.
    pub async fn metrics(&self) -> String {
        let token = &self.vars["PORTICO_METRICS_TOKEN"];
        let response = reqwest::Client::new()
            .get(self.plain_url("/metrics"))
            .bearer_auth(token)
            .header("x-forwarded-for", "192.0.2.250")
            .send()
            .await
            .expect("GET /metrics");
        assert_eq!(response.status(), StatusCode::OK);
        response.text().await.expect("metrics text")
    }
}

/// A mailer of the fleet, started with `mailer run` from `mailer.env`.
pub struct FleetMailer {
    pub metrics_port: u16,
    pub process: Process,
}

impl FleetMailer {
    pub async fn metrics(&self) -> String {
        reqwest::get(format!("http://127.0.0.1:{}/metrics", self.metrics_port))
            .await
            .expect("GET the mailer's /metrics")
            .text()
            .await
            .expect("metrics text")
    }
}

/// A firm made with `gateway firm create`, with the API key it printed.
pub struct FleetFirm {
    pub slug: String,
    pub name: String,
    pub api_key: String,
    pub owner_email: String,
}

/// Which Redis a [`Fleet`] runs on.
pub enum FleetRedis {
    /// A Redis Cluster of its own (3 primaries, 3 replicas: [`RedisCluster`]), as the
    /// deployment example has.
    Cluster,
    /// A master with two replicas and three Sentinels of its own ([`RedisSentinelSet`]).
    Sentinel,
    /// The shared test Redis (`PORTICO_TEST_REDIS_URL`), under the fleet's own prefix.
    Shared,
    /// One given server (a test's [`crate::private_redis::PrivateRedis`], say).
    Given(RedisTarget),
}

/// What a [`Fleet`] is made of.
pub struct FleetOptions {
    pub gateways: usize,
    pub mailers: usize,
    pub redis: FleetRedis,
    /// Whether `gateway migrate` runs before the gateways start (the documented order).
    pub migrate_first: bool,
}

impl Default for FleetOptions {
    fn default() -> Self {
        FleetOptions {
            gateways: 2,
            mailers: 2,
            // PORTICO_TEST_FLEET_REDIS=cluster|sentinel|shared picks the topology of the fleets.
            // The deployment example's topology unless asked otherwise.
            redis: match std::env::var("PORTICO_TEST_FLEET_REDIS").as_deref() {
                Ok("shared") => FleetRedis::Shared,
                Ok("sentinel") => FleetRedis::Sentinel,
                _ => FleetRedis::Cluster,
            },
            migrate_first: true,
        }
    }
}

/// Gateways and mailers on one database (the backend under test) and one Redis, mail to one
/// SMTP sink.
pub struct Fleet {
    pub gateways: Vec<FleetGateway>,
    pub mailers: Vec<FleetMailer>,
    pub sink: SmtpSink,
    pub keys: Keyring,
    /// The base domain as `gateway.env` has it.
    pub base_domain: String,
    redis: RedisTarget,
    /// The fleet's own Redis Cluster or Sentinel set, if it runs on one; stopped with the
    /// fleet.
    cluster: Option<RedisCluster>,
    sentinels: Option<RedisSentinelSet>,
    secrets: Vec<(&'static str, String)>,
    logs: PathBuf,
    /// Last: removes the database, the data folder and the Redis keys (taken by
    /// [`Fleet::stop`], else dropped).
    scratch: Option<Scratch>,
}

impl Fleet {
    pub async fn start() -> Fleet {
        Fleet::start_with(FleetOptions::default()).await
    }

    /// Migrates the database once (`gateway migrate`, as the deployment does before any
    /// gateway starts), then starts the gateways and mailers and waits until each is ready.
    pub async fn start_with(options: FleetOptions) -> Fleet {
        let scratch = Scratch::new().await;
        let keys = Keyring::generate("k1");
        let secrets = vec![
            ("DATABASE_URL", scratch.database_url().to_string()),
            ("PORTICO_SIGNING_KEYS", keys.to_config_string()),
            ("PORTICO_METRICS_TOKEN", unique("metrics-token-")),
        ];
        let logs = std::env::temp_dir().join(unique("portico-fleet-logs-"));
        std::fs::create_dir_all(&logs).expect("a log folder");
        let base_domain = env_file("gateway.env")["PORTICO_BASE_DOMAIN"].clone();
        let (mut cluster, mut sentinels) = (None, None);
        let redis = match options.redis {
            FleetRedis::Cluster => {
                let started = RedisCluster::start().await;
                let target = RedisTarget::Cluster(started.seed_urls());
                cluster = Some(started);
                target
            }
            FleetRedis::Sentinel => {
                let started = RedisSentinelSet::start().await;
                let target = RedisTarget::Sentinel {
                    sentinels: started.sentinels_var(),
                    service: started.service().to_string(),
                };
                sentinels = Some(started);
                target
            }
            FleetRedis::Shared => RedisTarget::Single(crate::redis_url()),
            FleetRedis::Given(target) => target,
        };
        let mut fleet = Fleet {
            gateways: Vec::new(),
            mailers: Vec::new(),
            sink: SmtpSink::start().await,
            keys,
            base_domain,
            redis,
            cluster,
            sentinels,
            secrets,
            logs,
            scratch: Some(scratch),
        };
        if options.migrate_first {
            fleet.migrate();
        }
        for _ in 0..options.gateways {
            fleet.add_gateway().await;
        }
        for _ in 0..options.mailers {
            fleet.add_mailer().await;
        }
        fleet
    }

    /// Runs the migrations as `portico-migrate.service` does.
    pub fn migrate(&self) {
        // As portico-migrate.service does, once, before any gateway starts.
        let migrate = unit(MIGRATE_UNIT);
        let vars = self.gateway_vars(&migrate, "", free_port());
        let args: Vec<&str> = migrate.args.iter().map(String::as_str).collect();
        let migrated = run_gateway(&vars, &args);
        assert!(
            migrated.status.success(),
            "{} {args:?}: {}",
            migrate.binary,
            String::from_utf8_lossy(&migrated.stderr)
        );
    }

    /// What `unit` gives instance `instance`, with this machine's keys: `port`, the shared
    /// data folder, the test as the trusted proxy, the test's Redis and prefix, and the
    /// secrets.
    fn gateway_vars(&self, unit: &Unit, instance: &str, port: u16) -> HashMap<String, String> {
        example_vars(
            &unit.settings(instance, HOST),
            GATEWAY_MACHINE_KEYS,
            &[
                ("PORTICO_BIND", format!("127.0.0.1:{port}")),
                (
                    "PORTICO_DATA_DIR",
                    self.scratch().data_dir().display().to_string(),
                ),
                ("PORTICO_TRUSTED_PROXIES", PROXY.to_string()),
                (
                    "PORTICO_REDIS_PREFIX",
                    self.scratch().redis_prefix().to_string(),
                ),
            ],
            &self.redis,
            &self.secrets,
        )
    }

    /// What `unit` gives instance `instance`, with this machine's keys.
    fn mailer_vars(
        &self,
        unit: &Unit,
        instance: &str,
        metrics_port: u16,
        data_dir: &Path,
    ) -> HashMap<String, String> {
        // The mailer uses no database and serves no gateway /metrics.
        let secrets: Vec<(&str, String)> = self
            .secrets
            .iter()
            .filter(|(k, _)| *k == "PORTICO_SIGNING_KEYS")
            .cloned()
            .collect();
        example_vars(
            &unit.settings(instance, HOST),
            MAILER_MACHINE_KEYS,
            &[
                ("MAILER_METRICS_BIND", format!("127.0.0.1:{metrics_port}")),
                ("SMTP_URL", self.sink.url()),
                ("PORTICO_DATA_DIR", data_dir.display().to_string()),
                (
                    "PORTICO_REDIS_PREFIX",
                    self.scratch().redis_prefix().to_string(),
                ),
            ],
            &self.redis,
            &secrets,
        )
    }

    /// Starts one more gateway as `portico-gateway@N.service` does, and waits until its
    /// `/readyz` answers 200.
    pub async fn add_gateway(&mut self) -> &FleetGateway {
        let gateway = self.spawn_gateway(free_port(), self.gateways.len()).await;
        self.gateways.push(gateway);
        self.gateways.last().expect("just added")
    }

    async fn spawn_gateway(&self, port: u16, index: usize) -> FleetGateway {
        let mut gateway = self.launch_gateway(port, index);
        if let Err(e) = gateway.wait_ready(Duration::from_secs(30)).await {
            panic!("{e}");
        }
        gateway
    }

    /// Starts a gateway process as `portico-gateway@N.service` does, without waiting.
    fn launch_gateway(&self, port: u16, index: usize) -> FleetGateway {
        let unit = unit(GATEWAY_UNIT);
        let instance = (index + 1).to_string();
        let vars = self.gateway_vars(&unit, &instance, port);
        let name = format!("gateway-{}", (b'a' + index as u8) as char);
        assert_eq!(unit.binary, "gateway");
        let mut command = gateway(&vars);
        command.args(&unit.args);
        FleetGateway {
            port,
            vars,
            process: Process::spawn(&name, command, &self.logs),
            base_domain: self.base_domain.clone(),
        }
    }

    /// Starts `count` gateways at the same moment (as machines booting together do), and
    /// waits for each; what became of each: ready, or why not.
    pub async fn start_gateways_together(&mut self, count: usize) -> Vec<Result<(), String>> {
        let mut launched: Vec<FleetGateway> = (0..count)
            .map(|i| self.launch_gateway(free_port(), self.gateways.len() + i))
            .collect();
        let mut outcomes = Vec::new();
        for gateway in &mut launched {
            outcomes.push(gateway.wait_ready(Duration::from_secs(30)).await);
        }
        self.gateways.extend(launched);
        outcomes
    }

    /// Starts one more mailer as `portico-mailer@N.service` does, and waits until it has
    /// joined the consumer group.
    pub async fn add_mailer(&mut self) -> &FleetMailer {
        let unit = unit(MAILER_UNIT);
        let metrics_port = free_port();
        let instance = (self.mailers.len() + 1).to_string();
        let name = format!("mailer-{instance}");
        let data_dir = self.scratch().data_dir().join(&name);
        let vars = self.mailer_vars(&unit, &instance, metrics_port, &data_dir);
        assert_eq!(unit.binary, "mailer");
        let mut command = mailer(&vars);
        command.args(&unit.args);
        let mut process = Process::spawn(&name, command, &self.logs);
        let deadline = Instant::now() + Duration::from_secs(30);
        while !process.log().contains("mailer started") {
            assert!(
                process.is_running() && Instant::now() < deadline,
                "{name} did not start: {}",
                process.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.mailers.push(FleetMailer {
            metrics_port,
            process,
        });
        self.mailers.last().expect("just added")
    }

    /// A rolling restart of gateway `index`: SIGTERM, which must end it cleanly (exit 0)
    /// within the unit's `TimeoutStopSec`, then the same unit again on the same port.
    pub async fn restart_gateway(&mut self, index: usize) {
        let status = self.gateways[index]
            .process
            .terminate(Duration::from_secs(40))
            .await;
        assert!(
            status.success(),
            "{status:?}: {}",
            self.gateways[index].process.log()
        );
        let port = self.gateways[index].port;
        let restarted = self.spawn_gateway(port, index).await;
        self.gateways[index] = restarted;
    }

    /// Keys the fleet wrote under its prefix, per primary of its own Redis Cluster; `None`
    /// when it runs on another topology.
    pub async fn keys_per_primary(&self) -> Option<Vec<usize>> {
        let cluster = self.cluster.as_ref()?;
        let pattern = format!("{}*", self.scratch().redis_prefix());
        let mut counts = Vec::new();
        for port in cluster.primaries().await {
            let keys: Vec<String> = ask(port, redis::cmd("KEYS").arg(&pattern))
                .await
                .expect("KEYS on a primary");
            counts.push(keys.len());
        }
        Some(counts)
    }

    /// The database every gateway of the fleet uses.
    pub fn database_url(&self) -> &str {
        self.scratch().database_url()
    }

    /// Every process's log, for a failing assertion's message.
    pub fn logs(&self) -> String {
        let gateways = self.gateways.iter().map(|g| &g.process);
        let mailers = self.mailers.iter().map(|m| &m.process);
        gateways
            .chain(mailers)
            .map(|p| format!("--- {} ---\n{}", p.name, p.log()))
            .collect()
    }

    /// Creates a firm as an operator does (`gateway firm create`, on gateway A's machine).
    pub fn create_firm(&self, label: &str) -> FleetFirm {
        let slug = unique(&format!("{label}-"));
        let name = format!("{label} & Co");
        let owner_email = format!("owner@{slug}.example");
        let out = run_gateway(
            &self.gateways[0].vars,
            &[
                "firm",
                "create",
                "--slug",
                &slug,
                "--name",
                &name,
                "--owner-email",
                &owner_email,
            ],
        );
        assert!(
            out.status.success(),
            "firm create: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let api_key = String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .find(|w| w.starts_with("pk_"))
            .expect("firm create prints an API key")
            .to_string();
        FleetFirm {
            slug,
            name,
            api_key,
            owner_email,
        }
    }

    /// Calls the staff API of `gateway` with `key`, as the firm's practice system behind the
    /// proxy does.
    pub async fn api(
        &self,
        gateway: usize,
        key: &str,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = reqwest::Client::new()
            .request(method, self.gateways[gateway].plain_url(path))
            .bearer_auth(key)
            .header("x-forwarded-for", "192.0.2.200");
        if let Some(body) = body {
            request = request.json(&body);
        }
        crate::json_answer(request).await
    }

    /// A contact with portal access, made through the API of `gateway`; returns its id.
    pub async fn add_contact(&self, gateway: usize, firm: &FleetFirm, email: &str) -> String {
        let (status, body) = self
            .api(
                gateway,
                &firm.api_key,
                reqwest::Method::POST,
                "/api/v1/contacts",
                Some(serde_json::json!({"name": "Client", "email": email, "portal_access": true})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["id"].as_str().expect("an id").to_string()
    }

    /// A new contact invited through the API of `gateway` (one invitation mail queued).
    pub async fn invite(&self, gateway: usize, firm: &FleetFirm, email: &str) {
        let id = self.add_contact(gateway, firm, email).await;
        let (status, body) = self
            .api(
                gateway,
                &firm.api_key,
                reqwest::Method::POST,
                &format!("/api/v1/contacts/{id}/invitation"),
                None,
            )
            .await;
        assert!(status.is_success(), "{body}");
    }

    /// A browser behind the proxy, at client address `ip`.
    pub fn visitor(&self, ip: &str) -> Visitor {
        Visitor::new(ip)
    }

    /// Messages the sink accepted for `email`, in the order it accepted them.
    pub fn mails_to(&self, email: &str) -> Vec<Received> {
        let rcpt = format!("<{email}>");
        self.sink
            .messages()
            .into_iter()
            .filter(|m| m.rcpt_to.eq_ignore_ascii_case(&rcpt))
            .collect()
    }

    /// Waits (up to 30 s) until `count` messages for `email` have arrived; the last of them,
    /// read for its link and code.
    pub async fn mailed_link(&self, email: &str, count: usize) -> MailedLink {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let mails = self.mails_to(email);
            if mails.len() >= count {
                return MailedLink::read(&mails[count - 1]);
            }
            assert!(
                Instant::now() < deadline,
                "mail {count} to {email} did not arrive ({} did): {}",
                mails.len(),
                self.logs()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Stops every process and removes what the fleet wrote.
    pub async fn stop(mut self) {
        self.mailers.clear();
        self.gateways.clear();
        self.cluster = None;
        self.sentinels = None;
        let _ = std::fs::remove_dir_all(&self.logs);
        if let Some(scratch) = self.scratch.take() {
            scratch.remove().await;
        }
    }

    fn scratch(&self) -> &Scratch {
        self.scratch.as_ref().expect("the fleet is running")
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        // Processes first (their own drops kill them), so nothing writes while the scratch goes.
        self.mailers.clear();
        self.gateways.clear();
        self.cluster = None;
        self.sentinels = None;
        let _ = std::fs::remove_dir_all(&self.logs);
    }
}

/// The link and code of a sign-in mail, as the recipient reads them.
#[derive(Clone, Debug)]
pub struct MailedLink {
    /// As mailed: `https://{slug}.{base}/auth/magic?token=…`.
    pub link: String,
    pub token: String,
    pub code: String,
    pub message_id: String,
}

impl MailedLink {
    pub fn read(mail: &Received) -> MailedLink {
        let parsed = mail_parser::MessageParser::default()
            .parse(mail.raw.as_bytes())
            .expect("a parsable mail");
        let text = parsed.body_text(0).expect("a text part").to_string();
        let link = text
            .split_whitespace()
            .find(|w| w.starts_with("http") && w.contains("token="))
            .unwrap_or_else(|| panic!("no link in {text}"))
            .to_string();
        let code = text
            .split_whitespace()
            .find(|w| {
                w.len() == 9
                    && w.as_bytes()[4] == b'-'
                    && w.chars()
                        .all(|c| c == '-' || c.is_ascii_uppercase() || c.is_ascii_digit())
            })
            .unwrap_or_else(|| panic!("no code in {text}"))
            .to_string();
        let token = link
            .split_once("token=")
            .map(|(_, t)| t.to_string())
            .expect("a token");
        MailedLink {
            link,
            token,
            code,
            message_id: mail.message_id(),
        }
    }
}

/// Keeps cookies as for `https://` (where the proxy ends TLS), though the test speaks plain
/// HTTP to the gateways: `Secure` and `__Host-` cookies then behave as in a browser.
struct BehindTls(reqwest::cookie::Jar);

fn as_https(url: &url::Url) -> url::Url {
    let mut url = url.clone();
    let _ = url.set_scheme("https");
    let _ = url.set_port(None);
    url
}

impl reqwest::cookie::CookieStore for BehindTls {
    fn set_cookies(&self, headers: &mut dyn Iterator<Item = &HeaderValue>, url: &url::Url) {
        self.0.set_cookies(headers, &as_https(url));
    }

    fn cookies(&self, url: &url::Url) -> Option<HeaderValue> {
        self.0.cookies(&as_https(url))
    }
}

/// A browser behind the reverse proxy: one cookie jar for every gateway (a load balancer
/// sends its requests to any of them), its address in `X-Forwarded-For`.
#[derive(Clone)]
pub struct Visitor {
    pub client: reqwest::Client,
    pub ip: String,
}

impl Visitor {
    pub fn new(ip: &str) -> Visitor {
        let client = reqwest::Client::builder()
            .cookie_provider(Arc::new(BehindTls(reqwest::cookie::Jar::default())))
            .redirect(Policy::none())
            // Every name is the fleet's machine; the URL's port picks the gateway.
            .dns_resolver(Arc::new(ToGateway(([127, 0, 0, 1], 0).into())))
            .build()
            .expect("HTTP client");
        Visitor {
            client,
            ip: ip.to_string(),
        }
    }

    pub async fn get(&self, url: &str) -> reqwest::Response {
        self.client
            .get(url)
            .header("x-forwarded-for", &self.ip)
            .send()
            .await
            .expect("GET")
    }

    pub async fn get_text(&self, url: &str) -> (StatusCode, String) {
        let response = self.get(url).await;
        let status = response.status();
        (status, response.text().await.expect("body"))
    }

    pub async fn post_form(&self, url: &str, form: &[(&str, &str)]) -> reqwest::Response {
        self.client
            .post(url)
            .header("x-forwarded-for", &self.ip)
            .form(form)
            .send()
            .await
            .expect("POST")
    }

    pub async fn csrf(&self, url: &str) -> String {
        let (_, html) = self.get_text(url).await;
        crate::csrf_in(&html).unwrap_or_else(|| panic!("no CSRF token on {url}: {html}"))
    }

    /// Fills in the form of `page` (for its CSRF token) and posts it to `action`.
    pub async fn submit(
        &self,
        gateway: &FleetGateway,
        slug: &str,
        page: &str,
        action: &str,
        fields: &[(&str, &str)],
    ) -> reqwest::Response {
        let csrf = self.csrf(&gateway.url(slug, page)).await;
        let mut form: Vec<(&str, &str)> = vec![("csrf", &csrf)];
        form.extend_from_slice(fields);
        self.post_form(&gateway.url(slug, action), &form).await
    }

    /// `POST /login` through `gateway`.
    pub async fn request_link(
        &self,
        gateway: &FleetGateway,
        slug: &str,
        email: &str,
    ) -> reqwest::Response {
        self.submit(gateway, slug, "/login", "/login", &[("email", email)])
            .await
    }

    /// `POST /staff/login` through `gateway`.
    pub async fn request_staff_link(
        &self,
        gateway: &FleetGateway,
        slug: &str,
        email: &str,
    ) -> reqwest::Response {
        self.submit(
            gateway,
            slug,
            "/staff/login",
            "/staff/login",
            &[("email", email)],
        )
        .await
    }

    /// Opens a mailed link on `gateway`.
    pub async fn open(&self, gateway: &FleetGateway, link: &MailedLink) -> reqwest::Response {
        self.get(&gateway.at(&link.link)).await
    }

    /// Opens a mailed link on `gateway` and types its code into the page it shows.
    pub async fn enter_code(&self, gateway: &FleetGateway, link: &MailedLink) -> reqwest::Response {
        let page = gateway.at(&link.link);
        let csrf = self.csrf(&page).await;
        let action = page.split_once('?').expect("a query").0.to_string();
        self.post_form(
            &action,
            &[
                ("token", &link.token),
                ("code", &link.code),
                ("csrf", &csrf),
            ],
        )
        .await
    }
}

/// The example's nginx (`deploy/nginx/portico.conf`) in front of a fleet's gateways, on
/// loopback ports, with a self-signed certificate. What is replaced is machine-specific and
/// checked to be there: the upstream servers (the gateways' addresses, in order), the
/// `listen` addresses and the certificate's paths; everything else is used as written.
pub struct Proxy {
    pub https_port: u16,
    process: Process,
    dir: PathBuf,
}

impl Proxy {
    /// `None` when nginx is not installed (`apt-get install nginx-light`).
    pub async fn start(fleet: &Fleet) -> Option<Proxy> {
        let nginx = ["/usr/sbin/nginx", "/usr/bin/nginx"]
            .into_iter()
            .find(|p| Path::new(p).exists())?;
        let dir = std::env::temp_dir().join(unique("portico-nginx-"));
        for sub in ["tls", "temp", "logs"] {
            std::fs::create_dir_all(dir.join(sub)).expect("nginx folders");
        }
        // Workers may run as another user (nobody, when started as root).
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.join("temp"), std::fs::Permissions::from_mode(0o777))
            .expect("chmod");
        let (cert, key) = (dir.join("tls/cert.pem"), dir.join("tls/key.pem"));
        let made = std::process::Command::new("openssl")
            .args([
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            ])
            .args(["-subj", &format!("/CN=*.{}", fleet.base_domain)])
            .arg("-keyout")
            .arg(&key)
            .arg("-out")
            .arg(&cert)
            .output()
            .expect("openssl runs");
        assert!(
            made.status.success(),
            "{}",
            String::from_utf8_lossy(&made.stderr)
        );

        let (http_port, https_port) = (free_port(), free_port());
        let example = std::fs::read_to_string(deploy_dir().join("nginx/portico.conf"))
            .expect("deploy/nginx/portico.conf");
        let mut upstreams = fleet.gateways.iter();
        let mut site = String::new();
        for line in example.lines() {
            let trimmed = line.trim();
            let replaced = if trimmed.starts_with("server 10.") {
                let gateway = upstreams.next().expect("an upstream per gateway");
                let (_, rest) = trimmed.split_once(' ').expect("server ADDRESS …");
                let (_, options) = rest.split_once(' ').unwrap_or((rest, ";"));
                format!("server 127.0.0.1:{} {options}", gateway.port)
            } else if trimmed.starts_with("listen [::]") {
                continue;
            } else if trimmed == "listen 80;" {
                format!("listen 127.0.0.1:{http_port};")
            } else if let Some(rest) = trimmed.strip_prefix("listen 443 ") {
                format!("listen 127.0.0.1:{https_port} {rest}")
            } else if trimmed.starts_with("ssl_certificate ") {
                format!("ssl_certificate {};", cert.display())
            } else if trimmed.starts_with("ssl_certificate_key ") {
                format!("ssl_certificate_key {};", key.display())
            } else {
                trimmed.to_string()
            };
            site.push_str(&replaced);
            site.push('\n');
        }
        assert!(
            upstreams.next().is_none(),
            "the example names fewer upstreams than gateways"
        );
        for wanted in ["127.0.0.1:{http_port}", "ssl_certificate_key "] {
            let wanted = wanted.replace("{http_port}", &http_port.to_string());
            assert!(
                site.contains(&wanted),
                "the example's nginx config lost {wanted:?}"
            );
        }
        std::fs::write(dir.join("site.conf"), &site).expect("site.conf");
        let temp = dir.join("temp").display().to_string();
        let main = format!(
            "daemon off;\nworker_processes 1;\npid {dir}/nginx.pid;\nerror_log {dir}/logs/error.log;\n\
             events {{}}\nhttp {{\n  access_log off;\n  client_body_temp_path {temp};\n  \
             proxy_temp_path {temp};\n  fastcgi_temp_path {temp};\n  uwsgi_temp_path {temp};\n  \
             scgi_temp_path {temp};\n  include {dir}/site.conf;\n}}\n",
            dir = dir.display()
        );
        std::fs::write(dir.join("nginx.conf"), main).expect("nginx.conf");
        let mut command = std::process::Command::new(nginx);
        command
            .arg("-p")
            .arg(&dir)
            .arg("-c")
            .arg(dir.join("nginx.conf"));
        let mut process = Process::spawn("nginx", command, &dir.join("logs"));
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", https_port)).is_err() {
            assert!(
                process.is_running() && Instant::now() < deadline,
                "nginx did not start: {}{}",
                process.log(),
                std::fs::read_to_string(dir.join("logs/error.log")).unwrap_or_default()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Some(Proxy {
            https_port,
            process,
            dir,
        })
    }

    /// `https://{slug}.{base}:{port}{path}` through the proxy.
    pub fn url(&self, fleet: &Fleet, slug: &str, path: &str) -> String {
        format!(
            "https://{slug}.{}:{}{path}",
            fleet.base_domain, self.https_port
        )
    }

    /// A mailed link (`https://{slug}.{base}/…`), through the proxy's port.
    pub fn at(&self, public: &str) -> String {
        let mut url = url::Url::parse(public).expect("a URL");
        url.set_port(Some(self.https_port)).expect("a port");
        url.to_string()
    }

    /// A browser speaking https to the proxy (its certificate is the test's own).
    pub fn browser(&self) -> reqwest::Client {
        reqwest::Client::builder()
            .cookie_store(true)
            .redirect(Policy::none())
            .danger_accept_invalid_certs(true)
            .dns_resolver(Arc::new(ToGateway(([127, 0, 0, 1], 0).into())))
            .build()
            .expect("HTTP client")
    }

    pub fn error_log(&self) -> String {
        std::fs::read_to_string(self.dir.join("logs/error.log")).unwrap_or_default()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.process.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_files_are_key_value_lines_with_comments() {
        let vars = parse_env("# a comment\n\nA=1\n  B_2=x=y  \nC=\n").unwrap();
        assert_eq!(
            vars,
            [
                ("A".to_string(), "1".to_string()),
                ("B_2".to_string(), "x=y".to_string()),
                ("C".to_string(), String::new()),
            ]
        );
        for bad in [
            "A",
            "a=1",
            "export A=1",
            "A=\"quoted\"",
            "A=1 # trailing",
            "A=1\\",
            "A=1\nA=2",
            "1A=x",
        ] {
            assert!(parse_env(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn the_example_env_files_parse_and_keep_secrets_out() {
        for name in ["gateway.env", "mailer.env"] {
            let vars = env_file(name);
            for key in SECRET_KEYS {
                assert!(!vars.contains_key(*key), "{name} holds the secret {key}");
            }
        }
        let gateway = env_file("gateway.env");
        for key in GATEWAY_MACHINE_KEYS {
            assert!(gateway.contains_key(*key), "gateway.env lacks {key}");
        }
        let mailer = env_file("mailer.env");
        for key in MAILER_MACHINE_KEYS {
            assert!(mailer.contains_key(*key), "mailer.env lacks {key}");
        }
        // Both name the same Redis, under the same prefix.
        for key in REDIS_KEYS.iter().chain(&["PORTICO_REDIS_PREFIX"]) {
            assert_eq!(gateway.get(*key), mailer.get(*key), "{key} differs");
        }
        // The example's secrets file holds exactly the documented secrets.
        let text = std::fs::read_to_string(deploy_dir().join("env/secrets.env.example")).unwrap();
        let secrets: Vec<String> = parse_env(&text)
            .unwrap()
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        assert_eq!(secrets, SECRET_KEYS);
    }

    #[test]
    fn the_units_start_the_binaries_with_the_example_files() {
        let gateway = unit(GATEWAY_UNIT);
        assert_eq!(
            (gateway.binary.as_str(), &gateway.args[..]),
            ("gateway", &["serve".to_string()][..])
        );
        let settings = gateway.settings("1", HOST);
        assert_eq!(
            settings.get("PORTICO_BIND"),
            env_file("gateway.env").get("PORTICO_BIND")
        );
        let migrate = unit(MIGRATE_UNIT);
        assert_eq!(
            (migrate.binary.as_str(), &migrate.args[..]),
            ("gateway", &["migrate".to_string()][..])
        );
        assert_eq!(
            migrate.settings("", HOST),
            settings,
            "migrate reads what the gateways read"
        );
        let mailer = unit(MAILER_UNIT);
        assert_eq!(
            (mailer.binary.as_str(), &mailer.args[..]),
            ("mailer", &["run".to_string()][..])
        );
        let settings = mailer.settings("2", HOST);
        assert_eq!(
            settings["MAILER_CONSUMER"], "fleet-2",
            "a stable consumer name per instance"
        );
        assert_eq!(
            settings["MAILER_CLAIM_IDLE"],
            env_file("mailer.env")["MAILER_CLAIM_IDLE"]
        );
    }

    #[test]
    fn example_vars_replace_only_the_documented_keys() {
        let file: HashMap<String, String> = [
            ("PORTICO_BIND", "10.0.0.21:8080"),
            ("PORTICO_LINK_TTL", "7d"),
            ("REDIS_CLUSTER_NODES", "redis://10.0.0.41:6379"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let vars = example_vars(
            &file,
            GATEWAY_MACHINE_KEYS,
            &[("PORTICO_BIND", "127.0.0.1:1".into())],
            &RedisTarget::Single("redis://127.0.0.1:6379".into()),
            &[("PORTICO_SIGNING_KEYS", "k:x".into())],
        );
        assert_eq!(vars["PORTICO_BIND"], "127.0.0.1:1");
        assert_eq!(vars["PORTICO_LINK_TTL"], "7d");
        assert_eq!(vars["REDIS_URL"], "redis://127.0.0.1:6379");
        assert!(!vars.contains_key("REDIS_CLUSTER_NODES"));
        assert_eq!(vars["PORTICO_SIGNING_KEYS"], "k:x");
        let undocumented = std::panic::catch_unwind(|| {
            example_vars(
                &file,
                GATEWAY_MACHINE_KEYS,
                &[("PORTICO_LINK_TTL", "1s".into())],
                &RedisTarget::Single(String::new()),
                &[],
            )
        });
        assert!(
            undocumented.is_err(),
            "a setting that is not machine-specific was replaced"
        );
    }
}
