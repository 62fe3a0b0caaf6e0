//! The gateway and the mailer read Redis's persistence settings at start: a Redis that keeps
//! nothing across a restart (it would lose every queued mail) is warned about in the log and
//! shows as 0 on `/metrics`; AOF or RDB snapshots show as 1; a Redis that refuses `CONFIG`
//! (managed services rename it) shows as -1 with a line saying it could not be determined.
//! Each case runs the real binaries against a private `redis-server` started that way.

use portico_e2e::binaries::{LoggedChild, gateway, mailer};
use portico_e2e::private_redis::PrivateRedis;
use portico_e2e::test_config;

const LOST: &str = "mail jobs queued in Redis are lost if it restarts";
const UNKNOWN: &str = "could not determine whether Redis persists its data";

/// What a binary said about Redis: its gauge and its warnings.
struct Seen {
    gauge: i64,
    warnings: Vec<String>,
}

/// The JSON log line's message, when it is a warning.
fn warning(line: &str) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(line).ok()?;
    (v["level"] == "WARN").then(|| line.to_string())
}

fn gauge(metrics: &str, name: &str) -> i64 {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .unwrap_or_else(|| panic!("no {name} in {metrics}"))
        .trim()
        .parse()
        .expect("a whole number")
}

async fn get_metrics(url: &str) -> String {
    let response = reqwest::get(url).await.expect("GET /metrics");
    assert_eq!(response.status(), reqwest::StatusCode::OK);
    response.text().await.expect("metrics text")
}

/// Starts `gateway serve` on `redis` and reads its log and `/metrics` once it listens.
async fn gateway_sees(redis: &PrivateRedis) -> Seen {
    let setup = test_config(&[("REDIS_URL", &redis.url())]).await;
    let mut command = gateway(&setup.vars);
    command.env("PORTICO_LOG_FORMAT", "json").arg("serve");
    let running = LoggedChild::spawn(command);
    let port = running
        .wait_for("gateway listening", |line| {
            let v: serde_json::Value = serde_json::from_str(line).ok()?;
            v["address"]
                .as_str()?
                .rsplit(':')
                .next()?
                .parse::<u16>()
                .ok()
        })
        .await;
    let metrics = get_metrics(&format!("http://127.0.0.1:{port}/metrics")).await;
    Seen {
        gauge: gauge(&metrics, "portico_redis_persistence"),
        warnings: running.lines().iter().filter_map(|l| warning(l)).collect(),
    }
}

/// Starts `mailer` on `redis` and reads its log and `/metrics` once it has started.
async fn mailer_sees(redis: &PrivateRedis) -> Seen {
    let setup = test_config(&[("REDIS_URL", &redis.url())]).await;
    let metrics_bind = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port");
    let mut command = mailer(&setup.vars);
    command
        .env("PORTICO_LOG_FORMAT", "json")
        .env("MAILER_METRICS_BIND", metrics_bind.to_string());
    let running = LoggedChild::spawn(command);
    running
        .wait_for("mailer started", |line| {
            line.contains("\"mailer started\"").then_some(())
        })
        .await;
    let metrics = get_metrics(&format!("http://{metrics_bind}/metrics")).await;
    Seen {
        gauge: gauge(&metrics, "mailer_redis_persistence"),
        warnings: running.lines().iter().filter_map(|l| warning(l)).collect(),
    }
}

/// Both binaries on a Redis started with `args`: (gateway, mailer).
async fn both_see(args: &[&str]) -> (Seen, Seen) {
    let redis = PrivateRedis::start_with(args).await;
    tokio::join!(gateway_sees(&redis), mailer_sees(&redis))
}

fn assert_warned_once(seen: &Seen, binary: &str, text: &str) {
    let matching = seen.warnings.iter().filter(|w| w.contains(text)).count();
    assert_eq!(matching, 1, "{binary}: {:?}", seen.warnings);
}

fn assert_quiet_about_redis(seen: &Seen, binary: &str) {
    assert!(
        !seen.warnings.iter().any(|w| w.contains("Redis")),
        "{binary}: {:?}",
        seen.warnings
    );
}

#[tokio::test]
async fn a_redis_without_aof_or_snapshots_is_warned_about_and_reported_0() {
    let (gateway, mailer) = both_see(&["--save", "", "--appendonly", "no"]).await;
    for (binary, seen) in [("gateway", &gateway), ("mailer", &mailer)] {
        assert_eq!(seen.gauge, 0, "{binary}");
        assert_warned_once(seen, binary, LOST);
    }
}

#[tokio::test]
async fn a_redis_with_aof_is_reported_1_without_a_warning() {
    let (gateway, mailer) = both_see(&["--appendonly", "yes", "--appendfsync", "everysec"]).await;
    for (binary, seen) in [("gateway", &gateway), ("mailer", &mailer)] {
        assert_eq!(seen.gauge, 1, "{binary}");
        assert_quiet_about_redis(seen, binary);
    }
}

#[tokio::test]
async fn a_redis_with_rdb_snapshots_only_is_reported_1_without_a_warning() {
    let (gateway, mailer) = both_see(&["--save", "60 1"]).await;
    for (binary, seen) in [("gateway", &gateway), ("mailer", &mailer)] {
        assert_eq!(seen.gauge, 1, "{binary}");
        assert_quiet_about_redis(seen, binary);
    }
}

#[tokio::test]
async fn a_redis_refusing_config_is_reported_unknown_with_one_line_saying_so() {
    let (gateway, mailer) = both_see(&["--rename-command", "CONFIG", ""]).await;
    for (binary, seen) in [("gateway", &gateway), ("mailer", &mailer)] {
        assert_eq!(seen.gauge, -1, "{binary}");
        assert_warned_once(seen, binary, UNKNOWN);
        assert!(
            !seen.warnings.iter().any(|w| w.contains(LOST)),
            "{binary}: not known to be off: {:?}",
            seen.warnings
        );
    }
}

#[tokio::test]
async fn a_redis_refusing_config_with_aof_on_is_reported_1_from_info() {
    let (gateway, mailer) =
        both_see(&["--rename-command", "CONFIG", "", "--appendonly", "yes"]).await;
    for (binary, seen) in [("gateway", &gateway), ("mailer", &mailer)] {
        assert_eq!(seen.gauge, 1, "{binary}");
        assert_quiet_about_redis(seen, binary);
    }
}
