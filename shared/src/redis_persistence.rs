//! Whether Redis keeps its data across a restart. The mail queue, sessions and sign-in links
//! live only in Redis: a server with neither an append-only file (AOF) nor RDB snapshots comes
//! back empty after a restart, and every queued mail is silently gone. The gateway and the
//! mailer read the server's settings once at start ([`read`]), say what they found in the log
//! ([`Persistence::log`]) and export it as a gauge ([`Persistence::gauge`]).
//!
//! `CONFIG GET` is the source. Managed Redis services often rename or refuse `CONFIG`; then
//! `INFO persistence` still shows whether AOF is on (`aof_enabled`), but not whether snapshots
//! are scheduled, so without AOF the answer is "unknown".

use std::collections::HashMap;

use redis::aio::ConnectionLike;

/// What the server told us about its persistence.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Persistence {
    /// AOF or RDB snapshots (or both) are on; `detail` says which, for the log.
    On { detail: String },
    /// Neither: a restart empties Redis.
    Off,
    /// The settings could not be read (`reason` is the server's or the connection's error).
    Unknown { reason: String },
}

/// Reads the server's persistence settings. Never fails: what cannot be read is
/// [`Persistence::Unknown`]. Generic over the connection, so it serves a single server, a
/// cluster or a sentinel-managed primary alike. On a cluster, `CONFIG GET` is answered by
/// the one node the client routes it to (the `redis` crate picks one at random), and
/// `INFO` by every primary.
pub async fn read<C: ConnectionLike + Send>(conn: &mut C) -> Persistence {
    match read_config(conn).await {
        Ok(persistence) => persistence,
        Err(config_refused) => match aof_enabled_from_info(conn).await {
            Ok(true) => Persistence::On {
                detail: "AOF on (from INFO: CONFIG GET failed, snapshots not known)".into(),
            },
            Ok(false) => Persistence::Unknown {
                reason: format!(
                    "CONFIG GET failed ({config_refused}) and INFO shows AOF off; \
                     RDB snapshots cannot be seen without CONFIG"
                ),
            },
            Err(info_refused) => Persistence::Unknown {
                reason: format!(
                    "CONFIG GET failed ({config_refused}); INFO persistence failed \
                     ({info_refused})"
                ),
            },
        },
    }
}

async fn read_config<C: ConnectionLike + Send>(conn: &mut C) -> redis::RedisResult<Persistence> {
    let appendonly = config_get(conn, "appendonly").await?;
    let save = config_get(conn, "save").await?;
    let aof = appendonly.eq_ignore_ascii_case("yes");
    // `save ""` switches snapshots off; otherwise it lists "seconds changes" pairs.
    let rdb = !save.trim().is_empty();
    let mut parts = Vec::new();
    if aof {
        let fsync = config_get(conn, "appendfsync").await?;
        parts.push(format!("AOF on (appendfsync {fsync})"));
    }
    if rdb {
        parts.push(format!("RDB snapshots on (save {})", save.trim()));
    }
    Ok(if parts.is_empty() {
        Persistence::Off
    } else {
        Persistence::On {
            detail: parts.join(", "),
        }
    })
}

/// One setting's value (`CONFIG GET` answers a name/value map, as pairs on RESP2).
async fn config_get<C: ConnectionLike + Send>(
    conn: &mut C,
    name: &str,
) -> redis::RedisResult<String> {
    let reply: HashMap<String, String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg(name)
        .query_async(conn)
        .await?;
    reply.get(name).cloned().ok_or_else(|| {
        redis::RedisError::from((
            redis::ErrorKind::UnexpectedReturnType,
            "CONFIG GET answered without the setting",
            name.to_string(),
        ))
    })
}

/// Whether `INFO persistence` shows AOF on. A cluster connection asks every primary and
/// answers a map of their replies: AOF counts as on only when each of them says so.
async fn aof_enabled_from_info<C: ConnectionLike + Send>(conn: &mut C) -> redis::RedisResult<bool> {
    let reply: redis::Value = redis::cmd("INFO")
        .arg("persistence")
        .query_async(conn)
        .await?;
    let mut texts = Vec::new();
    collect_texts(&reply, &mut texts);
    Ok(!texts.is_empty()
        && texts
            .iter()
            .all(|info| info.lines().any(|line| line.trim_end() == "aof_enabled:1")))
}

/// The text of every string in `value`, in maps' values and arrays too.
fn collect_texts(value: &redis::Value, texts: &mut Vec<String>) {
    match value {
        redis::Value::BulkString(bytes) => texts.push(String::from_utf8_lossy(bytes).into_owned()),
        redis::Value::SimpleString(text) | redis::Value::VerbatimString { text, .. } => {
            texts.push(text.clone());
        }
        redis::Value::Array(items) | redis::Value::Set(items) => {
            items.iter().for_each(|item| collect_texts(item, texts));
        }
        redis::Value::Map(pairs) => pairs
            .iter()
            .for_each(|(_, item)| collect_texts(item, texts)),
        _ => {}
    }
}

impl Persistence {
    /// The `redis_persistence` gauge: 1 AOF or RDB on, 0 neither, -1 unknown.
    pub fn gauge(&self) -> i64 {
        match self {
            Persistence::On { .. } => 1,
            Persistence::Off => 0,
            Persistence::Unknown { .. } => -1,
        }
    }

    /// One line in the log: a warning when Redis may come back empty after a restart.
    pub fn log(&self) {
        match self {
            Persistence::On { detail } => {
                tracing::info!(persistence = %detail, "Redis persistence on");
            }
            Persistence::Off => tracing::warn!(
                "Redis has neither AOF nor RDB snapshots on: mail jobs queued in Redis are lost \
                 if it restarts, and so are sessions and sign-in links; turn AOF on \
                 (appendonly yes, appendfsync everysec), see the README's \
                 \"Durability and backups\""
            ),
            Persistence::Unknown { reason } => tracing::warn!(
                %reason,
                "could not determine whether Redis persists its data: make sure AOF or RDB \
                 snapshots are on, since without them a restart of Redis drops every queued \
                 mail job"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::collect_texts;
    use redis::Value;

    #[test]
    fn info_texts_are_found_in_one_reply_and_in_a_cluster_map_of_replies() {
        let one = Value::BulkString(b"# Persistence\r\naof_enabled:1\r\n".to_vec());
        let mut texts = Vec::new();
        collect_texts(&one, &mut texts);
        assert_eq!(texts, ["# Persistence\r\naof_enabled:1\r\n"]);
        let map = Value::Map(vec![
            (Value::SimpleString("10.0.0.1:7000".into()), one),
            (
                Value::SimpleString("10.0.0.2:7000".into()),
                Value::BulkString(b"aof_enabled:0\r\n".to_vec()),
            ),
        ]);
        let mut texts = Vec::new();
        collect_texts(&map, &mut texts);
        assert_eq!(texts.len(), 2);
        assert_eq!(texts[1], "aof_enabled:0\r\n");
    }
}
