//! For tests of one migration on data an older schema held: the migration files of the
//! backend under test, and seed ids named in the SQL by readable stand-ins.

use std::path::PathBuf;

use crate::backend;

/// The migrations folder of the backend under test.
pub fn migrations_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../migrations")
        .join(backend())
}

/// The SQL of every migration up to and including `last`, in order.
pub fn migrations_up_to(last: i64) -> Vec<(i64, String)> {
    let mut files: Vec<(i64, String)> = std::fs::read_dir(migrations_dir())
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter_map(|path| {
            let name = path.file_name()?.to_str()?.to_string();
            let version: i64 = name.split('_').next()?.parse().ok()?;
            Some((version, std::fs::read_to_string(&path).unwrap()))
        })
        .filter(|(version, _)| *version <= last)
        .collect();
    files.sort();
    files
}

/// Real-shaped ids for a seed (the store refuses to read ids of the wrong shape), and the
/// names the test speaks of them by. No name may contain another.
pub struct SeedIds {
    names: Vec<(&'static str, String)>,
}

impl SeedIds {
    pub fn new(names: Vec<(&'static str, String)>) -> SeedIds {
        SeedIds { names }
    }

    /// The id behind `name`, or `name` itself when it names none.
    pub fn get(&self, name: &str) -> String {
        self.names
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, id)| id.clone())
            .unwrap_or_else(|| name.to_string())
    }

    /// `text` with every name replaced by its id.
    pub fn fill(&self, text: &str) -> String {
        self.names
            .iter()
            .fold(text.to_string(), |text, (name, id)| text.replace(name, id))
    }
}

/// Records migrations `..= $last` as applied in `$pool` (either backend's pool), as the
/// migrator would have after running them, then lets the real migrator apply the rest: it must
/// accept the database as the tested migration left it.
#[macro_export]
macro_rules! apply_rest_after {
    ($pool:expr, $last:expr) => {{
        let pool = &$pool;
        let migrator = sqlx::migrate::Migrator::new($crate::migrations::migrations_dir())
            .await
            .unwrap();
        {
            use sqlx::migrate::Migrate;
            let mut conn = pool.acquire().await.unwrap();
            conn.ensure_migrations_table().await.unwrap();
        }
        for migration in migrator.iter().filter(|m| m.version <= $last) {
            sqlx::query(
                "INSERT INTO _sqlx_migrations \
                 (version, description, success, checksum, execution_time) \
                 VALUES ($1, $2, TRUE, $3, 0)",
            )
            .bind(migration.version)
            .bind(migration.description.to_string())
            .bind(migration.checksum.to_vec())
            .execute(pool)
            .await
            .unwrap();
        }
        migrator.run(pool).await.unwrap();
    }};
}

/// Runs `$check!(pool, $args…)` on a raw pool of the backend under test at `$url` (no
/// migrations applied), the SQLite one with foreign keys on, as the store opens it.
#[macro_export]
macro_rules! on_raw_pool {
    ($url:expr, $check:ident $(, $arg:expr)*) => {{
        let url: &str = $url;
        if $crate::backend() == "postgres" {
            $check!(sqlx::PgPool::connect(url).await.unwrap() $(, $arg)*);
        } else {
            let options: sqlx::sqlite::SqliteConnectOptions = url.parse().unwrap();
            let options = options.create_if_missing(true).foreign_keys(true);
            $check!(sqlx::SqlitePool::connect_with(options).await.unwrap() $(, $arg)*);
        }
    }};
}
