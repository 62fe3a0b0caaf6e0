//! How much work a phase asked of Redis, counted on its side: the commands each server
//! executed (`INFO commandstats`, commands run inside scripts included). Printed per request
//! beside a bare twin's, they show whether two servers did the same work.

use std::collections::BTreeMap;

use portico_shared::redis_conn::RedisConn;

/// Calls per Redis command, summed over servers.
#[derive(Clone, Debug, Default)]
pub struct RedisCommands(pub BTreeMap<String, u64>);

/// Not the work of the server under test: the benchmark's own questions, and a replica's
/// acknowledgements to its primary (`REPLCONF ACK`, once a second), which count as commands
/// on a cluster's primaries.
const OWN_COMMANDS: [&str; 3] = ["info", "ping", "replconf"];

impl RedisCommands {
    /// Calls so far on each of `servers`, summed.
    pub async fn snap(servers: &mut [RedisConn]) -> redis::RedisResult<RedisCommands> {
        let mut calls = BTreeMap::new();
        for server in servers {
            let info: String = redis::cmd("INFO")
                .arg("commandstats")
                .query_async(server)
                .await?;
            for (name, count) in info.lines().filter_map(command_calls) {
                *calls.entry(name).or_insert(0) += count;
            }
        }
        Ok(RedisCommands(calls))
    }

    /// The calls made since `before`, leaving out the benchmark's own (`INFO`, `PING`) and
    /// those named in `also_left_out`.
    pub fn since(&self, before: &RedisCommands, also_left_out: &[&str]) -> RedisCommands {
        RedisCommands(
            self.0
                .iter()
                .map(|(name, n)| (name.clone(), n - before.0.get(name).copied().unwrap_or(0)))
                .filter(|(name, n)| {
                    *n > 0
                        && !OWN_COMMANDS.contains(&name.as_str())
                        && !also_left_out.contains(&name.as_str())
                })
                .collect(),
        )
    }

    /// Adds `other`'s calls to these.
    pub fn add(&mut self, other: &RedisCommands) {
        for (name, n) in &other.0 {
            *self.0.entry(name.clone()).or_insert(0) += n;
        }
    }

    pub fn total(&self) -> u64 {
        self.0.values().sum()
    }

    /// `evalsha 1.00, hset 1.00, …`: calls per request of each command.
    pub fn per_request(&self, requests: usize) -> String {
        let requests = requests.max(1) as f64;
        self.0
            .iter()
            .map(|(name, n)| format!("{name} {:.2}", *n as f64 / requests))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The read events the servers have processed so far (`INFO stats`,
/// `total_reads_processed`), summed: each is one wake-up that read what a client had sent,
/// one command or many pipelined together. Commands per read tell how well the clients'
/// commands travel together; the fewer, the more CPU Redis spends per command.
pub async fn redis_reads(servers: &mut [RedisConn]) -> redis::RedisResult<u64> {
    let mut reads = 0;
    for server in servers {
        let info: String = redis::cmd("INFO").arg("stats").query_async(server).await?;
        reads += info
            .lines()
            .find_map(|line| line.strip_prefix("total_reads_processed:"))
            .and_then(|n| n.trim().parse::<u64>().ok())
            .unwrap_or(0);
    }
    Ok(reads)
}

/// `cmdstat_hset:calls=12,usec=…` → (`hset`, 12).
fn command_calls(line: &str) -> Option<(String, u64)> {
    let (name, stats) = line.strip_prefix("cmdstat_")?.split_once(':')?;
    let calls = stats
        .split(',')
        .find_map(|field| field.strip_prefix("calls="))?
        .parse()
        .ok()?;
    Some((name.to_string(), calls))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commandstats_lines_parse() {
        assert_eq!(
            command_calls("cmdstat_evalsha:calls=7,usec=70,usec_per_call=10.00,rejected_calls=0"),
            Some(("evalsha".to_string(), 7))
        );
        assert_eq!(command_calls("# Commandstats"), None);
    }
}
