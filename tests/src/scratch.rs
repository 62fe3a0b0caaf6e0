//! What a test makes outside its own process: a database (a SQLite folder, or a PostgreSQL
//! database `portico_t_…`), a data folder and keys under its own Redis prefix. A [`Scratch`]
//! owns them and takes them away again: at the end of a test with [`Scratch::remove`], or else
//! when it is dropped, which also happens while a failing test unwinds, so a panic leaves
//! nothing behind.
//!
//! `Drop` cannot await, and a test runtime refuses to be blocked from inside (tokio panics with
//! "cannot block the current thread from within a runtime", and a panic during a panic
//! aborts). So a drop does the same work on a short-lived thread of its own with its own small
//! runtime and fresh connections, and waits for it: the test's runtime, and the connections
//! that live on it, may be stopped or unwinding by then.

use std::path::PathBuf;
use std::time::Duration;

use portico_shared::config::Config;

use crate::{backend, postgres_admin_url, redis_url, unique};

/// Bounds a removal: a Redis or PostgreSQL server that has gone away must not hang a test.
const REMOVAL_TIMEOUT: Duration = Duration::from_secs(20);

pub struct Scratch {
    /// The database this scratch created; removed whatever the test pointed its gateway at.
    database_url: String,
    data_dir: PathBuf,
    /// The single Redis server the keys are on; `None` when the gateway was pointed at a
    /// cluster or a sentinel set, which its test tears down whole.
    redis_url: Option<String>,
    redis_prefix: String,
    /// Set once [`Scratch::remove`] has done the work, so that the drop after it does nothing.
    removed: bool,
}

impl Scratch {
    /// A fresh, empty database of the backend under test, and unique names for a data folder
    /// and a Redis prefix on the test Redis (made by whoever first writes there).
    pub async fn new() -> Scratch {
        Scratch {
            database_url: create_database().await,
            data_dir: std::env::temp_dir().join(unique("portico-data-")),
            redis_url: Some(redis_url()),
            redis_prefix: format!("{}:", unique("t")),
            removed: false,
        }
    }

    pub fn database_url(&self) -> &str {
        &self.database_url
    }

    pub fn data_dir(&self) -> &std::path::Path {
        &self.data_dir
    }

    pub fn redis_prefix(&self) -> &str {
        &self.redis_prefix
    }

    /// Follows a configuration that moved the data folder or Redis elsewhere (a test's own
    /// Redis server, say): what is removed is what the gateway wrote to.
    pub fn follow(&mut self, config: &Config) {
        self.data_dir = config.data_dir.clone();
        self.redis_url = match &config.redis {
            portico_shared::config::RedisTopology::Single(url) => Some(url.clone()),
            _ => None,
        };
        self.redis_prefix = config.redis_prefix.clone();
    }

    /// Removes the Redis keys under the prefix, the data folder and the database.
    pub async fn remove(mut self) {
        remove(
            &self.database_url,
            &self.data_dir,
            self.redis_url.as_deref(),
            &self.redis_prefix,
        )
        .await;
        self.removed = true;
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if self.removed {
            return;
        }
        let database_url = self.database_url.clone();
        let data_dir = self.data_dir.clone();
        let redis_url = self.redis_url.clone();
        let redis_prefix = self.redis_prefix.clone();
        // Whatever fails here is ignored: a drop must not panic, least of all while unwinding.
        let _ = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(remove(
                &database_url,
                &data_dir,
                redis_url.as_deref(),
                &redis_prefix,
            ));
        })
        .join();
    }
}

/// A fresh, empty database of the backend under test; returns its URL.
async fn create_database() -> String {
    if backend() == "postgres" {
        use sqlx::Connection;
        let name = unique("portico_t_");
        let mut admin = sqlx::PgConnection::connect(&postgres_admin_url())
            .await
            .expect("PostgreSQL is reachable (PORTICO_TEST_PG_URL)");
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .await
            .expect("create test database");
        let base = postgres_admin_url();
        let (server, _) = base.rsplit_once('/').expect("database URL has a path");
        format!("{server}/{name}")
    } else {
        let dir = std::env::temp_dir().join(unique("portico-test-"));
        std::fs::create_dir_all(&dir).expect("temp dir");
        format!("sqlite://{}/portico.db", dir.display())
    }
}

async fn remove(
    database_url: &str,
    data_dir: &std::path::Path,
    redis_url: Option<&str>,
    prefix: &str,
) {
    if let Some(redis_url) = redis_url {
        let _ = tokio::time::timeout(REMOVAL_TIMEOUT, forget_redis_keys(redis_url, prefix)).await;
    }
    let _ = std::fs::remove_dir_all(data_dir);
    let _ = tokio::time::timeout(REMOVAL_TIMEOUT, drop_database(database_url)).await;
}

/// Deletes every key under `prefix` (links and sessions would otherwise linger for their TTL,
/// streams for ever).
async fn forget_redis_keys(redis_url: &str, prefix: &str) {
    let Ok(client) = redis::Client::open(redis_url) else {
        return;
    };
    let Ok(mut redis) = client.get_multiplexed_async_connection().await else {
        return;
    };
    let mut cursor: u64 = 0;
    loop {
        let reply: redis::RedisResult<(u64, Vec<String>)> = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(format!("{prefix}*"))
            .arg("COUNT")
            .arg(1000)
            .query_async(&mut redis)
            .await;
        let Ok((next, keys)) = reply else { return };
        if !keys.is_empty() {
            let _: redis::RedisResult<()> =
                redis::cmd("DEL").arg(&keys).query_async(&mut redis).await;
        }
        if next == 0 {
            return;
        }
        cursor = next;
    }
}

/// Removes a database made by [`create_database`]: the SQLite folder, or the PostgreSQL
/// database (`WITH (FORCE)`: a gateway dropped mid-test may still hold connections).
async fn drop_database(url: &str) {
    if let Some(path) = url.strip_prefix("sqlite://") {
        if let Some(dir) = std::path::Path::new(path).parent() {
            let _ = std::fs::remove_dir_all(dir);
        }
    } else if let Some((_, name)) = url.rsplit_once('/') {
        use sqlx::Connection;
        if let Ok(mut admin) = sqlx::PgConnection::connect(&postgres_admin_url()).await {
            let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .execute(&mut admin)
                .await;
        }
    }
}
