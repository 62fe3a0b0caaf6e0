//! `gateway backup PATH`: a consistent copy of a SQLite database, taken while gateways keep
//! serving and writing.
//!
//! `VACUUM INTO` copies the database as one read transaction sees it: in WAL mode writers go
//! on meanwhile, and the copy holds exactly the transactions committed before it began. The
//! copy is written under a temporary name beside `PATH`, flushed to disk (SQLite does not
//! sync it), and only then given its name, so a `PATH` that exists is always a whole backup.
//! An existing `PATH` is never replaced.
//!
//! PostgreSQL has its own tools for this (`pg_dump`, `pg_basebackup`): the README gives the
//! procedure, and this refuses.

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use sqlx::{Postgres, Sqlite};

use super::{SqlStore, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("{0} exists: a backup never replaces a file, give a new name")]
    Exists(PathBuf),
    #[error("{path}: {problem}")]
    File { path: PathBuf, problem: String },
    #[error(
        "this database is PostgreSQL: back it up with pg_dump -Fc (or pg_basebackup with WAL \
         archiving), as the README's \"Durability and backups\" describes"
    )]
    Postgres,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl BackupError {
    fn file(path: &Path, problem: impl std::fmt::Display) -> BackupError {
        BackupError::File {
            path: path.to_path_buf(),
            problem: problem.to_string(),
        }
    }
}

#[async_trait]
pub trait BackupStore {
    /// Writes a consistent copy of the whole database to `path`, a file that must not exist.
    async fn backup_to(&self, path: &Path) -> Result<(), BackupError>;
}

#[async_trait]
impl BackupStore for SqlStore<Sqlite> {
    async fn backup_to(&self, path: &Path) -> Result<(), BackupError> {
        let name = path
            .file_name()
            .ok_or_else(|| BackupError::file(path, "expected a file name"))?;
        if path.try_exists().map_err(|e| BackupError::file(path, e))? {
            return Err(BackupError::Exists(path.to_path_buf()));
        }
        let dir = match path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        };
        let temp = dir.join(format!(
            ".{}.partial-{}",
            name.to_string_lossy(),
            crate::secret::random_string::<6>()
        ));
        let outcome = write_copy(self, &temp, path).await;
        // Whatever happened, no partial copy is left behind (after success it has been
        // linked to its name; removing the temporary name leaves the backup).
        let _ = std::fs::remove_file(&temp);
        outcome
    }
}

/// Copies the database to `temp`, syncs it, and links it to `path` (refusing one that
/// appeared meanwhile).
async fn write_copy(store: &SqlStore<Sqlite>, temp: &Path, path: &Path) -> Result<(), BackupError> {
    let dir = temp.parent().unwrap_or(Path::new("."));
    // Created empty first, which `VACUUM INTO` accepts: an unwritable or missing folder is
    // reported as such, not as SQLite's "unable to open database file".
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(temp)
        .map_err(|e| BackupError::file(path, format!("cannot write in {}: {e}", dir.display())))?;
    let target = temp
        .to_str()
        .ok_or_else(|| BackupError::file(path, "the path is not valid UTF-8"))?;
    // The read pool: `VACUUM INTO` reads the database in one transaction and writes only the
    // new file, so it takes no write lock from the gateways.
    sqlx::query("VACUUM INTO $1")
        .bind(target)
        .execute(&store.pool)
        .await
        .map_err(StoreError::from)?;
    std::fs::File::open(temp)
        .and_then(|file| file.sync_all())
        .map_err(|e| BackupError::file(temp, e))?;
    // A hard link gives the copy its name only if that name is free (rename would replace
    // a file that appeared meanwhile). Where the file system has no hard links, rename.
    match std::fs::hard_link(temp, path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            return Err(BackupError::Exists(path.to_path_buf()));
        }
        Err(_) => std::fs::rename(temp, path).map_err(|e| BackupError::file(path, e))?,
    }
    // The new name itself is durable once the folder is synced.
    if let Ok(folder) = std::fs::File::open(dir) {
        let _ = folder.sync_all();
    }
    Ok(())
}

#[async_trait]
impl BackupStore for SqlStore<Postgres> {
    async fn backup_to(&self, _path: &Path) -> Result<(), BackupError> {
        Err(BackupError::Postgres)
    }
}
