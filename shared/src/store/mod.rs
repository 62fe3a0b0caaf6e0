//! Storage. Handlers depend on the [`Store`] trait, made of one trait per aggregate
//! ([`FirmStore`], [`ContactStore`], [`TaskStore`], [`TeamStore`], …); each aggregate's module holds its model, its trait and its
//! SQL, written once with `$n` placeholders (which SQLite and PostgreSQL both accept) and
//! compiled for each backend by a small macro. The backend is chosen once, by [`open`], from the
//! URL; nothing else in the system knows which database it talks to.
//!
//! Where a dialect differs (none yet), keep both versions side by side in the aggregate's module.
//! Rows and arguments carry the domain's types (`FirmId`, `ContactId`, `TaskStatus`, …);
//! `text` teaches sqlx to store them as their text.

use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Database, Pool, Postgres, Sqlite};

use crate::ids::{ContactId, MemberId};

/// A page of a firm's records of one kind, oldest first, after the `(created_at, id)` cursor,
/// narrowed to one contact and one status (of the kind's own status type `S`) when they are
/// given (conversations, invoices and signing requests are listed this way).
#[derive(Debug)]
pub struct PageQuery<S> {
    pub after: Option<(i64, String)>,
    pub limit: i64,
    pub contact_id: Option<ContactId>,
    pub status: Option<S>,
    /// Only the items of contacts assigned to this member (a role's "assigned" scope).
    pub assigned_to: Option<MemberId>,
}

/// Fetches one [`PageQuery`] page of `$select` (`SELECT … FROM $table`, a literal), whose
/// table has `firm_id`, `contact_id`, `account_id`, `status`, `created_at` and `id`; the
/// member's scope is `scope::scoped_ids`.
macro_rules! fetch_page {
    ($pool:expr, $select:expr, $table:tt, $firm_id:expr, $query:expr) => {{
        let query: &$crate::store::PageQuery<_> = $query;
        let (after_time, after_id) = query.after.clone().unwrap_or((i64::MIN, String::new()));
        sqlx::query_as(concat!(
            $select,
            " WHERE firm_id = $1 AND (created_at, id) > ($2, $3) \
             AND ($4 IS NULL OR contact_id = $4) AND ($5 IS NULL OR status = $5) \
             AND ($7 IS NULL OR id IN ",
            scoped_ids!($table, "$1", "$7"),
            ") ORDER BY created_at, id LIMIT $6"
        ))
        .bind($firm_id)
        .bind(after_time)
        .bind(after_id)
        .bind(query.contact_id.as_ref())
        .bind(query.status)
        .bind(query.limit)
        .bind(query.assigned_to.as_ref())
        .fetch_all($pool)
        .await
    }};
}

/// Writes one row of client activity (migration 0011) through `$executor`, which is the
/// transaction of the client's action it records: the dashboard never shows an action that
/// did not happen, nor misses one that did.
macro_rules! record_activity {
    ($executor:expr, $firm_id:expr, $contact_id:expr, $kind:expr, $subject_id:expr, $subject:expr, $now:expr) => {
        sqlx::query(
            "INSERT INTO activity (id, firm_id, contact_id, kind, subject_id, subject, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind($crate::ids::new_id("ac"))
        .bind($firm_id)
        .bind($contact_id)
        .bind($kind)
        .bind($subject_id)
        .bind($subject)
        .bind($now)
        .execute($executor)
        .await
    };
}

// First: their SQL fragments (macros) are used by the aggregates below.
#[macro_use]
mod visibility;
#[macro_use]
mod scope;
mod accounts;
mod backup;
mod console;
mod console_items;
mod contacts;
mod conversations;
mod files;
mod firms;
mod invoices;
mod page_images;
mod people;
mod previews;
mod signing;
mod tasks;
mod team;
mod text;

pub use accounts::{
    AccountQuery, AccountStore, ClientAccount, PermissionSet, Removal, SHARED_ITEMS_LIMIT,
    SetContent, SharedItem,
};
pub use backup::{BackupError, BackupStore};
pub use console::{
    ActivityRow, ConsoleStore, ContactListQuery, ContactListRow, InboxQuery, InboxRow, InviteState,
    OverdueTask, PendingSignature, StaffMessage,
};
pub use console_items::{
    ConsoleItemStore, ContactRef, InvoiceRow, NewestPage, SigningRow, TaskRow,
};
pub use contacts::{
    Contact, ContactPatch, ContactQuery, ContactStore, Invitation, NewContact, Notification,
    Preferences, SessionContact, SignIn, StoredAddress,
};
pub use conversations::{Conversation, ConversationStore, Message};
pub use files::{FileStore, NewFile, TaskFile};
pub use firms::{Firm, FirmStore, Logo, MenuLink, NewFirm, PortalPatch};
pub use invoices::{Invoice, InvoiceStore, NewInvoice};
pub use page_images::{PageImageStore, PageImages};
pub use people::{AccessChange, PeopleStore, Person};
pub use previews::{PreviewRecord, PreviewStore};
pub use scope::{ScopeStore, Scoped};
pub use signing::{
    Completion, EventOrigin, NewSigningRequest, Outcome, PendingRequest, SigningEvent,
    SigningRequest, SigningStore,
};
pub use tasks::{
    ChecklistItem, NewTask, Shared, Task, TaskDetail, TaskPatch, TaskQuery, TaskStore, TaskSummary,
};
pub use team::{
    ApiKeyAuth, ApiKeyRecord, InvitationPatch, Member, MemberWithRole, RoleDeletion, RolePatch,
    TeamInvitation, TeamStore,
};
pub use visibility::ClientViewer;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique value (named here) is already used.
    #[error("{0} is already taken")]
    Conflict(&'static str),
    /// A referenced row (named by field and value) does not exist in this firm.
    #[error("{0}: no such record {1:?}")]
    UnknownReference(&'static str, String),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The database did not answer a write made on the caller's behalf (by a task that
    /// groups writes), or that task has stopped.
    #[error("the database is unavailable")]
    Unavailable,
}

impl StoreError {
    /// The database could not be reached (as opposed to refusing a query).
    pub fn is_unavailable(&self) -> bool {
        match self {
            StoreError::Unavailable
            | StoreError::Database(
                sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::PoolClosed,
            ) => true,
            // PostgreSQL ending the connection (SQLSTATE class 08, connection exception, and
            // 57P, operator intervention: a restart or pg_terminate_backend).
            StoreError::Database(sqlx::Error::Database(e)) => e
                .code()
                .is_some_and(|code| code.starts_with("08") || code.starts_with("57P")),
            _ => false,
        }
    }
}

/// Turns a unique-key violation into [`StoreError::Conflict`] naming `field`.
fn on_unique(field: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError {
    move |e| match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict(field),
        _ => StoreError::Database(e),
    }
}

/// Everything the gateway and the CLI store.
#[async_trait]
pub trait Store:
    FirmStore
    + ContactStore
    + AccountStore
    + TaskStore
    + ConversationStore
    + FileStore
    + SigningStore
    + PageImageStore
    + InvoiceStore
    + TeamStore
    + ConsoleStore
    + ConsoleItemStore
    + ScopeStore
    + PreviewStore
    + PeopleStore
    + BackupStore
    + Send
    + Sync
    + 'static
{
    /// `sqlite` or `postgres`, for logs and `/readyz`.
    fn backend(&self) -> &'static str;
    /// Applies pending migrations.
    async fn migrate(&self) -> Result<(), StoreError>;
    /// One round trip, for readiness checks.
    async fn ping(&self) -> Result<(), StoreError>;
    async fn close(&self);
}

/// A store over sqlx pools; implemented for [`Sqlite`] and [`Postgres`].
///
/// Reads use `pool`; writes use `writer`. For SQLite, `writer` is a pool of one connection:
/// SQLite admits one writer at a time, and queueing writers in the pool is fair and fast,
/// where several connections contending for the lock would sleep in SQLite's busy handler.
/// For PostgreSQL both are the same pool.
pub struct SqlStore<DB: Database> {
    pool: Pool<DB>,
    writer: Pool<DB>,
}

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/postgres");

macro_rules! store_impl {
    ($backend:ty, $name:literal, $migrator:ident) => {
        #[async_trait]
        impl Store for SqlStore<$backend> {
            fn backend(&self) -> &'static str {
                $name
            }

            async fn migrate(&self) -> Result<(), StoreError> {
                $migrator.run(&self.writer).await?;
                Ok(())
            }

            async fn ping(&self) -> Result<(), StoreError> {
                sqlx::query("SELECT 1").execute(&self.pool).await?;
                Ok(())
            }

            async fn close(&self) {
                self.pool.close().await;
                self.writer.close().await;
            }
        }
    };
}
store_impl!(Sqlite, "sqlite", SQLITE_MIGRATIONS);
store_impl!(Postgres, "postgres", POSTGRES_MIGRATIONS);

/// Opens the database named by `url` (`sqlite://…` or `postgres://…`) and checks that it
/// answers. A SQLite file is created if missing, with WAL and foreign keys on.
pub async fn open(url: &str) -> Result<Arc<dyn Store>, StoreError> {
    if url.starts_with("sqlite:") {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5));
        let file = options.get_filename();
        if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty())
            && file != Path::new(":memory:")
        {
            std::fs::create_dir_all(dir).map_err(sqlx::Error::Io)?;
        }
        // No ping before each use: an embedded database's connection cannot go stale, and the
        // ping is a round trip to the connection's thread, as costly as the query itself.
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .test_before_acquire(false)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options.clone())
            .await?;
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .test_before_acquire(false)
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(options.read_only(true))
            .await?;
        Ok(Arc::new(SqlStore { pool, writer }))
    } else {
        let pool = PgPoolOptions::new()
            .max_connections(16)
            // No ping before each query: it was a round trip per query, a third of the
            // portal page's cost. A connection the server ended (a restart) fails its next
            // query (SQLSTATE 57P01, or an I/O error), answered 503 (`is_unavailable`), and
            // sqlx closes it when the ping it does on release fails. Connections idle for a
            // minute are closed, before a firewall between here and the server forgets them.
            .test_before_acquire(false)
            .idle_timeout(Duration::from_secs(60))
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(PgConnectOptions::from_str(url)?.options([(
                // Every statement is prepared once per connection and planned once, for any
                // parameter values. PostgreSQL's default re-planned each execution of most of
                // our statements (the custom plan of a firm id looks cheaper than the generic
                // one), which cost as much CPU as running them: 50–140 µs a statement. The
                // generic plans are the ones `console_bench` and `portal_bench` check for
                // whole-table and whole-firm reads, and every statement is written to read
                // an index range bounded by its page, for whatever firm.
                "plan_cache_mode",
                "force_generic_plan",
            )]))
            .await?;
        Ok(Arc::new(SqlStore {
            writer: pool.clone(),
            pool,
        }))
    }
}
