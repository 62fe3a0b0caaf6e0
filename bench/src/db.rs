//! The run's database reached directly, beside the gateway: seeding it with multi-row INSERTs
//! of SQL literals, counting and sizing it, and explaining the statements the gateway ran.

use std::collections::HashMap;
use std::str::FromStr;

use anyhow::{Context, Result};
use sqlx::{Connection, Row};

/// Rows per INSERT statement: well under SQLite's 1 MB statement limit.
const ROWS_PER_INSERT: usize = 1000;
/// Rows buffered before they are written.
const ROWS_PER_FLUSH: usize = 20_000;

/// A direct connection to the run's database, for seeding, counting and explaining.
pub enum Db {
    Sqlite(sqlx::SqliteConnection),
    Postgres(sqlx::PgConnection),
}

impl Db {
    pub async fn connect(url: &str) -> Result<Db> {
        if url.starts_with("sqlite:") {
            use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
            // Seeding writes in one transaction; a big page cache keeps the random-id indexes
            // in memory while they grow.
            let options = SqliteConnectOptions::from_str(url)?
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Off)
                .foreign_keys(false)
                .pragma("cache_size", "-262144");
            Ok(Db::Sqlite(
                sqlx::SqliteConnection::connect_with(&options).await?,
            ))
        } else {
            Ok(Db::Postgres(sqlx::PgConnection::connect(url).await?))
        }
    }

    /// Gives each seeded contact without an account a personal one, as migration 0014 does
    /// for existing contacts (the store reads no contact without an account). Its id is the
    /// contact's random part under the account prefix: unique, and one statement each.
    pub async fn give_personal_accounts(&mut self) -> Result<()> {
        self.exec(
            "INSERT INTO client_accounts (id, firm_id, name, name_norm, created_at, updated_at) \
             SELECT 'ca_' || substr(id, 4), firm_id, name, lower(name), created_at, created_at \
             FROM contacts WHERE account_id IS NULL; \
             UPDATE contacts SET account_id = 'ca_' || substr(id, 4) WHERE account_id IS NULL",
        )
        .await
    }

    /// A connection with the gateway's own settings (on SQLite: its default page cache, not
    /// the seeding's large one), to measure a statement as the gateway would run it.
    pub async fn connect_as_gateway(url: &str) -> Result<Db> {
        if url.starts_with("sqlite:") {
            use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode};
            let options = SqliteConnectOptions::from_str(url)?
                .journal_mode(SqliteJournalMode::Wal)
                .read_only(true);
            Ok(Db::Sqlite(
                sqlx::SqliteConnection::connect_with(&options).await?,
            ))
        } else {
            let options = sqlx::postgres::PgConnectOptions::from_str(url)?
                .options([("plan_cache_mode", "force_generic_plan")]);
            Ok(Db::Postgres(
                sqlx::PgConnection::connect_with(&options).await?,
            ))
        }
    }

    pub async fn exec(&mut self, sql: &str) -> Result<()> {
        match self {
            Db::Sqlite(conn) => sqlx::raw_sql(sql).execute(conn).await.map(drop),
            Db::Postgres(conn) => sqlx::raw_sql(sql).execute(conn).await.map(drop),
        }
        .with_context(|| format!("running {}", sql.chars().take(120).collect::<String>()))
    }

    pub async fn count(&mut self, table: &str) -> Result<i64> {
        let sql = format!("SELECT COUNT(*) FROM {table}");
        Ok(match self {
            Db::Sqlite(conn) => sqlx::query_scalar(&sql).fetch_one(conn).await?,
            Db::Postgres(conn) => sqlx::query_scalar(&sql).fetch_one(conn).await?,
        })
    }

    pub async fn firm_id(&mut self, slug: &str) -> Result<String> {
        self.text("SELECT id FROM firms WHERE slug = $1", slug)
            .await
    }

    /// The one text value `sql` answers for `bind` (its `$1`).
    pub async fn text(&mut self, sql: &str, bind: &str) -> Result<String> {
        Ok(match self {
            Db::Sqlite(conn) => sqlx::query_scalar(sql).bind(bind).fetch_one(conn).await?,
            Db::Postgres(conn) => sqlx::query_scalar(sql).bind(bind).fetch_one(conn).await?,
        })
    }

    /// The database's size on disk, in bytes.
    pub async fn size(&mut self, url: &str) -> Option<u64> {
        match self {
            Db::Sqlite(_) => {
                let file = url.strip_prefix("sqlite://")?;
                std::fs::metadata(file).ok().map(|m| m.len())
            }
            Db::Postgres(conn) => {
                sqlx::query_scalar::<_, i64>("SELECT pg_database_size(current_database())")
                    .fetch_one(conn)
                    .await
                    .ok()
                    .map(|n| n as u64)
            }
        }
    }

    /// The plan of `sql` as the backend would run it for any parameter values: SQLite's
    /// `EXPLAIN QUERY PLAN` (unbound parameters), PostgreSQL's generic plan of the prepared
    /// statement.
    pub async fn explain(&mut self, n: usize, sql: &str) -> Result<Vec<String>> {
        match self {
            Db::Sqlite(conn) => {
                let rows = sqlx::query(&format!("EXPLAIN QUERY PLAN {sql}"))
                    .fetch_all(conn)
                    .await
                    .with_context(|| format!("explaining {sql}"))?;
                // Rows are (id, parent, _, detail); indent each under its parent.
                let mut depth: HashMap<i64, usize> = HashMap::new();
                let mut lines = Vec::new();
                for row in rows {
                    let (id, parent): (i64, i64) = (row.try_get(0)?, row.try_get(1)?);
                    let detail: String = row.try_get(3)?;
                    let d = depth.get(&parent).map_or(0, |d| d + 1);
                    depth.insert(id, d);
                    lines.push(format!("{}{detail}", "  ".repeat(d)));
                }
                Ok(lines)
            }
            Db::Postgres(conn) => {
                let params = max_placeholder(sql);
                let name = format!("bench_q{n}");
                sqlx::raw_sql(&format!(
                    "SET plan_cache_mode = force_generic_plan; PREPARE {name} AS {sql}"
                ))
                .execute(&mut *conn)
                .await
                .with_context(|| format!("preparing {sql}"))?;
                let nulls = vec!["NULL"; params].join(", ");
                let call = if params == 0 {
                    name.clone()
                } else {
                    format!("{name}({nulls})")
                };
                let lines: Vec<String> = sqlx::query_scalar(&format!("EXPLAIN EXECUTE {call}"))
                    .fetch_all(&mut *conn)
                    .await
                    .with_context(|| format!("explaining {sql}"))?;
                sqlx::raw_sql(&format!("DEALLOCATE {name}"))
                    .execute(&mut *conn)
                    .await?;
                Ok(lines)
            }
        }
    }

    /// The CPU µs per run of `sql` (bound to `binds`, every row fetched) spent by the database
    /// engine and this process together, over runs for at least `min_wall`: on SQLite the
    /// engine is this process; on PostgreSQL it is the backend serving this connection. This
    /// process does nothing else meanwhile. Answers (µs per run, rows of one run).
    pub async fn cpu_per_run(
        &mut self,
        sql: &str,
        binds: &[&str],
        min_wall: std::time::Duration,
    ) -> Result<(f64, usize)> {
        let backend = match self {
            Db::Sqlite(_) => None,
            Db::Postgres(conn) => Some(
                sqlx::query_scalar::<_, i32>("SELECT pg_backend_pid()")
                    .fetch_one(&mut *conn)
                    .await?
                    .to_string(),
            ),
        };
        let cpu = |backend: &Option<String>| {
            let own = crate::system::cpu_time("self").unwrap_or_default();
            let engine = backend
                .as_deref()
                .and_then(crate::system::cpu_time)
                .unwrap_or_default();
            own + engine
        };
        let mut runs = 0usize;
        // One run first, so the statement is prepared and the pages it reads are cached.
        let run_once = async |db: &mut Db| -> Result<usize> {
            Ok(match db {
                Db::Sqlite(conn) => {
                    let mut query = sqlx::query(sql);
                    for bind in binds {
                        query = query.bind(*bind);
                    }
                    query.fetch_all(&mut *conn).await?.len()
                }
                Db::Postgres(conn) => {
                    let mut query = sqlx::query(sql);
                    for bind in binds {
                        query = query.bind(*bind);
                    }
                    query.fetch_all(&mut *conn).await?.len()
                }
            })
        };
        let rows = run_once(self)
            .await
            .with_context(|| format!("running {sql}"))?;
        let (started, before) = (std::time::Instant::now(), cpu(&backend));
        while started.elapsed() < min_wall {
            run_once(self).await?;
            runs += 1;
        }
        let spent = cpu(&backend).saturating_sub(before);
        Ok((spent.as_secs_f64() * 1e6 / runs.max(1) as f64, rows))
    }

    pub async fn close(self) {
        let _ = match self {
            Db::Sqlite(conn) => conn.close().await,
            Db::Postgres(conn) => conn.close().await,
        };
    }
}

/// The highest `$n` in `sql`.
/// The report's lines on the seed: how long seeding and settling (`WAL checkpoint` on SQLite,
/// `VACUUM ANALYZE` on PostgreSQL) took, the database's size, and the rows per table.
pub fn write_seed_summary(
    out: &mut String,
    backend: &str,
    elapsed: std::time::Duration,
    settle: std::time::Duration,
    db_size: Option<u64>,
    counts: &[(&str, i64)],
) {
    use std::fmt::Write as _;
    let rows: i64 = counts.iter().map(|(_, n)| n).sum();
    let _ = writeln!(
        out,
        "\nseeded in {:.1} s ({:.0} rows/s), then {} in {:.1} s; database {:.0} MB",
        elapsed.as_secs_f64(),
        rows as f64 / elapsed.as_secs_f64(),
        if backend == "SQLite" {
            "WAL checkpoint"
        } else {
            "VACUUM ANALYZE"
        },
        settle.as_secs_f64(),
        db_size.map_or(f64::NAN, |b| b as f64 / 1_048_576.0)
    );
    let _ = writeln!(
        out,
        "{}",
        counts
            .iter()
            .map(|(table, n)| format!("{table} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
}

pub fn max_placeholder(sql: &str) -> usize {
    sql.split('$')
        .skip(1)
        .filter_map(|rest| {
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            digits.parse().ok()
        })
        .max()
        .unwrap_or(0)
}

/// Multi-row INSERTs of SQL literals, buffered per table and written parents first.
pub struct Seeder<'a> {
    db: &'a mut Db,
    /// The tables, parents first, with the columns seeded.
    tables: &'static [(&'static str, &'static str)],
    rows: Vec<Vec<String>>,
    buffered: usize,
}

impl<'a> Seeder<'a> {
    /// A seeder of `tables` (`(name, columns)`, parents first) into `db`.
    pub fn new(db: &'a mut Db, tables: &'static [(&'static str, &'static str)]) -> Seeder<'a> {
        Seeder {
            db,
            tables,
            rows: vec![Vec::new(); tables.len()],
            buffered: 0,
        }
    }

    /// Buffers a row of `VALUES` for table number `table`; writes when enough are buffered.
    pub async fn push(&mut self, table: usize, values: String) -> Result<()> {
        self.rows[table].push(values);
        self.buffered += 1;
        if self.buffered >= ROWS_PER_FLUSH {
            self.flush().await?;
        }
        Ok(())
    }

    /// Writes every buffered row, parents first.
    pub async fn flush(&mut self) -> Result<()> {
        for (table, (name, columns)) in self.tables.iter().enumerate() {
            let rows = std::mem::take(&mut self.rows[table]);
            for chunk in rows.chunks(ROWS_PER_INSERT) {
                let sql = format!("INSERT INTO {name} ({columns}) VALUES {}", chunk.join(","));
                self.db.exec(&sql).await?;
            }
        }
        self.buffered = 0;
        Ok(())
    }
}

/// A quoted SQL string literal.
pub fn q(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

pub fn q_opt(text: Option<&str>) -> String {
    text.map_or_else(|| "NULL".into(), q)
}

pub fn b(value: bool) -> &'static str {
    if value { "TRUE" } else { "FALSE" }
}

/// splitmix64: a fixed, fast, well-spread sequence, so every run seeds the same shapes.
pub struct Rng(pub u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// True `percent` times in a hundred.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// The ISO date `days` days from 1970-01-01 (Howard Hinnant's civil-from-days).
pub fn iso_date(days: i64) -> String {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}
