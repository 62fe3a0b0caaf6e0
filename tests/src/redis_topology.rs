//! Highly available Redis set-ups of a test's own, started from Debian's `redis-server` (and
//! `redis-sentinel`, or `redis-server --sentinel` where only that exists) on loopback ports:
//!
//! - [`RedisCluster::start`]: six `redis-server` processes in cluster mode, joined with
//!   `redis-cli --cluster create … --cluster-replicas 1` into three primaries with a replica
//!   each. Give the gateway [`RedisCluster::nodes_var`] as `REDIS_CLUSTER_NODES`.
//! - [`RedisSentinelSet::start`]: one master, two replicas and three sentinels watching it
//!   under [`RedisSentinelSet::service`]. Give the gateway [`RedisSentinelSet::sentinels_var`]
//!   as `REDIS_SENTINELS` and the service as `REDIS_SENTINEL_SERVICE`.
//!
//! Both are torn down (processes killed, folders removed) when dropped. Nodes are named by
//! their port. The failure helpers wait until the topology has settled again (roles swapped,
//! a replica promoted), so a test can go on right after them. Timeouts are short (cluster node
//! timeout 2 s, sentinel down-after 1 s) so that failovers take seconds.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use redis::{AsyncConnectionConfig, FromRedisValue, Role};

use crate::unique;

/// How long the helpers wait for a topology to settle before they panic.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(60);

/// The URL of a node on loopback.
pub fn node_url(port: u16) -> String {
    format!("redis://127.0.0.1:{port}")
}

/// Sends one command to the server on `port` over a fresh connection (short timeouts).
pub async fn ask<T: FromRedisValue>(port: u16, command: &redis::Cmd) -> redis::RedisResult<T> {
    let client = redis::Client::open(node_url(port))?;
    let config = AsyncConnectionConfig::new()
        .set_connection_timeout(Some(Duration::from_secs(1)))
        .set_response_timeout(Some(Duration::from_secs(3)));
    let mut conn = client
        .get_multiplexed_async_connection_with_config(&config)
        .await?;
    command.query_async(&mut conn).await
}

/// The replication role of the server on `port`, if it answers.
pub async fn role(port: u16) -> Option<Role> {
    ask(port, &redis::cmd("ROLE")).await.ok()
}

async fn wait_until<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + SETTLE_TIMEOUT;
    while !check().await {
        assert!(
            Instant::now() < deadline,
            "Redis topology: timed out waiting until {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn port_is_free(port: u16) -> bool {
    std::net::TcpListener::bind(("127.0.0.1", port)).is_ok()
}

/// A random port below 55536 that is free, and whose cluster-bus port (+10000) is free too.
fn free_node_port() -> u16 {
    loop {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port");
        // The kernel's ephemeral range is usually above 32768; fold into 20000..45535 so that
        // port + 10000 stays below 65536.
        let port = 20_000 + (port % 25_536);
        if port_is_free(port) && port_is_free(port + 10_000) {
            return port;
        }
    }
}

/// One `redis-server` (or sentinel) process, restartable on the same port and folder.
struct Node {
    port: u16,
    dir: PathBuf,
    /// The program and its arguments (the port and folder are in them).
    program: String,
    args: Vec<String>,
    child: Option<Child>,
}

impl Node {
    fn new(port: u16, dir: PathBuf, program: &str, args: Vec<String>) -> Node {
        std::fs::create_dir_all(&dir).expect("a node folder");
        Node {
            port,
            dir,
            program: program.to_string(),
            args,
            child: None,
        }
    }

    /// Starts the process and waits until it accepts connections; false if it exited first
    /// (its port was taken meanwhile, say).
    async fn start(&mut self) -> bool {
        let log = std::fs::File::create(self.dir.join("stdout.log")).expect("a log file");
        let child = Command::new(&self.program)
            .args(&self.args)
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "{} could not start ({e}); ./dev test installs redis-server and redis-sentinel",
                    self.program
                )
            });
        self.child = Some(child);
        for _ in 0..200 {
            if let Some(child) = self.child.as_mut()
                && matches!(child.try_wait(), Ok(Some(_)))
            {
                self.child = None;
                return false;
            }
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        false
    }

    /// SIGKILL, as a crash would.
    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn is_running(&self) -> bool {
        self.child.is_some()
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A folder under the system's temporary folder, removed when dropped.
struct TempRoot(PathBuf);

impl TempRoot {
    fn new(label: &str) -> TempRoot {
        let path = std::env::temp_dir().join(unique(&format!("portico-{label}-")));
        std::fs::create_dir_all(&path).expect("a temporary folder");
        TempRoot(path)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempRoot {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Starts `make(port)` on a fresh port, trying a few ports in case one is taken between the
/// check and the start.
async fn start_node(root: &Path, make: impl Fn(u16, PathBuf) -> Node) -> Node {
    for _ in 0..10 {
        let port = free_node_port();
        let mut node = make(port, root.join(port.to_string()));
        if node.start().await {
            return node;
        }
    }
    panic!("no Redis node could start in {}", root.display());
}

/// A Redis Cluster of three primaries with one replica each, on loopback.
pub struct RedisCluster {
    nodes: BTreeMap<u16, Node>,
    /// Last: the folders go after the processes.
    _root: TempRoot,
}

impl RedisCluster {
    pub async fn start() -> RedisCluster {
        let root = TempRoot::new("cluster");
        let mut nodes = BTreeMap::new();
        for _ in 0..6 {
            let node = start_node(root.path(), |port, dir| {
                let args = [
                    "--port",
                    &port.to_string(),
                    "--bind",
                    "127.0.0.1",
                    "--dir",
                    &dir.display().to_string(),
                    "--cluster-enabled",
                    "yes",
                    "--cluster-config-file",
                    "nodes.conf",
                    "--cluster-node-timeout",
                    "2000",
                    // A replica may always take over, however long its link was down.
                    "--cluster-replica-validity-factor",
                    "0",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--logfile",
                    "redis.log",
                ]
                .map(String::from)
                .to_vec();
                Node::new(port, dir, "redis-server", args)
            })
            .await;
            nodes.insert(node.port, node);
        }
        let cluster = RedisCluster { nodes, _root: root };
        let addresses: Vec<String> = cluster
            .nodes
            .keys()
            .map(|p| format!("127.0.0.1:{p}"))
            .collect();
        let created = Command::new("redis-cli")
            .args(["--cluster", "create"])
            .args(&addresses)
            .args(["--cluster-replicas", "1", "--cluster-yes"])
            .stdin(Stdio::null())
            .output()
            .expect("redis-cli runs (./dev test installs redis-server, which brings it)");
        assert!(
            created.status.success(),
            "redis-cli --cluster create failed: {}{}",
            String::from_utf8_lossy(&created.stdout),
            String::from_utf8_lossy(&created.stderr)
        );
        cluster.wait_settled().await;
        cluster
    }

    /// Every node's URL, in the form `REDIS_CLUSTER_NODES` takes.
    pub fn seed_urls(&self) -> Vec<String> {
        self.nodes.keys().map(|p| node_url(*p)).collect()
    }

    /// The value for `REDIS_CLUSTER_NODES`: the seed URLs, comma-separated.
    pub fn nodes_var(&self) -> String {
        self.seed_urls().join(",")
    }

    /// Every node's port, primaries and replicas.
    pub fn ports(&self) -> Vec<u16> {
        self.nodes.keys().copied().collect()
    }

    /// The ports of the running nodes that are primaries now, in port order.
    pub async fn primaries(&self) -> Vec<u16> {
        let mut primaries = Vec::new();
        for (port, node) in &self.nodes {
            if node.is_running() && matches!(role(*port).await, Some(Role::Primary { .. })) {
                primaries.push(*port);
            }
        }
        primaries
    }

    /// The port of a running replica of `primary`.
    pub async fn replica_of(&self, primary: u16) -> Option<u16> {
        for (port, node) in &self.nodes {
            if !node.is_running() || *port == primary {
                continue;
            }
            if let Some(Role::Replica { primary_port, .. }) = role(*port).await
                && primary_port == primary
            {
                return Some(*port);
            }
        }
        None
    }

    /// Which primary serves which slots: (first slot, last slot, primary's port), from
    /// `CLUSTER SLOTS` as one running node sees it.
    pub async fn slot_ranges(&self) -> Vec<(u16, u16, u16)> {
        for (port, node) in &self.nodes {
            if !node.is_running() {
                continue;
            }
            let slots: redis::RedisResult<Vec<redis::Value>> =
                ask(*port, redis::cmd("CLUSTER").arg("SLOTS")).await;
            if let Ok(slots) = slots {
                return slots.iter().filter_map(parse_slot_range).collect();
            }
        }
        panic!("no cluster node answered CLUSTER SLOTS");
    }

    /// `CLUSTER FAILOVER` on a replica of `primary`, then waits until the roles have swapped
    /// and the cluster is whole again; returns the new primary. Nothing acknowledged is lost
    /// (the replica catches up before it takes over).
    pub async fn controlled_failover(&self, primary: u16) -> u16 {
        let replica = self
            .replica_of(primary)
            .await
            .unwrap_or_else(|| panic!("{primary} has no replica"));
        let _: () = ask(replica, redis::cmd("CLUSTER").arg("FAILOVER"))
            .await
            .expect("CLUSTER FAILOVER");
        wait_until("the replica is the primary", || async move {
            matches!(role(replica).await, Some(Role::Primary { .. }))
                && matches!(role(primary).await,
                    Some(Role::Replica { primary_port, .. }) if primary_port == replica)
        })
        .await;
        self.wait_settled().await;
        replica
    }

    /// SIGKILLs the primary on `primary` (it stays down until [`restart`](Self::restart)),
    /// and returns at once: the cluster needs its node timeout (2 s) and an election before
    /// the replica takes over; see [`wait_promoted`](Self::wait_promoted).
    pub async fn kill_primary(&mut self, primary: u16) -> u16 {
        let replica = self
            .replica_of(primary)
            .await
            .unwrap_or_else(|| panic!("{primary} has no replica"));
        self.kill(primary);
        replica
    }

    /// Waits until `replica` has been promoted and every slot is served again.
    pub async fn wait_promoted(&self, replica: u16) {
        wait_until("the replica is promoted", || async move {
            matches!(role(replica).await, Some(Role::Primary { .. }))
        })
        .await;
        self.wait_state_ok().await;
    }

    /// SIGKILLs a node, primary or replica.
    pub fn kill(&mut self, port: u16) {
        self.nodes
            .get_mut(&port)
            .expect("a node of this cluster")
            .kill();
    }

    /// Starts a killed node again on its port and folder (its `nodes.conf` makes it rejoin;
    /// a former primary comes back as a replica of whoever took over), and waits until the
    /// cluster is whole.
    pub async fn restart(&mut self, port: u16) {
        let node = self.nodes.get_mut(&port).expect("a node of this cluster");
        assert!(node.start().await, "node {port} did not restart");
        self.wait_settled().await;
    }

    /// Every running node says `cluster_state:ok`.
    async fn wait_state_ok(&self) {
        let running: Vec<u16> = self.running();
        wait_until("every node says cluster_state:ok", || {
            let running = running.clone();
            async move {
                for port in running {
                    let info: redis::RedisResult<String> =
                        ask(port, redis::cmd("CLUSTER").arg("INFO")).await;
                    if !info.is_ok_and(|i| i.contains("cluster_state:ok")) {
                        return false;
                    }
                }
                true
            }
        })
        .await;
    }

    /// The cluster is ok everywhere, and each running replica is in sync with its primary
    /// (so that a failover can follow at once).
    async fn wait_settled(&self) {
        self.wait_state_ok().await;
        let running = self.running();
        wait_until("every replica is in sync", || {
            let running = running.clone();
            async move {
                let mut primaries = 0;
                for port in running {
                    match role(port).await {
                        Some(Role::Primary { .. }) => primaries += 1,
                        Some(Role::Replica {
                            replication_state, ..
                        }) if replication_state == "connected" => {}
                        _ => return false,
                    }
                }
                primaries == 3
            }
        })
        .await;
    }

    fn running(&self) -> Vec<u16> {
        self.nodes
            .iter()
            .filter(|(_, n)| n.is_running())
            .map(|(p, _)| *p)
            .collect()
    }
}

/// One entry of `CLUSTER SLOTS`: `[start, end, [ip, port, id, …], replicas…]`.
fn parse_slot_range(entry: &redis::Value) -> Option<(u16, u16, u16)> {
    let redis::Value::Array(parts) = entry else {
        return None;
    };
    let number = |v: &redis::Value| match v {
        redis::Value::Int(n) => u16::try_from(*n).ok(),
        _ => None,
    };
    let start = number(parts.first()?)?;
    let end = number(parts.get(1)?)?;
    let redis::Value::Array(primary) = parts.get(2)? else {
        return None;
    };
    let port = number(primary.get(1)?)?;
    Some((start, end, port))
}

/// The hash slot of a key, as Redis Cluster computes it (CRC16 of the key, or of its
/// `{tag}`, mod 16384).
pub fn key_slot(key: &str) -> u16 {
    let bytes = key.as_bytes();
    let hashed = match bytes.iter().position(|b| *b == b'{') {
        Some(open) => match bytes[open + 1..].iter().position(|b| *b == b'}') {
            Some(len) if len > 0 => &bytes[open + 1..open + 1 + len],
            _ => bytes,
        },
        None => bytes,
    };
    crc16_xmodem(hashed) % 16_384
}

fn crc16_xmodem(data: &[u8]) -> u16 {
    let mut crc: u16 = 0;
    for byte in data {
        crc ^= u16::from(*byte) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    crc
}

/// The program that runs a sentinel: Debian's `redis-sentinel`, or `redis-server --sentinel`.
fn sentinel_program() -> (&'static str, Vec<String>) {
    let found = std::env::var_os("PATH").is_some_and(|path| {
        std::env::split_paths(&path).any(|dir| dir.join("redis-sentinel").is_file())
    });
    if found {
        ("redis-sentinel", Vec::new())
    } else {
        ("redis-server", Vec::new())
    }
}

/// One master with two replicas, watched by three sentinels, on loopback.
pub struct RedisSentinelSet {
    service: String,
    /// Data nodes (master and replicas), by port.
    servers: BTreeMap<u16, Node>,
    sentinels: Vec<Node>,
    _root: TempRoot,
}

impl RedisSentinelSet {
    pub async fn start() -> RedisSentinelSet {
        let root = TempRoot::new("sentinel");
        let service = "portico-test".to_string();
        let server_args = |port: u16, dir: &Path, master: Option<u16>| {
            let mut args = [
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--dir",
                &dir.display().to_string(),
                "--save",
                "",
                "--appendonly",
                "no",
                "--logfile",
                "redis.log",
            ]
            .map(String::from)
            .to_vec();
            if let Some(master) = master {
                args.extend(["--replicaof", "127.0.0.1", &master.to_string()].map(String::from));
            }
            args
        };
        let master = start_node(root.path(), |port, dir| {
            let args = server_args(port, &dir, None);
            Node::new(port, dir, "redis-server", args)
        })
        .await;
        let master_port = master.port;
        let mut servers = BTreeMap::from([(master_port, master)]);
        for _ in 0..2 {
            let replica = start_node(root.path(), |port, dir| {
                let args = server_args(port, &dir, Some(master_port));
                Node::new(port, dir, "redis-server", args)
            })
            .await;
            servers.insert(replica.port, replica);
        }
        let (program, _) = sentinel_program();
        let mut sentinels = Vec::new();
        for _ in 0..3 {
            let sentinel = start_node(root.path(), |port, dir| {
                std::fs::create_dir_all(&dir).expect("a sentinel folder");
                let conf = dir.join("sentinel.conf");
                std::fs::write(
                    &conf,
                    format!(
                        "port {port}\nbind 127.0.0.1\ndir {dir}\nlogfile sentinel.log\n\
                         sentinel monitor {service} 127.0.0.1 {master_port} 2\n\
                         sentinel down-after-milliseconds {service} 1000\n\
                         sentinel failover-timeout {service} 10000\n\
                         sentinel parallel-syncs {service} 2\n",
                        dir = dir.display()
                    ),
                )
                .expect("a sentinel configuration");
                let mut args = vec![conf.display().to_string()];
                if program == "redis-server" {
                    args.push("--sentinel".into());
                }
                Node::new(port, dir, program, args)
            })
            .await;
            sentinels.push(sentinel);
        }
        let set = RedisSentinelSet {
            service,
            servers,
            sentinels,
            _root: root,
        };
        set.wait_settled(master_port).await;
        set
    }

    /// The master's name the sentinels know it by (`REDIS_SENTINEL_SERVICE`).
    pub fn service(&self) -> &str {
        &self.service
    }

    /// The sentinels as `host:port`.
    pub fn sentinel_addrs(&self) -> Vec<String> {
        self.sentinels
            .iter()
            .map(|s| format!("127.0.0.1:{}", s.port))
            .collect()
    }

    /// The value for `REDIS_SENTINELS`: the sentinels, comma-separated.
    pub fn sentinels_var(&self) -> String {
        self.sentinel_addrs().join(",")
    }

    /// The data nodes' ports (master and replicas).
    pub fn server_ports(&self) -> Vec<u16> {
        self.servers.keys().copied().collect()
    }

    /// The master's port, as the first sentinel that answers names it.
    pub async fn master(&self) -> u16 {
        for sentinel in &self.sentinels {
            if let Some(port) = self.master_by(sentinel.port).await {
                return port;
            }
        }
        panic!("no sentinel named a master");
    }

    async fn master_by(&self, sentinel: u16) -> Option<u16> {
        let addr: Option<(String, u16)> = ask(
            sentinel,
            redis::cmd("SENTINEL")
                .arg("GET-MASTER-ADDR-BY-NAME")
                .arg(&self.service),
        )
        .await
        .ok()?;
        addr.map(|(_, port)| port)
    }

    /// `SENTINEL FAILOVER`: a replica is promoted while the old master still takes writes,
    /// until the sentinels turn it into a replica (what it took meanwhile is dropped). Waits
    /// until every sentinel names the new master, it says it is the master, and the others
    /// replicate from it; returns its port.
    pub async fn failover(&self) -> u16 {
        let old = self.master().await;
        let sentinel = self.sentinels[0].port;
        let service = self.service.clone();
        // Refused (NOGOODSLAVE, INPROG) while the sentinels still gather the replicas.
        wait_until("SENTINEL FAILOVER is accepted", || {
            let failover = redis::cmd("SENTINEL").arg("FAILOVER").arg(&service).clone();
            async move { ask::<()>(sentinel, &failover).await.is_ok() }
        })
        .await;
        let new = self.wait_new_master(old).await;
        self.wait_settled(new).await;
        new
    }

    /// SIGKILLs the master; returns its port. The sentinels notice after 1 s and promote a
    /// replica (see [`wait_new_master`](Self::wait_new_master)).
    pub async fn kill_master(&mut self) -> u16 {
        let master = self.master().await;
        self.servers
            .get_mut(&master)
            .expect("the master is one of ours")
            .kill();
        master
    }

    /// SIGKILLs one replica of the master; returns its port.
    pub async fn kill_replica(&mut self) -> u16 {
        let master = self.master().await;
        let (port, node) = self
            .servers
            .iter_mut()
            .find(|(port, node)| **port != master && node.is_running())
            .expect("a running replica");
        node.kill();
        *port
    }

    /// Waits until every sentinel names a master other than `old` and that server says it is
    /// the master; returns its port.
    pub async fn wait_new_master(&self, old: u16) -> u16 {
        let deadline = Instant::now() + SETTLE_TIMEOUT;
        loop {
            let mut named = Vec::new();
            for sentinel in &self.sentinels {
                named.push(self.master_by(sentinel.port).await);
            }
            if let Some(port) = named.first().copied().flatten()
                && port != old
                && named.iter().all(|n| *n == Some(port))
                && matches!(role(port).await, Some(Role::Primary { .. }))
            {
                return port;
            }
            assert!(
                Instant::now() < deadline,
                "Redis topology: timed out waiting for the sentinels to name a new master"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Starts a killed data node again (the sentinels turn a former master into a replica of
    /// the new one).
    pub async fn restart(&mut self, port: u16) {
        let node = self.servers.get_mut(&port).expect("a node of this set");
        assert!(node.start().await, "node {port} did not restart");
    }

    /// The sentinels know each other and the master's running replicas, and those replicas
    /// are in sync: a failover can follow at once.
    async fn wait_settled(&self, master: u16) {
        let replicas: &[u16] = &self
            .servers
            .iter()
            .filter(|(p, n)| n.is_running() && **p != master)
            .map(|(p, _)| *p)
            .collect::<Vec<u16>>();
        wait_until("the sentinel set is settled", || async move {
            for sentinel in &self.sentinels {
                let info: redis::RedisResult<HashMap<String, String>> = ask(
                    sentinel.port,
                    redis::cmd("SENTINEL").arg("MASTER").arg(&self.service),
                )
                .await;
                let Ok(info) = info else { return false };
                let field = |name: &str| info.get(name).cloned().unwrap_or_default();
                if field("port") != master.to_string()
                    || field("num-other-sentinels") != (self.sentinels.len() - 1).to_string()
                    || field("flags") != "master"
                {
                    return false;
                }
                let known: redis::RedisResult<Vec<HashMap<String, String>>> = ask(
                    sentinel.port,
                    redis::cmd("SENTINEL").arg("REPLICAS").arg(&self.service),
                )
                .await;
                let Ok(known) = known else { return false };
                for replica in replicas {
                    let listed = known.iter().any(|r| {
                        r.get("port") == Some(&replica.to_string())
                            && r.get("flags").is_some_and(|f| f == "slave")
                            && r.get("master-link-status").is_some_and(|s| s == "ok")
                    });
                    if !listed {
                        return false;
                    }
                }
            }
            for replica in replicas {
                let in_sync = matches!(role(*replica).await,
                    Some(Role::Replica { primary_port, replication_state, .. })
                        if primary_port == master && replication_state == "connected");
                if !in_sync {
                    return false;
                }
            }
            true
        })
        .await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_slots_follow_the_hash_tag() {
        // Values from the Redis Cluster specification's examples and `CLUSTER KEYSLOT`.
        assert_eq!(key_slot("123456789"), 12_739);
        assert_eq!(key_slot("{user1000}.following"), key_slot("user1000"));
        assert_ne!(key_slot("foo{}{bar}"), key_slot("bar"));
    }
}
