//! Documents clients upload to their shared tasks. Only metadata lives here; the bytes are
//! stored by content hash on disk. A client reaches a file only through a task shared with
//! them (`visibility`); staff reach every file of their firm's tasks.

use async_trait::async_trait;
use serde::Serialize;
use sqlx::{Postgres, Sqlite};

use super::{ClientViewer, SqlStore, StoreError};
use crate::ids::{ContactId, FirmId, TaskFileId, TaskId};
use crate::now_unix;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct TaskFile {
    pub id: TaskFileId,
    pub firm_id: FirmId,
    pub task_id: TaskId,
    /// Who uploaded it.
    pub contact_id: ContactId,
    pub file_name: String,
    pub content_type: String,
    pub size: i64,
    /// Hex SHA-256 of the content: also its name in the file store.
    pub sha256: String,
    pub created_at: i64,
}

/// What an upload stored, to be recorded.
#[derive(Clone, Debug)]
pub struct NewFile {
    pub file_name: String,
    pub content_type: String,
    pub size: i64,
    pub sha256: String,
}

#[async_trait]
pub trait FileStore {
    /// Records a file the viewer uploads to a task they see; `None` when there is no such task.
    async fn add_task_file(
        &self,
        firm_id: &FirmId,
        viewer: &ClientViewer,
        task_id: &TaskId,
        new: &NewFile,
    ) -> Result<Option<TaskFile>, StoreError>;
    /// The files of a task, oldest first. The caller has checked that the task is reachable.
    async fn task_files(
        &self,
        firm_id: &FirmId,
        task_id: &TaskId,
    ) -> Result<Vec<TaskFile>, StoreError>;
    /// One file of a task; with a viewer, only if the task is shared with them to see.
    async fn task_file(
        &self,
        firm_id: &FirmId,
        viewer: Option<&ClientViewer>,
        task_id: &TaskId,
        file_id: &TaskFileId,
    ) -> Result<Option<TaskFile>, StoreError>;
    /// The bytes of the task files this contact uploaded that the firm keeps: the sum of
    /// their sizes (content stored once for several rows counts once per row).
    async fn contact_stored_bytes(
        &self,
        firm_id: &FirmId,
        contact_id: &ContactId,
    ) -> Result<i64, StoreError>;
    /// Whether any row of any firm still names this stored content (a task's file or a
    /// signing request's document); the file sweep removes content for which it is not.
    async fn content_in_use(&self, sha256: &str) -> Result<bool, StoreError>;
}

macro_rules! file_columns {
    () => {
        "f.id, f.firm_id, f.task_id, f.contact_id, f.file_name, f.content_type, f.size, \
         f.sha256, f.created_at"
    };
}

/// Task $3 of firm $2 is visible to contact $4 seeing account $5 (or $4 is NULL: staff).
macro_rules! task_reachable {
    () => {
        concat!(
            "EXISTS (SELECT 1 FROM tasks t WHERE t.firm_id = $2 AND t.id = $3 AND ($4 IS NULL OR \
             (t.portal AND t.id IN ",
            visible_task_ids!("$2", "$4", "$5"),
            ")))"
        )
    };
}

macro_rules! file_store {
    ($backend:ty) => {
        #[async_trait]
        impl FileStore for SqlStore<$backend> {
            async fn add_task_file(
                &self,
                firm_id: &FirmId,
                viewer: &ClientViewer,
                task_id: &TaskId,
                new: &NewFile,
            ) -> Result<Option<TaskFile>, StoreError> {
                let now = now_unix();
                let contact_id = &viewer.contact_id;
                let mut tx = self.writer.begin().await?;
                let file: Option<TaskFile> = sqlx::query_as(concat!(
                    "INSERT INTO task_files (id, firm_id, task_id, contact_id, file_name, \
                     content_type, size, sha256, created_at) \
                     SELECT $1, $2, $3, $4, $6, $7, $8, $9, $10 WHERE ",
                    task_reachable!(),
                    " RETURNING id, firm_id, task_id, contact_id, file_name, content_type, size, \
                     sha256, created_at"
                ))
                .bind(TaskFileId::new())
                .bind(firm_id)
                .bind(task_id)
                .bind(contact_id)
                .bind(viewer.account.as_ref())
                .bind(&new.file_name)
                .bind(&new.content_type)
                .bind(new.size)
                .bind(&new.sha256)
                .bind(now)
                .fetch_optional(&mut *tx)
                .await?;
                if file.is_some() {
                    // Named by the task it was uploaded to, as the task is titled now.
                    sqlx::query(
                        "INSERT INTO activity (id, firm_id, contact_id, kind, subject_id, subject, \
                         created_at) SELECT $1, $2, $3, 'document_uploaded', t.id, t.title, $5 \
                         FROM tasks t WHERE t.firm_id = $2 AND t.id = $4",
                    )
                    .bind(crate::ids::new_id("ac"))
                    .bind(firm_id)
                    .bind(contact_id)
                    .bind(task_id)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                }
                tx.commit().await?;
                Ok(file)
            }

            async fn task_files(
                &self,
                firm_id: &FirmId,
                task_id: &TaskId,
            ) -> Result<Vec<TaskFile>, StoreError> {
                Ok(sqlx::query_as(concat!(
                    "SELECT ",
                    file_columns!(),
                    " FROM task_files f WHERE f.firm_id = $1 AND f.task_id = $2 \
                     ORDER BY f.created_at, f.id LIMIT 1000"
                ))
                .bind(firm_id)
                .bind(task_id)
                .fetch_all(&self.pool)
                .await?)
            }

            async fn task_file(
                &self,
                firm_id: &FirmId,
                viewer: Option<&ClientViewer>,
                task_id: &TaskId,
                file_id: &TaskFileId,
            ) -> Result<Option<TaskFile>, StoreError> {
                Ok(sqlx::query_as(concat!(
                    "SELECT ",
                    file_columns!(),
                    " FROM task_files f WHERE f.id = $1 AND f.firm_id = $2 AND f.task_id = $3 \
                     AND ",
                    task_reachable!()
                ))
                .bind(file_id)
                .bind(firm_id)
                .bind(task_id)
                .bind(viewer.map(|v| &v.contact_id))
                .bind(viewer.and_then(|v| v.account.as_ref()))
                .fetch_optional(&self.pool)
                .await?)
            }

            async fn contact_stored_bytes(
                &self,
                firm_id: &FirmId,
                contact_id: &ContactId,
            ) -> Result<i64, StoreError> {
                // PostgreSQL sums BIGINT to NUMERIC: cast back, which SQLite takes as well.
                Ok(sqlx::query_scalar(
                    "SELECT CAST(COALESCE(SUM(size), 0) AS BIGINT) FROM task_files \
                     WHERE firm_id = $1 AND contact_id = $2",
                )
                .bind(firm_id)
                .bind(contact_id)
                .fetch_one(&self.pool)
                .await?)
            }

            async fn content_in_use(&self, sha256: &str) -> Result<bool, StoreError> {
                Ok(sqlx::query_scalar(
                    "SELECT EXISTS (SELECT 1 FROM task_files WHERE sha256 = $1) \
                     OR EXISTS (SELECT 1 FROM signing_requests WHERE document_sha256 = $1)",
                )
                .bind(sha256)
                .fetch_one(&self.pool)
                .await?)
            }
        }
    };
}
file_store!(Sqlite);
file_store!(Postgres);
