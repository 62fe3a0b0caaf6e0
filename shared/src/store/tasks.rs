//! Tasks, their assignees and checklists: written by staff through the API, read and ticked by
//! clients in the portal. Every portal query names the firm *and* the viewer and requires the
//! task to be shared (`portal`) and visible to them (`visibility`), so a client can only ever
//! reach tasks shared with them or, as a client manager, with their account.

use async_trait::async_trait;
use serde::Serialize;
use sqlx::{Postgres, Sqlite};

use super::{ClientViewer, SqlStore, StoreError};
use crate::ids::{ChecklistItemId, ClientAccountId, ContactId, FirmId, MemberId, TaskId};
use crate::now_unix;
use crate::status::TaskStatus;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct Task {
    pub id: TaskId,
    pub firm_id: FirmId,
    pub title: String,
    pub description: String,
    /// `YYYY-MM-DD`
    pub due_date: Option<String>,
    pub portal: bool,
    pub status: TaskStatus,
    pub completed_at: Option<i64>,
    pub completed_by: Option<ContactId>,
    pub created_at: i64,
    pub updated_at: i64,
    /// The client account it is shared with as a whole, beside its assignees.
    pub account_id: Option<ClientAccountId>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct ChecklistItem {
    pub id: ChecklistItemId,
    pub task_id: TaskId,
    pub position: i64,
    pub label: String,
    pub done: bool,
    pub done_at: Option<i64>,
    pub done_by: Option<ContactId>,
}

/// A task with everything that hangs off it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TaskDetail {
    #[serde(flatten)]
    pub task: Task,
    pub assignees: Vec<ContactId>,
    pub checklist: Vec<ChecklistItem>,
}

/// A task as a client's home page lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct TaskSummary {
    pub id: TaskId,
    pub title: String,
    pub due_date: Option<String>,
    pub status: TaskStatus,
    pub completed_at: Option<i64>,
    pub items_total: i64,
    pub items_done: i64,
}

#[derive(Debug)]
pub struct NewTask {
    pub title: String,
    pub description: String,
    pub due_date: Option<String>,
    pub portal: bool,
    pub assignees: Vec<ContactId>,
    pub checklist: Vec<String>,
    /// Shared with this client account as a whole (`UnknownReference("account_id")` when
    /// the firm has no such account).
    pub account_id: Option<ClientAccountId>,
}

/// A partial update; `None` leaves a field alone. `due_date: Some(None)` clears it.
/// `assignees` and `checklist` replace the whole list (a replaced checklist starts unticked).
#[derive(Debug, Default)]
pub struct TaskPatch {
    pub title: Option<String>,
    pub description: Option<String>,
    pub due_date: Option<Option<String>>,
    pub portal: Option<bool>,
    pub status: Option<TaskStatus>,
    pub assignees: Option<Vec<ContactId>>,
    pub checklist: Option<Vec<String>>,
    /// `Some(None)` stops sharing it with an account.
    pub account_id: Option<Option<ClientAccountId>>,
}

#[derive(Debug)]
pub struct TaskQuery {
    pub after: Option<(i64, String)>,
    pub limit: i64,
    pub contact_id: Option<ContactId>,
    pub status: Option<TaskStatus>,
    pub portal: Option<bool>,
    /// Only tasks with an assignee assigned to this member (a role's "assigned" scope).
    pub assigned_to: Option<MemberId>,
}

/// What changed in a task's sharing, so the caller can notify the right clients.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Shared {
    /// Contacts who can now see the task in their portal and could not before.
    pub newly_visible_to: Vec<ContactId>,
}

#[async_trait]
pub trait TaskStore {
    /// `UnknownReference("assignees", id)` when an assignee is not a contact of the firm.
    async fn create_task(
        &self,
        firm_id: &FirmId,
        new: &NewTask,
    ) -> Result<(TaskDetail, Shared), StoreError>;
    async fn task(&self, firm_id: &FirmId, id: &TaskId) -> Result<Option<TaskDetail>, StoreError>;
    async fn list_tasks(
        &self,
        firm_id: &FirmId,
        query: &TaskQuery,
    ) -> Result<Vec<TaskDetail>, StoreError>;
    async fn update_task(
        &self,
        firm_id: &FirmId,
        id: &TaskId,
        patch: &TaskPatch,
    ) -> Result<Option<(TaskDetail, Shared)>, StoreError>;
    async fn delete_task(&self, firm_id: &FirmId, id: &TaskId) -> Result<bool, StoreError>;

    /// The tasks a client sees: the open ones (by due date) and the most recent completed
    /// (none when `completed_limit` is 0).
    async fn client_tasks(
        &self,
        firm_id: &FirmId,
        viewer: &ClientViewer,
        completed_limit: i64,
    ) -> Result<(Vec<TaskSummary>, Vec<TaskSummary>), StoreError>;
    /// One task, only if it is shared and visible to this viewer.
    async fn client_task(
        &self,
        firm_id: &FirmId,
        viewer: &ClientViewer,
        id: &TaskId,
    ) -> Result<Option<TaskDetail>, StoreError>;
    /// Ticks or unticks an item of an open task the viewer sees.
    async fn set_item_done(
        &self,
        firm_id: &FirmId,
        viewer: &ClientViewer,
        task_id: &TaskId,
        item_id: &ChecklistItemId,
        done: bool,
    ) -> Result<bool, StoreError>;
    /// Completes an open task the viewer sees; false when there is none to complete.
    async fn complete_task(
        &self,
        firm_id: &FirmId,
        viewer: &ClientViewer,
        task_id: &TaskId,
    ) -> Result<bool, StoreError>;
}

macro_rules! task_columns {
    () => {
        "t.id, t.firm_id, t.title, t.description, t.due_date, t.portal, t.status, \
         t.completed_at, t.completed_by, t.created_at, t.updated_at, t.account_id"
    };
}

/// Tasks of firm $1 shared to the portal and visible to contact $2 seeing account $3.
macro_rules! client_scope {
    () => {
        concat!(
            " FROM tasks t WHERE t.firm_id = $1 AND t.portal AND t.id IN ",
            visible_task_ids!("$1", "$2", "$3"),
            " "
        )
    };
}

/// One page of a firm's tasks (filters $4 contact, $5 status, $6 portal; cursor $2, $3; limit $7).
macro_rules! page_filter {
    () => {
        concat!(
            " FROM tasks t WHERE t.firm_id = $1 AND (t.created_at, t.id) > ($2, $3) \
              AND ($4 IS NULL OR EXISTS (SELECT 1 FROM task_assignees a \
                   WHERE a.firm_id = $1 AND a.task_id = t.id AND a.contact_id = $4)) \
              AND ($5 IS NULL OR t.status = $5) \
              AND ($6 IS NULL OR t.portal = $6) \
              AND ($8 IS NULL OR t.id IN ",
            scoped_ids!("tasks", "$1", "$8"),
            ") ORDER BY t.created_at, t.id LIMIT $7"
        )
    };
}

macro_rules! task_store {
    ($backend:ty) => {
        impl SqlStore<$backend> {
            /// Assignees and checklists of the given tasks, attached in order: two queries
            /// for the whole list, whatever its length.
            async fn attach(
                &self,
                tasks: Vec<Task>,
            ) -> Result<Vec<TaskDetail>, StoreError> {
                if tasks.is_empty() {
                    return Ok(Vec::new());
                }
                let in_tasks = |select: &str, order: &str| {
                    let mut query = sqlx::QueryBuilder::<$backend>::new(select);
                    let mut ids = query.separated(", ");
                    for task in &tasks {
                        ids.push_bind(task.id.clone());
                    }
                    query.push(") ORDER BY ").push(order);
                    query
                };
                let assignees: Vec<(TaskId, ContactId)> = in_tasks(
                    "SELECT task_id, contact_id FROM task_assignees WHERE task_id IN (",
                    "task_id, contact_id",
                )
                .build_query_as()
                .fetch_all(&self.pool)
                .await?;
                let checklist: Vec<ChecklistItem> = in_tasks(
                    "SELECT id, task_id, position, label, done, done_at, done_by \
                     FROM checklist_items WHERE task_id IN (",
                    "task_id, position",
                )
                .build_query_as()
                .fetch_all(&self.pool)
                .await?;
                let mut details: Vec<TaskDetail> = tasks
                    .into_iter()
                    .map(|task| TaskDetail {
                        task,
                        assignees: Vec::new(),
                        checklist: Vec::new(),
                    })
                    .collect();
                let index: std::collections::HashMap<TaskId, usize> = details
                    .iter()
                    .enumerate()
                    .map(|(i, d)| (d.task.id.clone(), i))
                    .collect();
                for (task_id, contact_id) in assignees {
                    if let Some(&i) = index.get(&task_id) {
                        details[i].assignees.push(contact_id);
                    }
                }
                for item in checklist {
                    if let Some(&i) = index.get(&item.task_id) {
                        details[i].checklist.push(item);
                    }
                }
                Ok(details)
            }

            /// Contacts who can see the shared task now and are told of it: its assignees, and
            /// when it is shared with a client account, the account's client managers (a
            /// custom set counts by its base).
            async fn visible_to(
                tx: &mut sqlx::Transaction<'_, $backend>,
                task_id: &TaskId,
            ) -> Result<Vec<ContactId>, StoreError> {
                let rows: Vec<(ContactId,)> = sqlx::query_as(concat!(
                    "SELECT a.contact_id FROM task_assignees a JOIN tasks t ON t.id = a.task_id \
                     WHERE a.task_id = $1 AND t.portal \
                     UNION SELECT c.id FROM tasks t \
                     JOIN contacts c ON c.firm_id = t.firm_id AND c.account_id = t.account_id \
                     WHERE t.id = $1 AND t.portal AND ",
                    is_account_manager!("c"),
                    " ORDER BY 1"
                ))
                .bind(task_id)
                .fetch_all(&mut **tx)
                .await?;
                Ok(rows.into_iter().map(|(id,)| id).collect())
            }

            async fn set_assignees(
                tx: &mut sqlx::Transaction<'_, $backend>,
                firm_id: &FirmId,
                task_id: &TaskId,
                assignees: &[ContactId],
            ) -> Result<(), StoreError> {
                sqlx::query("DELETE FROM task_assignees WHERE task_id = $1")
                    .bind(task_id)
                    .execute(&mut **tx)
                    .await?;
                let mut unique = assignees.to_vec();
                unique.sort();
                unique.dedup();
                for contact_id in &unique {
                    // Only a contact of the same firm can be assigned.
                    let added = sqlx::query(
                        "INSERT INTO task_assignees (task_id, contact_id, firm_id) \
                         SELECT $1, id, firm_id FROM contacts WHERE firm_id = $2 AND id = $3",
                    )
                    .bind(task_id)
                    .bind(firm_id)
                    .bind(contact_id)
                    .execute(&mut **tx)
                    .await?;
                    if added.rows_affected() == 0 {
                        let unknown = contact_id.to_string();
                        return Err(StoreError::UnknownReference("assignees", unknown));
                    }
                }
                Ok(())
            }

            async fn set_checklist(
                tx: &mut sqlx::Transaction<'_, $backend>,
                task_id: &TaskId,
                labels: &[String],
            ) -> Result<(), StoreError> {
                sqlx::query("DELETE FROM checklist_items WHERE task_id = $1")
                    .bind(task_id)
                    .execute(&mut **tx)
                    .await?;
                for (position, label) in labels.iter().enumerate() {
                    sqlx::query(
                        "INSERT INTO checklist_items (id, task_id, position, label) \
                         VALUES ($1, $2, $3, $4)",
                    )
                    .bind(ChecklistItemId::new())
                    .bind(task_id)
                    .bind(position as i64)
                    .bind(label)
                    .execute(&mut **tx)
                    .await?;
                }
                Ok(())
            }
        }

        #[async_trait]
        impl TaskStore for SqlStore<$backend> {
            async fn create_task(
                &self,
                firm_id: &FirmId,
                new: &NewTask,
            ) -> Result<(TaskDetail, Shared), StoreError> {
                let now = now_unix();
                let id = TaskId::new();
                let mut tx = self.writer.begin().await?;
                if let Some(account_id) = &new.account_id {
                    Self::check_account(&mut tx, firm_id, account_id).await?;
                }
                sqlx::query(
                    "INSERT INTO tasks (id, firm_id, title, description, due_date, portal, \
                     created_at, updated_at, account_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $8)",
                )
                .bind(&id)
                .bind(firm_id)
                .bind(&new.title)
                .bind(&new.description)
                .bind(&new.due_date)
                .bind(new.portal)
                .bind(now)
                .bind(new.account_id.as_ref())
                .execute(&mut *tx)
                .await?;
                Self::set_assignees(&mut tx, firm_id, &id, &new.assignees).await?;
                Self::set_checklist(&mut tx, &id, &new.checklist).await?;
                let visible = Self::visible_to(&mut tx, &id).await?;
                tx.commit().await?;
                let detail = self.task(firm_id, &id).await?.ok_or(sqlx::Error::RowNotFound)?;
                Ok((detail, Shared { newly_visible_to: visible }))
            }

            async fn task(
                &self,
                firm_id: &FirmId,
                id: &TaskId,
            ) -> Result<Option<TaskDetail>, StoreError> {
                let task: Option<Task> = sqlx::query_as(concat!(
                    "SELECT ", task_columns!(), " FROM tasks t WHERE t.firm_id = $1 AND t.id = $2"
                ))
                .bind(firm_id)
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
                Ok(self.attach(task.into_iter().collect()).await?.pop())
            }

            async fn list_tasks(
                &self,
                firm_id: &FirmId,
                query: &TaskQuery,
            ) -> Result<Vec<TaskDetail>, StoreError> {
                let (after_time, after_id) = query.after.clone().unwrap_or((i64::MIN, String::new()));
                let tasks: Vec<Task> = sqlx::query_as(concat!("SELECT ", task_columns!(), page_filter!()))
                    .bind(firm_id)
                    .bind(after_time)
                    .bind(after_id)
                    .bind(query.contact_id.as_ref())
                    .bind(query.status)
                    .bind(query.portal)
                    .bind(query.limit)
                    .bind(query.assigned_to.as_ref())
                    .fetch_all(&self.pool)
                    .await?;
                self.attach(tasks).await
            }

            async fn update_task(
                &self,
                firm_id: &FirmId,
                id: &TaskId,
                patch: &TaskPatch,
            ) -> Result<Option<(TaskDetail, Shared)>, StoreError> {
                let now = now_unix();
                let mut tx = self.writer.begin().await?;
                let before = Self::visible_to(&mut tx, id).await?;
                if let Some(Some(account_id)) = &patch.account_id {
                    Self::check_account(&mut tx, firm_id, account_id).await?;
                }
                let (clear_due, due) = match &patch.due_date {
                    Some(None) => (true, None),
                    Some(Some(date)) => (false, Some(date.clone())),
                    None => (false, None),
                };
                let updated = sqlx::query(
                    "UPDATE tasks SET \
                     title = COALESCE($3, title), \
                     description = COALESCE($4, description), \
                     due_date = CASE WHEN $5 THEN NULL ELSE COALESCE($6, due_date) END, \
                     portal = COALESCE($7, portal), \
                     completed_at = CASE WHEN $8 = 'completed' AND status <> 'completed' THEN $9 \
                                         WHEN $8 = 'open' THEN NULL ELSE completed_at END, \
                     completed_by = CASE WHEN $8 = 'open' THEN NULL ELSE completed_by END, \
                     status = COALESCE($8, status), \
                     account_id = CASE WHEN $10 THEN $11 ELSE account_id END, \
                     updated_at = $9 \
                     WHERE firm_id = $1 AND id = $2",
                )
                .bind(firm_id)
                .bind(id)
                .bind(&patch.title)
                .bind(&patch.description)
                .bind(clear_due)
                .bind(due)
                .bind(patch.portal)
                .bind(patch.status)
                .bind(now)
                .bind(patch.account_id.is_some())
                .bind(patch.account_id.clone().flatten())
                .execute(&mut *tx)
                .await?;
                if updated.rows_affected() == 0 {
                    return Ok(None);
                }
                if let Some(assignees) = &patch.assignees {
                    Self::set_assignees(&mut tx, firm_id, id, assignees).await?;
                }
                if let Some(labels) = &patch.checklist {
                    Self::set_checklist(&mut tx, id, labels).await?;
                }
                let after = Self::visible_to(&mut tx, id).await?;
                tx.commit().await?;
                let newly_visible_to = after.into_iter().filter(|c| !before.contains(c)).collect();
                let detail = self.task(firm_id, id).await?.ok_or(sqlx::Error::RowNotFound)?;
                Ok(Some((detail, Shared { newly_visible_to })))
            }

            async fn delete_task(&self, firm_id: &FirmId, id: &TaskId) -> Result<bool, StoreError> {
                let done = sqlx::query("DELETE FROM tasks WHERE firm_id = $1 AND id = $2")
                    .bind(firm_id)
                    .bind(id)
                    .execute(&self.writer)
                    .await?;
                Ok(done.rows_affected() > 0)
            }

            async fn client_tasks(
                &self,
                firm_id: &FirmId,
                viewer: &ClientViewer,
                completed_limit: i64,
            ) -> Result<(Vec<TaskSummary>, Vec<TaskSummary>), StoreError> {
                // One pass over the tasks the client sees for both lists, driven from their
                // ids (an index range per branch), never from the firm's tasks. Each status is
                // numbered in its own order (open: dated first, by due date, then by creation;
                // completed: most recent first) and cut to its limit. The checklist counts are
                // kept on the task by triggers (migration 0008).
                let tasks: Vec<TaskSummary> = sqlx::query_as(concat!(
                    "SELECT id, title, due_date, status, completed_at, items_total, items_done \
                     FROM (SELECT t.id, t.title, t.due_date, t.status, t.completed_at, \
                       t.checklist_total AS items_total, t.checklist_done AS items_done, \
                       ROW_NUMBER() OVER (PARTITION BY t.status ORDER BY \
                         CASE WHEN t.status = 'open' AND t.due_date IS NULL THEN 1 ELSE 0 END, \
                         CASE WHEN t.status = 'open' THEN t.due_date END, \
                         CASE WHEN t.status = 'open' THEN t.created_at ELSE -t.completed_at END, \
                         t.id) AS place \
                       FROM ",
                    visible_task_ids!("$1", "$2", "$3"),
                    " v CROSS JOIN tasks t \
                       WHERE t.id = v.task_id AND t.firm_id = $1 AND t.portal) mine \
                     WHERE place <= CASE WHEN status = 'open' THEN 500 ELSE $4 END \
                     ORDER BY status DESC, place"
                ))
                .bind(firm_id)
                .bind(&viewer.contact_id)
                .bind(viewer.account.as_ref())
                .bind(completed_limit)
                .fetch_all(&self.pool)
                .await?;
                Ok(tasks.into_iter().partition(|t| t.status == TaskStatus::Open))
            }

            async fn client_task(
                &self,
                firm_id: &FirmId,
                viewer: &ClientViewer,
                id: &TaskId,
            ) -> Result<Option<TaskDetail>, StoreError> {
                let task: Option<Task> = sqlx::query_as(concat!(
                    "SELECT ", task_columns!(), client_scope!(), "AND t.id = $4"
                ))
                .bind(firm_id)
                .bind(&viewer.contact_id)
                .bind(viewer.account.as_ref())
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
                Ok(self.attach(task.into_iter().collect()).await?.pop())
            }

            async fn set_item_done(
                &self,
                firm_id: &FirmId,
                viewer: &ClientViewer,
                task_id: &TaskId,
                item_id: &ChecklistItemId,
                done: bool,
            ) -> Result<bool, StoreError> {
                let now = now_unix();
                let updated = sqlx::query(concat!(
                    "UPDATE checklist_items SET done = $6, \
                     done_at = CASE WHEN $6 THEN $7 ELSE NULL END, \
                     done_by = CASE WHEN $6 THEN $2 ELSE NULL END \
                     WHERE id = $5 AND task_id = $4 AND EXISTS (SELECT 1",
                    client_scope!(),
                    "AND t.id = $4 AND t.status = 'open')"
                ))
                .bind(firm_id)
                .bind(&viewer.contact_id)
                .bind(viewer.account.as_ref())
                .bind(task_id)
                .bind(item_id)
                .bind(done)
                .bind(now)
                .execute(&self.writer)
                .await?;
                Ok(updated.rows_affected() > 0)
            }

            async fn complete_task(
                &self,
                firm_id: &FirmId,
                viewer: &ClientViewer,
                task_id: &TaskId,
            ) -> Result<bool, StoreError> {
                let now = now_unix();
                let contact_id = &viewer.contact_id;
                let mut tx = self.writer.begin().await?;
                let completed: Option<(String,)> = sqlx::query_as(concat!(
                    "UPDATE tasks SET status = 'completed', completed_at = $5, completed_by = $2, \
                     updated_at = $5 WHERE id = $4 AND firm_id = $1 AND status = 'open' \
                     AND EXISTS (SELECT 1",
                    client_scope!(),
                    "AND t.id = $4) RETURNING title"
                ))
                .bind(firm_id)
                .bind(contact_id)
                .bind(viewer.account.as_ref())
                .bind(task_id)
                .bind(now)
                .fetch_optional(&mut *tx)
                .await?;
                let Some((title,)) = completed else {
                    return Ok(false);
                };
                record_activity!(
                    &mut *tx,
                    firm_id,
                    contact_id,
                    "task_completed",
                    task_id.as_str(),
                    &title,
                    now
                )?;
                tx.commit().await?;
                Ok(true)
            }
        }
    };
}
task_store!(Sqlite);
task_store!(Postgres);
