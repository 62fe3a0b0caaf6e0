//! Portico on a Redis Cluster and on Redis with Sentinel (issue 17): the harness's own set-ups
//! (tests/src/redis_topology.rs), sign-in end to end through gateway and mailer, keys spread
//! over every primary, controlled and hard failovers, and the configuration's refusals.

use std::time::Duration;

use portico_e2e::redis_topology::{RedisCluster, RedisSentinelSet, ask, role};
use redis::Role;

#[tokio::test]
async fn the_cluster_harness_fails_over_and_restarts_nodes() {
    let mut cluster = RedisCluster::start().await;
    let primaries = cluster.primaries().await;
    assert_eq!(primaries.len(), 3, "{primaries:?}");
    let ranges = cluster.slot_ranges().await;
    let covered: u32 = ranges.iter().map(|(a, b, _)| u32::from(b - a) + 1).sum();
    assert_eq!(covered, 16_384);

    // A controlled failover swaps the roles.
    let old = primaries[0];
    let new = cluster.controlled_failover(old).await;
    assert!(matches!(role(new).await, Some(Role::Primary { .. })));
    assert_eq!(cluster.replica_of(new).await, Some(old));

    // A killed primary's replica takes over; the killed node comes back as its replica.
    let replica = cluster.kill_primary(new).await;
    cluster.wait_promoted(replica).await;
    cluster.restart(new).await;
    assert_eq!(cluster.replica_of(replica).await, Some(new));
    assert_eq!(cluster.primaries().await.len(), 3);
}

#[tokio::test]
async fn the_sentinel_harness_fails_over() {
    let mut set = RedisSentinelSet::start().await;
    let master = set.master().await;
    let _: () = ask(master, redis::cmd("SET").arg("k").arg("v"))
        .await
        .unwrap();
    let new = set.failover().await;
    assert_ne!(new, master);
    let value: String = ask(new, redis::cmd("GET").arg("k")).await.unwrap();
    assert_eq!(value, "v", "a controlled failover keeps what was written");

    let killed = set.kill_master().await;
    assert_eq!(killed, new);
    let promoted = set.wait_new_master(killed).await;
    assert_ne!(promoted, killed);
    set.restart(killed).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
}
