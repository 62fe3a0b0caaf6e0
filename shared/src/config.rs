//! Configuration, read once from the environment into a typed struct. Every problem is reported
//! as one line that names the variable, e.g.
//! `PORTICO_LINK_TTL: expected a duration like 7d, 12h, 15min or 30s, got "seven"`.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use ipnet::IpNet;

use crate::filetypes::{self, FileType};
use crate::keys::Keyring;
use crate::units::{Rate, parse_duration, parse_size};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Clone, Debug)]
pub struct Config {
    pub database_url: String,
    /// Which Redis: one server, a cluster or a master found through sentinels.
    pub redis: RedisTopology,
    /// Prefix of every Redis key this installation writes.
    pub redis_prefix: String,
    /// Whether the gateway answers for a session or a mail job only once replicas hold it.
    pub redis_replica_wait: Option<ReplicaWait>,
    pub bind: SocketAddr,
    pub base_domain: String,
    pub public_scheme: String,
    /// Port written into links; `None` for the scheme's default port.
    pub public_port: Option<u16>,
    pub signing_keys: Arc<Keyring>,
    pub cookie_secure: bool,
    pub trusted_proxies: Vec<IpNet>,
    pub login_per_ip: Rate,
    /// Links asked for one address of a firm from one network (IPv4 address, IPv6 /64).
    pub login_per_email: Rate,
    /// Sign-in mails to one address of a firm per day; past it no mail goes.
    pub login_mails_per_day: u32,
    /// How long after `POST /login` the asking browser signs in with one click; later the
    /// code from the email is needed.
    pub login_one_click: Duration,
    pub link_ttl: Duration,
    /// Whether asking for a new link voids the older unused ones.
    pub new_link_voids_old: bool,
    pub session_idle: Duration,
    pub session_absolute: Duration,
    pub smtp_url: Option<String>,
    pub mail_from: String,
    pub log_format: LogFormat,
    /// Bearer token `/metrics` asks for; without one, `/metrics` answers loopback peers only.
    pub metrics_token: Option<String>,
    /// Where generated keys, the SQLite file, uploaded files and the mail outbox live.
    pub data_dir: PathBuf,
    /// The largest document a client or staff member may upload.
    pub upload_max_bytes: u64,
    /// The document types clients may upload to tasks (signing requests take PDF only).
    pub upload_types: Vec<&'static FileType>,
    /// Bytes of task files one contact may keep stored in a firm; `None` (`off`) for no limit.
    pub upload_quota: Option<u64>,
    /// Uploads one contact of a firm may make per window, counted in Redis.
    pub upload_rate: Rate,
    /// How old a stored file must be before the sweep may remove it as unreferenced; keeps
    /// it away from files written for rows that are not committed yet.
    pub files_gc_grace: Duration,
    /// How often `serve` sweeps unreferenced files; `None` (`off`) for never.
    pub files_gc_every: Option<Duration>,
    /// Memory for kept client home pages (gateway/src/page_cache.rs); 0 (`off`) keeps none.
    pub home_cache_bytes: u64,
    /// Pages of a signing document rendered as images for the sign page; the rest are for
    /// download only.
    pub preview_pages: u32,
    /// How long the renderer may take for one document before its processes are killed.
    pub preview_timeout: Duration,
    /// Address space the renderer's process may use (a PDF is untrusted input).
    pub preview_memory: u64,
}

/// The Redis the installation runs on, chosen once at start from exactly one of `REDIS_URL`,
/// `REDIS_CLUSTER_NODES` or `REDIS_SENTINELS` (+ `REDIS_SENTINEL_SERVICE`); see
/// [`crate::redis_conn::RedisConn`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RedisTopology {
    /// One server, by URL (`redis://host:port`).
    Single(String),
    /// A Redis Cluster, by the URLs of some of its nodes (the rest are discovered).
    Cluster(Vec<String>),
    /// A master whose address the sentinels (`host:port`) give under `service`.
    Sentinel {
        sentinels: Vec<String>,
        service: String,
    },
}

impl RedisTopology {
    /// A description fit for logs and error messages (passwords replaced).
    pub fn describe(&self) -> String {
        match self {
            RedisTopology::Single(url) => redact_url(url),
            RedisTopology::Cluster(seeds) => format!(
                "cluster {}",
                seeds
                    .iter()
                    .map(|u| redact_url(u))
                    .collect::<Vec<_>>()
                    .join(",")
            ),
            RedisTopology::Sentinel { sentinels, service } => {
                format!("sentinel service {service} via {}", sentinels.join(","))
            }
        }
    }

    /// The variable that chose this topology, to name in connection errors.
    pub fn variable(&self) -> &'static str {
        match self {
            RedisTopology::Single(_) => "REDIS_URL",
            RedisTopology::Cluster(_) => "REDIS_CLUSTER_NODES",
            RedisTopology::Sentinel { .. } => "REDIS_SENTINELS",
        }
    }

    /// Exactly one of the three ways; anything else is refused, naming the variable.
    fn from_lookup(get: &impl Fn(&str) -> Option<String>) -> Result<RedisTopology, ConfigError> {
        const ONE_OF: &str = "set exactly one of REDIS_URL, REDIS_CLUSTER_NODES or \
                              REDIS_SENTINELS (with REDIS_SENTINEL_SERVICE)";
        let url = get("REDIS_URL");
        let cluster = get("REDIS_CLUSTER_NODES");
        let sentinels = get("REDIS_SENTINELS");
        let service = get("REDIS_SENTINEL_SERVICE");
        if cluster.is_some() && url.is_some() {
            return Err(err(
                "REDIS_CLUSTER_NODES",
                format!("is set together with REDIS_URL: {ONE_OF}"),
            ));
        }
        if sentinels.is_some() && url.is_some() {
            return Err(err(
                "REDIS_SENTINELS",
                format!("is set together with REDIS_URL: {ONE_OF}"),
            ));
        }
        if sentinels.is_some() && cluster.is_some() {
            return Err(err(
                "REDIS_SENTINELS",
                format!("is set together with REDIS_CLUSTER_NODES: {ONE_OF}"),
            ));
        }
        if service.is_some() && sentinels.is_none() {
            return Err(err(
                "REDIS_SENTINEL_SERVICE",
                "is set without REDIS_SENTINELS (the sentinels' host:port list)",
            ));
        }
        if let Some(list) = cluster {
            let seeds = list_entries(&list)
                .map(|entry| {
                    let valid = (entry.starts_with("redis://") || entry.starts_with("rediss://"))
                        && url::Url::parse(entry).is_ok_and(|u| u.host_str().is_some())
                        && redis::Client::open(entry).is_ok();
                    if valid {
                        Ok(entry.to_string())
                    } else {
                        Err(err(
                            "REDIS_CLUSTER_NODES",
                            format!(
                                "expected comma-separated URLs like redis://10.0.0.5:6379, got {:?}",
                                redact_url(entry)
                            ),
                        ))
                    }
                })
                .collect::<Result<Vec<_>, _>>()?;
            if seeds.is_empty() {
                return Err(err("REDIS_CLUSTER_NODES", "lists no node"));
            }
            return Ok(RedisTopology::Cluster(seeds));
        }
        if let Some(list) = sentinels {
            let sentinels = list_entries(&list)
                .map(|entry| {
                    match entry.rsplit_once(':') {
                        Some((host, port))
                            if !host.is_empty()
                                && !host.contains('/')
                                && port.parse::<u16>().is_ok_and(|p| p > 0) =>
                        {
                            Ok(entry.to_string())
                        }
                        _ => Err(err(
                            "REDIS_SENTINELS",
                            format!(
                                "expected comma-separated host:port entries like 10.0.0.5:26379, got {entry:?}"
                            ),
                        )),
                    }
                })
                .collect::<Result<Vec<_>, _>>()?;
            if sentinels.is_empty() {
                return Err(err("REDIS_SENTINELS", "lists no sentinel"));
            }
            let Some(service) = service.map(|s| s.trim().to_string()) else {
                return Err(err(
                    "REDIS_SENTINEL_SERVICE",
                    "must be set with REDIS_SENTINELS: the name the sentinels know the master by",
                ));
            };
            if service.chars().any(|c| c.is_whitespace() || c.is_control()) {
                return Err(err(
                    "REDIS_SENTINEL_SERVICE",
                    format!("expected a master name without spaces, got {service:?}"),
                ));
            }
            return Ok(RedisTopology::Sentinel { sentinels, service });
        }
        let url = url.unwrap_or_else(|| "redis://127.0.0.1:6379".into());
        redis::Client::open(url.as_str())
            .map_err(|e| err("REDIS_URL", format!("{e}, got {:?}", redact_url(&url))))?;
        Ok(RedisTopology::Single(url))
    }
}

/// `PORTICO_REDIS_WAIT_REPLICAS` (and `PORTICO_REDIS_WAIT_TIMEOUT`): before the gateway
/// answers for a session it started or ended, or for a mail job it queued, `WAIT` until this
/// many replicas hold it, or answer 503. Replication is asynchronous, so without it a master
/// demoted by `SENTINEL FAILOVER` can drop what it took in the seconds of the switch; with it
/// set to the number of replicas, whichever replica is promoted holds everything answered for.
/// See [`crate::redis_conn::RedisConn::replicated`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReplicaWait {
    pub replicas: u32,
    pub timeout: Duration,
}

impl ReplicaWait {
    /// The longest `PORTICO_REDIS_WAIT_TIMEOUT`: the answer of a `WAIT` must come within the
    /// connection's response timeout (2 s).
    pub const MAX_TIMEOUT: Duration = Duration::from_secs(1);

    fn from_lookup(
        get: &impl Fn(&str) -> Option<String>,
        topology: &RedisTopology,
    ) -> Result<Option<ReplicaWait>, ConfigError> {
        let replicas = parse_with(get, "PORTICO_REDIS_WAIT_REPLICAS", "0", |v| {
            v.parse::<u32>()
                .ok()
                .filter(|n| *n <= 64)
                .ok_or_else(|| "expected a number of replicas from 0 to 64".to_string())
        })?;
        let timeout = get("PORTICO_REDIS_WAIT_TIMEOUT");
        if replicas == 0 {
            if timeout.is_some() {
                return Err(err(
                    "PORTICO_REDIS_WAIT_TIMEOUT",
                    "is set but PORTICO_REDIS_WAIT_REPLICAS is not: set the number of replicas to wait for",
                ));
            }
            return Ok(None);
        }
        if let RedisTopology::Cluster(_) = topology {
            return Err(err(
                "PORTICO_REDIS_WAIT_REPLICAS",
                "works with REDIS_URL or REDIS_SENTINELS, not REDIS_CLUSTER_NODES \
                 (a Cluster's CLUSTER FAILOVER already waits for its replica)",
            ));
        }
        let timeout = parse_with(get, "PORTICO_REDIS_WAIT_TIMEOUT", "500ms", |v| {
            parse_duration(v).and_then(|d| {
                if d <= ReplicaWait::MAX_TIMEOUT {
                    Ok(d)
                } else {
                    Err("expected at most 1s".to_string())
                }
            })
        })?;
        Ok(Some(ReplicaWait { replicas, timeout }))
    }
}

/// The non-empty entries of a comma-separated list, trimmed.
fn list_entries(list: &str) -> impl Iterator<Item = &str> {
    list.split(',').map(str::trim).filter(|s| !s.is_empty())
}

/// A configuration problem: which variable, and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub var: &'static str,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.var, self.message)
    }
}

impl std::error::Error for ConfigError {}

fn err(var: &'static str, message: impl Into<String>) -> ConfigError {
    ConfigError {
        var,
        message: message.into(),
    }
}

impl Config {
    pub fn from_env() -> Result<Config, ConfigError> {
        Config::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the configuration through `lookup` (the environment, or a map in tests).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());

        let data_dir = PathBuf::from(get("PORTICO_DATA_DIR").unwrap_or_else(|| "var".into()));

        let database_url = get("DATABASE_URL").unwrap_or_else(|| "sqlite://var/portico.db".into());
        if !(database_url.starts_with("sqlite:")
            || database_url.starts_with("postgres://")
            || database_url.starts_with("postgresql://"))
        {
            return Err(err(
                "DATABASE_URL",
                format!(
                    "expected sqlite://PATH or postgres://…, got {:?}",
                    redact_url(&database_url)
                ),
            ));
        }

        let redis = RedisTopology::from_lookup(&get)?;
        let redis_replica_wait = ReplicaWait::from_lookup(&get, &redis)?;
        let redis_prefix = get("PORTICO_REDIS_PREFIX").unwrap_or_else(|| "portico:".into());
        // Braces would make the prefix the hash tag of every key, all on one cluster node (or
        // split the tags Portico puts in its keys): see RedisKeys.
        if redis_prefix.contains(['{', '}']) {
            return Err(err(
                "PORTICO_REDIS_PREFIX",
                format!(
                    "must not contain {{ or }} (Portico puts its own hash tags in its keys), got {redis_prefix:?}"
                ),
            ));
        }

        let bind: SocketAddr = parse_with(&get, "PORTICO_BIND", "127.0.0.1:8080", |v| {
            v.parse()
                .map_err(|_| "expected an address like 127.0.0.1:8080".to_string())
        })?;

        let base_domain = get("PORTICO_BASE_DOMAIN")
            .unwrap_or_else(|| "localhost".into())
            .trim()
            .trim_end_matches('.')
            .to_ascii_lowercase();
        if !is_hostname(&base_domain) {
            return Err(err(
                "PORTICO_BASE_DOMAIN",
                format!("expected a domain name like portal.example.com, got {base_domain:?}"),
            ));
        }
        let local = base_domain == "localhost";

        let public_scheme = get("PORTICO_PUBLIC_SCHEME")
            .unwrap_or_else(|| if local { "http" } else { "https" }.into());
        if public_scheme != "http" && public_scheme != "https" {
            return Err(err(
                "PORTICO_PUBLIC_SCHEME",
                format!("expected http or https, got {public_scheme:?}"),
            ));
        }
        let public_port = match get("PORTICO_PUBLIC_PORT") {
            Some(v) => Some(v.trim().parse::<u16>().map_err(|_| {
                err(
                    "PORTICO_PUBLIC_PORT",
                    format!("expected a port number, got {v:?}"),
                )
            })?),
            // On the default local domain the links must reach the bound port directly.
            None if local => Some(bind.port()),
            None => None,
        };

        let signing_keys = match get("PORTICO_SIGNING_KEYS") {
            Some(text) => Keyring::parse(&text).map_err(|e| err("PORTICO_SIGNING_KEYS", e))?,
            None => Keyring::load_or_generate(&data_dir)
                .map_err(|e| err("PORTICO_SIGNING_KEYS", format!("unset, and {e}")))?,
        };

        let cookie_secure = parse_with(&get, "PORTICO_COOKIE_SECURE", "true", parse_bool)?;

        let trusted_proxies = match get("PORTICO_TRUSTED_PROXIES") {
            None => Vec::new(),
            Some(list) => list
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|entry| {
                    entry
                        .parse::<IpNet>()
                        .or_else(|_| entry.parse::<IpAddr>().map(IpNet::from))
                        .map_err(|_| {
                            err(
                                "PORTICO_TRUSTED_PROXIES",
                                format!("expected addresses or CIDR ranges, got {entry:?}"),
                            )
                        })
                })
                .collect::<Result<_, _>>()?,
        };

        let login_per_ip = parse_with(&get, "PORTICO_LOGIN_PER_IP", "60/min", Rate::parse)?;
        let login_per_email = parse_with(&get, "PORTICO_LOGIN_PER_EMAIL", "5/15min", |v| {
            Rate::parse(v)
        })?;
        let login_mails_per_day = parse_with(&get, "PORTICO_LOGIN_MAILS_PER_DAY", "20", |v| {
            v.trim()
                .parse::<u32>()
                .ok()
                .filter(|n| (1..=100_000).contains(n))
                .ok_or_else(|| "expected a whole number from 1 to 100000".to_string())
        })?;
        let link_ttl = parse_with(&get, "PORTICO_LINK_TTL", "7d", parse_duration)?;
        // A binding cannot outlive its link: the shorter of the two.
        let login_one_click =
            parse_with(&get, "PORTICO_LOGIN_ONE_CLICK", "1h", parse_duration)?.min(link_ttl);
        let new_link_voids_old =
            parse_with(&get, "PORTICO_NEW_LINK_VOIDS_OLD", "false", parse_bool)?;
        let session_idle = parse_with(&get, "PORTICO_SESSION_IDLE", "12h", parse_duration)?;
        let session_absolute = parse_with(&get, "PORTICO_SESSION_ABSOLUTE", "7d", parse_duration)?;
        if session_idle > session_absolute {
            return Err(err(
                "PORTICO_SESSION_IDLE",
                "must not be longer than PORTICO_SESSION_ABSOLUTE",
            ));
        }

        let smtp_url = get("SMTP_URL");
        if let Some(url) = &smtp_url
            && !(url.starts_with("smtp://") || url.starts_with("smtps://"))
        {
            return Err(err(
                "SMTP_URL",
                format!(
                    "expected smtp://host:port or smtps://user:pass@host, got {:?}",
                    redact_url(url)
                ),
            ));
        }
        let mail_from = get("MAIL_FROM").unwrap_or_else(|| "Portico <no-reply@localhost>".into());
        if !mail_from.contains('@') {
            return Err(err(
                "MAIL_FROM",
                format!(
                    "expected an address like Portico <no-reply@example.com>, got {mail_from:?}"
                ),
            ));
        }

        let log_format = match get("PORTICO_LOG_FORMAT").as_deref() {
            None | Some("text") => LogFormat::Text,
            Some("json") => LogFormat::Json,
            Some(other) => {
                return Err(err(
                    "PORTICO_LOG_FORMAT",
                    format!("expected text or json, got {other:?}"),
                ));
            }
        };

        let metrics_token = get("PORTICO_METRICS_TOKEN").map(|t| t.trim().to_string());
        if metrics_token.as_ref().is_some_and(|t| t.len() < 16) {
            return Err(err(
                "PORTICO_METRICS_TOKEN",
                "expected at least 16 characters".to_string(),
            ));
        }
        // Behind a proxy on the same machine every request arrives from loopback, so the
        // loopback rule that guards /metrics without a token would let anyone read it.
        if !trusted_proxies.is_empty() && metrics_token.is_none() {
            return Err(err(
                "PORTICO_TRUSTED_PROXIES",
                "is set, so PORTICO_METRICS_TOKEN must be set too (16+ characters): behind a \
                 proxy, /metrics cannot tell a scraper from a relayed request"
                    .to_string(),
            ));
        }
        let upload_max_bytes = parse_with(&get, "PORTICO_UPLOAD_MAX_BYTES", "25MB", parse_size)?;
        let upload_types = parse_with(
            &get,
            "PORTICO_UPLOAD_TYPES",
            filetypes::DEFAULT_TYPES,
            filetypes::parse_list,
        )?;

        let upload_quota = parse_with(&get, "PORTICO_UPLOAD_QUOTA", "500MB", or_off(parse_size))?;
        let upload_rate = parse_with(&get, "PORTICO_UPLOAD_RATE", "60/h", Rate::parse)?;

        let files_gc_grace = parse_with(&get, "PORTICO_FILES_GC_GRACE", "1h", parse_duration)?;
        if files_gc_grace < Duration::from_secs(60) {
            return Err(err(
                "PORTICO_FILES_GC_GRACE",
                "must be at least 1min, longer than any upload takes to be recorded",
            ));
        }
        let files_gc_every =
            parse_with(&get, "PORTICO_FILES_GC_EVERY", "1h", or_off(parse_duration))?;

        let home_cache_bytes =
            parse_with(&get, "PORTICO_HOME_CACHE", "8MB", or_off(parse_size))?.unwrap_or(0);

        let preview_pages = parse_with(&get, "PORTICO_PREVIEW_PAGES", "50", |v| {
            v.parse::<u32>()
                .ok()
                .filter(|n| (1..=500).contains(n))
                .ok_or_else(|| "expected a number of pages from 1 to 500".to_string())
        })?;
        let preview_timeout = parse_with(&get, "PORTICO_PREVIEW_TIMEOUT", "60s", parse_duration)?;
        if preview_timeout < Duration::from_secs(1) {
            return Err(err("PORTICO_PREVIEW_TIMEOUT", "must be at least 1s"));
        }
        let preview_memory = parse_with(&get, "PORTICO_PREVIEW_MEMORY", "1GB", parse_size)?;
        if preview_memory < 64 * 1024 * 1024 {
            return Err(err(
                "PORTICO_PREVIEW_MEMORY",
                "must be at least 64MB, which the renderer needs to start",
            ));
        }

        Ok(Config {
            database_url,
            redis,
            redis_prefix,
            redis_replica_wait,
            bind,
            base_domain,
            public_scheme,
            public_port,
            signing_keys: Arc::new(signing_keys),
            cookie_secure,
            trusted_proxies,
            login_per_ip,
            login_per_email,
            login_mails_per_day,
            login_one_click,
            link_ttl,
            new_link_voids_old,
            session_idle,
            session_absolute,
            smtp_url,
            mail_from,
            log_format,
            metrics_token,
            data_dir,
            upload_max_bytes,
            upload_types,
            upload_quota,
            upload_rate,
            files_gc_grace,
            files_gc_every,
            home_cache_bytes,
            preview_pages,
            preview_timeout,
            preview_memory,
        })
    }

    /// The base URL of a firm's portal, e.g. `http://acme.localhost:8080`.
    pub fn portal_url(&self, slug: &str) -> String {
        match self.public_port {
            Some(port) => format!(
                "{}://{slug}.{}:{port}",
                self.public_scheme, self.base_domain
            ),
            None => format!("{}://{slug}.{}", self.public_scheme, self.base_domain),
        }
    }
}

fn parse_with<T>(
    get: &impl Fn(&str) -> Option<String>,
    var: &'static str,
    default: &str,
    parse: impl Fn(&str) -> Result<T, String>,
) -> Result<T, ConfigError> {
    let value = get(var).unwrap_or_else(|| default.to_string());
    parse(value.trim()).map_err(|message| err(var, format!("{message}, got {value:?}")))
}

/// A setting that also takes `off`: `None` then, otherwise what `parse` makes of it.
fn or_off<T>(
    parse: impl Fn(&str) -> Result<T, String>,
) -> impl Fn(&str) -> Result<Option<T>, String> {
    move |value| {
        if value.eq_ignore_ascii_case("off") {
            Ok(None)
        } else {
            parse(value).map(Some).map_err(|e| format!("{e} (or off)"))
        }
    }
}

fn parse_bool(value: &str) -> Result<bool, String> {
    match value.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err("expected true or false".into()),
    }
}

fn is_hostname(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        })
}

/// A URL with its password replaced, fit for an error message.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let mut map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        map.entry("PORTICO_SIGNING_KEYS".into())
            .or_insert_with(|| Keyring::generate("t").to_config_string());
        Config::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults() {
        let c = config(&[]).unwrap();
        assert_eq!(c.database_url, "sqlite://var/portico.db");
        assert_eq!(c.public_scheme, "http");
        assert_eq!(c.portal_url("acme"), "http://acme.localhost:8080");
        assert_eq!(c.link_ttl, Duration::from_secs(7 * 86_400));
        assert_eq!(c.login_per_email.count, 5);
        assert_eq!(c.login_mails_per_day, 20);
        assert_eq!(c.login_one_click, Duration::from_secs(3600));
        assert!(c.cookie_secure);
        assert_eq!(c.upload_max_bytes, 25 * 1024 * 1024);
        assert!(c.upload_types.iter().any(|t| t.ext == "pdf"));
        assert_eq!(c.upload_quota, Some(500 * 1024 * 1024));
        assert_eq!(c.upload_rate.count, 60);
        assert_eq!(c.upload_rate.per, Duration::from_secs(3600));
        let c = config(&[
            ("PORTICO_UPLOAD_QUOTA", "off"),
            ("PORTICO_UPLOAD_RATE", "2/hour"),
        ])
        .unwrap();
        assert_eq!(c.upload_quota, None);
        assert_eq!(c.upload_rate.count, 2);
        assert_eq!(c.files_gc_grace, Duration::from_secs(3600));
        assert_eq!(c.files_gc_every, Some(Duration::from_secs(3600)));
        let c = config(&[("PORTICO_FILES_GC_EVERY", "off")]).unwrap();
        assert_eq!(c.files_gc_every, None);
        assert_eq!(c.preview_pages, 50);
        assert_eq!(c.preview_timeout, Duration::from_secs(60));
        assert_eq!(c.preview_memory, 1024 * 1024 * 1024);
        assert_eq!(c.home_cache_bytes, 8 * 1024 * 1024);
        let c = config(&[("PORTICO_HOME_CACHE", "off")]).unwrap();
        assert_eq!(c.home_cache_bytes, 0);
        let c = config(&[("PORTICO_BASE_DOMAIN", "portal.example.com")]).unwrap();
        assert_eq!(c.portal_url("acme"), "https://acme.portal.example.com");
    }

    #[test]
    fn errors_name_the_variable() {
        let cases = [
            ("PORTICO_LINK_TTL", "seven"),
            ("DATABASE_URL", "mysql://x"),
            ("REDIS_URL", "http://nope"),
            ("PORTICO_BIND", "everywhere"),
            ("PORTICO_COOKIE_SECURE", "maybe"),
            ("PORTICO_TRUSTED_PROXIES", "10.0.0.0/99"),
            ("PORTICO_LOGIN_PER_IP", "lots"),
            ("PORTICO_SIGNING_KEYS", "k1:short"),
            ("PORTICO_BASE_DOMAIN", "bad domain"),
            ("SMTP_URL", "http://mail"),
            ("PORTICO_UPLOAD_MAX_BYTES", "lots"),
            ("PORTICO_UPLOAD_TYPES", "pdf,exe"),
            ("PORTICO_UPLOAD_QUOTA", "lots"),
            ("PORTICO_UPLOAD_RATE", "often"),
            ("PORTICO_UPLOAD_RATE", "0/h"),
            ("PORTICO_FILES_GC_GRACE", "10s"),
            ("PORTICO_FILES_GC_EVERY", "sometimes"),
            ("PORTICO_HOME_CACHE", "plenty"),
            ("PORTICO_PREVIEW_PAGES", "0"),
            ("PORTICO_PREVIEW_PAGES", "all"),
            ("PORTICO_PREVIEW_TIMEOUT", "0s"),
            ("PORTICO_PREVIEW_MEMORY", "1MB"),
            ("PORTICO_REDIS_PREFIX", "p{x}:"),
            ("REDIS_CLUSTER_NODES", "10.0.0.5:6379"),
            ("REDIS_CLUSTER_NODES", "redis://a:1,http://b:2"),
            ("REDIS_SENTINELS", "10.0.0.5"),
            ("REDIS_SENTINEL_SERVICE", "mymaster"),
        ];
        for (var, value) in cases {
            let e = config(&[(var, value)]).unwrap_err();
            assert_eq!(e.var, var, "{e}");
            assert!(!e.to_string().contains('\n'));
        }
        let e = config(&[("PORTICO_LINK_TTL", "seven")]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "PORTICO_LINK_TTL: expected a duration like 7d, 12h, 15min or 30s, got \"seven\""
        );
    }

    #[test]
    fn exactly_one_redis_topology() {
        let c = config(&[]).unwrap();
        assert_eq!(
            c.redis,
            RedisTopology::Single("redis://127.0.0.1:6379".into())
        );
        let c = config(&[("REDIS_CLUSTER_NODES", "redis://a:7000, redis://b:7001")]).unwrap();
        assert_eq!(
            c.redis,
            RedisTopology::Cluster(vec!["redis://a:7000".into(), "redis://b:7001".into()])
        );
        let c = config(&[
            ("REDIS_SENTINELS", "a:26379,b:26379"),
            ("REDIS_SENTINEL_SERVICE", "mymaster"),
        ])
        .unwrap();
        assert_eq!(
            c.redis,
            RedisTopology::Sentinel {
                sentinels: vec!["a:26379".into(), "b:26379".into()],
                service: "mymaster".into()
            }
        );
        let refused: [(&[(&str, &str)], &str); 5] = [
            (
                &[
                    ("REDIS_URL", "redis://x"),
                    ("REDIS_CLUSTER_NODES", "redis://a:1"),
                ],
                "REDIS_CLUSTER_NODES",
            ),
            (
                &[
                    ("REDIS_URL", "redis://x"),
                    ("REDIS_SENTINELS", "a:1"),
                    ("REDIS_SENTINEL_SERVICE", "m"),
                ],
                "REDIS_SENTINELS",
            ),
            (
                &[
                    ("REDIS_CLUSTER_NODES", "redis://a:1"),
                    ("REDIS_SENTINELS", "a:1"),
                    ("REDIS_SENTINEL_SERVICE", "m"),
                ],
                "REDIS_SENTINELS",
            ),
            (&[("REDIS_SENTINELS", "a:1")], "REDIS_SENTINEL_SERVICE"),
            (&[("REDIS_SENTINEL_SERVICE", "m")], "REDIS_SENTINEL_SERVICE"),
        ];
        for (vars, var) in refused {
            let e = config(vars).unwrap_err();
            assert_eq!(e.var, var, "{e}");
            assert!(!e.to_string().contains('\n'));
        }
    }

    #[test]
    fn replica_wait_is_off_unless_asked_and_never_on_a_cluster() {
        assert_eq!(config(&[]).unwrap().redis_replica_wait, None);
        let sentinel = [
            ("REDIS_SENTINELS", "a:26379"),
            ("REDIS_SENTINEL_SERVICE", "m"),
            ("PORTICO_REDIS_WAIT_REPLICAS", "2"),
        ];
        assert_eq!(
            config(&sentinel).unwrap().redis_replica_wait,
            Some(ReplicaWait {
                replicas: 2,
                timeout: Duration::from_millis(500)
            })
        );
        let c = config(&[
            ("PORTICO_REDIS_WAIT_REPLICAS", "1"),
            ("PORTICO_REDIS_WAIT_TIMEOUT", "50ms"),
        ])
        .unwrap();
        assert_eq!(
            c.redis_replica_wait.map(|w| w.timeout),
            Some(Duration::from_millis(50))
        );
        let refused: [(&[(&str, &str)], &str); 5] = [
            (
                &[
                    ("REDIS_CLUSTER_NODES", "redis://a:1"),
                    ("PORTICO_REDIS_WAIT_REPLICAS", "1"),
                ],
                "PORTICO_REDIS_WAIT_REPLICAS",
            ),
            (
                &[("PORTICO_REDIS_WAIT_REPLICAS", "some")],
                "PORTICO_REDIS_WAIT_REPLICAS",
            ),
            (
                &[("PORTICO_REDIS_WAIT_REPLICAS", "-1")],
                "PORTICO_REDIS_WAIT_REPLICAS",
            ),
            (
                &[("PORTICO_REDIS_WAIT_TIMEOUT", "100ms")],
                "PORTICO_REDIS_WAIT_TIMEOUT",
            ),
            (
                &[
                    ("PORTICO_REDIS_WAIT_REPLICAS", "1"),
                    ("PORTICO_REDIS_WAIT_TIMEOUT", "5s"),
                ],
                "PORTICO_REDIS_WAIT_TIMEOUT",
            ),
        ];
        for (vars, var) in refused {
            let e = config(vars).unwrap_err();
            assert_eq!(e.var, var, "{e}");
            assert!(!e.to_string().contains('\n'));
        }
    }

    #[test]
    fn passwords_are_not_echoed() {
        let e = config(&[("DATABASE_URL", "mysql://u:hunter2@db/x")]).unwrap_err();
        assert!(!e.to_string().contains("hunter2"), "{e}");
    }
}
