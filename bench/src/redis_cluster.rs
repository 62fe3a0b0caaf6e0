//! A Redis Cluster of the benchmark's own: six `redis-server` processes in cluster mode on
//! loopback ports, joined with `redis-cli --cluster create … --cluster-replicas 1` into three
//! primaries with a replica each (Debian's `redis-server` and `redis-tools`). Killed, and its
//! folder removed, when dropped.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use portico_shared::secret::{hex, random_bytes};

use crate::system::ChildGuard;

pub struct LocalCluster {
    pub ports: Vec<u16>,
    dir: PathBuf,
    _nodes: Vec<ChildGuard>,
}

/// A free loopback port below 55536 whose cluster-bus port (+10000) is free too.
fn free_node_port(taken: &[u16]) -> Result<u16> {
    let free = |port: u16| std::net::TcpListener::bind(("127.0.0.1", port)).is_ok();
    for _ in 0..1000 {
        let port = crate::system::free_port()?;
        // Fold the kernel's ephemeral range into 20000..45535 so that port + 10000 fits.
        let port = 20_000 + (port % 25_536);
        if !taken.contains(&port) && free(port) && free(port + 10_000) {
            return Ok(port);
        }
    }
    bail!("no free pair of ports for a cluster node")
}

impl LocalCluster {
    pub fn start() -> Result<LocalCluster> {
        let dir = std::env::temp_dir().join(format!(
            "portico-bench-cluster-{}",
            hex(&random_bytes::<4>())
        ));
        let mut ports = Vec::new();
        let mut nodes = Vec::new();
        for _ in 0..6 {
            let port = free_node_port(&ports)?;
            let node_dir = dir.join(port.to_string());
            std::fs::create_dir_all(&node_dir)?;
            let child = Command::new("redis-server")
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .args([
                    "--cluster-enabled",
                    "yes",
                    "--cluster-config-file",
                    "nodes.conf",
                ])
                .args(["--cluster-node-timeout", "5000"])
                .args(["--save", "", "--appendonly", "no"])
                .current_dir(&node_dir)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .context("starting redis-server (Debian package redis-server)")?;
            nodes.push(ChildGuard {
                child,
                name: "redis-server (cluster node)",
            });
            ports.push(port);
        }
        let cluster = LocalCluster {
            ports,
            dir,
            _nodes: nodes,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        for port in &cluster.ports {
            while std::net::TcpStream::connect(("127.0.0.1", *port)).is_err() {
                if Instant::now() > deadline {
                    bail!("cluster node on port {port} did not listen");
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        let created = Command::new("redis-cli")
            .args(["--cluster", "create"])
            .args(cluster.ports.iter().map(|p| format!("127.0.0.1:{p}")))
            .args(["--cluster-replicas", "1", "--cluster-yes"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .context("running redis-cli --cluster create (Debian package redis-tools)")?;
        if !created.success() {
            bail!("redis-cli --cluster create failed: {created}");
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        for port in &cluster.ports {
            loop {
                let info: Option<String> = redis::Client::open(format!("redis://127.0.0.1:{port}"))
                    .and_then(|c| c.get_connection())
                    .and_then(|mut c| redis::cmd("CLUSTER").arg("INFO").query(&mut c))
                    .ok();
                if info.is_some_and(|i| i.contains("cluster_state:ok")) {
                    break;
                }
                if Instant::now() > deadline {
                    bail!("the cluster is not ok after 30 s (node {port})");
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        Ok(cluster)
    }

    /// Every node's URL (`REDIS_CLUSTER_NODES` takes them all).
    pub fn nodes(&self) -> Vec<String> {
        self.ports
            .iter()
            .map(|p| format!("redis://127.0.0.1:{p}"))
            .collect()
    }
}

impl Drop for LocalCluster {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
