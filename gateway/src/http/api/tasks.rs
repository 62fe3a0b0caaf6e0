//! Tasks shared to the portal: `/api/v1/tasks…`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Json, Response};
use portico_shared::ids::{ClientAccountId, ContactId, MemberId, TaskFileId, TaskId};
use portico_shared::policy::{Action, Area};
use portico_shared::store::{NewTask, Scoped, TaskDetail, TaskFile, TaskPatch, TaskQuery};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::openapi::schema::{Array, ArrayBuilder, Object, ObjectBuilder, Type};
use utoipa::{IntoParams, OpenApi, ToSchema};

use super::ErrorBody;
use super::pagination::{ListPage, Page, contact_filter};
use super::route::{ApiRoute, Binary, one_of, rfc3339};
use crate::error::{Error, Result};
use crate::http::documents;
use crate::http::extract::ApiQuery;
use crate::http::extract::api::unknown_account;
use crate::http::extract::{ApiActor, ApiJson};
use crate::services::notify;
use crate::services::tasks::{
    MAX_DESCRIPTION, MAX_ITEMS, MAX_TITLE, assignees, checklist, due_date, status, text,
};
use crate::state::AppState;

pub fn routes() -> Vec<ApiRoute> {
    vec![
        ApiRoute::post("/tasks", create),
        ApiRoute::get("/tasks", list),
        ApiRoute::get("/tasks/{id}", show),
        ApiRoute::patch("/tasks/{id}", update),
        ApiRoute::delete("/tasks/{id}", remove),
        ApiRoute::get("/tasks/{id}/files/{file}", download),
    ]
}

#[derive(OpenApi)]
#[openapi(paths(create, list, show, update, remove, download))]
pub struct Doc;

fn task_status() -> Object {
    one_of(&["open", "completed"])
}

/// The labels of a checklist, each of 1 to 200 characters, at most 100.
fn checklist_labels() -> Array {
    ArrayBuilder::new()
        .items(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .min_length(Some(1))
                .max_length(Some(MAX_TITLE)),
        )
        .max_items(Some(MAX_ITEMS))
        .build()
}

/// A document a client uploaded to a task.
#[derive(Serialize, ToSchema)]
#[schema(as = TaskFile)]
pub struct TaskFileView {
    id: String,
    file_name: String,
    content_type: String,
    /// Bytes
    size: i64,
    /// Hex SHA-256 of the content
    sha256: String,
    /// The contact who uploaded it
    uploaded_by: String,
    #[schema(format = DateTime)]
    created_at: String,
    /// Where to download it with the API key
    download_path: String,
}

fn file_view(file: &TaskFile) -> TaskFileView {
    TaskFileView {
        id: file.id.to_string(),
        file_name: file.file_name.clone(),
        content_type: file.content_type.clone(),
        size: file.size,
        sha256: file.sha256.clone(),
        uploaded_by: file.contact_id.to_string(),
        created_at: rfc3339(file.created_at),
        download_path: format!("/api/v1/tasks/{}/files/{}", file.task_id, file.id),
    }
}

/// A task, as created, listed and changed.
#[derive(Serialize, ToSchema)]
#[schema(as = Task)]
pub struct TaskView {
    id: String,
    title: String,
    description: String,
    #[schema(format = Date, required = true)]
    due_date: Option<String>,
    /// Shared to the portal.
    portal: bool,
    #[schema(schema_with = task_status)]
    status: String,
    #[schema(format = DateTime, required = true)]
    completed_at: Option<String>,
    /// The contact who completed it
    #[schema(required = true)]
    completed_by: Option<String>,
    /// Contact ids
    assignees: Vec<String>,
    checklist: Vec<ChecklistItemView>,
    #[schema(format = DateTime)]
    created_at: String,
    #[schema(format = DateTime)]
    updated_at: String,
    /// The client account it is shared with as a whole (its client managers see it).
    #[schema(required = true)]
    account_id: Option<String>,
}

/// One item of a task's checklist.
#[derive(Serialize, ToSchema)]
#[schema(as = ChecklistItem)]
pub struct ChecklistItemView {
    id: String,
    label: String,
    done: bool,
    #[schema(format = DateTime, required = true)]
    done_at: Option<String>,
    /// Contact id
    #[schema(required = true)]
    done_by: Option<String>,
}

/// A task with the documents clients uploaded to it (`GET /api/v1/tasks/{id}`).
#[derive(Serialize, ToSchema)]
#[schema(as = TaskDetail)]
pub struct TaskDetailView {
    #[serde(flatten)]
    task: TaskView,
    /// Documents the client uploaded
    files: Vec<TaskFileView>,
}

fn view(detail: &TaskDetail) -> TaskView {
    let task = &detail.task;
    TaskView {
        id: task.id.to_string(),
        title: task.title.clone(),
        description: task.description.clone(),
        due_date: task.due_date.clone(),
        portal: task.portal,
        status: task.status.to_string(),
        completed_at: task.completed_at.map(rfc3339),
        completed_by: task.completed_by.as_ref().map(ToString::to_string),
        assignees: detail.assignees.iter().map(ToString::to_string).collect(),
        checklist: detail
            .checklist
            .iter()
            .map(|item| ChecklistItemView {
                id: item.id.to_string(),
                label: item.label.clone(),
                done: item.done,
                done_at: item.done_at.map(rfc3339),
                done_by: item.done_by.as_ref().map(ToString::to_string),
            })
            .collect(),
        created_at: rfc3339(task.created_at),
        updated_at: rfc3339(task.updated_at),
        account_id: task.account_id.as_ref().map(ToString::to_string),
    }
}

/// With a scope of assigned clients, a task's assignees must all be among them, and there must
/// be one (or the task would leave the actor's sight): else a 422 on `assignees`.
async fn reach_assignees(
    state: &AppState,
    actor: &ApiActor,
    scope: Option<&MemberId>,
    assignees: &[ContactId],
) -> Result<()> {
    if scope.is_some() && assignees.is_empty() {
        return Err(Error::invalid(
            "assignees",
            "your role reaches only your assigned clients: assign the task to one of them",
        ));
    }
    actor
        .reach_contacts(state, scope, "assignees", assignees)
        .await
}

/// With a scope of assigned clients, the tasks as the actor may see them: assignees outside
/// the scope are left out (one query for all the tasks), so a key learns nothing of other
/// clients.
async fn within_scope(
    state: &AppState,
    actor: &ApiActor,
    scope: Option<&MemberId>,
    mut details: Vec<TaskDetail>,
) -> Result<Vec<TaskDetail>> {
    if scope.is_none() {
        return Ok(details);
    }
    let mut all: Vec<ContactId> = details.iter().flat_map(|d| d.assignees.clone()).collect();
    all.sort();
    all.dedup();
    let visible = actor.visible_contacts(state, scope, &all).await?;
    for detail in &mut details {
        detail.assignees.retain(|c| visible.contains(c));
    }
    Ok(details)
}

async fn seen(
    state: &AppState,
    actor: &ApiActor,
    scope: Option<&MemberId>,
    detail: TaskDetail,
) -> Result<TaskDetail> {
    let mut one = within_scope(state, actor, scope, vec![detail]).await?;
    Ok(one.remove(0))
}

/// A new task. Contacts who can see it once it is shared are emailed (as their settings
/// allow).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = NewTask)]
pub struct CreateTask {
    #[schema(min_length = 1, max_length = 200)]
    title: String,
    #[serde(default)]
    #[schema(max_length = 10000, default = "")]
    description: String,
    #[schema(format = Date, example = "2026-12-31")]
    due_date: Option<String>,
    /// Share it to the portal
    #[serde(default)]
    #[schema(default = false)]
    portal: bool,
    /// Contact ids
    #[serde(default)]
    #[schema(max_items = 50)]
    assignees: Vec<String>,
    /// Labels of the checklist's items
    #[serde(default)]
    #[schema(schema_with = checklist_labels)]
    checklist: Vec<String>,
    /// Share it with this client account as a whole, beside its assignees.
    account_id: Option<String>,
}

/// Create a task
#[utoipa::path(
    post,
    path = "/tasks",
    tag = "Tasks",
    operation_id = "createTask",
    request_body = CreateTask,
    responses((status = 201, description = "Created", body = TaskView))
)]
async fn create(
    State(state): State<AppState>,
    actor: ApiActor,
    ApiJson(body): ApiJson<CreateTask>,
) -> Result<(StatusCode, Json<TaskView>)> {
    let scope = actor.scope(Area::Tasks, Action::Create)?;
    let new = NewTask {
        title: text("title", &body.title, MAX_TITLE, true)?,
        description: text("description", &body.description, MAX_DESCRIPTION, false)?,
        due_date: body.due_date.as_deref().map(due_date).transpose()?,
        portal: body.portal,
        assignees: assignees(&body.assignees)?,
        checklist: checklist(&body.checklist)?,
        account_id: body.account_id.as_deref().map(account).transpose()?,
    };
    reach_assignees(&state, &actor, scope.as_ref(), &new.assignees).await?;
    if let Some(account_id) = &new.account_id {
        actor
            .reach_account(&state, scope.as_ref(), "account_id", account_id)
            .await?;
    }
    let firm = &actor.firm;
    let (detail, shared) = state.store.create_task(&firm.id, &new).await?;
    notify::task_shared(&state, firm, &detail, &shared.newly_visible_to).await?;
    let detail = seen(&state, &actor, scope.as_ref(), detail).await?;
    Ok((StatusCode::CREATED, Json(view(&detail))))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    /// Page size, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200, default = 50)]
    limit: Option<i64>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
    /// Only tasks assigned to this contact
    contact_id: Option<String>,
    /// Only this status
    #[param(schema_with = task_status)]
    status: Option<String>,
    /// Only shared (or unshared) tasks
    portal: Option<bool>,
}

/// List tasks, oldest first
#[utoipa::path(
    get,
    path = "/tasks",
    tag = "Tasks",
    operation_id = "listTasks",
    params(ListQuery),
    responses((status = 200, description = "A page", body = ListPage<TaskView>))
)]
async fn list(
    State(state): State<AppState>,
    actor: ApiActor,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Json<ListPage<TaskView>>> {
    let assigned_to = actor.scope(Area::Tasks, Action::View)?;
    let firm = &actor.firm;
    let page = Page::new(query.limit, query.cursor)?;
    let after = page.after()?;
    let status = query.status.as_deref().map(status).transpose()?;
    let Ok(contact_id) = contact_filter(query.contact_id.as_deref()) else {
        return Ok(page.empty());
    };
    let tasks = state
        .store
        .list_tasks(
            &firm.id,
            &TaskQuery {
                after,
                limit: page.fetch(),
                contact_id,
                status,
                portal: query.portal,
                assigned_to: assigned_to.clone(),
            },
        )
        .await?;
    let tasks = within_scope(&state, &actor, assigned_to.as_ref(), tasks).await?;
    Ok(page.respond(tasks, |d| (d.task.created_at, d.task.id.as_str()), view))
}

/// A task
///
/// With the documents clients uploaded to it.
#[utoipa::path(
    get,
    path = "/tasks/{id}",
    tag = "Tasks",
    operation_id = "getTask",
    params(("id" = String, Path, description = "Task id")),
    responses(
        (status = 200, description = "The task", body = TaskDetailView),
        (status = 404, description = "No such task", body = ErrorBody),
    )
)]
async fn show(
    State(state): State<AppState>,
    actor: ApiActor,
    Path(id): Path<String>,
) -> Result<Json<TaskDetailView>> {
    let scope = actor.scope(Area::Tasks, Action::View)?;
    let id = TaskId::parse(&id).ok_or(Error::NotFound)?;
    actor
        .reach(&state, scope.as_ref(), Scoped::Task(&id))
        .await?;
    let firm = &actor.firm;
    let detail = state
        .store
        .task(&firm.id, &id)
        .await?
        .ok_or(Error::NotFound)?;
    let files = state.store.task_files(&firm.id, &id).await?;
    let detail = seen(&state, &actor, scope.as_ref(), detail).await?;
    Ok(Json(TaskDetailView {
        task: view(&detail),
        files: files.iter().map(file_view).collect(),
    }))
}

/// Download a file a client uploaded to a task
///
/// A document a client uploaded to the task, as an attachment.
#[utoipa::path(
    get,
    path = "/tasks/{id}/files/{file}",
    tag = "Tasks",
    operation_id = "getTaskFile",
    params(
        ("id" = String, Path, description = "Task id"),
        ("file" = String, Path, description = "File id"),
    ),
    responses(
        (status = 200, description = "The file as uploaded, with `Content-Disposition: attachment` and `X-Content-Type-Options: nosniff`", content_type = "application/octet-stream", body = inline(Binary),
            headers(("Content-Disposition" = String, description = "`attachment` with the file's name"))),
        (status = 404, description = "No such task or file", body = ErrorBody),
    )
)]
async fn download(
    State(state): State<AppState>,
    actor: ApiActor,
    Path((id, file)): Path<(String, String)>,
) -> Result<Response> {
    let scope = actor.scope(Area::Tasks, Action::View)?;
    let (Some(id), Some(file)) = (TaskId::parse(&id), TaskFileId::parse(&file)) else {
        return Err(Error::NotFound);
    };
    actor
        .reach(&state, scope.as_ref(), Scoped::Task(&id))
        .await?;
    let firm = actor.firm;
    documents::task_file(&state, &firm.id, None, &id, &file).await
}

/// `Some(None)` for an explicit `null`, `None` when the field is absent.
fn explicit_null<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// Fields left out stay as they are; `due_date: null` clears it; `assignees` and `checklist`
/// replace the whole list (for a key whose role reaches only assigned clients, the assignees
/// it can see: others stay). Contacts who can newly see a shared task are emailed (as their
/// settings allow).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = TaskPatch)]
pub struct UpdateTask {
    #[schema(min_length = 1, max_length = 200, nullable = false)]
    title: Option<String>,
    #[schema(max_length = 10000, nullable = false)]
    description: Option<String>,
    #[serde(default, deserialize_with = "explicit_null")]
    #[schema(value_type = Option<String>, format = Date)]
    due_date: Option<Option<String>>,
    #[schema(nullable = false)]
    portal: Option<bool>,
    #[schema(schema_with = task_status)]
    status: Option<String>,
    /// Contact ids
    #[schema(max_items = 50, nullable = false)]
    assignees: Option<Vec<String>>,
    /// Labels of the checklist's items
    #[schema(schema_with = checklist_labels)]
    checklist: Option<Vec<String>>,
    /// Share it with this client account as a whole; `null` stops sharing it with one.
    #[serde(default, deserialize_with = "explicit_null")]
    #[schema(value_type = Option<String>)]
    account_id: Option<Option<String>>,
}

/// Change a task
#[utoipa::path(
    patch,
    path = "/tasks/{id}",
    tag = "Tasks",
    operation_id = "updateTask",
    params(("id" = String, Path, description = "Task id")),
    request_body = UpdateTask,
    responses(
        (status = 200, description = "The task now", body = TaskView),
        (status = 404, description = "No such task", body = ErrorBody),
    )
)]
async fn update(
    State(state): State<AppState>,
    actor: ApiActor,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<UpdateTask>,
) -> Result<Json<TaskView>> {
    let scope = actor.scope(Area::Tasks, Action::Edit)?;
    let id = TaskId::parse(&id).ok_or(Error::NotFound)?;
    actor
        .reach(&state, scope.as_ref(), Scoped::Task(&id))
        .await?;
    let patch = TaskPatch {
        title: body
            .title
            .as_deref()
            .map(|t| text("title", t, MAX_TITLE, true))
            .transpose()?,
        description: body
            .description
            .as_deref()
            .map(|d| text("description", d, MAX_DESCRIPTION, false))
            .transpose()?,
        due_date: body
            .due_date
            .map(|d| d.as_deref().map(due_date).transpose())
            .transpose()?,
        portal: body.portal,
        status: body.status.as_deref().map(status).transpose()?,
        assignees: body.assignees.as_deref().map(assignees).transpose()?,
        checklist: body.checklist.as_deref().map(checklist).transpose()?,
        account_id: body
            .account_id
            .map(|a| a.as_deref().map(account).transpose())
            .transpose()?,
    };
    if let Some(Some(account_id)) = &patch.account_id {
        actor
            .reach_account(&state, scope.as_ref(), "account_id", account_id)
            .await?;
    }
    let mut patch = patch;
    if let Some(assignees) = &mut patch.assignees {
        reach_assignees(&state, &actor, scope.as_ref(), assignees).await?;
        if scope.is_some() {
            // The list replaces the assignees the key can see; those outside its scope stay,
            // as it was never shown them.
            let current = state
                .store
                .task(&actor.firm.id, &id)
                .await?
                .ok_or(Error::NotFound)?
                .assignees;
            let visible = actor
                .visible_contacts(&state, scope.as_ref(), &current)
                .await?;
            assignees.extend(current.into_iter().filter(|c| !visible.contains(c)));
            assignees.sort();
            assignees.dedup();
        }
    }
    let firm = &actor.firm;
    let (detail, shared) = state
        .store
        .update_task(&firm.id, &id, &patch)
        .await?
        .ok_or(Error::NotFound)?;
    notify::task_shared(&state, firm, &detail, &shared.newly_visible_to).await?;
    let detail = seen(&state, &actor, scope.as_ref(), detail).await?;
    Ok(Json(view(&detail)))
}

/// Delete a task
#[utoipa::path(
    delete,
    path = "/tasks/{id}",
    tag = "Tasks",
    operation_id = "deleteTask",
    params(("id" = String, Path, description = "Task id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such task", body = ErrorBody),
    )
)]
async fn remove(
    State(state): State<AppState>,
    actor: ApiActor,
    Path(id): Path<String>,
) -> Result<StatusCode> {
    let scope = actor.scope(Area::Tasks, Action::Delete)?;
    let id = TaskId::parse(&id).ok_or(Error::NotFound)?;
    actor
        .reach(&state, scope.as_ref(), Scoped::Task(&id))
        .await?;
    let firm = actor.firm;
    if !state.store.delete_task(&firm.id, &id).await? {
        return Err(Error::NotFound);
    }
    Ok(StatusCode::NO_CONTENT)
}

/// A client account id as sent; whether the firm has it, the store (or the scope) checks.
fn account(id: &str) -> Result<ClientAccountId> {
    ClientAccountId::parse(id).ok_or_else(|| unknown_account("account_id", id))
}
